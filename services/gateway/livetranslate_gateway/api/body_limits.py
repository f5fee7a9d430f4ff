"""Bounding request bodies before anything reads them whole.

FastAPI reads a JSON body into memory before the route runs, so a bound inside the route is
too late. This ASGI middleware answers 413 at once for a declared length over the bound, and
stops a chunked body as soon as it passes it. Audio uploads have their own, larger bound,
applied by their route while it reads.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from livetranslate_gateway.api.problems import problem_response
from livetranslate_gateway.core.errors import RequestTooLargeError


class BodyLimit:
    def __init__(self, app: ASGIApp, *, limit: int, exempt: Callable[[Scope], bool]) -> None:
        self._app = app
        self._limit = limit
        self._exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._exempt(scope):
            await self._app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self._limit:
            error = RequestTooLargeError(self._message())
            response = problem_response(
                error.status_code, error.code, str(error), instance=str(scope["path"])
            )
            await response(scope, receive, send)
            return
        received = 0

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self._limit:
                # An HTTPException, not a GatewayError: FastAPI turns anything else raised
                # while it reads a body into a 400 about parsing.
                raise HTTPException(RequestTooLargeError.status_code, self._message())
            return message

        await self._app(scope, bounded_receive, send)

    def _message(self) -> str:
        return f"the request body exceeds the limit of {self._limit} bytes"


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def is_audio_upload(scope: Scope) -> bool:
    return scope["method"] == "POST" and str(scope["path"]).endswith("/audio")

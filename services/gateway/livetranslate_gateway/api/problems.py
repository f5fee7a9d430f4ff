"""Every error answer in one shape: RFC 9457 problem details (``application/problem+json``).

``type`` is ``urn:livetranslate:error:<code>``, the code a client branches on; ``detail`` is
for people. Details never repeat credentials, and a server error tells nothing of its cause
(that goes to the log, under the answer's trace id).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from livetranslate_gateway.core.errors import GatewayError

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    instance: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=dict(headers or {}),
        content={
            "type": f"urn:livetranslate:error:{code}",
            "title": code.replace("_", " "),
            "status": status,
            "detail": detail,
            "instance": instance,
            **extra,
        },
    )


# Codes of Starlette's own errors that the gateway's errors also use.
_CODES = {413: "request_too_large"}


def _code_of_status(status: int) -> str:
    if status in _CODES:
        return _CODES[status]
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def gateway_error(request: Request, error: GatewayError) -> JSONResponse:
        return problem_response(
            error.status_code,
            error.code,
            str(error),
            instance=request.url.path,
            headers=error.headers(),
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        # Where and what, without echoing the input back (it may be large, or private).
        errors = [
            {"loc": list(item.get("loc", ())), "msg": item.get("msg", ""), "type": item.get("type")}
            for item in error.errors()
        ]
        summary = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:5])
        return problem_response(
            422, "invalid_request", summary, instance=request.url.path, errors=errors
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        # Starlette's own: no such route (404), method (405), a body over its bound (413).
        return problem_response(
            error.status_code,
            _code_of_status(error.status_code),
            str(error.detail),
            instance=request.url.path,
            headers=error.headers,
        )


def server_error_response(request: Request, error: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return problem_response(
        500,
        "internal_error",
        "the gateway failed to answer; the error is logged under this answer's trace id",
        instance=request.url.path,
    )

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
from pydantic import BaseModel, ConfigDict, Field
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


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="Where: body, query or path, then the field")
    msg: str
    type: str | None = None


class Problem(BaseModel):
    """An error answer (RFC 9457)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "urn:livetranslate:error:session_not_found",
                    "title": "session not found",
                    "status": 404,
                    "detail": "no session 0b6c3f9e-52a2-4d8e-9d40-1f2a3b4c5d6e",
                    "instance": "/api/sessions/0b6c3f9e-52a2-4d8e-9d40-1f2a3b4c5d6e",
                }
            ]
        },
    )

    type: str = Field(description="urn:livetranslate:error:<code>: the code to branch on")
    title: str
    status: int
    detail: str = Field(description="What went wrong, for people")
    instance: str = Field(description="The request's path")
    errors: list[FieldError] | None = Field(
        default=None, description="For invalid_request (422): each invalid field"
    )


_STATUS_MEANINGS = {
    400: "Bad request",
    401: "No API key, or one that is not valid",
    403: "The key may not do this",
    404: "No such session (or not the caller's tenant's), run or route",
    409: "The session's state does not allow it",
    413: "The request body is over its bound",
    415: "The body is not audio the gateway can read",
    422: "A field is not valid",
    429: "Over the caller's request rate; see Retry-After",
    500: "The gateway failed; the error is logged under the answer's x-trace-id",
    503: "A service the gateway needs is unavailable",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these error statuses (as problem documents)."""
    return {
        status: {"model": Problem, "description": _STATUS_MEANINGS[status]} for status in statuses
    }


def problems_in_openapi(document: dict[str, Any]) -> dict[str, Any]:
    """Every error answer of the document as ``application/problem+json`` of the Problem
    schema (FastAPI would list application/json, and its own shape for 422)."""
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            for status, response in operation.get("responses", {}).items():
                if str(status)[0] in "45":
                    response["content"] = {PROBLEM_MEDIA_TYPE: problem}
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document

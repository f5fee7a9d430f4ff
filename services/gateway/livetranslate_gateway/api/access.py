"""Who is calling, for the routes: API keys checked, callers' request rates bounded, and a
tenant's sessions kept from every other tenant.

HTTP routes depend on :data:`PrincipalDep`; sockets call :func:`websocket_principal` before
anything else, and accept with :func:`accept` (which answers the subprotocol a browser
offered along with its key).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request, Security, WebSocket
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from livetranslate_common.readmodel.queries import SessionRow, get_session
from livetranslate_gateway.adapters.api_keys import ApiKeys
from livetranslate_gateway.core.access import (
    WS_SUBPROTOCOL,
    Principal,
    key_from_headers,
    key_from_subprotocols,
)
from livetranslate_gateway.core.errors import (
    OperatorOnlyError,
    RateLimitedError,
    SessionNotFoundError,
    UnauthorizedError,
)
from livetranslate_gateway.core.live_stream import CLOSE_TOO_FAST, CLOSE_UNAUTHORIZED
from livetranslate_gateway.core.rate_limits import RateLimits, retry_after_header

MISSING_KEY = "this route needs an API key: send the header 'Authorization: Bearer <key>'"
REFUSED_KEY = "the API key is not valid: unknown, revoked or malformed"


async def _caller(state: Any, client_host: str | None, token: str | None) -> Principal:
    keys: ApiKeys = state.api_keys
    principal = await keys.principal(token) if token else None
    # A caller without a good key is counted by address, so guessing is bounded too.
    caller = f"key:{principal.key_id}" if principal else f"address:{client_host or 'unknown'}"
    limits: RateLimits = state.rate_limits
    wait_s = limits.hit(caller)
    if wait_s is not None:
        raise RateLimitedError(
            f"too many requests; try again in {wait_s:.1f} s",
            retry_after=retry_after_header(wait_s),
        )
    if principal is None:
        raise UnauthorizedError(REFUSED_KEY if token else MISSING_KEY)
    return principal


# For the OpenAPI document (its security schemes) as much as for reading the headers.
_bearer = HTTPBearer(
    auto_error=False, scheme_name="bearer", description="Authorization: Bearer <API key>"
)
_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, scheme_name="apiKey", description="The API key"
)


async def _principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    key_header: Annotated[str | None, Security(_key_header)],
) -> Principal:
    host = request.client.host if request.client else None
    token = bearer.credentials if bearer is not None else key_header
    return await _caller(request.app.state, host, token.strip() if token else None)


async def _operator(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
    if not principal.is_operator:
        raise OperatorOnlyError("figures across tenants are for operators' keys only")
    return principal


PrincipalDep = Annotated[Principal, Depends(_principal)]
#: For a router's ``dependencies``: no route of it answers without a good key (a route that
#: also takes PrincipalDep gets the same principal, checked once).
require_key = _principal
#: For a route's ``dependencies``: operators' keys only.
require_operator = _operator


async def owned_session(conn: Any, session_id: str, principal: Principal) -> SessionRow:
    """The session, if it is the caller's tenant's. Another tenant's session is answered
    exactly like one that does not exist: its existence is not theirs to learn."""
    session = await get_session(conn, session_id)
    if session is None or session.user_id != principal.tenant_id:
        raise SessionNotFoundError(f"no session {session_id}")
    return session


def _offered_subprotocols(websocket: WebSocket) -> list[str]:
    return list(websocket.scope.get("subprotocols") or [])


async def accept(websocket: WebSocket) -> None:
    """Accept the socket, answering ``livetranslate.v1`` if the client offered it (a browser
    that offered subprotocols fails the handshake unless one is chosen)."""
    offered = WS_SUBPROTOCOL in _offered_subprotocols(websocket)
    await websocket.accept(subprotocol=WS_SUBPROTOCOL if offered else None)


async def refuse(websocket: WebSocket, code: int, reason: str) -> None:
    # Accepted first: a close before the handshake completes reaches a real client as a bare
    # HTTP 403, without the code.
    await accept(websocket)
    await websocket.close(code=code, reason=reason)


async def websocket_principal(websocket: WebSocket) -> Principal | None:
    """The caller of a socket, or None once the socket has been refused (4401, or 4429 for a
    caller over its rate of requests)."""
    token = key_from_headers(websocket.headers) or key_from_subprotocols(
        _offered_subprotocols(websocket)
    )
    host = websocket.client.host if websocket.client else None
    try:
        return await _caller(websocket.app.state, host, token)
    except RateLimitedError as error:
        await refuse(websocket, CLOSE_TOO_FAST, str(error))
    except UnauthorizedError as error:
        await refuse(websocket, CLOSE_UNAUTHORIZED, str(error))
    return None

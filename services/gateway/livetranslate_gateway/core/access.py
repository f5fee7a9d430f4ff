"""API keys: their format, and who a request is (no I/O here).

A key reads ``lt_<key id>_<secret>``: the key id (16 hex digits) is public and names the key in
logs and in ``api_keys``; the secret (256 random bits, base64url) is shown once, when the key is
issued, and only its SHA-256 is stored. Nothing but the key id of a key is ever logged.

Clients present a key as ``Authorization: Bearer <key>`` (or ``X-API-Key: <key>``). Browsers
cannot set headers on a WebSocket, so a socket may instead offer the subprotocols
``livetranslate.v1, bearer.<key>``; the gateway then answers with ``livetranslate.v1``. Keys
never go in a URL, where proxies and access logs would keep them.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

KEY_PATTERN = re.compile(r"^lt_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
TENANT_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
#: The subprotocol of the gateway's sockets; a client offering it gets it back.
WS_SUBPROTOCOL = "livetranslate.v1"
WS_BEARER_PREFIX = "bearer."


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the tenant whose sessions they may see, through which key."""

    tenant_id: str
    key_id: str
    is_operator: bool = False


@dataclass(frozen=True, slots=True)
class PresentedKey:
    key_id: str
    secret_sha256: bytes


@dataclass(frozen=True, slots=True)
class NewKey:
    key_id: str
    secret_sha256: bytes
    # The whole key, to hand to its holder once; never stored or logged.
    token: str


def new_key() -> NewKey:
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return NewKey(key_id, _digest(secret), f"lt_{key_id}_{secret}")


def parse_key(token: str) -> PresentedKey | None:
    """The key id and the secret's digest of a well-formed key, else None."""
    match = KEY_PATTERN.match(token.strip())
    if match is None:
        return None
    return PresentedKey(match.group(1), _digest(match.group(2)))


def same_secret(presented: PresentedKey, stored_sha256: bytes) -> bool:
    # Constant time: how much of a digest matched must not show in the answer's timing.
    return secrets.compare_digest(presented.secret_sha256, stored_sha256)


def key_from_headers(headers: Mapping[str, str]) -> str | None:
    """The key a request presents in its headers (Authorization: Bearer, X-API-Key)."""
    authorization = headers.get("authorization")
    if authorization is not None:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
    api_key = headers.get("x-api-key")
    return api_key.strip() if api_key else None


def key_from_subprotocols(subprotocols: Iterable[str]) -> str | None:
    for offered in subprotocols:
        if offered.startswith(WS_BEARER_PREFIX):
            return offered.removeprefix(WS_BEARER_PREFIX)
    return None


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("ascii")).digest()

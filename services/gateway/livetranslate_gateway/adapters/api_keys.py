"""API keys in PostgreSQL (table ``api_keys``): issuing, revoking, listing, and checking the
key a request presents.

Checks are cached for a short while (``cache_s``), a known key's stored digest as well as an
unknown key id, so a busy client costs no query per request; a revoked key stops working
within that time on every gateway instance.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from cachetools import TTLCache
from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool

from livetranslate_gateway.core.access import Principal, new_key, parse_key, same_secret

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ApiKeyRow:
    key_id: str
    tenant_id: str
    name: str
    is_operator: bool
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key_id: str
    tenant_id: str
    # Shown to its holder once; only its digest is stored.
    token: str


async def issue_api_key(
    conn: psycopg.AsyncConnection[Any], *, tenant_id: str, name: str, operator: bool = False
) -> IssuedKey:
    key = new_key()
    await conn.execute(
        "INSERT INTO api_keys (key_id, tenant_id, name, secret_sha256, is_operator)"
        " VALUES (%s, %s, %s, %s, %s)",
        (key.key_id, tenant_id, name, key.secret_sha256, operator),
    )
    log.info("API key %s issued for tenant %s", key.key_id, tenant_id)
    return IssuedKey(key.key_id, tenant_id, key.token)


async def revoke_api_key(conn: psycopg.AsyncConnection[Any], key_id: str) -> bool:
    """Revoke the key; False if there is no such key (or it was revoked already)."""
    cursor = await conn.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE key_id = %s AND revoked_at IS NULL",
        (key_id,),
    )
    if cursor.rowcount:
        log.info("API key %s revoked", key_id)
    return cursor.rowcount > 0


async def list_api_keys(
    conn: psycopg.AsyncConnection[Any], *, tenant_id: str | None = None
) -> list[ApiKeyRow]:
    async with conn.cursor(row_factory=class_row(ApiKeyRow)) as cursor:
        await cursor.execute(
            "SELECT key_id, tenant_id, name, is_operator, created_at, revoked_at FROM api_keys"
            " WHERE tenant_id = %s OR %s::text IS NULL ORDER BY tenant_id, created_at",
            (tenant_id, tenant_id),
        )
        return await cursor.fetchall()


@dataclass(frozen=True, slots=True)
class _StoredKey:
    secret_sha256: bytes
    principal: Principal


class ApiKeys:
    """Who presents a key: its principal, or None for a key that opens nothing."""

    def __init__(
        self, pool: AsyncConnectionPool[Any], *, cache_s: float, cache_size: int = 10_000
    ) -> None:
        self._pool = pool
        # Key id -> its stored digest and principal, or None for no such (live) key.
        self._cache: TTLCache[str, _StoredKey | None] = TTLCache(cache_size, cache_s)

    async def principal(self, token: str) -> Principal | None:
        presented = parse_key(token)
        if presented is None:
            return None
        try:
            stored = self._cache[presented.key_id]
        except KeyError:
            stored = await self._load(presented.key_id)
            self._cache[presented.key_id] = stored
        if stored is None or not same_secret(presented, stored.secret_sha256):
            log.info("refused API key %s", presented.key_id)
            return None
        return stored.principal

    async def _load(self, key_id: str) -> _StoredKey | None:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT tenant_id, secret_sha256, is_operator FROM api_keys"
                " WHERE key_id = %s AND revoked_at IS NULL",
                (key_id,),
            )
            row = await cursor.fetchone()
        if row is None:
            return None
        tenant_id, digest, is_operator = row
        return _StoredKey(bytes(digest), Principal(tenant_id, key_id, is_operator))

"""The PostgreSQL connection pool every service opens the same way."""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool

from livetranslate_common.settings import DatabaseSettings


async def open_pool(settings: DatabaseSettings | None = None) -> AsyncConnectionPool:
    settings = settings or DatabaseSettings()
    pool = AsyncConnectionPool(
        settings.url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        # Projections are single statements: autocommit avoids an idle transaction per call.
        kwargs={"autocommit": True},
        open=False,
    )
    await pool.open(wait=True, timeout=30)
    return pool

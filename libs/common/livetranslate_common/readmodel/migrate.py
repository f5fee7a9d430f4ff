"""Versioned migrations for the read model, applied by the services, never by hand.

Each ``migrations/NNNN_name.sql`` runs once, in order, inside one transaction with its row in
``schema_migrations``; an advisory lock keeps two starting workers from racing.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import psycopg

# An arbitrary constant shared by every process that migrates this database.
_MIGRATION_LOCK_ID = 7_231_990_412


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations() -> list[Migration]:
    folder = resources.files("livetranslate_common.readmodel") / "migrations"
    migrations = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version_text, _, name = entry.name.removesuffix(".sql").partition("_")
            migrations.append(Migration(int(version_text), name, entry.read_text()))
    return sorted(migrations, key=lambda migration: migration.version)


async def apply_migrations(conn: psycopg.AsyncConnection[object]) -> list[int]:
    """Bring the schema up to date; returns the versions applied now."""
    applied_now: list[int] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK_ID,))
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cursor = await conn.execute("SELECT version FROM schema_migrations")
        done = {row[0] for row in await cursor.fetchall()}  # type: ignore[index]
        for migration in available_migrations():
            if migration.version in done:
                continue
            await conn.execute(migration.sql.encode())
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )
            applied_now.append(migration.version)
    return applied_now

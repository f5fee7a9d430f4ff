"""One audio source per session, whichever gateway instance takes it.

An upload and a live stream (or two live streams on two gateway instances) both number their
chunks from 0; the pipeline keeps the first chunk of each number and drops the other as a
duplicate, so the second source's audio would be lost after it was accepted. Before it
publishes anything, a source claims the session in PostgreSQL, which every instance shares:
the claim is one INSERT, so two racing sources cannot both win.
"""

from __future__ import annotations

from typing import Any

import psycopg

from livetranslate_schemas.events import SourceType


async def claim_audio_source(
    conn: psycopg.AsyncConnection[Any], session_id: str, source: SourceType
) -> SourceType | None:
    """Claim the session's audio for ``source``: None when claimed now, else the source that
    holds it."""
    while True:
        cursor = await conn.execute(
            "INSERT INTO session_audio_sources (session_id, source_type) VALUES (%s, %s)"
            " ON CONFLICT (session_id) DO NOTHING RETURNING session_id",
            (session_id, source.value),
        )
        if await cursor.fetchone() is not None:
            return None
        cursor = await conn.execute(
            "SELECT source_type FROM session_audio_sources WHERE session_id = %s", (session_id,)
        )
        row = await cursor.fetchone()
        if row is not None:
            return SourceType(row[0])
        # Given back between the two statements (an upload Kafka refused): free again.


async def release_audio_source(
    conn: psycopg.AsyncConnection[Any], session_id: str, source: SourceType
) -> None:
    """Give the claim back: the source published nothing, another may try."""
    await conn.execute(
        "DELETE FROM session_audio_sources WHERE session_id = %s AND source_type = %s",
        (session_id, source.value),
    )


def describe_source(source: SourceType) -> str:
    return "an upload" if source is SourceType.UPLOAD else "a live stream"

"""One audio source per session, whichever gateway instance takes it.

An upload and a live stream (or two live streams on two gateway instances) both number their
chunks from 0; the pipeline keeps the first chunk of each number and drops the other as a
duplicate, so the second source's audio would be lost after it was accepted. Before it
publishes anything, a source claims the session in PostgreSQL, which every instance shares:
the claim is one INSERT, so two racing sources cannot both win.

A live stream's claim is also a lease (``lease_s``), which its gateway keeps renewing with how
much of the stream Kafka has acknowledged (``livetranslate_gateway.adapters.stream_leases``):
a gateway that dies mid-stream cannot publish the stream's end, so once its lease lapses,
another gateway takes it over (``take_lapsed_streams``) and ends the stream for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg

from livetranslate_schemas.events import SourceType


async def claim_audio_source(
    conn: psycopg.AsyncConnection[Any],
    session_id: str,
    source: SourceType,
    *,
    lease_s: float | None = None,
) -> SourceType | None:
    """Claim the session's audio for ``source``, leased for ``lease_s`` if given: None when
    claimed now, else the source that holds it."""
    while True:
        cursor = await conn.execute(
            "INSERT INTO session_audio_sources (session_id, source_type, lease_until)"
            " VALUES (%s, %s, now() + make_interval(secs => %s))"
            " ON CONFLICT (session_id) DO NOTHING RETURNING session_id",
            (session_id, source.value, lease_s),
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


@dataclass(frozen=True, slots=True)
class LapsedStream:
    """A live stream whose gateway stopped renewing its lease, with what Kafka had of it."""

    session_id: str
    acknowledged_chunks: int
    acknowledged_samples: int


async def renew_stream_leases(
    conn: psycopg.AsyncConnection[Any], progress: Mapping[str, tuple[int, int]], lease_s: float
) -> set[str]:
    """Extend the leases of these streams (session id -> acknowledged chunks and samples) by
    ``lease_s`` from now; returns those renewed (not the ones already ended, by anyone)."""
    if not progress:
        return set()
    ids = list(progress)
    cursor = await conn.execute(
        "UPDATE session_audio_sources AS s SET lease_until = now() + make_interval(secs => %s),"
        " acknowledged_chunks = v.chunks, acknowledged_samples = v.samples"
        " FROM unnest(%s::text[], %s::integer[], %s::bigint[]) AS v(session_id, chunks, samples)"
        " WHERE s.session_id = v.session_id AND s.ended_at IS NULL AND s.lease_until IS NOT NULL"
        " RETURNING s.session_id",
        (
            lease_s,
            ids,
            [progress[i][0] for i in ids],
            [progress[i][1] for i in ids],
        ),
    )
    return {row[0] for row in await cursor.fetchall()}


async def end_stream_lease(conn: psycopg.AsyncConnection[Any], session_id: str) -> None:
    """The stream's end is published: its lease is no longer anyone's to take over."""
    await conn.execute(
        "UPDATE session_audio_sources SET ended_at = now()"
        " WHERE session_id = %s AND ended_at IS NULL",
        (session_id,),
    )


async def take_lapsed_streams(
    conn: psycopg.AsyncConnection[Any], *, limit: int = 100
) -> list[LapsedStream]:
    """The live streams whose lease lapsed, each marked ended by this one statement: two
    gateways looking at once never both take the same one."""
    cursor = await conn.execute(
        "UPDATE session_audio_sources SET ended_at = now() WHERE session_id IN ("
        " SELECT session_id FROM session_audio_sources"
        " WHERE ended_at IS NULL AND lease_until < now()"
        " ORDER BY lease_until LIMIT %s FOR UPDATE SKIP LOCKED)"
        " RETURNING session_id, acknowledged_chunks, acknowledged_samples",
        (limit,),
    )
    return [LapsedStream(*row) for row in await cursor.fetchall()]


async def reopen_lapsed_stream(conn: psycopg.AsyncConnection[Any], session_id: str) -> None:
    """Taking the stream over failed (Kafka refused its end): let the next look try again."""
    await conn.execute(
        "UPDATE session_audio_sources SET ended_at = NULL WHERE session_id = %s", (session_id,)
    )


def describe_source(source: SourceType) -> str:
    return "an upload" if source is SourceType.UPLOAD else "a live stream"

"""Reading the read model, for the gateway's REST API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row


@dataclass(frozen=True, slots=True)
class SessionRow:
    session_id: str
    user_id: str | None
    source_type: str
    title: str | None
    created_at: datetime
    stream_ended_at: datetime | None
    completed_at: datetime | None
    final_segment_count: int | None
    total_samples: int | None


@dataclass(frozen=True, slots=True)
class SegmentRow:
    segment_id: str
    run_id: str
    revision: int
    is_final: bool
    text: str
    language: str | None
    start_ms: int
    end_ms: int
    speaker: str | None
    confidence: float | None
    words: list[dict[str, Any]]
    model: str
    pipeline_version: str


async def get_session(conn: psycopg.AsyncConnection[Any], session_id: str) -> SessionRow | None:
    async with conn.cursor(row_factory=class_row(SessionRow)) as cursor:
        await cursor.execute(
            "SELECT session_id, user_id, source_type, title, created_at, stream_ended_at,"
            " completed_at, final_segment_count, total_samples"
            " FROM sessions WHERE session_id = %s",
            (session_id,),
        )
        return await cursor.fetchone()


async def speaker_names(conn: psycopg.AsyncConnection[Any], session_id: str) -> dict[str, str]:
    """The session's speaker names (label -> name): the newest rename's mapping, else the
    names it was created with; empty for an unknown session."""
    cursor = await conn.execute(
        "SELECT COALESCE(n.names, s.processing_flags -> 'speaker_names', '{}'::jsonb)"
        " FROM sessions s LEFT JOIN session_speaker_names n USING (session_id)"
        " WHERE s.session_id = %s",
        (session_id,),
    )
    row = await cursor.fetchone()
    names: dict[str, str] = row[0] if row is not None else {}
    return dict(sorted(names.items()))


async def transcript_segments(
    conn: psycopg.AsyncConnection[Any], session_id: str, *, run_id: str, finals_only: bool = True
) -> list[SegmentRow]:
    async with conn.cursor(row_factory=class_row(SegmentRow)) as cursor:
        await cursor.execute(
            "SELECT segment_id, run_id, revision, is_final, text, language, start_ms, end_ms,"
            " speaker, confidence, words, model, pipeline_version"
            " FROM segments WHERE session_id = %s AND run_id = %s"
            " AND (is_final OR NOT %s)"
            " ORDER BY start_ms, segment_id",
            (session_id, run_id, finals_only),
        )
        return await cursor.fetchall()


@dataclass(frozen=True, slots=True)
class RunRow:
    run_id: str
    status: str
    model: str
    pipeline_version: str | None
    processed_ms: int
    total_ms: int | None
    final_segment_count: int
    start_ms: int | None
    end_ms: int | None
    error: str | None
    requested_by: str | None
    requested_at: datetime
    updated_at: datetime


_RUN_COLUMNS = (
    "run_id, status, model, pipeline_version, processed_ms, total_ms, final_segment_count,"
    " start_ms, end_ms, error, requested_by, requested_at, updated_at"
)


async def session_runs(conn: psycopg.AsyncConnection[Any], session_id: str) -> list[RunRow]:
    """The session's reprocessing runs, oldest request first (the live run is not one)."""
    async with conn.cursor(row_factory=class_row(RunRow)) as cursor:
        await cursor.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE session_id = %s"  # noqa: S608  # constant
            " ORDER BY requested_at, run_id",
            (session_id,),
        )
        return await cursor.fetchall()


async def get_run(
    conn: psycopg.AsyncConnection[Any], session_id: str, run_id: str
) -> RunRow | None:
    async with conn.cursor(row_factory=class_row(RunRow)) as cursor:
        await cursor.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs"  # noqa: S608  # constant columns
            " WHERE session_id = %s AND run_id = %s",
            (session_id, run_id),
        )
        return await cursor.fetchone()


async def unfinished_runs(conn: psycopg.AsyncConnection[Any], session_id: str) -> int:
    """How many of the session's runs are asked for or running."""
    cursor = await conn.execute(
        "SELECT count(*) FROM runs WHERE session_id = %s AND status IN ('REQUESTED', 'RUNNING')",
        (session_id,),
    )
    row = await cursor.fetchone()
    return int(row[0]) if row is not None else 0


async def segment_translations(
    conn: psycopg.AsyncConnection[Any], session_id: str, *, run_id: str
) -> dict[str, dict[str, str]]:
    """segment_id -> {target language: text} for the run's translated segments."""
    cursor = await conn.execute(
        "SELECT segment_id, target_language, text FROM translations"
        " WHERE session_id = %s AND run_id = %s ORDER BY segment_id, target_language",
        (session_id, run_id),
    )
    found: dict[str, dict[str, str]] = {}
    for segment_id, language, text in await cursor.fetchall():
        found.setdefault(segment_id, {})[language] = text
    return found


async def owned_sessions(
    conn: psycopg.AsyncConnection[Any], owner: str, *, limit: int, before: str | None = None
) -> list[SessionRow]:
    """The owner's sessions, newest first; with ``before``, those listed after that session
    (keyset paging: stable while new sessions arrive). An unknown ``before`` lists nothing."""
    async with conn.cursor(row_factory=class_row(SessionRow)) as cursor:
        await cursor.execute(
            "SELECT session_id, user_id, source_type, title, created_at, stream_ended_at,"
            " completed_at, final_segment_count, total_samples"
            " FROM sessions WHERE user_id = %(owner)s"
            " AND (%(before)s::text IS NULL OR (created_at, session_id) <"
            "  (SELECT created_at, session_id FROM sessions"
            "   WHERE session_id = %(before)s AND user_id = %(owner)s))"
            " ORDER BY created_at DESC, session_id DESC LIMIT %(limit)s",
            {"owner": owner, "before": before, "limit": limit},
        )
        return await cursor.fetchall()

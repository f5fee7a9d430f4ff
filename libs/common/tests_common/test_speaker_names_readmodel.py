"""Speaker names in the PostgreSQL read model: projected from the pipeline's echoes,
idempotently, and merged at once by the gateway in the order its requests reach the log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from livetranslate_common.readmodel.migrate import apply_migrations
from livetranslate_common.readmodel.projection import merge_speaker_name_changes, project_event
from livetranslate_common.readmodel.queries import speaker_names
from livetranslate_schemas import SCHEMA_VERSION
from livetranslate_schemas.events import (
    AudioConfig,
    Envelope,
    EventPayload,
    ProcessingFlags,
    SessionCreated,
    SourceType,
    SpeakerNamesUpdated,
)

Connection = psycopg.AsyncConnection[Any]
_T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def _envelope(payload: EventPayload, second: int) -> Envelope:
    return Envelope(
        schema_version=SCHEMA_VERSION,
        event_id=uuid4(),
        event_type=type(payload).__name__,
        source="tests",
        timestamp=_T0 + timedelta(seconds=second),
        trace_id="0" * 32,
        payload=payload,
    )


def _created(session_id: str, names: dict[str, str]) -> SessionCreated:
    return SessionCreated(
        session_id=session_id,
        source_type=SourceType.UPLOAD,
        audio_config=AudioConfig(),
        processing_flags=ProcessingFlags(speaker_names=names),
    )


def _echo(session_id: str, changes: dict[str, str | None], names: dict[str, str]) -> Envelope:
    return _envelope(SpeakerNamesUpdated(session_id=session_id, changes=changes, names=names), 9)


async def _connect(url: str) -> Connection:
    return await psycopg.AsyncConnection.connect(url, autocommit=True)


@pytest.fixture
async def conn(database: str) -> AsyncIterator[Connection]:
    async with await _connect(database) as connection:
        await apply_migrations(connection)
        yield connection


async def _rows(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    rows = {}
    for table in ("sessions", "session_speaker_names"):
        cursor = await conn.execute(f"SELECT * FROM {table} ORDER BY session_id")
        rows[table] = await cursor.fetchall()
    return rows


async def test_echoes_are_projected_idempotently_and_requests_ignored(conn: Connection) -> None:
    events = [
        _envelope(_created("s1", {"SPEAKER_00": "Alice"}), 0),
        # The request on audio-ingest: changes only; the projector leaves it to the echo.
        _envelope(SpeakerNamesUpdated(session_id="s1", changes={"SPEAKER_01": "Bob"}), 1),
        _echo("s1", {"SPEAKER_01": "Bob"}, {"SPEAKER_00": "Alice", "SPEAKER_01": "Bob"}),
        _echo("s1", {"SPEAKER_00": None}, {"SPEAKER_01": "Bob"}),
    ]
    assert await speaker_names(conn, "s1") == {}
    applied = [await project_event(conn, envelope) for envelope in events]
    assert applied == [True, False, True, True]
    assert await speaker_names(conn, "s1") == {"SPEAKER_01": "Bob"}
    before = await _rows(conn)
    # Replaying both topics, twice over, leaves the same rows.
    for _ in range(2):
        for envelope in events:
            await project_event(conn, envelope)
    assert await _rows(conn) == before


async def test_names_of_the_creation_hold_until_a_rename(conn: Connection) -> None:
    await project_event(conn, _envelope(_created("s2", {"SPEAKER_00": "Alice"}), 0))
    assert await speaker_names(conn, "s2") == {"SPEAKER_00": "Alice"}
    # Renamed to nobody: an empty mapping is a mapping, not "no rename yet".
    await project_event(conn, _echo("s2", {"SPEAKER_00": None}, {}))
    assert await speaker_names(conn, "s2") == {}


async def test_an_echo_projected_before_its_session_is_kept(conn: Connection) -> None:
    # Rebuilding: the audio-results agent may run ahead of the audio-ingest one.
    await project_event(conn, _echo("s3", {"SPEAKER_00": "Ada"}, {"SPEAKER_00": "Ada"}))
    await project_event(conn, _envelope(_created("s3", {"SPEAKER_00": "Alice"}), 0))
    assert await speaker_names(conn, "s3") == {"SPEAKER_00": "Ada"}


async def test_the_gateways_merge_starts_from_the_configured_names(conn: Connection) -> None:
    assert await merge_speaker_name_changes(conn, "nobody", {"SPEAKER_00": "Ada"}) is None
    await project_event(conn, _envelope(_created("s4", {"SPEAKER_00": "Alice"}), 0))
    merged = await merge_speaker_name_changes(conn, "s4", {"SPEAKER_01": "Bob", "SPEAKER_02": None})
    assert merged == {"SPEAKER_00": "Alice", "SPEAKER_01": "Bob"}
    merged = await merge_speaker_name_changes(conn, "s4", {"SPEAKER_00": None, "SPEAKER_01": "Bo"})
    assert merged == {"SPEAKER_01": "Bo"}
    assert await speaker_names(conn, "s4") == {"SPEAKER_01": "Bo"}


async def test_two_gateways_renaming_at_once_take_turns(conn: Connection, database: str) -> None:
    await project_event(conn, _envelope(_created("s5", {}), 0))
    async with await _connect(database) as first, await _connect(database) as second:
        async with first.transaction():
            # The first gateway holds the row until "the broker has its request".
            assert await merge_speaker_name_changes(first, "s5", {"SPEAKER_00": "Ada"}) == {
                "SPEAKER_00": "Ada"
            }
            other = asyncio.create_task(
                merge_speaker_name_changes(second, "s5", {"SPEAKER_01": "Bob"})
            )
            await asyncio.sleep(0.3)
            assert not other.done(), "the second merge must wait for the first to commit"
        # It then builds on the first one's names, as the pipeline will in log order.
        assert await other == {"SPEAKER_00": "Ada", "SPEAKER_01": "Bob"}

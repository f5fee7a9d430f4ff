"""Read-model rebuild speed: audio-results replayed into PostgreSQL, in events per second.

A synthetic log shaped like live sessions (each segment's partial revisions, its final and a
translation, the session's start, end and completion) goes to a topic of its own; the
rebuild command's code then reads it into a database of its own, so the running system's
projector never touches either.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import psycopg
from confluent_kafka import Producer
from psycopg import sql

from livetranslate_common.catalogue import CATALOGUE
from livetranslate_common.envelope import new_event
from livetranslate_common.readmodel.rebuild import RebuildSummary
from livetranslate_common.replay_cli import rebuild
from livetranslate_common.serde import encode_event, encode_key
from livetranslate_common.testing.fixtures import with_database
from livetranslate_common.topics import delete_topics, ensure_topics
from livetranslate_schemas.events import (
    AudioStreamEnded,
    EventPayload,
    SessionCreated,
    SessionProcessingCompleted,
    TranscriptionCompleted,
    TranslationCompleted,
)
from livetranslate_schemas.samples import sample_of

PARTIALS_PER_SEGMENT = 3


def _session_log(session_id: str, segments: int) -> list[EventPayload]:
    segment = sample_of(TranscriptionCompleted)
    translation = sample_of(TranslationCompleted)
    events: list[EventPayload] = [
        dataclasses.replace(sample_of(SessionCreated), session_id=session_id)
    ]
    for number in range(segments):
        segment_id = f"{session_id}-{number}"
        for revision in range(PARTIALS_PER_SEGMENT + 1):
            events.append(
                dataclasses.replace(
                    segment,
                    session_id=session_id,
                    segment_id=segment_id,
                    revision=revision,
                    is_final=revision == PARTIALS_PER_SEGMENT,
                )
            )
        events.append(
            dataclasses.replace(translation, session_id=session_id, segment_id=segment_id)
        )
    events.append(dataclasses.replace(sample_of(AudioStreamEnded), session_id=session_id))
    events.append(dataclasses.replace(sample_of(SessionProcessingCompleted), session_id=session_id))
    return events


def rebuild_run(
    bootstrap: str, server_url: str, *, sessions: int = 400, segments: int = 50
) -> RebuildSummary:
    """``server_url``: any database on the PostgreSQL server; the run creates its own."""
    prefix = f"rebuild{uuid.uuid4().hex[:6]}-"
    database = f"rebuild_{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, prefix=prefix)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    try:
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "acks": "all"})
        topic = f"{prefix}audio-results"
        for index in range(sessions):
            session_id = f"bench-{index}"
            for payload in _session_log(session_id, segments):
                value = encode_event(new_event(payload, source="bench", trace_id="0" * 32))
                producer.produce(topic, value, encode_key(session_id))
                producer.poll(0)
        assert producer.flush(60) == 0
        return asyncio.run(
            rebuild(bootstrap, [topic], with_database(server_url, database), progress=False)
        )
    finally:
        delete_topics(bootstrap, [spec.full_name(prefix) for spec in CATALOGUE])
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )

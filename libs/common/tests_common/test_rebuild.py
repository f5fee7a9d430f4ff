"""Rebuilding the read model from audio-results: the same rows as live projection, from a
real topic into a real database, through the command an operator runs."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import psycopg
import pytest
from confluent_kafka import Producer

from livetranslate_common import replay_cli
from livetranslate_common.envelope import new_event
from livetranslate_common.readmodel.migrate import apply_migrations
from livetranslate_common.readmodel.projection import project_event
from livetranslate_common.readmodel.rebuild import READ_MODEL_TABLES
from livetranslate_common.replay.topic_snapshot import TopicReadError, TopicSnapshot
from livetranslate_common.runs import LIVE_RUN
from livetranslate_common.serde import decode_event, encode_event, encode_key
from livetranslate_common.testing.fixtures import KafkaTopics
from livetranslate_schemas.events import (
    AudioStreamEnded,
    Envelope,
    EventPayload,
    ProcessingFailed,
    ReprocessRequested,
    RunProgress,
    RunStatus,
    SessionCreated,
    SessionProcessingCompleted,
    SpeakerNamesUpdated,
    TranscriptionCompleted,
    TranslationCompleted,
)
from livetranslate_schemas.samples import sample_of

Snapshot = dict[str, list[tuple[Any, ...]]]
REPROCESS_RUN = "rp-done"
GARBAGE = b"\xc3\x01 not an event"


def _session_story(session_id: str) -> list[EventPayload]:
    """What audio-results holds for one session: its start, partial and final revisions,
    a translation, two renames, a failure, its end."""
    segment = dataclasses.replace(sample_of(TranscriptionCompleted), run_id=LIVE_RUN)

    def revision(segment_id: str, number: int, *, final: bool, text: str) -> EventPayload:
        return dataclasses.replace(
            segment,
            session_id=session_id,
            segment_id=segment_id,
            revision=number,
            is_final=final,
            text=text,
        )

    return [
        dataclasses.replace(sample_of(SessionCreated), session_id=session_id),
        revision("s1", 0, final=False, text="hello"),
        revision("s1", 1, final=False, text="hello there"),
        revision("s1", 2, final=True, text="Hello there."),
        revision("s2", 0, final=True, text="How are you?"),
        # At the same revision a final beats a partial.
        revision("s3", 0, final=False, text="fine"),
        revision("s3", 0, final=True, text="Fine, thanks."),
        dataclasses.replace(sample_of(TranslationCompleted), session_id=session_id),
        # A later revision's translation replaces it; a late older one does not.
        dataclasses.replace(
            sample_of(TranslationCompleted), session_id=session_id, revision=9, text="Neu."
        ),
        dataclasses.replace(
            sample_of(TranslationCompleted), session_id=session_id, revision=1, text="Alt."
        ),
        SpeakerNamesUpdated(session_id=session_id, changes={}, names={"SPEAKER_00": "Ada"}),
        SpeakerNamesUpdated(session_id=session_id, changes={}, names={"SPEAKER_00": "Grace"}),
        dataclasses.replace(sample_of(ProcessingFailed), session_id=session_id),
        dataclasses.replace(sample_of(AudioStreamEnded), session_id=session_id),
        dataclasses.replace(
            sample_of(SessionProcessingCompleted), session_id=session_id, run_id=LIVE_RUN
        ),
        # A reprocessing run: its reports, a segment of its own, its completion (which is
        # not the session's: that stays the live run's).
        _run_report(session_id, RunStatus.RUNNING, processed_ms=0),
        dataclasses.replace(segment, session_id=session_id, run_id=REPROCESS_RUN),
        _run_report(session_id, RunStatus.COMPLETED, processed_ms=60_000),
        dataclasses.replace(
            sample_of(SessionProcessingCompleted),
            session_id=session_id,
            run_id=REPROCESS_RUN,
            final_segment_count=99,
        ),
    ]


def _run_report(session_id: str, status: RunStatus, *, processed_ms: int) -> EventPayload:
    return dataclasses.replace(
        sample_of(RunProgress),
        session_id=session_id,
        run_id=REPROCESS_RUN,
        status=status,
        processed_ms=processed_ms,
        error=None,
    )


def _requests(session_ids: list[str]) -> list[tuple[str, Envelope]]:
    """What audio-reprocess holds: the request of each session's run, and one never run."""
    return [
        (
            session_id,
            new_event(
                dataclasses.replace(
                    sample_of(ReprocessRequested), session_id=session_id, run_id=run
                ),
                source="tests",
                trace_id="0" * 32,
            ),
        )
        for session_id in session_ids
        for run in (REPROCESS_RUN, "rp-queued")
    ]


def _publish(
    topics: KafkaTopics, values: list[tuple[str, bytes]], topic: str = "audio-results"
) -> None:
    producer = Producer({"bootstrap.servers": topics.bootstrap_servers, "acks": "all"})
    for session_id, value in values:
        producer.produce(topics[topic], value, encode_key(session_id))
    assert producer.flush(30) == 0


def _snapshot(url: str) -> Snapshot:
    with psycopg.connect(url) as conn:
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3").fetchall()
            for table in READ_MODEL_TABLES
        }


async def _project_live(url: str, envelopes: list[Envelope]) -> None:
    """What the projector does: each event as it comes, each in its own statement."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await apply_migrations(conn)
        for envelope in envelopes:
            await project_event(conn, envelope)


def _log(topics: KafkaTopics) -> list[Envelope]:
    """Publish two sessions' stories and a message nobody can decode; the envelopes sent."""
    keyed = [
        (session_id, new_event(payload, source="tests", trace_id="0" * 32))
        for session_id in ("rebuild-a", "rebuild-b")
        for payload in _session_story(session_id)
    ]
    # Redeliveries after a crash: the same final again, then an older partial of it, which
    # must not replace it (live, the SQL's rule; in a rebuild's batch, the ranking).
    keyed += [keyed[3], keyed[2]]
    _publish(
        topics,
        [(session_id, encode_event(e)) for session_id, e in keyed] + [("rebuild-b", GARBAGE)],
    )
    # The projector reads both topics as they come: here the requests come last, after
    # their runs' reports, and must not undo them.
    requests = _requests(["rebuild-a", "rebuild-b"])
    _publish(topics, [(s, encode_event(e)) for s, e in requests], "audio-reprocess")
    return [envelope for _, envelope in keyed + requests]


def _rebuild(topics: KafkaTopics, url: str, *extra: str) -> int:
    return replay_cli.main(
        [
            "rebuild",
            "--bootstrap",
            topics.bootstrap_servers,
            "--prefix",
            topics.prefix,
            "--database-url",
            url,
            *extra,
        ]
    )


def test_rebuilt_read_model_equals_the_live_one_row_for_row(
    kafka_topics: KafkaTopics, database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    envelopes = _log(kafka_topics)
    asyncio.run(_project_live(database, envelopes))
    live = _snapshot(database)
    assert [row[0] for row in live["sessions"]] == ["rebuild-a", "rebuild-b"]
    # Three segments per session, each its final, and the reprocessing run's one beside them.
    assert [(row[0], row[1], row[2]) for row in live["segments"]] == [
        (session, run, segment)
        for session in ("rebuild-a", "rebuild-b")
        for run, segment in (
            (LIVE_RUN, "s1"),
            (LIVE_RUN, "s2"),
            (LIVE_RUN, "s3"),
            (REPROCESS_RUN, "seg-12"),
        )
    ]
    assert all(row[4] for row in live["segments"])  # is_final
    assert [row[4] for row in live["translations"]] == [9, 9]  # the newest revision's
    assert [(row[1], row[2]) for row in live["runs"]] == [
        ("rp-done", "COMPLETED"),
        ("rp-queued", "REQUESTED"),
    ] * 2
    # The run's completion is not the session's.
    assert [row[-1] for row in live["sessions"]] == [
        sample_of(SessionProcessingCompleted).final_segment_count
    ] * 2
    # A row the log knows nothing of (written by hand, or by a bug) does not survive.
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("UPDATE segments SET text = 'tampered' WHERE segment_id = 's1'")
        conn.execute(
            "INSERT INTO sessions (session_id, source_type, audio_config, processing_flags,"
            " metadata, created_at) VALUES ('stray', 'UPLOAD', '{}', '{}', '{}', now())"
        )

    assert _rebuild(kafka_topics, database, "--no-progress") == replay_cli.EXIT_OK

    assert _snapshot(database) == live
    out = capsys.readouterr().out
    events = len(envelopes) + 1
    unprojected = sum(
        isinstance(e.payload, SessionProcessingCompleted) and e.payload.run_id == REPROCESS_RUN
        for e in envelopes
    )
    assert f"from {events} events" in out
    assert f"{events - 1 - unprojected} projected, {unprojected} with no place in it" in out
    assert "1 undecodable" in out
    assert "first undecodable:" in out
    # The stray session was dropped: the operator sees it in the counts.
    assert "sessions: 3 rows before, 2 after" in out


def test_rebuild_shows_progress_and_is_idempotent(
    kafka_topics: KafkaTopics, database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    envelopes = _log(kafka_topics)
    assert _rebuild(kafka_topics, database) == replay_cli.EXIT_OK
    first = _snapshot(database)
    err = capsys.readouterr().err
    assert "rebuilding from" in err
    assert f"{len(envelopes) + 1}/{len(envelopes) + 1}" in err
    assert _rebuild(kafka_topics, database, "--no-progress") == replay_cli.EXIT_OK
    assert _snapshot(database) == first
    kinds = {type(e.payload) for e in envelopes}
    assert {SessionCreated, SessionProcessingCompleted, ProcessingFailed} <= kinds


def test_a_failed_rebuild_changes_nothing(
    kafka_topics: KafkaTopics, database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_project_live(database, _log(kafka_topics)))
    before = _snapshot(database)
    # No such topic under this prefix: the command says so and leaves the read model alone.
    code = _rebuild(kafka_topics, database, "--prefix", "nobody-", "--no-progress")
    assert code == replay_cli.EXIT_FAILED
    assert "read model unchanged" in capsys.readouterr().err
    assert _snapshot(database) == before


def test_a_snapshot_ends_where_the_topic_ended_when_it_was_taken(
    kafka_topics: KafkaTopics,
) -> None:
    envelopes = _log(kafka_topics)
    with TopicSnapshot(kafka_topics.bootstrap_servers, kafka_topics["audio-results"]) as snapshot:
        total = snapshot.total
        # Published after the snapshot: the live projector's, not the rebuild's.
        _publish(kafka_topics, [("late", GARBAGE)] * 5)
        values = [m.value() for m in snapshot.messages()]
    assert len(values) == total
    assert GARBAGE in values
    sent = {e.event_id for e in envelopes if not isinstance(e.payload, ReprocessRequested)}
    assert {decode_event(v).event_id for v in values if v and v != GARBAGE} == sent


def test_an_unknown_topic_is_a_clear_error(kafka_topics: KafkaTopics) -> None:
    with pytest.raises(TopicReadError, match="cannot be read"):
        TopicSnapshot(kafka_topics.bootstrap_servers, "no-such-topic-here", timeout_s=5)

"""A deleted session is forgotten by the worker: its open state, its speakers' voices and
names, its timing and options; only a completed checkpoint stays, so that a redelivered event
of it changes nothing."""

from __future__ import annotations

import pytest

from livetranslate_audio_pipeline.adapters.whisper_local import LocalWhisperRecognizer
from livetranslate_audio_pipeline.core.checkpoint import LogPosition
from livetranslate_common.speech_samples import FloatSamples, SpokenLine
from livetranslate_schemas.events import (
    EventPayload,
    ProcessingFlags,
    SessionDeleted,
    SessionProcessingCompleted,
    SpeakerNamesUpdated,
    TranscriptionCompleted,
)
from tests_audio_pipeline.memory_worker import (
    MemoryTables,
    consume,
    live_session_log,
    memory_worker,
)


@pytest.fixture(scope="module")
def recognizer() -> LocalWhisperRecognizer:
    return LocalWhisperRecognizer.embedded_tiny_en()


async def test_a_deleted_session_leaves_nothing_but_a_completed_checkpoint(
    recognizer: LocalWhisperRecognizer, short_speech: tuple[FloatSamples, list[SpokenLine]]
) -> None:
    samples, _ = short_speech
    flags = ProcessingFlags(speaker_names={"SPEAKER_00": "Alice"})
    log: list[EventPayload] = live_session_log("d1", samples, flags=flags)
    log.insert(3, SpeakerNamesUpdated(session_id="d1", changes={"SPEAKER_01": "Bob"}))
    tables = MemoryTables()
    worker = memory_worker(recognizer, tables, log)
    results = await consume(worker, log, range(len(log)), "d1")
    assert any(isinstance(r, TranscriptionCompleted) and r.is_final for r in results)
    key = b"d1"
    # What the worker kept of the session: voices and names, timing, options.
    assert tables.speakers[key]["names"] == {"SPEAKER_00": "Alice", "SPEAKER_01": "Bob"}
    assert "speakers" in tables.speakers[key]
    assert key in tables.timing
    assert tables.progress[key]["completed"]

    deleted = SessionDeleted(session_id="d1", deleted_by="key-id")
    assert await worker.handle(deleted, position=LogPosition(0, len(log))) == []
    worker.checkpoint("d1")
    assert key not in tables.speakers
    assert key not in tables.timing
    kept = tables.progress[key]
    assert kept["completed"]
    assert kept["options"] == {}
    assert not kept.get("recent_finals")
    # A redelivered end of the stream finds the session done: no second completion.
    assert await worker.handle(log[-1], position=LogPosition(0, len(log) - 1)) == []


async def test_a_session_deleted_while_open_is_dropped_from_memory(
    recognizer: LocalWhisperRecognizer, short_speech: tuple[FloatSamples, list[SpokenLine]]
) -> None:
    samples, _ = short_speech
    log = live_session_log("d2", samples, flags=ProcessingFlags())
    tables = MemoryTables()
    worker = memory_worker(recognizer, tables, log)
    await consume(worker, log, range(4), "d2")  # created and three chunks: open
    assert worker.open_sessions == 1
    await worker.handle(SessionDeleted(session_id="d2"), position=LogPosition(0, len(log)))
    assert worker.open_sessions == 0
    assert b"d2" not in tables.timing
    # Its end, if it came after all, completes nothing anew.
    ended = await worker.handle(log[-1], position=LogPosition(0, len(log) - 1))
    assert not any(isinstance(r, SessionProcessingCompleted) for r in ended)

"""Human names for speaker labels: from the session's configuration and from later renames,
carried by every segment, kept durably with the speaker state, known to a worker taking over.

Real VAD, Whisper and speaker embeddings; the worker's tables are plain dicts behind the real
Faust store adapter, and the audio log an in-memory list of the chunks in log order.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import asdict, replace

import pytest

from livetranslate_audio_pipeline.adapters.faust_state import FaustSessionStore
from livetranslate_audio_pipeline.adapters.whisper_local import LocalWhisperRecognizer
from livetranslate_audio_pipeline.core.checkpoint import LogPosition
from livetranslate_audio_pipeline.core.session import SessionTranscriber
from livetranslate_audio_pipeline.core.session_options import SessionOptions
from livetranslate_audio_pipeline.core.speaker_names import merge_speaker_names
from livetranslate_common.pcm import float_to_pcm16
from livetranslate_common.speech_samples import SAMPLE_RATE, FloatSamples, SpokenLine
from livetranslate_schemas.events import (
    AudioChunkReceived,
    AudioConfig,
    AudioStreamEnded,
    EventPayload,
    ProcessingFlags,
    SessionCreated,
    SourceType,
    SpeakerNamesUpdated,
    TranscriptionCompleted,
)
from tests_audio_pipeline.memory_worker import ListAudioLog, MemoryTables

CONFIGURED = {"SPEAKER_00": "Alice", "SPEAKER_01": "Bob"}

IngestEvent = SessionCreated | AudioChunkReceived | AudioStreamEnded | SpeakerNamesUpdated


@pytest.fixture(scope="module")
def recognizer() -> LocalWhisperRecognizer:
    return LocalWhisperRecognizer.embedded_tiny_en()


def _store() -> FaustSessionStore:
    return MemoryTables().store


def _created(session_id: str, names: dict[str, str] | None = None) -> SessionCreated:
    return SessionCreated(
        session_id=session_id,
        source_type=SourceType.UPLOAD,
        audio_config=AudioConfig(),
        processing_flags=ProcessingFlags(speaker_names=names or {}),
    )


def _chunks(
    session_id: str,
    samples: FloatSamples,
    *,
    step: int = SAMPLE_RATE,
    source_type: SourceType = SourceType.UPLOAD,
    names: dict[str, str] | None = None,
) -> list[AudioChunkReceived]:
    return [
        AudioChunkReceived(
            session_id=session_id,
            chunk_id=f"{session_id}:{seq}",
            seq=seq,
            source_type=source_type,
            audio_config=AudioConfig(),
            # Chunks repeat the session's configuration, names from its creation included.
            processing_flags=ProcessingFlags(speaker_names=names or {}),
            sample_offset=offset,
            num_samples=len(samples[offset : offset + step]),
            audio=float_to_pcm16(samples[offset : offset + step]),
        )
        for seq, offset in enumerate(range(0, len(samples), step))
    ]


def _ended(session_id: str, chunks: list[AudioChunkReceived]) -> AudioStreamEnded:
    return AudioStreamEnded(
        session_id=session_id,
        last_seq=chunks[-1].seq,
        total_chunks=len(chunks),
        total_samples=sum(c.num_samples for c in chunks),
    )


def _rename(session_id: str, changes: dict[str, str | None]) -> SpeakerNamesUpdated:
    return SpeakerNamesUpdated(session_id=session_id, changes=changes)


def _finals(results: list[EventPayload]) -> list[TranscriptionCompleted]:
    return [r for r in results if isinstance(r, TranscriptionCompleted) and r.is_final]


async def _feed(
    transcriber: SessionTranscriber, log: Sequence[IngestEvent], events: Sequence[IngestEvent]
) -> list[EventPayload]:
    """As the agent does: handle each event at its log position, then checkpoint."""
    results: list[EventPayload] = []
    for event in events:
        offset = log.index(event)
        results += await transcriber.handle(event, position=LogPosition(0, offset))
        transcriber.checkpoint(event.session_id)
    return results


def test_a_rename_merges_changes_in_order() -> None:
    names = merge_speaker_names(CONFIGURED, {"SPEAKER_02": "Cem", "SPEAKER_00": None})
    assert names == {"SPEAKER_01": "Bob", "SPEAKER_02": "Cem"}
    assert list(names) == sorted(names)
    # Removing a name nobody had is no error; a rename replaces.
    assert merge_speaker_names(names, {"SPEAKER_09": None, "SPEAKER_01": "Bo"}) == {
        "SPEAKER_01": "Bo",
        "SPEAKER_02": "Cem",
    }


def test_configured_names_survive_the_checkpoints_json() -> None:
    options = SessionOptions.of(ProcessingFlags(speaker_names=CONFIGURED), AudioConfig())
    assert dict(options.speaker_names) == CONFIGURED
    stored = json.loads(json.dumps(asdict(options)))
    assert SessionOptions.from_dict(stored) == options
    # A checkpoint written before names existed still loads.
    del stored["speaker_names"]
    assert SessionOptions.from_dict(stored).speaker_names == ()


def test_the_store_keeps_names_beside_the_speaker_models() -> None:
    store = _store()
    assert store.load_speaker_names("s") is None
    store.save_speaker_names("s", {"SPEAKER_00": "Alice"})
    # Names alone are no speaker state: a worker taking over must not try to load one.
    assert store.load_speakers("s") is None
    model = {"version": 3, "speakers": [], "within_m2": [], "within_dof": 0, "utterances": 0}
    store.save_speakers("s", model)
    assert store.load_speakers("s") == model
    assert store.load_speaker_names("s") == {"SPEAKER_00": "Alice"}
    store.save_speaker_names("s", {})
    assert store.load_speakers("s") == model
    assert store.load_speaker_names("s") == {}


async def test_configured_names_ride_on_every_final(
    recognizer: LocalWhisperRecognizer, short_speech: tuple[FloatSamples, list[SpokenLine]]
) -> None:
    samples, truth = short_speech
    transcriber = SessionTranscriber(recognizer, run_id="test", pipeline_version="t")
    chunks = _chunks("n1", samples, names=CONFIGURED)
    results: list[EventPayload] = []
    events: list[IngestEvent] = [_created("n1", CONFIGURED), *chunks, _ended("n1", chunks)]
    for event in events:
        results += await transcriber.handle(event)
    finals = _finals(results)
    assert len(finals) == len(truth)
    assert [f.speaker for f in finals] == ["SPEAKER_00"] * len(truth)
    assert all(f.speaker_map == CONFIGURED for f in finals)


async def test_a_rename_mid_session_names_the_later_segments(
    recognizer: LocalWhisperRecognizer, short_speech: tuple[FloatSamples, list[SpokenLine]]
) -> None:
    samples, _ = short_speech
    transcriber = SessionTranscriber(recognizer, run_id="test", pipeline_version="t")
    chunks = _chunks("n2", samples, names=CONFIGURED)
    results = await transcriber.handle(_created("n2", CONFIGURED))
    echo: SpeakerNamesUpdated | None = None
    for chunk in chunks:
        results += await transcriber.handle(chunk)
        if _finals(results) and echo is None:
            # Between the first sentence's final and the second's.
            (reply,) = await transcriber.handle(
                _rename("n2", {"SPEAKER_00": "Ada", "SPEAKER_01": None, "SPEAKER_02": "Cem"})
            )
            assert isinstance(reply, SpeakerNamesUpdated)
            echo = reply
    results += await transcriber.handle(_ended("n2", chunks))
    assert echo is not None, "no final before the last chunk"
    renamed = {"SPEAKER_00": "Ada", "SPEAKER_02": "Cem"}
    # The echo repeats the request and adds the complete mapping after it.
    assert echo.changes == {"SPEAKER_00": "Ada", "SPEAKER_01": None, "SPEAKER_02": "Cem"}
    assert echo.names == renamed
    first, second = _finals(results)
    assert first.speaker_map == CONFIGURED
    assert second.speaker_map == renamed
    assert second.speaker == "SPEAKER_00"


async def test_partials_carry_the_names_too(
    recognizer: LocalWhisperRecognizer, short_speech: tuple[FloatSamples, list[SpokenLine]]
) -> None:
    samples, truth = short_speech
    partials: list[TranscriptionCompleted] = []

    async def collect(session_id: str, partial: TranscriptionCompleted) -> None:
        partials.append(partial)

    transcriber = SessionTranscriber(
        recognizer, run_id="test", pipeline_version="t", publish_partial=collect
    )
    # The first sentence only, live, at real-time pace so that previews get their turn.
    first = samples[: int(truth[0].end_ms * SAMPLE_RATE / 1000)]
    step = SAMPLE_RATE // 5
    try:
        await transcriber.handle(_rename("n3", {"SPEAKER_00": "Ada"}))
        for chunk in _chunks("n3", first, step=step, source_type=SourceType.STREAM):
            await asyncio.sleep(0.2)
            await transcriber.handle(chunk)
    finally:
        await transcriber.close()
    assert partials, "no partial within the first sentence"
    assert all(p.speaker_map == {"SPEAKER_00": "Ada"} for p in partials)


async def test_a_worker_taking_over_knows_the_names(
    recognizer: LocalWhisperRecognizer, short_speech: tuple[FloatSamples, list[SpokenLine]]
) -> None:
    samples, truth = short_speech
    store = _store()
    chunks = _chunks("n4", samples, names=CONFIGURED)
    rename = _rename("n4", {"SPEAKER_01": "Bea"})
    # Before any audio: the first worker holds no checkpoint for the session yet.
    created = _created("n4", CONFIGURED)
    ended = _ended("n4", chunks)
    log: list[IngestEvent] = [created, rename, *chunks, ended]
    first_worker = SessionTranscriber(recognizer, run_id="test", pipeline_version="t", store=store)
    results = await _feed(first_worker, log, [created, rename])
    assert results == [replace(rename, names={"SPEAKER_00": "Alice", "SPEAKER_01": "Bea"})]
    # The first worker reads half the audio, then its partition moves on.
    half = len(chunks) // 2
    results += await _feed(first_worker, log, chunks[:half])
    assert store.load_checkpoint("n4") is not None
    first_worker.forget_partitions({0})

    second_worker = SessionTranscriber(
        recognizer,
        run_id="test",
        pipeline_version="t",
        store=store,
        audio_log=ListAudioLog(log),
    )
    results += await _feed(second_worker, log, [*chunks[half:], ended])
    finals = _finals(results)
    assert len(finals) == len(truth)
    expected = {"SPEAKER_00": "Alice", "SPEAKER_01": "Bea"}
    assert all(f.speaker_map == expected for f in finals), [f.speaker_map for f in finals]

    # A rename after the end (names are presentation) and one for a session nobody here
    # has seen are still merged, saved and echoed.
    (late,) = await second_worker.handle(_rename("n4", {"SPEAKER_00": None}))
    second_worker.checkpoint("n4")
    assert isinstance(late, SpeakerNamesUpdated)
    assert late.names == {"SPEAKER_01": "Bea"}
    assert store.load_speaker_names("n4") == {"SPEAKER_01": "Bea"}
    (unknown,) = await second_worker.handle(
        _rename("n5", {"SPEAKER_03": "Dee", "SPEAKER_04": None})
    )
    second_worker.checkpoint("n5")
    assert isinstance(unknown, SpeakerNamesUpdated)
    assert unknown.names == {"SPEAKER_03": "Dee"}
    assert store.load_speaker_names("n5") == {"SPEAKER_03": "Dee"}


async def test_configured_names_are_kept_for_a_rename_on_another_worker(
    recognizer: LocalWhisperRecognizer,
) -> None:
    # The session was created on one worker and nothing else happened; the rename reaches
    # another worker: it must start from the configured names, not from nothing.
    store = _store()
    created = _created("n6", CONFIGURED)
    first_worker = SessionTranscriber(recognizer, run_id="test", pipeline_version="t", store=store)
    await _feed(first_worker, [created], [created])
    second_worker = SessionTranscriber(recognizer, run_id="test", pipeline_version="t", store=store)
    (echo,) = await second_worker.handle(_rename("n6", {"SPEAKER_00": "Ada"}))
    assert isinstance(echo, SpeakerNamesUpdated)
    assert echo.names == {"SPEAKER_00": "Ada", "SPEAKER_01": "Bob"}

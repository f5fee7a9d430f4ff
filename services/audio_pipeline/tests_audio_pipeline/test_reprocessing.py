"""A reprocessing run on real speech and the real tiny.en, fed as audio-ingest kept it."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import pytest

from livetranslate_audio_pipeline.adapters.whisper_local import LocalWhisperRecognizer
from livetranslate_audio_pipeline.core.reprocessing import (
    ReprocessError,
    ReprocessRun,
    rerun_chunk,
)
from livetranslate_audio_pipeline.core.session import SessionTranscriber
from livetranslate_common.runs import LIVE_RUN
from livetranslate_common.speech_samples import FloatSamples, SpokenLine, word_error_rate
from livetranslate_schemas.events import (
    AudioChunkReceived,
    AudioConfig,
    AudioStreamEnded,
    EventPayload,
    ProcessingFlags,
    ReprocessRequested,
    RunProgress,
    RunStatus,
    SessionProcessingCompleted,
    SourceType,
    TranscriptionCompleted,
)
from tests_audio_pipeline.memory_worker import live_session_log

SESSION = "rerun-1"
RUN = "rp-test"
REQUESTED_AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def recognizer() -> LocalWhisperRecognizer:
    return LocalWhisperRecognizer.embedded_tiny_en()


def _recorded(samples: FloatSamples, *, flags: ProcessingFlags) -> list[EventPayload]:
    """What audio-ingest holds of the session: its chunks, then its end."""
    return [
        event
        for event in live_session_log(SESSION, samples, flags=flags)
        if isinstance(event, AudioChunkReceived | AudioStreamEnded)
    ]


async def _replay(
    events: Sequence[EventPayload],
) -> AsyncIterator[AudioChunkReceived | AudioStreamEnded]:
    for event in events:
        assert isinstance(event, AudioChunkReceived | AudioStreamEnded)
        yield event


def _request(**overrides: object) -> ReprocessRequested:
    fields: dict[str, object] = {"session_id": SESSION, "run_id": RUN, "model": "tiny.en"}
    return ReprocessRequested(**{**fields, **overrides})  # type: ignore[arg-type]


async def _run(
    recognizer: LocalWhisperRecognizer,
    request: ReprocessRequested,
    events: Sequence[EventPayload],
) -> list[EventPayload]:
    published: list[EventPayload] = []

    async def publish(payloads: Sequence[EventPayload]) -> None:
        published.extend(payloads)

    run = ReprocessRun(
        request,
        model=request.model,
        pipeline_version="test",
        requested_at=REQUESTED_AT,
        publish=publish,
        report_every_s=0.0,  # a report after every chunk
    )
    transcriber = SessionTranscriber(recognizer, run_id=request.run_id, pipeline_version="test")
    try:
        await run.run(transcriber, _replay(events))
    finally:
        await transcriber.close()
    return published


def _finals(published: list[EventPayload]) -> list[TranscriptionCompleted]:
    return [e for e in published if isinstance(e, TranscriptionCompleted) and e.is_final]


def _reports(published: list[EventPayload]) -> list[RunProgress]:
    return [e for e in published if isinstance(e, RunProgress)]


async def test_a_run_transcribes_the_whole_recording_under_its_own_run_id(
    recognizer: LocalWhisperRecognizer, meeting_speech: tuple[FloatSamples, list[SpokenLine]]
) -> None:
    samples, truth = meeting_speech
    # Recorded with transcription off (for later): the run transcribes it all the same.
    events = _recorded(samples, flags=ProcessingFlags(transcribe=False, diarize=False))
    published = await _run(recognizer, _request(total_ms=len(samples) // 16), events)

    finals = _finals(published)
    text = " ".join(final.text for final in finals)
    assert word_error_rate(" ".join(line.text for line in truth), text) <= 0.15, text
    assert {final.run_id for final in finals} == {RUN}
    assert not [e for e in published if isinstance(e, TranscriptionCompleted) and not e.is_final]
    (completed,) = [e for e in published if isinstance(e, SessionProcessingCompleted)]
    assert completed.run_id == RUN
    assert completed.final_segment_count == len(finals)

    reports = _reports(published)
    assert reports[0].status is RunStatus.RUNNING
    assert reports[0].processed_ms == 0
    assert reports[-1].status is RunStatus.COMPLETED
    assert reports[-1].final_segment_count == len(finals)
    assert reports[-1].processed_ms == reports[-1].total_ms == len(samples) // 16
    processed = [report.processed_ms for report in reports]
    assert processed == sorted(processed)
    assert len(set(processed)) > 10


async def test_a_run_of_a_time_range_transcribes_only_that_range(
    recognizer: LocalWhisperRecognizer, meeting_speech: tuple[FloatSamples, list[SpokenLine]]
) -> None:
    samples, truth = meeting_speech
    events = _recorded(samples, flags=ProcessingFlags(diarize=False))
    # From the pause before the third line to the pause after the fourth.
    start_ms = (truth[1].end_ms + truth[2].start_ms) // 2
    end_ms = (truth[3].end_ms + truth[4].start_ms) // 2
    published = await _run(recognizer, _request(start_ms=start_ms, end_ms=end_ms), events)

    finals = _finals(published)
    text = " ".join(final.text for final in finals)
    assert word_error_rate(f"{truth[2].text} {truth[3].text}", text) <= 0.15, text
    # Timing stays on the session's clock, not the run's.
    assert abs(finals[0].start_ms - truth[2].start_ms) <= 300
    assert all(start_ms - 200 <= f.start_ms and f.end_ms <= end_ms + 200 for f in finals)
    done = _reports(published)[-1]
    assert done.status is RunStatus.COMPLETED
    assert done.total_ms == end_ms - start_ms
    assert abs(done.processed_ms - (end_ms - start_ms)) <= 200  # whole chunks of 200 ms


async def test_a_run_started_again_gives_the_same_segments(
    recognizer: LocalWhisperRecognizer, short_speech: tuple[FloatSamples, list[SpokenLine]]
) -> None:
    # A worker that died mid-run leaves the request to another, which runs it from the start:
    # the same segment ids and texts, so the read model's rows are rewritten, not doubled.
    samples, _ = short_speech
    events = _recorded(samples, flags=ProcessingFlags(diarize=False))
    first = _finals(await _run(recognizer, _request(), events))
    again = _finals(await _run(recognizer, _request(), events))
    assert [(f.segment_id, f.text) for f in first] == [(f.segment_id, f.text) for f in again]
    assert len(first) == 2


async def test_audio_lost_to_retention_fails_the_run_instead_of_passing_off_a_part(
    recognizer: LocalWhisperRecognizer, short_speech: tuple[FloatSamples, list[SpokenLine]]
) -> None:
    samples, _ = short_speech
    events = _recorded(samples, flags=ProcessingFlags(diarize=False))
    with pytest.raises(ReprocessError, match="no longer in audio-ingest"):
        await _run(recognizer, _request(), events[10:])
    with pytest.raises(ReprocessError, match="no recorded audio"):
        await _run(recognizer, _request(start_ms=600_000), events)


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"run_id": LIVE_RUN}, "live run"),
        ({"run_id": "no spaces"}, "run id"),
        ({"start_ms": -1}, "negative"),
        ({"start_ms": 5_000, "end_ms": 5_000}, "must come after"),
    ],
)
async def test_a_request_that_cannot_be_run_is_refused_before_any_work(
    recognizer: LocalWhisperRecognizer, overrides: dict[str, object], error: str
) -> None:
    published: list[EventPayload] = []

    async def publish(payloads: Sequence[EventPayload]) -> None:
        published.extend(payloads)

    run = ReprocessRun(
        _request(**overrides),
        model="tiny.en",
        pipeline_version="test",
        requested_at=REQUESTED_AT,
        publish=publish,
    )
    transcriber = SessionTranscriber(recognizer, run_id=RUN, pipeline_version="test")
    with pytest.raises(ReprocessError, match=error):
        await run.run(transcriber, _replay([]))
    assert published == []
    failed = run.progress(RunStatus.FAILED, error="x" * 2_000)
    assert failed.status is RunStatus.FAILED
    assert len(failed.error or "") == 500


def test_the_request_overrides_the_sessions_settings_and_keeps_the_rest() -> None:
    chunk = AudioChunkReceived(
        session_id=SESSION,
        chunk_id="c-0",
        seq=0,
        source_type=SourceType.STREAM,
        audio_config=AudioConfig(preset="meeting-room", language="en"),
        processing_flags=ProcessingFlags(
            transcribe=False, partials=True, diarize=True, translate_to=["de"]
        ),
        sample_offset=0,
        num_samples=0,
    )
    same = rerun_chunk(chunk, _request())
    assert same.audio_config == chunk.audio_config
    assert same.processing_flags == ProcessingFlags(
        transcribe=True, partials=False, diarize=True, translate_to=["de"]
    )
    assert same.source_type is SourceType.UPLOAD  # a recording: no previews

    changed = rerun_chunk(
        chunk, _request(preset="noisy", language="fr", diarize=False, translate_to=[])
    )
    assert changed.audio_config == AudioConfig(preset="noisy", language="fr")
    assert changed.processing_flags is not None
    assert (changed.processing_flags.diarize, changed.processing_flags.translate_to) == (False, [])
    assert dataclasses.replace(changed, processing_flags=None, audio_config=chunk.audio_config) == (
        dataclasses.replace(same, processing_flags=None)
    )

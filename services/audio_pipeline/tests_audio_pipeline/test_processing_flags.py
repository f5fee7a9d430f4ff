"""Flags riding on chunks: a session recorded without transcription, then switched on."""

from dataclasses import replace
from typing import Any

import pytest

from livetranslate_audio_pipeline.adapters.whisper_local import LocalWhisperRecognizer
from livetranslate_audio_pipeline.core.session import SessionTranscriber
from livetranslate_common.speech_samples import SAMPLE_RATE, FloatSamples, SpokenLine
from livetranslate_schemas.events import (
    EventPayload,
    ProcessingFlags,
    SessionProcessingCompleted,
    TranscriptionCompleted,
)
from tests_audio_pipeline.memory_worker import live_session_log

_CHUNK = SAMPLE_RATE // 5


@pytest.fixture(scope="module")
def recognizer() -> LocalWhisperRecognizer:
    return LocalWhisperRecognizer.embedded_tiny_en()


def _events(
    session_id: str, samples: FloatSamples, flags_at: dict[int, ProcessingFlags]
) -> list[EventPayload]:
    """SessionCreated (recording only), 200 ms live chunks, the end; ``flags_at`` by seq."""
    return live_session_log(
        session_id,
        samples,
        flags=ProcessingFlags(transcribe=False),
        chunk_samples=_CHUNK,
        flags_at=flags_at,
    )


async def _results(recognizer: LocalWhisperRecognizer, events: list[EventPayload]) -> list[Any]:
    transcriber = SessionTranscriber(recognizer, run_id="test", pipeline_version="t")
    results: list[EventPayload] = []
    for event in events:
        results += await transcriber.handle(event)
    await transcriber.close()
    return results


async def test_recording_only_session_completes_without_segments(
    recognizer: LocalWhisperRecognizer, short_speech: tuple[FloatSamples, list[SpokenLine]]
) -> None:
    samples, _ = short_speech
    results = await _results(recognizer, _events("rec", samples, {}))
    assert [type(r) for r in results] == [SessionProcessingCompleted]
    assert results[0].final_segment_count == 0


async def test_transcription_switched_on_mid_session(
    recognizer: LocalWhisperRecognizer, short_speech: tuple[FloatSamples, list[SpokenLine]]
) -> None:
    samples, truth = short_speech
    # Switch on in the pause between the two sentences: only the second is transcribed,
    # at its true place on the session clock.
    switch_seq = (truth[0].end_ms + 400) * SAMPLE_RATE // 1000 // _CHUNK
    assert switch_seq * _CHUNK * 1000 // SAMPLE_RATE < truth[1].start_ms - 200
    results = await _results(
        recognizer, _events("switch", samples, {switch_seq: ProcessingFlags(transcribe=True)})
    )
    finals = [r for r in results if isinstance(r, TranscriptionCompleted) and r.is_final]
    assert len(finals) == 1, [f.text for f in finals]
    assert "budget" in finals[0].text.lower()
    assert abs(finals[0].start_ms + 160 - truth[1].start_ms) <= 200
    # And off again: a flag override is remembered for later chunks without flags.
    off = replace(ProcessingFlags(), transcribe=False)
    results = await _results(
        recognizer,
        _events("onoff", samples, {0: ProcessingFlags(transcribe=True), switch_seq: off}),
    )
    finals = [r for r in results if isinstance(r, TranscriptionCompleted) and r.is_final]
    assert [("morning" in f.text.lower()) for f in finals] == [True]

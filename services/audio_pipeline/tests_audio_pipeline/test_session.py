"""A session from chunk events to final segments, with the real VAD and Whisper."""

import asyncio
import time

import numpy as np
import pytest

from livetranslate_audio_pipeline.adapters.whisper_local import LocalWhisperRecognizer
from livetranslate_audio_pipeline.core.session import SessionTranscriber
from livetranslate_common.pcm import float_to_pcm16
from livetranslate_common.speech_samples import (
    SAMPLE_RATE,
    FloatSamples,
    SpokenLine,
    conversation,
    word_error_rate,
)
from livetranslate_schemas.events import (
    AudioChunkReceived,
    AudioConfig,
    AudioStreamEnded,
    EventPayload,
    ProcessingFailed,
    ProcessingFlags,
    SessionCreated,
    SessionProcessingCompleted,
    SourceType,
    TranscriptionCompleted,
    TranslationCompleted,
)


@pytest.fixture(scope="module")
def recognizer() -> LocalWhisperRecognizer:
    return LocalWhisperRecognizer.embedded_tiny_en()


def _transcriber(recognizer: LocalWhisperRecognizer) -> SessionTranscriber:
    return SessionTranscriber(recognizer, run_id="test", pipeline_version="t")


def _chunk(
    session_id: str,
    seq: int,
    samples: FloatSamples,
    offset: int,
    source_type: SourceType = SourceType.UPLOAD,
) -> AudioChunkReceived:
    audio = float_to_pcm16(samples)
    return AudioChunkReceived(
        session_id=session_id,
        chunk_id=f"{session_id}:{seq}",
        seq=seq,
        source_type=source_type,
        audio_config=AudioConfig(),
        sample_offset=offset,
        num_samples=len(samples),
        audio=audio,
    )


def _chunks(session_id: str, samples: FloatSamples) -> list[AudioChunkReceived]:
    return [
        _chunk(session_id, seq, samples[offset : offset + SAMPLE_RATE], offset)
        for seq, offset in enumerate(range(0, len(samples), SAMPLE_RATE))
    ]


async def _run(transcriber: SessionTranscriber, events: list[EventPayload]) -> list[EventPayload]:
    results: list[EventPayload] = []
    for event in events:
        results += await transcriber.handle(event)
    return results


async def test_finals_carry_the_words_and_timing(
    recognizer: LocalWhisperRecognizer, short_speech: tuple[FloatSamples, list[SpokenLine]]
) -> None:
    samples, truth = short_speech
    chunks = _chunks("s1", samples)
    created = SessionCreated(
        session_id="s1",
        source_type=SourceType.UPLOAD,
        audio_config=AudioConfig(),
        processing_flags=ProcessingFlags(),
    )
    ended = AudioStreamEnded(
        session_id="s1",
        last_seq=len(chunks) - 1,
        total_chunks=len(chunks),
        total_samples=len(samples),
    )
    results = await _run(_transcriber(recognizer), [created, *chunks, ended])
    finals = [r for r in results if isinstance(r, TranscriptionCompleted)]
    assert [f.is_final for f in finals] == [True, True], [(f.text, f.start_ms) for f in finals]
    assert len({f.segment_id for f in finals}) == 2
    for final, line in zip(finals, truth, strict=True):
        assert word_error_rate(line.text, final.text) <= 0.1
        assert final.start_ms < final.end_ms
        assert abs(final.end_ms - line.end_ms) <= 400
        assert final.words
        assert final.words[0].start_ms >= final.start_ms
    completed = results[-1]
    assert isinstance(completed, SessionProcessingCompleted)
    assert completed.final_segment_count == 2
    assert completed.audio_duration_ms == len(samples) * 1000 // SAMPLE_RATE


async def test_duplicates_are_dropped_and_bad_chunks_reported(
    recognizer: LocalWhisperRecognizer, short_speech: tuple[FloatSamples, list[SpokenLine]]
) -> None:
    samples, truth = short_speech
    chunks = _chunks("s2", samples)
    bad = AudioChunkReceived(
        session_id="s2",
        chunk_id="s2:bad",
        seq=len(chunks),
        source_type=SourceType.UPLOAD,
        audio_config=AudioConfig(),
        sample_offset=len(samples),
        num_samples=1,
        audio=b"\x01\x02\x03",
    )
    # Every chunk delivered twice, as after a consumer restart, then a malformed one.
    events: list[EventPayload] = [c for chunk in chunks for c in (chunk, chunk)]
    events.append(bad)
    ended = AudioStreamEnded(
        session_id="s2", last_seq=bad.seq, total_chunks=len(chunks) + 1, total_samples=len(samples)
    )
    results = await _run(_transcriber(recognizer), [*events, ended])
    finals = [r for r in results if isinstance(r, TranscriptionCompleted)]
    failures = [r for r in results if isinstance(r, ProcessingFailed)]
    assert len(finals) == 2
    text = " ".join(f.text for f in finals)
    assert word_error_rate(" ".join(line.text for line in truth), text) <= 0.1
    assert len(failures) == 1
    assert failures[0].chunk_id == "s2:bad"
    assert failures[0].stage == "decode"
    assert failures[0].retryable is False


async def test_gap_in_the_sample_clock_is_filled_with_silence(
    recognizer: LocalWhisperRecognizer, short_speech: tuple[FloatSamples, list[SpokenLine]]
) -> None:
    samples, truth = short_speech
    transcriber = _transcriber(recognizer)
    # Two seconds of audio never arrived: later timestamps must still be true to the clock.
    shift = 2 * SAMPLE_RATE
    chunks = [
        _chunk("s3", seq, samples[o : o + SAMPLE_RATE], o + shift)
        for seq, o in enumerate(range(0, len(samples), SAMPLE_RATE))
    ]
    ended = AudioStreamEnded(
        session_id="s3",
        last_seq=len(chunks) - 1,
        total_chunks=len(chunks),
        total_samples=len(samples) + shift,
    )
    results = await _run(transcriber, [*chunks, ended])
    finals = [r for r in results if isinstance(r, TranscriptionCompleted)]
    assert len(finals) == 2
    assert abs(finals[0].end_ms - (truth[0].end_ms + 2000)) <= 400
    assert transcriber.open_sessions == 0
    assert np.isfinite(finals[0].confidence or 0.0)


async def test_partials_grow_before_their_final(
    recognizer: LocalWhisperRecognizer, short_speech: tuple[FloatSamples, list[SpokenLine]]
) -> None:
    samples, truth = short_speech
    published: list[tuple[float, TranscriptionCompleted]] = []

    async def collect(session_id: str, partial: TranscriptionCompleted) -> None:
        assert session_id == "s4"
        published.append((time.monotonic(), partial))

    transcriber = SessionTranscriber(
        recognizer, run_id="test", pipeline_version="t", publish_partial=collect
    )
    step = SAMPLE_RATE // 5
    finals: list[tuple[float, TranscriptionCompleted]] = []
    try:
        for seq, offset in enumerate(range(0, len(samples), step)):
            # Real-time pace: 200 ms of audio every 200 ms, so partials have time to run.
            await asyncio.sleep(0.2)
            chunk = _chunk("s4", seq, samples[offset : offset + step], offset, SourceType.STREAM)
            for result in await transcriber.handle(chunk):
                if isinstance(result, TranscriptionCompleted):
                    finals.append((time.monotonic(), result))
    finally:
        await transcriber.close()
    assert [f.is_final for _, f in finals] == [True, True]
    assert all(not p.is_final for _, p in published)
    for final_at, final in finals:
        partials = [(at, p) for at, p in published if p.segment_id == final.segment_id]
        assert len(partials) >= 2, "at least one partial per second of a 3.5 s sentence"
        assert [p.revision for _, p in partials] == list(range(len(partials)))
        assert final.revision == len(partials)
        assert all(at < final_at for at, _ in partials)
        # Each partial covers more of the sentence than the one before.
        word_counts = [len(p.text.split()) for _, p in partials]
        assert word_counts[-1] >= word_counts[0]
    assert word_error_rate(truth[0].text, finals[0][1].text) <= 0.1


async def test_uploads_get_no_partials(
    recognizer: LocalWhisperRecognizer, short_speech: tuple[FloatSamples, list[SpokenLine]]
) -> None:
    samples, _ = short_speech
    published: list[TranscriptionCompleted] = []

    async def collect(session_id: str, partial: TranscriptionCompleted) -> None:
        published.append(partial)

    transcriber = SessionTranscriber(
        recognizer, run_id="test", pipeline_version="t", publish_partial=collect
    )
    try:
        for chunk in _chunks("s5", samples):
            await asyncio.sleep(0.05)
            await transcriber.handle(chunk)
    finally:
        await transcriber.close()
    assert published == []


TWO_VOICES = [
    ("piper", "Good morning, shall we start with the budget review?"),
    ("en-gb-x-rp+f3", "Yes, the numbers for the third quarter are ready."),
    ("piper", "Great, how much did we spend on marketing?"),
    ("en-gb-x-rp+f3", "About twenty percent less than we planned."),
    ("en-gb-x-rp+f3", "Most of the savings came from the trade fair."),
    ("piper", "Then we can move that money to the product launch."),
]


async def test_two_voices_get_two_stable_labels(recognizer: LocalWhisperRecognizer) -> None:
    samples, truth = conversation(TWO_VOICES, pause_s=1.0)
    created = SessionCreated(
        session_id="s6",
        source_type=SourceType.UPLOAD,
        audio_config=AudioConfig(),
        processing_flags=ProcessingFlags(diarize=True, translate_to=["de"]),
    )
    results = await _run(_transcriber(recognizer), [created, *_chunks("s6", samples)])
    finals = [r for r in results if isinstance(r, TranscriptionCompleted)]
    assert len(finals) == len(truth)
    labels = [f.speaker for f in finals]
    assert labels[0] == "SPEAKER_00"
    expected = {"piper": "SPEAKER_00", "en-gb-x-rp+f3": "SPEAKER_01"}
    right = sum(label == expected[line.speaker] for label, line in zip(labels, truth, strict=True))
    assert right / len(truth) >= 0.9, labels
    # No translation backend is configured: each requested translation fails clearly and
    # the transcript carries on.
    failures = [r for r in results if isinstance(r, ProcessingFailed)]
    assert len(failures) == len(finals)
    assert {(f.stage, f.error_code, f.retryable) for f in failures} == {
        ("translation", "no_backend", False)
    }


async def test_each_final_gets_its_translations(
    recognizer: LocalWhisperRecognizer, short_speech: tuple[FloatSamples, list[SpokenLine]]
) -> None:
    samples, _ = short_speech
    created = SessionCreated(
        session_id="s7",
        source_type=SourceType.UPLOAD,
        audio_config=AudioConfig(language="en"),
        processing_flags=ProcessingFlags(translate_to=["en", "en"]),
    )
    results = await _run(_transcriber(recognizer), [created, *_chunks("s7", samples)])
    finals = [r for r in results if isinstance(r, TranscriptionCompleted)]
    translations = [r for r in results if isinstance(r, TranslationCompleted)]
    # One per final and distinct target, right after its final, same segment and revision.
    assert len(translations) == len(finals) == 2
    for final, translation in zip(finals, translations, strict=True):
        assert results.index(translation) == results.index(final) + 1
        assert (translation.segment_id, translation.revision) == (final.segment_id, final.revision)
        assert translation.text == translation.source_text == final.text
        assert translation.backend == "identity"

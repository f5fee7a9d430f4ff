"""A worker that crashes after publishing a final but before saving its progress: the worker
taking over publishes that final again, with the same segment id and the same revision, so
that consumers recognise the redelivery (found by killing the worker during live streams: the
repeat had a lower revision, and a client saw the final twice).
"""

from __future__ import annotations

import asyncio

import pytest

from livetranslate_audio_pipeline.adapters.whisper_local import LocalWhisperRecognizer
from livetranslate_audio_pipeline.core.checkpoint import LogPosition
from livetranslate_audio_pipeline.core.session import SessionTranscriber
from livetranslate_common.speech_samples import SAMPLE_RATE, FloatSamples, SpokenLine
from livetranslate_schemas.events import (
    EventPayload,
    ProcessingFlags,
    TranscriptionCompleted,
)
from tests_audio_pipeline.memory_worker import MemoryTables, live_session_log, memory_worker

SESSION = "crash-after-final"
CHUNK = SAMPLE_RATE // 5


@pytest.fixture(scope="module")
def recognizer() -> LocalWhisperRecognizer:
    return LocalWhisperRecognizer.embedded_tiny_en()


def _finals(results: list[EventPayload]) -> list[TranscriptionCompleted]:
    return [r for r in results if isinstance(r, TranscriptionCompleted) and r.is_final]


async def test_a_final_published_again_after_a_crash_keeps_its_revision(
    recognizer: LocalWhisperRecognizer,
    short_speech: tuple[FloatSamples, list[SpokenLine]],
) -> None:
    samples, _ = short_speech
    log = live_session_log(
        SESSION, samples, flags=ProcessingFlags(diarize=False), chunk_samples=CHUNK
    )
    tables = MemoryTables()
    partials: list[TranscriptionCompleted] = []

    async def publish_partial(session_id: str, partial: TranscriptionCompleted) -> None:
        partials.append(partial)

    def worker() -> SessionTranscriber:
        return memory_worker(
            recognizer,
            tables,
            log,
            publish_partial=publish_partial,
            # Progress saved only at the first chunk and after results: the partials that
            # follow are published after the last save.
            checkpoint_every_ms=60_000,
        )

    old = worker()
    first_final: TranscriptionCompleted | None = None
    crashed_at = 0
    try:
        for offset, event in enumerate(log):
            # Real-time pace, so that partials have time to run and be published.
            await asyncio.sleep(CHUNK / SAMPLE_RATE)
            finals = _finals(await old.handle(event, position=LogPosition(0, offset)))
            if finals:
                # Published; the worker dies before it saves its progress.
                first_final, crashed_at = finals[0], offset
                break
            old.checkpoint(SESSION)
    finally:
        await old.close()
    assert first_final is not None
    published = [p.revision for p in partials if p.segment_id == first_final.segment_id]
    assert len(published) >= 2, "partials were published before the final"
    assert max(published) < first_final.revision

    # The new owner is handed the unacknowledged chunk again and replays from the checkpoint.
    new = worker()
    try:
        again = _finals(await new.handle(log[crashed_at], position=LogPosition(0, crashed_at)))
    finally:
        await new.close()
    assert [(f.segment_id, f.revision, f.text) for f in again] == [
        (first_final.segment_id, first_final.revision, first_final.text)
    ]

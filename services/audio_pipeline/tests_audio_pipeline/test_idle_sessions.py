"""Sessions no chunk has reached for a long time leave the worker's memory, and one that
turns out not to be over after all carries on from its checkpoint, as if taken over.

A live stream sends silence too, so such a session has lost its sender (a gateway that died
before publishing the end); kept, it would hold its audio buffer and a speech detector for
as long as the worker runs.
"""

from __future__ import annotations

import time

import pytest

from livetranslate_audio_pipeline.adapters.whisper_local import LocalWhisperRecognizer
from livetranslate_audio_pipeline.core.session import SessionTranscriber
from livetranslate_common.speech_samples import (
    SAMPLE_RATE,
    FloatSamples,
    SpokenLine,
    silence,
    word_error_rate,
)
from livetranslate_schemas.events import (
    AudioStreamEnded,
    EventPayload,
    ProcessingFlags,
    SessionProcessingCompleted,
    TranscriptionCompleted,
)
from tests_audio_pipeline.memory_worker import (
    MemoryTables,
    consume,
    live_session_log,
    memory_worker,
)

SESSION = "idle"
CHUNK = SAMPLE_RATE // 10  # 100 ms, the gateway's live chunks
IDLE_S = 600.0


@pytest.fixture(scope="module")
def recognizer() -> LocalWhisperRecognizer:
    return LocalWhisperRecognizer.embedded_tiny_en()


def _worker(
    recognizer: LocalWhisperRecognizer,
    tables: MemoryTables,
    log: list[EventPayload],
    *,
    evict_after_s: float = IDLE_S,
) -> SessionTranscriber:
    return memory_worker(
        recognizer, tables, log, checkpoint_every_ms=1000, evict_idle_after_s=evict_after_s
    )


def _finals(results: list[EventPayload]) -> list[tuple[int, int, str]]:
    return [
        (r.start_ms, r.end_ms, r.text)
        for r in results
        if isinstance(r, TranscriptionCompleted) and r.is_final
    ]


# Where the sender goes quiet (the first sentence is 0.5-4.0 s, the second from 5.0 s):
# inside the first sentence; in the pause after it, before the pause ends the utterance;
# and just before the end of the stream (then the late end, not a chunk, finds it gone).
@pytest.mark.parametrize("quiet_after", ["1.5 s", "4.4 s", "the last chunk"])
async def test_an_idle_session_leaves_memory_and_carries_on_where_it_was(
    recognizer: LocalWhisperRecognizer,
    short_speech: tuple[FloatSamples, list[SpokenLine]],
    quiet_after: str,
) -> None:
    samples, truth = short_speech
    log = live_session_log(
        SESSION, samples, flags=ProcessingFlags(partials=False), chunk_samples=CHUNK
    )
    assert isinstance(log[-1], AudioStreamEnded)
    undisturbed = _finals(
        await consume(_worker(recognizer, MemoryTables(), log), log, range(len(log)), SESSION)
    )
    assert len(undisturbed) == len(truth)

    tables = MemoryTables()
    worker = _worker(recognizer, tables, log)
    quiet_at = (
        len(log) - 1
        if quiet_after == "the last chunk"
        else 1 + int(float(quiet_after.split()[0]) * SAMPLE_RATE) // CHUNK
    )
    published = await consume(worker, log, range(quiet_at), SESSION)
    # A second without chunks is nothing; ten minutes is a sender gone.
    assert worker.evict_idle(time.monotonic() + 1) == []
    assert worker.open_sessions == 1
    assert worker.evict_idle(time.monotonic() + IDLE_S) == [SESSION]
    assert worker.open_sessions == 0
    # The sender was only slow after all: the rest of the stream comes.
    rest = await consume(worker, log, range(quiet_at, len(log)), SESSION)
    published += rest
    assert _finals(published) == undisturbed
    completed = [r for r in rest if isinstance(r, SessionProcessingCompleted)]
    assert [c.final_segment_count for c in completed] == [len(truth)]
    reference = " ".join(line.text for line in truth)
    assert word_error_rate(reference, " ".join(text for *_, text in undisturbed)) <= 0.1


async def test_sessions_stay_when_eviction_is_off_or_they_are_not_idle(
    recognizer: LocalWhisperRecognizer,
) -> None:
    flags = ProcessingFlags(transcribe=False)
    log = live_session_log(SESSION, silence(1.0), flags=flags, chunk_samples=CHUNK)
    for evict_after_s in (0.0, IDLE_S):
        worker = _worker(recognizer, MemoryTables(), log, evict_after_s=evict_after_s)
        await consume(worker, log, range(len(log) - 1), SESSION)  # everything but the end
        now = time.monotonic()
        expected = [] if evict_after_s == 0 else [SESSION]
        # Not idle long enough: kept, and the next look is a while off (a minute at most).
        assert worker.evict_idle(now + IDLE_S - 1) == []
        assert worker.evict_idle(now + IDLE_S) == []
        assert worker.evict_idle(now + IDLE_S + 60) == expected
        assert worker.open_sessions == 1 - len(expected)

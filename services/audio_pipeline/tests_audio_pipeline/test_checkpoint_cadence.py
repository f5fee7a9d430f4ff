"""Progress is saved after results and once per second of audio, not after every chunk; a
worker taking over from such a checkpoint still publishes every final exactly once.
"""

from __future__ import annotations

from collections import Counter

import pytest

from livetranslate_audio_pipeline.adapters.whisper_local import LocalWhisperRecognizer
from livetranslate_audio_pipeline.core.checkpoint import LogPosition
from livetranslate_audio_pipeline.core.session import SessionTranscriber
from livetranslate_common.speech_samples import (
    SAMPLE_RATE,
    FloatSamples,
    SpokenLine,
    silence,
    word_error_rate,
)
from livetranslate_schemas.events import (
    EventPayload,
    ProcessingFlags,
    TranscriptionCompleted,
)
from tests_audio_pipeline.memory_worker import MemoryTables, live_session_log, memory_worker

SESSION = "cadence"
CHUNK = SAMPLE_RATE // 5  # 200 ms, as the gateway cuts live streams


@pytest.fixture(scope="module")
def recognizer() -> LocalWhisperRecognizer:
    return LocalWhisperRecognizer.embedded_tiny_en()


def _log(samples: FloatSamples) -> list[EventPayload]:
    flags = ProcessingFlags(partials=False, diarize=False)
    return live_session_log(SESSION, samples, flags=flags, chunk_samples=CHUNK)


def _transcriber(
    recognizer: LocalWhisperRecognizer, tables: MemoryTables, log: list[EventPayload]
) -> SessionTranscriber:
    return memory_worker(recognizer, tables, log, checkpoint_every_ms=1000)


class CountingTables(MemoryTables):
    def __init__(self) -> None:
        super().__init__()
        self.progress_writes = 0

    def count(self) -> None:
        self.progress_writes += 1


async def _consume(
    worker: SessionTranscriber, log: list[EventPayload], offsets: range, tables: CountingTables
) -> list[EventPayload]:
    results: list[EventPayload] = []
    for offset in offsets:
        before = tables.progress.get(SESSION.encode())
        results += await worker.handle(log[offset], position=LogPosition(0, offset))
        worker.checkpoint(SESSION)
        if tables.progress.get(SESSION.encode()) is not before:
            tables.count()
    return results


def _finals(results: list[EventPayload]) -> list[TranscriptionCompleted]:
    return [r for r in results if isinstance(r, TranscriptionCompleted) and r.is_final]


@pytest.mark.parametrize("crash_after_s", [0.5, 3.0, 6.5, 9.1])
async def test_taking_over_from_a_sparse_checkpoint_repeats_and_loses_nothing(
    recognizer: LocalWhisperRecognizer,
    short_speech: tuple[FloatSamples, list[SpokenLine]],
    crash_after_s: float,
) -> None:
    samples, truth = short_speech
    log = _log(samples)
    tables = CountingTables()
    old = _transcriber(recognizer, tables, log)
    crash_at = 1 + int(crash_after_s * SAMPLE_RATE) // CHUNK
    published = await _consume(old, log, range(crash_at), tables)
    chunks = crash_at - 1
    # Far fewer writes than chunks: one per second of audio, plus one per final.
    assert tables.progress_writes <= chunks * CHUNK // SAMPLE_RATE + len(_finals(published)) + 2
    # The consumer had committed further than the last checkpoint: the new owner starts
    # right at the crash and catches up on the rest from the log.
    new = _transcriber(recognizer, tables, log)
    published += await _consume(new, log, range(crash_at, len(log)), tables)
    finals = _finals(published)
    assert len({f.segment_id for f in finals}) == len(finals) == len(truth)
    reference = " ".join(line.text for line in truth)
    assert word_error_rate(reference, " ".join(f.text for f in finals)) <= 0.1


async def test_sessions_started_together_save_at_different_moments(
    recognizer: LocalWhisperRecognizer,
) -> None:
    # Twenty sessions whose streams start at once and send no speech: left alone, every one of
    # them would save its progress on the same chunk of each second.
    tables = MemoryTables()
    worker = _transcriber(recognizer, tables, [])
    flags = ProcessingFlags(transcribe=False)
    logs = {
        f"together-{n}": live_session_log(
            f"together-{n}", silence(4.0), flags=flags, chunk_samples=CHUNK
        )
        for n in range(20)
    }
    saves: dict[str, list[int]] = {session: [] for session in logs}
    for step in range(len(next(iter(logs.values())))):
        for session, log in logs.items():
            before = tables.progress.get(session.encode())
            await worker.handle(log[step], position=LogPosition(0, step))
            worker.checkpoint(session)
            if tables.progress.get(session.encode()) is not before:
                saves[session].append(step)
    # Each session still saves about once per second of audio (4 s: its creation, 3-4 more,
    # and its end)...
    assert all(4 <= len(steps) <= 7 for steps in saves.values()), saves
    # ...the first time when it is created (step 0), before any audio...
    assert all(steps[0] == 0 for steps in saves.values()), saves
    # ...and then not all on the same chunks, the first one included: no chunk is a save for
    # more than a few of them.
    chunk_saves = Counter(step for steps in saves.values() for step in steps[1:-1])
    assert max(chunk_saves.values()) <= 8, chunk_saves


async def test_a_take_over_after_an_utterance_ends_does_not_publish_its_tail_again(
    recognizer: LocalWhisperRecognizer,
    meeting_speech: tuple[FloatSamples, list[SpokenLine]],
) -> None:
    # Found by killing the worker five times during live streams: the old owner published an
    # utterance's final and saved its progress a few chunks later, keeping the last second of
    # audio as pre-roll for the next utterance; the new owner, replaying from there, heard the
    # utterance's last word again, and that "utterance" closed after the replay ended.
    samples, _ = meeting_speech
    chunk = SAMPLE_RATE // 10  # 100 ms, the gateway's live chunks
    log = live_session_log(SESSION, samples, flags=ProcessingFlags(), chunk_samples=chunk)

    def finals(results: list[EventPayload]) -> list[tuple[int, int, str]]:
        return [(f.start_ms, f.end_ms, f.text) for f in _finals(results)]

    first = CountingTables()
    undisturbed = finals(
        await _consume(_transcriber(recognizer, first, log), log, range(len(log)), first)
    )
    tables = CountingTables()
    # Crash 1.2 s after the fourth sentence's final (18.6 s into the audio); the consumer had
    # committed two seconds earlier, so the new owner is handed those chunks again.
    published = await _consume(_transcriber(recognizer, tables, log), log, range(198), tables)
    published += await _consume(
        _transcriber(recognizer, tables, log), log, range(178, len(log)), tables
    )
    assert list(dict.fromkeys(finals(published))) == undisturbed

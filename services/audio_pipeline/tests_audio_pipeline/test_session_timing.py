"""A session's stream timing inside the transcriber: irregularities reported as
StreamIrregularity results, late and repeated audio kept out, the state kept in the timing
table and carried on by a worker taking the session over.

The real VAD on silent chunks (no speech, so no recognition runs); the worker's tables are
plain dicts behind the real Faust store adapter, and the audio log a list of the chunks in
log order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from livetranslate_audio_pipeline.adapters.whisper_local import LocalWhisperRecognizer
from livetranslate_audio_pipeline.core.checkpoint import LogPosition
from livetranslate_audio_pipeline.core.session import SessionTranscriber
from livetranslate_audio_pipeline.core.stream_timing import StreamTiming
from livetranslate_schemas.events import (
    AudioChunkReceived,
    AudioConfig,
    EventPayload,
    ProcessingFlags,
    SessionCreated,
    SourceType,
    StreamIrregularity,
    StreamIrregularityKind,
)
from tests_audio_pipeline.memory_worker import MemoryTables, memory_worker

SESSION = "timed"
KEY = SESSION.encode()
CHUNK = 3200  # 200 ms at 16 kHz
T0 = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)

Kind = StreamIrregularityKind
IngestEvent = SessionCreated | AudioChunkReceived


@pytest.fixture(scope="module")
def recognizer() -> LocalWhisperRecognizer:
    return LocalWhisperRecognizer.embedded_tiny_en()


class Tables(MemoryTables):
    def saved_timing(self) -> StreamTiming:
        return StreamTiming.from_dict(self.timing[KEY])


def _created() -> SessionCreated:
    return SessionCreated(
        session_id=SESSION,
        source_type=SourceType.STREAM,
        audio_config=AudioConfig(),
        processing_flags=ProcessingFlags(),
    )


def _chunk(seq: int, *, drift_ppm: float = 0.0) -> AudioChunkReceived:
    t = seq * CHUNK / 16_000
    return AudioChunkReceived(
        session_id=SESSION,
        chunk_id=f"{SESSION}:{seq:08d}",
        seq=seq,
        source_type=SourceType.STREAM,
        audio_config=AudioConfig(),
        sample_offset=seq * CHUNK,
        num_samples=CHUNK,
        capture_time=T0 + timedelta(seconds=t * (1 + drift_ppm * 1e-6)),
        audio=bytes(2 * CHUNK),  # silence
    )


def _transcriber(
    recognizer: LocalWhisperRecognizer, tables: Tables, log: Sequence[IngestEvent] = ()
) -> SessionTranscriber:
    return memory_worker(
        recognizer,
        tables,
        log,
        run_id="run-t",
        # Every event's state saved, so each test can look at the tables after any event.
        checkpoint_every_ms=0,
    )


async def _consume(
    transcriber: SessionTranscriber,
    log: Sequence[IngestEvent],
    offsets: range,
    *,
    record: bool = True,
) -> list[EventPayload]:
    """Hand the log's events at ``offsets`` to the worker, as its agent does: the results
    (published), then the checkpoint (unless ``record`` is off: a crash in between)."""
    results: list[EventPayload] = []
    for offset in offsets:
        results += await transcriber.handle(log[offset], position=LogPosition(0, offset))
        if record:
            transcriber.checkpoint(SESSION)
    return results


def _irregularities(results: list[EventPayload]) -> list[tuple[Kind, int | None]]:
    return [(r.kind, r.seq) for r in results if isinstance(r, StreamIrregularity)]


async def test_gaps_late_and_repeated_chunks_are_reported_and_kept_out_of_the_audio(
    recognizer: LocalWhisperRecognizer,
) -> None:
    tables = Tables()
    log: list[IngestEvent] = [_created(), *(_chunk(seq) for seq in [0, 1, 2, 5, 3, 3, 6])]
    transcriber = _transcriber(recognizer, tables, log)
    results = await _consume(transcriber, log, range(len(log)))
    assert _irregularities(results) == [
        (Kind.GAP, 5),
        (Kind.REORDERED, 3),
        (Kind.DUPLICATE, 3),
    ]
    gap, late, duplicate = (r for r in results if isinstance(r, StreamIrregularity))
    assert (gap.expected_seq, gap.missing_chunks, gap.missing_samples) == (3, 2, 2 * CHUNK)
    assert (late.expected_seq, late.missing_samples) == (6, CHUNK)
    assert duplicate.expected_seq == 6
    assert {r.session_id for r in (gap, late, duplicate)} == {SESSION}
    assert {r.run_id for r in (gap, late, duplicate)} == {"run-t"}
    # Only the audio of 0, 1, 2, 5 and 6 went in; 3 and 4 are silence the clock kept.
    timing = tables.saved_timing()
    assert timing.samples_received == 5 * CHUNK
    assert (timing.gaps, timing.reordered, timing.duplicates, timing.missing) == (1, 1, 1, [4])
    assert tables.progress[KEY]["next_seq"] == 7


async def test_a_redelivered_chunk_is_dropped_unreported_and_the_table_left_alone(
    recognizer: LocalWhisperRecognizer,
) -> None:
    tables = Tables()
    log: list[IngestEvent] = [_created(), _chunk(0), _chunk(1)]
    transcriber = _transcriber(recognizer, tables, log)
    assert await _consume(transcriber, log, range(3)) == []
    saved = tables.timing[KEY]
    # The consumer reads offsets 1 and 2 again (it had not committed them).
    assert await _consume(transcriber, log, range(1, 3)) == []
    assert tables.timing[KEY] is saved  # nothing changed, nothing written
    assert tables.saved_timing().duplicates == 0


async def test_a_worker_taking_over_carries_the_timing_on_and_repeats_no_report(
    recognizer: LocalWhisperRecognizer,
) -> None:
    tables = Tables()
    seqs = [0, 1, 2, 5, 6, 7, 8, 4, 9, 10]
    log: list[IngestEvent] = [_created(), *(_chunk(seq) for seq in seqs)]
    old_owner = _transcriber(recognizer, tables, log)
    # The old owner got as far as seq 7 (offset 6): it reported the gap.
    assert _irregularities(await _consume(old_owner, log, range(7))) == [(Kind.GAP, 5)]
    # The new owner is redelivered everything after the last commit (offset 4 on), then the
    # rest: 5 and 6 again are no news, 4 is late (the old owner's gap is remembered).
    new_owner = _transcriber(recognizer, tables, log)
    results = await _consume(new_owner, log, range(4, len(log)))
    assert _irregularities(results) == [(Kind.REORDERED, 4)]
    timing = tables.saved_timing()
    assert (timing.gaps, timing.reordered, timing.duplicates, timing.missing) == (1, 1, 0, [3])
    assert (timing.next_seq, timing.last_log_offset) == (11, len(log) - 1)
    assert timing.samples_received == 10 * CHUNK - CHUNK  # 3 never came; 4 came too late


async def _crash_after_an_unrecorded_gap(
    recognizer: LocalWhisperRecognizer, tables: Tables, log: list[IngestEvent]
) -> None:
    old_owner = _transcriber(recognizer, tables, log)
    await _consume(old_owner, log, range(3))
    # Seq 4 (offset 3) was taken and its gap published, then the worker died unrecorded.
    published = await _consume(old_owner, log, range(3, 4), record=False)
    assert _irregularities(published) == [(Kind.GAP, 4)]
    assert tables.saved_timing().next_seq == 2


async def test_an_unrecorded_chunk_redelivered_is_reported_again_but_counted_once(
    recognizer: LocalWhisperRecognizer,
) -> None:
    tables = Tables()
    log: list[IngestEvent] = [_created(), *(_chunk(seq) for seq in [0, 1, 4, 5, 6])]
    await _crash_after_an_unrecorded_gap(recognizer, tables, log)
    # Redelivered from offset 3: at least once, like a final (consumers drop the repeat).
    new_owner = _transcriber(recognizer, tables, log)
    results = await _consume(new_owner, log, range(3, len(log)))
    assert _irregularities(results) == [(Kind.GAP, 4)]
    timing = tables.saved_timing()
    assert (timing.gaps, timing.missing, timing.next_seq) == (1, [2, 3], 7)


async def test_an_unrecorded_chunk_replayed_from_the_log_is_caught_up_unreported(
    recognizer: LocalWhisperRecognizer,
) -> None:
    tables = Tables()
    log: list[IngestEvent] = [_created(), *(_chunk(seq) for seq in [0, 1, 4, 5, 6])]
    await _crash_after_an_unrecorded_gap(recognizer, tables, log)
    # Offset 3 was committed all the same: the new owner starts at offset 4 and replays
    # offset 3 from the log to catch up, reporting nothing twice.
    new_owner = _transcriber(recognizer, tables, log)
    results = await _consume(new_owner, log, range(4, len(log)))
    assert _irregularities(results) == []
    timing = tables.saved_timing()
    assert (timing.gaps, timing.missing, timing.next_seq) == (1, [2, 3], 7)
    assert timing.samples_received == 5 * CHUNK


async def test_a_client_clock_running_fast_is_reported_once(
    recognizer: LocalWhisperRecognizer,
) -> None:
    tables = Tables()
    log: list[IngestEvent] = [_created(), *(_chunk(seq, drift_ppm=2_000) for seq in range(100))]
    transcriber = _transcriber(recognizer, tables, log)
    results = await _consume(transcriber, log, range(len(log)))
    (drift,) = (r for r in results if isinstance(r, StreamIrregularity))
    assert drift.kind is Kind.CLOCK_DRIFT
    assert drift.seq == 50  # the first chunk 10 s into the audio
    assert drift.clock_drift_ppm == pytest.approx(2_000, rel=0.01)
    assert drift.clock_offset_ms == pytest.approx(20.0, abs=0.1)
    timing = tables.saved_timing()
    assert timing.reported_drift_ppm == pytest.approx(2_000, rel=0.01)
    assert timing.clock_offset_ms == pytest.approx(99 * 0.2 * 2.0, abs=0.01)


async def test_a_chunk_the_progress_still_owes_goes_in_though_the_timing_saw_it(
    recognizer: LocalWhisperRecognizer,
) -> None:
    tables = Tables()
    log: list[IngestEvent] = [_created(), *(_chunk(seq) for seq in range(4))]
    old_owner = _transcriber(recognizer, tables, log)
    await _consume(old_owner, log, range(3))
    recorded = tables.progress[KEY]
    await _consume(old_owner, log, range(3, 4))
    # The crash kept the timing's write for seq 2 and lost the progress's.
    tables.progress[KEY] = recorded
    assert (recorded["next_seq"], tables.saved_timing().next_seq) == (2, 3)
    new_owner = _transcriber(recognizer, tables, log)
    assert await _consume(new_owner, log, range(3, 4)) == []
    assert tables.progress[KEY]["next_seq"] == 3  # taken, not dropped as seen
    assert await _consume(new_owner, log, range(4, 5)) == []
    assert tables.progress[KEY]["next_seq"] == 4
    assert tables.saved_timing().samples_received == 4 * CHUNK

"""A session's stream timing: chunk order verdicts and the client-clock drift estimate."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from livetranslate_audio_pipeline.core.stream_timing import (
    MAX_MISSING,
    ChunkVerdict,
    StreamTiming,
    TimingIssue,
)
from livetranslate_schemas.events import (
    AudioChunkReceived,
    AudioConfig,
    SourceType,
    StreamIrregularity,
    StreamIrregularityKind,
)

T0 = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
CHUNK = 3200  # 200 ms at 16 kHz

Kind = StreamIrregularityKind


def _chunk(
    seq: int,
    *,
    sample_offset: int | None = None,
    num_samples: int = CHUNK,
    capture_time: datetime | None = None,
) -> AudioChunkReceived:
    return AudioChunkReceived(
        session_id="s1",
        chunk_id=f"s1:{seq:08d}",
        seq=seq,
        source_type=SourceType.STREAM,
        audio_config=AudioConfig(),
        sample_offset=seq * CHUNK if sample_offset is None else sample_offset,
        num_samples=num_samples,
        capture_time=capture_time,
    )


def _verdicts(timing: StreamTiming, seqs: list[int]) -> list[tuple[ChunkVerdict, list[Kind]]]:
    observed = [timing.observe(_chunk(seq)) for seq in seqs]
    return [(verdict, [issue.kind for issue in issues]) for verdict, issues in observed]


def _clocked_stream(
    timing: StreamTiming,
    *,
    seconds: float,
    drift_ppm: float,
    jitter_s: float = 0.0,
    seed: int = 0,
) -> list[tuple[float, TimingIssue]]:
    """Chunks of a client whose capture clock runs ``drift_ppm`` fast, each timestamp off by
    up to ±``jitter_s``; the issues reported, with the audio time they were reported at."""
    rng = np.random.default_rng(seed)
    reported = []
    for seq in range(round(seconds * 16_000 / CHUNK)):
        t = seq * CHUNK / 16_000
        jitter = rng.uniform(-jitter_s, jitter_s)
        captured = T0 + timedelta(seconds=t * (1 + drift_ppm * 1e-6) + jitter)
        verdict, issues = timing.observe(_chunk(seq, capture_time=captured))
        assert verdict is ChunkVerdict.IN_ORDER
        reported += [(t, issue) for issue in issues]
    return reported


# --------------------------------------------------------------------------- order


def test_chunks_in_order_are_counted_and_raise_nothing() -> None:
    timing = StreamTiming()
    assert _verdicts(timing, [0, 1, 2, 3]) == [(ChunkVerdict.IN_ORDER, [])] * 4
    assert (timing.next_seq, timing.last_seq, timing.next_sample) == (4, 3, 4 * CHUNK)
    assert timing.samples_received == 4 * CHUNK
    assert (timing.gaps, timing.duplicates, timing.reordered, timing.missing) == (0, 0, 0, [])


def test_a_gap_reports_the_chunks_and_samples_it_skipped() -> None:
    timing = StreamTiming()
    timing.observe(_chunk(0))
    timing.observe(_chunk(1))
    verdict, issues = timing.observe(_chunk(4))
    assert verdict is ChunkVerdict.GAP
    assert verdict.accepted
    (gap,) = issues
    assert (gap.kind, gap.seq, gap.expected_seq) == (Kind.GAP, 4, 2)
    assert (gap.missing_chunks, gap.missing_samples) == (2, 2 * CHUNK)
    assert gap.detail is not None
    assert "400 ms" in gap.detail
    assert timing.missing == [2, 3]
    assert (timing.gaps, timing.next_seq, timing.next_sample) == (1, 5, 5 * CHUNK)
    # Only the chunks that arrived count as received.
    assert timing.samples_received == 3 * CHUNK


def test_a_jump_in_the_sample_clock_alone_is_a_gap_too() -> None:
    timing = StreamTiming()
    timing.observe(_chunk(0))
    verdict, (gap,) = timing.observe(_chunk(1, sample_offset=CHUNK + 8_000))
    assert verdict is ChunkVerdict.GAP
    assert (gap.missing_chunks, gap.missing_samples, gap.expected_seq) == (0, 8_000, 1)
    assert timing.missing == []


def test_a_duplicate_is_dropped_and_reported() -> None:
    timing = StreamTiming()
    timing.observe(_chunk(0))
    timing.observe(_chunk(1))
    verdict, (duplicate,) = timing.observe(_chunk(1))
    assert verdict is ChunkVerdict.DUPLICATE
    assert not verdict.accepted
    assert (duplicate.kind, duplicate.seq, duplicate.expected_seq) == (Kind.DUPLICATE, 1, 2)
    assert (timing.duplicates, timing.next_seq, timing.last_seq) == (1, 2, 1)
    assert timing.samples_received == 2 * CHUNK


def test_a_skipped_chunk_arriving_late_is_reordered_once_then_a_duplicate() -> None:
    timing = StreamTiming()
    seqs = [0, 2, 3, 1, 1, 4]
    assert _verdicts(timing, seqs) == [
        (ChunkVerdict.IN_ORDER, []),
        (ChunkVerdict.GAP, [Kind.GAP]),
        (ChunkVerdict.IN_ORDER, []),
        (ChunkVerdict.REORDERED, [Kind.REORDERED]),
        (ChunkVerdict.DUPLICATE, [Kind.DUPLICATE]),
        (ChunkVerdict.IN_ORDER, []),
    ]
    assert (timing.gaps, timing.reordered, timing.duplicates) == (1, 1, 1)
    assert timing.missing == []


def test_a_late_chunk_reports_the_audio_that_became_silence() -> None:
    timing = StreamTiming()
    timing.observe(_chunk(0))
    timing.observe(_chunk(3))
    verdict, (late,) = timing.observe(_chunk(2, num_samples=1_234))
    assert verdict is ChunkVerdict.REORDERED
    assert (late.seq, late.expected_seq, late.missing_samples) == (2, 4, 1_234)
    assert timing.missing == [1]


def test_the_missing_set_is_bounded_and_keeps_the_newest() -> None:
    timing = StreamTiming()
    timing.observe(_chunk(0))
    verdict, (gap,) = timing.observe(_chunk(1_001))
    assert verdict is ChunkVerdict.GAP
    assert gap.missing_chunks == 1_000  # the report counts them all...
    assert timing.missing == list(range(1_001 - MAX_MISSING, 1_001))  # ...the set keeps 256
    timing.observe(_chunk(1_010))
    assert len(timing.missing) == MAX_MISSING
    assert timing.missing[-8:] == list(range(1_002, 1_010))
    assert timing.missing[0] == 753  # 745..752, the oldest, made room
    # A late chunk whose seq was forgotten can no longer be told from a duplicate.
    assert timing.observe(_chunk(5))[0] is ChunkVerdict.DUPLICATE
    assert timing.observe(_chunk(1_005))[0] is ChunkVerdict.REORDERED


def test_a_record_read_again_from_the_log_is_dropped_without_a_report() -> None:
    timing = StreamTiming()
    assert timing.observe(_chunk(0), log_offset=10)[0] is ChunkVerdict.IN_ORDER
    assert timing.observe(_chunk(1), log_offset=11)[0] is ChunkVerdict.IN_ORDER
    before = timing.to_dict()
    assert timing.observe(_chunk(1), log_offset=11) == (ChunkVerdict.REDELIVERED, [])
    assert timing.observe(_chunk(0), log_offset=10) == (ChunkVerdict.REDELIVERED, [])
    assert timing.to_dict() == before
    # The sender's own duplicate is a new record, further on in the log: reported.
    verdict, (duplicate,) = timing.observe(_chunk(1), log_offset=12)
    assert (verdict, duplicate.kind) == (ChunkVerdict.DUPLICATE, Kind.DUPLICATE)


def test_a_resumed_state_does_not_invent_a_sample_gap() -> None:
    timing = StreamTiming.resuming(40)
    assert timing.observe(_chunk(40))[0] is ChunkVerdict.IN_ORDER
    assert timing.observe(_chunk(39))[0] is ChunkVerdict.DUPLICATE
    timing.skip_to(45)
    assert timing.observe(_chunk(45, sample_offset=99 * CHUNK)) == (ChunkVerdict.IN_ORDER, [])
    timing.skip_to(3)  # never backwards
    assert timing.next_seq == 46


def test_issues_become_stream_irregularity_events() -> None:
    timing = StreamTiming()
    timing.observe(_chunk(0))
    _, (gap,) = timing.observe(_chunk(3))
    event = gap.event("s1", "run-7")
    assert isinstance(event, StreamIrregularity)
    assert (event.session_id, event.run_id, event.kind) == ("s1", "run-7", Kind.GAP)
    assert (event.seq, event.expected_seq, event.missing_chunks) == (3, 1, 2)
    assert (event.missing_samples, event.clock_drift_ppm) == (2 * CHUNK, None)


# --------------------------------------------------------------------------- clock


def test_a_steady_clock_has_zero_offset_and_drift() -> None:
    timing = StreamTiming()
    assert _clocked_stream(timing, seconds=60, drift_ppm=0) == []
    assert timing.first_capture == T0
    assert timing.clock_offset_ms == pytest.approx(0.0, abs=0.01)
    assert (timing.clock.slope or 0.0) * 1e6 == pytest.approx(0.0, abs=1.0)


def test_a_clean_fast_clock_is_reported_once_after_ten_seconds() -> None:
    timing = StreamTiming()
    reported = _clocked_stream(timing, seconds=120, drift_ppm=2_000)
    assert [(t, issue.kind) for t, issue in reported] == [(10.0, Kind.CLOCK_DRIFT)]
    drift = reported[0][1]
    assert drift.clock_drift_ppm == pytest.approx(2_000, rel=0.01)
    # 2000 ppm for 10 s: the client's clock is 20 ms ahead of the audio.
    assert drift.clock_offset_ms == pytest.approx(20.0, abs=0.1)
    assert timing.clock_offset_ms == pytest.approx(120 * 2.0 - 0.4, abs=0.1)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("drift_ppm", [2_000, -2_000])
def test_a_drifting_clock_under_jitter_is_found_with_its_sign_and_size(
    drift_ppm: float, seed: int
) -> None:
    timing = StreamTiming()
    reported = _clocked_stream(timing, seconds=300, drift_ppm=drift_ppm, jitter_s=0.02, seed=seed)
    (at, drift), *later = reported
    assert later == []  # the estimate only firms up: it never doubles
    assert drift.kind is Kind.CLOCK_DRIFT
    assert drift.clock_drift_ppm is not None
    assert drift.clock_drift_ppm * drift_ppm > 0  # the right sign
    assert drift.clock_drift_ppm == pytest.approx(drift_ppm, rel=0.10)
    assert 10.0 <= at <= 90.0  # found within a minute and a half of audio
    assert drift.detail is not None
    assert ("fast" if drift_ppm > 0 else "slow") in drift.detail


@pytest.mark.parametrize("seed", range(5))
def test_a_steady_clock_with_jitter_is_never_reported(seed: int) -> None:
    # An hour of ±20 ms jitter: the slope's estimate wanders, but never for sure.
    timing = StreamTiming()
    assert _clocked_stream(timing, seconds=3_600, drift_ppm=0, jitter_s=0.02, seed=seed) == []
    assert abs((timing.clock.slope or 0.0) * 1e6) < 100


def test_a_small_drift_is_not_reported() -> None:
    timing = StreamTiming()
    assert _clocked_stream(timing, seconds=600, drift_ppm=800, jitter_s=0.005) == []
    assert (timing.clock.slope or 0.0) * 1e6 == pytest.approx(800, rel=0.05)


def test_a_drift_is_reported_again_only_when_it_doubles() -> None:
    timing = StreamTiming()
    first = _clocked_stream(timing, seconds=30, drift_ppm=1_500)
    assert [issue.clock_drift_ppm for _, issue in first] == [pytest.approx(1_500, rel=0.01)]
    # Then the clock runs much faster: the whole-session estimate climbs past 3000 ppm.
    reported = []
    for seq in range(150, 1_500):
        t = seq * CHUNK / 16_000
        captured = T0 + timedelta(seconds=30 * 1.0015 + (t - 30) * 1.006)
        reported += timing.observe(_chunk(seq, capture_time=captured))[1]
    (again,) = reported  # once, however far past double it climbs afterwards
    assert again.clock_drift_ppm is not None
    assert 2 * 1_500 <= again.clock_drift_ppm < 6_000
    assert timing.reported_drift_ppm == pytest.approx(again.clock_drift_ppm, abs=0.1)


def test_chunks_without_capture_time_skip_the_clock_only() -> None:
    timing = StreamTiming()
    assert _verdicts(timing, [0, 2]) == [
        (ChunkVerdict.IN_ORDER, []),
        (ChunkVerdict.GAP, [Kind.GAP]),
    ]
    assert (timing.first_capture, timing.clock.count, timing.clock_offset_ms) == (None, 0, None)
    # The clock is anchored at the first chunk that has a capture time, wherever it is.
    timing.observe(_chunk(3, capture_time=T0))
    timing.observe(_chunk(8, capture_time=T0 + timedelta(seconds=1.05)))
    assert (timing.first_capture, timing.first_sample) == (T0, 3 * CHUNK)
    assert timing.clock_offset_ms == pytest.approx(50.0)


# --------------------------------------------------------------------------- persistence


def test_the_state_survives_a_json_round_trip_and_carries_on_the_same() -> None:
    timing = StreamTiming()
    rng = np.random.default_rng(3)
    for log_offset, seq in enumerate([0, 1, 2, 5, 6, 3, 3, 7, 9], start=100):
        jitter = rng.uniform(-0.01, 0.01)
        captured = T0 + timedelta(seconds=seq * 0.2 * 1.003 + jitter)
        timing.observe(_chunk(seq, capture_time=captured), log_offset=log_offset)
    timing.reported_drift_ppm = 3_000.0
    data = json.loads(json.dumps(timing.to_dict()))
    restored = StreamTiming.from_dict(data)
    assert restored == timing
    assert restored.missing == [4, 8]
    assert (restored.gaps, restored.duplicates, restored.reordered) == (2, 1, 1)
    assert restored.first_capture is not None
    assert restored.first_capture.tzinfo is not None
    following = _chunk(10, capture_time=T0 + timedelta(seconds=2.006))
    assert restored.observe(following, log_offset=200) == timing.observe(following, log_offset=200)
    assert restored == timing

"""The analytics' arithmetic: histogram percentiles, talk time, words per minute, and counting
each final once."""

from __future__ import annotations

import dataclasses

import pytest

from livetranslate_monitoring.core.figures import (
    Contribution,
    Figures,
    contribution_of,
    live_evidence,
    segment_key,
)
from livetranslate_monitoring.core.histogram import (
    LATENCY_BOUNDS_MS,
    OVERFLOW_BUCKET,
    LatencyHistogram,
    bucket_of,
)
from livetranslate_monitoring.core.reports import (
    merge_totals,
    session_report,
    window_totals,
    windows_report,
)
from livetranslate_monitoring.core.windows import SessionWindow, count_final, window_start
from livetranslate_schemas.events import (
    LatencyMetrics,
    SessionCreated,
    SourceType,
    TranscriptionCompleted,
    WordTiming,
)
from livetranslate_schemas.samples import sample_of

HOUR = 3600.0


def _final(
    *,
    start_ms: int,
    end_ms: int,
    speaker: str | None = "SPEAKER_00",
    words: int = 0,
    text: str = "one two three",
    queue_ms: int | None = 20,
    eos_ms: int | None = 480,
    revision: int = 3,
) -> TranscriptionCompleted:
    return dataclasses.replace(
        sample_of(TranscriptionCompleted),
        session_id="s1",
        segment_id=f"s1:{start_ms * 16:012d}",
        revision=revision,
        is_final=True,
        start_ms=start_ms,
        end_ms=end_ms,
        speaker=speaker,
        text=text,
        words=[WordTiming(word=f" w{i}", start_ms=start_ms, end_ms=end_ms) for i in range(words)],
        latency=LatencyMetrics(asr_ms=200, queue_ms=queue_ms, end_of_speech_to_result_ms=eos_ms),
    )


# --------------------------------------------------------------------------- histogram


def test_a_latency_falls_into_the_first_bucket_whose_bound_holds_it() -> None:
    assert bucket_of(0) == bucket_of(-5) == bucket_of(50) == 0
    assert bucket_of(51) == 1
    assert LATENCY_BOUNDS_MS[bucket_of(1000)] == 1000
    assert LATENCY_BOUNDS_MS[bucket_of(1001)] == 1100
    assert LATENCY_BOUNDS_MS[bucket_of(2001)] == 2250
    assert bucket_of(60_000) == OVERFLOW_BUCKET - 1
    assert bucket_of(60_001) == OVERFLOW_BUCKET


def test_percentiles_are_the_bound_of_the_bucket_holding_the_nearest_rank() -> None:
    latencies = [90] * 50 + [480] * 45 + [1950] * 4 + [75_000]
    histogram = LatencyHistogram.of(latencies)
    assert histogram.count == 100
    assert histogram.percentile(0.50) == 100  # the 50th is 90 ms: the (50, 100] bucket
    assert histogram.percentile(0.51) == 500
    assert histogram.percentile(0.95) == 500
    assert histogram.percentile(0.96) == 2000
    assert histogram.percentile(0.99) == 2000
    # Beyond the last bound: reported as the last bound.
    assert histogram.percentile(1.0) == 60_000
    assert LatencyHistogram().percentile(0.5) is None
    with pytest.raises(ValueError, match="fraction"):
        histogram.percentile(0)


def test_a_histogram_merges_takes_back_and_survives_json() -> None:
    first, second = LatencyHistogram.of([120, 130]), LatencyHistogram.of([130, 900])
    first.merge(second)
    assert first.counts == {bucket_of(120): 3, bucket_of(900): 1}
    first.add(bucket_of(900), -1)
    assert first.counts == {bucket_of(120): 3}
    assert LatencyHistogram.from_json(first.to_json()) == first
    with pytest.raises(ValueError, match="would hold"):
        first.add(bucket_of(900), -1)
    with pytest.raises(ValueError, match="no latency bucket"):
        first.add(OVERFLOW_BUCKET + 1)


# --------------------------------------------------------------------------- contributions


def test_a_final_contributes_its_span_its_words_and_its_latency() -> None:
    final = _final(start_ms=1000, end_ms=4000, words=7, queue_ms=30, eos_ms=520)
    contribution = contribution_of(final, live=True)
    assert contribution == Contribution(3, "SPEAKER_00", 3000, 7, bucket_of(550))
    # Without word timings the text's words count.
    no_words = contribution_of(_final(start_ms=0, end_ms=10, text=" Hi there, all. "), live=True)
    assert no_words.words == 3
    # An upload's finals wait behind each other by design: no latency counted.
    assert contribution_of(final, live=False).latency_bucket is None
    # No end-of-speech measure: no latency; no queue measure: the rest of it.
    assert contribution_of(_final(start_ms=0, end_ms=1, eos_ms=None), live=True) == (
        Contribution(3, "SPEAKER_00", 1, 3, None)
    )
    missing_queue = _final(start_ms=0, end_ms=1, queue_ms=None, eos_ms=700)
    assert contribution_of(missing_queue, live=True).latency_bucket == bucket_of(700)
    assert segment_key(final) == f"{1000 * 16:012d}"


def test_partials_later_revisions_and_live_sources_show_a_live_session() -> None:
    partial = _final(start_ms=0, end_ms=900, revision=0)
    assert live_evidence(dataclasses.replace(partial, is_final=False))
    assert live_evidence(_final(start_ms=0, end_ms=900, revision=1))
    # A final at revision 0: an upload's, or a live utterance too short for a partial.
    assert not live_evidence(partial)
    created = sample_of(SessionCreated)
    assert live_evidence(dataclasses.replace(created, source_type=SourceType.STREAM))
    assert live_evidence(dataclasses.replace(created, source_type=SourceType.BOT))
    # The gateway creates every session as an UPLOAD, live or not: no evidence either way.
    assert not live_evidence(dataclasses.replace(created, source_type=SourceType.UPLOAD))


def test_talk_time_words_per_minute_and_shares_per_speaker() -> None:
    figures = Figures()
    figures.add(Contribution(1, "SPEAKER_00", 30_000, 80, bucket_of(400)))
    figures.add(Contribution(1, "SPEAKER_00", 15_000, 40, bucket_of(600)))
    figures.add(Contribution(0, "SPEAKER_01", 15_000, 25, None))
    figures.add(Contribution(0, None, 6_000, 10, bucket_of(40)))
    summary = figures.summary()
    assert summary["final_segments"] == 4
    assert summary["talk_time_ms"] == 66_000
    assert summary["words"] == 155
    assert summary["words_per_minute"] == round(155 / 1.1, 1)
    by_speaker = {row["speaker"]: row for row in summary["speakers"]}
    assert by_speaker["SPEAKER_00"] == {
        "speaker": "SPEAKER_00",
        "talk_time_ms": 45_000,
        "talk_share": round(45 / 66, 4),
        "words": 120,
        "words_per_minute": 160.0,
        "final_segments": 2,
    }
    assert by_speaker["SPEAKER_01"]["words_per_minute"] == 100.0
    assert by_speaker[None]["talk_time_ms"] == 6_000
    assert summary["latency_ms"] == {"finals_measured": 3, "p50": 400, "p95": 600, "p99": 600}
    assert Figures.from_json(figures.to_json()) == figures
    empty = Figures().summary()
    assert empty["words_per_minute"] is None
    assert empty["latency_ms"]["p50"] is None


# --------------------------------------------------------------------------- counting once


def test_a_final_counts_once_however_often_it_comes() -> None:
    window = SessionWindow(partition=2, live=True)
    contribution = Contribution(3, "SPEAKER_00", 2000, 5, bucket_of(500))
    assert count_final("a", contribution, current=window) is window
    before = window.figures.summary()
    # Redelivered, or published again at the same or an older revision: nothing changes.
    assert count_final("a", contribution, current=window) is None
    assert count_final("a", dataclasses.replace(contribution, revision=2), current=window) is None
    assert window.figures.summary() == before
    # A later revision replaces the segment's contribution rather than adding to it.
    later = Contribution(4, "SPEAKER_01", 2500, 6, bucket_of(700))
    assert count_final("a", later, current=window) is window
    summary = window.figures.summary()
    assert (summary["final_segments"], summary["talk_time_ms"], summary["words"]) == (1, 2500, 6)
    assert [row["speaker"] for row in summary["speakers"]] == ["SPEAKER_01"]
    assert window.figures.latency.counts == {bucket_of(700): 1}
    assert SessionWindow.from_json(window.to_json()) == window


def test_a_final_counted_in_the_window_before_is_not_counted_again() -> None:
    earlier, current = SessionWindow(partition=0), SessionWindow(partition=0)
    contribution = Contribution(1, "SPEAKER_00", 1000, 2, None)
    assert count_final("a", contribution, current=earlier) is earlier
    assert count_final("a", contribution, current=current, earlier=earlier) is None
    assert current.figures.finals == 0
    newer = dataclasses.replace(contribution, revision=2, words=3)
    assert count_final("a", newer, current=current, earlier=earlier) is earlier
    assert earlier.figures.summary()["words"] == 3
    assert count_final("b", contribution, current=current, earlier=earlier) is current


def test_windows_are_aligned_to_the_epoch() -> None:
    assert window_start(7 * HOUR + 59.9, HOUR) == 7 * HOUR
    assert window_start(8 * HOUR, HOUR) == 8 * HOUR


# --------------------------------------------------------------------------- reports


def _window(partition: int, *contributions: Contribution) -> SessionWindow:
    window = SessionWindow(partition=partition, live=True)
    for index, contribution in enumerate(contributions):
        window.put(str(index), contribution)
    return window


def test_hour_totals_add_up_sessions_and_workers() -> None:
    fast = Contribution(0, "SPEAKER_00", 60_000, 150, bucket_of(300))
    slow = Contribution(0, "SPEAKER_00", 60_000, 90, bucket_of(1500))
    worker_a = [
        (10 * HOUR, _window(0, fast)),
        (11 * HOUR, _window(0, fast, fast)),
        # Only a SessionCreated in this window: not a session with figures.
        (11 * HOUR, SessionWindow(partition=0, live=True)),
        # Outside the range asked for.
        (13 * HOUR, _window(0, slow)),
    ]
    worker_b = [(11 * HOUR, _window(3, slow))]
    parts = [
        window_totals(worker, since=10.5 * HOUR, until=12 * HOUR, size_s=HOUR)
        for worker in (worker_a, worker_b)
    ]
    totals = merge_totals(parts)
    assert [(t.start, t.sessions, t.figures.finals) for t in totals] == [
        (10 * HOUR, 1, 1),
        (11 * HOUR, 2, 3),
    ]
    report = windows_report(totals, since=10.5 * HOUR, until=12 * HOUR, size_s=HOUR)
    assert report["from"] == "1970-01-01T10:30:00Z"
    assert [w["start"] for w in report["windows"]] == [
        "1970-01-01T10:00:00Z",
        "1970-01-01T11:00:00Z",
    ]
    assert report["windows"][1]["words_per_minute"] == 130.0
    assert report["total"]["final_segments"] == 4
    assert report["total"]["latency_ms"] == {
        "finals_measured": 4,
        "p50": 300,
        "p95": 1500,
        "p99": 1500,
    }


def test_a_session_report_adds_its_windows_up_oldest_first() -> None:
    first = Contribution(0, "SPEAKER_00", 4000, 10, bucket_of(450))
    second = Contribution(0, "SPEAKER_01", 2000, 4, bucket_of(650))
    report = session_report(
        "s1",
        [(9 * HOUR, _window(1, second)), (8 * HOUR, _window(1, first))],
        size_s=HOUR,
    )
    assert report["session_id"] == "s1"
    assert (report["final_segments"], report["talk_time_ms"], report["words"]) == (2, 6000, 14)
    assert report["words_per_minute"] == 140.0
    assert [w["start"] for w in report["windows"]] == [
        "1970-01-01T08:00:00Z",
        "1970-01-01T09:00:00Z",
    ]
    assert report["windows"][0]["speakers"][0]["speaker"] == "SPEAKER_00"
    assert (report["latency_ms"]["p50"], report["latency_ms"]["p99"]) == (450, 650)

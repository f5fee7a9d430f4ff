"""A session's stream timing: the order of its chunks, and its client's clock against the audio.

Pure state, no Kafka. ``SessionTranscriber`` asks :meth:`StreamTiming.observe` about every
AudioChunkReceived before it ingests it, publishes the issues it gets back (as
StreamIrregularity), and keeps the state in the ``session-timing`` table
(:meth:`StreamTiming.to_dict`), so a worker taking a session over carries on with it.

Order. A chunk is in order (its seq is the next one), a gap (its seq jumps ahead, or its
first sample lies beyond the end of the previous chunk: the audio in between becomes
silence), a duplicate (a seq seen before), or late (a seq a gap skipped, arriving after all:
its place was already filled with silence, so it is dropped and reported). A chunk read again
at a log offset already observed is the same record delivered again (a consumer restart, a
take-over), not something the sender did: it is dropped without a report.

Clock. For every chunk with a capture time, its offset is the capture time minus where the
session's sample clock puts it: first capture time + (samples since that chunk) / 16 kHz. A
client clock running fast by d ppm grows the offset by d microseconds per second of audio,
so the drift is the slope of a least-squares line through (audio time, offset), kept as
running sums over the whole session (O(1) memory).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from livetranslate_audio_pipeline.core.audio import PIPELINE_SAMPLE_RATE
from livetranslate_schemas.events import (
    AudioChunkReceived,
    StreamIrregularity,
    StreamIrregularityKind,
)

#: Skipped seqs remembered (so that a late one is told from a duplicate); oldest forgotten.
MAX_MISSING = 256
#: Drift (ppm) worth reporting: a 1000 ppm clock is 3.6 s off after an hour.
DRIFT_REPORT_PPM = 1000.0
#: Audio (s) the fit must span before a drift is believed: with ±20 ms of jitter, the slope
#: over a shorter span is mostly noise.
DRIFT_MIN_AUDIO_S = 10.0
#: ...and be known this well: its standard error at most this fraction of it. Jitter hides
#: a slope, so the noisier a client's timestamps, the longer this takes (±20 ms: about a
#: minute for 2000 ppm, reported within ~5%); a figure reported as soon as it crossed the
#: threshold would mostly be one that crossed it by luck, and far off.
DRIFT_MAX_RELATIVE_ERROR = 0.02


class ChunkVerdict(StrEnum):
    IN_ORDER = "in_order"
    GAP = "gap"
    DUPLICATE = "duplicate"
    REORDERED = "reordered"
    REDELIVERED = "redelivered"

    @property
    def accepted(self) -> bool:
        """Whether the chunk's audio goes on into the session (the others are dropped)."""
        return self in (ChunkVerdict.IN_ORDER, ChunkVerdict.GAP)


@dataclass(frozen=True, slots=True)
class TimingIssue:
    """Something to report about the stream; a StreamIrregularity once it has a run."""

    kind: StreamIrregularityKind
    seq: int
    expected_seq: int | None = None
    missing_chunks: int = 0
    missing_samples: int = 0
    clock_offset_ms: float | None = None
    clock_drift_ppm: float | None = None
    detail: str | None = None

    def event(self, session_id: str, run_id: str) -> StreamIrregularity:
        return StreamIrregularity(session_id=session_id, run_id=run_id, **asdict(self))


@dataclass(slots=True)
class ClockFit:
    """Online least-squares line through (audio time s, offset s) points.

    Welford-style centred sums rather than raw sums of squares: those of hours of audio
    would cancel each other catastrophically in the slope's formula.
    """

    count: int = 0
    mean_t: float = 0.0
    mean_offset: float = 0.0
    # Sums of squared deviations from the means, and of their products.
    m2_t: float = 0.0
    m2_offset: float = 0.0
    co_moment: float = 0.0
    # The latest audio time seen: how much audio the fit spans (the first point is at 0).
    span_t: float = 0.0

    def add(self, t: float, offset: float) -> None:
        self.count += 1
        dt = t - self.mean_t
        self.mean_t += dt / self.count
        do = offset - self.mean_offset
        self.mean_offset += do / self.count
        self.m2_t += dt * (t - self.mean_t)
        self.m2_offset += do * (offset - self.mean_offset)
        self.co_moment += dt * (offset - self.mean_offset)
        self.span_t = max(self.span_t, t)

    @property
    def slope(self) -> float | None:
        return self.co_moment / self.m2_t if self.m2_t > 0 else None

    @property
    def slope_stderr(self) -> float | None:
        slope = self.slope
        if slope is None or self.count < 3:
            return None
        residual = max(0.0, self.m2_offset - slope * self.co_moment)
        return math.sqrt(residual / (self.count - 2) / self.m2_t)

    def offset_at(self, t: float) -> float:
        return self.mean_offset + (self.slope or 0.0) * (t - self.mean_t)


@dataclass(slots=True)
class StreamTiming:
    """One session's timing state; see the module's doc."""

    next_seq: int = 0
    # The newest seq observed, whatever became of its chunk.
    last_seq: int = -1
    # End of the newest accepted chunk in the 16 kHz clock; None when not known (resumed).
    next_sample: int | None = 0
    samples_received: int = 0
    # Seqs skipped by gaps that may still arrive late; oldest first.
    missing: list[int] = field(default_factory=list)
    gaps: int = 0
    duplicates: int = 0
    reordered: int = 0
    # Newest audio-ingest offset observed: anything at or before it is a redelivery.
    last_log_offset: int | None = None
    # The clock's anchor: capture time and sample of the first chunk that had a capture time.
    first_capture: datetime | None = None
    first_sample: int = 0
    clock_offset_ms: float | None = None
    clock: ClockFit = field(default_factory=ClockFit)
    reported_drift_ppm: float | None = None

    @classmethod
    def resuming(cls, next_seq: int) -> StreamTiming:
        """A state for a session whose history is unknown, expecting ``next_seq``."""
        return cls(next_seq=next_seq, last_seq=next_seq - 1, next_sample=None)

    def skip_to(self, next_seq: int) -> None:
        """Progress recorded elsewhere went further (a lost write here): trust it."""
        if next_seq > self.next_seq:
            self.next_seq = next_seq
            self.next_sample = None

    def observe(
        self, chunk: AudioChunkReceived, *, log_offset: int | None = None
    ) -> tuple[ChunkVerdict, list[TimingIssue]]:
        """Classify the chunk, update the state, and say what is worth reporting."""
        if log_offset is not None:
            if self.last_log_offset is not None and log_offset <= self.last_log_offset:
                return ChunkVerdict.REDELIVERED, []
            self.last_log_offset = log_offset
        self.last_seq = chunk.seq
        if chunk.seq < self.next_seq:
            return self._late_or_duplicate(chunk)
        verdict, issues = self._accept(chunk)
        drift = self._observe_clock(chunk)
        return verdict, issues if drift is None else [*issues, drift]

    def _accept(self, chunk: AudioChunkReceived) -> tuple[ChunkVerdict, list[TimingIssue]]:
        expected = self.next_seq
        skipped = chunk.seq - expected
        lost = 0 if self.next_sample is None else max(0, chunk.sample_offset - self.next_sample)
        self.next_seq = chunk.seq + 1
        self.next_sample = chunk.sample_offset + chunk.num_samples
        self.samples_received += chunk.num_samples
        if not skipped and not lost:
            return ChunkVerdict.IN_ORDER, []
        self.gaps += 1
        # A huge jump need not be listed whole: only the newest skipped seqs are kept anyway.
        self.missing.extend(range(max(expected, chunk.seq - MAX_MISSING), chunk.seq))
        del self.missing[:-MAX_MISSING]
        gap = TimingIssue(
            StreamIrregularityKind.GAP,
            seq=chunk.seq,
            expected_seq=expected,
            missing_chunks=skipped,
            missing_samples=lost,
            detail=f"{skipped} chunk(s) skipped before seq {chunk.seq};"
            f" {lost * 1000 // PIPELINE_SAMPLE_RATE} ms of audio filled with silence",
        )
        return ChunkVerdict.GAP, [gap]

    def _late_or_duplicate(
        self, chunk: AudioChunkReceived
    ) -> tuple[ChunkVerdict, list[TimingIssue]]:
        if chunk.seq in self.missing:
            self.missing.remove(chunk.seq)
            self.reordered += 1
            late = TimingIssue(
                StreamIrregularityKind.REORDERED,
                seq=chunk.seq,
                expected_seq=self.next_seq,
                missing_samples=chunk.num_samples,
                detail=f"seq {chunk.seq} arrived after seq {self.next_seq - 1}; its audio had"
                " already been replaced by silence, so it was dropped",
            )
            return ChunkVerdict.REORDERED, [late]
        # Also a late chunk whose seq was forgotten (more than MAX_MISSING skipped since).
        self.duplicates += 1
        duplicate = TimingIssue(
            StreamIrregularityKind.DUPLICATE,
            seq=chunk.seq,
            expected_seq=self.next_seq,
            detail=f"seq {chunk.seq} was seen before; dropped",
        )
        return ChunkVerdict.DUPLICATE, [duplicate]

    def _observe_clock(self, chunk: AudioChunkReceived) -> TimingIssue | None:
        if chunk.capture_time is None:
            return None
        if self.first_capture is None:
            self.first_capture, self.first_sample = chunk.capture_time, chunk.sample_offset
        t = (chunk.sample_offset - self.first_sample) / PIPELINE_SAMPLE_RATE
        offset = (chunk.capture_time - self.first_capture).total_seconds() - t
        self.clock_offset_ms = offset * 1000
        self.clock.add(t, offset)
        return self._drift_issue(chunk.seq, t)

    def _drift_issue(self, seq: int, t: float) -> TimingIssue | None:
        """A CLOCK_DRIFT issue when the drift is first believed, and each time it doubles."""
        slope, stderr = self.clock.slope, self.clock.slope_stderr
        if slope is None or stderr is None or self.clock.span_t < DRIFT_MIN_AUDIO_S:
            return None
        drift_ppm = slope * 1e6
        reported = self.reported_drift_ppm
        threshold = DRIFT_REPORT_PPM if reported is None else 2 * abs(reported)
        if abs(drift_ppm) < threshold or stderr > DRIFT_MAX_RELATIVE_ERROR * abs(slope):
            return None
        self.reported_drift_ppm = drift_ppm
        return TimingIssue(
            StreamIrregularityKind.CLOCK_DRIFT,
            seq=seq,
            # The fitted offset: the latest single reading carries the latest jitter.
            clock_offset_ms=round(self.clock.offset_at(t) * 1000, 3),
            clock_drift_ppm=round(drift_ppm, 1),
            detail=f"the client's clock runs {abs(drift_ppm):.0f} ppm"
            f" {'fast' if drift_ppm > 0 else 'slow'} against the audio"
            f" (over {self.clock.span_t:.0f} s)",
        )

    # ------------------------------------------------------------------ persistence

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (the session-timing table's value)."""
        return {
            "version": 1,
            "next_seq": self.next_seq,
            "last_seq": self.last_seq,
            "next_sample": self.next_sample,
            "samples_received": self.samples_received,
            "missing": list(self.missing),
            "gaps": self.gaps,
            "duplicates": self.duplicates,
            "reordered": self.reordered,
            "last_log_offset": self.last_log_offset,
            "first_capture": self.first_capture.isoformat() if self.first_capture else None,
            "first_sample": self.first_sample,
            "clock_offset_ms": self.clock_offset_ms,
            "clock": asdict(self.clock),
            "reported_drift_ppm": self.reported_drift_ppm,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StreamTiming:
        first_capture = data.get("first_capture")
        return cls(
            next_seq=int(data["next_seq"]),
            last_seq=int(data["last_seq"]),
            next_sample=None if data["next_sample"] is None else int(data["next_sample"]),
            samples_received=int(data["samples_received"]),
            missing=[int(seq) for seq in data["missing"]],
            gaps=int(data["gaps"]),
            duplicates=int(data["duplicates"]),
            reordered=int(data["reordered"]),
            last_log_offset=data.get("last_log_offset"),
            first_capture=datetime.fromisoformat(first_capture) if first_capture else None,
            first_sample=int(data["first_sample"]),
            clock_offset_ms=data.get("clock_offset_ms"),
            clock=ClockFit(**data["clock"]),
            reported_drift_ppm=data.get("reported_drift_ppm"),
        )

"""Latency histograms with fixed buckets: bounded state, mergeable, percentiles from counts.

A window keeps how many latencies fell into each bucket, never the latencies themselves, so
its size does not grow with traffic and windows of many sessions and workers add up by adding
counts. A percentile is the upper bound of the bucket that holds the nearest-rank latency: it
is exact to the bucket's width (50 ms up to 1 s, 100 ms up to 2 s, 250 ms up to 5 s, then
coarser); latencies over the last bound are reported as that bound.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

LATENCY_BOUNDS_MS: tuple[int, ...] = (
    *range(50, 1001, 50),
    *range(1100, 2001, 100),
    *range(2250, 5001, 250),
    *range(6000, 10001, 1000),
    *range(15000, 30001, 5000),
    40000,
    50000,
    60000,
)
# The open bucket above the last bound.
OVERFLOW_BUCKET = len(LATENCY_BOUNDS_MS)


def bucket_of(latency_ms: int) -> int:
    """The bucket a latency falls into: the first whose upper bound is at least it."""
    return bisect_left(LATENCY_BOUNDS_MS, max(0, latency_ms))


def bucket_upper_bound(bucket: int) -> int:
    """The largest latency a bucket holds (the last bound for the open bucket)."""
    return LATENCY_BOUNDS_MS[min(bucket, OVERFLOW_BUCKET - 1)]


@dataclass(slots=True)
class LatencyHistogram:
    """Counts per bucket index (only buckets that hold something)."""

    counts: dict[int, int] = field(default_factory=dict)

    @classmethod
    def of(cls, latencies_ms: Iterable[int]) -> LatencyHistogram:
        histogram = cls()
        for latency in latencies_ms:
            histogram.add(bucket_of(latency))
        return histogram

    @property
    def count(self) -> int:
        return sum(self.counts.values())

    def add(self, bucket: int, times: int = 1) -> None:
        """Count ``times`` more latencies in ``bucket`` (negative: take them back out)."""
        if not 0 <= bucket <= OVERFLOW_BUCKET:
            raise ValueError(f"no latency bucket {bucket}")
        remaining = self.counts.get(bucket, 0) + times
        if remaining < 0:
            raise ValueError(f"bucket {bucket} would hold {remaining} latencies")
        if remaining:
            self.counts[bucket] = remaining
        else:
            self.counts.pop(bucket, None)

    def merge(self, other: LatencyHistogram) -> None:
        for bucket, times in other.counts.items():
            self.add(bucket, times)

    def percentile(self, fraction: float) -> int | None:
        """The ``fraction`` (0 < f <= 1) percentile in ms, None when nothing was counted."""
        if not 0 < fraction <= 1:
            raise ValueError(f"a percentile's fraction is in (0, 1], got {fraction}")
        total = self.count
        if not total:
            return None
        # Nearest rank: the smallest latency with at least this share of them at or below it.
        rank = math.ceil(fraction * total - 1e-9)
        seen = 0
        for bucket in sorted(self.counts):
            seen += self.counts[bucket]
            if seen >= rank:
                return bucket_upper_bound(bucket)
        raise AssertionError("unreachable: the ranks add up to the count")

    def to_json(self) -> dict[str, int]:
        return {str(bucket): times for bucket, times in sorted(self.counts.items())}

    @classmethod
    def from_json(cls, data: Mapping[str, int]) -> LatencyHistogram:
        histogram = cls()
        for bucket, times in data.items():
            histogram.add(int(bucket), int(times))
        return histogram

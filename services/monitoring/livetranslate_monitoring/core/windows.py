"""One session's figures in one time window, and counting a final into them exactly once.

The windowed table holds a ``SessionWindow`` per session and window. Besides the totals it keeps
each counted final's contribution by segment id, which makes counting idempotent: a final seen
again (redelivered to this worker, or published again by a pipeline worker that took the session
over) finds its segment already there and changes nothing, and a later revision of a segment
replaces the earlier one's contribution instead of adding to it. Totals and contributions are
one value, written together, so a crash can never leave one without the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from livetranslate_monitoring.core.figures import Contribution, Figures


@dataclass(slots=True)
class SessionWindow:
    # The audio-results partition the session's events arrive on: a worker holds copies of
    # other workers' partitions (standby replicas), and only the owner's count.
    partition: int
    # Whether the session is known to be live (see figures.live_evidence): then its finals'
    # latency counts.
    live: bool = False
    figures: Figures = field(default_factory=Figures)
    segments: dict[str, Contribution] = field(default_factory=dict)

    def put(self, key: str, contribution: Contribution) -> None:
        """Count a segment's contribution, replacing the one it had here."""
        previous = self.segments.get(key)
        if previous is not None:
            self.figures.add(previous, sign=-1)
        self.segments[key] = contribution
        self.figures.add(contribution)

    def to_json(self) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "live": self.live,
            "figures": self.figures.to_json(),
            "segments": {key: c.to_json() for key, c in self.segments.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SessionWindow:
        return cls(
            partition=int(data["partition"]),
            live=bool(data.get("live", False)),
            figures=Figures.from_json(data.get("figures", {})),
            segments={
                key: Contribution.from_json(value)
                for key, value in data.get("segments", {}).items()
            },
        )


def count_final(
    key: str,
    contribution: Contribution,
    *,
    current: SessionWindow,
    earlier: SessionWindow | None = None,
) -> SessionWindow | None:
    """Count a final segment into the session's ``current`` window.

    Returns the window that changed (to be written back), or None when the segment was counted
    already at this or a later revision. ``earlier`` is the session's window before: a final
    published again a moment after the first (a pipeline worker taking the session over) may
    fall past the end of the window the first was counted in, and must not count twice.
    """
    for window in (current, earlier):
        if window is None:
            continue
        counted = window.segments.get(key)
        if counted is None:
            continue
        if contribution.revision <= counted.revision:
            return None
        window.put(key, contribution)
        return window
    current.put(key, contribution)
    return current


def window_start(timestamp: float, size_s: float) -> float:
    """Start of the tumbling window (aligned to the epoch) that holds ``timestamp``."""
    return timestamp - timestamp % size_s

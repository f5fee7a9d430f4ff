"""The analytics API's answers, built from session windows.

A session's report adds up its windows. The per-window (hourly) report adds up every session's
window of the same time; each worker adds up the sessions of the partitions it owns
(``WindowTotals``) and the worker answering merges the workers' totals.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from livetranslate_monitoring.core.figures import Figures
from livetranslate_monitoring.core.windows import SessionWindow


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


def _span(start: float, size_s: float) -> dict[str, str]:
    return {"start": iso(start), "end": iso(start + size_s)}


def session_report(
    session_id: str, windows: Iterable[tuple[float, SessionWindow]], *, size_s: float
) -> dict[str, Any]:
    """The session's figures over all its windows, and window by window (oldest first)."""
    ordered = sorted(windows, key=lambda item: item[0])
    total = Figures.total(window.figures for _, window in ordered)
    return {
        "session_id": session_id,
        **total.summary(),
        "window_s": size_s,
        "windows": [
            {**_span(start, size_s), **window.figures.summary()}
            for start, window in ordered
            if window.figures.finals
        ],
    }


@dataclass(slots=True)
class WindowTotals:
    """Every session's figures in one window (of the partitions someone added up)."""

    start: float
    sessions: int = 0
    figures: Figures = field(default_factory=Figures)

    def add_session(self, window: SessionWindow) -> None:
        self.sessions += 1
        self.figures.merge(window.figures)

    def merge(self, other: WindowTotals) -> None:
        self.sessions += other.sessions
        self.figures.merge(other.figures)

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "sessions": self.sessions, "figures": self.figures.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WindowTotals:
        return cls(
            start=float(data["start"]),
            sessions=int(data["sessions"]),
            figures=Figures.from_json(data["figures"]),
        )


def window_totals(
    windows: Iterable[tuple[float, SessionWindow]], *, since: float, until: float, size_s: float
) -> list[WindowTotals]:
    """Totals of the windows overlapping [since, until) that hold finals, oldest first."""
    totals: dict[float, WindowTotals] = {}
    for start, window in windows:
        if start + size_s <= since or start >= until or not window.figures.finals:
            continue
        totals.setdefault(start, WindowTotals(start)).add_session(window)
    return [totals[start] for start in sorted(totals)]


def merge_totals(parts: Iterable[Iterable[WindowTotals]]) -> list[WindowTotals]:
    merged: dict[float, WindowTotals] = {}
    for part in parts:
        for totals in part:
            merged.setdefault(totals.start, WindowTotals(totals.start)).merge(totals)
    return [merged[start] for start in sorted(merged)]


def windows_report(
    totals: list[WindowTotals], *, since: float, until: float, size_s: float
) -> dict[str, Any]:
    """All sessions' figures window by window over [since, until), and over the whole range."""
    return {
        "from": iso(since),
        "to": iso(until),
        "window_s": size_s,
        "windows": [
            {**_span(t.start, size_s), "sessions": t.sessions, **t.figures.summary()}
            for t in totals
        ],
        "total": Figures.total(t.figures for t in totals).summary(),
    }

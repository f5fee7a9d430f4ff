"""The analytics' state: one changelog-backed Faust table in tumbling windows.

Its keys are Faust's windowed keys, ``(session_id, (window start, window end))``, its values
``SessionWindow`` JSON. Faust drops windows older than the retention (``expires``) from memory,
and the changelog topic (compact,delete) drops them by retention, so the state stays bounded.

Why no second table keyed by hour for the global figures: a table key is owned by the partition
of the events that write it, and every partition's sessions would write the same hour; Faust
would keep one partition's value and lose the others' on the next rebalance or recovery. And
two tables cannot be written atomically, so a crash between the writes would count a final in
one and not the other. The global figures are added up from the session windows instead (by
each worker for its partitions, see web.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from faust.windows import TumblingWindow

from livetranslate_common.catalogue import SESSION_PARTITIONS
from livetranslate_monitoring.app import app, monitoring_settings
from livetranslate_monitoring.core.windows import SessionWindow

window = TumblingWindow(monitoring_settings.window_s, expires=monitoring_settings.retention_s)

session_windows = app.Table(
    "session-windows",
    default=None,
    partitions=SESSION_PARTITIONS,
    # No key or value type: Faust then keeps both as JSON (windowed keys are tuples).
    help="Per session and window: talk time and words per speaker, latency histogram, and "
    "the contribution of every final segment counted.",
)
# Faust expires old windows and declares the changelog compact,delete with their retention.
session_windows.using_window(window)


class SessionWindowStore:
    """The table as ``SessionWindow`` objects by session id and window start."""

    def __init__(self, size_s: float, retention_s: float) -> None:
        self.size_s = float(size_s)
        self.retention_s = retention_s

    def _key(self, session_id: str, start: float) -> tuple[str, tuple[float, float]]:
        # Exactly the key Faust's own windowed writes use (and its expiry expects).
        return session_id, tuple(window.current(start))  # type: ignore[return-value]

    def get(self, session_id: str, start: float) -> SessionWindow | None:
        value = session_windows.get(self._key(session_id, start))
        return SessionWindow.from_json(value) if value is not None else None

    def put(self, session_id: str, start: float, value: SessionWindow) -> None:
        """Write a window (inside the agent only: the changelog goes to the event's partition)."""
        session_windows[self._key(session_id, start)] = value.to_json()

    def oldest_kept(self, now: float) -> float:
        """Start of the oldest window still kept."""
        return now - self.retention_s - now % self.size_s

    def is_live(self, session_id: str, start: float) -> bool:
        """Whether the window says its session is live (without decoding all of it)."""
        value = session_windows.get(self._key(session_id, start))
        return value is not None and bool(value.get("live"))

    def earlier_live(self, session_id: str, start: float, now: float) -> bool:
        """Whether any of the session's kept windows before ``start`` knows it is live."""
        oldest = self.oldest_kept(now)
        earlier = start - self.size_s
        while earlier >= oldest:
            if self.is_live(session_id, earlier):
                return True
            earlier -= self.size_s
        return False

    def windows_of(
        self, session_id: str, now: float, partitions: set[int]
    ) -> list[tuple[float, SessionWindow]]:
        """The session's kept windows, oldest first (from the partitions given)."""
        found = []
        start = self.oldest_kept(now)
        while start <= now:
            value = self.get(session_id, start)
            if value is not None and value.partition in partitions:
                found.append((start, value))
            start += self.size_s
        return found

    def all_windows(
        self, now: float, partitions: set[int]
    ) -> Iterator[tuple[float, SessionWindow]]:
        """Every kept window of every session of the partitions given."""
        oldest = self.oldest_kept(now)
        items: list[tuple[Any, Any]] = list(session_windows.items())
        for (_, (start, _)), value in items:
            if start >= oldest and value is not None and value["partition"] in partitions:
                yield float(start), SessionWindow.from_json(value)


store = SessionWindowStore(monitoring_settings.window_s, monitoring_settings.retention_s)

"""What an audio-results event changes in the session windows.

Counted: final segments of the live run (``run_id`` "live"; a reprocessing run's transcript
stands beside it and would count the same speech twice), into the window that holds the final's
publication time (its envelope's timestamp). Partials and SessionCreated events count nothing
but may show that the session is live (``live_evidence``), which decides whether its finals'
latency counts; a window knows it from then on, and a session's new window learns it from
the session's earlier ones. Everything else, and anything older than the retention, changes
nothing.
"""

from __future__ import annotations

from enum import StrEnum

from livetranslate_common.runs import LIVE_RUN
from livetranslate_monitoring.core.figures import contribution_of, live_evidence, segment_key
from livetranslate_monitoring.core.windows import SessionWindow, count_final, window_start
from livetranslate_monitoring.tables import SessionWindowStore
from livetranslate_schemas.events import Envelope, SessionCreated, TranscriptionCompleted


class Outcome(StrEnum):
    COUNTED = "counted"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    TOO_OLD = "too_old"


def record_event(
    store: SessionWindowStore, envelope: Envelope, *, partition: int, now: float
) -> Outcome:
    """Apply one event to the windows of its session (from the agent: table writes)."""
    payload = envelope.payload
    if isinstance(payload, TranscriptionCompleted) and payload.run_id != LIVE_RUN:
        return Outcome.IGNORED
    if not isinstance(payload, SessionCreated | TranscriptionCompleted):
        return Outcome.IGNORED
    published = envelope.timestamp.timestamp()
    if published < store.oldest_kept(now):
        return Outcome.TOO_OLD
    start = window_start(published, store.size_s)
    session_id = payload.session_id
    live = live_evidence(payload)
    if not (isinstance(payload, TranscriptionCompleted) and payload.is_final):
        if live and not store.is_live(session_id, start):
            window = store.get(session_id, start) or SessionWindow(partition)
            window.live = True
            store.put(session_id, start, window)
        return Outcome.IGNORED
    current = store.get(session_id, start)
    if current is None:
        current = SessionWindow(partition, live=store.earlier_live(session_id, start, now))
    current.live = current.live or live
    earlier = store.get(session_id, start - store.size_s)
    contribution = contribution_of(payload, live=current.live)
    changed = count_final(segment_key(payload), contribution, current=current, earlier=earlier)
    if changed is None:
        return Outcome.DUPLICATE
    store.put(session_id, start if changed is current else start - store.size_s, changed)
    return Outcome.COUNTED

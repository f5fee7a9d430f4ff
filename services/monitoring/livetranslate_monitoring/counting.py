"""What an audio-results event changes in the session windows.

Counted: final segments of the live run (``run_id`` "live"; a reprocessing run's transcript
stands beside it and would count the same speech twice), into the window that holds the final's
publication time (its envelope's timestamp). A session's SessionCreated (forwarded to
audio-results by the pipeline) records its source type, which decides whether its finals'
latency counts. Everything else, and anything older than the retention, changes nothing.
"""

from __future__ import annotations

from enum import StrEnum

from livetranslate_common.runs import LIVE_RUN
from livetranslate_monitoring.core.figures import contribution_of, segment_key
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
    published = envelope.timestamp.timestamp()
    if not isinstance(payload, SessionCreated | TranscriptionCompleted):
        return Outcome.IGNORED
    if published < store.oldest_kept(now):
        return Outcome.TOO_OLD
    start = window_start(published, store.size_s)
    session_id = payload.session_id
    current = store.get(session_id, start)
    if isinstance(payload, SessionCreated):
        window = current or SessionWindow(partition)
        if window.source == payload.source_type.value:
            return Outcome.DUPLICATE
        window.source = payload.source_type.value
        store.put(session_id, start, window)
        return Outcome.COUNTED
    if not payload.is_final or payload.run_id != LIVE_RUN:
        return Outcome.IGNORED
    if current is None:
        current = SessionWindow(partition, source=store.earlier_source(session_id, start, now))
    earlier = store.get(session_id, start - store.size_s)
    contribution = contribution_of(payload, source=current.source)
    changed = count_final(segment_key(payload), contribution, current=current, earlier=earlier)
    if changed is None:
        return Outcome.DUPLICATE
    store.put(session_id, start if changed is current else start - store.size_s, changed)
    return Outcome.COUNTED

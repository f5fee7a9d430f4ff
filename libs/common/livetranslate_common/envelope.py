"""Wrapping event payloads in the envelope every event travels in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from livetranslate_schemas import SCHEMA_VERSION
from livetranslate_schemas.events import Envelope, EventPayload


def new_trace_id() -> str:
    """A fresh trace id: 32 lowercase hex characters, as in W3C Trace Context."""
    return uuid.uuid4().hex


def new_event(
    payload: EventPayload,
    *,
    source: str,
    trace_id: str | None = None,
    span_id: str | None = None,
) -> Envelope:
    """Wrap ``payload`` in a new envelope stamped now, by ``source``.

    Pass the ``trace_id`` of the event or request that caused this one, so a whole chain of
    events can be followed; without it the event starts a new trace.
    """
    return Envelope(
        schema_version=SCHEMA_VERSION,
        event_id=uuid.uuid4(),
        event_type=type(payload).__name__,
        source=source,
        timestamp=datetime.now(UTC),
        trace_id=trace_id if trace_id is not None else new_trace_id(),
        span_id=span_id,
        payload=payload,
    )

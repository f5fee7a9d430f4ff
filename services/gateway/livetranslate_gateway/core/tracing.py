"""W3C trace context (``traceparent``) parsing, so a caller's trace continues through us."""

from __future__ import annotations

import re

_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")


def trace_id_from_traceparent(header: str | None) -> str | None:
    """The trace id of a valid ``traceparent`` header, else None (all-zero ids are invalid)."""
    if header is None:
        return None
    match = _TRACEPARENT.match(header.strip().lower())
    if match is None or match.group(1) == "0" * 32:
        return None
    return match.group(1)

"""Request rate limits per caller, in this gateway instance's memory (``limits`` library).

Each instance counts alone: with N instances behind a balancer a caller gets up to N times
the rate, which bounds what one instance does, the point of the limit. A sliding window
counter keeps two numbers per caller and window, whatever the rate.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter


class RateLimits:
    def __init__(self, spec: str) -> None:
        """``spec``: limits such as ``"50/second;2000/minute"``, all of which apply."""
        self._items: list[RateLimitItem] = parse_many(spec)
        self._limiter = SlidingWindowCounterRateLimiter(MemoryStorage())

    def hit(self, caller: str) -> float | None:
        """Count one request of ``caller``: None if allowed, else seconds to wait."""
        for item in self._items:
            if not self._limiter.hit(item, caller):
                reset_at = self._limiter.get_window_stats(item, caller).reset_time
                return max(0.0, reset_at - time.time())
        return None


def retry_after_header(wait_s: float) -> str:
    return str(max(1, math.ceil(wait_s)))

"""The worker's Prometheus metrics (scraped from ``GET /metrics`` on its web port).

Latency buckets are fine below 100 ms: the per-chunk overhead budget is 50 ms at p99, and a
histogram can only tell percentiles apart to the resolution of its buckets.
"""

from __future__ import annotations

from functools import cache

from prometheus_client import Counter, Gauge, Histogram

_FAST_BUCKETS = (
    0.001,
    0.002,
    0.005,
    0.01,
    0.015,
    0.02,
    0.03,
    0.04,
    0.05,
    0.075,
    0.1,
    0.15,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

EVENT_LAG = Histogram(
    "livetranslate_pipeline_event_lag_seconds",
    "From an audio-ingest event's publication (envelope timestamp) to the end of its "
    "processing here, results delivered and progress recorded.",
    ["event_type"],
    buckets=_FAST_BUCKETS,
)
EVENT_PROCESSING = Histogram(
    "livetranslate_pipeline_event_processing_seconds",
    "Time this worker spent on one audio-ingest event, recognition included when the event "
    "closed an utterance.",
    ["event_type"],
    buckets=_FAST_BUCKETS,
)
RESULTS_PUBLISHED = Counter(
    "livetranslate_pipeline_results_total",
    "Events published to audio-results, by type.",
    ["event_type"],
)
OPEN_SESSIONS = Gauge(
    "livetranslate_pipeline_open_sessions",
    "Sessions this worker currently holds in memory.",
)


@cache
def event_histograms(event_type: str) -> tuple[Histogram, Histogram]:
    """The (processing, lag) histograms of one event type. Looked up once: ``labels()`` takes
    a lock and builds its key on every call, for each of thousands of chunks a second."""
    return EVENT_PROCESSING.labels(event_type), EVENT_LAG.labels(event_type)

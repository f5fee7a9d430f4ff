"""The gateway's Prometheus metrics, served on a port of their own (``GATEWAY_METRICS_PORT``).

A port apart from the API's: the API faces the internet through the ingress, the metrics
only the cluster (Prometheus scrapes the pod), and they need no API key.

The hot paths count in plain integers (:class:`GatewayStats`): a live gateway bumps a
counter some 20,000 times a second, and an attribute increment costs a few nanoseconds where
a ``prometheus_client`` counter takes its lock. The collector reads them when scraped.

The event loop's lag (how late a timer fires) is the gateway's own measure of being busy: it
is what every socket of the instance waits, on top of the network.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from threading import Thread
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Histogram, start_http_server
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

#: How often the event loop's lag is sampled.
LAG_SAMPLE_S = 0.25


@dataclass(slots=True)
class GatewayStats:
    """Counters the request and socket paths bump; read by the metrics collector."""

    live_streams_started: int = 0
    live_chunks_sent: int = 0
    live_chunks_acknowledged: int = 0
    live_streams_ended: dict[str, int] = field(default_factory=dict)
    results_read: int = 0
    #: Results put on the queues of the sockets watching their session.
    results_handed_out: int = 0
    #: Sockets dropped for falling too far behind on their results (closed 4408).
    subscribers_overflowed: int = 0

    def stream_ended(self, reason: str) -> None:
        self.live_streams_ended[reason] = self.live_streams_ended.get(reason, 0) + 1


class _Collector(Collector):
    def __init__(self, stats: GatewayStats, gauges: dict[str, tuple[str, Callable[[], int]]]):
        self._stats = stats
        self._gauges = gauges

    def collect(self) -> Iterator[Metric]:
        stats = self._stats
        prefix = "livetranslate_gateway_"
        counters = {
            "live_streams_started": ("Live audio streams started.", stats.live_streams_started),
            "live_chunks_sent": ("Live audio chunks handed to Kafka.", stats.live_chunks_sent),
            "live_chunks_acknowledged": (
                "Live audio chunks Kafka acknowledged.",
                stats.live_chunks_acknowledged,
            ),
            "results_read": ("Records read from audio-results.", stats.results_read),
            "results_handed_out": (
                "Results queued for the WebSockets watching their session.",
                stats.results_handed_out,
            ),
            "subscribers_overflowed": (
                "WebSockets that fell too far behind on their results.",
                stats.subscribers_overflowed,
            ),
        }
        for name, (text, value) in counters.items():
            yield CounterMetricFamily(prefix + name, text, value=value)
        ended = CounterMetricFamily(
            prefix + "live_streams_ended", "Live audio streams ended, by reason.", labels=["reason"]
        )
        for reason, count in sorted(stats.live_streams_ended.items()):
            ended.add_metric([reason], count)
        yield ended
        for name, (text, read) in self._gauges.items():
            yield GaugeMetricFamily(prefix + name, text, value=read())


class MetricsServer:
    """Serves the stats (and the given gauges) at ``http://host:port/metrics``, and samples
    the event loop's lag meanwhile."""

    def __init__(
        self,
        stats: GatewayStats,
        *,
        gauges: dict[str, tuple[str, Callable[[], int]]],
    ) -> None:
        self.stats = stats
        self._registry = CollectorRegistry()
        self._registry.register(_Collector(stats, gauges))
        self._loop_lag = Histogram(
            "livetranslate_gateway_event_loop_lag_seconds",
            f"How late a timer fired on the event loop (sampled every {LAG_SAMPLE_S:g} s).",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self._registry,
        )
        self._server: WSGIServer | None = None
        self._thread: Thread | None = None
        self._sampling: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_port)

    async def start(self, host: str, port: int) -> None:
        # prometheus_client's own HTTP server, in a daemon thread: a scrape every few seconds
        # takes the GIL for a moment, which the event loop does not notice.
        self._server, self._thread = start_http_server(port, host, registry=self._registry)
        self._sampling = asyncio.create_task(self._sample_lag(), name="loop-lag")
        log.info("metrics on http://%s:%d/metrics", host, self.port)

    async def stop(self) -> None:
        if self._sampling is not None:
            self._sampling.cancel()
        if self._server is not None:
            await asyncio.to_thread(self._server.shutdown)
            self._server.server_close()

    async def _sample_lag(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(LAG_SAMPLE_S)
            self._loop_lag.observe(max(0.0, time.monotonic() - before - LAG_SAMPLE_S))

"""Small helpers every Faust app of the project needs."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any, ClassVar

import aiokafka
import faust
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message, TransportT
from mode import Service
from mode.utils.queues import FlowControlEvent
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from livetranslate_common.catalogue import SESSION_PARTITIONS, CleanupPolicy, TopicSpec
from livetranslate_common.faust_batches import RecordBuffer, batched_buffers
from livetranslate_common.faust_codec import CODEC_NAME, register_codec
from livetranslate_common.heap import freeze_long_lived
from livetranslate_common.log import logging_config
from livetranslate_common.settings import KafkaSettings

# How long the broker may hold a fetch that finds too little (Faust fixes it at 1.5 s).
DEFAULT_FETCH_MAX_WAIT_MS = 20
# How much a fetch waits for (up to the wait above). With aiokafka's 1 byte, a busy consumer
# sent a fetch for every record or two: 1,000 records a second cost 0.35 of a core in
# aiokafka alone and 0.65 in a Faust agent doing nothing; 256 KB, 0.06 and 0.27 (measured).
DEFAULT_FETCH_MIN_BYTES = 256 * 1024


def broker_urls(bootstrap_servers: str) -> list[str]:
    """``host1:9092,host2:9092`` (the Kafka convention) to Faust's ``kafka://`` URL list."""
    servers = [server.strip() for server in bootstrap_servers.split(",") if server.strip()]
    if not servers:
        raise ValueError("KAFKA_BOOTSTRAP_SERVERS is empty")
    return [server if "://" in server else f"kafka://{server}" for server in servers]


class _FlowControl(FlowControlEvent):
    """Faust's flow control, except that resuming keeps what the streams have queued.

    Faust clears the stream queues twice around a rebalance: when partitions are revoked
    (after suspending flow, so stale records go) and again when flow resumes. By the second
    clear, recovery has already resumed and sought the stream partitions, so the queues hold
    records fetched for the new assignment: dropping them loses them, unprocessed and
    unacknowledged (seen in the worker-kill test: after a restart the agent processed a few
    records, then the next dozens vanished and the committed offset stopped moving). A record
    that is stale all the same is still skipped by the stream's generation check.
    """

    _resuming = False

    def resume(self) -> None:
        self._resuming = True
        try:
            super().resume()
        finally:
            self._resuming = False

    def clear(self) -> None:
        if not self._resuming:
            super().clear()


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer "thread", run in the app's own event loop, with the app's fetch wait
    instead of Faust's fixed 1.5 s.

    In the app's loop: Faust runs aiokafka's consumer (asyncio code) in a thread with a loop of
    its own, calling it through method queues. In a busy worker the two threads fight over
    the GIL: at 500 simulated live sessions (5,000 records a second) the consumer thread was
    switched in and out 3,300 times a second and the main thread spent 10-20% of its time
    waiting for a CPU; the worker took 0.78-0.84 of a core, p95 40-240 ms and p99 59-444 ms
    from publication to processed. With the consumer in the app's loop (the same service, the
    same method queues, no thread): 0.65-0.75 of a core, p95 29-32 ms, p99 33-78 ms (measured
    in one hour, benchmarks/orchestration.py). What the thread protects against, an agent
    blocking the loop so long that heartbeats stop, does not happen here: recognition and
    other long work run in worker threads, off the loop.

    The fetch wait: aiokafka keeps one fetch in flight per broker and leaves out of it the
    partitions whose records the app has not yet taken. So a fetch is often sent for the
    quiet partitions only (results, changelogs), the broker holds it for the full wait
    because nothing arrives there, and the busy partitions cannot be fetched meanwhile. With
    1.5 s, 250 live sessions on one worker ran in a cycle of 1.5 s stalls and 4,000-record
    batches, lagging by 1.5-2.5 s with a third of the CPU idle (measured: half the fetches
    took exactly 1.5 s).
    """

    # ServiceThread.stop waits for its thread to signal the shutdown; here stop() does it.
    wait_for_shutdown = False

    async def start(self) -> None:
        # What ServiceThread._serve does in its thread, done here in the app's loop.
        self._thread_started.set()
        await self._default_start()
        await self.on_thread_started()

    async def stop(self) -> None:
        if self._started.is_set():
            await Service.stop(self)
            await self._shutdown_thread()

    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # Faust passes no setting for it. aiokafka reads it when start() builds the fetcher,
        # which comes after this.
        consumer._fetch_max_wait_ms = getattr(
            self.app, "fetch_max_wait_ms", DEFAULT_FETCH_MAX_WAIT_MS
        )
        consumer._fetch_min_bytes = getattr(self.app, "fetch_min_bytes", DEFAULT_FETCH_MIN_BYTES)
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        # Its "thread loop" is the app's loop: see _ConsumerThread.
        return _ConsumerThread(self, loop=self.loop, thread_loop=self.loop, beacon=self.beacon)

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - worker loop
        """Faust's fetch loop, except that a batched topic's records go to its buffer.

        The rest is Faust's (``faust.transport.consumer.Consumer._drain_messages``): gaps in
        offsets are noted for acking, commits are made every ``commit_every`` acks, other
        topics' records go one by one to the conductor, each delivery racing a suspension of
        the flow. A batched topic's records of one fetch go to its buffer together, after
        waiting (racing the same) for room; see ``faust_batches``.
        """
        fetcher_stopped = fetcher._stopped.is_set
        # Registered at import time; the same dict, so a later registration is seen too.
        buffers = batched_buffers(self.app)
        try:
            while not (self._stopped.is_set() or fetcher_stopped()):
                self.diag.set_flag(CONSUMER_FETCHING)
                await self.sleep(0)
                if not self.should_stop:
                    await self._drain_fetch(buffers)
                self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if not self.transport.app.should_stop:
                raise
        except asyncio.CancelledError:
            if not self.transport.app.should_stop:
                raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)

    async def _drain_fetch(self, buffers: Mapping[str, RecordBuffer]) -> None:
        batches: dict[str, list[Message]] = {}
        async for tp, message in self.getmany(timeout=1.0):
            if not await self._take_offset(tp, message.offset):
                continue
            if tp.topic in buffers:
                batches.setdefault(tp.topic, []).append(message)
            else:
                await self.wait_first(self.callback(message), self.suspend_flow.wait())
            self._read_offset[tp] = message.offset
        for topic, batch in batches.items():
            buffer = buffers[topic]
            if len(buffer) >= buffer.capacity:
                await self.wait_first(buffer.wait_for_room(), self.suspend_flow.wait())
            if not self.suspend_flow.is_set():
                buffer.extend(batch)

    async def _take_offset(self, tp: TP, offset: int) -> bool:
        """False for a record read already; notes a gap before it, commits when due."""
        read = self._read_offset[tp]
        if read is not None and offset < read:
            return False  # Faust drops these too
        if read and offset - read > 1 and self.app.topics.acks_enabled_for(tp.topic):
            await self._add_gap(tp, read + 1, offset)
        if self._commit_every is not None and self._n_acked >= self._commit_every:
            self._n_acked = 0
            await self.commit()
        return True


class _Transport(faust_aiokafka.Transport):
    Consumer: ClassVar[type[_Consumer]] = _Consumer


class RecoveringApp(faust.App):
    """A Faust app that keeps the records fetched while its recovery completes, and whose
    consumer does not let a fetch of quiet partitions hold up the busy ones for long."""

    def __init__(
        self,
        *args: Any,
        fetch_max_wait_ms: int = DEFAULT_FETCH_MAX_WAIT_MS,
        fetch_min_bytes: int = DEFAULT_FETCH_MIN_BYTES,
        **kwargs: Any,
    ) -> None:
        if fetch_max_wait_ms < 1:
            raise ValueError(f"fetch_max_wait_ms must be at least 1, got {fetch_max_wait_ms}")
        if fetch_min_bytes < 1:
            raise ValueError(f"fetch_min_bytes must be at least 1, got {fetch_min_bytes}")
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.fetch_min_bytes = fetch_min_bytes
        super().__init__(*args, **kwargs)

    @cached_property
    def flow_control(self) -> FlowControlEvent:
        return _FlowControl(loop=self.loop)

    def _new_transport(self) -> TransportT:
        if self.conf.broker_consumer[0].scheme != "kafka":
            return super()._new_transport()  # memory:// in unit tests
        return _Transport(self.conf.broker_consumer, self)


def service_app(
    app_id: str,
    *,
    kafka: KafkaSettings,
    service: str,
    web_host: str,
    web_port: int,
    session_timeout_s: float,
    datadir: str,
    **options: Any,
) -> RecoveringApp:
    """A service's Faust app, configured as every one of ours is; ``options`` add to it.

    The id is prefixed like the topics, so deployments (and tests) sharing a cluster keep
    their consumer groups and internal topics apart.
    """
    register_codec()
    return RecoveringApp(
        f"{kafka.topic_prefix}{app_id}",
        broker=broker_urls(kafka.bootstrap_servers),
        value_serializer=CODEC_NAME,
        key_serializer="raw",
        topic_partitions=SESSION_PARTITIONS,
        # For the topics Faust creates itself (table changelogs); 3 on a real cluster.
        topic_replication_factor=kafka.replication_factor,
        # Faust declares only its internal topics; the catalogue's (internal=False) come from
        # the topic step (livetranslate-topics / the Helm hook) with their retention and cleanup.
        topic_allow_declare=True,
        consumer_auto_offset_reset="earliest",
        # A worker that died is noticed after this long, and its partitions move on (Faust's
        # default of 60 s would stall a session that long after a crash).
        broker_session_timeout=session_timeout_s,
        broker_heartbeat_interval=session_timeout_s / 4,
        web_enabled=True,
        web_host=web_host,
        web_port=web_port,
        logging_config=logging_config(service),
        datadir=datadir,
        **options,
    )


def serve_health_and_metrics(app: faust.App, checks: Callable[[], Mapping[str, bool]]) -> None:
    """``GET /health`` (200 once every check holds and the app owns partitions, else 503, with
    each check in the body) and ``GET /metrics`` (Prometheus text) on the app's web port."""

    @app.page("/health")
    async def health(web: Any, request: Any) -> Any:
        assigned = len(app.consumer.assignment()) if app.consumer else 0
        results = dict(checks())
        ready = all(results.values()) and assigned > 0
        body = {"status": "ok" if ready else "starting", **results, "assigned_partitions": assigned}
        return web.json(body, status=200 if ready else 503)

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])


def changelog_spec(
    app: faust.App,
    table: Any,
    *,
    key: str,
    description: str,
    retention_ms: int = -1,
    extra_config: Mapping[str, str] | None = None,
) -> TopicSpec:
    """A table's changelog topic, named as Faust names it, to create before the worker starts.

    Faust declares it itself while starting, but the consumer's metadata can miss a topic
    created a moment earlier: the table then sees "0 partitions" and the agent crashes on its
    first write until the metadata refreshes (seen on a loaded machine).
    """
    return TopicSpec(
        # "<app id>-<table>-changelog" (the app id carries the prefix).
        name=f"{app.conf.id}-{table.name}-changelog",
        key=key,
        events=(),
        partitions=table.partitions or app.conf.topic_partitions,
        cleanup_policy=CleanupPolicy.COMPACT,
        retention_ms=retention_ms,
        description=description,
        extra_config=dict(extra_config or {}),
    )


def worker_main(app: faust.App, before_worker: Callable[[], object]) -> None:
    """``python -m <service> ...``: Faust's command line; ``before_worker`` first, for a worker.

    Only a worker needs what it prepares (its tables' changelog topics), not ``--help`` or
    Faust's other commands.
    """
    if "worker" in sys.argv[1:]:
        before_worker()
        # What is imported by now (Faust, the clients, the service's code) is never garbage.
        freeze_long_lived()
    app.main()

"""Publishing events to Kafka: idempotent producer, acks from all in-sync replicas.

While the broker is away (a restart, a leader moving), the producer keeps every event and
retries; the broker de-duplicates the retries (idempotence), so a restart neither loses nor
doubles an event. ``publish`` simply waits: bounding that wait is the caller's business.

One failure mode needs care. A batch that waited longer than ``request_timeout_ms`` for a
partition without a leader (what a broker reports while it shuts down) fails, but aiokafka
has already given it its sequence numbers: the broker, back again, refuses every later batch
for that partition as out of order, forever (OutOfOrderSequenceNumber; seen with aiokafka
0.14, tested in ``tests_gateway/test_broker_restart.py``). So after any failed delivery the
producer is replaced by a fresh one (a new producer id, sequences from 0) before the next
send; the old one is closed in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer

from livetranslate_common.catalogue import topic_for_event
from livetranslate_common.envelope import new_event
from livetranslate_common.log import trace_id_var
from livetranslate_common.serde import encode_event, encode_key
from livetranslate_common.settings import KafkaSettings
from livetranslate_schemas.events import Envelope, EventPayload

log = logging.getLogger(__name__)

SOURCE = "gateway"
#: How long a replaced producer may take to settle its last batches before it is let go.
RETIRE_TIMEOUT_S = 60.0


class EventPublisher:
    def __init__(self, settings: KafkaSettings, *, request_timeout_ms: int = 40_000) -> None:
        self._settings = settings
        self._request_timeout_ms = request_timeout_ms
        self._producer = self._new_producer()
        # A delivery of the current producer failed: replace it before the next send.
        self._broken = False
        self._replacing = asyncio.Lock()
        self._retiring: set[asyncio.Task[None]] = set()
        #: Producers replaced after a failed delivery (for logs and tests).
        self.replacements = 0

    def _new_producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self._settings.bootstrap_servers,
            enable_idempotence=True,
            acks="all",
            max_request_size=4 * 1024 * 1024,
            linger_ms=5,
            request_timeout_ms=self._request_timeout_ms,
        )

    async def start(self) -> None:
        await self._producer.start()

    async def reachable(self) -> bool:
        """Whether a broker answers a metadata request now (for readiness)."""
        metadata = await self._producer.client.fetch_all_metadata()
        return bool(metadata.brokers())

    async def stop(self) -> None:
        await self._producer.stop()
        for task in list(self._retiring):
            with contextlib.suppress(Exception):
                await task

    async def publish(
        self, key: str, payloads: Iterable[EventPayload], *, trace_id: str | None = None
    ) -> list[Envelope]:
        """Send events in order under one key; returns once the broker has every one.

        Waits as long as the broker is away (the producer retries); cancelling the wait
        leaves the events already handed over to be delivered when the broker is back.
        """
        # Without an explicit trace, events join the trace of the request being served.
        trace_id = trace_id or trace_id_var.get()
        producer = await self._working_producer()
        envelopes = []
        pending: list[asyncio.Future[object]] = []
        for payload in payloads:
            envelope = new_event(payload, source=SOURCE, trace_id=trace_id)
            topic = self._settings.topic(topic_for_event(envelope.event_type).name)
            delivery = await producer.send(topic, encode_event(envelope), key=encode_key(key))
            delivery.add_done_callback(functools.partial(self._delivered, producer))
            pending.append(delivery)
            envelopes.append(envelope)
        if pending:
            # asyncio.wait, unlike gather, does not cancel the deliveries if this is cancelled:
            # their outcome still tells _delivered whether the producer broke.
            await asyncio.wait(pending)
            for delivery in pending:
                delivery.result()
        return envelopes

    def _delivered(self, producer: AIOKafkaProducer, delivery: asyncio.Future[object]) -> None:
        if delivery.cancelled() or delivery.exception() is None:
            return
        if producer is self._producer and not self._broken:
            log.warning(
                "a delivery to Kafka failed (%r): the producer is replaced before the next send",
                delivery.exception(),
            )
            self._broken = True

    async def _working_producer(self) -> AIOKafkaProducer:
        if not self._broken:
            return self._producer
        async with self._replacing:
            if self._broken:
                fresh = self._new_producer()
                try:
                    # Fails while the broker is still away: the caller's publish fails, the
                    # next one tries again.
                    await fresh.start()
                except BaseException:
                    with contextlib.suppress(Exception):
                        await fresh.stop()
                    raise
                old, self._producer, self._broken = self._producer, fresh, False
                self.replacements += 1
                task = asyncio.create_task(self._retire(old), name="retire-producer")
                self._retiring.add(task)
                task.add_done_callback(self._retiring.discard)
        return self._producer

    @staticmethod
    async def _retire(producer: AIOKafkaProducer) -> None:
        """Close a replaced producer once its last batches are settled (the broker answers
        again, since a fresh producer just started: they are delivered or refused soon)."""
        try:
            async with asyncio.timeout(RETIRE_TIMEOUT_S):
                await producer.stop()
        except TimeoutError:
            log.warning("a replaced Kafka producer did not close in %.0f s", RETIRE_TIMEOUT_S)

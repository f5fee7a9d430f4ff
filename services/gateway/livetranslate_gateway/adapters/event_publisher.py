"""Publishing events to Kafka: idempotent producer, acks from all in-sync replicas.

The producer is confluent-kafka's (librdkafka): batching, compression of the wire protocol
and retries run in C threads, and several requests are in flight per broker, so a gateway
publishing thousands of live chunks a second spends a few microseconds of its event loop on
each (aiokafka, with one request in flight and its batches assembled in Python, took a
third of a millisecond a chunk and capped one gateway at about 250 live streams).

While the broker is away (a restart, a leader moving), the producer keeps every event and
retries; the broker de-duplicates the retries (idempotence), so a restart neither loses nor
doubles an event. An event still undelivered after ``delivery_timeout_ms`` fails; librdkafka
then bumps the producer's epoch itself, so later events of the partition go through (an
idempotent producer that kept the failed sequence numbers would be refused for ever). Should
the producer still hit a fatal error, it is replaced by a fresh one before the next send.
``publish`` simply waits for the deliveries: bounding that wait is the caller's business.
``send`` hands over one event and reports its delivery to a callback, for callers that
count deliveries themselves (a live stream: no future or task switch per chunk).

Deliveries are reported by librdkafka's ``poll``, which the publisher calls on the event
loop every few milliseconds: its callbacks then run on the loop's thread. (A thread of its
own blocking in ``poll`` cost more: every report took the GIL from the loop, and at 5,000
chunks a second the hand-overs were a fifth of the gateway's time.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from livetranslate_common.catalogue import topic_for_event
from livetranslate_common.envelope import new_event
from livetranslate_common.log import trace_id_var
from livetranslate_common.serde import encode_event, encode_key
from livetranslate_common.settings import KafkaSettings
from livetranslate_schemas.events import Envelope, EventPayload

log = logging.getLogger(__name__)

SOURCE = "gateway"
#: How long the first connection to the cluster may take at start-up.
CONNECT_TIMEOUT_S = 30.0
#: How long a readiness check may wait for the cluster's metadata.
METADATA_TIMEOUT_S = 2.0
#: The local queue is full (the broker is away for long): retry the hand-over this often.
QUEUE_FULL_RETRY_S = 0.05
#: How often deliveries are collected: at most this is added to a publish's wait.
POLL_INTERVAL_S = 0.005


#: Told, on the event loop, how the delivery of one event ended: None once the broker has it.
OnDelivery = Callable[[KafkaError | None], None]


class DeliveryError(Exception):
    """Kafka did not take an event: the broker refused it, or it timed out."""


class EventPublisher:
    def __init__(self, settings: KafkaSettings, *, delivery_timeout_ms: int = 40_000) -> None:
        self._settings = settings
        self._config: dict[str, Any] = {
            "bootstrap.servers": settings.bootstrap_servers,
            "enable.idempotence": True,
            "acks": "all",
            # The partition of a key as Kafka's Java clients, aiokafka and Faust choose it,
            # so a session's events land on the same partition number whoever produced them.
            "partitioner": "murmur2_random",
            "linger.ms": 5,
            # Batches up to the topics' message size: a busy gateway sends few, large requests.
            "batch.size": 1_000_000,
            "message.max.bytes": 4 * 1024 * 1024,
            "message.timeout.ms": delivery_timeout_ms,
            # librdkafka's own log lines (a broker away, reconnects) into the service's log.
            "logger": log,
        }
        self._producer = Producer(self._config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._polling: asyncio.Task[None] | None = None
        self._replacing = asyncio.Lock()
        self._fatal = False
        #: Producers replaced after a fatal error (for logs and tests).
        self.replacements = 0

    async def start(self) -> None:
        """Connect (raises when no broker answers within ``CONNECT_TIMEOUT_S``) and start
        reporting deliveries."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        await asyncio.to_thread(self._producer.list_topics, timeout=CONNECT_TIMEOUT_S)
        self._polling = asyncio.create_task(self._poll_forever(), name="kafka-deliveries")

    async def reachable(self) -> bool:
        """Whether a broker answers a metadata request now (for readiness)."""
        metadata = await asyncio.to_thread(self._producer.list_topics, timeout=METADATA_TIMEOUT_S)
        return bool(metadata.brokers)

    async def stop(self, *, flush_timeout_s: float = 30.0) -> None:
        """Deliver what is queued (for at most ``flush_timeout_s``), then stop."""
        if self._polling is not None:
            self._polling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._polling
        # Reports served by flush run on its thread: _report hands them to the loop.
        await asyncio.to_thread(self._producer.flush, flush_timeout_s)

    async def publish(
        self, key: str, payloads: Iterable[EventPayload], *, trace_id: str | None = None
    ) -> list[Envelope]:
        """Send events in order under one key; returns once the broker has every one.

        Waits as long as the broker is away (the producer retries, up to its delivery
        timeout); cancelling the wait leaves the events already handed over to be delivered
        when the broker is back.
        """
        events = list(payloads)
        if not events:
            return []
        # One future for the whole call, settled by the last delivery (a future and an
        # asyncio.wait per event were a tenth of a busy gateway's time). Cancelling the wait
        # cancels only it: the events go on to the broker.
        deliveries = _Deliveries(asyncio.get_running_loop(), len(events))
        # Without an explicit trace, events join the trace of the request being served.
        trace_id = trace_id or trace_id_var.get()
        envelopes = [
            await self.send(key, payload, trace_id=trace_id, on_delivery=deliveries.settled)
            for payload in events
        ]
        await deliveries.all_done
        return envelopes

    async def send(
        self, key: str, payload: EventPayload, *, trace_id: str | None, on_delivery: OnDelivery
    ) -> Envelope:
        """Hand one event to the producer; ``on_delivery(None)`` runs on the event loop once
        the broker has it, ``on_delivery(error)`` if it refused it or it timed out.

        Events sent under one key reach the broker, and their reports the caller, in the
        order they were sent. Returns at once unless the producer's queue is full (the
        broker away for long): then it waits for room. Nothing is sent if it raises.
        """
        if self._fatal:
            await self._replace()
        envelope = new_event(payload, source=SOURCE, trace_id=trace_id)
        topic = self._settings.topic(topic_for_event(envelope.event_type).name)
        value, encoded_key = encode_event(envelope), encode_key(key)

        def report(error: KafkaError | None, _message: Message) -> None:
            self._report(on_delivery, error)

        while True:
            try:
                self._producer.produce(topic, value, encoded_key, on_delivery=report)
                return envelope
            except BufferError:
                # librdkafka's queue is full (the broker has been away a while): wait for
                # room rather than hold more here.
                await asyncio.sleep(QUEUE_FULL_RETRY_S)
            except KafkaException as error:
                raise DeliveryError(str(error)) from error

    async def _poll_forever(self) -> None:
        while True:
            self._producer.poll(0)
            await asyncio.sleep(POLL_INTERVAL_S)

    def _report(self, on_delivery: OnDelivery, error: KafkaError | None) -> None:
        if threading.get_ident() != self._loop_thread and self._loop is not None:
            # Served by stop()'s flush, on its thread.
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self._loop.call_soon_threadsafe(self._settle, on_delivery, error)
            return
        self._settle(on_delivery, error)

    def _settle(self, on_delivery: OnDelivery, error: KafkaError | None) -> None:
        if error is not None and error.fatal() and not self._fatal:
            log.warning("the Kafka producer failed (%s): it is replaced", error)
            self._fatal = True
        on_delivery(error)

    async def _replace(self) -> None:
        async with self._replacing:
            if not self._fatal:
                return
            old, self._producer = self._producer, Producer(self._config)
            self._fatal = False
            self.replacements += 1
            # The old producer's own queue is lost with it: its deliveries were failed.
            await asyncio.to_thread(old.flush, 0)


class _Deliveries:
    """The events of one ``publish`` call: done once the broker has said something of each;
    failed if it refused any (or any timed out)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, count: int) -> None:
        self.all_done: asyncio.Future[None] = loop.create_future()
        self._left = count
        self._first_error: KafkaError | None = None

    def settled(self, error: KafkaError | None) -> None:
        if self._first_error is None:
            self._first_error = error
        self._left -= 1
        if self._left > 0 or self.all_done.done():
            return
        if self._first_error is None:
            self.all_done.set_result(None)
        else:
            self.all_done.set_exception(DeliveryError(self._first_error.str()))

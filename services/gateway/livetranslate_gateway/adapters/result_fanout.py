"""Tailing audio-results and handing each event to the WebSockets watching its session.

Every gateway instance reads every partition (no consumer group): a client may be connected
to any instance, so each instance must see every session's results.

The consumer is confluent-kafka's (librdkafka): its threads fetch ahead, and the event loop
takes what has arrived every few milliseconds, in batches, without waiting. (aiokafka, whose
fetching and record parsing run on the loop itself, added up to a second and a half to
results while a gateway carried 1,000 live streams.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from livetranslate_common.catalogue import AUDIO_RESULTS
from livetranslate_common.errors import SerdeError
from livetranslate_common.replay.topic_snapshot import TopicSnapshot
from livetranslate_common.serde import decode_event
from livetranslate_common.settings import KafkaSettings
from livetranslate_gateway.adapters.metrics import GatewayStats
from livetranslate_schemas.events import Envelope

log = logging.getLogger(__name__)

#: How often the loop takes the records fetched meanwhile: at most this is added to a result.
POLL_INTERVAL_S = 0.005
#: Records taken at once; more wait for the next turn (other tasks run in between).
BATCH = 500


class SubscriberTooSlowError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class ResultRecord:
    """A result event and where it is in audio-results."""

    partition: int
    offset: int
    envelope: Envelope


class Subscription:
    def __init__(self, session_id: str, maxsize: int) -> None:
        self.session_id = session_id
        self.queue: asyncio.Queue[ResultRecord] = asyncio.Queue(maxsize=maxsize)
        self.overflowed = False

    async def next(self) -> ResultRecord:
        if self.overflowed and self.queue.empty():
            raise SubscriberTooSlowError(self.session_id)
        return await self.queue.get()


class ResultFanout:
    def __init__(
        self, settings: KafkaSettings, *, queue_size: int, stats: GatewayStats | None = None
    ) -> None:
        self._topic = settings.topic(AUDIO_RESULTS.name)
        self._bootstrap_servers = settings.bootstrap_servers
        self._consumer = Consumer(
            {
                "bootstrap.servers": settings.bootstrap_servers,
                # Required by the client, never used: partitions are assigned, not subscribed,
                # and no offset is committed.
                "group.id": f"gateway-fanout-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "logger": log,
            }
        )
        self._queue_size = queue_size
        self._stats = stats or GatewayStats()
        self._subscribers: dict[str, set[Subscription]] = defaultdict(set)
        self._partitions: list[int] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self, *, assignment_timeout: float = 30.0) -> None:
        # Each partition from its end now: only results produced from now on (history is read
        # back from the log on request), and nothing produced after start-up skipped. The
        # snapshot asks again while a partition's leader moves (a topic just created).
        try:
            snapshot = await asyncio.to_thread(
                TopicSnapshot, self._bootstrap_servers, self._topic, timeout_s=assignment_timeout
            )
        except Exception:
            await asyncio.to_thread(self._consumer.close)
            raise
        snapshot.close()
        self._consumer.assign(
            [TopicPartition(self._topic, r.partition, r.high) for r in snapshot.ranges]
        )
        self._partitions = [r.partition for r in snapshot.ranges]
        self._task = asyncio.create_task(self._run(), name="result-fanout")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await asyncio.to_thread(self._consumer.close)

    def partitions(self) -> list[int]:
        """The topic's partitions (the fan-out reads them all)."""
        return list(self._partitions)

    def subscription_count(self) -> int:
        return sum(len(watchers) for watchers in self._subscribers.values())

    def subscribe(self, session_id: str) -> Subscription:
        subscription = Subscription(session_id, self._queue_size)
        self._subscribers[session_id].add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        watchers = self._subscribers.get(subscription.session_id)
        if watchers is not None:
            watchers.discard(subscription)
            if not watchers:
                del self._subscribers[subscription.session_id]

    async def _run(self) -> None:
        while True:
            records = self._consumer.consume(BATCH, timeout=0)
            self._stats.results_read += len(records)
            for record in records:
                self._hand_out(record)
            # A full batch: more may be waiting, but let other tasks run first.
            await asyncio.sleep(0 if len(records) == BATCH else POLL_INTERVAL_S)

    def _hand_out(self, record: Message) -> None:
        error = record.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                log.warning("reading %s: %s", self._topic, error)
            return
        key, value = record.key(), record.value()
        partition, offset = record.partition(), record.offset()
        if key is None or value is None or partition is None or offset is None:
            return
        watchers = self._subscribers.get(key.decode("utf-8", "replace"))
        if not watchers:
            return
        try:
            envelope = decode_event(value)
        except SerdeError as error:
            log.warning("undecodable result at %s:%d: %s", self._topic, offset, error)
            return
        result = ResultRecord(partition, offset, envelope)
        stats = self._stats
        for subscription in list(watchers):
            try:
                subscription.queue.put_nowait(result)
                stats.results_handed_out += 1
            except asyncio.QueueFull:
                if not subscription.overflowed:
                    stats.subscribers_overflowed += 1
                subscription.overflowed = True

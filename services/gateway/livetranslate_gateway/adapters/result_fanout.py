"""Tailing audio-results and handing each event to the WebSockets watching its session.

Every gateway instance reads every partition (no consumer group): a client may be connected
to any instance, so each instance must see every session's results.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer

from livetranslate_common.catalogue import AUDIO_RESULTS
from livetranslate_common.errors import SerdeError
from livetranslate_common.serde import decode_event
from livetranslate_common.settings import KafkaSettings
from livetranslate_schemas.events import Envelope

log = logging.getLogger(__name__)


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
    def __init__(self, settings: KafkaSettings, *, queue_size: int) -> None:
        self._topic = settings.topic(AUDIO_RESULTS.name)
        self._consumer = AIOKafkaConsumer(
            self._topic,
            bootstrap_servers=settings.bootstrap_servers,
            enable_auto_commit=False,
            group_id=None,
            auto_offset_reset="latest",
        )
        self._queue_size = queue_size
        self._subscribers: dict[str, set[Subscription]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None

    async def start(self, *, assignment_timeout: float = 30.0) -> None:
        await self._consumer.start()
        try:
            async with asyncio.timeout(assignment_timeout):
                # Without a group, the consumer takes every partition of the topic itself.
                while not self._consumer.assignment():  # noqa: ASYNC110 - no event to wait on
                    await asyncio.sleep(0.05)
            # Pin each position now (the end: only results produced from now on; history is
            # served from the read model), so nothing produced after start-up is skipped.
            for partition in self._consumer.assignment():
                await self._consumer.position(partition)
        except TimeoutError:
            await self._consumer.stop()
            raise RuntimeError(
                f"no partitions of {self._topic} after {assignment_timeout} s; were topics created?"
            ) from None
        self._task = asyncio.create_task(self._run(), name="result-fanout")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

    def partitions(self) -> list[int]:
        """The topic's partitions (the fan-out reads them all)."""
        return sorted(tp.partition for tp in self._consumer.assignment())

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
        async for record in self._consumer:
            if record.key is None or record.value is None:
                continue
            watchers = self._subscribers.get(record.key.decode("utf-8", "replace"))
            if not watchers:
                continue
            try:
                envelope = decode_event(record.value)
            except SerdeError as error:
                log.warning("undecodable result at %s:%d: %s", record.topic, record.offset, error)
                continue
            result = ResultRecord(record.partition, record.offset, envelope)
            for subscription in list(watchers):
                try:
                    subscription.queue.put_nowait(result)
                except asyncio.QueueFull:
                    subscription.overflowed = True

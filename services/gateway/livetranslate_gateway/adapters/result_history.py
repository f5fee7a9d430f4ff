"""A session's past results, read back from audio-results: for a client that joins late
(history first, then live) or comes back after a disconnect (from its last position).

All of a session's results are on one partition of audio-results (they are keyed by the
session), so a position in them is that partition's offset: ``"<partition>:<offset>"``. A
reader is a consumer of its own, without a group, assigned that one partition; it stops at
the partition's end as it was when the client subscribed to the live results, from where the
live subscription takes over (see ``api/routes/results_ws.py``).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from livetranslate_common.catalogue import AUDIO_RESULTS
from livetranslate_common.session_log import first_offset_at, keyed_events
from livetranslate_common.settings import KafkaSettings
from livetranslate_gateway.adapters.result_fanout import ResultRecord

POSITION_PATTERN = r"^\d{1,4}:\d{1,19}$"
_POSITION = re.compile(POSITION_PATTERN)
#: Records fetched at a time while replaying.
_FETCH_RECORDS = 2000


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """Where a result is in the log: its partition of audio-results and offset there."""

    partition: int
    offset: int

    @classmethod
    def parse(cls, text: str) -> Position | None:
        if _POSITION.match(text) is None:
            return None
        partition, offset = text.split(":")
        return cls(int(partition), int(offset))

    def __str__(self) -> str:
        return f"{self.partition}:{self.offset}"


class HistoryReader:
    def __init__(self, consumer: AIOKafkaConsumer, topic: str, partitions: list[int]) -> None:
        self._consumer = consumer
        self._topic = topic
        self.partitions = partitions

    def partition_of(self, session_id: str) -> int:
        """The partition the session's results are on: the producers' default partitioner
        (murmur2 of the key, as Kafka's Java clients and aiokafka, which Faust uses)."""
        partition: int = DefaultPartitioner()(session_id.encode(), self.partitions, self.partitions)
        return partition

    async def end_of(self, partition: int) -> Position:
        """The partition's end now: the position the next result there will have."""
        tp = TopicPartition(self._topic, partition)
        ends = await self._consumer.end_offsets([tp])
        return Position(partition, ends[tp])

    async def first_at(self, partition: int, when: datetime) -> Position:
        """The first position of the partition stamped at or after ``when``."""
        ref = TopicPartition(self._topic, partition)
        return Position(partition, await first_offset_at(self._consumer, ref, when))

    async def replay(
        self, session_id: str, start: Position, end: Position
    ) -> AsyncIterator[ResultRecord]:
        """The session's results from ``start`` up to (not including) ``end``, in order."""
        ref = TopicPartition(self._topic, start.partition)
        events = keyed_events(
            self._consumer,
            ref,
            session_id.encode(),
            start=start.offset,
            end=end.offset,
            fetch_records=_FETCH_RECORDS,
        )
        async for offset, envelope in events:
            yield ResultRecord(start.partition, offset, envelope)


class ResultHistory:
    def __init__(self, settings: KafkaSettings, *, max_readers: int = 16) -> None:
        self._bootstrap = settings.bootstrap_servers
        self._topic = settings.topic(AUDIO_RESULTS.name)
        # A reader is a consumer with its own connections: after a gateway restart every
        # client comes back at once, and they read their histories a few at a time.
        self._readers = asyncio.Semaphore(max_readers)

    @asynccontextmanager
    async def reader(self, partitions: list[int]) -> AsyncIterator[HistoryReader]:
        """A reader of the topic, whose partitions are ``partitions`` (all of them)."""
        async with self._readers, self._consumer() as consumer:
            yield HistoryReader(consumer, self._topic, partitions)

    @asynccontextmanager
    async def _consumer(self) -> AsyncIterator[AIOKafkaConsumer]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=None,
            enable_auto_commit=False,
            # Replays skip other sessions' values undecoded; big fetches, few round trips.
            fetch_max_bytes=16 * 1024 * 1024,
        )
        await consumer.start()
        try:
            yield consumer
        finally:
            await consumer.stop()

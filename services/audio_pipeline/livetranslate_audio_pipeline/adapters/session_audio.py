"""A session's recorded audio, read back from audio-ingest for a reprocessing run.

The session's events sit in one partition: the one its key hashes to with the Java client's
murmur2, which the gateway's producer (aiokafka) uses. The read starts at the first offset
written shortly before the session's audio began (Kafka's time index), or at the partition's
beginning when that time is unknown, and ends at the session's AudioStreamEnded or, for a
session still streaming, at the partition's end when the read began. Should the hash not
find the session (a producer with another partitioner wrote it), the other partitions are
searched too.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import DefaultPartitioner

from livetranslate_common.session_log import first_offset_at, keyed_events
from livetranslate_schemas.events import AudioChunkReceived, AudioStreamEnded

log = logging.getLogger(__name__)

# Clocks of the gateway, the broker and whoever stamped audio_since differ a little; a
# broker's log-append time may also precede the session's creation as the requester saw it.
SEEK_SLACK = timedelta(minutes=1)
_FETCH_RECORDS = 500

SessionEvent = AudioChunkReceived | AudioStreamEnded


class SessionAudioReader:
    def __init__(self, bootstrap_servers: str, topic: str) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._topic = topic

    async def events(
        self, session_id: str, *, since: datetime | None = None
    ) -> AsyncIterator[SessionEvent]:
        """The session's chunks in log order, then its AudioStreamEnded if it has one."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        await consumer.start()
        try:
            partitions = await self._partitions()
            key = session_id.encode()
            home = DefaultPartitioner()(key, partitions, partitions)
            found = False
            for partition in [home, *(p for p in partitions if p != home)]:
                async for event in self._partition_events(consumer, partition, key, since):
                    found = True
                    yield event
                if found:
                    return
                if partition == home:
                    log.warning(
                        "no audio of session %s in %s[%d], where its key hashes to: searching"
                        " the other partitions",
                        session_id,
                        self._topic,
                        home,
                    )
        finally:
            await consumer.stop()

    async def _partitions(self) -> list[int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap_servers)
        await admin.start()
        try:
            (described,) = await admin.describe_topics([self._topic])
        finally:
            await admin.close()
        partitions = sorted(int(p["partition"]) for p in described.get("partitions") or ())
        if described.get("error_code") or not partitions:
            raise LookupError(f"topic {self._topic} cannot be read")
        return partitions

    async def _partition_events(
        self, consumer: AIOKafkaConsumer, partition: int, key: bytes, since: datetime | None
    ) -> AsyncIterator[SessionEvent]:
        ref = TopicPartition(self._topic, partition)
        end = (await consumer.end_offsets([ref]))[ref]
        start = (await consumer.beginning_offsets([ref]))[ref]
        if since is not None:
            start = await first_offset_at(consumer, ref, since - SEEK_SLACK)
        events = keyed_events(
            consumer, ref, key, start=start, end=end, fetch_records=_FETCH_RECORDS
        )
        async for _, envelope in events:
            payload = envelope.payload
            if isinstance(payload, AudioChunkReceived):
                yield payload
            elif isinstance(payload, AudioStreamEnded):
                yield payload
                return

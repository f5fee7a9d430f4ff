"""AudioLog on Kafka: a session's chunks read back from audio-ingest (the log is the buffer)."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition

from livetranslate_common.errors import SerdeError
from livetranslate_common.serde import decode_event
from livetranslate_schemas.events import AudioChunkReceived

log = logging.getLogger(__name__)


class KafkaAudioLog:
    def __init__(self, bootstrap_servers: str, topic: str) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._topic = topic
        self._consumer: AIOKafkaConsumer | None = None
        # One reader, one partition at a time: take-overs are rare and short.
        self._lock = asyncio.Lock()

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def chunks(
        self, session_id: str, *, partition: int, from_offset: int, before_seq: int
    ) -> list[tuple[int, AudioChunkReceived]]:
        async with self._lock:
            consumer = await self._started()
            partition_ref = TopicPartition(self._topic, partition)
            consumer.assign([partition_ref])
            consumer.seek(partition_ref, from_offset)
            end = (await consumer.end_offsets([partition_ref]))[partition_ref]
            key = session_id.encode()
            found: list[tuple[int, AudioChunkReceived]] = []
            position = from_offset
            while position < end:
                batch = await consumer.getmany(partition_ref, timeout_ms=1000, max_records=500)
                for record in batch.get(partition_ref, []):
                    position = record.offset + 1
                    if record.key != key or record.value is None:
                        continue
                    try:
                        payload = decode_event(record.value).payload
                    except SerdeError:
                        continue  # the live agent dead-lettered it already
                    if isinstance(payload, AudioChunkReceived):
                        if payload.seq >= before_seq:
                            return found
                        found.append((record.offset, payload))
            log.info(
                "read back %d chunks of %s from %s[%d]@%d",
                len(found),
                session_id,
                self._topic,
                partition,
                from_offset,
            )
            return found

    async def _started(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            self._consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap_servers,
                group_id=None,
                enable_auto_commit=False,
                max_partition_fetch_bytes=8 * 1024 * 1024,
            )
            await self._consumer.start()
        return self._consumer

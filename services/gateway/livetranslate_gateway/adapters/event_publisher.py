"""Publishing events to Kafka: idempotent producer, acks from all in-sync replicas."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer

from livetranslate_common.catalogue import topic_for_event
from livetranslate_common.envelope import new_event
from livetranslate_common.log import trace_id_var
from livetranslate_common.serde import encode_event, encode_key
from livetranslate_common.settings import KafkaSettings
from livetranslate_schemas.events import Envelope, EventPayload

SOURCE = "gateway"


class EventPublisher:
    def __init__(self, settings: KafkaSettings) -> None:
        self._settings = settings
        self._producer = AIOKafkaProducer(
            bootstrap_servers=settings.bootstrap_servers,
            enable_idempotence=True,
            acks="all",
            max_request_size=4 * 1024 * 1024,
            linger_ms=5,
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def publish(
        self, key: str, payloads: Iterable[EventPayload], *, trace_id: str | None = None
    ) -> list[Envelope]:
        """Send events in order under one key; returns once the broker has every one."""
        # Without an explicit trace, events join the trace of the request being served.
        trace_id = trace_id or trace_id_var.get()
        envelopes = []
        pending = []
        for payload in payloads:
            envelope = new_event(payload, source=SOURCE, trace_id=trace_id)
            topic = self._settings.topic(topic_for_event(envelope.event_type).name)
            pending.append(
                await self._producer.send(topic, encode_event(envelope), key=encode_key(key))
            )
            envelopes.append(envelope)
        await asyncio.gather(*pending)
        return envelopes

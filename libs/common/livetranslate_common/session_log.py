"""Reading one session's events back from a session-keyed topic (all of a session's events
are on the partition its key hashes to): for reprocessing (its audio) and for the gateway's
late joiners (its results)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition

from livetranslate_common.errors import SerdeError
from livetranslate_common.serde import decode_event
from livetranslate_schemas.events import Envelope


async def first_offset_at(consumer: AIOKafkaConsumer, ref: TopicPartition, when: datetime) -> int:
    """The first offset of the partition stamped at or after ``when`` (its end if none)."""
    found = (await consumer.offsets_for_times({ref: int(when.timestamp() * 1000)}))[ref]
    if found is not None:
        return int(found.offset)
    return int((await consumer.end_offsets([ref]))[ref])


async def keyed_events(
    consumer: AIOKafkaConsumer,
    ref: TopicPartition,
    key: bytes,
    *,
    start: int,
    end: int,
    fetch_records: int = 500,
) -> AsyncIterator[tuple[int, Envelope]]:
    """(offset, event) of ``key`` in the partition from ``start`` up to (not including)
    ``end``, in log order. Undecodable records are skipped: the live path dead-letters them."""
    if start >= end:
        return
    consumer.assign([ref])
    consumer.seek(ref, start)
    position = start
    while position < end:
        batch = await consumer.getmany(ref, timeout_ms=1000, max_records=fetch_records)
        for record in batch.get(ref, []):
            position = record.offset + 1
            if record.offset >= end:
                return
            if record.key != key or record.value is None:
                continue
            try:
                envelope = decode_event(record.value)
            except SerdeError:
                continue
            yield record.offset, envelope

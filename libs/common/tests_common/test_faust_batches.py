"""The bounded buffer between a batched topic's fetches and its handler.

The whole path (fetch, hand-over, handling, acks and commits across worker kills) is tested
end to end by the pipeline's tests, which read audio-ingest through it.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from faust.types import Message

from livetranslate_common.faust_batches import RecordBuffer


def _records(*offsets: int) -> list[Message]:
    # The buffer never looks inside a record.
    return cast(list[Message], [cast(Any, offset) for offset in offsets])


async def test_records_come_out_in_order_at_most_a_batch_at_a_time() -> None:
    buffer = RecordBuffer(capacity=10)
    buffer.extend(_records(1, 2, 3))
    buffer.extend(_records(4, 5))
    assert await buffer.take(2) == _records(1, 2)
    assert await buffer.take(10) == _records(3, 4, 5)
    assert len(buffer) == 0


async def test_taking_waits_for_records() -> None:
    buffer = RecordBuffer(capacity=10)
    taking = asyncio.create_task(buffer.take(5))
    await asyncio.sleep(0.01)
    assert not taking.done()
    buffer.extend(_records(7))
    assert await asyncio.wait_for(taking, 1) == _records(7)


async def test_a_full_buffer_holds_the_consumer_until_the_handler_makes_room() -> None:
    buffer = RecordBuffer(capacity=3)
    buffer.extend(_records(1, 2, 3))
    waiting = asyncio.create_task(buffer.wait_for_room())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    await buffer.take(1)
    await asyncio.wait_for(waiting, 1)


async def test_clearing_drops_the_records_and_frees_the_consumer() -> None:
    buffer = RecordBuffer(capacity=2)
    buffer.extend(_records(1, 2))
    waiting = asyncio.create_task(buffer.wait_for_room())
    buffer.clear()
    await asyncio.wait_for(waiting, 1)
    assert len(buffer) == 0
    buffer.extend(_records(3))
    assert await buffer.take(5) == _records(3)


def test_a_buffer_holds_at_least_one_record() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RecordBuffer(capacity=0)

"""The app's flow control: a rebalance's revoke drops queued records, its resume does not."""

from __future__ import annotations

import pytest
from faust.transport.drivers import aiokafka as faust_aiokafka
from mode.utils.queues import FlowControlQueue

from livetranslate_common.faust_support import RecoveringApp, broker_urls


def _queue_with(app: RecoveringApp, *items: str) -> FlowControlQueue[str]:
    # A stream's input queue, as Faust creates one for every agent's channel.
    queue: FlowControlQueue[str] = FlowControlQueue(
        maxsize=10, flow_control=app.flow_control, clear_on_resume=True
    )
    for item in items:
        queue.put_nowait(item)
    return queue


async def test_records_queued_when_flow_resumes_are_kept() -> None:
    app = RecoveringApp("flow-test", broker="memory://", store="memory://")
    flow = app.flow_control
    flow.suspend()
    queue = _queue_with(app, "fetched after the seek", "and this")
    flow.resume()
    assert flow.is_active()
    assert queue.qsize() == 2
    assert queue.get_nowait() == "fetched after the seek"


async def test_revoking_partitions_still_drops_what_was_queued() -> None:
    app = RecoveringApp("flow-test", broker="memory://", store="memory://")
    queue = _queue_with(app, "stale")
    # What Faust does when partitions are revoked: suspend, then clear.
    app.flow_control.suspend()
    app.flow_control.clear()
    assert queue.qsize() == 0
    app.flow_control.resume()
    assert queue.qsize() == 0


def test_broker_urls_take_the_kafka_convention() -> None:
    assert broker_urls("a:9092, b:9093") == ["kafka://a:9092", "kafka://b:9093"]
    with pytest.raises(ValueError, match="empty"):
        broker_urls(" , ")


async def test_the_consumer_fetches_with_the_apps_wait_and_minimum_not_fausts() -> None:
    app = RecoveringApp(
        "fetch-test", broker="kafka://127.0.0.1:9", fetch_max_wait_ms=30, fetch_min_bytes=4096
    )
    consumer_service = app.consumer
    assert isinstance(consumer_service, faust_aiokafka.Consumer)
    thread = consumer_service._thread
    transport = app.transport
    assert isinstance(transport, faust_aiokafka.Transport)
    consumer = thread._create_worker_consumer(transport)
    try:
        # aiokafka builds its fetcher from this when the consumer starts; Faust would pass 1500.
        assert consumer._fetch_max_wait_ms == 30
        assert consumer._fetch_min_bytes == 4096
    finally:
        await consumer.stop()
    # No thread of its own: the consumer runs in the app's loop (see _ConsumerThread).
    assert thread.thread_loop is consumer_service.loop


def test_the_default_fetch_is_short_and_full_and_bad_settings_are_refused() -> None:
    app = RecoveringApp("fetch-test", broker="kafka://127.0.0.1:9")
    assert (app.fetch_max_wait_ms, app.fetch_min_bytes) == (20, 256 * 1024)
    with pytest.raises(ValueError, match="fetch_max_wait_ms must be at least 1"):
        RecoveringApp("fetch-test", broker="kafka://127.0.0.1:9", fetch_max_wait_ms=0)
    with pytest.raises(ValueError, match="fetch_min_bytes must be at least 1"):
        RecoveringApp("fetch-test", broker="kafka://127.0.0.1:9", fetch_min_bytes=0)

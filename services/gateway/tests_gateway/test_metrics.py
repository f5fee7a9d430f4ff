"""The gateway's Prometheus metrics, on their own port, counting a real stream and its results."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from livetranslate_common.devstack.processes import free_port
from livetranslate_common.settings import KafkaSettings
from livetranslate_common.testing.fixtures import KafkaTopics
from livetranslate_gateway.adapters.event_publisher import EventPublisher
from livetranslate_gateway.client import GatewayClient
from livetranslate_gateway.config import GatewaySettings
from livetranslate_schemas.events import SessionProcessingCompleted
from tests_gateway.served import served_gateway

PREFIX = "livetranslate_gateway_"


async def _scrape(url: str) -> dict[str, float]:
    async with httpx.AsyncClient() as http:
        response = await http.get(url)
    assert response.status_code == 200
    # Each sample by name, labelled ones as name{label="value"}.
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


async def test_metrics_count_a_live_stream_and_its_results(
    kafka_topics: KafkaTopics, database: str, api_key: str
) -> None:
    metrics_port = free_port()
    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    settings = GatewaySettings(live_chunk_ms=100, metrics_port=metrics_port)
    audio = np.random.default_rng(3).uniform(-0.3, 0.3, 16_000).astype(np.float32)  # 1 s
    publisher = EventPublisher(KafkaSettings())
    await publisher.start()
    try:
        with served_gateway(settings) as url:
            before = await _scrape(metrics_url)
            assert before[PREFIX + "live_streams_started_total"] == 0
            async with GatewayClient(url, api_key=api_key) as client:
                session_id = (await client.create_session())["session_id"]
                async with client.stream_audio(
                    session_id, audio, sample_rate_hz=16_000, realtime=False
                ) as stream:
                    async for message in stream:
                        if message["type"] == "stream_ended":
                            during = await _scrape(metrics_url)
                            await publisher.publish(
                                session_id,
                                [
                                    SessionProcessingCompleted(
                                        session_id=session_id,
                                        run_id="live",
                                        final_segment_count=0,
                                        audio_duration_ms=1000,
                                        last_seq=9,
                                    )
                                ],
                            )
            # The socket is closed; the instance notices at once or soon after. The loop's lag
            # is sampled every quarter of a second: a fast run may not have had one yet.
            async with asyncio.timeout(10):
                while (after := await _scrape(metrics_url))[PREFIX + "live_streams"] != 0 or (
                    after[PREFIX + "event_loop_lag_seconds_count"] < 1
                ):
                    await asyncio.sleep(0.1)
    finally:
        await publisher.stop()
    assert during[PREFIX + "live_streams"] == 1
    assert during[PREFIX + "result_subscriptions"] == 1
    assert after[PREFIX + "result_subscriptions"] == 0
    assert after[PREFIX + "live_streams_started_total"] == 1
    # 1 s in 100 ms chunks: every one handed to Kafka and acknowledged.
    assert after[PREFIX + "live_chunks_sent_total"] == 10
    assert after[PREFIX + "live_chunks_acknowledged_total"] == 10
    assert after[PREFIX + 'live_streams_ended_total{reason="completed"}'] == 1
    # The completion came back through audio-results to the stream's socket.
    assert after[PREFIX + "results_read_total"] >= 1
    assert after[PREFIX + "results_handed_out_total"] == 1
    assert after[PREFIX + "subscribers_overflowed_total"] == 0
    assert after[PREFIX + "unfinished_streams"] == 0
    assert after[PREFIX + "event_loop_lag_seconds_sum"] >= 0

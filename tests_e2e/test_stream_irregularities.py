"""A sender that skips, repeats and reorders chunks, and whose clock runs fast: the pipeline
tells the session's results socket of each irregularity once, the session still completes,
and the read model's projector takes the reports in its stride."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from livetranslate_common.settings import KafkaSettings
from livetranslate_gateway.adapters.event_publisher import EventPublisher
from livetranslate_gateway.client import GatewayClient
from livetranslate_schemas.events import (
    AudioChunkReceived,
    AudioConfig,
    AudioStreamEnded,
    EventPayload,
    SourceType,
)
from tests_e2e.conftest import RunningSystem

CHUNK = 3200  # 200 ms at 16 kHz
T0 = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)


def _chunk(session_id: str, seq: int) -> AudioChunkReceived:
    t = seq * CHUNK / 16_000
    return AudioChunkReceived(
        session_id=session_id,
        chunk_id=f"{session_id}:{seq:08d}",
        seq=seq,
        source_type=SourceType.STREAM,
        audio_config=AudioConfig(),
        sample_offset=seq * CHUNK,
        num_samples=CHUNK,
        # The sender's clock runs 2000 ppm fast against its audio.
        capture_time=T0 + timedelta(seconds=t * 1.002),
        audio=bytes(2 * CHUNK),
    )


async def test_irregular_chunks_and_a_fast_clock_reach_the_client_once(
    running_system: RunningSystem,
) -> None:
    publisher = EventPublisher(KafkaSettings())
    await publisher.start()
    try:
        async with GatewayClient(
            running_system.gateway_url, api_key=running_system.api_key
        ) as client:
            session_id = (await client.create_session())["session_id"]
            seqs = [0, 1, 2, 5, 3, 3, *range(6, 70)]  # 4 never comes, 3 comes late and twice
            events: list[EventPayload] = [_chunk(session_id, seq) for seq in seqs]
            events.append(
                AudioStreamEnded(
                    session_id=session_id,
                    last_seq=69,
                    total_chunks=len(seqs),
                    total_samples=70 * CHUNK,
                )
            )
            messages: list[dict[str, Any]] = []
            async with client.results(session_id) as results:
                await publisher.publish(session_id, events)
                async with asyncio.timeout(120):
                    async for message in results:
                        messages.append(message)
                        if message["type"] == "session_completed":
                            break
            # The projector read the reports on its way to the completion.
            await client.wait_until_completed(session_id)
    finally:
        await publisher.stop()
    irregular = [m for m in messages if m["type"] == "stream_irregularity"]
    assert [(m["kind"], m["seq"]) for m in irregular] == [
        ("gap", 5),
        ("reordered", 3),
        ("duplicate", 3),
        ("clock_drift", 50),  # the first chunk 10 s into the audio
    ]
    gap, _, _, drift = irregular
    assert (gap["expected_seq"], gap["missing_chunks"], gap["missing_samples"]) == (3, 2, 6400)
    assert drift["clock_drift_ppm"] == pytest.approx(2_000, rel=0.01)
    assert {m["session_id"] for m in irregular} == {session_id}
    assert messages[-1]["type"] == "session_completed"

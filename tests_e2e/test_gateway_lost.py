"""A gateway killed in the middle of a live stream cannot publish the stream's end: another
gateway does once the stream's lease lapses, and the session completes with the audio Kafka
had, the words spoken before the kill transcribed, none twice."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

from livetranslate_common.devstack.processes import free_port
from livetranslate_common.devstack.services import gateway_process
from livetranslate_common.serde import decode_event
from livetranslate_common.speech_samples import (
    SAMPLE_RATE,
    FloatSamples,
    SpokenLine,
    word_error_rate,
)
from livetranslate_common.testing.topic_reader import read_topic
from livetranslate_gateway.client import GatewayClient
from livetranslate_schemas.events import AudioChunkReceived, AudioStreamEnded
from tests_e2e.conftest import RunningSystem


async def test_a_gateway_killed_mid_stream_has_its_stream_ended_by_another(
    running_system: RunningSystem,
    meeting_speech: tuple[FloatSamples, list[SpokenLine]],
    tmp_path: Path,
) -> None:
    samples, truth = meeting_speech
    gateway = running_system.gateway
    finals: list[dict[str, Any]] = []
    killed_at_s = 0.0
    async with GatewayClient(running_system.gateway_url, api_key=running_system.api_key) as client:
        session_id = (await client.create_session(title="lost", language="en"))["session_id"]
        started = time.monotonic()
        # The socket dies with the gateway: whatever the client library raises then.
        with contextlib.suppress(Exception):
            async with client.stream_audio(
                session_id, samples, sample_rate_hz=SAMPLE_RATE, frame_ms=40
            ) as stream:
                async for message in stream:
                    if message["type"] == "segment" and message["is_final"]:
                        finals.append(message)
                    if len(finals) == 2 and not killed_at_s:
                        # Into the third sentence, then the gateway is gone, no end sent.
                        await asyncio.sleep(truth[2].start_ms / 1000 + 1.0 - _since(started))
                        assert gateway.pid is not None
                        os.kill(gateway.pid, signal.SIGKILL)
                        killed_at_s = _since(started)
    assert killed_at_s, "the gateway was never killed"
    assert [m["type"] for m in finals] == ["segment", "segment"]

    # Another gateway (behind the same load balancer, say) notices the lapsed lease.
    other = gateway_process(tmp_path, port=free_port(), env=running_system.env, name="gateway2")
    other.start(wait=False)
    try:
        await asyncio.to_thread(other.wait_ready, 60)
        async with GatewayClient(other.url or "", api_key=running_system.api_key) as client:
            transcript = await client.wait_until_completed(session_id, within_s=90)
    finally:
        other.stop()

    segments = transcript["segments"]
    # What was said before the kill, the third sentence's start included; each once.
    assert len(segments) == 3, [s["text"] for s in segments]
    assert [s["segment_id"] for s in segments[:2]] == [m["segment_id"] for m in finals]
    reference = " ".join(line.text for line in truth[:2])
    assert word_error_rate(reference, " ".join(s["text"] for s in segments[:2])) <= 0.1
    assert segments[2]["start_ms"] >= truth[2].start_ms - 300
    assert segments[2]["end_ms"] <= killed_at_s * 1000 + 300

    events = [
        decode_event(value)
        for value in read_topic(running_system.topics, "audio-ingest", key=session_id.encode())
    ]
    chunks = [e.payload for e in events if isinstance(e.payload, AudioChunkReceived)]
    (end,) = [e.payload for e in events if isinstance(e.payload, AudioStreamEnded)]
    assert end.reason == "gateway_lost"
    # Ended with what the dead gateway had recorded as acknowledged at its last renewal: at
    # most every chunk in the log, and at most a renewal (1 s) short of it.
    assert len(chunks) - 10 <= end.total_chunks <= len(chunks)
    assert [c.seq for c in chunks] == list(range(len(chunks)))


def _since(started: float) -> float:
    return time.monotonic() - started

"""Live streaming figures: a conversation streamed at real-time pace over the live socket."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from benchmarks.system import BenchSystem
from livetranslate_common.speech_samples import (
    MEETING_SCRIPT,
    SAMPLE_RATE,
    conversation,
    word_error_rate,
)
from livetranslate_gateway.client import GatewayClient


@dataclass(frozen=True, slots=True)
class LiveFigures:
    # End of each utterance (true speech end) to its final segment on the client's socket.
    latencies_ms: list[float]
    # First partial of each utterance after the utterance's true start.
    first_partial_ms: list[float]
    wer: float
    finals: int
    utterances: int


async def live_run(system: BenchSystem) -> LiveFigures:
    samples, truth = conversation([("piper", line) for line in MEETING_SCRIPT], pause_s=1.2)
    received: list[tuple[float, dict[str, Any]]] = []
    async with GatewayClient(system.gateway_url) as client:
        session_id = (await client.create_session(title="bench live"))["session_id"]
        async with client.stream_audio(
            session_id, samples, sample_rate_hz=SAMPLE_RATE, frame_ms=40
        ) as stream:
            started = time.monotonic()
            async with asyncio.timeout(len(samples) / SAMPLE_RATE + 120):
                async for message in stream:
                    received.append(((time.monotonic() - started) * 1000, message))
                    if message["type"] == "session_completed":
                        break
    finals = [(at, m) for at, m in received if m["type"] == "segment" and m["is_final"]]
    latencies = [at - line.end_ms for line, (at, _) in zip(truth, finals, strict=False)]
    first_partials = []
    for line, (_, final) in zip(truth, finals, strict=False):
        partial_times = [
            at
            for at, m in received
            if m["type"] == "segment"
            and not m["is_final"]
            and m["segment_id"] == final["segment_id"]
        ]
        if partial_times:
            first_partials.append(min(partial_times) - line.start_ms)
    reference = " ".join(line.text for line in truth)
    return LiveFigures(
        latencies_ms=latencies,
        first_partial_ms=first_partials,
        wer=word_error_rate(reference, " ".join(m["text"] for _, m in finals)),
        finals=len(finals),
        utterances=len(truth),
    )

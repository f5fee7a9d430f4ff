"""A live conversation streamed at real-time pace through the live WebSocket.

Checks what a person watching would: the words, who said them, partial results before the
final ones, and segment timing; and that killing the pipeline worker mid-stream loses and
repeats nothing.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from typing import Any

import numpy as np

from livetranslate_common.speech_samples import (
    SAMPLE_RATE,
    FloatSamples,
    SpokenLine,
    conversation,
    word_error_rate,
)
from livetranslate_gateway.client import GatewayClient
from tests_e2e.conftest import RunningSystem

CONVERSATION = [
    ("piper", "Good morning, shall we start with the budget review?"),
    ("en-gb-x-rp+f3", "Yes, the numbers for the last quarter are ready."),
    ("piper", "Great, how much did we spend on marketing this time?"),
    ("en-gb-x-rp+f3", "A little less than we had planned for the year."),
    ("en-gb-x-rp+f3", "Most of the savings came from the trade fair in spring."),
    ("piper", "Then we can move that money to the product launch."),
    ("en-gb-x-rp+f3", "I agree, let us write that into the plan today."),
]


async def _stream(
    system: RunningSystem,
    samples: FloatSamples,
    *,
    during: Any = None,
) -> tuple[str, list[tuple[float, dict[str, Any]]]]:
    """Stream the audio live; every message with its arrival time (since the start)."""
    async with GatewayClient(system.gateway_url, api_key=system.api_key) as client:
        session_id = (await client.create_session(title="live", language="en"))["session_id"]
        received: list[tuple[float, dict[str, Any]]] = []
        side_task = None
        async with client.stream_audio(
            session_id, samples, sample_rate_hz=SAMPLE_RATE, frame_ms=40
        ) as stream:
            started = time.monotonic()
            if during is not None:
                side_task = asyncio.create_task(during(received))
            async with asyncio.timeout(len(samples) / SAMPLE_RATE + 120):
                async for message in stream:
                    received.append((time.monotonic() - started, message))
                    if message["type"] == "session_completed":
                        break
        if side_task is not None:
            await side_task
        return session_id, received


def _finals(received: list[tuple[float, dict[str, Any]]]) -> list[tuple[float, dict[str, Any]]]:
    return [(at, m) for at, m in received if m["type"] == "segment" and m["is_final"]]


async def test_two_person_conversation_live(running_system: RunningSystem) -> None:
    samples, truth = conversation(CONVERSATION, pause_s=1.2)
    _, received = await _stream(running_system, samples)
    finals = _finals(received)
    assert [m["type"] for _, m in received if m["type"] == "error"] == []
    assert len(finals) == len(truth), [m["text"] for _, m in finals]

    reference = " ".join(line.text for line in truth)
    wer = word_error_rate(reference, " ".join(m["text"] for _, m in finals))
    assert wer <= 0.10, [m["text"] for _, m in finals]

    # Speakers: labels mapped to voices by majority; at least 90% right, exactly two.
    pairs = [(line.speaker, m["speaker"]) for line, (_, m) in zip(truth, finals, strict=True)]
    mapping = {
        voice: Counter(label for v, label in pairs if v == voice).most_common(1)[0][0]
        for voice in {v for v, _ in pairs}
    }
    right = sum(mapping[voice] == label for voice, label in pairs)
    assert right / len(pairs) >= 0.9, pairs
    assert len(set(mapping.values())) == 2

    # Partials come first: every final of a sentence longer than 2 s had one before it.
    for line, (final_at, final) in zip(truth, finals, strict=True):
        partials = [
            at
            for at, m in received
            if m["type"] == "segment"
            and not m["is_final"]
            and m["segment_id"] == final["segment_id"]
        ]
        if line.end_ms - line.start_ms > 2000:
            assert partials, f"no partial before {final['text']!r}"
        assert all(at < final_at for at in partials)

    # Timing: segment boundaries within 300 ms of where the speech really starts and ends.
    for line, (_, final) in zip(truth, finals, strict=True):
        assert abs(final["start_ms"] - line.start_ms) <= 300, (final, line)
        assert abs(final["end_ms"] - line.end_ms) <= 300, (final, line)

    latencies = [at * 1000 - line.end_ms for line, (at, _) in zip(truth, finals, strict=True)]
    print(
        f"\nlive: WER {wer:.3f}, speakers {right}/{len(pairs)}, end of speech -> final "
        f"p50 {np.percentile(latencies, 50):.0f} ms, max {max(latencies):.0f} ms"
    )


async def test_pipeline_killed_mid_stream_loses_and_repeats_nothing(
    running_system: RunningSystem, meeting_speech: tuple[FloatSamples, list[SpokenLine]]
) -> None:
    samples, truth = meeting_speech
    kills: list[float] = []

    async def kill_after_two_finals(received: list[tuple[float, dict[str, Any]]]) -> None:
        while len(_finals(received)) < 2:
            await asyncio.sleep(0.1)
        pipeline = running_system.pipeline
        assert pipeline.pid is not None
        os.kill(pipeline.pid, signal.SIGKILL)
        kills.append(time.monotonic())
        while pipeline.is_running():
            await asyncio.sleep(0.05)
        pipeline.start(wait=False)
        await asyncio.to_thread(pipeline.wait_ready, 120)

    session_id, received = await _stream(running_system, samples, during=kill_after_two_finals)
    assert kills, "the worker was never killed"
    # The client's stream had no gaps: one reported means the new worker skipped records.
    irregular = [m for _, m in received if m["type"] == "stream_irregularity"]
    assert irregular == [], irregular
    finals = _finals(received)
    segment_ids = [m["segment_id"] for _, m in finals]
    assert len(segment_ids) == len(set(segment_ids)), "a final segment was repeated"
    assert len(finals) == len(truth), [m["text"] for _, m in finals]
    reference = " ".join(line.text for line in truth)
    texts = [(m["start_ms"], m["end_ms"], m["text"]) for _, m in finals]
    assert word_error_rate(reference, " ".join(m["text"] for _, m in finals)) <= 0.10, texts
    assert received[-1][1]["final_segment_count"] == len(truth)

    # The read model agrees: every sentence once.
    async with GatewayClient(running_system.gateway_url, api_key=running_system.api_key) as client:
        transcript = await client.wait_until_completed(session_id)
    assert [s["segment_id"] for s in transcript["segments"]] == segment_ids

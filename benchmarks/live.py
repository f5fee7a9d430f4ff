"""Live streaming figures: a two-voice conversation streamed at real-time pace over the socket."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from benchmarks.system import BenchSystem
from livetranslate_common.speech_samples import (
    MEETING_SCRIPT,
    SAMPLE_RATE,
    FloatSamples,
    SpokenLine,
    conversation,
    word_error_rate,
)
from livetranslate_gateway.client import GatewayClient

# Twelve utterances, two clearly different voices taking turns.
_MORE_LINES = [
    "The budget for travel stays the same as last year.",
    "We found two good candidates for the designer position.",
    "Could you share the interview notes with the whole team?",
    "The launch date depends on the results of the user study.",
    "I will ask the support team for their numbers by Friday.",
    "Thank you all, that was a productive meeting.",
]
VOICES = ("piper", "en-gb-x-rp+f3")
LIVE_SCRIPT = [
    (VOICES[index % 2], line) for index, line in enumerate([*MEETING_SCRIPT, *_MORE_LINES])
]


def live_conversation() -> tuple[FloatSamples, list[SpokenLine]]:
    return conversation(LIVE_SCRIPT, pause_s=1.2)


@dataclass(frozen=True, slots=True)
class LiveFigures:
    # End of each utterance (true speech end) to its final segment on the client's socket.
    latencies_ms: list[float]
    # First partial of each utterance after the utterance's true start.
    first_partial_ms: list[float]
    wer: float
    finals: int
    utterances: int
    # Final segments whose speaker label is the one most of that voice's segments got.
    speakers_right: int


async def stream_session(
    client: GatewayClient, samples: FloatSamples, *, title: str
) -> list[tuple[float, dict[str, Any]]]:
    """Stream at real-time pace; every message with its arrival time (ms since the start)."""
    received: list[tuple[float, dict[str, Any]]] = []
    session_id = (await client.create_session(title=title, language="en"))["session_id"]
    async with client.stream_audio(
        session_id, samples, sample_rate_hz=SAMPLE_RATE, frame_ms=40
    ) as stream:
        started = time.monotonic()
        async with asyncio.timeout(len(samples) / SAMPLE_RATE + 120):
            async for message in stream:
                received.append(((time.monotonic() - started) * 1000, message))
                if message["type"] == "session_completed":
                    break
    return received


def live_figures(
    truth: list[SpokenLine], received: list[tuple[float, dict[str, Any]]]
) -> LiveFigures:
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
        speakers_right=_speakers_right(truth, [m for _, m in finals]),
    )


def _speakers_right(truth: list[SpokenLine], finals: list[dict[str, Any]]) -> int:
    by_voice: dict[str, list[str | None]] = {}
    for line, final in zip(truth, finals, strict=False):
        by_voice.setdefault(line.speaker, []).append(final.get("speaker"))
    right = 0
    for labels in by_voice.values():
        most = max(set(labels), key=labels.count)
        right += labels.count(most) if most is not None else 0
    return right


async def live_run(
    system: BenchSystem, samples: FloatSamples, truth: list[SpokenLine]
) -> LiveFigures:
    async with GatewayClient(system.gateway_url) as client:
        received = await stream_session(client, samples, title="bench live")
    return live_figures(truth, received)

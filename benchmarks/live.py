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
# Thirty-six more for the word error rate: one word in 140 is 0.7 points, too coarse to
# tell whether streaming is within 1 point of the whole file; 48 lines hold about 500 words.
# No numbers: "two" against Whisper's "2" is a formatting difference, not a misheard word.
_LONG_LINES = [
    "Before we start, did everyone get the agenda I sent yesterday?",
    "Yes, and I added a few points about the office move.",
    "Good, we will take those at the end if there is time.",
    "The new office has room for everyone and a bigger kitchen.",
    "When can we see it before we sign the contract?",
    "The landlord offered a visit on Tuesday morning.",
    "That works for me, but the sales team is travelling that week.",
    "Then we should record a short video for them.",
    "Moving on, the mobile release is planned for the end of the month.",
    "Are the crash reports from the last version under control?",
    "Most of them came from one old phone model, and the fix is ready.",
    "How many users still have that model?",
    "Only a small share, mostly in the southern region.",
    "Let us keep supporting it until the next major version.",
    "I agree, dropping it now would cause more support calls.",
    "Next, the hiring plan for the second half of the year.",
    "We need more engineers and someone for customer success.",
    "Should we look for senior people or train juniors?",
    "A senior engineer and a junior would balance the team.",
    "The recruiting agency can send us profiles next week.",
    "Please make sure the job descriptions are updated first.",
    "I will rewrite them today and share the drafts tonight.",
    "What about the training budget for the current staff?",
    "Each person has a budget for courses this year.",
    "Several people asked about the conference in Berlin.",
    "If the talks are relevant, some of us can go.",
    "I would like to present our work on speech recognition there.",
    "That is a great idea, please submit the proposal by Monday.",
    "Before we close, are there any risks we have not discussed?",
    "The payment provider changes its interface in November.",
    "Do we have someone assigned to that migration?",
    "Not yet, but it should take less than a week.",
    "Then let us put it on the plan for early October.",
    "I will write a summary of today and send it to everyone.",
    "Thanks, and please include the decisions about the office.",
    "See you all next week, and enjoy the rest of your day.",
]
VOICES = ("piper", "en-gb-x-rp+f3")
LIVE_SCRIPT = [
    (VOICES[index % 2], line) for index, line in enumerate([*MEETING_SCRIPT, *_MORE_LINES])
]
LONG_SCRIPT = [
    *LIVE_SCRIPT,
    *((VOICES[index % 2], line) for index, line in enumerate(_LONG_LINES)),
]


def live_conversation(
    script: list[tuple[str, str]] = LIVE_SCRIPT,
) -> tuple[FloatSamples, list[SpokenLine]]:
    return conversation(script, pause_s=1.2)


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
    async with GatewayClient(system.gateway_url, api_key=system.api_key) as client:
        received = await stream_session(client, samples, title="bench live")
    return live_figures(truth, received)

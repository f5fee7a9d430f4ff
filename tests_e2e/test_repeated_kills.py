"""Several live sessions while the pipeline worker is killed (SIGKILL) again and again: every
session's final transcript comes out as in an undisturbed run, with no final segment missing
or repeated on the socket, in the topic (after dropping redeliveries by idempotency key) or in
PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from typing import Any

from livetranslate_common.serde import decode_event
from livetranslate_common.speech_samples import MEETING_SCRIPT, conversation
from livetranslate_common.testing.topic_reader import read_topic
from livetranslate_gateway.client import GatewayClient
from livetranslate_schemas.events import TranscriptionCompleted
from tests_e2e.conftest import RunningSystem
from tests_e2e.test_live_stream import _finals, _stream

KILLS = 5
SESSIONS = 3


def _transcript(received: list[tuple[float, dict[str, Any]]]) -> list[tuple[int, int, str]]:
    return [(m["start_ms"], m["end_ms"], m["text"]) for _, m in _finals(received)]


async def test_five_worker_kills_leave_every_transcript_as_undisturbed(
    running_system: RunningSystem,
) -> None:
    # About a minute of speech: long enough for all five kills to land while audio streams.
    samples, truth = conversation([("piper", line) for line in MEETING_SCRIPT * 2])
    _, undisturbed = await _stream(running_system, samples)
    expected = _transcript(undisturbed)
    assert len(expected) == len(truth), expected

    pipeline = running_system.pipeline
    kills = 0
    kill_times: list[float] = []
    started = time.monotonic()

    async def kill_repeatedly() -> None:
        nonlocal kills
        for _ in range(KILLS):
            # A moment of work after each start (a restart takes about ten seconds here).
            await asyncio.sleep(2.0)
            assert pipeline.pid is not None
            os.kill(pipeline.pid, signal.SIGKILL)
            kills += 1
            kill_times.append(time.monotonic() - started)
            while pipeline.is_running():
                await asyncio.sleep(0.05)
            pipeline.start(wait=False)
            await asyncio.to_thread(pipeline.wait_ready, 120)

    killer = asyncio.create_task(kill_repeatedly())
    streams = await asyncio.gather(*(_stream(running_system, samples) for _ in range(SESSIONS)))
    await killer
    assert kills == KILLS
    # Every kill landed before the sessions were done.
    assert max(kill_times) < min(received[-1][0] for _, received in streams)
    done_at = [received[-1][0] for _, received in streams]
    kill_list = [round(t) for t in kill_times]
    print(f"\nkilled at {kill_list} s; sessions done at {[round(t) for t in done_at]} s")
    session_ids = [session_id for session_id, _ in streams]

    for session_id, received in streams:
        # The socket: no gap reported, each final once, the same transcript as undisturbed.
        irregular = [m for _, m in received if m["type"] == "stream_irregularity"]
        assert irregular == [], (session_id, irregular)
        ids = [m["segment_id"] for _, m in _finals(received)]
        assert len(ids) == len(set(ids)), (session_id, "a final was repeated")
        assert _transcript(received) == expected, (session_id, _transcript(received), expected)
        assert received[-1][1]["final_segment_count"] == len(expected)

    # The topic: after dropping redeliveries (the same segment id and final revision), one
    # final per segment, and the same ones as on the socket.
    finals: dict[str, Counter[str]] = {session_id: Counter() for session_id in session_ids}
    seen: set[tuple[str, int]] = set()
    for value in read_topic(running_system.topics, "audio-results"):
        payload = decode_event(value).payload
        if (
            isinstance(payload, TranscriptionCompleted)
            and payload.is_final
            and payload.session_id in finals
        ):
            key = (payload.segment_id, payload.revision)
            if key not in seen:
                finals[payload.session_id][payload.segment_id] += 1
            seen.add(key)
    for session_id, received in streams:
        on_socket = {m["segment_id"] for _, m in _finals(received)}
        assert set(finals[session_id]) == on_socket, session_id
        assert max(finals[session_id].values()) == 1, finals[session_id]

    # PostgreSQL: every session's transcript, each segment once, as on the socket.
    async with GatewayClient(running_system.gateway_url, api_key=running_system.api_key) as client:
        for session_id in session_ids:
            transcript = await client.wait_until_completed(session_id)
            stored = [(s["start_ms"], s["end_ms"], s["text"]) for s in transcript["segments"]]
            assert stored == expected, session_id

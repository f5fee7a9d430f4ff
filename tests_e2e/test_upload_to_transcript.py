"""Real speech through gateway, Kafka, pipeline, Kafka, gateway and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from typing import Any

import psycopg

from livetranslate_common.readmodel.rebuild import READ_MODEL_TABLES
from livetranslate_common.replay_cli import PROJECTED_TOPICS, rebuild
from livetranslate_common.speech_samples import (
    FloatSamples,
    SpokenLine,
    to_wav_bytes,
    word_error_rate,
)
from livetranslate_gateway.client import GatewayClient
from tests_e2e.conftest import RunningSystem


async def _upload_and_listen(
    client: GatewayClient, session_id: str, audio: bytes
) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    async with client.results(session_id) as results:
        upload = asyncio.create_task(
            client.upload_audio(session_id, audio, content_type="audio/wav")
        )
        async with asyncio.timeout(180):
            async for message in results:
                messages.append(message)
                if message["type"] == "session_completed":
                    break
        await upload
    return messages


def _table_snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(url) as conn:
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3").fetchall()
            for table in READ_MODEL_TABLES
        }


async def _rename_after_the_end(client: GatewayClient, session_id: str, database_url: str) -> None:
    """Rename the speaker of a completed session; the pipeline echoes the complete mapping to
    the results socket and the projector stores it."""
    async with client.results(session_id) as results:
        answer = await client.name_speakers(session_id, {"SPEAKER_00": "Grace"})
        assert answer["names"] == {"SPEAKER_00": "Grace"}
        async with asyncio.timeout(60):
            echo = await anext(m async for m in results if m["type"] == "speaker_names")
    assert echo["names"] == {"SPEAKER_00": "Grace"}
    projected_at = datetime.fromisoformat(echo["emitted_at"])
    async with asyncio.timeout(30):
        while True:
            with psycopg.connect(database_url) as conn:
                row = conn.execute(
                    "SELECT updated_at FROM session_speaker_names WHERE session_id = %s",
                    (session_id,),
                ).fetchone()
            if row is not None and row[0] == projected_at:
                break
            await asyncio.sleep(0.1)
    transcript = await client.transcript(session_id)
    assert transcript["speaker_names"] == {"SPEAKER_00": "Grace"}
    named = [s for s in transcript["segments"] if s["speaker"] == "SPEAKER_00"]
    assert named
    assert {s["speaker_name"] for s in named} == {"Grace"}


async def test_speech_in_words_out(
    running_system: RunningSystem, meeting_speech: tuple[FloatSamples, list[SpokenLine]]
) -> None:
    samples, truth = meeting_speech
    reference = " ".join(line.text for line in truth)
    async with GatewayClient(running_system.gateway_url, api_key=running_system.api_key) as client:
        session_id = (
            await client.create_session(
                title="weekly planning", speaker_names={"SPEAKER_00": "Ada"}
            )
        )["session_id"]
        started = time.monotonic()
        messages = await _upload_and_listen(client, session_id, to_wav_bytes(samples))
        elapsed = time.monotonic() - started
        finals = [m for m in messages if m["type"] == "segment" and m["is_final"]]
        assert [m["type"] for m in messages if m["type"] == "error"] == []
        hypothesis = " ".join(m["text"] for m in finals)
        wer = word_error_rate(reference, hypothesis)
        print(f"\n{len(finals)} final segments in {elapsed:.1f} s, WER {wer:.3f}")
        assert wer <= 0.10, hypothesis
        assert messages[-1]["final_segment_count"] == len(finals)
        assert len({m["segment_id"] for m in finals}) == len(finals)
        starts = [m["start_ms"] for m in finals]
        assert starts == sorted(starts)
        assert all(m["start_ms"] < m["end_ms"] for m in finals)
        # The name given at creation rides on its speaker's segments (and only on theirs).
        named = [m for m in finals if m["speaker"] == "SPEAKER_00"]
        assert named
        assert all(m["speaker_name"] == "Ada" for m in named)
        assert all(m["speaker_name"] is None for m in finals if m["speaker"] != "SPEAKER_00")

        # The read model, filled by the projector, says the same as the live socket.
        transcript = await client.wait_until_completed(session_id)
        stored = [
            (s["segment_id"], s["text"], s["start_ms"], s["end_ms"]) for s in transcript["segments"]
        ]
        live = [(m["segment_id"], m["text"], m["start_ms"], m["end_ms"]) for m in finals]
        assert stored == live
        await _rename_after_the_end(client, session_id, running_system.database_url)

    # The rebuild command replaces the read model by the projection of audio-results and
    # audio-reprocess (the audio is never read): row for row what live projection wrote,
    # twice over.
    before = _table_snapshot(running_system.database_url)
    assert len(before["segments"]) == len(finals)
    topics = running_system.topics
    for _ in range(2):
        summary = await rebuild(
            topics.bootstrap_servers,
            [topics[name] for name in PROJECTED_TOPICS],
            running_system.database_url,
            progress=False,
        )
        assert summary.undecodable == 0
        assert summary.by_type["SessionCreated"] >= 1
        assert _table_snapshot(running_system.database_url) == before
    # Keep a record of what the words came out as, for whoever reads the test log.
    print(json.dumps([m["text"] for m in finals], indent=1))

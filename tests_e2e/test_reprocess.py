"""Reprocessing real speech: a session uploaded and transcribed live is run again from
audio-ingest, through the API (another model, a time range) and through the command, and each
run's transcript stands beside the live one."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from livetranslate_common import replay_cli
from livetranslate_common.devstack.processes import ManagedProcess
from livetranslate_common.speech_samples import (
    FloatSamples,
    SpokenLine,
    to_wav_bytes,
    word_error_rate,
)
from livetranslate_gateway.client import GatewayClient
from tests_e2e.conftest import RunningSystem


async def _transcribed_live(
    client: GatewayClient, samples: FloatSamples
) -> tuple[str, dict[str, Any]]:
    session = await client.create_session(language="en", diarize=False)
    session_id = session["session_id"]
    await client.upload_audio(session_id, to_wav_bytes(samples), content_type="audio/wav")
    return session_id, await client.wait_until_completed(session_id, within_s=120)


async def _follow(client: GatewayClient, session_id: str, run_id: str) -> list[dict[str, Any]]:
    """The run's messages on its results socket, until its completion."""
    messages: list[dict[str, Any]] = []
    async with client.results(session_id, run=run_id) as results, asyncio.timeout(240):
        async for message in results:
            messages.append(message)
            if message["type"] == "run_progress" and message["status"] != "RUNNING":
                break
    return messages


async def _wait_for_run(client: GatewayClient, session_id: str, run_id: str) -> dict[str, Any]:
    """The run as the read model has it once it is over (the projector lags the socket)."""
    async with asyncio.timeout(60):
        while (run := await client.run(session_id, run_id))["status"] in ("REQUESTED", "RUNNING"):
            await asyncio.sleep(0.2)
    return run


def _text(transcript: dict[str, Any]) -> str:
    return " ".join(segment["text"] for segment in transcript["segments"])


async def test_a_range_run_with_another_model_stands_beside_the_live_transcript(
    running_system: RunningSystem,
    reprocess_worker: ManagedProcess,
    meeting_speech: tuple[FloatSamples, list[SpokenLine]],
) -> None:
    samples, truth = meeting_speech
    async with GatewayClient(running_system.gateway_url, api_key=running_system.api_key) as client:
        session_id, live = await _transcribed_live(client, samples)
        # Lines 3 and 4, from the pauses around them, with the multilingual base model.
        start_ms = (truth[1].end_ms + truth[2].start_ms) // 2
        end_ms = (truth[3].end_ms + truth[4].start_ms) // 2
        run = await client.reprocess(
            session_id, model="base", language="en", start_ms=start_ms, end_ms=end_ms
        )
        assert run["status"] == "REQUESTED"
        messages = await _follow(client, session_id, run["run_id"])
        done = await _wait_for_run(client, session_id, run["run_id"])
        rerun = await client.transcript(session_id, run=run["run_id"])
        live_again = await client.transcript(session_id)

    reports = [m for m in messages if m["type"] == "run_progress"]
    assert reports[0]["status"] == "RUNNING"
    assert reports[-1]["status"] == "COMPLETED"
    assert {m["run_id"] for m in messages if "run_id" in m} == {run["run_id"]}
    segments = [m for m in messages if m["type"] == "segment"]
    assert segments
    assert all(m["is_final"] for m in segments)  # a run publishes no partial results

    assert done["status"] == "COMPLETED"
    assert done["model"] == "base"
    assert done["pipeline_version"]
    assert done["progress"] == 1.0
    assert done["total_ms"] == end_ms - start_ms
    assert done["final_segment_count"] == len(rerun["segments"]) == len(segments)
    reference = f"{truth[2].text} {truth[3].text}"
    assert word_error_rate(reference, _text(rerun)) <= 0.2, _text(rerun)
    assert all(
        start_ms - 300 <= s["start_ms"] and s["end_ms"] <= end_ms + 300 for s in rerun["segments"]
    )
    # The live transcript is untouched, and both are there to compare.
    assert live_again["segments"] == live["segments"]
    assert len(live["segments"]) == len(truth)


async def test_the_command_reprocesses_a_whole_session_with_a_progress_report(
    running_system: RunningSystem,
    reprocess_worker: ManagedProcess,
    meeting_speech: tuple[FloatSamples, list[SpokenLine]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    samples, truth = meeting_speech
    async with GatewayClient(running_system.gateway_url, api_key=running_system.api_key) as client:
        session_id, live = await _transcribed_live(client, samples)
        topics = running_system.topics
        code = await asyncio.to_thread(
            replay_cli.main,
            [
                "reprocess",
                session_id,
                "--bootstrap",
                topics.bootstrap_servers,
                "--prefix",
                topics.prefix,
                "--database-url",
                running_system.database_url,
                "--run-id",
                "rp-cli-whole",
            ],
        )
        captured = capsys.readouterr()
        assert code == replay_cli.EXIT_OK, captured.err
        done = await _wait_for_run(client, session_id, "rp-cli-whole")
        rerun = await client.transcript(session_id, run="rp-cli-whole")

    assert "run rp-cli-whole completed" in captured.out
    assert "s audio" in captured.err  # the progress bar
    assert done["status"] == "COMPLETED"
    assert done["processed_ms"] == done["total_ms"] == len(samples) * 1000 // 16_000
    reference = " ".join(line.text for line in truth)
    assert word_error_rate(reference, _text(rerun)) <= 0.15, _text(rerun)
    # Same model, same audio, same settings: the same segments as live, under their own run.
    assert [s["segment_id"] for s in rerun["segments"]] == [
        s["segment_id"] for s in live["segments"]
    ]

    unknown = replay_cli.main(
        [
            "reprocess",
            "00000000-0000-4000-8000-000000000000",
            "--database-url",
            running_system.database_url,
            "--bootstrap",
            topics.bootstrap_servers,
        ]
    )
    assert unknown == replay_cli.EXIT_UNKNOWN_SESSION

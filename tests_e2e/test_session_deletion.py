"""Deleting a transcribed session through the whole system: the pipeline forwards the
deletion to audio-results (so the topic still tells the session's whole story, and a rebuild
drops it) and the read model loses it."""

from __future__ import annotations

import asyncio

import pytest

from livetranslate_common.serde import decode_event
from livetranslate_common.speech_samples import FloatSamples, SpokenLine, to_wav_bytes
from livetranslate_common.testing.topic_reader import read_topic
from livetranslate_gateway.client import GatewayClient, GatewayRequestError
from livetranslate_schemas.events import SessionDeleted
from tests_e2e.conftest import RunningSystem


async def test_a_transcribed_session_is_deleted_through_the_log(
    running_system: RunningSystem, short_speech: tuple[FloatSamples, list[SpokenLine]]
) -> None:
    samples, _ = short_speech
    async with GatewayClient(running_system.gateway_url, api_key=running_system.api_key) as client:
        session_id = (await client.create_session(title="to forget"))["session_id"]
        await client.upload_audio(session_id, to_wav_bytes(samples))
        transcript = await client.wait_until_completed(session_id, within_s=120)
        assert transcript["segments"], "nothing transcribed"
        await client.delete_session(session_id)
        with pytest.raises(GatewayRequestError) as missing:
            await client.transcript(session_id)
        assert missing.value.status_code == 404
        assert session_id not in [s["session_id"] for s in (await client.sessions())["sessions"]]

    def forwarded() -> list[SessionDeleted]:
        values = read_topic(running_system.topics, "audio-results", key=session_id.encode())
        payloads = [decode_event(value).payload for value in values]
        return [p for p in payloads if isinstance(p, SessionDeleted)]

    async with asyncio.timeout(60):
        while not (found := await asyncio.to_thread(forwarded)):
            await asyncio.sleep(0.5)
    assert [event.session_id for event in found] == [session_id]

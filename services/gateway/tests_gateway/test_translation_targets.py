"""A session's translation targets, changed through the API while its audio streams in on
another gateway instance: the chunks cut after the change carry the new targets."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from livetranslate_common.pcm import float_to_pcm16
from livetranslate_common.serde import decode_event
from livetranslate_common.speech_samples import silence, to_wav_bytes
from livetranslate_common.testing.fixtures import KafkaTopics
from livetranslate_common.testing.topic_reader import read_topic
from livetranslate_gateway.config import GatewaySettings
from livetranslate_gateway.main import create_app
from livetranslate_schemas.events import AudioChunkReceived
from tests_gateway.conftest import assert_problem, bearer

FRAME = float_to_pcm16(silence(0.2))  # one 200 ms chunk


@pytest.fixture
def client(kafka_topics: KafkaTopics, auth_headers: dict[str, str]) -> Iterator[TestClient]:
    app = create_app(GatewaySettings(live_chunk_ms=200, live_burst_s=0.5))
    with TestClient(app, headers=auth_headers) as test_client:
        yield test_client


def _targets_of_chunks(topics: KafkaTopics, session_id: str) -> list[list[str]]:
    payloads = [
        decode_event(value).payload
        for value in read_topic(topics, "audio-ingest", key=session_id.encode())
    ]
    return [
        list(p.processing_flags.translate_to) if p.processing_flags else []
        for p in payloads
        if isinstance(p, AudioChunkReceived)
    ]


def test_targets_are_read_changed_and_validated(client: TestClient, other_tenant_key: str) -> None:
    session_id = client.post("/api/sessions", json={"translate_to": ["es"]}).json()["session_id"]
    path = f"/api/sessions/{session_id}/translation-targets"
    assert client.get(path).json() == {"session_id": session_id, "translate_to": ["es"]}
    changed = client.put(path, json={"translate_to": ["de", "fr", "de"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["translate_to"] == ["de", "fr"]
    assert client.get(path).json()["translate_to"] == ["de", "fr"]
    too_many = {"translate_to": ["de", "fr", "it", "pt", "nl", "sv"]}
    assert_problem(client.put(path, json=too_many), 422, "invalid_request")
    assert_problem(client.put(path, json={"translate_to": ["x!"]}), 422, "invalid_request")
    assert_problem(client.get(path, headers=bearer(other_tenant_key)), 404, "session_not_found")
    upload = client.post(f"/api/sessions/{session_id}/audio", content=to_wav_bytes(silence(0.5)))
    assert upload.status_code == 202
    assert_problem(client.put(path, json={"translate_to": []}), 409, "session_closed")


def test_a_change_reaches_a_stream_on_another_gateway(
    client: TestClient, kafka_topics: KafkaTopics, auth_headers: dict[str, str]
) -> None:
    session_id = client.post("/api/sessions", json={"translate_to": ["es"]}).json()["session_id"]
    with (
        TestClient(create_app(GatewaySettings()), headers=auth_headers) as other,
        client.websocket_connect(f"/ws/sessions/{session_id}/audio") as stream,
    ):
        stream.send_json({"type": "start", "sample_rate_hz": 16_000, "encoding": "pcm_s16le"})
        assert stream.receive_json()["type"] == "ready"
        for _ in range(2):
            stream.send_bytes(FRAME)
        time.sleep(0.5)  # both chunks cut (and published) before the change
        changed = other.put(
            f"/api/sessions/{session_id}/translation-targets", json={"translate_to": ["de"]}
        )
        assert changed.status_code == 200, changed.text
        for _ in range(15):  # three seconds of audio at real time after the change
            stream.send_bytes(FRAME)
            time.sleep(0.2)
        stream.send_json({"type": "end"})
        assert stream.receive_json()["type"] == "stream_ended"
    targets = _targets_of_chunks(kafka_topics, session_id)
    assert len(targets) == 17
    switch = targets.index(["de"])
    # The old targets up to the change, the new ones from a chunk soon after it, never back.
    assert switch >= 2
    assert targets == [["es"]] * switch + [["de"]] * (17 - switch)

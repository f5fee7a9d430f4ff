"""Live streams' leases on real Kafka and PostgreSQL: a stream keeps its lease alive with
what Kafka has of it; a lapsed one is ended by exactly one gateway, and only if its own
gateway had not ended it. (A gateway killed mid-stream, end to end:
tests_e2e/test_gateway_lost.py.)"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from livetranslate_common.pcm import float_to_pcm16
from livetranslate_common.serde import decode_event
from livetranslate_common.speech_samples import silence, to_wav_bytes
from livetranslate_common.testing.fixtures import KafkaTopics
from livetranslate_common.testing.topic_reader import read_topic
from livetranslate_gateway.config import GatewaySettings
from livetranslate_gateway.main import create_app
from livetranslate_schemas.events import AudioChunkReceived, AudioStreamEnded
from tests_gateway.conftest import bearer

LEASE_S = 1.0  # renewed, and looked for lapsed ones, every third of a second


def _app(api_key: str, **settings: Any) -> TestClient:
    app = create_app(GatewaySettings(live_lease_s=LEASE_S, **settings))
    return TestClient(app, headers=bearer(api_key))


def _session(client: TestClient) -> str:
    response = client.post("/api/sessions", json={})
    assert response.status_code == 201, response.text
    session_id: str = response.json()["session_id"]
    return session_id


def _sql(client: TestClient, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    app = client.app

    async def run() -> list[tuple[Any, ...]]:
        async with app.state.db_pool.connection() as conn:  # type: ignore[attr-defined]
            cursor = await conn.execute(statement, params)
            return await cursor.fetchall() if cursor.description else []

    assert client.portal is not None
    return client.portal.call(run)


def _lease(client: TestClient, session_id: str) -> tuple[Any, ...]:
    (row,) = _sql(
        client,
        "SELECT lease_until > now(), acknowledged_chunks, acknowledged_samples,"
        " ended_at IS NOT NULL FROM session_audio_sources WHERE session_id = %s",
        session_id,
    )
    return row


def _ends(topics: KafkaTopics, session_id: str) -> list[AudioStreamEnded]:
    events = [decode_event(v) for v in read_topic(topics, "audio-ingest", key=session_id.encode())]
    return [e.payload for e in events if isinstance(e.payload, AudioStreamEnded)]


def test_a_live_stream_keeps_its_lease_with_what_kafka_has_then_ends_it(
    kafka_topics: KafkaTopics, api_key: str
) -> None:
    with _app(api_key, live_chunk_ms=200) as client:
        session_id = _session(client)
        with client.websocket_connect(f"/ws/sessions/{session_id}/audio") as stream:
            stream.send_json({"type": "start", "encoding": "pcm_s16le", "sample_rate_hz": 16_000})
            assert stream.receive_json()["type"] == "ready"
            noise = np.random.default_rng(5).uniform(-0.3, 0.3, 6400).astype(np.float32)
            stream.send_bytes(float_to_pcm16(noise))  # two 200 ms chunks
            # Two lease lengths: the lease would have lapsed twice over without renewals.
            deadline = time.monotonic() + 2 * LEASE_S
            while time.monotonic() < deadline:
                time.sleep(0.1)
                assert _lease(client, session_id)[0], "the lease lapsed while streaming"
            assert _lease(client, session_id) == (True, 2, 6400, False)
            stream.send_json({"type": "end"})
            assert stream.receive_json()["type"] == "stream_ended"
        assert _lease(client, session_id)[3], "the ended stream's lease is still open"
        time.sleep(2 * LEASE_S)  # long lapsed: and nobody ends it again
    assert [end.reason for end in _ends(kafka_topics, session_id)] == ["completed"]


def test_a_lapsed_lease_is_ended_by_one_gateway_and_only_if_its_stream_had_not_ended(
    kafka_topics: KafkaTopics, api_key: str
) -> None:
    with _app(api_key) as first, _app(api_key) as second:
        lost, ended = _session(first), _session(first)
        # A gateway died mid-stream: its lease ran out with 3 chunks (9600 samples) recorded.
        _sql(
            first,
            "INSERT INTO session_audio_sources (session_id, source_type, lease_until,"
            " acknowledged_chunks, acknowledged_samples)"
            " VALUES (%s, 'STREAM', now() - interval '1 second', 3, 9600)",
            lost,
        )
        # Another one ended its stream but died before recording it (an upload's end stands
        # in for the stream's here: the read model has the session's audio ended).
        upload = first.post(f"/api/sessions/{ended}/audio", content=to_wav_bytes(silence(0.5)))
        assert upload.status_code == 202, upload.text
        _sql(
            first,
            "UPDATE session_audio_sources SET source_type = 'STREAM',"
            " lease_until = now() - interval '1 second' WHERE session_id = %s",
            ended,
        )
        # Both gateways look every third of a second; wait for either to take the leases.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(_lease(first, s)[3] for s in (lost, ended)):
            time.sleep(0.1)
        time.sleep(1.0)  # a few more looks by both: nothing more may happen
        assert first.get(f"/api/sessions/{lost}").json()["status"] == "processing"
        refused = second.post(f"/api/sessions/{lost}/audio", content=to_wav_bytes(silence(0.5)))
        assert refused.status_code == 409, refused.text
    (end,) = _ends(kafka_topics, lost)
    assert (end.reason, end.total_chunks, end.last_seq, end.total_samples) == (
        "gateway_lost",
        3,
        2,
        9600,
    )
    assert [end.reason for end in _ends(kafka_topics, ended)] == ["completed"]
    chunks = read_topic(kafka_topics, "audio-ingest", key=lost.encode())
    assert not any(isinstance(decode_event(v).payload, AudioChunkReceived) for v in chunks)

"""The gateway's REST and WebSocket surface on real Kafka and PostgreSQL.

Bad input must get a clear 4xx and publish nothing; good input must land on audio-ingest as
ordered, decodable chunks keyed by the session.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import pytest
import soundfile
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from livetranslate_common.serde import decode_event
from livetranslate_common.speech_samples import SAMPLE_RATE, FloatSamples, SpokenLine, to_wav_bytes
from livetranslate_common.testing.fixtures import KafkaTopics
from livetranslate_common.testing.topic_reader import read_topic
from livetranslate_gateway.config import GatewaySettings
from livetranslate_gateway.main import create_app
from livetranslate_schemas.events import (
    AudioChunkReceived,
    AudioStreamEnded,
    Envelope,
    SessionCreated,
)
from tests_gateway.conftest import assert_problem

UPLOAD_LIMIT = 2 * 1024 * 1024
UNKNOWN = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def client(kafka_topics: KafkaTopics, auth_headers: dict[str, str]) -> Iterator[TestClient]:
    settings = GatewaySettings(max_upload_bytes=UPLOAD_LIMIT)
    with TestClient(create_app(settings), headers=auth_headers) as test_client:
        yield test_client


def ingest_events(topics: KafkaTopics, session_id: str) -> list[Envelope]:
    """Every event on audio-ingest for the session, read from the beginning."""
    values = read_topic(topics, "audio-ingest", key=session_id.encode())
    return [decode_event(value) for value in values]


def test_upload_publishes_ordered_chunks_then_the_end(
    client: TestClient,
    kafka_topics: KafkaTopics,
    short_speech: tuple[FloatSamples, list[SpokenLine]],
) -> None:
    samples, _ = short_speech
    session = client.post("/api/sessions", json={"title": "planning", "language": "en"}).json()
    session_id = session["session_id"]
    assert session["status"] == "open"
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    response = client.post(
        f"/api/sessions/{session_id}/audio",
        content=to_wav_bytes(samples),
        headers={
            "content-type": "audio/wav",
            "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01",
        },
    )
    assert response.status_code == 202, response.text
    assert response.headers["x-trace-id"] == trace_id
    accepted = response.json()
    assert accepted["duration_ms"] == len(samples) * 1000 // SAMPLE_RATE
    events = ingest_events(kafka_topics, session_id)
    payloads = [e.payload for e in events]
    assert isinstance(payloads[0], SessionCreated)
    assert isinstance(payloads[-1], AudioStreamEnded)
    chunks = [p for p in payloads if isinstance(p, AudioChunkReceived)]
    assert len(chunks) == accepted["chunks"] == payloads[-1].total_chunks
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    assert sum(c.num_samples for c in chunks) == len(samples)
    assert all(e.source == "gateway" for e in events)
    # The upload's events continue the caller's trace; the creation started its own.
    assert {e.trace_id for e in events[1:]} == {trace_id}
    assert events[0].trace_id != trace_id
    # A second upload to the same session is refused: its stream has ended.
    again = client.post(f"/api/sessions/{session_id}/audio", content=to_wav_bytes(samples))
    assert_problem(again, 409, "session_closed")


def _stereo_flac(seconds: float) -> bytes:
    rng = np.random.default_rng(7)
    noise = rng.standard_normal((int(48000 * seconds), 2)).astype(np.float32) * 0.1
    buffer = io.BytesIO()
    soundfile.write(buffer, noise, 48000, format="FLAC")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"", 422, "empty_audio"),
        (b"GIF89a" + bytes(range(256)) * 40, 415, "unreadable_audio"),
        ("truncated", 422, "truncated_audio"),
        ("too large", 413, "audio_too_large"),
    ],
)
def test_bad_uploads_get_a_clear_answer_and_publish_nothing(
    client: TestClient, kafka_topics: KafkaTopics, body: bytes | str, status: int, code: str
) -> None:
    session_id = client.post("/api/sessions", json={}).json()["session_id"]
    if body == "truncated":
        wav = to_wav_bytes(np.zeros(SAMPLE_RATE * 2, dtype=np.float32))
        data = wav[: len(wav) // 2]
    elif body == "too large":
        data = _stereo_flac(30.0) * 4
        assert len(data) > UPLOAD_LIMIT
    else:
        assert isinstance(body, bytes)
        data = body
    response = client.post(f"/api/sessions/{session_id}/audio", content=data)
    assert_problem(response, status, code)
    events = ingest_events(kafka_topics, session_id)
    assert [type(e.payload) for e in events] == [SessionCreated]
    # The session is still open: a good upload afterwards is accepted.
    good = client.post(
        f"/api/sessions/{session_id}/audio", content=to_wav_bytes(np.zeros(800, dtype=np.float32))
    )
    assert good.status_code == 202


def test_unknown_session_is_404_everywhere(client: TestClient) -> None:
    assert_problem(client.get(f"/api/sessions/{UNKNOWN}"), 404, "session_not_found")
    assert_problem(client.get(f"/api/sessions/{UNKNOWN}/transcript"), 404, "session_not_found")
    assert_problem(
        client.post(f"/api/sessions/{UNKNOWN}/audio", content=b"RIFF"), 404, "session_not_found"
    )
    assert client.get("/api/sessions/not-a-uuid").status_code == 422
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        client.websocket_connect(f"/ws/sessions/{UNKNOWN}") as ws,
    ):
        ws.receive_json()
    assert closed.value.code == 4404


def test_session_fields_are_validated(client: TestClient) -> None:
    assert client.post("/api/sessions", json={"language": "english!"}).status_code == 422
    assert client.post("/api/sessions", json={"title": "x" * 201}).status_code == 422
    created = client.post("/api/sessions", json={"title": "ok", "language": "en"})
    assert created.status_code == 201
    session_id = created.json()["session_id"]
    read = client.get(f"/api/sessions/{session_id}").json()
    assert read["title"] == "ok"
    assert read["status"] == "open"
    transcript = client.get(f"/api/sessions/{session_id}/transcript").json()
    assert transcript == {
        "session_id": session_id,
        "run_id": "live",
        "status": "open",
        "segments": [],
        "speaker_names": {},
    }

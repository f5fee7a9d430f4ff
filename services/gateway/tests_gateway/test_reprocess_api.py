"""Asking for a reprocessing run, on real Kafka and PostgreSQL: what is published, what the
client reads back, and what is refused (with nothing published)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from livetranslate_common.serde import decode_event
from livetranslate_common.speech_samples import SAMPLE_RATE, FloatSamples, SpokenLine, to_wav_bytes
from livetranslate_common.testing.fixtures import KafkaTopics
from livetranslate_common.testing.topic_reader import read_topic
from livetranslate_gateway.config import GatewaySettings
from livetranslate_gateway.main import create_app
from livetranslate_schemas.events import ReprocessRequested
from tests_gateway.conftest import assert_problem
from tests_gateway.test_api import UNKNOWN


@pytest.fixture
def client(kafka_topics: KafkaTopics, auth_headers: dict[str, str]) -> Iterator[TestClient]:
    settings = GatewaySettings(max_unfinished_runs=2)
    with TestClient(create_app(settings), headers=auth_headers) as test_client:
        yield test_client


def _requests(topics: KafkaTopics, session_id: str) -> list[ReprocessRequested]:
    values = read_topic(topics, "audio-reprocess", key=session_id.encode())
    payloads = [decode_event(value).payload for value in values]
    assert all(isinstance(p, ReprocessRequested) for p in payloads)
    return payloads  # type: ignore[return-value]


def _uploaded_session(client: TestClient, samples: FloatSamples) -> dict[str, object]:
    session: dict[str, object] = client.post(
        "/api/sessions", json={"language": "en", "translate_to": ["de"]}
    ).json()
    response = client.post(
        f"/api/sessions/{session['session_id']}/audio",
        content=to_wav_bytes(samples),
        headers={"content-type": "audio/wav"},
    )
    assert response.status_code == 202, response.text
    return session


def test_a_run_is_published_listed_and_readable_at_once(
    client: TestClient,
    kafka_topics: KafkaTopics,
    short_speech: tuple[FloatSamples, list[SpokenLine]],
) -> None:
    samples, _ = short_speech
    session = _uploaded_session(client, samples)
    session_id = str(session["session_id"])
    body = {"model": "base", "language": "de", "translate_to": [], "start_ms": 500}
    response = client.post(f"/api/sessions/{session_id}/reprocess", json=body)

    assert response.status_code == 202, response.text
    run = response.json()
    assert response.headers["location"] == f"/api/sessions/{session_id}/runs/{run['run_id']}"
    assert run["run_id"].startswith("rp-")
    assert run["status"] == "REQUESTED"
    assert run["transcript"] == f"/api/sessions/{session_id}/transcript?run={run['run_id']}"
    (request,) = _requests(kafka_topics, session_id)
    assert request.run_id == run["run_id"]
    assert (request.model, request.language, request.translate_to) == ("base", "de", [])
    assert (request.start_ms, request.end_ms, request.diarize, request.preset) == (
        500,
        None,
        None,
        None,
    )
    # What the worker needs to find the audio fast and report progress as a share.
    assert request.audio_since is not None
    created_at = datetime.fromisoformat(str(session["created_at"]))
    assert request.audio_since == created_at
    assert request.total_ms == len(samples) * 1000 // SAMPLE_RATE

    listed = client.get(f"/api/sessions/{session_id}/runs").json()
    assert [r["run_id"] for r in listed] == [run["run_id"]]
    assert client.get(run["transcript"]).json()["segments"] == []  # nothing run yet
    assert client.get(f"/api/sessions/{session_id}/runs/{run['run_id']}").json() == run


def test_runs_are_bounded_per_session(
    client: TestClient,
    kafka_topics: KafkaTopics,
    short_speech: tuple[FloatSamples, list[SpokenLine]],
) -> None:
    session_id = str(_uploaded_session(client, short_speech[0])["session_id"])
    for _ in range(2):
        ok = client.post(f"/api/sessions/{session_id}/reprocess", json={})
        assert ok.status_code == 202, ok.text
    refused = client.post(f"/api/sessions/{session_id}/reprocess", json={})
    assert_problem(refused, 429, "too_many_runs")
    assert len(_requests(kafka_topics, session_id)) == 2


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"model": "large-v3"}, 422, "invalid_reprocess_request"),
        ({"model": "tiny.en", "language": "de"}, 422, "invalid_reprocess_request"),
        ({"start_ms": 5_000, "end_ms": 5_000}, 422, "validation_error"),
        ({"start_ms": -1}, 422, "validation_error"),
        ({"model": "../../etc/passwd"}, 422, "validation_error"),
        ({"translate_to": ["de"] * 6}, 422, "validation_error"),
    ],
)
def test_a_request_that_cannot_run_is_refused_and_nothing_is_published(
    client: TestClient,
    kafka_topics: KafkaTopics,
    short_speech: tuple[FloatSamples, list[SpokenLine]],
    body: dict[str, object],
    status: int,
    code: str,
) -> None:
    session_id = str(_uploaded_session(client, short_speech[0])["session_id"])
    response = client.post(f"/api/sessions/{session_id}/reprocess", json=body)
    assert response.status_code == status, response.text
    if code != "validation_error":
        assert_problem(response, status, code)
    assert _requests(kafka_topics, session_id) == []
    assert client.get(f"/api/sessions/{session_id}/runs").json() == []


def test_unknown_sessions_and_runs_are_404(
    client: TestClient, short_speech: tuple[FloatSamples, list[SpokenLine]]
) -> None:
    assert_problem(
        client.post(f"/api/sessions/{UNKNOWN}/reprocess", json={}), 404, "session_not_found"
    )
    assert_problem(client.get(f"/api/sessions/{UNKNOWN}/runs"), 404, "session_not_found")
    session_id = str(_uploaded_session(client, short_speech[0])["session_id"])
    assert_problem(client.get(f"/api/sessions/{session_id}/runs/rp-nope"), 404, "run_not_found")
    assert_problem(
        client.get(f"/api/sessions/{session_id}/transcript?run=rp-nope"), 404, "run_not_found"
    )
    assert client.get(f"/api/sessions/{session_id}/transcript?run=live").status_code == 200


def test_a_session_without_recorded_audio_is_not_run_again(client: TestClient) -> None:
    session_id = client.post("/api/sessions", json={}).json()["session_id"]
    refused = client.post(f"/api/sessions/{session_id}/reprocess", json={})
    assert_problem(refused, 409, "no_audio")
    assert client.get(f"/api/sessions/{session_id}/runs").json() == []

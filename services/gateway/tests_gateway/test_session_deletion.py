"""Deleting a session on real Kafka and PostgreSQL: gone from the API and the read model at
once, gone again when the read model is rebuilt from the log, refused while there is work on
it, and only by its own tenant."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime

import psycopg
import pytest
from fastapi.testclient import TestClient

from livetranslate_common.envelope import new_event
from livetranslate_common.readmodel.rebuild import READ_MODEL_TABLES, rebuild_read_model
from livetranslate_common.serde import decode_event, encode_event
from livetranslate_common.speech_samples import silence, to_wav_bytes
from livetranslate_common.testing.fixtures import KafkaTopics
from livetranslate_common.testing.read_model import project_payloads
from livetranslate_common.testing.results import segment_result
from livetranslate_common.testing.topic_reader import read_topic
from livetranslate_gateway.config import GatewaySettings
from livetranslate_gateway.core.access import parse_key
from livetranslate_gateway.main import create_app
from livetranslate_schemas.events import (
    EventPayload,
    ProcessingFailed,
    RunProgress,
    RunStatus,
    SessionDeleted,
    SessionProcessingCompleted,
    SpeakerNamesUpdated,
    TranslationCompleted,
)
from tests_gateway.conftest import assert_problem, bearer


@pytest.fixture
def client(kafka_topics: KafkaTopics, auth_headers: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(GatewaySettings()), headers=auth_headers) as test_client:
        yield test_client


def _rows(database: str, session_id: str) -> dict[str, int]:
    """The session's rows in every read-model table."""

    async def count() -> dict[str, int]:
        async with await psycopg.AsyncConnection.connect(database) as conn:
            counts = {}
            for table in READ_MODEL_TABLES:
                cursor = await conn.execute(
                    f"SELECT count(*) FROM {table} WHERE session_id = %s",
                    (session_id,),
                )
                row = await cursor.fetchone()
                counts[table] = row[0] if row else 0
            return counts

    return asyncio.run(count())


def _results(session_id: str) -> list[EventPayload]:
    """A completed session's results, as the pipeline publishes them."""
    return [
        segment_result(session_id, 0, text="Hello there.", speaker="SPEAKER_00"),
        TranslationCompleted(
            session_id=session_id,
            run_id="live",
            segment_id=f"{session_id}:{0:012d}",
            revision=0,
            source_language="en",
            target_language="de",
            source_text="Hello there.",
            text="Hallo.",
            backend="test",
        ),
        SpeakerNamesUpdated(
            session_id=session_id, changes={"SPEAKER_00": "Ann"}, names={"SPEAKER_00": "Ann"}
        ),
        ProcessingFailed(
            session_id=session_id,
            stage="translation",
            error_code="backend_unavailable",
            message="the translation service did not answer",
            retryable=True,
        ),
        SessionProcessingCompleted(
            session_id=session_id,
            run_id="live",
            final_segment_count=1,
            audio_duration_ms=500,
            last_seq=0,
        ),
    ]


def test_a_completed_session_is_deleted_everywhere(
    client: TestClient, kafka_topics: KafkaTopics, database: str, api_key: str
) -> None:
    session_id = client.post("/api/sessions", json={"title": "private"}).json()["session_id"]
    kept = client.post("/api/sessions", json={"title": "kept"}).json()["session_id"]
    for session in (session_id, kept):
        upload = client.post(f"/api/sessions/{session}/audio", content=to_wav_bytes(silence(0.5)))
        assert upload.status_code == 202, upload.text
        project_payloads(database, *_results(session))
    held = _rows(database, session_id)
    assert {table for table, rows in held.items() if rows} == set(READ_MODEL_TABLES) - {"runs"}
    assert client.get(f"/api/sessions/{session_id}").json()["status"] == "completed"

    deleted = client.delete(f"/api/sessions/{session_id}")
    assert deleted.status_code == 204, deleted.text
    assert not any(_rows(database, session_id).values())
    assert _rows(database, kept) == held
    for path in ("", "/transcript", "/transcript.srt", "/runs"):
        assert_problem(client.get(f"/api/sessions/{session_id}{path}"), 404, "session_not_found")
    assert_problem(client.delete(f"/api/sessions/{session_id}"), 404, "session_not_found")
    listed = client.get("/api/sessions").json()["sessions"]
    assert [s["session_id"] for s in listed] == [kept]

    # On audio-ingest, after the audio: who asked, by key id, never the key.
    ingest = [
        decode_event(v) for v in read_topic(kafka_topics, "audio-ingest", key=session_id.encode())
    ]
    last = ingest[-1].payload
    assert isinstance(last, SessionDeleted)
    presented = parse_key(api_key)
    assert presented is not None
    assert last.deleted_by == presented.key_id

    # A rebuild from the log (the pipeline forwards the deletion to audio-results) drops the
    # session again, and keeps the other.
    log = [
        new_event(payload, source="audio_pipeline")
        for session in (session_id, kept)
        for payload in _results(session)
    ]
    created = [
        e for e in ingest if type(e.payload).__name__ in ("SessionCreated", "AudioStreamEnded")
    ]
    values = [encode_event(e) for e in [*created, *log, ingest[-1]]]

    async def rebuild() -> None:
        async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
            await rebuild_read_model(conn, values)

    asyncio.run(rebuild())
    assert not any(_rows(database, session_id).values())
    assert _rows(database, kept)["segments"] == 1


def test_a_session_never_given_audio_is_deleted_and_takes_none_after(
    client: TestClient, database: str
) -> None:
    session_id = client.post("/api/sessions", json={}).json()["session_id"]
    assert client.delete(f"/api/sessions/{session_id}").status_code == 204
    late = client.post(f"/api/sessions/{session_id}/audio", content=to_wav_bytes(silence(0.5)))
    assert_problem(late, 404, "session_not_found")
    assert not any(_rows(database, session_id).values())


def test_a_session_with_work_on_it_is_not_deleted(client: TestClient, database: str) -> None:
    # Audio coming in: a live stream open on it.
    streaming = client.post("/api/sessions", json={}).json()["session_id"]
    with client.websocket_connect(f"/ws/sessions/{streaming}/audio") as stream:
        stream.send_json({"type": "start", "sample_rate_hz": 16_000, "encoding": "pcm_s16le"})
        assert stream.receive_json()["type"] == "ready"
        assert_problem(client.delete(f"/api/sessions/{streaming}"), 409, "audio_in_progress")
    # Audio in, not yet transcribed.
    transcribing = client.post("/api/sessions", json={}).json()["session_id"]
    client.post(f"/api/sessions/{transcribing}/audio", content=to_wav_bytes(silence(0.5)))
    assert_problem(client.delete(f"/api/sessions/{transcribing}"), 409, "session_busy")
    # Completed, but a reprocessing run is still going.
    project_payloads(database, *_results(transcribing))
    run = client.post(f"/api/sessions/{transcribing}/reprocess", json={})
    assert run.status_code == 202, run.text
    assert_problem(client.delete(f"/api/sessions/{transcribing}"), 409, "session_busy")
    run_id = run.json()["run_id"]
    project_payloads(
        database,
        RunProgress(
            session_id=transcribing,
            run_id=run_id,
            status=RunStatus.COMPLETED,
            model="tiny.en",
            pipeline_version="test",
            processed_ms=500,
            final_segment_count=1,
            requested_at=datetime.fromisoformat(run.json()["requested_at"]),
        ),
    )
    assert client.delete(f"/api/sessions/{transcribing}").status_code == 204
    assert client.get(f"/api/sessions/{transcribing}/runs/{run_id}").status_code == 404


def test_only_its_tenant_deletes_a_session(
    client: TestClient, other_tenant_key: str, database: str
) -> None:
    session_id = client.post("/api/sessions", json={}).json()["session_id"]
    refused = client.delete(f"/api/sessions/{session_id}", headers=bearer(other_tenant_key))
    assert_problem(refused, 404, "session_not_found")
    assert client.get(f"/api/sessions/{session_id}").status_code == 200

"""Speaker names through the gateway, on real Kafka and PostgreSQL: given at creation,
changed with ``PUT /api/sessions/{id}/speakers``, shown in the transcript and on the results
socket. Bad names get an RFC 9457 422 and publish nothing.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from livetranslate_common.envelope import new_event
from livetranslate_common.serde import decode_event
from livetranslate_common.testing.fixtures import KafkaTopics
from livetranslate_common.testing.read_model import project_payloads
from livetranslate_common.testing.results import segment_result
from livetranslate_common.testing.topic_reader import read_topic
from livetranslate_gateway.adapters.result_fanout import ResultRecord, Subscription
from livetranslate_gateway.api.routes.results_ws import forward_results
from livetranslate_gateway.config import GatewaySettings
from livetranslate_gateway.core.errors import InvalidSpeakerNamesError
from livetranslate_gateway.core.messages import client_message
from livetranslate_gateway.core.speaker_names import (
    speaker_name_changes,
    speaker_names_at_creation,
)
from livetranslate_gateway.demo import ResultPrinter, parse_speaker_names
from livetranslate_gateway.main import create_app
from livetranslate_schemas.events import (
    Envelope,
    EventPayload,
    SessionCreated,
    SessionProcessingCompleted,
    SpeakerNamesUpdated,
    TranscriptionCompleted,
)

UNKNOWN = "00000000-0000-4000-8000-000000000000"

BAD_NAMES: list[tuple[dict[str, Any], str]] = [
    ({"speaker_00": "Alice"}, "not a speaker label"),
    ({"SPEAKER_0": "Alice"}, "not a speaker label"),
    ({"SPEAKER_0000": "Alice"}, "not a speaker label"),
    ({"SPEAKER_00\n": "Alice"}, "not a speaker label"),
    ({"SPEAKER_00": "   "}, "1 to 80 characters"),
    ({"SPEAKER_00": "x" * 81}, "1 to 80 characters"),
    ({"SPEAKER_00": "Al\x07ice"}, "U+0007"),
    ({"SPEAKER_00": "Alice\nBob"}, "U+000A"),
    ({"SPEAKER_00": "Alice\u2028Bob"}, "U+2028"),
    ({f"SPEAKER_{n:02d}": "x" for n in range(33)}, "at most 32"),
]


@pytest.fixture
def client(kafka_topics: KafkaTopics, auth_headers: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(GatewaySettings()), headers=auth_headers) as test_client:
        yield test_client


def _ingest(topics: KafkaTopics, session_id: str | None = None) -> list[EventPayload]:
    key = session_id.encode() if session_id else None
    return [decode_event(v).payload for v in read_topic(topics, "audio-ingest", key=key)]


def _problem(response: Response, status: int, code: str, detail: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == f"urn:livetranslate:error:{code}"
    assert detail in body["detail"], body["detail"]


def _final_named(session_id: str, start_ms: int, speaker: str | None) -> TranscriptionCompleted:
    return segment_result(
        session_id, start_ms, speaker=speaker, speaker_map={"SPEAKER_00": "Alice"}
    )


# --------------------------------------------------------------------------- the rules


def test_good_names_are_stripped_and_sorted() -> None:
    assert speaker_names_at_creation({"SPEAKER_01": " Bob ", "SPEAKER_100": "Zoë 👋"}) == {
        "SPEAKER_01": "Bob",
        "SPEAKER_100": "Zoë 👋",
    }
    assert speaker_name_changes({"SPEAKER_01": None, "SPEAKER_00": "Ada"}) == {
        "SPEAKER_00": "Ada",
        "SPEAKER_01": None,
    }
    assert speaker_names_at_creation({}) == {}
    # Joiners and direction marks are part of real names.
    assert speaker_names_at_creation({"SPEAKER_00": "\u200fשרה"}) == {"SPEAKER_00": "\u200fשרה"}


@pytest.mark.parametrize(("names", "detail"), BAD_NAMES)
def test_bad_names_are_refused(names: dict[str, str], detail: str) -> None:
    for check in (speaker_names_at_creation, speaker_name_changes):
        with pytest.raises(InvalidSpeakerNamesError, match=re.escape(detail)):
            check(names)


def test_a_rename_needs_a_name_and_only_a_rename_removes() -> None:
    with pytest.raises(InvalidSpeakerNamesError, match="at least one"):
        speaker_name_changes({})
    with pytest.raises(InvalidSpeakerNamesError, match="not null"):
        speaker_names_at_creation({"SPEAKER_00": None})


# --------------------------------------------------------------------------- the API


def test_names_given_at_creation_ride_on_session_created(
    client: TestClient, kafka_topics: KafkaTopics
) -> None:
    created = client.post(
        "/api/sessions", json={"speaker_names": {"SPEAKER_01": "Bob ", "SPEAKER_00": "Alice"}}
    )
    assert created.status_code == 201, created.text
    session_id = created.json()["session_id"]
    (event,) = _ingest(kafka_topics, session_id)
    assert isinstance(event, SessionCreated)
    assert event.processing_flags.speaker_names == {"SPEAKER_00": "Alice", "SPEAKER_01": "Bob"}
    transcript = client.get(f"/api/sessions/{session_id}/transcript").json()
    assert transcript["speaker_names"] == {"SPEAKER_00": "Alice", "SPEAKER_01": "Bob"}


@pytest.mark.parametrize(("names", "detail"), BAD_NAMES[::3])
def test_bad_names_at_creation_are_a_problem_and_publish_nothing(
    client: TestClient, kafka_topics: KafkaTopics, names: dict[str, Any], detail: str
) -> None:
    response = client.post("/api/sessions", json={"speaker_names": names})
    _problem(response, 422, "invalid_speaker_names", detail)
    null = client.post("/api/sessions", json={"speaker_names": {"SPEAKER_00": None}})
    _problem(null, 422, "invalid_speaker_names", "not null")
    assert _ingest(kafka_topics) == []


def test_renames_are_published_as_changes_and_answered_with_the_mapping(
    client: TestClient, kafka_topics: KafkaTopics
) -> None:
    session_id = client.post(
        "/api/sessions", json={"speaker_names": {"SPEAKER_00": "Alice"}}
    ).json()["session_id"]
    first = client.put(
        f"/api/sessions/{session_id}/speakers", json={"names": {"SPEAKER_01": "Bob"}}
    )
    assert first.status_code == 202, first.text
    assert first.json() == {
        "session_id": session_id,
        "names": {"SPEAKER_00": "Alice", "SPEAKER_01": "Bob"},
    }
    second = client.put(
        f"/api/sessions/{session_id}/speakers",
        json={"names": {"SPEAKER_00": None, "SPEAKER_01": " Bea "}},
    )
    assert second.json()["names"] == {"SPEAKER_01": "Bea"}
    # On audio-ingest, keyed by the session (in order with its audio): the changes only.
    created, *renames = _ingest(kafka_topics, session_id)
    assert isinstance(created, SessionCreated)
    assert renames == [
        SpeakerNamesUpdated(session_id=session_id, changes={"SPEAKER_01": "Bob"}),
        SpeakerNamesUpdated(
            session_id=session_id, changes={"SPEAKER_00": None, "SPEAKER_01": "Bea"}
        ),
    ]
    bad = client.put(f"/api/sessions/{session_id}/speakers", json={"names": {"SPEAKER_1": "X"}})
    _problem(bad, 422, "invalid_speaker_names", "not a speaker label")
    empty = client.put(f"/api/sessions/{session_id}/speakers", json={"names": {}})
    _problem(empty, 422, "invalid_speaker_names", "at least one")
    assert len(_ingest(kafka_topics, session_id)) == 3
    unknown = client.put(f"/api/sessions/{UNKNOWN}/speakers", json={"names": {"SPEAKER_00": "A"}})
    _problem(unknown, 404, "session_not_found", UNKNOWN)


def test_the_transcript_shows_the_current_names(
    client: TestClient, kafka_topics: KafkaTopics, database: str
) -> None:
    session_id = client.post(
        "/api/sessions", json={"speaker_names": {"SPEAKER_00": "Alice"}}
    ).json()["session_id"]
    project_payloads(
        database,
        _final_named(session_id, 0, "SPEAKER_00"),
        _final_named(session_id, 1000, "SPEAKER_01"),
        _final_named(session_id, 2000, None),
        SessionProcessingCompleted(
            session_id=session_id,
            run_id="live",
            final_segment_count=3,
            audio_duration_ms=3000,
            last_seq=2,
        ),
    )

    def shown() -> list[tuple[str | None, str | None]]:
        segments = client.get(f"/api/sessions/{session_id}/transcript").json()["segments"]
        return [(s["speaker"], s["speaker_name"]) for s in segments]

    assert shown() == [("SPEAKER_00", "Alice"), ("SPEAKER_01", None), (None, None)]
    # A completed session may still be renamed: names are presentation.
    assert client.get(f"/api/sessions/{session_id}").json()["status"] == "completed"
    renamed = client.put(
        f"/api/sessions/{session_id}/speakers",
        json={"names": {"SPEAKER_00": "Ada", "SPEAKER_01": "Bob"}},
    )
    assert renamed.status_code == 202, renamed.text
    assert shown() == [("SPEAKER_00", "Ada"), ("SPEAKER_01", "Bob"), (None, None)]
    # The pipeline's echo, when projected, is the word that stands.
    echo = SpeakerNamesUpdated(
        session_id=session_id, changes={"SPEAKER_01": None}, names={"SPEAKER_00": "Ada"}
    )
    project_payloads(database, echo)
    transcript = client.get(f"/api/sessions/{session_id}/transcript").json()
    assert transcript["speaker_names"] == {"SPEAKER_00": "Ada"}
    assert [s["speaker_name"] for s in transcript["segments"]] == ["Ada", None, None]


async def test_the_results_socket_names_speakers_and_forwards_the_echo() -> None:
    # What the socket's forwarder sends for what the fan-out hands it (the Kafka side of the
    # socket is covered end to end in tests_e2e/test_upload_to_transcript.py).
    session_id = str(uuid4())
    names = {"SPEAKER_00": "Ada", "SPEAKER_01": "Bob"}
    subscription = Subscription(session_id, maxsize=10)
    payloads: list[EventPayload] = [
        _final_named(session_id, 0, "SPEAKER_00"),
        SpeakerNamesUpdated(session_id=session_id, changes={"SPEAKER_00": "Ada"}, names=names),
        SessionProcessingCompleted(
            session_id=session_id,
            run_id="live",
            final_segment_count=1,
            audio_duration_ms=1000,
            last_seq=0,
        ),
    ]
    for offset, payload in enumerate(payloads):
        envelope = new_event(payload, source="audio_pipeline")
        subscription.queue.put_nowait(ResultRecord(0, offset, envelope))
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await forward_results(subscription, send, until_completed=True)
    segment, speaker_names, completed = sent
    assert (segment["type"], segment["speaker"], segment["speaker_name"]) == (
        "segment",
        "SPEAKER_00",
        "Alice",
    )
    assert speaker_names["type"] == "speaker_names"
    assert speaker_names["names"] == names
    assert speaker_names["session_id"] == session_id
    assert "emitted_at" in speaker_names
    assert completed["type"] == "session_completed"


def test_the_request_itself_is_no_client_message() -> None:
    request = SpeakerNamesUpdated(session_id="s", changes={"SPEAKER_00": "Ada"})
    envelope = Envelope(
        schema_version=1,
        event_id=uuid4(),
        event_type="SpeakerNamesUpdated",
        source="gateway",
        timestamp=datetime.now(UTC),
        trace_id="0" * 32,
        payload=request,
    )
    assert client_message(envelope) is None


# --------------------------------------------------------------------------- the demo


def test_the_demo_prints_names_next_to_labels(capsys: pytest.CaptureFixture[str]) -> None:
    printer = ResultPrinter([], as_json=True)
    message = client_message(new_event(_final_named("s", 0, "SPEAKER_00"), source="audio_pipeline"))
    assert message is not None
    printer.handle(message)
    printer.handle({**message, "segment_id": "s:2", "speaker": "SPEAKER_01", "speaker_name": None})
    first, second = capsys.readouterr().out.splitlines()
    assert '"speaker": "SPEAKER_00", "speaker_name": "Alice"' in first
    assert "speaker_name" not in second
    human = ResultPrinter([], as_json=False)
    human.handle(message)
    assert "] Alice: words at 0" in capsys.readouterr().out


def test_the_demo_parses_speaker_names() -> None:
    assert parse_speaker_names("SPEAKER_00=Alice, SPEAKER_01 = Bob Smith,") == {
        "SPEAKER_00": "Alice",
        "SPEAKER_01": "Bob Smith",
    }
    for bad in ("Alice", "speaker_00=Alice", "SPEAKER_0=A"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_speaker_names(bad)

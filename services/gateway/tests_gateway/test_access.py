"""Access control on real Kafka and PostgreSQL: keys, tenants, request bounds, and secrets.

Each tenant sees only its own sessions, in both directions, over REST and both sockets; an
answer about another tenant's session is the same as about one that does not exist.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from livetranslate_common.speech_samples import silence, to_wav_bytes
from livetranslate_common.testing.fixtures import KafkaTopics
from livetranslate_common.testing.topic_reader import read_topic
from livetranslate_gateway.adapters.api_keys import revoke_api_key
from livetranslate_gateway.config import GatewaySettings
from livetranslate_gateway.core.access import WS_SUBPROTOCOL, parse_key
from livetranslate_gateway.main import create_app
from tests_gateway.conftest import TENANT, assert_problem, bearer

UNKNOWN = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def gateway(kafka_topics: KafkaTopics, database: str) -> Iterator[TestClient]:
    """The gateway, called without a key unless a request brings one."""
    settings = GatewaySettings(api_key_cache_s=0, max_body_bytes=4096, rate_limit="1000/second")
    with TestClient(create_app(settings)) as client:
        yield client


def _session_routes(session_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Every REST route about one session: method, path, request arguments."""
    base = f"/api/sessions/{session_id}"
    return [
        ("GET", base, {}),
        ("GET", f"{base}/transcript", {}),
        ("GET", f"{base}/transcript.srt", {}),
        ("GET", f"{base}/transcript.vtt", {}),
        ("POST", f"{base}/audio", {"content": to_wav_bytes(silence(0.3))}),
        ("POST", f"{base}/end", {}),
        ("PUT", f"{base}/speakers", {"json": {"names": {"SPEAKER_00": "Mallory"}}}),
        ("POST", f"{base}/reprocess", {"json": {}}),
        ("GET", f"{base}/runs", {}),
        ("GET", f"{base}/runs/rp-0123456789ab", {}),
        ("GET", f"/api/analytics/sessions/{session_id}", {}),
        ("GET", f"{base}/translation-targets", {}),
        ("PUT", f"{base}/translation-targets", {"json": {"translate_to": ["de"]}}),
        ("DELETE", base, {}),
    ]


def test_every_route_but_health_needs_a_good_key(gateway: TestClient, api_key: str) -> None:
    assert gateway.get("/api/health").status_code == 200
    owned = gateway.post("/api/sessions", json={}, headers=bearer(api_key)).json()["session_id"]
    wrong_secret = api_key[:-4] + ("aaaa" if not api_key.endswith("aaaa") else "bbbb")
    for headers in ({}, bearer("not-a-key"), bearer(wrong_secret), {"Authorization": api_key}):
        for method, path, arguments in [
            ("POST", "/api/sessions", {"json": {}}),
            ("GET", "/api/sessions", {}),
            ("GET", "/api/analytics/hours", {}),
            *_session_routes(owned),
        ]:
            response = gateway.request(method, path, headers=headers, **arguments)
            body = assert_problem(response, 401, "unauthorized")
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert api_key not in response.text
            assert wrong_secret not in body["detail"]
    # X-API-Key is the other way to present the key.
    assert gateway.get(f"/api/sessions/{owned}", headers={"X-API-Key": api_key}).status_code == 200


def test_a_revoked_key_opens_nothing(gateway: TestClient, api_key: str, database: str) -> None:
    assert gateway.get("/api/sessions", headers=bearer(api_key)).status_code == 200
    presented = parse_key(api_key)
    assert presented is not None

    async def revoke() -> bool:
        async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
            return await revoke_api_key(conn, presented.key_id)

    assert asyncio.run(revoke())
    assert_problem(gateway.get("/api/sessions", headers=bearer(api_key)), 401, "unauthorized")


@pytest.mark.parametrize("owner_is_a", [True, False], ids=["a-owns", "b-owns"])
def test_a_tenants_sessions_are_invisible_to_another(
    gateway: TestClient, api_key: str, other_tenant_key: str, owner_is_a: bool
) -> None:
    owner, stranger = (api_key, other_tenant_key) if owner_is_a else (other_tenant_key, api_key)
    created = gateway.post("/api/sessions", json={"title": "board"}, headers=bearer(owner))
    session_id = created.json()["session_id"]
    mine = gateway.post("/api/sessions", json={}, headers=bearer(stranger)).json()["session_id"]
    for method, path, arguments in _session_routes(session_id):
        response = gateway.request(method, path, headers=bearer(stranger), **arguments)
        unknown = gateway.request(
            method, path.replace(session_id, UNKNOWN), headers=bearer(stranger), **arguments
        )
        # Exactly like a session that does not exist, but for the id in the detail.
        assert_problem(response, 404, "session_not_found")
        assert response.json()["detail"] == unknown.json()["detail"].replace(UNKNOWN, session_id)
    for path in (f"/ws/sessions/{session_id}", f"/ws/sessions/{session_id}/audio"):
        with (
            pytest.raises(WebSocketDisconnect) as closed,
            gateway.websocket_connect(path, headers=bearer(stranger)) as socket,
        ):
            socket.receive_json()
        assert closed.value.code == 4404
    listed = gateway.get("/api/sessions", headers=bearer(stranger)).json()
    assert [s["session_id"] for s in listed["sessions"]] == [mine]
    # The owner still has it all, untouched by the stranger's attempts.
    own = gateway.get(f"/api/sessions/{session_id}", headers=bearer(owner)).json()
    assert (own["title"], own["status"]) == ("board", "open")
    names = gateway.get(f"/api/sessions/{session_id}/transcript", headers=bearer(owner)).json()
    assert names["speaker_names"] == {}
    listed = gateway.get("/api/sessions", headers=bearer(owner)).json()
    assert [s["session_id"] for s in listed["sessions"]] == [session_id]


def test_sockets_take_the_key_as_a_header_or_a_subprotocol(
    gateway: TestClient, api_key: str
) -> None:
    session_id = gateway.post("/api/sessions", json={}, headers=bearer(api_key)).json()[
        "session_id"
    ]
    for path in (f"/ws/sessions/{session_id}", f"/ws/sessions/{session_id}/audio"):
        with (
            pytest.raises(WebSocketDisconnect) as closed,
            gateway.websocket_connect(path, subprotocols=[WS_SUBPROTOCOL]) as socket,
        ):
            socket.receive_json()
        assert closed.value.code == 4401
        assert api_key not in (closed.value.reason or "")
    # A browser's way: the key as a subprotocol; the gateway answers with its own.
    offered = [WS_SUBPROTOCOL, f"bearer.{api_key}"]
    with gateway.websocket_connect(
        f"/ws/sessions/{session_id}/audio", subprotocols=offered
    ) as socket:
        assert socket.accepted_subprotocol == WS_SUBPROTOCOL
        socket.send_json({"type": "start", "sample_rate_hz": 16_000, "encoding": "pcm_s16le"})
        assert socket.receive_json()["type"] == "ready"


def test_sessions_are_listed_newest_first_a_page_at_a_time(
    gateway: TestClient, api_key: str
) -> None:
    auth = bearer(api_key)
    created = [gateway.post("/api/sessions", json={}, headers=auth).json() for _ in range(5)]
    newest_first = [s["session_id"] for s in reversed(created)]
    seen: list[str] = []
    before: str | None = None
    while True:
        params = {"limit": 2, **({"before": before} if before else {})}
        page = gateway.get("/api/sessions", params=params, headers=auth).json()
        seen += [s["session_id"] for s in page["sessions"]]
        before = page["next_before"]
        if before is None:
            break
    assert seen == newest_first
    assert gateway.get("/api/sessions?limit=0", headers=auth).status_code == 422
    assert gateway.get("/api/sessions?before=x", headers=auth).status_code == 422


def test_ending_a_session_without_audio_ends_it_once(
    gateway: TestClient, api_key: str, kafka_topics: KafkaTopics
) -> None:
    auth = bearer(api_key)
    session_id = gateway.post("/api/sessions", json={}, headers=auth).json()["session_id"]
    ended = gateway.post(f"/api/sessions/{session_id}/end", headers=auth)
    assert ended.status_code == 200, ended.text
    assert ended.json()["status"] == "processing"
    again = gateway.post(f"/api/sessions/{session_id}/end", headers=auth)
    assert again.json()["status"] == "processing"
    late = gateway.post(
        f"/api/sessions/{session_id}/audio", content=to_wav_bytes(silence(0.3)), headers=auth
    )
    assert_problem(late, 409, "session_closed")
    values = read_topic(kafka_topics, "audio-ingest", key=session_id.encode())
    # SessionCreated and one end (of no chunks): a second "end" published nothing.
    assert len(values) == 2


def test_a_session_with_audio_coming_in_is_not_ended_by_the_api(
    gateway: TestClient, api_key: str
) -> None:
    auth = bearer(api_key)
    session_id = gateway.post("/api/sessions", json={}, headers=auth).json()["session_id"]
    with gateway.websocket_connect(f"/ws/sessions/{session_id}/audio", headers=auth) as stream:
        stream.send_json({"type": "start", "sample_rate_hz": 16_000, "encoding": "pcm_s16le"})
        assert stream.receive_json()["type"] == "ready"
        refused = gateway.post(f"/api/sessions/{session_id}/end", headers=auth)
        assert_problem(refused, 409, "audio_in_progress")


def test_requests_over_the_rate_limit_wait(
    kafka_topics: KafkaTopics, api_key: str, other_tenant_key: str
) -> None:
    settings = GatewaySettings(rate_limit="5/minute")
    with TestClient(create_app(settings)) as gateway:
        for _ in range(5):
            assert gateway.get("/api/sessions", headers=bearer(api_key)).status_code == 200
        refused = gateway.get("/api/sessions", headers=bearer(api_key))
        assert_problem(refused, 429, "rate_limited")
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        # Per caller: another key is not held back by this one.
        assert gateway.get("/api/sessions", headers=bearer(other_tenant_key)).status_code == 200
        # Sockets count too.
        with (
            pytest.raises(WebSocketDisconnect) as closed,
            gateway.websocket_connect(f"/ws/sessions/{UNKNOWN}", headers=bearer(api_key)) as ws,
        ):
            ws.receive_json()
        assert closed.value.code == 4429


def test_bodies_over_their_bound_are_refused_before_they_are_read(
    gateway: TestClient, api_key: str
) -> None:
    auth = bearer(api_key)
    big = {"title": "x", "metadata": {f"k{i}": "v" * 400 for i in range(20)}}
    assert_problem(gateway.post("/api/sessions", json=big, headers=auth), 413, "request_too_large")

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"title": "'
        for _ in range(10):
            yield b"y" * 1000
        yield b'"}'

    response = gateway.post(
        "/api/sessions",
        content=chunked(),
        headers={**auth, "content-type": "application/json"},
    )
    assert_problem(response, 413, "request_too_large")
    # Errors of every kind come in the same shape.
    assert_problem(gateway.get("/api/nothing-here", headers=auth), 404, "not_found")
    assert_problem(gateway.delete("/api/sessions", headers=auth), 405, "method_not_allowed")
    invalid = assert_problem(
        gateway.post("/api/sessions", json={"language": 5}, headers=auth), 422, "invalid_request"
    )
    assert invalid["errors"][0]["loc"] == ["body", "language"]


def test_no_key_reaches_an_event_a_log_line_or_an_answer(
    gateway: TestClient,
    api_key: str,
    kafka_topics: KafkaTopics,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    auth = bearer(api_key)
    secret = api_key.rsplit("_", 1)[1]
    wrong = api_key[:-6] + "zzzzzz"
    answers = [gateway.get("/api/sessions", headers=bearer(wrong))]
    created = gateway.post("/api/sessions", json={"title": "t"}, headers=auth)
    session_id = created.json()["session_id"]
    answers += [
        created,
        gateway.post(
            f"/api/sessions/{session_id}/audio",
            content=to_wav_bytes(silence(0.5)),
            headers=auth,
        ),
        gateway.put(
            f"/api/sessions/{session_id}/speakers",
            json={"names": {"SPEAKER_00": "Ann"}},
            headers=auth,
        ),
        gateway.get(f"/api/sessions/{session_id}/transcript", headers=auth),
    ]
    assert [answer.status_code for answer in answers] == [401, 201, 202, 202, 200]
    events = b"".join(read_topic(kafka_topics, "audio-ingest", key=session_id.encode()))
    assert len(events) > 0
    for text in (secret, wrong.rsplit("_", 1)[1]):
        assert text.encode() not in events
        assert text not in caplog.text
        assert not any(text in answer.text for answer in answers)
        assert not any(
            text in str(value) for answer in answers for value in answer.headers.values()
        )
    # The events name the tenant, which owns the session, and nothing of the key.
    assert TENANT.encode() in events


def test_readiness_reports_each_dependency(gateway: TestClient) -> None:
    ready = gateway.get("/api/health")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ok", "checks": {"database": "ok", "kafka": "ok"}}

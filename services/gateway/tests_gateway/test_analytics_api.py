"""The gateway's /api/analytics routes when they cannot or must not ask the analytics: unknown
sessions, bad ranges, an analytics service that does not answer. (The figures themselves, from
real analytics workers: services/monitoring/tests_monitoring/test_analytics_worker.py.)"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from livetranslate_common.devstack.processes import free_port
from livetranslate_common.testing.fixtures import KafkaTopics
from livetranslate_gateway.main import create_app
from tests_gateway.conftest import assert_problem, bearer

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def _client(monkeypatch: pytest.MonkeyPatch, analytics_url: str, key: str) -> TestClient:
    monkeypatch.setenv("GATEWAY_ANALYTICS_URL", analytics_url)
    monkeypatch.setenv("GATEWAY_ANALYTICS_TIMEOUT_S", "1")
    return TestClient(create_app(), headers=bearer(key))


@pytest.fixture
def nobody_home(
    kafka_topics: KafkaTopics, operator_key: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    """The gateway, with nothing listening where the analytics should be (called with an
    operator's key: the hourly figures are across tenants)."""
    with _client(monkeypatch, f"http://127.0.0.1:{free_port()}", operator_key) as client:
        yield client


def test_an_unknown_session_is_404_before_the_analytics_are_asked(nobody_home: TestClient) -> None:
    assert_problem(nobody_home.get(f"/api/analytics/sessions/{UNKNOWN}"), 404, "session_not_found")
    assert nobody_home.get("/api/analytics/sessions/not-a-uuid").status_code == 422


def test_unreachable_analytics_are_a_503(nobody_home: TestClient) -> None:
    session_id = nobody_home.post("/api/sessions", json={}).json()["session_id"]
    assert_problem(
        nobody_home.get(f"/api/analytics/sessions/{session_id}"), 503, "analytics_unavailable"
    )
    assert_problem(nobody_home.get("/api/analytics/hours"), 503, "analytics_unavailable")


@pytest.mark.parametrize(
    "query",
    [
        "from=2025-03-14T10:00:00Z&to=2025-03-14T10:00:00Z",
        "from=2025-03-14T10:00:00Z&to=2025-03-14T09:00:00Z",
        "from=2025-01-01T00:00:00Z&to=2025-03-01T00:00:00Z",
    ],
)
def test_a_bad_range_is_refused_with_a_reason(nobody_home: TestClient, query: str) -> None:
    assert_problem(nobody_home.get(f"/api/analytics/hours?{query}"), 422, "invalid_time_range")


def test_times_need_a_zone(nobody_home: TestClient) -> None:
    response = nobody_home.get("/api/analytics/hours?from=2025-03-14T10:00:00")
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "from"]


def test_analytics_that_accept_but_never_answer_time_out(
    kafka_topics: KafkaTopics, operator_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A server that accepts connections and reads requests but never answers.
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            held.append(connection)

    threading.Thread(target=accept, daemon=True).start()
    try:
        port = server.getsockname()[1]
        with _client(monkeypatch, f"http://127.0.0.1:{port}", operator_key) as client:
            began = time.monotonic()
            assert_problem(client.get("/api/analytics/hours"), 503, "analytics_unavailable")
            assert time.monotonic() - began < 5
    finally:
        server.close()
        for connection in held:
            connection.close()


def test_hourly_figures_across_tenants_are_for_operators_only(
    kafka_topics: KafkaTopics, api_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _client(monkeypatch, f"http://127.0.0.1:{free_port()}", api_key) as client:
        assert_problem(client.get("/api/analytics/hours"), 403, "operator_only")

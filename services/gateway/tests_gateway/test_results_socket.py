"""The results socket's protocol on real Kafka, over real TCP (uvicorn, a websockets client):
history first, then live; resuming from a position without loss or repeats; pings; close
codes.

Results are produced straight to audio-results (the pipeline's topic), keyed by session with
the murmur2 partitioner the pipeline's producers use.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from confluent_kafka import Producer
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from livetranslate_common.envelope import new_event
from livetranslate_common.serde import encode_event, encode_key
from livetranslate_common.testing.fixtures import KafkaTopics
from livetranslate_common.testing.results import segment_result
from livetranslate_gateway.config import GatewaySettings
from livetranslate_schemas.events import SessionProcessingCompleted
from tests_gateway.served import served_gateway


class Gateway:
    """The served gateway, called as the tests' tenant."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url = url
        self.headers = headers

    def session(self) -> str:
        response = httpx.post(f"{self.url}/api/sessions", json={}, headers=self.headers)
        assert response.status_code == 201, response.text
        return str(response.json()["session_id"])

    def results(self, session_id: str, query: str = "") -> ClientConnection:
        url = "ws" + self.url.removeprefix("http") + f"/ws/sessions/{session_id}{query}"
        return connect(url, additional_headers=self.headers, open_timeout=30)


@pytest.fixture
def gateway(kafka_topics: KafkaTopics, auth_headers: dict[str, str]) -> Iterator[Gateway]:
    with served_gateway(GatewaySettings()) as url:
        yield Gateway(url, auth_headers)


class Results:
    """Publishing a session's results the way the pipeline does."""

    def __init__(self, topics: KafkaTopics) -> None:
        self._topic = topics["audio-results"]
        self._producer = Producer(
            {"bootstrap.servers": topics.bootstrap_servers, "partitioner": "murmur2_random"}
        )

    def segments(self, session_id: str, starts: range | list[int]) -> None:
        for start_ms in starts:
            self._send(session_id, segment_result(session_id, start_ms))
        self._producer.flush(30)

    def completed(self, session_id: str) -> None:
        payload = SessionProcessingCompleted(
            session_id=session_id,
            run_id="live",
            final_segment_count=0,
            audio_duration_ms=0,
            last_seq=0,
        )
        self._send(session_id, payload)
        self._producer.flush(30)

    def _send(self, session_id: str, payload: Any) -> None:
        envelope = new_event(payload, source="audio_pipeline")
        self._producer.produce(self._topic, encode_event(envelope), key=encode_key(session_id))


def _receive(socket: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(socket.recv(timeout=30))
    return message


def _segments_until(socket: ClientConnection, count: int) -> list[dict[str, Any]]:
    """The next ``count`` segment messages (other messages skipped)."""
    segments: list[dict[str, Any]] = []
    while len(segments) < count:
        message = _receive(socket)
        if message["type"] == "segment":
            segments.append(message)
    return segments


def _starts(messages: list[dict[str, Any]]) -> list[int]:
    return [message["start_ms"] for message in messages]


def _offsets(messages: list[dict[str, Any]]) -> list[int]:
    return [int(message["position"].split(":")[1]) for message in messages]


def test_a_late_joiner_gets_the_history_then_live_results(
    gateway: Gateway, kafka_topics: KafkaTopics
) -> None:
    results = Results(kafka_topics)
    session_id, other = gateway.session(), gateway.session()
    results.segments(session_id, [0, 1000, 2000])
    results.segments(other, [0, 5000])
    with gateway.results(session_id) as socket:
        history = _segments_until(socket, 3)
        caught_up = _receive(socket)
        assert caught_up == {"type": "caught_up", "position": history[-1]["position"]}
        results.segments(session_id, [3000, 4000])
        live = _segments_until(socket, 2)
    assert _starts(history + live) == [0, 1000, 2000, 3000, 4000]
    offsets = _offsets(history + live)
    assert offsets == sorted(set(offsets))
    assert {m["session_id"] for m in history + live} == {session_id}


def test_a_client_resumes_after_its_last_position_without_loss_or_repeats(
    gateway: Gateway, kafka_topics: KafkaTopics
) -> None:
    results = Results(kafka_topics)
    session_id = gateway.session()
    results.segments(session_id, range(0, 4000, 1000))
    with gateway.results(session_id) as socket:
        first = _segments_until(socket, 2)  # the client goes away after two of four
    last_seen = first[-1]["position"]
    results.segments(session_id, range(4000, 6000, 1000))  # produced while it was away
    with gateway.results(session_id, f"?after={last_seen}") as socket:
        rest = _segments_until(socket, 4)
        assert _receive(socket)["type"] == "caught_up"
        socket.send(json.dumps({"type": "ping"}))
        assert _receive(socket) == {"type": "pong"}
        results.completed(session_id)
        completed = _receive(socket)
    assert _starts(first + rest) == list(range(0, 6000, 1000))
    assert completed["type"] == "session_completed"


def test_results_produced_while_joining_are_each_sent_once(
    gateway: Gateway, kafka_topics: KafkaTopics
) -> None:
    # A producer keeps publishing while the client joins: the hand-over from the log to the
    # live subscription must neither drop nor repeat the results around it.
    results = Results(kafka_topics)
    session_id = gateway.session()
    total = 60
    produced = threading.Event()

    def produce() -> None:
        for index in range(total):
            results.segments(session_id, [index * 1000])
            time.sleep(0.01)
        produced.set()

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        time.sleep(0.2)  # some before the client joins, the rest while and after
        with gateway.results(session_id) as socket:
            received = _segments_until(socket, total)
    finally:
        producer.join()
    assert produced.is_set()
    assert _starts(received) == [index * 1000 for index in range(total)]


@pytest.mark.parametrize(
    ("after", "reason"),
    [("99:0", "not on this session's partition"), (None, "beyond the log's end")],
)
def test_a_position_that_cannot_be_the_sessions_is_refused(
    gateway: Gateway, kafka_topics: KafkaTopics, after: str | None, reason: str
) -> None:
    session_id = gateway.session()
    Results(kafka_topics).segments(session_id, [0])
    if after is None:  # a position past the end of the session's partition
        with gateway.results(session_id) as socket:
            (segment,) = _segments_until(socket, 1)
        partition, offset = segment["position"].split(":")
        after = f"{partition}:{int(offset) + 1000}"
    with gateway.results(session_id, f"?after={after}") as socket:
        error = _receive(socket)
        with pytest.raises(ConnectionClosed) as closed:
            _receive(socket)
    assert error["code"] == "bad_position"
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    assert reason in closed.value.rcvd.reason


def test_an_unknown_run_is_closed_with_4404(gateway: Gateway) -> None:
    session_id = gateway.session()
    with (
        pytest.raises(ConnectionClosed) as closed,
        gateway.results(session_id, "?run=rp-0123456789ab") as socket,
    ):
        _receive(socket)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4404


@pytest.mark.parametrize("query", ["?run=../x", "?after=1:x", "?after=-1:2"])
def test_malformed_parameters_close_with_a_visible_code(gateway: Gateway, query: str) -> None:
    # Refused after the handshake: a browser sees the code and reason, not a bare HTTP 403.
    session_id = gateway.session()
    with (
        pytest.raises(ConnectionClosed) as closed,
        gateway.results(session_id, query) as socket,
    ):
        _receive(socket)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1008, "run or after is malformed")


def test_other_client_messages_are_ignored_and_pings_still_answered(
    gateway: Gateway, kafka_topics: KafkaTopics
) -> None:
    session_id = gateway.session()
    with gateway.results(session_id) as socket:
        assert _receive(socket)["type"] == "caught_up"
        socket.send(b"\x00\x01")  # binary
        socket.send("not json")
        socket.send(json.dumps({"type": "subscribe"}))
        socket.send(json.dumps({"type": "ping"}))
        assert _receive(socket) == {"type": "pong"}
        Results(kafka_topics).segments(session_id, [0])
        (segment,) = _segments_until(socket, 1)
    assert segment["start_ms"] == 0

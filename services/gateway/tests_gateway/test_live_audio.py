"""The live audio socket on real Kafka and PostgreSQL: what a stream publishes, how bad
clients are refused, how fast ones are slowed down or closed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from livetranslate_common.pcm import float_to_pcm16
from livetranslate_common.serde import decode_event
from livetranslate_common.settings import KafkaSettings
from livetranslate_common.speech_samples import silence, to_wav_bytes
from livetranslate_common.testing.fixtures import KafkaTopics
from livetranslate_common.testing.topic_reader import read_topic
from livetranslate_gateway.adapters.audio_sources import claim_audio_source
from livetranslate_gateway.adapters.event_publisher import EventPublisher
from livetranslate_gateway.client import GatewayClient, LiveStreamError
from livetranslate_gateway.config import GatewaySettings
from livetranslate_gateway.main import create_app
from livetranslate_schemas.events import (
    AudioChunkReceived,
    AudioStreamEnded,
    Envelope,
    ProcessingFlags,
    SessionCreated,
    SessionProcessingCompleted,
    SourceType,
)
from tests_gateway.conftest import bearer
from tests_gateway.served import served_gateway

UNKNOWN = "00000000-0000-4000-8000-000000000000"
CAPTURED = datetime(2025, 3, 4, 10, 0, 0, tzinfo=UTC)


def _client(api_key: str, **settings: Any) -> Iterator[TestClient]:
    with TestClient(
        create_app(GatewaySettings(**settings)), headers=bearer(api_key)
    ) as test_client:
        yield test_client


@pytest.fixture
def client(kafka_topics: KafkaTopics, api_key: str) -> Iterator[TestClient]:
    # A small burst, so that tests sending faster than real time do not take long; 200 ms
    # chunks, which the tests below count on.
    yield from _client(api_key, live_burst_s=0.5, live_max_ahead_s=10.0, live_chunk_ms=200)


def _session(client: TestClient, **fields: Any) -> str:
    response = client.post("/api/sessions", json=fields)
    assert response.status_code == 201, response.text
    session_id: str = response.json()["session_id"]
    return session_id


def _events(topics: KafkaTopics, session_id: str) -> list[Envelope]:
    return [decode_event(v) for v in read_topic(topics, "audio-ingest", key=session_id.encode())]


def _pcm(seconds: float, rate: int, channels: int = 1) -> bytes:
    rng = np.random.default_rng(3)
    samples = rng.uniform(-0.3, 0.3, int(seconds * rate) * channels).astype(np.float32)
    return float_to_pcm16(samples)


def _frames(pcm: bytes, frame_bytes: int) -> list[bytes]:
    return [pcm[i : i + frame_bytes] for i in range(0, len(pcm), frame_bytes)]


def _start(ws: WebSocketTestSession, **fields: Any) -> dict[str, Any]:
    ws.send_json({"type": "start", "encoding": "pcm_s16le", **fields})
    ready: dict[str, Any] = ws.receive_json()
    assert ready["type"] == "ready", ready
    return ready


def _closed(ws: WebSocketTestSession) -> tuple[list[dict[str, Any]], WebSocketDisconnect]:
    """Messages until the server closes the socket, and the close."""
    messages = []
    while True:
        try:
            messages.append(ws.receive_json())
        except WebSocketDisconnect as closed:
            return messages, closed


def _wait_for_status(client: TestClient, session_id: str, status: str) -> None:
    deadline = time.monotonic() + 20
    while client.get(f"/api/sessions/{session_id}").json()["status"] != status:
        assert time.monotonic() < deadline, f"session never became {status}"
        time.sleep(0.05)


def _chunks(events: list[Envelope]) -> list[AudioChunkReceived]:
    return [e.payload for e in events if isinstance(e.payload, AudioChunkReceived)]


def test_a_stream_publishes_ordered_chunks_then_its_end_and_gets_its_results(
    client: TestClient, kafka_topics: KafkaTopics
) -> None:
    session_id = _session(client, language="en", translate_to=["es", "de"], preset="meeting")
    pcm = _pcm(1.3, 48_000, channels=2)
    with client.websocket_connect(f"/ws/sessions/{session_id}/audio") as ws:
        ready = _start(ws, sample_rate_hz=48_000, channels=2, capture_time=CAPTURED.isoformat())
        assert ready == {"type": "ready", "session_id": session_id, "chunk_ms": 200}
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}
        for frame in _frames(pcm, 48 * 4 * 37):  # 37 ms frames: chunks straddle frames
            ws.send_bytes(frame)
        ws.send_json({"type": "end"})
        ended = ws.receive_json()
        assert ended["type"] == "stream_ended"
        assert ended["chunks"] == 7
        assert ended["duration_ms"] == pytest.approx(1300, abs=1)
        # The stream is over: the read model says so at once.
        assert client.get(f"/api/sessions/{session_id}").json()["status"] == "processing"
        # Results still come back on this socket until the session completes.
        completed = SessionProcessingCompleted(
            session_id=session_id,
            run_id="live",
            final_segment_count=0,
            audio_duration_ms=1300,
            last_seq=6,
        )
        publisher = client.app.state.publisher  # type: ignore[attr-defined]

        async def publish() -> None:
            await publisher.publish(session_id, [completed])

        assert client.portal is not None
        client.portal.call(publish)
        messages, closed = _closed(ws)
    assert [m["type"] for m in messages] == ["session_completed"]
    assert closed.code == 1000

    events = _events(kafka_topics, session_id)
    assert isinstance(events[0].payload, SessionCreated)
    end = events[-1].payload
    assert isinstance(end, AudioStreamEnded)
    chunks = _chunks(events)
    assert len(events) == len(chunks) + 2
    assert [c.seq for c in chunks] == list(range(7))
    assert [c.chunk_id for c in chunks] == [f"{session_id}:{i:08d}" for i in range(7)]
    assert [c.sample_offset for c in chunks] == [3200 * i for i in range(7)]
    assert [c.num_samples for c in chunks[:-1]] == [3200] * 6
    total = sum(c.num_samples for c in chunks)
    assert total == pytest.approx(16_000 * 1.3, abs=2)
    assert (end.reason, end.total_chunks, end.last_seq, end.total_samples) == (
        "completed",
        7,
        6,
        total,
    )
    for chunk in chunks:
        assert chunk.source_type == SourceType.STREAM
        assert chunk.capture_time == CAPTURED + timedelta(seconds=chunk.sample_offset / 16_000)
        assert chunk.audio_config.sample_rate_hz == 16_000
        assert chunk.audio_config.channels == 1
        assert chunk.audio_config.language == "en"
        assert chunk.audio_config.preset == "meeting"
        assert chunk.processing_flags == ProcessingFlags(translate_to=["es", "de"])
    # All of the stream's events are in one trace.
    assert len({e.trace_id for e in events[1:]}) == 1

    # The session's audio has ended: another stream or an upload is refused.
    with (
        pytest.raises(WebSocketDisconnect) as again,
        client.websocket_connect(f"/ws/sessions/{session_id}/audio") as ws,
    ):
        ws.receive_json()
    assert again.value.code == 4409
    upload = client.post(
        f"/api/sessions/{session_id}/audio", content=to_wav_bytes(np.zeros(800, np.float32))
    )
    assert upload.status_code == 409


def test_a_client_that_leaves_without_end_loses_nothing(
    client: TestClient, kafka_topics: KafkaTopics
) -> None:
    session_id = _session(client)
    pcm = _pcm(0.5, 16_000)
    with client.websocket_connect(f"/ws/sessions/{session_id}/audio") as ws:
        _start(ws, sample_rate_hz=16_000)
        for frame in _frames(pcm, 640):
            ws.send_bytes(frame)
        ws.close()
        _wait_for_status(client, session_id, "processing")
    events = _events(kafka_topics, session_id)
    chunks = _chunks(events)
    end = events[-1].payload
    assert isinstance(end, AudioStreamEnded)
    assert end.reason == "client_disconnected"
    # 0.5 s at 16 kHz is two full 200 ms chunks and the flushed partial one, all received.
    assert [c.num_samples for c in chunks] == [3200, 3200, 1600]
    assert b"".join(c.audio or b"" for c in chunks) == pcm
    assert chunks[0].capture_time is not None  # the server's receive time


def test_clock_marks_date_the_chunks_and_one_without_a_zone_ends_the_stream(
    client: TestClient, kafka_topics: KafkaTopics
) -> None:
    session_id = _session(client)
    second_mark = CAPTURED + timedelta(seconds=7)  # the client's clock jumped
    with client.websocket_connect(f"/ws/sessions/{session_id}/audio") as ws:
        _start(ws, sample_rate_hz=16_000)
        ws.send_json({"type": "clock", "capture_time": CAPTURED.isoformat()})
        for index, frame in enumerate(_frames(_pcm(1.6, 16_000), 1280)):  # 40 ms frames
            if index == 25:  # the frame starting at 1.0 s
                ws.send_json({"type": "clock", "capture_time": second_mark.isoformat()})
            ws.send_bytes(frame)
        ws.send_json({"type": "clock", "capture_time": "2025-03-04T10:00:02"})
        messages, closed = _closed(ws)
    assert [(m["type"], m["code"]) for m in messages] == [("error", "invalid_message")]
    assert closed.code == 1008
    events = _events(kafka_topics, session_id)
    chunks = _chunks(events)
    assert [c.capture_time for c in chunks] == [
        *(CAPTURED + timedelta(milliseconds=200 * k) for k in range(5)),
        *(second_mark + timedelta(milliseconds=200 * k) for k in range(3)),
    ]
    end = events[-1].payload
    assert isinstance(end, AudioStreamEnded)
    assert (end.reason, end.total_chunks) == ("invalid_message", 8)


@pytest.mark.parametrize(
    ("first", "close_code", "code"),
    [
        ({"type": "start", "sample_rate_hz": 4000}, 1008, "invalid_message"),
        ({"type": "start", "sample_rate_hz": 16000, "encoding": "opus"}, 1008, "invalid_message"),
        ({"type": "end"}, 1008, "expected_start"),
        ({"type": "hello"}, 1003, "unsupported_message"),
        (b"\x00\x01", 1003, "expected_start"),
    ],
)
def test_a_bad_start_is_refused_and_publishes_nothing(
    client: TestClient,
    kafka_topics: KafkaTopics,
    first: dict[str, Any] | bytes,
    close_code: int,
    code: str,
) -> None:
    session_id = _session(client)
    with client.websocket_connect(f"/ws/sessions/{session_id}/audio") as ws:
        if isinstance(first, bytes):
            ws.send_bytes(first)
        else:
            ws.send_json(first)
        messages, closed = _closed(ws)
    assert [(m["type"], m["code"]) for m in messages] == [("error", code)]
    assert messages[0]["message"]
    assert closed.code == close_code
    assert [type(e.payload) for e in _events(kafka_topics, session_id)] == [SessionCreated]
    # The session is still open: a good stream may follow.
    assert client.get(f"/api/sessions/{session_id}").json()["status"] == "open"
    with client.websocket_connect(f"/ws/sessions/{session_id}/audio") as ws:
        _start(ws, sample_rate_hz=16_000)


@pytest.mark.parametrize(
    ("frame", "close_code", "code"),
    [
        (bytes(16_000 * 2 + 2), 1009, "frame_too_large"),
        (bytes(641), 1003, "misaligned_frame"),
    ],
)
def test_bad_frames_close_the_stream_after_publishing_what_was_accepted(
    client: TestClient, kafka_topics: KafkaTopics, frame: bytes, close_code: int, code: str
) -> None:
    session_id = _session(client)
    with client.websocket_connect(f"/ws/sessions/{session_id}/audio") as ws:
        _start(ws, sample_rate_hz=16_000)
        ws.send_bytes(bytes(1600))  # 50 ms of silence: accepted
        ws.send_bytes(frame)
        messages, closed = _closed(ws)
    assert [(m["type"], m.get("code")) for m in messages] == [("error", code)]
    assert closed.code == close_code
    assert closed.reason
    events = _events(kafka_topics, session_id)
    assert [c.num_samples for c in _chunks(events)] == [800]
    end = events[-1].payload
    assert isinstance(end, AudioStreamEnded)
    assert end.reason == code


def test_unknown_and_ended_sessions_are_refused(client: TestClient) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as unknown,
        client.websocket_connect(f"/ws/sessions/{UNKNOWN}/audio") as ws,
    ):
        ws.receive_json()
    assert unknown.value.code == 4404
    session_id = _session(client)
    uploaded = client.post(
        f"/api/sessions/{session_id}/audio", content=to_wav_bytes(np.zeros(800, np.float32))
    )
    assert uploaded.status_code == 202
    with (
        pytest.raises(WebSocketDisconnect) as ended,
        client.websocket_connect(f"/ws/sessions/{session_id}/audio") as ws,
    ):
        ws.receive_json()
    assert ended.value.code == 4409


def test_one_live_stream_per_session(client: TestClient) -> None:
    session_id = _session(client)
    with client.websocket_connect(f"/ws/sessions/{session_id}/audio") as first:
        _start(first, sample_rate_hz=16_000)
        with (
            pytest.raises(WebSocketDisconnect) as second,
            client.websocket_connect(f"/ws/sessions/{session_id}/audio") as ws,
        ):
            ws.receive_json()
        assert second.value.code == 4409


def test_a_session_takes_its_audio_from_one_source_across_gateways(
    kafka_topics: KafkaTopics, auth_headers: dict[str, str]
) -> None:
    # Two gateway instances on the same Kafka and PostgreSQL, as behind a load balancer: the
    # second knows nothing of the first's open stream but what the database says.
    with (
        TestClient(create_app(GatewaySettings(live_chunk_ms=200)), headers=auth_headers) as first,
        TestClient(create_app(GatewaySettings(live_chunk_ms=200)), headers=auth_headers) as second,
    ):
        session_id = _session(first)
        # A file that is not audio is refused before it claims anything.
        assert second.post(f"/api/sessions/{session_id}/audio", content=b"no").status_code == 415
        with first.websocket_connect(f"/ws/sessions/{session_id}/audio") as stream:
            _start(stream, sample_rate_hz=16_000)
            stream.send_bytes(_pcm(0.4, 16_000))
            with second.websocket_connect(f"/ws/sessions/{session_id}/audio") as other:
                other.send_json(
                    {"type": "start", "encoding": "pcm_s16le", "sample_rate_hz": 16_000}
                )
                # (Not "ready": a second source would number its chunks over the first's.)
                reply = other.receive_json()
                assert (reply["type"], reply.get("code")) == ("error", "audio_taken"), reply
                refused, closed = _closed(other)
            assert refused == []
            assert closed.code == 4409
            assert "live stream" in reply["message"]
            upload = second.post(
                f"/api/sessions/{session_id}/audio", content=to_wav_bytes(silence(0.5))
            )
            assert upload.status_code == 409, upload.text
            assert upload.json()["type"].endswith("session_closed")
            assert "live stream" in upload.json()["detail"]
            stream.send_bytes(_pcm(0.4, 16_000))
            stream.send_json({"type": "end"})
            assert stream.receive_json()["type"] == "stream_ended"
    events = _events(kafka_topics, session_id)
    chunks = _chunks(events)
    # The stream's audio and nothing else: no second source numbered over it.
    assert [chunk.seq for chunk in chunks] == [0, 1, 2, 3]
    assert {chunk.source_type for chunk in chunks} == {SourceType.STREAM}
    assert [type(e.payload) for e in events].count(AudioStreamEnded) == 1


def test_an_upload_claims_the_session_before_a_stream(client: TestClient) -> None:
    session_id = _session(client)
    uploaded = client.post(f"/api/sessions/{session_id}/audio", content=to_wav_bytes(silence(0.5)))
    assert uploaded.status_code == 202
    # The upload's end is projected at once (4409 before start, as ended); the claim is what
    # a stream racing the upload on another instance would meet. Here: only the claim.
    app = client.app
    assert client.portal is not None

    async def holder() -> SourceType | None:
        async with app.state.db_pool.connection() as conn:  # type: ignore[attr-defined]
            return await claim_audio_source(conn, session_id, SourceType.STREAM)

    assert client.portal.call(holder) is SourceType.UPLOAD


def test_a_client_sending_faster_than_real_time_is_slowed_down(
    client: TestClient, kafka_topics: KafkaTopics
) -> None:
    session_id = _session(client)
    pcm = _pcm(2.5, 16_000)
    with client.websocket_connect(f"/ws/sessions/{session_id}/audio") as ws:
        _start(ws, sample_rate_hz=16_000)
        began = time.monotonic()
        for frame in _frames(pcm, 3200):  # 100 ms frames, all at once
            ws.send_bytes(frame)
        ws.send_json({"type": "end"})
        ended = ws.receive_json()
        elapsed = time.monotonic() - began
    assert ended["type"] == "stream_ended"
    # 0.5 s of burst, then real time: the last frame is read 2.5 - 0.5 - 0.1 s after the start.
    assert 1.85 <= elapsed < 6.0, elapsed
    assert sum(c.num_samples for c in _chunks(_events(kafka_topics, session_id))) == 40_000


def test_a_client_far_ahead_of_the_clock_is_closed(kafka_topics: KafkaTopics, api_key: str) -> None:
    for client in _client(api_key, live_burst_s=0.5, live_max_ahead_s=1.2):
        session_id = _session(client)
        with client.websocket_connect(f"/ws/sessions/{session_id}/audio") as ws:
            _start(ws, sample_rate_hz=16_000)
            for frame in _frames(_pcm(4.0, 16_000), 32_000):  # 1 s frames, all at once
                ws.send_bytes(frame)
            messages, closed = _closed(ws)
        assert [m.get("code") for m in messages] == ["too_far_ahead"]
        assert closed.code == 4429
        assert "faster than real time" in closed.reason
        events = _events(kafka_topics, session_id)
        # The first second was accepted and published; the stream ended.
        assert sum(c.num_samples for c in _chunks(events)) == 16_000
        end = events[-1].payload
        assert isinstance(end, AudioStreamEnded)
        assert end.reason == "too_far_ahead"


def test_a_client_flooding_frames_is_closed(kafka_topics: KafkaTopics, api_key: str) -> None:
    for client in _client(api_key, live_max_messages_per_s=20):
        session_id = _session(client)
        with client.websocket_connect(f"/ws/sessions/{session_id}/audio") as ws:
            _start(ws, sample_rate_hz=16_000)
            for _ in range(400):  # 400 frames of 1 ms
                ws.send_bytes(bytes(32))
            messages, closed = _closed(ws)
        assert [m.get("code") for m in messages] == ["too_many_messages"]
        assert closed.code == 4429
        assert "faster than real time" in closed.reason


# --------------------------------------------------------------------------- over real TCP


@pytest.fixture
def server_url(kafka_topics: KafkaTopics, database: str) -> Iterator[str]:
    """The gateway under uvicorn in a thread: real sockets, real TCP back-pressure."""
    with served_gateway(GatewaySettings(live_burst_s=0.5, live_chunk_ms=200)) as url:
        yield url


async def test_the_client_streams_at_real_time_and_reads_results_until_completed(
    server_url: str, kafka_topics: KafkaTopics, api_key: str
) -> None:
    rate = 44_100
    audio = np.random.default_rng(5).uniform(-0.3, 0.3, (int(rate * 1.2), 2)).astype(np.float32)
    publisher = EventPublisher(KafkaSettings())
    await publisher.start()
    try:
        async with GatewayClient(server_url, api_key=api_key) as client:
            session = await client.create_session(translate_to=["es"])
            session_id = session["session_id"]
            began = time.monotonic()
            messages = []
            async with client.stream_audio(
                session_id, audio, sample_rate_hz=rate, channels=2, frame_ms=20
            ) as stream:
                assert stream.chunk_ms == 200
                await stream.ping()
                async for message in stream:
                    messages.append(message)
                    if message["type"] == "stream_ended":
                        elapsed = time.monotonic() - began
                        assert await stream.sent() == 60
                        await publisher.publish(
                            session_id,
                            [
                                SessionProcessingCompleted(
                                    session_id=session_id,
                                    run_id="live",
                                    final_segment_count=0,
                                    audio_duration_ms=1200,
                                    last_seq=5,
                                )
                            ],
                        )
            assert (await client.session(session_id))["status"] == "processing"
    finally:
        await publisher.stop()
    assert [m["type"] for m in messages] == ["pong", "stream_ended", "session_completed"]
    assert messages[1]["chunks"] == 6
    # Paced at real time by the client itself: 1.2 s of audio took about 1.2 s to send.
    assert 1.15 <= elapsed < 5.0, elapsed


async def test_the_clients_clock_marks_stamp_frames_as_they_leave(
    server_url: str, kafka_topics: KafkaTopics, api_key: str
) -> None:
    audio = np.zeros(16_000 * 2, dtype=np.float32)
    async with GatewayClient(server_url, api_key=api_key) as client:
        session_id = (await client.create_session())["session_id"]
        async with client.stream_audio(
            session_id,
            audio,
            sample_rate_hz=16_000,
            frame_ms=100,
            realtime=False,
            capture_time=CAPTURED,
            clock_every_s=0.4,
        ) as stream:
            async for message in stream:
                if message["type"] == "stream_ended":
                    break
    times = [c.capture_time for c in _chunks(_events(kafka_topics, session_id))]
    assert len(times) == 10
    assert all(t is not None for t in times)
    marked, between = times[0::2], times[1::2]
    # A mark every 0.4 s dates the chunk it starts, and the next one 200 ms after it.
    for mark, chunk in zip(marked, between, strict=True):
        assert mark is not None
        assert chunk == mark + timedelta(milliseconds=200)
    assert marked[0] is not None
    assert timedelta(0) <= marked[0] - CAPTURED < timedelta(seconds=0.5)
    # Sent ahead of real time (the gateway holds the client back only after its burst), the
    # audio was stamped as it left: earlier than its place in the audio says, which a
    # capture time derived from the start alone (CAPTURED + 1.6 s) could not show.
    assert marked[4] is not None
    assert marked[4] - CAPTURED < timedelta(seconds=1.2)
    assert marked == sorted(t for t in marked if t is not None)


async def test_tcp_back_pressure_slows_an_eager_client_and_refusals_raise(
    server_url: str, kafka_topics: KafkaTopics, api_key: str
) -> None:
    audio = np.zeros(16_000 * 3, dtype=np.float32)
    async with GatewayClient(server_url, api_key=api_key) as client:
        session_id = (await client.create_session())["session_id"]
        began = time.monotonic()
        async with client.stream_audio(
            session_id, audio, sample_rate_hz=16_000, frame_ms=100, realtime=False
        ) as stream:
            async for message in stream:
                if message["type"] == "stream_ended":
                    break
        # Sent as fast as possible, read at real time after the 0.5 s burst.
        assert time.monotonic() - began >= 2.3
        with pytest.raises(LiveStreamError) as ended:
            async with client.stream_audio(session_id, audio, sample_rate_hz=16_000):
                pass
        assert ended.value.code == 4409
        with pytest.raises(LiveStreamError) as unknown:
            async with client.stream_audio(UNKNOWN, audio, sample_rate_hz=16_000):
                pass
        assert unknown.value.code == 4404
        fresh = (await client.create_session())["session_id"]
        with pytest.raises(LiveStreamError) as bad:
            async with client.stream_audio(fresh, audio, sample_rate_hz=4_000):
                pass
        assert bad.value.code == 1008
        assert bad.value.error is not None
        assert bad.value.error["code"] == "invalid_message"

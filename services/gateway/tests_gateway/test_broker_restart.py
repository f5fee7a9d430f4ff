"""A broker restart in the middle of a live stream: the gateway holds the client back, and
every chunk it accepted reaches audio-ingest exactly once, in order.

These tests run a broker of their own (restarting the session's shared one would disturb
every other test): a real JVM, stopped (or killed) and started again on the same port and
log dir. The pipeline does not run: the guarantee is the gateway's and the broker's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from confluent_kafka.admin import AdminClient

from livetranslate_common.catalogue import CATALOGUE
from livetranslate_common.devstack.kafka import LocalKafka
from livetranslate_common.devstack.processes import free_port
from livetranslate_common.envelope import new_event
from livetranslate_common.pcm import float_to_pcm16
from livetranslate_common.serde import decode_event
from livetranslate_common.settings import KafkaSettings
from livetranslate_common.testing.fixtures import KafkaTopics
from livetranslate_common.testing.topic_reader import read_topic
from livetranslate_common.topics import ensure_topics, wait_for_leaders
from livetranslate_gateway.adapters.event_publisher import EventPublisher
from livetranslate_gateway.adapters.stream_sender import StreamSender
from livetranslate_gateway.client import GatewayClient, LiveStreamError
from livetranslate_gateway.config import GatewaySettings
from livetranslate_gateway.core.live_stream import (
    CLOSE_SESSION_ENDED,
    CLOSE_TRY_AGAIN_LATER,
    LiveProtocolError,
    Pacer,
)
from livetranslate_schemas.events import AudioChunkReceived, AudioStreamEnded, Envelope
from livetranslate_schemas.samples import sample_of
from tests_gateway.served import served_gateway

RATE = 16_000  # the gateway's own rate: no resampling, so the stored audio equals the sent


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def broker() -> Iterator[LocalKafka]:
    """A broker for this module alone; every test leaves it running."""
    base = Path(tempfile.mkdtemp(prefix="livetranslate-kafka-restart-"))
    kafka = LocalKafka(base, free_port(), controller_port=free_port(), heap="256m")
    try:
        kafka.start()
        yield kafka
    finally:
        kafka.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def topics(broker: LocalKafka, monkeypatch: pytest.MonkeyPatch) -> KafkaTopics:
    """The catalogue's topics on the module's broker, under a prefix of this test's own."""
    prefix = f"r{uuid.uuid4().hex[:8]}-"
    ensure_topics(broker.bootstrap_servers, prefix=prefix)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap_servers)
    monkeypatch.setenv("LIVETRANSLATE_TOPIC_PREFIX", prefix)
    names = {spec.name: spec.full_name(prefix) for spec in CATALOGUE}
    return KafkaTopics(broker.bootstrap_servers, prefix, names)


# --------------------------------------------------------------------------- helpers


def _audio(seconds: float, seed: int) -> np.ndarray[Any, np.dtype[np.int16]]:
    noise = np.random.default_rng(seed).uniform(-0.3, 0.3, int(RATE * seconds))
    return np.frombuffer(float_to_pcm16(noise.astype(np.float32)), dtype="<i2")


def _ingested(topics: KafkaTopics, session_id: str) -> list[Envelope]:
    return [decode_event(v) for v in read_topic(topics, "audio-ingest", key=session_id.encode())]


def check_chunks(events: list[Envelope], *, accepted: int) -> list[AudioChunkReceived]:
    """The stored chunks, deduplicated by chunk_id, after checking what the guarantee says:
    every one of the ``accepted`` first chunks is there, seq runs 0.. without a gap, and no
    chunk is stored twice (the producer is idempotent: retries are not duplicates)."""
    chunks = [e.payload for e in events if isinstance(e.payload, AudioChunkReceived)]
    by_id = {chunk.chunk_id: chunk for chunk in chunks}
    assert len(by_id) == len(chunks), "a chunk is stored twice"
    unique = sorted(by_id.values(), key=lambda chunk: chunk.seq)
    assert [c.seq for c in unique] == list(range(len(unique))), "seq has a gap"
    assert len(unique) >= accepted, f"accepted {accepted} chunks, Kafka has {len(unique)}"
    assert [c.seq for c in chunks] == [c.seq for c in unique], "chunks stored out of order"
    return unique


def test_the_check_notices_a_lost_a_doubled_and_a_missing_chunk() -> None:
    """The check above can fail: it is what the restart tests rely on."""
    chunk = sample_of(AudioChunkReceived)
    events = [
        new_event(
            dataclasses.replace(chunk, seq=seq, chunk_id=f"{chunk.session_id}:{seq:08d}"),
            source="test",
        )
        for seq in range(5)
    ]
    assert len(check_chunks(events, accepted=5)) == 5
    with pytest.raises(AssertionError, match="gap"):
        check_chunks(events[:2] + events[3:], accepted=4)
    with pytest.raises(AssertionError, match="twice"):
        check_chunks([*events, events[4]], accepted=5)
    with pytest.raises(AssertionError, match="accepted 6"):
        check_chunks(events, accepted=6)


class _Outage:
    """Stops (or kills) the broker ``after_s`` into the stream, starts it ``down_s`` later."""

    def __init__(self, broker: LocalKafka, *, after_s: float, down_s: float, kill: bool) -> None:
        self.broker = broker
        self.after_s = after_s
        self.down_s = down_s
        self.kill = kill
        self.down_at: float | None = None

    def run(self) -> None:
        time.sleep(self.after_s)
        if self.kill:
            self.broker.kill()
        else:
            self.broker.stop()
        self.down_at = time.monotonic()
        time.sleep(self.down_s)
        self.broker.start()


# --------------------------------------------------------------------------- tests


# Killed, the broker takes ~10 s longer to come back: its controller first waits for the dead
# incarnation's registration to expire (broker.session.timeout.ms). The client sends on
# meanwhile: over 200 frames wait in the socket, read at once when Kafka is back (more than
# the 4429 flood limit would allow a client of its own accord).
@pytest.mark.parametrize(("kill", "seconds"), [(False, 6), (True, 10)], ids=["stopped", "killed"])
async def test_a_broker_restart_mid_stream_loses_and_doubles_no_chunk(
    broker: LocalKafka, topics: KafkaTopics, api_key: str, kill: bool, seconds: int
) -> None:
    audio = _audio(seconds, seed=11)
    outage = _Outage(broker, after_s=1.5, down_s=1.5, kill=kill)
    with served_gateway(GatewaySettings(live_chunk_ms=100)) as url:
        async with GatewayClient(url, api_key=api_key) as client:
            session_id = (await client.create_session())["session_id"]
            restart = asyncio.create_task(asyncio.to_thread(outage.run))
            ended: dict[str, Any] | None = None
            async with client.stream_audio(
                session_id, audio.tobytes(), sample_rate_hz=RATE, frame_ms=20
            ) as stream:
                async for message in stream:
                    if message["type"] == "stream_ended":
                        ended = message
                        ended_at = time.monotonic()
                        break
            await restart
    # The broker went away while the audio flowed: what followed went to the restarted one.
    assert outage.down_at is not None
    assert outage.down_at < ended_at
    # Every chunk the gateway accepted (all of them: it acknowledged the end) is stored once.
    assert ended is not None
    assert ended["chunks"] == seconds * 10
    events = _ingested(topics, session_id)
    chunks = check_chunks(events, accepted=ended["chunks"])
    assert len(chunks) == ended["chunks"]
    stored = np.frombuffer(b"".join(c.audio or b"" for c in chunks), dtype="<i2")
    assert len(stored) == len(audio)
    assert np.abs(stored.astype(np.int32) - audio).max() <= 1
    ends = [e.payload for e in events if isinstance(e.payload, AudioStreamEnded)]
    assert [(e.total_chunks, e.reason) for e in ends] == [(seconds * 10, "completed")]
    assert isinstance(events[-1].payload, AudioStreamEnded)


async def test_a_broker_away_too_long_closes_the_stream_saying_what_kafka_has(
    broker: LocalKafka, topics: KafkaTopics, api_key: str
) -> None:
    audio = _audio(6.0, seed=12)
    settings = GatewaySettings(live_chunk_ms=100, live_max_kafka_wait_s=2.0)
    with served_gateway(settings) as url:
        async with GatewayClient(url, api_key=api_key) as client:
            session_id = (await client.create_session())["session_id"]
            broker_away = asyncio.create_task(asyncio.to_thread(_stop_after, broker, 1.0))
            async with client.stream_audio(
                session_id, audio.tobytes(), sample_rate_hz=RATE, frame_ms=20
            ) as stream:
                with pytest.raises(LiveStreamError) as closed:
                    await _read_until_closed(stream)
            await broker_away
            assert closed.value.code == CLOSE_TRY_AGAIN_LATER
            error = closed.value.error
            assert error is not None
            assert error["code"] == "kafka_unavailable"
            acknowledged = error["acknowledged_chunks"]
            assert acknowledged >= 5  # a second of audio went through before the broker went
            assert error["acknowledged_ms"] == acknowledged * 100
            # Until its end is published, the session takes no other stream: one would number
            # its chunks from 0 again, over the first stream's.
            with pytest.raises(LiveStreamError) as refused:
                async with client.stream_audio(session_id, audio.tobytes(), sample_rate_hz=RATE):
                    pass
            assert refused.value.code == CLOSE_SESSION_ENDED
            assert "still being ended" in refused.value.reason
            await asyncio.to_thread(broker.start)
            # The gateway takes the next stream as if nothing had happened.
            second = (await client.create_session())["session_id"]
            async with client.stream_audio(
                second, _audio(0.5, seed=13).tobytes(), sample_rate_hz=RATE, realtime=False
            ) as stream:
                messages = [m async for m in _until_ended(stream)]
            assert messages[-1]["chunks"] == 5
            # Once Kafka is back, the first stream's end is published (the session is no longer
            # open) and another stream of it is refused as ended.
            async with asyncio.timeout(120):
                while (await client.session(session_id))["status"] == "open":
                    await asyncio.sleep(0.5)
            with pytest.raises(LiveStreamError) as ended:
                async with client.stream_audio(session_id, audio.tobytes(), sample_rate_hz=RATE):
                    pass
            assert ended.value.code == CLOSE_SESSION_ENDED
            assert "already ended" in ended.value.reason
    # What Kafka acknowledged is there; what it got after the close (chunks the producer
    # still held, then what the gateway held) follows without a gap or a duplicate, and the
    # stream's end comes last, counting every chunk.
    events = _ingested(topics, session_id)
    chunks = check_chunks(events, accepted=acknowledged)
    end = events[-1].payload
    assert isinstance(end, AudioStreamEnded)
    assert end.reason == "kafka_unavailable"
    assert end.total_chunks == len(chunks)
    assert end.total_samples == sum(chunk.num_samples for chunk in chunks)
    check_chunks(_ingested(topics, second), accepted=5)


async def _read_until_closed(stream: Any) -> None:
    async for message in stream:
        assert message["type"] != "stream_ended"


def _stop_after(broker: LocalKafka, seconds: float) -> None:
    time.sleep(seconds)
    broker.stop()


async def _until_ended(stream: Any) -> Any:
    async for message in stream:
        yield message
        if message["type"] == "stream_ended":
            return


async def test_the_publisher_outlives_batches_that_expired_while_the_broker_was_away(
    broker: LocalKafka, topics: KafkaTopics
) -> None:
    """An idempotent producer gave the expired events their sequence numbers all the same: if
    it kept them, every later send to that partition would be refused as out of order
    (aiokafka did exactly that; librdkafka bumps the producer's epoch)."""
    publisher = EventPublisher(KafkaSettings(), delivery_timeout_ms=1000)
    await publisher.start()
    session_id = "expiring"
    chunk = sample_of(AudioChunkReceived)

    def event(seq: int) -> AudioChunkReceived:
        return dataclasses.replace(
            chunk, session_id=session_id, seq=seq, chunk_id=f"{session_id}:{seq:08d}"
        )

    try:
        sending = True
        publishes: list[asyncio.Task[list[Envelope]]] = []

        async def keep_publishing() -> None:
            seq = 0
            while sending:
                publishes.append(asyncio.create_task(publisher.publish(session_id, [event(seq)])))
                seq += 1
                await asyncio.sleep(0.02)

        publishing = asyncio.create_task(keep_publishing())
        await asyncio.sleep(0.5)
        # A controlled shutdown: the partition has no leader for a while, so batches waiting
        # for one expire after request_timeout_ms.
        await asyncio.to_thread(broker.stop)
        await asyncio.sleep(2.5)
        sending = False
        await publishing
        await asyncio.to_thread(broker.start)
        async with asyncio.timeout(60):
            outcomes = await asyncio.gather(*publishes, return_exceptions=True)
        failed = [o for o in outcomes if isinstance(o, BaseException)]
        assert failed, "no batch expired: the test did not create the case it is about"
        # The next publishes land, once the restarted broker leads the partitions again
        # (sooner, a publish could time out after its 1 s for want of a leader: no proof of
        # anything, and a flaky test on a busy machine).
        admin = AdminClient({"bootstrap.servers": topics.bootstrap_servers})
        await asyncio.to_thread(wait_for_leaders, admin, [topics.names["audio-ingest"]], 60.0)
        after = [len(publishes) + i for i in range(3)]
        for seq in after:
            async with asyncio.timeout(30):
                await publisher.publish(session_id, [event(seq)])
    finally:
        await publisher.stop()
    stored = [
        e.payload.seq
        for e in _ingested(topics, session_id)
        if isinstance(e.payload, AudioChunkReceived)
    ]
    assert stored[-3:] == after
    assert len(set(stored)) == len(stored)


def test_time_the_gateway_stalls_for_kafka_does_not_count_as_a_flood() -> None:
    def pacer() -> Pacer:
        return Pacer(0.0, burst_s=2.0, max_ahead_s=10.0, max_messages_per_s=50.0, message_burst=20)

    stalled = pacer()
    # Three seconds without reading (Kafka away): 150 frames of 20 ms queued in the socket.
    stalled.stalled(3.0)
    for i in range(150):
        stalled.on_message(3.0 + i * 1e-4)
    assert stalled.stalled_s == 3.0
    flooding = pacer()
    for i in range(20):
        flooding.on_message(3.0 + i * 1e-4)
    with pytest.raises(LiveProtocolError, match="messages per second"):
        flooding.on_message(3.0 + 20e-4)


# --------------------------------------------------------------------------- the stream sender


def _chunks(session_id: str, count: int) -> list[AudioChunkReceived]:
    chunk = sample_of(AudioChunkReceived)
    return [
        dataclasses.replace(
            chunk,
            session_id=session_id,
            seq=seq,
            chunk_id=f"{session_id}:{seq:08d}",
            num_samples=1600 + seq,
        )
        for seq in range(count)
    ]


async def test_the_stream_sender_counts_what_kafka_has_and_ends_after_every_chunk(
    topics: KafkaTopics,
) -> None:
    publisher = EventPublisher(KafkaSettings())
    await publisher.start()
    try:
        sender = StreamSender(
            publisher, "sent", trace_id="a" * 32, max_in_flight=4, max_wait_s=30.0
        )
        chunks = _chunks("sent", 20)
        for chunk in chunks:
            await sender.wait_for_room()
            assert sender.room_left()
            await sender.send_chunk(chunk)
        end = AudioStreamEnded(
            session_id="sent", last_seq=19, total_chunks=20, total_samples=0, reason="completed"
        )
        async with asyncio.timeout(30):
            envelope = await sender.send_end(end)
        assert envelope.payload == end
        # The end's report comes after every chunk's: all of them are counted by now.
        assert sender.acknowledged_chunks == 20
        assert sender.acknowledged_samples == sum(c.num_samples for c in chunks)
        assert sender.failure is None
        sender.close()
    finally:
        await publisher.stop()
    events = _ingested(topics, "sent")
    assert [e.payload for e in events] == [*chunks, end]


async def test_the_stream_sender_holds_a_bounded_number_then_fails_when_kafka_stays_away(
    broker: LocalKafka, topics: KafkaTopics
) -> None:
    publisher = EventPublisher(KafkaSettings())
    await publisher.start()
    chunks = _chunks("held", 12)
    try:
        sender = StreamSender(publisher, "held", trace_id="b" * 32, max_in_flight=5, max_wait_s=2.0)
        for chunk in chunks[:3]:
            await sender.send_chunk(chunk)
        async with asyncio.timeout(30):
            while sender.acknowledged_chunks < 3:
                await asyncio.sleep(0.01)
        await asyncio.to_thread(broker.stop)
        began = time.monotonic()
        sent = 3

        async def send_the_rest() -> None:
            nonlocal sent
            for chunk in chunks[3:]:
                await sender.wait_for_room()
                await sender.send_chunk(chunk)
                sent += 1

        # (A hang would be cut at 20 s: the figure below then fails the test.)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(send_the_rest(), 20)
        waited = time.monotonic() - began
        # Room for five unacknowledged chunks, then the reader waited until the deadline.
        assert sent == 8
        assert 2.0 <= waited < 10.0
        assert isinstance(sender.failure, TimeoutError)
        assert (sender.acknowledged_chunks, sender.acknowledged_samples) == (
            3,
            sum(c.num_samples for c in chunks[:3]),
        )
        assert sender.failed.done()
        with pytest.raises(TimeoutError):
            await sender.send_chunk(chunks[8])
        with pytest.raises(TimeoutError):
            await sender.send_end(
                AudioStreamEnded(
                    session_id="held", last_seq=8, total_chunks=9, total_samples=0, reason="x"
                )
            )
        sender.close()
    finally:
        await asyncio.to_thread(broker.start)
        await publisher.stop()
    # The producer kept the chunks it was handed and delivered them once the broker was back.
    assert [e.payload for e in _ingested(topics, "held")] == chunks[:8]

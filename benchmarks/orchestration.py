"""Orchestration overhead at 500 concurrent simulated sessions, recognition excluded.

Simulated clients publish straight to audio-ingest what the gateway would for live streams:
a SessionCreated, then one chunk per session every live chunk period (the gateway's, 100 ms),
at real-time pace, the sessions' phases spread evenly over the period; then the end of each
stream. The sessions ask for no transcription, so the worker does everything but voice
activity detection and recognition: decode the envelope, the session's state, timing checks,
audio decoding and stages, progress checkpoints in its changelog-backed tables, committing.

The clients' own work, building and Avro-encoding 5,000 events a second, would take a third
of a core from the two the worker and the broker share (a Faust agent that does nothing went
from p99 25 ms to 42-103 ms at 500 x 100 ms when its clients encoded as they went), where
real clients and gateways run on their own machines. So every chunk is encoded before the
clock starts, stamped with the time it is due to be published: a chunk published late
counts its lateness against the worker, never in its favour.

Per chunk, the worker's /metrics histogram measures the time from the chunk's publication
(its envelope timestamp) to the end of its processing there; percentiles come from the
histogram's buckets (interpolated within a bucket), so they are as fine as those buckets.
"""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from confluent_kafka import Producer
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.system import BenchSystem
from livetranslate_common.envelope import new_event
from livetranslate_common.pcm import float_to_pcm16
from livetranslate_common.serde import encode_event, encode_key
from livetranslate_common.speech_samples import SAMPLE_RATE, FloatSamples
from livetranslate_gateway.config import GatewaySettings
from livetranslate_schemas.events import (
    AudioChunkReceived,
    AudioConfig,
    AudioStreamEnded,
    EventPayload,
    ProcessingFlags,
    SessionCreated,
    SourceType,
)

_SOURCE = "bench-simulator"
_LAG_METRIC = "livetranslate_pipeline_event_lag_seconds"


@dataclass(frozen=True, slots=True)
class OrchestrationFigures:
    sessions: int
    chunk_ms: int
    workers: int
    seconds: float
    chunks_sent: int
    chunks_processed: int
    # Percentiles of publication -> processed, per chunk, in ms.
    p50_ms: float
    p95_ms: float
    p99_ms: float
    # CPU seconds the workers used per second of the run (1.0 = one core busy).
    worker_cpu: float


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime and stime (fields 14 and 15 of stat; 12 and 13 after the command name).
    return (int(fields[11]) + int(fields[12])) / 100.0


def _lag_buckets(pipeline_urls: list[str]) -> dict[float, float]:
    """Cumulative bucket counts of the chunk lag histogram, by upper bound, all workers."""
    buckets: dict[float, float] = {}
    for url in pipeline_urls:
        for bound, count in _worker_lag_buckets(url).items():
            buckets[bound] = buckets.get(bound, 0.0) + count
    return buckets


def _worker_lag_buckets(pipeline_url: str) -> dict[float, float]:
    text = httpx.get(f"{pipeline_url}/metrics", timeout=10).text
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != _LAG_METRIC:
            continue
        for sample in family.samples:
            if (
                sample.name == f"{_LAG_METRIC}_bucket"
                and sample.labels.get("event_type") == "AudioChunkReceived"
            ):
                buckets[float(sample.labels["le"])] = sample.value
    return buckets


def _count(buckets: dict[float, float]) -> float:
    return buckets.get(math.inf, 0.0)


def bucket_percentile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """The q-th percentile (0-100) of what was observed between two scrapes, in seconds."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1]
    if total <= 0:
        return math.nan
    rank = q / 100 * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in zip(bounds, counts, strict=True):
        if count >= rank:
            if math.isinf(bound):
                return lower_bound  # beyond the last finite bucket: at least this
            share = (rank - lower_count) / (count - lower_count) if count > lower_count else 1.0
            return lower_bound + share * (bound - lower_bound)
        lower_bound, lower_count = bound, count
    return bounds[-1]


class _Simulator:
    def __init__(self, system: BenchSystem, sessions: int, chunk_ms: int) -> None:
        self._producer = Producer(
            {
                "bootstrap.servers": system.topics.bootstrap_servers,
                "linger.ms": 5,
                "enable.idempotence": True,
                "acks": "all",
            }
        )
        self._topic = system.topics.names["audio-ingest"]
        self._ids = [f"sim-{uuid.uuid4()}" for _ in range(sessions)]
        self._chunk_samples = SAMPLE_RATE * chunk_ms // 1000
        self.sent = 0

    @property
    def ids(self) -> list[str]:
        return self._ids

    def publish(self, session_id: str, payload: EventPayload) -> None:
        envelope = new_event(payload, source=_SOURCE, trace_id=uuid.uuid4().hex)
        self._producer.produce(self._topic, encode_event(envelope), encode_key(session_id))
        self._producer.poll(0)
        self.sent += 1

    def create_all(self) -> None:
        for session_id in self._ids:
            self.publish(
                session_id,
                SessionCreated(
                    session_id=session_id,
                    source_type=SourceType.STREAM,
                    audio_config=AudioConfig(),
                    processing_flags=ProcessingFlags(transcribe=False),
                ),
            )
        self._producer.flush(30)

    def encoded_chunk(self, session_id: str, seq: int, audio: bytes, due: datetime) -> bytes:
        """The chunk as the gateway would publish it, stamped with when it is due."""
        chunk = AudioChunkReceived(
            session_id=session_id,
            chunk_id=f"{session_id}:{seq}",
            seq=seq,
            source_type=SourceType.STREAM,
            audio_config=AudioConfig(),
            sample_offset=seq * self._chunk_samples,
            num_samples=self._chunk_samples,
            audio=audio,
        )
        envelope = new_event(chunk, source=_SOURCE, trace_id=uuid.uuid4().hex)
        return encode_event(dataclasses.replace(envelope, timestamp=due))

    def publish_encoded(self, session_id: str, value: bytes) -> None:
        self._producer.produce(self._topic, value, encode_key(session_id))
        self._producer.poll(0)
        self.sent += 1

    def flush(self) -> None:
        self._producer.flush(60)

    def end_all(self, chunks: int) -> None:
        for session_id in self._ids:
            self.publish(
                session_id,
                AudioStreamEnded(
                    session_id=session_id,
                    last_seq=chunks - 1,
                    total_chunks=chunks,
                    total_samples=chunks * self._chunk_samples,
                ),
            )
        self._producer.flush(30)


def _pieces(speech: FloatSamples, chunk_ms: int) -> list[bytes]:
    """The speech cut into chunks' PCM16 audio; sessions take them in turn."""
    chunk_samples = SAMPLE_RATE * chunk_ms // 1000
    return [
        float_to_pcm16(speech[offset : offset + chunk_samples])
        for offset in range(0, len(speech) - chunk_samples, chunk_samples)
    ]


def orchestration_run(
    system: BenchSystem,
    speech: FloatSamples,
    *,
    sessions: int = 500,
    seconds: float = 30.0,
    chunk_ms: int | None = None,
) -> OrchestrationFigures:
    chunk_ms = chunk_ms or GatewaySettings().live_chunk_ms
    simulator = _Simulator(system, sessions, chunk_ms)
    period = chunk_ms / 1000
    pieces = _pieces(speech, chunk_ms)
    simulator.create_all()
    rounds = int(seconds / period)
    # When each chunk is due, from the start of the run: each session at its own phase of
    # the period, as independent clients send.
    schedule = [
        (
            seq * period + index * period / sessions,
            session_id,
            seq,
            pieces[(seq + index) % len(pieces)],
        )
        for seq in range(rounds)
        for index, session_id in enumerate(simulator.ids)
    ]
    # Start once everything is encoded (measured on a sample, with room to spare), and at
    # least 2 s after the sessions were created, so the worker has opened them all.
    sample = min(len(schedule), 200)
    timing = time.perf_counter()
    for _, session_id, seq, audio in schedule[:sample]:
        simulator.encoded_chunk(session_id, seq, audio, datetime.now(UTC))
    encode_s = (time.perf_counter() - timing) / sample * len(schedule)
    start_wall = datetime.now(UTC) + timedelta(seconds=max(2.0, 2 * encode_s + 1.0))
    start_mono = time.monotonic() + (start_wall - datetime.now(UTC)).total_seconds()
    encoded = [
        (
            offset,
            session_id,
            simulator.encoded_chunk(session_id, seq, audio, start_wall + timedelta(seconds=offset)),
        )
        for offset, session_id, seq, audio in schedule
    ]
    time.sleep(max(0.0, start_mono - time.monotonic()))
    before = _lag_buckets(system.pipeline_urls)
    cpu_before = sum(_cpu_seconds(pid) for pid in system.pipeline_pids)
    started = time.monotonic()
    for offset, session_id, value in encoded:
        delay = start_mono + offset - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        simulator.publish_encoded(session_id, value)
    simulator.end_all(rounds)
    elapsed = time.monotonic() - started
    # Wait until the worker has processed every chunk (or give up after a minute).
    after = _lag_buckets(system.pipeline_urls)
    for _ in range(120):
        if _count(after) - _count(before) >= rounds * sessions:
            break
        time.sleep(0.5)
        after = _lag_buckets(system.pipeline_urls)
    cpu = sum(_cpu_seconds(pid) for pid in system.pipeline_pids) - cpu_before
    busy_for = time.monotonic() - started
    processed = int(_count(after) - _count(before))
    return OrchestrationFigures(
        sessions=sessions,
        chunk_ms=chunk_ms,
        workers=len(system.pipeline_pids),
        seconds=elapsed,
        chunks_sent=rounds * sessions,
        chunks_processed=processed,
        p50_ms=bucket_percentile(before, after, 50) * 1000,
        p95_ms=bucket_percentile(before, after, 95) * 1000,
        p99_ms=bucket_percentile(before, after, 99) * 1000,
        worker_cpu=cpu / busy_for,
    )


@dataclass(frozen=True, slots=True)
class CapacityFigures:
    sessions: int
    chunk_ms: int
    chunks: int
    seconds: float
    # CPU the worker spent per chunk while draining the backlog, in microseconds.
    cpu_us_per_chunk: float

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.seconds

    def headroom(self) -> float:
        """Capacity over the load of these sessions at real time (1.0: no room at all)."""
        return self.chunks_per_second / (self.sessions * 1000 / self.chunk_ms)


def capacity_run(
    system: BenchSystem,
    speech: FloatSamples,
    *,
    sessions: int = 500,
    rounds: int = 100,
    chunk_ms: int | None = None,
) -> CapacityFigures:
    """How fast one worker gets through a backlog of ``rounds`` chunks of each session.

    The p99 above depends on how busy the machine is at that moment; this much less: the
    worker is paused (SIGSTOP) while the backlog is published, then drains it at full speed,
    and the run reports chunks per second and the worker's CPU per chunk. Its ratio to the
    sessions' real-time load is the worker's headroom. The pause is far shorter than the
    consumer group's session timeout, so no rebalance happens.
    """
    if len(system.pipeline_pids) != 1:
        raise ValueError("the capacity is one worker's: run it on a system with one")
    chunk_ms = chunk_ms or GatewaySettings().live_chunk_ms
    pid = system.pipeline_pids[0]
    simulator = _Simulator(system, sessions, chunk_ms)
    pieces = _pieces(speech, chunk_ms)
    simulator.create_all()
    encoded = [
        (
            session_id,
            simulator.encoded_chunk(
                session_id, seq, pieces[(seq + index) % len(pieces)], datetime.now(UTC)
            ),
        )
        for seq in range(rounds)
        for index, session_id in enumerate(simulator.ids)
    ]
    # Wait until the worker has opened the sessions (their SessionCreated).
    time.sleep(2.0)
    before = _count(_lag_buckets(system.pipeline_urls))
    os.kill(pid, signal.SIGSTOP)
    try:
        for session_id, value in encoded:
            simulator.publish_encoded(session_id, value)
        simulator.flush()
    finally:
        os.kill(pid, signal.SIGCONT)
    started, cpu_before = time.monotonic(), _cpu_seconds(pid)
    deadline = started + 120
    while _count(_lag_buckets(system.pipeline_urls)) - before < len(encoded):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the worker did not get through {len(encoded)} chunks in 120 s")
        time.sleep(0.1)  # each look costs the worker a /metrics page
    seconds = time.monotonic() - started
    cpu = _cpu_seconds(pid) - cpu_before
    simulator.end_all(rounds)
    return CapacityFigures(
        sessions=sessions,
        chunk_ms=chunk_ms,
        chunks=len(encoded),
        seconds=seconds,
        cpu_us_per_chunk=cpu / len(encoded) * 1e6,
    )

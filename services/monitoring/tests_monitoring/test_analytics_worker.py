"""The analytics workers as real processes on a real broker, read through the gateway.

Two workers share audio-results' partitions, so a session's question reaches a worker that may
not own it (it asks the owner) and the hourly figures add up both workers' partitions. Finals
of two sessions go in with known speakers, timings and latencies, with a redelivery, a final
published again in the next window, a partial and a reprocessing run's final (none of which may
count); the figures come out exact, from either worker, and survive a restart (the windows
come back from the changelog).
"""

from __future__ import annotations

import dataclasses
import re
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Producer
from fastapi.testclient import TestClient

from livetranslate_common.devstack.processes import ManagedProcess, free_port
from livetranslate_common.devstack.services import monitoring_process
from livetranslate_common.envelope import new_event
from livetranslate_common.runs import LIVE_RUN
from livetranslate_common.serde import encode_event, encode_key
from livetranslate_common.testing.fixtures import KafkaTopics
from livetranslate_gateway.keys import issue_key_for
from livetranslate_gateway.main import create_app
from livetranslate_schemas.events import (
    Envelope,
    EventPayload,
    LatencyMetrics,
    SessionCreated,
    SourceType,
    TranscriptionCompleted,
    WordTiming,
)
from livetranslate_schemas.samples import sample_of

HOUR = 3600


@pytest.fixture
def workers(kafka_topics: KafkaTopics, tmp_path: Path) -> Iterator[list[ManagedProcess]]:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_topics.bootstrap_servers,
        "LIVETRANSLATE_TOPIC_PREFIX": kafka_topics.prefix,
    }
    started = [
        monitoring_process(tmp_path, web_port=free_port(), env=env, name=f"monitoring-{index}")
        for index in range(2)
    ]
    for worker in started:
        worker.start(wait=False)
    try:
        # Ready: the worker owns partitions and has recovered its table. Both ready means the
        # group has settled with partitions on each.
        for worker in started:
            worker.wait_ready(timeout=90)
        yield started
    finally:
        for worker in started:
            worker.stop()


@pytest.fixture
def gateway(
    workers: list[ManagedProcess], database: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.setenv("GATEWAY_ANALYTICS_URL", _url(workers[0]))
    # An operator's key: the hourly figures are across tenants.
    key = issue_key_for(database, tenant_id="analytics-tests", name="tests", operator=True)
    with TestClient(create_app(), headers={"Authorization": f"Bearer {key}"}) as client:
        yield client


def _url(worker: ManagedProcess) -> str:
    return f"http://127.0.0.1:{worker.port}"


def _final(
    session_id: str,
    position_ms: int,
    *,
    end_ms: int,
    speaker: str | None,
    words: int,
    latency: tuple[int, int],
    run_id: str = LIVE_RUN,
    revision: int = 0,
    is_final: bool = True,
) -> TranscriptionCompleted:
    queue_ms, end_of_speech_ms = latency
    return dataclasses.replace(
        sample_of(TranscriptionCompleted),
        session_id=session_id,
        segment_id=f"{session_id}:{position_ms * 16:012d}",
        revision=revision,
        is_final=is_final,
        run_id=run_id,
        start_ms=position_ms,
        end_ms=end_ms,
        speaker=speaker,
        words=[WordTiming(word=" w", start_ms=position_ms, end_ms=end_ms)] * words,
        latency=LatencyMetrics(
            asr_ms=100, queue_ms=queue_ms, end_of_speech_to_result_ms=end_of_speech_ms
        ),
    )


def _at(payload: EventPayload, published: float) -> Envelope:
    envelope = new_event(payload, source="audio_pipeline")
    return dataclasses.replace(envelope, timestamp=datetime.fromtimestamp(published, UTC))


def _publish(topics: KafkaTopics, envelopes: list[Envelope]) -> None:
    # murmur2, as the pipeline's producer (aiokafka) and every Java client partition keys.
    producer = Producer(
        {
            "bootstrap.servers": topics.bootstrap_servers,
            "acks": "all",
            "partitioner": "murmur2_random",
        }
    )
    for envelope in envelopes:
        assert isinstance(envelope.payload, SessionCreated | TranscriptionCompleted)
        key = encode_key(envelope.payload.session_id)
        producer.produce(topics["audio-results"], encode_event(envelope), key)
    assert producer.flush(30) == 0


def _created(client: TestClient) -> str:
    response = client.post("/api/sessions", json={})
    assert response.status_code == 201, response.text
    return str(response.json()["session_id"])


def _settled(client: TestClient, path: str, done: Any, timeout: float = 60) -> dict[str, Any]:
    """GET ``path`` until ``done(body)`` (the workers may still be counting)."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(path)
        if response.status_code == 200 and done(response.json()):
            return dict(response.json())
        assert time.monotonic() < deadline, f"{path}: {response.status_code} {response.text}"
        time.sleep(0.3)


def _speakers(figures: dict[str, Any]) -> dict[str | None, tuple[int, int, float | None]]:
    return {
        row["speaker"]: (row["talk_time_ms"], row["words"], row["words_per_minute"])
        for row in figures["speakers"]
    }


def _duplicates_counted(workers: list[ManagedProcess]) -> float:
    pattern = re.compile(
        r'^livetranslate_monitoring_events_total\{outcome="duplicate",'
        r'type="TranscriptionCompleted"\} (\S+)$',
        re.MULTILINE,
    )
    total = 0.0
    for worker in workers:
        with urllib.request.urlopen(f"{_url(worker)}/metrics", timeout=5) as response:
            text = response.read().decode()
        total += sum(float(value) for value in pattern.findall(text))
    return total


def test_figures_per_session_and_per_hour_count_each_final_once(
    gateway: TestClient, workers: list[ManagedProcess], kafka_topics: KafkaTopics
) -> None:
    live, upload, silent = _created(gateway), _created(gateway), _created(gateway)
    hour = time.time() // HOUR * HOUR
    earlier = hour - HOUR
    first = _final(
        live, 0, end_ms=6000, speaker="SPEAKER_00", words=15, latency=(20, 480), revision=1
    )
    first_sent = _at(first, earlier + HOUR - 1)

    def created(session_id: str) -> SessionCreated:
        # As the gateway creates every session, live or not (the pipeline forwards it).
        return dataclasses.replace(
            sample_of(SessionCreated), session_id=session_id, source_type=SourceType.UPLOAD
        )

    _publish(
        kafka_topics,
        [
            # In the hour before: the session's start, a partial (only live audio gets them,
            # so from now on the session's latency counts) and its first final.
            _at(created(live), earlier + 100),
            _at(dataclasses.replace(first, revision=0, is_final=False), earlier + HOUR - 2),
            first_sent,
            # Redelivered as it was, then published again by a worker taking the session over,
            # by then in the next hour: neither counts again.
            first_sent,
            _at(first, hour + 2),
            # Neither a partial nor a reprocessing run's final counts.
            _at(dataclasses.replace(first, segment_id=f"{live}:x", is_final=False), earlier),
            _at(dataclasses.replace(first, segment_id=f"{live}:y", run_id="rp-1"), hour + 3),
            # The next two finals (revision 0, no partial before them) start the session's
            # window of this hour: it learns from the hour before that the session is live.
            _at(
                _final(live, 7000, end_ms=10000, speaker="SPEAKER_01", words=9, latency=(30, 670)),
                hour + 5,
            ),
            _at(
                _final(live, 11000, end_ms=14000, speaker="SPEAKER_00", words=6, latency=(9, 1941)),
                hour + 10,
            ),
            # An upload: its words and talk time count, its latency does not.
            _at(created(upload), hour + 1),
            _at(
                _final(upload, 0, end_ms=30000, speaker=None, words=60, latency=(4000, 900)),
                hour + 20,
            ),
        ],
    )

    figures = _settled(gateway, f"/api/analytics/sessions/{live}", lambda body: body["words"] >= 30)
    assert (figures["final_segments"], figures["words"], figures["talk_time_ms"]) == (3, 30, 12000)
    assert figures["words_per_minute"] == 150.0
    assert _speakers(figures) == {"SPEAKER_00": (9000, 21, 140.0), "SPEAKER_01": (3000, 9, 180.0)}
    assert figures["latency_ms"] == {"finals_measured": 3, "p50": 700, "p95": 2000, "p99": 2000}
    assert [(w["start"], w["final_segments"]) for w in figures["windows"]] == [
        (datetime.fromtimestamp(earlier, UTC).isoformat().replace("+00:00", "Z"), 1),
        (datetime.fromtimestamp(hour, UTC).isoformat().replace("+00:00", "Z"), 2),
    ]

    recorded_figures = _settled(
        gateway, f"/api/analytics/sessions/{upload}", lambda body: body["final_segments"] >= 1
    )
    assert _speakers(recorded_figures) == {None: (30000, 60, 120.0)}
    assert recorded_figures["latency_ms"]["finals_measured"] == 0
    # A session nothing was counted for: zeros; an unknown one: 404.
    quiet = gateway.get(f"/api/analytics/sessions/{silent}").json()
    assert (quiet["final_segments"], quiet["windows"], quiet["latency_ms"]["p50"]) == (0, [], None)
    unknown = gateway.get("/api/analytics/sessions/00000000-0000-4000-8000-000000000000")
    assert unknown.status_code == 404

    since, until = datetime.fromtimestamp(earlier, UTC), datetime.fromtimestamp(hour + HOUR, UTC)
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    hours_path = f"/api/analytics/hours?from={since:{stamp}}&to={until:{stamp}}"
    hourly = _settled(gateway, hours_path, lambda body: body["total"]["final_segments"] >= 4)
    assert [(w["sessions"], w["final_segments"], w["words"]) for w in hourly["windows"]] == [
        (1, 1, 15),
        (2, 3, 75),
    ]
    total = hourly["total"]
    assert (total["final_segments"], total["words"], total["talk_time_ms"]) == (4, 90, 42000)
    assert total["words_per_minute"] == round(90 / 0.7, 1)
    assert total["latency_ms"] == figures["latency_ms"]
    assert _duplicates_counted(workers) == 2

    # The workers share the partitions between them...
    owned = [
        set(httpx.get(f"{_url(w)}/analytics/local/hours", timeout=10).json()["partitions"])
        for w in workers
    ]
    assert all(owned)
    assert not owned[0] & owned[1]
    assert owned[0] | owned[1] == set(range(6))
    # ...and either answers alike: one from its own table, the other by asking it.
    for worker in workers:
        direct = httpx.get(f"{_url(worker)}/analytics/sessions/{live}", timeout=10).json()
        assert direct["words"] == 30
        assert direct["latency_ms"] == figures["latency_ms"]
        params = {"from": since.isoformat(), "to": until.isoformat()}
        across = httpx.get(f"{_url(worker)}/analytics/hours", params=params, timeout=10).json()
        assert across["total"] == total

    # Both stop; one starts again alone, recovers every window from the changelog and still
    # knows every figure. (Not a running worker taking the other's partitions over: Faust's
    # recovery of partitions new to a running worker sometimes never ends, see app.py.)
    for worker in workers:
        worker.stop()
    workers[0].start(wait=False)
    workers[0].wait_ready(timeout=90)
    after = _settled(gateway, hours_path, lambda body: body["total"]["final_segments"] >= 4)
    assert after["total"] == total
    assert gateway.get(f"/api/analytics/sessions/{live}").json()["windows"] == figures["windows"]

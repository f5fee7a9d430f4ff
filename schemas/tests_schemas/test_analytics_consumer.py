"""The example consumer for other teams, on the real broker: one sample of every event type,
each on its topic from the catalogue, comes out decoded with every field."""

from __future__ import annotations

import base64
import dataclasses
import json
import subprocess
import sys
from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

import pytest
from confluent_kafka import Producer

from livetranslate_common.catalogue import CATALOGUE, topic_for_event
from livetranslate_common.envelope import new_event
from livetranslate_common.serde import encode_event, encode_key
from livetranslate_common.testing.fixtures import KafkaTopics
from livetranslate_schemas.events import EVENT_TYPES, Envelope, EventPayload
from livetranslate_schemas.samples import sample_payloads
from livetranslate_schemas.wire import WireFormatError, decode_envelope, encode_envelope

MODULE = "livetranslate_schemas.examples.analytics_consumer"


def _key(payload: EventPayload) -> str:
    for field in ("session_id", "bot_id", "scope", "service"):
        value = getattr(payload, field, None)
        if isinstance(value, str):
            return value
    return "sample"


def _publish_every_event_type(topics: KafkaTopics) -> dict[str, tuple[Envelope, str]]:
    """One sample of every event type on its topic; each envelope and its topic, by type."""
    producer = Producer({"bootstrap.servers": topics.bootstrap_servers})
    # Not an event: the consumer reports it and carries on. Ahead of the transcript's sample,
    # in its partition: the consumer cannot print that one without reading this first.
    samples = sample_payloads()
    broken_key = encode_key(_key(samples["TranscriptionCompleted"]))
    producer.produce(topics["audio-results"], b'{"json": "not avro"}', key=broken_key)
    published = {}
    for event_type, payload in samples.items():
        envelope = new_event(payload, source="analytics-test")
        topic = topics[topic_for_event(event_type).name]
        producer.produce(topic, encode_event(envelope), key=encode_key(_key(payload)))
        published[event_type] = (envelope, topic)
    assert producer.flush(30) == 0
    return published


def _same(expected: Any, shown: Any, where: str) -> None:
    """``shown`` (plain JSON) says exactly ``expected`` (a decoded record or part of one)."""
    if dataclasses.is_dataclass(expected) and not isinstance(expected, type):
        names = [f.name for f in dataclasses.fields(expected)]
        assert sorted(shown) == sorted(names), where
        for name in names:
            _same(getattr(expected, name), shown[name], f"{where}.{name}")
    elif isinstance(expected, Enum):
        assert shown == expected.value, where
    elif isinstance(expected, datetime):
        assert datetime.fromisoformat(shown) == expected, where
    elif isinstance(expected, UUID):
        assert UUID(shown) == expected, where
    elif isinstance(expected, bytes):
        assert base64.b64decode(shown) == expected, where
    elif isinstance(expected, dict):
        assert sorted(shown) == sorted(expected), where
        for key, value in expected.items():
            _same(value, shown[key], f"{where}[{key}]")
    elif isinstance(expected, list | tuple):
        assert len(shown) == len(expected), where
        for i, (want, got) in enumerate(zip(expected, shown, strict=True)):
            _same(want, got, f"{where}[{i}]")
    else:
        assert shown == expected, where


def test_the_example_consumer_prints_every_event_type_decoded(kafka_topics: KafkaTopics) -> None:
    published = _publish_every_event_type(kafka_topics)
    assert set(published) == set(EVENT_TYPES)
    carrying_events = [spec.name for spec in CATALOGUE if spec.events]
    # As another team runs it: its own process, the prefix from LIVETRANSLATE_TOPIC_PREFIX.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            MODULE,
            "--bootstrap-servers",
            kafka_topics.bootstrap_servers,
            "--group-id",
            f"{kafka_topics.prefix}analytics",
            "--from-beginning",
            "--max-events",
            str(len(published)),
            "--idle-timeout",
            "20",
            *carrying_events,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    by_type = {line["event_type"]: line for line in lines}
    assert len(lines) == len(published)
    assert set(by_type) == set(published)
    for event_type, (envelope, topic) in published.items():
        line = by_type[event_type]
        assert line["topic"] == topic
        assert line["key"] == _key(envelope.payload)
        shown = {k: v for k, v in line.items() if k not in {"topic", "partition", "offset", "key"}}
        _same(envelope, shown, event_type)
    errors = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert [(e["topic"], "not an Avro single-object message" in e["error"]) for e in errors] == [
        (kafka_topics["audio-results"], True)
    ]


def test_the_schemas_package_decodes_what_the_services_encode() -> None:
    for payload in sample_payloads().values():
        envelope = new_event(payload, source="analytics-test")
        assert decode_envelope(encode_event(envelope)) == envelope
        assert encode_envelope(envelope) == encode_event(envelope)
    with pytest.raises(WireFormatError, match="not an Avro single-object message"):
        decode_envelope(b'{"json": "not avro"}')


def test_the_example_needs_only_the_schemas_package_and_a_kafka_client() -> None:
    probe = f"import sys, {MODULE}; print(sorted(m for m in sys.modules if 'livetranslate' in m))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    modules = json.loads(loaded.stdout.replace("'", '"'))
    assert modules
    assert all(m.startswith("livetranslate_schemas") for m in modules), modules

"""Topic creation against a real broker, and produce/consume round trips with both clients."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import ConfigResource
from confluent_kafka.cimpl import NewTopic

from livetranslate_common import topics as topics_module
from livetranslate_common.catalogue import (
    AUDIO_INGEST,
    AUDIO_RESULTS,
    CATALOGUE,
    CONFIG_SYNC,
    MONITORING,
    topic_for_event,
)
from livetranslate_common.settings import KafkaSettings
from livetranslate_common.testing.fixtures import KafkaTopics
from livetranslate_common.topics import (
    TopicMismatchError,
    catalogue_topic_names,
    delete_topics,
    ensure_topics,
)


def test_every_event_is_published_on_the_first_topic_that_carries_it() -> None:
    events = {event for spec in CATALOGUE for event in spec.events}
    for event in events:
        first = next(spec for spec in CATALOGUE if event in spec.events)
        assert topic_for_event(event) is first
    # The one event on two topics: a request on audio-ingest, echoed onto audio-results.
    assert AUDIO_RESULTS.events.count("SpeakerNamesUpdated") == 1
    assert topic_for_event("SpeakerNamesUpdated") is AUDIO_INGEST
    with pytest.raises(KeyError, match="NoSuchEvent"):
        topic_for_event("NoSuchEvent")


def _topic_configs(admin: AdminClient, name: str) -> dict[str, str]:
    resource = ConfigResource("topic", name)
    futures = admin.describe_configs([resource])
    entries = futures[resource].result(timeout=30)
    return {key: entry.value for key, entry in entries.items()}


def test_ensure_topics_creates_the_catalogue(kafka_bootstrap: str, topic_prefix: str) -> None:
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    try:
        created = ensure_topics(kafka_bootstrap, prefix=topic_prefix)
        assert created == sorted(catalogue_topic_names(topic_prefix))

        metadata = admin.list_topics(timeout=30)
        for spec in CATALOGUE:
            topic = metadata.topics[spec.full_name(topic_prefix)]
            assert len(topic.partitions) == spec.partitions
            configs = _topic_configs(admin, spec.full_name(topic_prefix))
            assert configs["cleanup.policy"] == spec.cleanup_policy.value
            assert configs["retention.ms"] == str(spec.retention_ms)
        ingest = _topic_configs(admin, AUDIO_INGEST.full_name(topic_prefix))
        assert ingest["max.message.bytes"] == AUDIO_INGEST.extra_config["max.message.bytes"]
        assert _topic_configs(admin, CONFIG_SYNC.full_name(topic_prefix))["cleanup.policy"] == (
            "compact"
        )

        # Idempotent: a second run creates nothing and does not fail.
        assert ensure_topics(kafka_bootstrap, prefix=topic_prefix) == []
    finally:
        deleted = delete_topics(kafka_bootstrap, catalogue_topic_names(topic_prefix))
    assert deleted == sorted(catalogue_topic_names(topic_prefix))
    # Deleting again is not an error.
    assert delete_topics(kafka_bootstrap, catalogue_topic_names(topic_prefix)) == []


def test_ensure_topics_creates_only_missing_ones(kafka_bootstrap: str, topic_prefix: str) -> None:
    try:
        assert ensure_topics(kafka_bootstrap, prefix=topic_prefix, specs=[MONITORING]) == [
            MONITORING.full_name(topic_prefix)
        ]
        created = ensure_topics(kafka_bootstrap, prefix=topic_prefix)
        assert MONITORING.full_name(topic_prefix) not in created
        assert len(created) == len(CATALOGUE) - 1
    finally:
        delete_topics(kafka_bootstrap, catalogue_topic_names(topic_prefix))


def test_partition_mismatch_is_an_error(kafka_bootstrap: str, topic_prefix: str) -> None:
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    wrong = AUDIO_INGEST.full_name(topic_prefix)
    futures = admin.create_topics([NewTopic(wrong, num_partitions=2, replication_factor=1)])
    futures[wrong].result(timeout=30)
    for _ in range(100):  # let the broker's metadata catch up with the controller
        if wrong in admin.list_topics(timeout=30).topics:
            break
        time.sleep(0.1)
    try:
        with pytest.raises(
            TopicMismatchError, match=r"audio-ingest: 2 partitions, catalogue says 6"
        ):
            ensure_topics(kafka_bootstrap, prefix=topic_prefix)
        # Nothing else was created: the error comes before any change.
        existing = admin.list_topics(timeout=30).topics
        assert [t for t in existing if t.startswith(topic_prefix)] == [wrong]
    finally:
        delete_topics(kafka_bootstrap, [wrong])


def test_kafka_topics_fixture_points_settings_at_its_topics(kafka_topics: KafkaTopics) -> None:
    settings = KafkaSettings()
    assert settings.bootstrap_servers == kafka_topics.bootstrap_servers
    assert settings.topic("audio-results") == kafka_topics["audio-results"]
    metadata = AdminClient({"bootstrap.servers": kafka_topics.bootstrap_servers}).list_topics(
        timeout=30
    )
    assert set(kafka_topics.names.values()) <= set(metadata.topics)


def test_confluent_kafka_round_trip(kafka_topics: KafkaTopics) -> None:
    topic = kafka_topics["audio-results"]
    session_id = f"session-{uuid.uuid4()}"
    producer = Producer({"bootstrap.servers": kafka_topics.bootstrap_servers, "acks": "all"})
    for index in range(3):
        producer.produce(topic, key=session_id.encode(), value=f"revision-{index}".encode())
    assert producer.flush(30) == 0

    consumer = Consumer(
        {
            "bootstrap.servers": kafka_topics.bootstrap_servers,
            "group.id": f"{kafka_topics.prefix}confluent",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    received: list[tuple[bytes | None, bytes | None, int | None]] = []
    try:
        for _ in range(120):
            message = consumer.poll(0.5)
            if message is None:
                if len(received) == 3:
                    break
                continue
            assert message.error() is None, message.error()
            received.append((message.key(), message.value(), message.partition()))
            if len(received) == 3:
                break
    finally:
        consumer.close()
    assert [value for _, value, _ in received] == [b"revision-0", b"revision-1", b"revision-2"]
    assert {key for key, _, _ in received} == {session_id.encode()}
    assert len({partition for _, _, partition in received}) == 1  # one key, one partition


async def test_aiokafka_round_trip(kafka_topics: KafkaTopics) -> None:
    topic = kafka_topics["audio-ingest"]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_topics.bootstrap_servers, acks="all")
    await producer.start()
    try:
        metadata = await producer.send_and_wait(topic, key=b"session-a", value=b"chunk-0")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_topics.bootstrap_servers,
        group_id=f"{kafka_topics.prefix}aiokafka",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=60)
    finally:
        await consumer.stop()
    assert (record.key, record.value) == (b"session-a", b"chunk-0")
    assert (record.partition, record.offset) == (metadata.partition, metadata.offset)


def test_mismatch_found_when_another_client_created_the_topic_first(
    kafka_bootstrap: str, topic_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race: our metadata says 'missing', creation says 'already exists'."""
    wrong = MONITORING.full_name(topic_prefix)
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.create_topics([NewTopic(wrong, num_partitions=3, replication_factor=1)])[wrong].result(
        timeout=30
    )
    real = topics_module._partition_counts
    calls = []

    def stale_first(client: AdminClient, timeout: float) -> tuple[dict[str, int], int]:
        counts, brokers = real(client, timeout)
        calls.append(1)
        if len(calls) == 1:
            counts.pop(wrong, None)
        return counts, brokers

    monkeypatch.setattr(topics_module, "_partition_counts", stale_first)
    try:
        with pytest.raises(TopicMismatchError, match=r"monitoring: 3 partitions, catalogue says 1"):
            ensure_topics(kafka_bootstrap, prefix=topic_prefix, specs=[MONITORING])
    finally:
        delete_topics(kafka_bootstrap, [wrong])

"""Reading a whole topic back, for assertions about what was published."""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition

from livetranslate_common.testing.fixtures import KafkaTopics


@dataclass(frozen=True, slots=True)
class StoredMessage:
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]
    partition: int
    offset: int


def read_topic_messages(
    topics: KafkaTopics, base_name: str, *, key: bytes | None = None
) -> list[StoredMessage]:
    """Every message with a value on the topic (optionally for one key), partition by
    partition."""
    consumer = Consumer(
        {
            "bootstrap.servers": topics.bootstrap_servers,
            "group.id": "e2e-inspect",
            "enable.auto.commit": False,
        }
    )
    name = topics[base_name]
    messages: list[StoredMessage] = []
    try:
        partitions = consumer.list_topics(name, timeout=10).topics[name].partitions
        for partition in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(name, partition), timeout=10)
            if high <= low:
                continue
            consumer.assign([TopicPartition(name, partition, low)])
            while True:
                message = consumer.poll(10)
                if message is None:
                    raise TimeoutError(f"{name}[{partition}] stopped before offset {high}")
                value, offset = message.value(), message.offset()
                # Tombstones (no value) are left out, but count towards the end.
                wanted = key is None or message.key() == key
                if message.error() is None and value is not None and offset is not None and wanted:
                    raw = message.headers() or []
                    pairs = list(raw.items()) if isinstance(raw, dict) else raw
                    headers = [
                        (name_, header if isinstance(header, bytes) else header.encode())
                        for name_, header in pairs
                        if header is not None
                    ]
                    messages.append(StoredMessage(message.key(), value, headers, partition, offset))
                if offset is not None and offset + 1 >= high:
                    break
    finally:
        consumer.close()
    return messages


def read_topic(topics: KafkaTopics, base_name: str, *, key: bytes | None = None) -> list[bytes]:
    """Every value on the topic (optionally for one key), partition by partition."""
    return [message.value for message in read_topic_messages(topics, base_name, key=key)]

"""Reading a whole topic back, for assertions about what was published."""

from __future__ import annotations

from confluent_kafka import Consumer, TopicPartition

from livetranslate_common.testing.fixtures import KafkaTopics


def read_topic(topics: KafkaTopics, base_name: str, *, key: bytes | None = None) -> list[bytes]:
    """Every value on the topic (optionally for one key), partition by partition."""
    consumer = Consumer(
        {
            "bootstrap.servers": topics.bootstrap_servers,
            "group.id": "e2e-inspect",
            "enable.auto.commit": False,
        }
    )
    name = topics[base_name]
    values: list[bytes] = []
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
                if message.error() is None and value is not None and offset is not None:
                    if key is None or message.key() == key:
                        values.append(value)
                    if offset + 1 >= high:
                        break
    finally:
        consumer.close()
    return values

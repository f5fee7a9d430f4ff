"""A topic as it stands now: every partition from its first kept offset to its current end.

A rebuild reads exactly this range. Whatever arrives after the snapshot was taken is the live
consumers' business, so a rebuild always ends, however busy the topic is.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from livetranslate_common.errors import LiveTranslateError

_POLL_S = 0.2
# Seen on a partition right after its topic was created (the leader not yet known everywhere).
_LEADER_MOVING = {KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE}


class TopicReadError(LiveTranslateError):
    """The topic could not be read to the end of its snapshot."""


@dataclass(frozen=True, slots=True)
class PartitionRange:
    partition: int
    # The first offset still kept (retention may have deleted older ones) and the end.
    low: int
    high: int

    @property
    def size(self) -> int:
        return max(0, self.high - self.low)


class TopicSnapshot:
    """Reads a topic's snapshot once, partition ranges fixed when it is opened."""

    def __init__(self, bootstrap_servers: str, topic: str, *, timeout_s: float = 30.0) -> None:
        self.topic = topic
        self._timeout_s = timeout_s
        # No group: a snapshot reader commits nothing and joins no one's consumer group.
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap_servers,
                "group.id": "livetranslate-replay",
                "enable.auto.commit": False,
                "enable.partition.eof": False,
                # Big sequential reads: the rebuild is bounded by decoding, not fetching.
                "fetch.max.bytes": 64 * 1024 * 1024,
                "max.partition.fetch.bytes": 8 * 1024 * 1024,
                "log_level": 3,
            }
        )
        try:
            self.ranges = self._ranges()
        except KafkaException as exc:
            self._consumer.close()
            raise TopicReadError(f"cannot read the offsets of {topic}: {exc}") from exc

    @property
    def total(self) -> int:
        """How many offsets the snapshot spans (an upper bound on its messages)."""
        return sum(r.size for r in self.ranges)

    def _ranges(self) -> list[PartitionRange]:
        metadata = self._consumer.list_topics(self.topic, timeout=self._timeout_s)
        described = metadata.topics.get(self.topic)
        if described is None or described.error is not None or not described.partitions:
            detail = described.error if described is not None else "unknown topic"
            raise TopicReadError(f"topic {self.topic} cannot be read: {detail}")
        return [self._range(partition) for partition in sorted(described.partitions)]

    def _range(self, partition: int) -> PartitionRange:
        # A partition whose leader is moving (just created, a broker restarting) answers with
        # a retriable error for a moment: ask again until the timeout, as a client would.
        deadline = time.monotonic() + self._timeout_s
        while True:
            try:
                low, high = self._consumer.get_watermark_offsets(
                    TopicPartition(self.topic, partition), timeout=self._timeout_s
                )
                return PartitionRange(partition, low, high)
            except KafkaException as exc:
                error = exc.args[0] if exc.args else None
                transient = isinstance(error, KafkaError) and (
                    error.retriable() or error.code() in _LEADER_MOVING
                )
                if not transient or time.monotonic() > deadline:
                    raise
                time.sleep(_POLL_S)

    def messages(self) -> Iterator[Message]:
        """Every message of the snapshot, in order within each partition."""
        pending = {r.partition: r for r in self.ranges if r.size}
        if not pending:
            return
        self._consumer.assign(
            [TopicPartition(self.topic, r.partition, r.low) for r in pending.values()]
        )
        idle_since = time.monotonic()
        while pending:
            # consume() waits for the whole batch or the timeout: short waits keep the tail of
            # a small topic from costing a long one.
            batch = self._consumer.consume(num_messages=5000, timeout=_POLL_S)
            if not batch:
                self._drop_finished(pending)
                if pending and time.monotonic() - idle_since > self._timeout_s:
                    left = ", ".join(f"[{p}] before {r.high}" for p, r in pending.items())
                    raise TopicReadError(f"{self.topic} stopped short: {left}")
                continue
            idle_since = time.monotonic()
            for message in batch:
                error = message.error()
                if error is not None:
                    raise TopicReadError(f"reading {self.topic}: {error}")
                partition, offset = message.partition(), message.offset()
                wanted = pending.get(partition) if partition is not None else None
                if wanted is None or offset is None or offset >= wanted.high:
                    continue  # past the snapshot: the live consumers have it
                yield message
                if offset + 1 >= wanted.high:
                    del pending[wanted.partition]

    def _drop_finished(self, pending: dict[int, PartitionRange]) -> None:
        # The last offsets of a range may hold no message (transaction markers), so a
        # partition is also done once the consumer's position has passed the range.
        if not pending:
            return
        positions = self._consumer.position(
            [TopicPartition(self.topic, partition) for partition in pending]
        )
        for position in positions:
            if position.offset >= 0 and position.offset >= pending[position.partition].high:
                del pending[position.partition]

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> TopicSnapshot:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

"""Asking for a reprocessing run from the command line, and following it to its end.

The request goes on audio-reprocess exactly as the gateway's ``POST .../reprocess`` sends it
(the session's creation time and audio duration come from the read model); the run's
RunProgress reports are then read from audio-results as they arrive.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from confluent_kafka import OFFSET_END, Consumer, KafkaError, Producer, TopicPartition

from livetranslate_common.envelope import new_event
from livetranslate_common.errors import LiveTranslateError, SerdeError
from livetranslate_common.serde import decode_event, encode_event, encode_key
from livetranslate_schemas.events import ReprocessRequested, RunProgress, RunStatus

SOURCE = "replay-cli"
SAMPLE_RATE = 16_000
_POLL_S = 0.5


class RunFollowError(LiveTranslateError):
    """The run's reports could not be followed (no report within the time allowed)."""


@dataclass(frozen=True, slots=True)
class SessionAudio:
    """What the read model knows of a session's recording."""

    created_at: datetime
    total_samples: int | None

    @property
    def total_ms(self) -> int | None:
        return None if self.total_samples is None else self.total_samples * 1000 // SAMPLE_RATE


class RunFollower:
    """Reads audio-results from its end at construction: reports published later are seen."""

    def __init__(self, bootstrap_servers: str, results_topic: str) -> None:
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap_servers,
                "group.id": "livetranslate-replay",
                "enable.auto.commit": False,
                "log_level": 3,
            }
        )
        metadata = self._consumer.list_topics(results_topic, timeout=30)
        topic = metadata.topics.get(results_topic)
        if topic is None or topic.error is not None or not topic.partitions:
            self._consumer.close()
            raise RunFollowError(f"topic {results_topic} cannot be read")
        # Pin the end now, before the request is sent: nothing of the run can be missed.
        ends = []
        for partition in topic.partitions:
            _, high = self._consumer.get_watermark_offsets(
                TopicPartition(results_topic, partition), timeout=30
            )
            ends.append(TopicPartition(results_topic, partition, high if high >= 0 else OFFSET_END))
        self._consumer.assign(ends)

    def reports(
        self, session_id: str, run_id: str, *, quiet_timeout_s: float
    ) -> Iterator[RunProgress]:
        """The run's reports in order, until one says it is over.

        RunFollowError if no report comes for ``quiet_timeout_s`` (no worker running?).
        """
        key = encode_key(session_id)
        last_heard = time.monotonic()
        while True:
            message = self._consumer.poll(_POLL_S)
            if message is None or message.error() is not None:
                error = message.error() if message is not None else None
                if error is not None and error.code() != KafkaError._PARTITION_EOF:
                    raise RunFollowError(f"reading the run's reports failed: {error}")
                if time.monotonic() - last_heard > quiet_timeout_s:
                    raise RunFollowError(
                        f"no report of run {run_id} for {quiet_timeout_s:.0f} s: is a"
                        " reprocessing worker running?"
                    )
                continue
            if message.key() != key:
                continue
            try:
                payload = decode_event(message.value() or b"").payload
            except SerdeError:
                continue
            if isinstance(payload, RunProgress) and payload.run_id == run_id:
                last_heard = time.monotonic()
                yield payload
                if payload.status is not RunStatus.RUNNING:
                    return

    def close(self) -> None:
        self._consumer.close()


def publish_request(bootstrap_servers: str, topic: str, request: ReprocessRequested) -> None:
    producer = Producer(
        {"bootstrap.servers": bootstrap_servers, "acks": "all", "enable.idempotence": True}
    )
    envelope = new_event(request, source=SOURCE)
    producer.produce(topic, encode_event(envelope), encode_key(request.session_id))
    if producer.flush(30) != 0:
        raise RunFollowError(f"the request could not be published on {topic}")


def follow(
    follower: RunFollower,
    request: ReprocessRequested,
    *,
    on_report: Callable[[RunProgress], None],
    quiet_timeout_s: float,
) -> RunProgress:
    """Every report to ``on_report``; returns the last (COMPLETED or FAILED)."""
    last: RunProgress | None = None
    for report in follower.reports(
        request.session_id, request.run_id, quiet_timeout_s=quiet_timeout_s
    ):
        on_report(report)
        last = report
    assert last is not None  # reports() ends only after a report that ends the run
    return last

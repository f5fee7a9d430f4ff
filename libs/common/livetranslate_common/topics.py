"""Create the catalogue's topics on a broker (and delete topics, for test clean-up).

Existing topics are left alone, except that a partition count differing from the catalogue
is an error: co-partitioning of session-keyed topics depends on it, and Kafka cannot shrink
a topic, so it needs a human decision.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from livetranslate_common.catalogue import CATALOGUE, TopicSpec

log = logging.getLogger(__name__)


class TopicMismatchError(RuntimeError):
    """An existing topic disagrees with the catalogue in a way we must not paper over."""


def _admin(bootstrap_servers: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap_servers})


def _error_code(exc: BaseException) -> object:
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return exc.args[0].code()
    return None


def _partition_counts(admin: AdminClient, timeout: float) -> tuple[dict[str, int], int]:
    metadata = admin.list_topics(timeout=timeout)
    counts = {name: len(topic.partitions) for name, topic in metadata.topics.items()}
    return counts, len(metadata.brokers)


def _raise_on_mismatch(counts: dict[str, int], specs: Sequence[TopicSpec], prefix: str) -> None:
    mismatches = [
        f"{spec.full_name(prefix)}: {counts[spec.full_name(prefix)]} partitions, "
        f"catalogue says {spec.partitions}"
        for spec in specs
        if spec.full_name(prefix) in counts and counts[spec.full_name(prefix)] != spec.partitions
    ]
    if mismatches:
        raise TopicMismatchError(
            "existing topics differ from the catalogue (delete and recreate them, or change "
            "the catalogue): " + "; ".join(mismatches)
        )


def wait_for_leaders(admin: AdminClient, names: Iterable[str], timeout: float) -> None:
    """Block until every partition of ``names`` has a leader (producers can use them)."""
    pending = set(names)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        metadata = admin.list_topics(timeout=timeout)
        for name in list(pending):
            topic = metadata.topics.get(name)
            if topic is None or topic.error is not None or not topic.partitions:
                continue
            if all(p.leader >= 0 for p in topic.partitions.values()):
                pending.discard(name)
        if pending:
            time.sleep(0.1)
    if pending:
        raise TimeoutError(f"topics without partition leaders after {timeout} s: {sorted(pending)}")


def ensure_topics(
    bootstrap_servers: str,
    *,
    prefix: str = "",
    specs: Sequence[TopicSpec] = CATALOGUE,
    timeout: float = 30,
) -> list[str]:
    """Create the missing topics of ``specs`` (named ``prefix + spec.name``).

    Partitions and broker config come from the catalogue; the replication factor is
    min(3, number of brokers). Returns the names created (empty when all existed).
    Raises TopicMismatchError if an existing topic has another partition count.
    """
    admin = _admin(bootstrap_servers)
    existing, brokers = _partition_counts(admin, timeout)
    if brokers == 0:
        raise RuntimeError(f"no brokers reachable at {bootstrap_servers}")
    replication = min(3, brokers)

    missing = [spec for spec in specs if spec.full_name(prefix) not in existing]
    _raise_on_mismatch(existing, specs, prefix)
    if not missing:
        return []

    new_topics = [
        NewTopic(
            spec.full_name(prefix),
            num_partitions=spec.partitions,
            replication_factor=replication,
            config=spec.broker_config(),
        )
        for spec in missing
    ]
    futures = admin.create_topics(new_topics, operation_timeout=timeout, request_timeout=timeout)
    created: list[str] = []
    raced: list[str] = []
    for name, future in futures.items():
        try:
            future.result()
            created.append(name)
        except KafkaException as exc:
            if _error_code(exc) != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
            raced.append(name)  # someone else created it in the meantime
    if raced:  # created by someone else since we looked: check them once they are visible
        wait_for_leaders(admin, raced, timeout)
        counts, _ = _partition_counts(admin, timeout)
        _raise_on_mismatch(counts, [s for s in missing if s.full_name(prefix) in raced], prefix)
    wait_for_leaders(admin, created, timeout)
    log.info("created topics %s", created)
    return sorted(created)


def delete_topics(bootstrap_servers: str, names: Iterable[str], timeout: float = 30) -> list[str]:
    """Delete ``names``; missing topics are ignored. Returns the names deleted."""
    names = list(names)
    if not names:
        return []
    admin = _admin(bootstrap_servers)
    futures = admin.delete_topics(names, operation_timeout=timeout, request_timeout=timeout)
    deleted: list[str] = []
    for name, future in futures.items():
        try:
            future.result()
            deleted.append(name)
        except KafkaException as exc:
            if _error_code(exc) != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise
    return sorted(deleted)


def catalogue_topic_names(prefix: str = "", specs: Sequence[TopicSpec] = CATALOGUE) -> list[str]:
    """The broker-side names of ``specs`` under ``prefix``."""
    return [spec.full_name(prefix) for spec in specs]

"""The topic-creation entry point that docker-compose and the Helm hook run, on a real broker."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from confluent_kafka.admin import AdminClient

from livetranslate_common.catalogue import CATALOGUE
from livetranslate_common.devstack.processes import free_port
from livetranslate_common.topics import catalogue_topic_names, delete_topics
from livetranslate_common.topics_cli import EXIT_FAILED, EXIT_MISMATCH, EXIT_OK, main


def _run_module(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run it exactly as the containers do: ``python -m livetranslate_common.topics_cli``."""
    return subprocess.run(
        [sys.executable, "-m", "livetranslate_common.topics_cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_module_creates_the_catalogue_then_is_idempotent(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    expected = sorted(catalogue_topic_names(topic_prefix))
    try:
        first = _run_module("--bootstrap", kafka_bootstrap, "--prefix", topic_prefix)
        assert first.returncode == EXIT_OK, first.stderr
        assert [line.removeprefix("created ") for line in first.stdout.splitlines()[:-1]] == (
            expected
        )

        metadata = AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=30)
        for spec in CATALOGUE:
            assert len(metadata.topics[spec.full_name(topic_prefix)].partitions) == spec.partitions

        # A second run (the next `helm upgrade`) creates nothing and still succeeds.
        second = _run_module("--bootstrap", kafka_bootstrap, "--prefix", topic_prefix)
        assert second.returncode == EXIT_OK, second.stderr
        assert second.stdout.startswith(f"0 topic(s) created, {len(CATALOGUE)} already present")
    finally:
        delete_topics(kafka_bootstrap, expected)


def test_defaults_come_from_the_services_settings(kafka_bootstrap: str, topic_prefix: str) -> None:
    # Compose and Helm pass only the environment the services read; no flags.
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "LIVETRANSLATE_TOPIC_PREFIX": topic_prefix}
    try:
        result = _run_module("--wait-seconds", "30", env=env)
        assert result.returncode == EXIT_OK, result.stderr
        existing = AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=30)
        assert set(catalogue_topic_names(topic_prefix)) <= set(existing.topics)
    finally:
        delete_topics(kafka_bootstrap, catalogue_topic_names(topic_prefix))


def test_unreachable_broker_fails_after_the_wait(capsys: pytest.CaptureFixture[str]) -> None:
    nobody = f"127.0.0.1:{free_port()}"
    begin = time.monotonic()
    assert main(["--bootstrap", nobody, "--wait-seconds", "2"]) == EXIT_FAILED
    elapsed = time.monotonic() - begin
    assert 2 <= elapsed < 15
    assert f"no Kafka broker answered at {nobody} within 2 s" in capsys.readouterr().err


def test_partition_mismatch_exits_with_its_own_code(
    kafka_bootstrap: str, topic_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from confluent_kafka.cimpl import NewTopic

    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    wrong = f"{topic_prefix}monitoring"  # the catalogue says 1 partition
    admin.create_topics([NewTopic(wrong, num_partitions=2, replication_factor=1)])[wrong].result(
        timeout=30
    )
    for _ in range(100):  # let the broker's metadata catch up with the controller
        if wrong in admin.list_topics(timeout=30).topics:
            break
        time.sleep(0.1)
    try:
        assert main(["--bootstrap", kafka_bootstrap, "--prefix", topic_prefix]) == EXIT_MISMATCH
        assert "monitoring: 2 partitions, catalogue says 1" in capsys.readouterr().err
    finally:
        delete_topics(kafka_bootstrap, [wrong])

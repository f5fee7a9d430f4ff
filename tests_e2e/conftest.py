"""The whole system as separate processes: gateway and pipeline on real Kafka and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from livetranslate_common.devstack.processes import ManagedProcess, free_port
from livetranslate_common.devstack.services import (
    gateway_process,
    pipeline_process,
    projector_process,
    reprocess_process,
)
from livetranslate_common.testing.fixtures import KafkaTopics
from livetranslate_gateway.keys import issue_key_for


@dataclass
class RunningSystem:
    gateway_url: str
    topics: KafkaTopics
    database_url: str
    gateway: ManagedProcess
    pipeline: ManagedProcess
    # The services' environment: another process of the system starts with it.
    env: dict[str, str]
    # A key of the tenant the tests act for ("e2e").
    api_key: str


@pytest.fixture
def running_system(
    kafka_topics: KafkaTopics, database: str, tmp_path: Path
) -> Iterator[RunningSystem]:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_topics.bootstrap_servers,
        "LIVETRANSLATE_TOPIC_PREFIX": kafka_topics.prefix,
        "DATABASE_URL": database,
        # Short leases on live streams: a killed gateway's stream is ended by another gateway
        # within seconds instead of half a minute.
        "GATEWAY_LIVE_LEASE_S": "3",
    }
    pipeline = pipeline_process(tmp_path, web_port=free_port(), env=env)
    projector = projector_process(tmp_path, web_port=free_port(), env=env)
    gateway = gateway_process(tmp_path, port=free_port(), env=env)
    pipeline.start(wait=False)
    projector.start(wait=False)
    gateway.start(wait=False)
    try:
        gateway.wait_ready(timeout=60)
        projector.wait_ready(timeout=60)
        pipeline.wait_ready(timeout=120)
        api_key = issue_key_for(database, tenant_id="e2e", name="end-to-end tests")
        yield RunningSystem(
            gateway.url or "", kafka_topics, database, gateway, pipeline, env, api_key
        )
    finally:
        gateway.stop()
        projector.stop()
        pipeline.stop()


@pytest.fixture
def reprocess_worker(running_system: RunningSystem, tmp_path: Path) -> Iterator[ManagedProcess]:
    """The reprocessing worker beside the running system (only the tests that need it pay for
    its start)."""
    worker = reprocess_process(tmp_path, web_port=free_port(), env=running_system.env)
    worker.start(wait=False)
    try:
        worker.wait_ready(timeout=60)
        yield worker
    finally:
        worker.stop()

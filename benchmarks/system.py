"""The whole system for a benchmark run: real Kafka, PostgreSQL, pipeline and gateway processes.

Kafka and PostgreSQL come from KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL when set, else
throw-away local instances (as in the tests); topics and the database are the run's own.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from confluent_kafka.admin import AdminClient
from psycopg import sql

from livetranslate_common.catalogue import CATALOGUE
from livetranslate_common.devstack.processes import ManagedProcess, free_port
from livetranslate_common.devstack.services import (
    gateway_process,
    pipeline_process,
    projector_process,
    reprocess_process,
)
from livetranslate_common.testing.fixtures import KafkaTopics, TestInfrastructure, with_database
from livetranslate_common.topics import delete_topics, ensure_topics
from livetranslate_gateway.keys import issue_key_for


@dataclass(frozen=True, slots=True)
class BenchSystem:
    # The first gateway (of ``gateway_urls``): what a benchmark of the rest of the system uses.
    gateway_url: str
    # The pipeline workers' web servers (/health, /metrics) and processes.
    pipeline_urls: list[str]
    pipeline_pids: list[int]
    topics: KafkaTopics
    database_url: str
    log_dir: Path
    # A key of the tenant the benchmarks act for.
    api_key: str
    # The first gateway's process (its CPU and memory, for the gateway's own benchmark).
    gateway_pid: int = 0
    # Every gateway process (``running_system(gateways=K)``) and its URL, the first first.
    gateway_urls: list[str] = field(default_factory=list)
    gateway_pids: list[int] = field(default_factory=list)


@contextmanager
def running_system(
    settings: Mapping[str, str] | None = None,
    *,
    pipeline_workers: int = 1,
    reprocessing: bool = False,
    projector: bool = True,
    gateways: int = 1,
) -> Iterator[BenchSystem]:
    """The system, its services configured by ``settings`` (environment variables) on top;
    ``pipeline_workers`` processes share the pipeline's partitions (one consumer group; 0:
    none); ``reprocessing`` adds the reprocessing worker; ``projector=False`` leaves the
    projector out (with no pipeline either: the gateway alone on Kafka and PostgreSQL);
    ``gateways`` processes serve the API side by side, each on its own port (stateless
    apart from PostgreSQL: any of them takes any session, and each tails every result)."""
    if gateways < 1:
        raise ValueError("a system needs at least one gateway")
    infrastructure = TestInfrastructure("local")
    infrastructure.prepare("kafka", "postgres")
    bootstrap = infrastructure.get("kafka").address
    server_url = infrastructure.get("postgres").address
    prefix = f"bench{uuid.uuid4().hex[:6]}-"
    database = f"bench_{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, prefix=prefix)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    database_url = with_database(server_url, database)
    log_dir = Path(tempfile.mkdtemp(prefix="livetranslate-bench-"))
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "LIVETRANSLATE_TOPIC_PREFIX": prefix,
        "DATABASE_URL": database_url,
        **(settings or {}),
    }
    ports = [free_port() for _ in range(pipeline_workers)]
    pipelines = [
        pipeline_process(log_dir / f"worker{index}", web_port=port, env=env)
        for index, port in enumerate(ports)
    ]
    projectors = [projector_process(log_dir, web_port=free_port(), env=env)] if projector else []
    # One gateway keeps its usual log name; several are gateway0, gateway1, ...
    gateway_processes = [
        gateway_process(
            log_dir, port=free_port(), env=env, name="gateway" if gateways == 1 else f"gateway{i}"
        )
        for i in range(gateways)
    ]
    extra = [reprocess_process(log_dir, web_port=free_port(), env=env)] if reprocessing else []
    try:
        # Started in this order, then awaited in the reverse one (each with its timeout).
        _start_all(
            [(extra, 60.0), (pipelines, 120.0), (projectors, 60.0), (gateway_processes, 60.0)]
        )
        names = {spec.name: spec.full_name(prefix) for spec in CATALOGUE}
        gateway_urls = [gateway.url or "" for gateway in gateway_processes]
        gateway_pids = [gateway.pid or 0 for gateway in gateway_processes]
        yield BenchSystem(
            gateway_url=gateway_urls[0],
            pipeline_urls=[f"http://127.0.0.1:{port}" for port in ports],
            pipeline_pids=[pipeline.pid or 0 for pipeline in pipelines],
            topics=KafkaTopics(bootstrap, prefix, names),
            database_url=database_url,
            log_dir=log_dir,
            api_key=issue_key_for(database_url, tenant_id="bench", name="benchmarks"),
            gateway_pid=gateway_pids[0],
            gateway_urls=gateway_urls,
            gateway_pids=gateway_pids,
        )
    finally:
        for process in [*extra, *gateway_processes, *projectors, *pipelines]:
            process.stop()
        existing = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics
        delete_topics(bootstrap, [name for name in existing if name.startswith(prefix)])
        infrastructure.close()


def _start_all(groups: list[tuple[list[ManagedProcess], float]]) -> None:
    """Start every process of the groups in order, then wait for them the other way round,
    each group for up to its timeout (seconds)."""
    for processes, _ in groups:
        for process in processes:
            process.start(wait=False)
    for processes, timeout in reversed(groups):
        for process in processes:
            process.wait_ready(timeout=timeout)

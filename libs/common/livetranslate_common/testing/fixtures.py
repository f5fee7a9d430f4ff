"""pytest plugin: real Kafka and PostgreSQL for tests.

Enable with ``pytest_plugins = ["livetranslate_common.testing.fixtures"]`` in the root
conftest.py (or ``-p livetranslate_common.testing.fixtures``).

Where the infrastructure comes from, per component, first match wins:

1. ``KAFKA_BOOTSTRAP_SERVERS`` / ``DATABASE_URL`` set: used as they are (CI services, a
   running ``livetranslate-stack``).
2. A Docker engine answers and ``testcontainers`` is installed: a container per session.
3. Otherwise: a throw-away LocalKafka / LocalPostgres on free ports in a fresh temp dir.

``LIVETRANSLATE_TEST_INFRA=local`` skips the Docker probe, ``=docker`` insists on Docker.
Both components start once per session and concurrently (only those some collected test
needs), and stop at the end of the session.

Fixtures:

- ``kafka_bootstrap`` (session) -> bootstrap servers string
- ``database_url`` (session) -> URL of a database the tests may use
- ``topic_prefix`` (function) -> a unique prefix, e.g. ``t1a2b3c4d-``
- ``kafka_topics`` (function) -> KafkaTopics: the catalogue's topics created under the prefix,
  ``KAFKA_BOOTSTRAP_SERVERS`` and ``LIVETRANSLATE_TOPIC_PREFIX`` set for the test; every topic
  with the prefix (Faust's internal ones too) is deleted afterwards
- ``database`` (function) -> URL of a fresh database (CREATE DATABASE), ``DATABASE_URL`` set
  for the test; dropped afterwards
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import logging
import os
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from livetranslate_common.catalogue import CATALOGUE

log = logging.getLogger(__name__)

INFRA_ENV = "LIVETRANSLATE_TEST_INFRA"
_KAFKA_FIXTURES = {"kafka_bootstrap", "kafka_topics"}
_DB_FIXTURES = {"database_url", "database"}


# --------------------------------------------------------------------------- Docker probe


def docker_available(timeout: float = 1.0) -> bool:
    """Whether testcontainers is installed and a Docker engine answers /_ping (quietly)."""
    if importlib.util.find_spec("testcontainers") is None:
        return False
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        if host.startswith("unix://"):
            path = host.removeprefix("unix://")
            if not Path(path).exists():
                return False
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(path)
        elif host.startswith("tcp://"):
            netloc = urlsplit(host)
            sock = socket.create_connection(
                (netloc.hostname or "127.0.0.1", netloc.port or 2375), timeout=timeout
            )
        else:
            return False
        with sock:
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return b" 200 " in sock.recv(256)
    except OSError:
        return False


# --------------------------------------------------------------------------- providers


@dataclass
class _Started:
    """One running piece of infrastructure: its address and how to stop it."""

    address: str
    source: str
    seconds: float
    stop: Callable[[], None] = field(default=lambda: None)


def _traversable_tempdir(prefix: str) -> Path:
    # Not under pytest's basetemp (mode 0700): PostgreSQL runs as another user when we are root.
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def _start_kafka(mode: str) -> _Started:
    begin = time.monotonic()
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        return _Started(configured, "KAFKA_BOOTSTRAP_SERVERS", 0.0)
    if mode == "docker" or (mode == "auto" and docker_available()):
        from testcontainers.kafka import KafkaContainer

        container = KafkaContainer()
        container.start()
        return _Started(
            str(container.get_bootstrap_server()),
            "testcontainers",
            time.monotonic() - begin,
            container.stop,
        )
    from livetranslate_common.devstack.kafka import LocalKafka
    from livetranslate_common.devstack.processes import free_ports

    base = _traversable_tempdir("livetranslate-kafka-")
    broker_port, controller_port = free_ports(2)
    kafka = LocalKafka(base, broker_port, controller_port=controller_port)

    def stop() -> None:
        kafka.stop()
        shutil.rmtree(base, ignore_errors=True)

    try:
        kafka.start()
    except BaseException:
        stop()
        raise
    return _Started(kafka.bootstrap_servers, "local", time.monotonic() - begin, stop)


def _normalise_pg_url(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme.split('+', 1)[0]}://{rest}"


def _start_postgres(mode: str) -> _Started:
    begin = time.monotonic()
    configured = os.environ.get("DATABASE_URL")
    if configured:
        return _Started(configured, "DATABASE_URL", 0.0)
    if mode == "docker" or (mode == "auto" and docker_available()):
        from testcontainers.postgres import PostgresContainer

        container = PostgresContainer("postgres:16-alpine")
        container.start()
        return _Started(
            _normalise_pg_url(str(container.get_connection_url())),
            "testcontainers",
            time.monotonic() - begin,
            container.stop,
        )
    from livetranslate_common.devstack.postgres import LocalPostgres
    from livetranslate_common.devstack.processes import free_port

    base = _traversable_tempdir("livetranslate-pg-")
    postgres = LocalPostgres(base, free_port(), durable=False)

    def stop() -> None:
        postgres.stop()
        shutil.rmtree(base, ignore_errors=True)

    try:
        postgres.start()
    except BaseException:
        stop()
        raise
    return _Started(postgres.url, "local", time.monotonic() - begin, stop)


class TestInfrastructure:
    """Starts Kafka and PostgreSQL (concurrently, once) and stops what it started."""

    __test__ = False  # not a test class, despite the name

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="infra")
        self._futures: dict[str, Future[_Started]] = {}
        self._starters: dict[str, Callable[[str], _Started]] = {
            "kafka": _start_kafka,
            "postgres": _start_postgres,
        }
        self._closed = False
        atexit.register(self.close)  # in case the session dies before its teardown

    def prepare(self, *names: str) -> None:
        """Begin starting ``names`` in the background (idempotent)."""
        # Imported here, before the threads: two threads importing the devstack package's
        # modules for the first time at once can deadlock on the import locks (seen when a
        # test module that needs both is run on its own).
        import livetranslate_common.devstack  # noqa: F401

        for name in names:
            if name not in self._futures:
                self._futures[name] = self._pool.submit(self._starters[name], self.mode)

    def get(self, name: str) -> _Started:
        self.prepare(name)
        return self._futures[name].result()

    def summary(self) -> list[str]:
        lines = []
        for name, future in self._futures.items():
            if future.done() and future.exception() is None:
                started = future.result()
                lines.append(
                    f"{name}: {started.source} {started.address} ({started.seconds:.1f} s)"
                )
        return lines

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for future in self._futures.values():
            with contextlib.suppress(BaseException):
                future.result().stop()
        self._pool.shutdown(wait=False, cancel_futures=True)


_SUMMARY_KEY = pytest.StashKey[list[str]]()


@pytest.fixture(scope="session")
def livetranslate_infrastructure(request: pytest.FixtureRequest) -> Iterator[TestInfrastructure]:
    """Session-wide infrastructure; starts what the collected tests need, concurrently."""
    mode = os.environ.get(INFRA_ENV, "auto").lower()
    infra = TestInfrastructure(mode)
    needed: set[str] = set()
    for item in request.session.items:
        names = set(getattr(item, "fixturenames", ()))
        if names & _KAFKA_FIXTURES:
            needed.add("kafka")
        if names & _DB_FIXTURES:
            needed.add("postgres")
    infra.prepare(*sorted(needed))
    try:
        yield infra
    finally:
        request.config.stash[_SUMMARY_KEY] = infra.summary()
        infra.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = terminalreporter.config.stash.get(_SUMMARY_KEY, [])
    if lines:
        terminalreporter.write_sep("-", "livetranslate test infrastructure")
        for line in lines:
            terminalreporter.write_line(line)


# --------------------------------------------------------------------------- Kafka fixtures


@pytest.fixture(scope="session")
def kafka_bootstrap(livetranslate_infrastructure: TestInfrastructure) -> str:
    return livetranslate_infrastructure.get("kafka").address


@pytest.fixture
def topic_prefix() -> str:
    """A prefix unique to this test: topics (and Faust app ids) under it are its own."""
    return f"t{uuid.uuid4().hex[:8]}-"


@dataclass(frozen=True, slots=True)
class KafkaTopics:
    bootstrap_servers: str
    prefix: str
    names: dict[str, str]  # catalogue name -> name on the broker

    def __getitem__(self, base_name: str) -> str:
        return self.names[base_name]


@pytest.fixture
def kafka_topics(
    kafka_bootstrap: str, topic_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[KafkaTopics]:
    from livetranslate_common.topics import delete_topics, ensure_topics

    ensure_topics(kafka_bootstrap, prefix=topic_prefix)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("LIVETRANSLATE_TOPIC_PREFIX", topic_prefix)
    names = {spec.name: spec.full_name(topic_prefix) for spec in CATALOGUE}
    yield KafkaTopics(kafka_bootstrap, topic_prefix, names)
    with contextlib.suppress(Exception):
        from confluent_kafka.admin import AdminClient

        existing = AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=10)
        delete_topics(kafka_bootstrap, [t for t in existing.topics if t.startswith(topic_prefix)])


# --------------------------------------------------------------------------- database fixtures


@pytest.fixture(scope="session")
def database_url(livetranslate_infrastructure: TestInfrastructure) -> str:
    return livetranslate_infrastructure.get("postgres").address


def with_database(url: str, database: str) -> str:
    """``url`` pointing at another database on the same server."""
    if "://" in url:
        parts = urlsplit(url)
        return urlunsplit(parts._replace(path=f"/{database}"))
    from psycopg.conninfo import make_conninfo

    return make_conninfo(url, dbname=database)


@pytest.fixture
def database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh, empty database for this test; its URL (also in ``DATABASE_URL``)."""
    import psycopg
    from psycopg import sql

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_database(database_url, name)
    monkeypatch.setenv("DATABASE_URL", url)
    yield url
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )

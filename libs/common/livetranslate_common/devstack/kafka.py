"""A real Apache Kafka broker (KRaft, single node) run from Maven Central's jars.

Layout under ``base_dir``::

    server.properties  log4j.properties  cluster.id  kafka.pid  kafka.out
    data/      the log dirs (topics survive stop/start)
    logs/      server.log written by log4j

The jars live in ``libs_dir`` (by default the stack's ``kafka/libs``, shared by every
instance, also by the test fixtures' throw-away brokers); Maven copies them there once from
``devstack/kafka_runtime/pom.xml``.

``stop()`` then ``start()`` restarts the broker in place: same ports, same log dirs, the
topics and their messages kept (the storage is formatted only once). ``kill()`` stops it the
hard way, as a crash would (SIGKILL: no controlled shutdown, no flushed producer state; the
next start recovers the logs). Tests use both to prove that clients ride out a restart.

``auto.create.topics.enable`` is false: every topic comes from the catalogue
(``topics.ensure_topics``) and Faust creates its internal changelog/repartition topics through
the admin API, so an auto-created topic could only be a mistake (a wrong prefix, a typo) and
would silently get one partition, breaking co-partitioning. With it off, such a mistake fails
loudly instead.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from livetranslate_common.devstack.paths import default_stack_dir
from livetranslate_common.devstack.processes import (
    ManagedProcess,
    ProcessBackedComponent,
    port_open,
)

log = logging.getLogger(__name__)

KAFKA_LIBS_ENV = "LIVETRANSLATE_KAFKA_LIBS"
KAFKA_POM_ENV = "LIVETRANSLATE_KAFKA_POM"
_COMPLETE_MARKER = ".complete"


class KafkaUnavailableError(RuntimeError):
    """The broker cannot be run here (no JDK, no Maven, no pom)."""


def default_libs_dir() -> Path:
    configured = os.environ.get(KAFKA_LIBS_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    return default_stack_dir() / "kafka" / "libs"


def find_pom() -> Path:
    configured = os.environ.get(KAFKA_POM_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    # Shipped inside this package, so an installed livetranslate-common finds it too.
    bundled = Path(__file__).parent / "kafka_runtime" / "pom.xml"
    if bundled.is_file():
        return bundled
    raise KafkaUnavailableError(
        f"{bundled} not found (set {KAFKA_POM_ENV}); "
        "or set KAFKA_BOOTSTRAP_SERVERS to use an existing broker"
    )


def _require(tool: str, what: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise KafkaUnavailableError(
            f"`{tool}` not found: {what}, or set KAFKA_BOOTSTRAP_SERVERS to use an existing broker"
        )
    return path


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_jars(libs_dir: Path | None = None, pom: Path | None = None) -> Path:
    """Copy Kafka's jars into ``libs_dir`` with Maven unless they are there for this pom."""
    libs_dir = libs_dir or default_libs_dir()
    marker = libs_dir / _COMPLETE_MARKER
    if pom is None:
        try:
            pom = find_pom()
        except KafkaUnavailableError:
            if marker.is_file():  # installed earlier; nothing to compare against
                return libs_dir
            raise
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()
    if marker.is_file() and marker.read_text().strip() == digest:
        return libs_dir
    with _file_lock(libs_dir.with_name(libs_dir.name + ".lock")):
        if marker.is_file() and marker.read_text().strip() == digest:
            return libs_dir
        mvn = _require("mvn", "install Maven and a JDK 17 (apt-get install maven openjdk-17-jdk)")
        staging = libs_dir.with_name(libs_dir.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        started = time.monotonic()
        log.info("copying Kafka jars from Maven Central into %s", libs_dir)
        result = subprocess.run(  # noqa: S603
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(pom),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={staging}",
                "-DincludeScope=runtime",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0 or not any(staging.glob("kafka_*.jar")):
            raise KafkaUnavailableError(
                f"Maven could not fetch Kafka's jars ({pom}):\n{result.stdout}\n{result.stderr}"
            )
        shutil.rmtree(libs_dir, ignore_errors=True)
        staging.rename(libs_dir)
        marker.write_text(digest + "\n")
        log.info("Kafka jars ready in %.1f s", time.monotonic() - started)
    return libs_dir


def _new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding, not starting '-'."""
    while True:
        value = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not value.startswith("-"):
            return value


_LOG4J = """\
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File={log_file}
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=3
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.org.apache.kafka.storage.internals.log.LogCleaner=WARN
"""


class LocalKafka(ProcessBackedComponent):
    """One KRaft node (broker + controller) on 127.0.0.1:``port``."""

    name = "kafka"

    def __init__(
        self,
        base_dir: Path,
        port: int,
        *,
        controller_port: int | None = None,
        libs_dir: Path | None = None,
        heap: str = "512m",
        auto_create_topics: bool = False,
        java: str | None = None,
    ) -> None:
        self.base_dir = base_dir.resolve()
        self.port = port
        self.controller_port = controller_port if controller_port is not None else port + 1
        self.libs_dir = (libs_dir or default_libs_dir()).resolve()
        self.heap = heap
        self.auto_create_topics = auto_create_topics
        self._java = java
        self.data_dir = self.base_dir / "data"
        self.config_file = self.base_dir / "server.properties"
        self.log4j_file = self.base_dir / "log4j.properties"
        self.server_log = self.base_dir / "logs" / "server.log"
        self.last_start_seconds: float | None = None
        self.process = ManagedProcess(
            name=self.name,
            command=(),  # filled in by start(): needs java's path
            pid_file=self.base_dir / "kafka.pid",
            log_file=self.base_dir / "kafka.out",
            extra_log_files=(self.server_log,),
            ready=self.is_ready,
            port=self.port,
            url=self.bootstrap_servers,
            stop_timeout=30.0,
        )

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ files

    def _java_path(self) -> str:
        return self._java or _require("java", "install a JDK 17 (apt-get install openjdk-17-jdk)")

    def _classpath(self) -> str:
        return str(self.libs_dir / "*")

    def write_config(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.server_log.parent.mkdir(parents=True, exist_ok=True)
        one = "1"
        settings = {
            "process.roles": "broker,controller",
            "node.id": one,
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            # A single node: every replication setting must be 1, or transactions and the
            # consumer-offsets topic would wait forever for replicas that never come.
            "default.replication.factor": one,
            "min.insync.replicas": one,
            "offsets.topic.replication.factor": one,
            "transaction.state.log.replication.factor": one,
            "transaction.state.log.min.isr": one,
            # Fewer internal partitions: quicker first consumer group on a small machine.
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.num.partitions": "10",
            "num.partitions": one,
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": str(self.auto_create_topics).lower(),
            "delete.topic.enable": "true",
            "num.network.threads": "2",
            "num.io.threads": "4",
            "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
            "log.cleaner.threads": one,
        }
        self.config_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        self.log4j_file.write_text(_LOG4J.format(log_file=self.server_log))

    def _format_storage(self, java: str) -> None:
        """Format the log dir once, with a cluster id kept in ``cluster.id``."""
        if (self.data_dir / "meta.properties").is_file():
            return
        id_file = self.base_dir / "cluster.id"
        if not id_file.is_file():
            id_file.write_text(_new_cluster_id() + "\n")
        cluster_id = id_file.read_text().strip()
        result = subprocess.run(  # noqa: S603
            [
                java,
                "-Xmx256m",
                f"-Dlog4j.configuration=file:{self.log4j_file}",
                "-cp",
                self._classpath(),
                "kafka.tools.StorageTool",
                "format",
                "--ignore-formatted",
                "-t",
                cluster_id,
                "-c",
                str(self.config_file),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise KafkaUnavailableError(
                f"formatting Kafka storage failed:\n{result.stdout}\n{result.stderr}"
            )

    def _command(self, java: str) -> tuple[str, ...]:
        return (
            java,
            f"-Xms{min(256, _megabytes(self.heap))}m",
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{self.log4j_file}",
            f"-Dkafka.logs.dir={self.server_log.parent}",
            "-cp",
            self._classpath(),
            "kafka.Kafka",
            str(self.config_file),
        )

    # ------------------------------------------------------------------ lifecycle

    def is_ready(self) -> bool:
        """The broker answers a metadata request and lists itself."""
        if not port_open("127.0.0.1", self.port):
            return False
        from confluent_kafka.admin import AdminClient

        quiet = logging.getLogger("livetranslate.devstack.kafka.admin")
        quiet.setLevel(logging.CRITICAL)
        try:
            admin = AdminClient({"bootstrap.servers": self.bootstrap_servers}, logger=quiet)
            metadata = admin.list_topics(timeout=2)
        except Exception:  # any client error just means "not yet"
            return False
        return bool(metadata.brokers)

    def is_running(self) -> bool:
        return self.process.is_running()

    def kill(self, timeout: float = 10.0) -> bool:
        """Crash the broker (SIGKILL); True if it was running. ``start()`` brings it back."""
        pid = self.process.pid
        if pid is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        self.process.stop(timeout)  # reaps it and removes the pid file
        return True

    def start(self, timeout: float = 120.0) -> bool:
        """Start the broker (fetching jars and formatting storage first if needed).

        True if this call started it, False if it was already running.
        """
        if self.process.is_running():
            return False
        started = time.monotonic()
        java = self._java_path()
        ensure_jars(self.libs_dir)
        self.write_config()
        self._format_storage(java)
        self.process.command = self._command(java)
        self.process.start(timeout=timeout)
        self.last_start_seconds = time.monotonic() - started
        log.info("kafka ready on %s in %.1f s", self.bootstrap_servers, self.last_start_seconds)
        return True


def _megabytes(heap: str) -> int:
    value = heap.strip().lower()
    units = {"k": 1 / 1024, "m": 1, "g": 1024}
    if value and value[-1] in units:
        return int(float(value[:-1]) * units[value[-1]])
    return int(value) // (1024 * 1024)


__all__ = [
    "KafkaUnavailableError",
    "LocalKafka",
    "default_libs_dir",
    "ensure_jars",
]

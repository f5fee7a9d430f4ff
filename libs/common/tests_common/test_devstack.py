"""The local stack: managed processes, PostgreSQL, and `livetranslate-stack` across a restart."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from livetranslate_common.catalogue import AUDIO_INGEST, CATALOGUE
from livetranslate_common.devstack import (
    ManagedProcess,
    ProcessStartError,
    free_port,
    http_ready,
    port_open,
)
from livetranslate_common.devstack.kafka import default_libs_dir

_SHARED_KAFKA_LIBS = default_libs_dir()

# --------------------------------------------------------------------------- ManagedProcess


def _http_server(tmp_path: Path, port: int) -> ManagedProcess:
    return ManagedProcess(
        name="http",
        command=(sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"),
        pid_file=tmp_path / "http.pid",
        log_file=tmp_path / "http.log",
        cwd=tmp_path,
        ready=http_ready(f"http://127.0.0.1:{port}/"),
        port=port,
    )


def test_managed_process_start_status_stop(tmp_path: Path) -> None:
    port = free_port()
    server = _http_server(tmp_path, port)
    assert server.start(timeout=30) is True
    try:
        assert server.is_running()
        assert port_open("127.0.0.1", port)
        assert server.start() is False  # idempotent

        # Another object (as `livetranslate-stack status` would build) finds it by pid file.
        again = _http_server(tmp_path, port)
        status = again.status()
        assert status.running
        assert status.pid == server.pid
        assert status.log_files == (tmp_path / "http.log",)
        assert again.stop() is True
    finally:
        server.stop()
    assert not server.is_running()
    assert not (tmp_path / "http.pid").exists()
    assert not port_open("127.0.0.1", port)
    assert server.stop() is False


def test_stale_pid_file_is_ignored(tmp_path: Path) -> None:
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    port = free_port()
    server = _http_server(tmp_path, port)
    # A dead pid, then a live pid that belongs to another process (wrong start time).
    for content in (f"{finished.pid}\n", f"{os.getpid()} 1\n"):
        server.pid_file.write_text(content)
        assert not server.is_running()
        assert not server.pid_file.exists()
    server.pid_file.write_text(f"{finished.pid}\n")
    try:
        assert server.start(timeout=30) is True
        assert server.is_running()
    finally:
        server.stop()


def test_process_exiting_during_start_reports_its_log(tmp_path: Path) -> None:
    broken = ManagedProcess(
        name="broken",
        command=(sys.executable, "-c", "print('boom: no config', flush=True); raise SystemExit(3)"),
        pid_file=tmp_path / "broken.pid",
        log_file=tmp_path / "broken.log",
        ready=lambda: False,
    )
    with pytest.raises(ProcessStartError, match="boom: no config"):
        broken.start(timeout=30)
    assert not broken.pid_file.exists()


def test_readiness_timeout_stops_the_process(tmp_path: Path) -> None:
    sleeper = ManagedProcess(
        name="sleeper",
        command=(sys.executable, "-c", "import time; time.sleep(60)"),
        pid_file=tmp_path / "sleeper.pid",
        log_file=tmp_path / "sleeper.log",
        ready=lambda: False,
        stop_timeout=5,
    )
    with pytest.raises(ProcessStartError, match="not ready"):
        sleeper.start(timeout=1)
    assert not sleeper.is_running()


# --------------------------------------------------------------------------- PostgreSQL


def test_postgres_round_trip(database: str) -> None:
    with psycopg.connect(database) as conn:
        conn.execute("CREATE TABLE segments (id serial PRIMARY KEY, text text NOT NULL)")
        conn.execute("INSERT INTO segments (text) VALUES (%s), (%s)", ("hello", "world"))
        conn.commit()
        rows = conn.execute("SELECT text FROM segments ORDER BY id").fetchall()
    assert rows == [("hello",), ("world",)]
    assert os.environ["DATABASE_URL"] == database


def test_each_test_gets_a_fresh_database(database: str) -> None:
    with psycopg.connect(database) as conn:
        found = conn.execute("SELECT to_regclass('segments')").fetchone()
    assert found == (None,)


def test_session_database_is_usable(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT 1 + 1").fetchone() == (2,)


# --------------------------------------------------------------------------- the whole stack


@pytest.fixture
def stack_dir() -> Iterator[Path]:
    # Not under pytest's tmp_path (0700): PostgreSQL runs as another user when we are root.
    path = Path(tempfile.mkdtemp(prefix="livetranslate-stack-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _cli(stack_dir: Path, *args: str) -> str:
    env = {
        **os.environ,
        "LIVETRANSLATE_STACK_DIR": str(stack_dir),
        # Reuse the jars already fetched for the repository's own stack.
        "LIVETRANSLATE_KAFKA_LIBS": str(_SHARED_KAFKA_LIBS),
    }
    env.pop("LIVETRANSLATE_TOPIC_PREFIX", None)
    result = subprocess.run(
        [sys.executable, "-m", "livetranslate_common.devstack.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _consume_all(bootstrap: str, topic: str, expected: int) -> list[bytes | None]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"g-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    values: list[bytes | None] = []
    try:
        for _ in range(120):
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                values.append(message.value())
            if len(values) >= expected:
                break
    finally:
        consumer.close()
    return values


def test_stack_cli_up_down_keeps_data(stack_dir: Path) -> None:
    kafka_port, controller_port, pg_port = free_port(), free_port(), free_port()
    gateway_port, pipeline_port, projector_port = free_port(), free_port(), free_port()
    reprocess_port, monitoring_port = free_port(), free_port()
    ports = [
        "--reprocess-port",
        str(reprocess_port),
        "--monitoring-port",
        str(monitoring_port),
        "--gateway-port",
        str(gateway_port),
        "--pipeline-port",
        str(pipeline_port),
        "--projector-port",
        str(projector_port),
        "--kafka-port",
        str(kafka_port),
        "--kafka-controller-port",
        str(controller_port),
        "--postgres-port",
        str(pg_port),
    ]
    bootstrap = f"127.0.0.1:{kafka_port}"
    db_url = f"postgresql://livetranslate:livetranslate@127.0.0.1:{pg_port}/livetranslate"
    try:
        out = _cli(stack_dir, "up", *ports)
        assert "kafka: started" in out
        assert "postgres: started" in out
        assert "pipeline: started" in out
        assert "projector: started" in out
        assert "reprocess: started" in out
        assert "monitoring: started" in out
        assert "gateway: started" in out
        assert "topics created: " in out
        assert f"DATABASE_URL={db_url}" in out

        again = _cli(stack_dir, "up")  # idempotent; ports come from stack.json
        assert "kafka: already running" in again
        assert "postgres: already running" in again
        assert "topics: all present" in again

        status = json.loads(_cli(stack_dir, "status", "--json"))
        assert {row["name"]: row["running"] for row in status} == {
            "kafka": True,
            "postgres": True,
            "pipeline": True,
            "projector": True,
            "reprocess": True,
            "monitoring": True,
            "gateway": True,
        }
        assert {row["name"]: row["port"] for row in status} == {
            "kafka": kafka_port,
            "postgres": pg_port,
            "pipeline": pipeline_port,
            "projector": projector_port,
            "reprocess": reprocess_port,
            "monitoring": monitoring_port,
            "gateway": gateway_port,
        }
        with urllib.request.urlopen(f"http://127.0.0.1:{gateway_port}/health") as response:
            assert response.status == 200
        assert str(stack_dir / "kafka" / "logs" / "server.log") in _cli(
            stack_dir, "logs", "kafka", "--paths"
        )

        # Write something to both, then restart.
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
        producer.produce(AUDIO_INGEST.name, key=b"s1", value=b"survives")
        assert producer.flush(30) == 0
        with psycopg.connect(db_url) as conn:
            conn.execute("CREATE TABLE kept (value text)")
            conn.execute("INSERT INTO kept VALUES ('survives')")

        stopped_all = _cli(stack_dir, "down")
        assert (
            "stopped: gateway, monitoring, reprocess, projector, pipeline, postgres, kafka"
            in stopped_all
        )
        assert not port_open("127.0.0.1", gateway_port)
        assert not port_open("127.0.0.1", kafka_port)
        assert not port_open("127.0.0.1", pg_port)
        stopped = json.loads(_cli(stack_dir, "status", "--json"))
        assert not any(row["running"] for row in stopped)

        restarted = _cli(stack_dir, "up")
        assert "kafka: started" in restarted
        assert "topics: all present" in restarted

        metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=30)
        for spec in CATALOGUE:
            assert len(metadata.topics[spec.name].partitions) == spec.partitions
        assert _consume_all(bootstrap, AUDIO_INGEST.name, 1) == [b"survives"]
        with psycopg.connect(db_url) as conn:
            assert conn.execute("SELECT value FROM kept").fetchall() == [("survives",)]
    finally:
        _cli(stack_dir, "down")
    assert "nothing was running" in _cli(stack_dir, "down")

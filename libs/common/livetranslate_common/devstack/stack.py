"""The local stack: Kafka, PostgreSQL, the catalogue's topics, then any services.

Services are ``ManagedProcess`` objects added with ``DevStack.add_service``; they start after
the infrastructure (in the order added, each waiting for its readiness check) and stop before
it. ``service_env()`` gives them the addresses of the stack's Kafka and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from livetranslate_common.devstack.kafka import LocalKafka
from livetranslate_common.devstack.paths import default_stack_dir
from livetranslate_common.devstack.postgres import LocalPostgres
from livetranslate_common.devstack.processes import ManagedProcess, ProcessStatus
from livetranslate_common.settings import LOCAL_KAFKA_PORT, LOCAL_POSTGRES_PORT

log = logging.getLogger(__name__)


class Component(Protocol):
    """Anything the stack starts and stops: LocalKafka, LocalPostgres, ManagedProcess."""

    name: str

    def start(self) -> bool: ...

    def stop(self) -> bool: ...

    def status(self) -> ProcessStatus: ...


@dataclass(frozen=True, slots=True)
class StackPorts:
    kafka: int = LOCAL_KAFKA_PORT
    kafka_controller: int = LOCAL_KAFKA_PORT + 1
    postgres: int = LOCAL_POSTGRES_PORT
    gateway: int = 8000
    pipeline_web: int = 6066
    projector_web: int = 6067
    reprocess_web: int = 6068
    monitoring_web: int = 6069


@dataclass(frozen=True, slots=True)
class UpResult:
    started: dict[str, float]  # component name -> seconds its start took (if this call started it)
    already_running: list[str]
    topics_created: list[str]
    topics_checked: bool  # False when Kafka was not part of this `up`, or topics were skipped


class DevStack:
    def __init__(self, stack_dir: Path | None = None, ports: StackPorts | None = None) -> None:
        self.stack_dir = (stack_dir or default_stack_dir()).resolve()
        self._state_file = self.stack_dir / "stack.json"
        self.ports = ports or self._saved_ports() or StackPorts()
        self.kafka = LocalKafka(
            self.stack_dir / "kafka",
            self.ports.kafka,
            controller_port=self.ports.kafka_controller,
        )
        self.postgres = LocalPostgres(self.stack_dir / "postgres", self.ports.postgres)
        self.services: list[ManagedProcess] = []

    # ------------------------------------------------------------------ configuration

    def _saved_ports(self) -> StackPorts | None:
        try:
            data = json.loads(self._state_file.read_text())
            return StackPorts(**data["ports"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _save_ports(self) -> None:
        self.stack_dir.mkdir(parents=True, exist_ok=True)
        ports = dataclasses.asdict(self.ports)
        self._state_file.write_text(json.dumps({"ports": ports}, indent=2) + "\n")

    def add_service(self, process: ManagedProcess) -> ManagedProcess:
        """Register a service started after the infrastructure (pid/log under services/)."""
        self.services.append(process)
        return process

    def service_paths(self, name: str) -> tuple[Path, Path]:
        """(pid file, log file) conventional for a service called ``name``."""
        base = self.stack_dir / "services"
        return base / f"{name}.pid", base / f"{name}.log"

    def service_env(self) -> dict[str, str]:
        """Environment that points a service at this stack."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
            "DATABASE_URL": self.postgres.url,
        }

    @property
    def infrastructure(self) -> list[Component]:
        return [self.kafka, self.postgres]

    def components(self) -> list[Component]:
        return [*self.infrastructure, *self.services]

    def component(self, name: str) -> Component:
        for item in self.components():
            if item.name == name:
                return item
        raise KeyError(f"no component named {name!r}")

    # ------------------------------------------------------------------ lifecycle

    def up(
        self,
        *,
        only: list[str] | None = None,
        create_topics: bool = True,
        topic_prefix: str = "",
    ) -> UpResult:
        """Start what is not running (Kafka and PostgreSQL concurrently), then topics, services."""
        self._save_ports()
        wanted = [c for c in self.infrastructure if only is None or c.name in only]
        started: dict[str, float] = {}
        already: list[str] = []

        def start(component: Component) -> tuple[str, bool, float]:
            begin = time.monotonic()
            did_start = component.start()
            return component.name, did_start, time.monotonic() - begin

        with ThreadPoolExecutor(max_workers=max(1, len(wanted))) as pool:
            for name, did_start, seconds in pool.map(start, wanted):
                if did_start:
                    started[name] = seconds
                else:
                    already.append(name)

        created: list[str] = []
        topics_checked = create_topics and self.kafka in wanted
        if topics_checked:
            from livetranslate_common.topics import ensure_topics

            created = ensure_topics(self.kafka.bootstrap_servers, prefix=topic_prefix)
        for service in self.services:
            if only is not None and service.name not in only:
                continue
            _, did_start, seconds = start(service)
            if did_start:
                started[service.name] = seconds
            else:
                already.append(service.name)
        return UpResult(
            started=started,
            already_running=already,
            topics_created=created,
            topics_checked=topics_checked,
        )

    def down(self, only: list[str] | None = None) -> list[str]:
        """Stop services (last first), then the infrastructure; the names that were stopped."""
        stopped: list[str] = []
        for component in reversed(self.components()):
            if only is not None and component.name not in only:
                continue
            if component.stop():
                stopped.append(component.name)
        return stopped

    def status(self) -> list[ProcessStatus]:
        return [component.status() for component in self.components()]

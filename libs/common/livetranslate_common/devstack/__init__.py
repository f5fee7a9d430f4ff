"""The local stack that the project starts itself: a real Kafka broker, PostgreSQL, services.

``livetranslate-stack up`` (see ``cli``) runs it from the repository's ``.stack/``; the test
fixtures (``livetranslate_common.testing.fixtures``) start throw-away instances of the same
classes. ``ManagedProcess`` starts any other long-running command (uvicorn, faust workers).
"""

from livetranslate_common.devstack.kafka import KafkaUnavailableError, LocalKafka, ensure_jars
from livetranslate_common.devstack.paths import default_stack_dir, find_repo_root
from livetranslate_common.devstack.postgres import LocalPostgres, PostgresUnavailableError
from livetranslate_common.devstack.processes import (
    ManagedProcess,
    ProcessStartError,
    ProcessStatus,
    free_port,
    http_ready,
    port_open,
    tcp_ready,
)
from livetranslate_common.devstack.stack import Component, DevStack, StackPorts, UpResult

__all__ = [
    "Component",
    "DevStack",
    "KafkaUnavailableError",
    "LocalKafka",
    "LocalPostgres",
    "ManagedProcess",
    "PostgresUnavailableError",
    "ProcessStartError",
    "ProcessStatus",
    "StackPorts",
    "UpResult",
    "default_stack_dir",
    "ensure_jars",
    "find_repo_root",
    "free_port",
    "http_ready",
    "port_open",
    "tcp_ready",
]

"""``livetranslate-stack``: start, stop and inspect the local stack.

    livetranslate-stack up [--only kafka|postgres|pipeline|gateway] [--no-topics] [--no-services]
    livetranslate-stack status [--json]
    livetranslate-stack logs [NAME] [-n LINES] [--paths]
    livetranslate-stack env        # export lines pointing a shell at the stack
    livetranslate-stack down [--only NAME]

Files live under ``.stack/`` of the repository (``LIVETRANSLATE_STACK_DIR`` overrides);
ports default to the ones in ``settings`` and are remembered in ``.stack/stack.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from livetranslate_common.devstack.kafka import KafkaUnavailableError
from livetranslate_common.devstack.postgres import PostgresUnavailableError
from livetranslate_common.devstack.processes import ProcessStartError, tail
from livetranslate_common.devstack.services import add_services
from livetranslate_common.devstack.stack import DevStack
from livetranslate_common.settings import KafkaSettings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="livetranslate-stack", description=__doc__.split("\n")[0])
    parser.add_argument("--stack-dir", type=Path, help="default: <repo>/.stack")
    parser.add_argument("-v", "--verbose", action="store_true")
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="start Kafka and PostgreSQL, create topics")
    up.add_argument("--only", action="append", help="component to start (repeatable)")
    up.add_argument("--no-topics", action="store_true", help="skip topic creation")
    up.add_argument(
        "--no-services", action="store_true", help="only Kafka and PostgreSQL, no gateway/pipeline"
    )
    up.add_argument("--kafka-port", type=int)
    up.add_argument("--kafka-controller-port", type=int)
    up.add_argument("--postgres-port", type=int)
    up.add_argument("--gateway-port", type=int)
    up.add_argument("--pipeline-port", type=int, help="the pipeline worker's web (health) port")
    up.add_argument("--projector-port", type=int, help="the projector's web (health) port")
    up.add_argument("--reprocess-port", type=int, help="the reprocessing worker's web port")
    up.add_argument("--monitoring-port", type=int, help="the analytics worker's web port")

    down = commands.add_parser("down", help="stop everything (or --only NAME)")
    down.add_argument("--only", action="append")

    status = commands.add_parser("status", help="what runs, pids, ports, log files")
    status.add_argument("--json", action="store_true")

    logs = commands.add_parser("logs", help="tail log files")
    logs.add_argument("name", nargs="?", help="component (default: all)")
    logs.add_argument("-n", "--lines", type=int, default=40)
    logs.add_argument("--paths", action="store_true", help="only print the log files' paths")

    commands.add_parser("env", help="print export lines for KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL")
    return parser


def _stack(args: argparse.Namespace) -> DevStack:
    stack = DevStack(args.stack_dir)
    if args.command == "up":
        overrides = {
            "kafka": args.kafka_port,
            "kafka_controller": args.kafka_controller_port,
            "postgres": args.postgres_port,
            "gateway": args.gateway_port,
            "pipeline_web": args.pipeline_port,
            "projector_web": args.projector_port,
            "reprocess_web": args.reprocess_port,
            "monitoring_web": args.monitoring_port,
        }
        chosen = {key: value for key, value in overrides.items() if value is not None}
        if chosen:
            if "kafka" in chosen and "kafka_controller" not in chosen:
                chosen["kafka_controller"] = chosen["kafka"] + 1
            stack = DevStack(args.stack_dir, replace(stack.ports, **chosen))
    if not getattr(args, "no_services", False):
        add_services(stack)
    return stack


def _up(stack: DevStack, args: argparse.Namespace) -> int:
    prefix = KafkaSettings().topic_prefix
    result = stack.up(only=args.only, create_topics=not args.no_topics, topic_prefix=prefix)
    for name, seconds in result.started.items():
        print(f"{name}: started in {seconds:.1f} s")
    for name in result.already_running:
        print(f"{name}: already running")
    if result.topics_created:
        print("topics created: " + ", ".join(result.topics_created))
    elif result.topics_checked:
        print("topics: all present")
    for key, value in stack.service_env().items():
        print(f"{key}={value}")
    return 0


def _status(stack: DevStack, as_json: bool) -> int:
    statuses = stack.status()
    if as_json:
        rows = [
            {
                "name": s.name,
                "running": s.running,
                "pid": s.pid,
                "port": s.port,
                "url": s.url,
                "log_files": [str(p) for p in s.log_files],
            }
            for s in statuses
        ]
        print(json.dumps(rows, indent=2))
    else:
        print(f"stack dir: {stack.stack_dir}")
        for item in statuses:
            print(item.describe())
    return 0


def _logs(stack: DevStack, args: argparse.Namespace) -> int:
    components = [stack.component(args.name)] if args.name else stack.components()
    for component in components:
        for path in component.status().log_files:
            if args.paths:
                print(path)
                continue
            print(f"==> {component.name}: {path} <==")
            print(tail(path, args.lines) if path.exists() else "(no log yet)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    stack = _stack(args)
    try:
        if args.command == "up":
            return _up(stack, args)
        if args.command == "down":
            stopped = stack.down(args.only)
            print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
            return 0
        if args.command == "status":
            return _status(stack, args.json)
        if args.command == "logs":
            return _logs(stack, args)
        if args.command == "env":
            for key, value in stack.service_env().items():
                print(f"export {key}='{value}'")
            return 0
    except (KafkaUnavailableError, PostgresUnavailableError, ProcessStartError, KeyError) as exc:
        print(f"livetranslate-stack: {exc}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())

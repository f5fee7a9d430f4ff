"""``python -m livetranslate_common.topics_cli``: create the catalogue's topics, then exit.

The one-shot topic-creation step of every deployment: docker-compose's ``topics`` service
and the Helm pre-install/pre-upgrade hook of the audio-pipeline chart run it before any
worker starts, because the broker has topic auto-creation off and Faust must not create the
catalogue's topics with its own defaults.

    python -m livetranslate_common.topics_cli [--bootstrap HOST:PORT] [--prefix PREFIX]
                                              [--wait-seconds N] [--timeout N]

Idempotent: existing topics are left alone. Exit codes: 0 done (whether or not anything was
created), 1 broker unreachable or topic creation failed, 2 an existing topic disagrees with
the catalogue (a human must decide; retrying cannot help, so the hook fails at once).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from livetranslate_common.catalogue import CATALOGUE
from livetranslate_common.cli_args import add_kafka_arguments
from livetranslate_common.topics import TopicMismatchError, ensure_topics

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_MISMATCH = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="livetranslate-topics", description=(__doc__ or "").split("\n")[0]
    )
    add_kafka_arguments(parser)
    parser.add_argument(
        "--wait-seconds",
        type=float,
        default=0.0,
        help="keep retrying this long until the broker answers (containers start together)",
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="timeout of each admin request, seconds"
    )
    return parser


def broker_answers(bootstrap_servers: str, timeout: float) -> bool:
    """Whether a metadata request gets an answer naming at least one broker."""
    # log_level 0: librdkafka would otherwise print a connection error per attempt while
    # the broker is still starting, burying the one line that matters.
    admin = AdminClient({"bootstrap.servers": bootstrap_servers, "log_level": 0})
    try:
        return len(admin.list_topics(timeout=timeout).brokers) > 0
    except KafkaException:
        return False


def wait_for_broker(bootstrap_servers: str, wait_seconds: float) -> bool:
    """Poll until the broker answers or ``wait_seconds`` pass; at least one attempt."""
    deadline = time.monotonic() + wait_seconds
    while True:
        remaining = deadline - time.monotonic()
        if broker_answers(bootstrap_servers, timeout=max(1.0, min(5.0, remaining))):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(1.0)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)

    if not wait_for_broker(args.bootstrap, args.wait_seconds):
        print(
            f"no Kafka broker answered at {args.bootstrap} within {args.wait_seconds:g} s",
            file=sys.stderr,
        )
        return EXIT_FAILED
    try:
        created = ensure_topics(args.bootstrap, prefix=args.prefix, timeout=args.timeout)
    except TopicMismatchError as exc:
        print(f"refusing to continue: {exc}", file=sys.stderr)
        return EXIT_MISMATCH
    except (KafkaException, RuntimeError, TimeoutError) as exc:
        # The broker went away mid-way or partitions got no leader in time: a retry (the
        # next hook run, or compose's restart) may well succeed.
        print(f"topic creation failed: {exc}", file=sys.stderr)
        return EXIT_FAILED

    for name in created:
        print(f"created {name}")
    print(
        f"{len(created)} topic(s) created, {len(CATALOGUE) - len(created)} already present "
        f"on {args.bootstrap}"
    )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

"""Read LiveTranslate's topics and print every event as one line of JSON.

An example for teams that consume the topics from outside the project: it needs this
package (the schemas and their decoder) and confluent-kafka, nothing else::

    pip install "./schemas[examples]"    # from a checkout; or the wheel `uv build` makes
    python -m livetranslate_schemas.examples.analytics_consumer --from-beginning audio-results

Topics are named without the deployment's prefix, which comes from
``LIVETRANSLATE_TOPIC_PREFIX`` as in every LiveTranslate service; the broker from
``--bootstrap-servers`` or ``KAFKA_BOOTSTRAP_SERVERS``. Every event type this package knows
is decoded, from any released schema version (no branch per type: a newer package decodes
newer events); its line holds where it was read (``topic``, ``partition``, ``offset``,
``key``), the envelope's fields and the ``payload`` as plain JSON (timestamps ISO 8601,
bytes base64, enums by name). A message that does not decode is reported on stderr as
JSON with an ``error`` and skipped.

The consumer group (``--group-id``) is this reader's own: offsets are stored only after an
event is printed, so a restarted reader goes on where it stopped, and may print the last
events again (at least once): drop duplicates by the payload's idempotency keys.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import os
import sys
import time
from collections.abc import Sequence
from datetime import date, datetime
from enum import Enum
from typing import Any, TextIO
from uuid import UUID

from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition

from livetranslate_schemas.events import Envelope
from livetranslate_schemas.wire import WireFormatError, decode_envelope

#: The project's own environment variables: the same values as the services'.
BOOTSTRAP_ENV = "KAFKA_BOOTSTRAP_SERVERS"
PREFIX_ENV = "LIVETRANSLATE_TOPIC_PREFIX"
#: Where ``livetranslate-stack up`` (the local stack) runs its broker.
LOCAL_BOOTSTRAP = "127.0.0.1:19092"
DEFAULT_GROUP = "livetranslate-analytics-example"
DEFAULT_TOPICS = ("audio-results",)


def plain(value: Any) -> Any:
    """``value`` (an envelope, a payload, or any part of one) as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def event_line(message: Message, envelope: Envelope) -> dict[str, Any]:
    """One output line: where the event was read, then the envelope with its payload."""
    key = message.key()
    return {
        "topic": message.topic(),
        "partition": message.partition(),
        "offset": message.offset(),
        "key": key.decode("utf-8", errors="replace") if key is not None else None,
        **plain(envelope),
    }


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m livetranslate_schemas.examples.analytics_consumer",
        description="Print every LiveTranslate event of the given topics as one JSON line.",
    )
    parser.add_argument(
        "topics",
        nargs="*",
        default=list(DEFAULT_TOPICS),
        help=f"topics without the prefix (default: {' '.join(DEFAULT_TOPICS)}); the prefix "
        f"comes from {PREFIX_ENV}",
    )
    parser.add_argument(
        "--bootstrap-servers",
        default=os.environ.get(BOOTSTRAP_ENV, LOCAL_BOOTSTRAP),
        help=f"Kafka brokers (default: ${BOOTSTRAP_ENV}, else {LOCAL_BOOTSTRAP})",
    )
    parser.add_argument(
        "--group-id", default=DEFAULT_GROUP, help=f"consumer group (default: {DEFAULT_GROUP})"
    )
    parser.add_argument(
        "--from-beginning",
        action="store_true",
        help="start at the first kept offset of every partition, whatever the group committed",
    )
    parser.add_argument(
        "--max-events", type=int, default=None, help="stop after printing this many events"
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop when no message arrived for this long (default: run until interrupted)",
    )
    return parser.parse_args(argv)


def _consumer(args: argparse.Namespace) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": args.bootstrap_servers,
            "group.id": args.group_id,
            # Only where the group has no committed offset yet.
            "auto.offset.reset": "earliest" if args.from_beginning else "latest",
            # Offsets are stored after an event is printed (below), committed in the
            # background and on close: at least once.
            "enable.auto.offset.store": False,
        }
    )


def _subscribe(consumer: Consumer, args: argparse.Namespace) -> None:
    topics = [os.environ.get(PREFIX_ENV, "") + topic for topic in args.topics]
    if not args.from_beginning:
        consumer.subscribe(topics)
        return

    def from_beginning(consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for partition in partitions:
            partition.offset = OFFSET_BEGINNING
        consumer.assign(partitions)

    consumer.subscribe(topics, on_assign=from_beginning)


def _print_event(message: Message, out: TextIO, err: TextIO) -> bool:
    """Print the message's event (or report why not, on ``err``); whether it was printed."""
    try:
        envelope = decode_envelope(message.value() or b"")
    except WireFormatError as exc:
        where = {"topic": message.topic(), "partition": message.partition()}
        print(json.dumps({**where, "offset": message.offset(), "error": str(exc)}), file=err)
        return False
    print(json.dumps(event_line(message, envelope)), file=out, flush=True)
    return True


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Consume until ``--max-events``, ``--idle-timeout`` or Ctrl-C; the exit status."""
    consumer = _consumer(args)
    _subscribe(consumer, args)
    printed = 0
    last_message = time.monotonic()
    try:
        while args.max_events is None or printed < args.max_events:
            message = consumer.poll(0.5)
            if message is None:
                idle = time.monotonic() - last_message
                if args.idle_timeout is not None and idle > args.idle_timeout:
                    break
                continue
            last_message = time.monotonic()
            error = message.error()
            if error is not None:
                print(json.dumps({"error": str(error)}), file=err, flush=True)
                if error.fatal():
                    return 1
                continue
            printed += _print_event(message, out, err)
            consumer.store_offsets(message)
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()  # commits the stored offsets
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(_parse_args(argv), sys.stdout, sys.stderr)


if __name__ == "__main__":
    sys.exit(main())

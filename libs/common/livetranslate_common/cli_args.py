"""Command-line options the project's tools share."""

from __future__ import annotations

import argparse

from livetranslate_common.settings import KafkaSettings


def add_kafka_arguments(parser: argparse.ArgumentParser) -> None:
    """``--bootstrap`` and ``--prefix``, defaulting to the settings the services read, so a
    tool and the services can never disagree about the broker or the topics' prefix."""
    settings = KafkaSettings()
    parser.add_argument(
        "--bootstrap",
        default=settings.bootstrap_servers,
        help="Kafka bootstrap servers (default: KAFKA_BOOTSTRAP_SERVERS, else %(default)s)",
    )
    parser.add_argument(
        "--prefix",
        default=settings.topic_prefix,
        help="prefix of every topic name (default: LIVETRANSLATE_TOPIC_PREFIX)",
    )

"""``livetranslate-replay``: the log is the source of truth; read it again.

    livetranslate-replay rebuild [--bootstrap HOST:PORT] [--prefix PREFIX]
                                 [--database-url URL] [--no-progress]

``rebuild`` migrates the read model's schema, then replaces every row of it by the projection
of audio-results (and of the reprocessing requests on audio-reprocess) as those topics stand
when the command starts (one transaction: readers see the old read model until the new one is
complete). Progress goes to stderr, the summary to
stdout. Exit codes: 0 rebuilt, 1 failed (nothing changed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import sys
from collections.abc import Sequence

import psycopg
from tqdm import tqdm

from livetranslate_common.catalogue import AUDIO_REPROCESS, AUDIO_RESULTS
from livetranslate_common.cli_args import add_kafka_arguments
from livetranslate_common.readmodel.migrate import apply_migrations
from livetranslate_common.readmodel.rebuild import RebuildSummary, rebuild_read_model
from livetranslate_common.replay.topic_snapshot import TopicReadError, TopicSnapshot
from livetranslate_common.settings import DatabaseSettings

EXIT_OK = 0
EXIT_FAILED = 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="livetranslate-replay", description=(__doc__ or "").split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    rebuild = commands.add_parser(
        "rebuild", help="rebuild the PostgreSQL read model from audio-results and audio-reprocess"
    )
    add_kafka_arguments(rebuild)
    rebuild.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL URL (default: DATABASE_URL); never printed, it may hold a password",
    )
    rebuild.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


# What the read model is projected from. Their order does not matter: a run's request only
# fills a row its reports have not (see readmodel.projection).
PROJECTED_TOPICS = (AUDIO_RESULTS.name, AUDIO_REPROCESS.name)


async def rebuild(
    bootstrap_servers: str, topics: Sequence[str], database_url: str, *, progress: bool
) -> RebuildSummary:
    """Migrate, then rebuild the read model from ``topics``; raises on any failure."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await apply_migrations(conn)
        with contextlib.ExitStack() as stack:
            snapshots = [
                stack.enter_context(TopicSnapshot(bootstrap_servers, topic)) for topic in topics
            ]
            bar = tqdm(
                total=sum(snapshot.total for snapshot in snapshots),
                unit="event",
                desc=f"rebuilding from {', '.join(topics)}",
                disable=not progress,
                file=sys.stderr,
            )
            with bar:

                def advance() -> None:
                    bar.update()

                messages = itertools.chain.from_iterable(s.messages() for s in snapshots)
                values = (m.value() or b"" for m in messages)
                return await rebuild_read_model(conn, values, on_event=advance)


def _report(topics: Sequence[str], summary: RebuildSummary) -> None:
    print(
        f"rebuilt the read model from {summary.events} events of {', '.join(topics)} in "
        f"{summary.seconds:.1f} s ({summary.events_per_second:,.0f} events/s): "
        f"{summary.projected} projected, {summary.not_projected} with no place in it, "
        f"{summary.undecodable} undecodable"
    )
    for kind, count in sorted(summary.by_type.items()):
        print(f"  {kind}: {count}")
    for table, after in summary.rows_after.items():
        before = summary.rows_before.get(table, 0)
        print(f"  {table}: {before} rows before, {after} after")
    if summary.first_undecodable:
        # Live, these went to the dead-letter topic; the read model never had them either.
        print(f"  first undecodable: {summary.first_undecodable}")


def main(argv: Sequence[str] | None = None) -> int:
    # No handler set up: Python's last-resort handler prints warnings and errors to whatever
    # stderr is at the time (a handler bound to stderr now would outlive a test's capture).
    args = _parser().parse_args(argv)
    topics = [f"{args.prefix}{name}" for name in PROJECTED_TOPICS]
    database_url = args.database_url or DatabaseSettings().url
    try:
        summary = asyncio.run(
            rebuild(args.bootstrap, topics, database_url, progress=not args.no_progress)
        )
    except (TopicReadError, psycopg.Error) as error:
        # psycopg's messages name the host and database, never the password.
        print(
            f"livetranslate-replay: rebuild failed, read model unchanged: {error}", file=sys.stderr
        )
        return EXIT_FAILED
    _report(topics, summary)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

"""``livetranslate-replay``: the log is the source of truth; read it again.

    livetranslate-replay rebuild [--bootstrap HOST:PORT] [--prefix PREFIX]
                                 [--database-url URL] [--no-progress]
    livetranslate-replay reprocess SESSION_ID [--model NAME] [--preset NAME]
                                 [--language CODE] [--translate-to CODES] [--diarize | --no-diarize]
                                 [--start-ms MS] [--end-ms MS] [--no-wait] [--no-progress] ...

``rebuild`` migrates the read model's schema, then replaces every row of it by the projection
of audio-results (and of the reprocessing requests on audio-reprocess) as those topics stand
when the command starts (one transaction: readers see the old read model until the new one is
complete). Progress goes to stderr, the summary to
stdout. Exit codes: 0 rebuilt, 1 failed (nothing changed).

``reprocess`` asks for a run of the session's recorded audio (from audio-ingest) with another
model, preset, languages or time range, then follows the run's progress until it completes.
The new transcript stands beside the live one: ``GET /api/sessions/{id}/transcript?run=ID``.
Exit codes: 0 completed (or, with --no-wait, requested), 1 failed or not followed, 2 unknown
session.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import sys
from collections.abc import Sequence
from typing import Any

import psycopg
from tqdm import tqdm

from livetranslate_common.catalogue import AUDIO_REPROCESS, AUDIO_RESULTS
from livetranslate_common.cli_args import add_kafka_arguments
from livetranslate_common.readmodel.migrate import apply_migrations
from livetranslate_common.readmodel.rebuild import RebuildSummary, rebuild_read_model
from livetranslate_common.replay.reprocess import (
    RunFollower,
    RunFollowError,
    SessionAudio,
    follow,
    publish_request,
)
from livetranslate_common.replay.topic_snapshot import TopicReadError, TopicSnapshot
from livetranslate_common.runs import check_run_id, new_run_id
from livetranslate_common.settings import DatabaseSettings
from livetranslate_schemas.events import ReprocessRequested, RunProgress, RunStatus

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_UNKNOWN_SESSION = 2


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
    _add_reprocess_parser(commands)
    return parser


def _add_reprocess_parser(commands: Any) -> None:
    reprocess = commands.add_parser(
        "reprocess", help="run a session's recorded audio again, as a new run, and follow it"
    )
    reprocess.add_argument("session_id")
    add_kafka_arguments(reprocess)
    reprocess.add_argument(
        "--database-url", default=None, help="PostgreSQL URL (default: DATABASE_URL)"
    )
    reprocess.add_argument("--model", default="tiny.en", help="speech model (default: %(default)s)")
    reprocess.add_argument("--preset", help="audio-stage preset (default: the session's)")
    reprocess.add_argument("--language", help="spoken language (default: the session's)")
    reprocess.add_argument(
        "--translate-to",
        help="comma-separated target languages, '' for none (default: the session's)",
    )
    reprocess.add_argument(
        "--diarize", action=argparse.BooleanOptionalAction, default=None, help="label speakers"
    )
    reprocess.add_argument("--start-ms", type=int, help="from this time of the session")
    reprocess.add_argument("--end-ms", type=int, help="up to this time of the session")
    reprocess.add_argument("--run-id", help="the new run's id (default: a fresh rp-... id)")
    reprocess.add_argument("--no-wait", action="store_true", help="ask for the run, then exit")
    reprocess.add_argument("--no-progress", action="store_true", help="no progress bar")
    reprocess.add_argument(
        "--quiet-timeout",
        type=float,
        default=300.0,
        help="give up following after this many seconds without a report (default: %(default)s)",
    )


# What the read model is projected from. Their order does not matter: a run's request only
# fills a row its reports have not (see readmodel.projection).
PROJECTED_TOPICS = (AUDIO_RESULTS.name, AUDIO_REPROCESS.name)


async def rebuild(
    bootstrap_servers: str, topics: list[str], database_url: str, *, progress: bool
) -> RebuildSummary:
    """Migrate, then rebuild the read model from ``topics``; raises on any failure.

    A list rather than any sequence, so that a lone topic name (itself a sequence of
    one-letter strings) is a type error instead of a rebuild from topics "t", "8"...
    """
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


def _session_audio(database_url: str, session_id: str) -> SessionAudio | None:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT created_at, total_samples FROM sessions WHERE session_id = %s", (session_id,)
        ).fetchone()
    if row is None:
        return None
    created_at, total_samples = row
    return SessionAudio(created_at=created_at, total_samples=total_samples)


def _reprocess(args: argparse.Namespace) -> int:
    database_url = args.database_url or DatabaseSettings().url
    try:
        session = _session_audio(database_url, args.session_id)
    except psycopg.Error as error:
        print(f"livetranslate-replay: reading the session failed: {error}", file=sys.stderr)
        return EXIT_FAILED
    if session is None:
        print(f"livetranslate-replay: no session {args.session_id}", file=sys.stderr)
        return EXIT_UNKNOWN_SESSION
    translate_to = (
        None
        if args.translate_to is None
        else [code.strip() for code in args.translate_to.split(",") if code.strip()]
    )
    try:
        request = ReprocessRequested(
            session_id=args.session_id,
            run_id=check_run_id(args.run_id) if args.run_id else new_run_id(),
            model=args.model,
            preset=args.preset,
            language=args.language,
            translate_to=translate_to,
            diarize=args.diarize,
            start_ms=args.start_ms,
            end_ms=args.end_ms,
            audio_since=session.created_at,
            total_ms=session.total_ms,
        )
    except ValueError as error:
        print(f"livetranslate-replay: {error}", file=sys.stderr)
        return EXIT_FAILED
    results = f"{args.prefix}{AUDIO_RESULTS.name}"
    try:
        follower = None if args.no_wait else RunFollower(args.bootstrap, results)
        try:
            publish_request(args.bootstrap, f"{args.prefix}{AUDIO_REPROCESS.name}", request)
            print(f"run {request.run_id} of session {request.session_id} requested")
            if follower is None:
                return EXIT_OK
            done = _follow_with_bar(follower, request, args)
        finally:
            if follower is not None:
                follower.close()
    except RunFollowError as error:
        print(f"livetranslate-replay: {error}", file=sys.stderr)
        return EXIT_FAILED
    if done.status is not RunStatus.COMPLETED:
        print(f"run {done.run_id} failed: {done.error}", file=sys.stderr)
        return EXIT_FAILED
    print(
        f"run {done.run_id} completed: {done.final_segment_count} final segments from"
        f" {done.processed_ms / 1000:.1f} s of audio (model {done.model}, pipeline"
        f" {done.pipeline_version}); transcript: GET /api/sessions/{done.session_id}"
        f"/transcript?run={done.run_id}"
    )
    return EXIT_OK


def _follow_with_bar(
    follower: RunFollower, request: ReprocessRequested, args: argparse.Namespace
) -> RunProgress:
    bar = tqdm(
        total=(request.total_ms or 0) / 1000 or None,
        unit="s audio",
        desc=f"run {request.run_id}",
        disable=args.no_progress,
        file=sys.stderr,
        bar_format="{l_bar}{bar}| {n:.1f}/{total_fmt} s audio [{elapsed}<{remaining}]",
    )
    with bar:

        def on_report(report: RunProgress) -> None:
            if report.total_ms:
                bar.total = report.total_ms / 1000
            bar.n = report.processed_ms / 1000
            bar.set_postfix(finals=report.final_segment_count, refresh=False)
            bar.refresh()

        return follow(follower, request, on_report=on_report, quiet_timeout_s=args.quiet_timeout)


def main(argv: Sequence[str] | None = None) -> int:
    # No handler set up: Python's last-resort handler prints warnings and errors to whatever
    # stderr is at the time (a handler bound to stderr now would outlive a test's capture).
    args = _parser().parse_args(argv)
    if args.command == "reprocess":
        return _reprocess(args)
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

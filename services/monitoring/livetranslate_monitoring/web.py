"""The analytics on the worker's web port, for the gateway (and /health, /metrics).

- ``GET /analytics/sessions/{session_id}``: one session's figures, whole and per window; 404
  when nothing of it was counted (or it is past the retention).
- ``GET /analytics/hours?from=<ISO 8601>&to=<ISO 8601>``: every session's figures per window
  over the range (windows overlapping it), and over the whole range.
- ``GET /analytics/local/hours?...``: the same, for the partitions this worker owns only (what
  the worker answering the previous one asks the others).

Any worker answers. A session's windows live with the worker that owns the session's partition
of audio-results: a worker that does not owns it asks the one that does (from the group's
assignment) and passes its answer on. Faust's ``table_route`` would hash the table's JSON key
and its ``topic_route`` needs the producer to know audio-results, which this app never writes:
the partition is computed here as the pipeline's producer does (murmur2 of the session id).
Every answer is a 503 while the worker recovers its table or the group is rebalancing.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

import aiohttp
from aiokafka.partitioner import DefaultPartitioner

from livetranslate_common.catalogue import AUDIO_RESULTS, SESSION_PARTITIONS
from livetranslate_common.faust_support import serve_health_and_metrics
from livetranslate_monitoring.app import app, kafka_settings, monitoring_settings
from livetranslate_monitoring.core.reports import (
    WindowTotals,
    merge_totals,
    session_report,
    window_totals,
    windows_report,
)
from livetranslate_monitoring.tables import store

# Marks a question one worker asks another, which must not be passed on again.
FORWARDED_HEADER = "x-livetranslate-forwarded"
SESSION_ID_MAX = 128
ALL_PARTITIONS = list(range(SESSION_PARTITIONS))

_results_topic = kafka_settings.topic(AUDIO_RESULTS.name)
_partitioner = DefaultPartitioner()


class AnalyticsUnavailableError(Exception):
    """The figures cannot be given right now (recovering, rebalancing, a worker unreachable)."""


def partition_of(session_id: str) -> int:
    """The audio-results partition of a session (murmur2, as the pipeline's producer)."""
    return int(_partitioner(session_id.encode(), ALL_PARTITIONS, ALL_PARTITIONS))


def ready() -> bool:
    """Whether the table is recovered (after the start and after every rebalance: from a
    rebalance's start to its recovery's end, the assignment and the table disagree)."""
    recovery: Any = getattr(app.tables, "recovery", None)
    if recovery is None or not recovery.completed.is_set():
        return False
    return not (app.rebalancing or app.in_recovery)


def owned_partitions() -> set[int]:
    if app.consumer is None:
        return set()
    return {tp.partition for tp in app.consumer.assignment() if tp.topic == _results_topic}


def _own_url() -> str:
    return str(app.conf.canonical_url).rstrip("/")


def other_workers() -> dict[str, set[int]]:
    """The group's other workers (web URL) and their audio-results partitions."""
    workers: dict[str, set[int]] = {}
    for url, topics in app.router.external_topics_metadata().items():
        partitions = set(topics.get(_results_topic, ()))
        if partitions and url.rstrip("/") != _own_url():
            workers[url.rstrip("/")] = partitions
    return workers


async def _ask(url: str) -> tuple[int, Any]:
    timeout = aiohttp.ClientTimeout(total=monitoring_settings.forward_timeout_s)
    try:
        async with app.http_client.get(
            url, headers={FORWARDED_HEADER: "1"}, timeout=timeout
        ) as response:
            return response.status, await response.json(content_type=None)
    except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
        raise AnalyticsUnavailableError(f"no answer from {url}: {exc!r}") from exc


def _problem(web: Any, status: int, detail: str) -> Any:
    return web.json({"status": status, "detail": detail}, status=status)


def _time_range(query: Mapping[str, str], now: float) -> tuple[float, float]:
    """``from`` and ``to`` (ISO 8601 with a time zone; default: the last 24 hours)."""
    until = _instant(query.get("to"), "to") if query.get("to") else now
    since = _instant(query.get("from"), "from") if query.get("from") else until - 86400
    if until <= since:
        raise ValueError("'to' must be after 'from'")
    if until - since > monitoring_settings.retention_s + store.size_s:
        raise ValueError(f"the range may span {monitoring_settings.retention_days:g} days at most")
    return since, until


def _instant(text: str | None, name: str) -> float:
    try:
        moment = datetime.fromisoformat(text or "")
    except ValueError:
        raise ValueError(f"{name!r} is not an ISO 8601 date and time: {text!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"{name!r} needs a time zone, e.g. 'Z' or '+01:00': {text!r}")
    return moment.timestamp()


@app.page("/analytics/sessions/{session_id}")
async def session_figures(view: Any, request: Any, session_id: str) -> Any:
    if not ready():
        return _problem(view.web, 503, "the analytics are recovering their state")
    if not 0 < len(session_id) <= SESSION_ID_MAX:
        return _problem(view.web, 400, "a session id is 1 to 128 characters")
    partition = partition_of(session_id)
    owned = owned_partitions()
    if partition not in owned:
        return await _ask_owner(view.web, request, session_id, partition)
    now = time.time()
    windows = store.windows_of(session_id, now, owned)
    if not windows:
        return _problem(view.web, 404, f"nothing counted for session {session_id}")
    return view.web.json(session_report(session_id, windows, size_s=store.size_s))


async def _ask_owner(web: Any, request: Any, session_id: str, partition: int) -> Any:
    if request.headers.get(FORWARDED_HEADER):
        return _problem(web, 503, f"partition {partition} moved; the group is rebalancing")
    owners = [url for url, parts in other_workers().items() if partition in parts]
    if not owners:
        return _problem(web, 503, f"no worker owns partition {partition} right now")
    try:
        status, body = await _ask(f"{owners[0]}/analytics/sessions/{quote(session_id, safe='')}")
    except AnalyticsUnavailableError as exc:
        return _problem(web, 503, str(exc))
    return web.json(body, status=status)


@app.page("/analytics/hours")
async def hour_figures(view: Any, request: Any) -> Any:
    now = time.time()
    try:
        since, until = _time_range(request.query, now)
    except ValueError as exc:
        return _problem(view.web, 400, str(exc))
    try:
        parts, covered = _local_totals(since, until, now)
        for url in other_workers():
            status, body = await _ask(f"{url}/analytics/local/hours?{request.query_string}")
            if status != 200:
                raise AnalyticsUnavailableError(f"{url} answered {status}: {body}")
            parts.extend(WindowTotals.from_json(item) for item in body["windows"])
            covered |= set(body["partitions"])
    except AnalyticsUnavailableError as exc:
        return _problem(view.web, 503, str(exc))
    if covered != set(ALL_PARTITIONS):
        missing = sorted(set(ALL_PARTITIONS) - covered)
        return _problem(view.web, 503, f"partitions {missing} have no owner right now")
    totals = merge_totals([parts])
    return view.web.json(windows_report(totals, since=since, until=until, size_s=store.size_s))


@app.page("/analytics/local/hours")
async def local_hour_figures(view: Any, request: Any) -> Any:
    now = time.time()
    try:
        since, until = _time_range(request.query, now)
        parts, covered = _local_totals(since, until, now)
    except ValueError as exc:
        return _problem(view.web, 400, str(exc))
    except AnalyticsUnavailableError as exc:
        return _problem(view.web, 503, str(exc))
    return view.web.json(
        {"partitions": sorted(covered), "windows": [part.to_json() for part in parts]}
    )


def _local_totals(since: float, until: float, now: float) -> tuple[list[WindowTotals], set[int]]:
    if not ready():
        raise AnalyticsUnavailableError("the analytics are recovering their state")
    partitions = owned_partitions()
    windows = store.all_windows(now, partitions)
    return window_totals(windows, since=since, until=until, size_s=store.size_s), partitions


serve_health_and_metrics(app, lambda: {"tables_recovered": ready()})

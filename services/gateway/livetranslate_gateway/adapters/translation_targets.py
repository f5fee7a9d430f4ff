"""A session's translation targets, changed while its audio streams in.

Every chunk carries the session's processing flags and the pipeline applies a chunk's flags
from that chunk on, so a change reaches the pipeline, in order with the audio, through the
chunks cut after it: on audio-ingest, where reprocessing reads it back too. The change is made
in the read model (``sessions.processing_flags``, which uploads and streams start from) and
announced with PostgreSQL's NOTIFY in the same transaction; every gateway instance LISTENs,
and the one streaming the session's audio switches its chunks' flags at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

import psycopg

log = logging.getLogger(__name__)

CHANNEL = "livetranslate_translation_targets"
#: Wait before listening again after the connection was lost.
RECONNECT_S = 1.0

TargetsChanged = Callable[[list[str]], None]


async def change_translation_targets(
    conn: psycopg.AsyncConnection[Any], session_id: str, targets: list[str]
) -> bool:
    """Set the session's targets and announce them (on commit); False for no such session."""
    async with conn.transaction():
        cursor = await conn.execute(
            "UPDATE sessions SET processing_flags ="
            " jsonb_set(processing_flags, '{translate_to}', %s::jsonb)"
            " WHERE session_id = %s",
            (json.dumps(targets), session_id),
        )
        if cursor.rowcount == 0:
            return False
        payload = json.dumps({"session_id": session_id, "translate_to": targets})
        await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
    return True


async def translation_targets_of(
    conn: psycopg.AsyncConnection[Any], session_id: str
) -> list[str] | None:
    """The session's targets now; None for no such session."""
    cursor = await conn.execute(
        "SELECT processing_flags -> 'translate_to' FROM sessions WHERE session_id = %s",
        (session_id,),
    )
    row = await cursor.fetchone()
    return None if row is None else list(row[0] or [])


class TranslationTargetChanges:
    """This gateway's LISTEN for changes, handed to the live streams watching the sessions."""

    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._watchers: dict[str, TargetsChanged] = {}
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name="translation-targets")
        async with asyncio.timeout(30):
            await self._listening.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def watch(self, session_id: str, changed: TargetsChanged) -> None:
        self._watchers[session_id] = changed

    def unwatch(self, session_id: str) -> None:
        self._watchers.pop(session_id, None)

    async def _listen_forever(self) -> None:
        while True:
            try:
                await self._listen()
            except psycopg.Error as error:
                # Changes made meanwhile reach streams that start later (from the row), not
                # the streams already running here.
                log.warning("translation target changes: listening again: %s", error)
                self._listening.clear()
                await asyncio.sleep(RECONNECT_S)

    async def _listen(self) -> None:
        async with await psycopg.AsyncConnection.connect(self._url, autocommit=True) as conn:
            await conn.execute(f"LISTEN {CHANNEL}")
            self._listening.set()
            async for notice in conn.notifies():
                self._deliver(notice.payload)

    def _deliver(self, payload: str) -> None:
        try:
            change = json.loads(payload)
            session_id, targets = change["session_id"], list(change["translate_to"])
        except (ValueError, KeyError, TypeError):
            log.warning("translation target changes: unreadable notice")
            return
        changed = self._watchers.get(session_id)
        if changed is not None:
            changed(targets)

"""The projector: audio-results -> the PostgreSQL read model.

audio-results carries every session's start and end (forwarded by the transcriber) besides its
results, so the projector never reads the audio: the worker's audio-ingest stream has one
subscriber, and a rebuild replays only the results.
"""

from __future__ import annotations

import logging

import faust
from psycopg_pool import AsyncConnectionPool

from livetranslate_audio_pipeline.app import app
from livetranslate_audio_pipeline.topics import audio_results
from livetranslate_common.db import open_pool
from livetranslate_common.readmodel.migrate import apply_migrations
from livetranslate_common.readmodel.projection import project_event
from livetranslate_schemas.events import Envelope

log = logging.getLogger(__name__)

_pool: AsyncConnectionPool | None = None


async def pool() -> AsyncConnectionPool:
    global _pool
    if _pool is None:
        _pool = await open_pool()
        async with _pool.connection() as conn:
            applied = await apply_migrations(conn)
        if applied:
            log.info("read model migrated to version %d", applied[-1])
    return _pool


async def _project(envelope: Envelope) -> None:
    async with (await pool()).connection() as conn:
        await project_event(conn, envelope)


@app.agent(audio_results)
async def project_results(stream: faust.StreamT[Envelope]) -> None:
    async for envelope in stream:
        await _project(envelope)


@app.task
async def migrate_at_start() -> None:
    await pool()

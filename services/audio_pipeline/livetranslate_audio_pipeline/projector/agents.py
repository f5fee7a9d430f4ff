"""audio-results (and audio-reprocess) -> the PostgreSQL read model, and the projector's
/health and /metrics.

audio-results carries every session's start and end (forwarded by the transcriber) besides its
results, so the projector never reads the audio; audio-reprocess adds the runs asked for and
not yet started. A rebuild replays the same two topics (``livetranslate-replay rebuild``).
"""

from __future__ import annotations

import logging

import faust
from prometheus_client import Counter
from psycopg_pool import AsyncConnectionPool

from livetranslate_audio_pipeline.projector.app import app, kafka_settings
from livetranslate_common.catalogue import (
    AUDIO_REPROCESS,
    AUDIO_REPROCESS_DLQ,
    AUDIO_RESULTS,
    AUDIO_RESULTS_DLQ,
)
from livetranslate_common.db import open_pool
from livetranslate_common.dead_letters import DeadLetteringTopic
from livetranslate_common.faust_support import serve_health_and_metrics
from livetranslate_common.readmodel.migrate import apply_migrations
from livetranslate_common.readmodel.projection import project_event
from livetranslate_schemas.events import Envelope

log = logging.getLogger(__name__)

PROJECTED = Counter(
    "livetranslate_projector_events",
    "audio-results and audio-reprocess events read, by type and outcome",
    ["type", "outcome"],
)

# Undecodable messages are copied to the dead-letter topics (the gateway reports them too).
audio_results = DeadLetteringTopic(
    app,
    topics=[kafka_settings.topic(AUDIO_RESULTS.name)],
    dead_letter_topic=kafka_settings.topic(AUDIO_RESULTS_DLQ.name),
)
reprocess_requests = DeadLetteringTopic(
    app,
    topics=[kafka_settings.topic(AUDIO_REPROCESS.name)],
    dead_letter_topic=kafka_settings.topic(AUDIO_REPROCESS_DLQ.name),
)

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


async def _project(stream: faust.StreamT[Envelope]) -> None:
    async for envelope in stream:
        async with (await pool()).connection() as conn:
            projected = await project_event(conn, envelope)
        PROJECTED.labels(
            type(envelope.payload).__name__, "projected" if projected else "skipped"
        ).inc()


@app.agent(audio_results)
async def project_results(stream: faust.StreamT[Envelope]) -> None:
    await _project(stream)


@app.agent(reprocess_requests)
async def project_requests(stream: faust.StreamT[Envelope]) -> None:
    await _project(stream)


@app.task
async def migrate_at_start() -> None:
    await pool()


serve_health_and_metrics(app, lambda: {"database": _pool is not None})

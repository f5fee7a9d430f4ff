"""Writing events into a test's read model as the projector would, without Kafka."""

from __future__ import annotations

import asyncio

import psycopg

from livetranslate_common.envelope import new_event
from livetranslate_common.readmodel.projection import project_event
from livetranslate_schemas.events import EventPayload


def project_payloads(
    database: str, *payloads: EventPayload, source: str = "audio_pipeline"
) -> None:
    """Project ``payloads``, in order, into the read model at ``database``, each in its own
    envelope from ``source`` (the pipeline by default, whose results the projector reads)."""

    async def run() -> None:
        async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
            for payload in payloads:
                await project_event(conn, new_event(payload, source=source))

    asyncio.run(run())

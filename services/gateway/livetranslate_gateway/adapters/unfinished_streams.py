"""Live streams that closed while Kafka was away: their rest and their end, published later.

A live stream whose chunks Kafka stops acknowledging closes (1013 ``kafka_unavailable``,
1011 ``publish_failed``) before its end could be published. Left there, the session stays
open, and a second stream of it numbers its chunks from 0 again: the pipeline takes those
for duplicates of the first stream's and drops them. So the gateway refuses other streams
of the session meanwhile (the live route asks ``session_id in unfinished``), and publishes,
in order, what the stream still held (chunks not yet handed to Kafka, the partial last
chunk) and its AudioStreamEnded, one event at a time, each once Kafka has the one before;
then projects the end, so that a later stream or upload of the session is refused as ended,
and the pipeline completes the session with what it got.

Bounded: a stream holds at most its chunks in flight and one frame's worth here, and is
given up after ``give_up_after_s`` (logged, the session left open).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from livetranslate_common.readmodel.projection import project_event
from livetranslate_gateway.adapters.event_publisher import EventPublisher
from livetranslate_schemas.events import AudioChunkReceived, AudioStreamEnded, Envelope

log = logging.getLogger(__name__)

# Between attempts after a delivery failed: soon at first, then every half minute.
RETRY_DELAYS_S = (1.0, 2.0, 5.0, 10.0, 30.0)


class UnfinishedStreams:
    def __init__(
        self,
        publisher: EventPublisher,
        db_pool: Any,
        *,
        give_up_after_s: float,
    ) -> None:
        self._publisher = publisher
        self._db_pool = db_pool
        self._give_up_after_s = give_up_after_s
        self._finishing: dict[str, asyncio.Task[None]] = {}

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._finishing

    def sessions(self) -> list[str]:
        """The sessions whose stream's end is still to be published."""
        return list(self._finishing)

    def finish_later(
        self,
        session_id: str,
        rest: Sequence[AudioChunkReceived],
        end: AudioStreamEnded,
        *,
        trace_id: str,
    ) -> None:
        """Publish ``rest`` then ``end`` once Kafka takes them; the session counts as
        unfinished (``in``) until that is done or given up."""
        task = asyncio.create_task(
            self._finish(session_id, [*rest, end], trace_id), name=f"unfinished-{session_id}"
        )
        self._finishing[session_id] = task
        task.add_done_callback(lambda _: self._finishing.pop(session_id, None))

    async def _finish(
        self, session_id: str, events: list[AudioChunkReceived | AudioStreamEnded], trace_id: str
    ) -> None:
        try:
            async with asyncio.timeout(self._give_up_after_s):
                envelope = await self._publish_in_order(session_id, events, trace_id)
        except TimeoutError:
            # Whatever the producer still holds may yet be delivered.
            log.error(
                "gave up publishing the end of session %s's live stream after %.0f s;"
                " the session stays open",
                session_id,
                self._give_up_after_s,
            )
            return
        try:
            async with self._db_pool.connection() as conn:
                await project_event(conn, envelope)
        except Exception:
            # The projector writes the same from audio-results, a moment later.
            log.exception("session %s: projecting its live stream's end failed", session_id)
        log.info(
            "session %s: the live stream's end is published (%d events after the close)",
            session_id,
            len(events),
        )

    async def _publish_in_order(
        self, session_id: str, events: list[AudioChunkReceived | AudioStreamEnded], trace_id: str
    ) -> Envelope:
        """Each event once Kafka has the one before; returns the last one's envelope.

        An event is sent again only when its delivery failed: while the broker is away the
        producer keeps it and retries, and sending it again meanwhile would store it twice
        (seen: a chunk twice on audio-ingest).
        """
        attempt = 0
        published = 0
        while True:
            try:
                (envelope,) = await self._publisher.publish(
                    session_id, [events[published]], trace_id=trace_id
                )
            except Exception as error:  # the producer gave the event up: send it again
                delay = RETRY_DELAYS_S[min(attempt, len(RETRY_DELAYS_S) - 1)]
                attempt += 1
                log.warning(
                    "session %s: the live stream's end is not published yet (%r); retrying in"
                    " %.0f s",
                    session_id,
                    error,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            published += 1
            if published == len(events):
                return envelope

    async def stop(self) -> None:
        """Cancel what is still waiting for Kafka (the gateway shuts down)."""
        tasks = dict(self._finishing)
        for session_id, task in tasks.items():
            log.error("shutting down before session %s's live stream end was published", session_id)
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)

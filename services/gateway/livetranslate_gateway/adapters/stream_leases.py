"""Live streams' claims kept alive, and the streams of gateways that died ended for them.

A gateway that dies mid-stream (killed, its machine lost) publishes no AudioStreamEnded: the
pipeline would wait for the rest of the stream for ever, the session's last utterance would
never get its final, and the session would never complete. So a live stream's claim on its
session (``adapters.audio_sources``) is a lease. Every ``lease_s / 3`` each gateway:

1. renews the leases of the streams it holds (open streams, and closed ones whose end it is
   still to publish once Kafka is back, ``adapters.unfinished_streams``), recording how much
   of each stream Kafka has acknowledged;
2. takes over the streams whose lease lapsed, whichever gateway held them, and ends each as
   its gateway would have: AudioStreamEnded (reason ``gateway_lost``) with the acknowledged
   chunks and samples, published and projected into the read model, unless the read model
   shows the stream already ended. The pipeline then completes the session with the audio it
   has: everything Kafka acknowledged, the chunks acknowledged after the last renewal too
   (they precede the end in the session's partition), so nothing accepted is lost.

A gateway alive but cut off from PostgreSQL for longer than a lease could see its stream ended
by another while it still publishes; renewals that find the lease taken are logged as errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from livetranslate_common.envelope import new_trace_id
from livetranslate_common.readmodel.projection import project_event
from livetranslate_common.readmodel.queries import get_session
from livetranslate_gateway.adapters.audio_sources import (
    LapsedStream,
    end_stream_lease,
    renew_stream_leases,
    reopen_lapsed_stream,
    take_lapsed_streams,
)
from livetranslate_gateway.adapters.event_publisher import EventPublisher
from livetranslate_gateway.adapters.unfinished_streams import UnfinishedStreams
from livetranslate_gateway.core.chunking import stream_end_event

log = logging.getLogger(__name__)

#: Why a stream was ended by a gateway other than its own.
GATEWAY_LOST = "gateway_lost"

# (acknowledged chunks, acknowledged samples) of a stream, asked at each renewal.
StreamProgress = Callable[[], tuple[int, int]]


class StreamLeases:
    def __init__(
        self,
        db_pool: Any,
        publisher: EventPublisher,
        unfinished: UnfinishedStreams,
        *,
        lease_s: float,
    ) -> None:
        self._db_pool = db_pool
        self._publisher = publisher
        self._unfinished = unfinished
        self.lease_s = lease_s
        self._held: dict[str, StreamProgress] = {}
        # What Kafka had of each stream at its last renewal: kept while its end is pending.
        self._last_progress: dict[str, tuple[int, int]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def hold(self, session_id: str, progress: StreamProgress) -> None:
        """This gateway streams the session's audio: renew its lease from now on."""
        self._held[session_id] = progress

    def let_go(self, session_id: str) -> None:
        """The stream closed here. Its lease is renewed on while its end waits for Kafka (an
        unfinished stream); after that, or if its end was published, it is left to lapse."""
        self._held.pop(session_id, None)

    async def ended(self, session_id: str) -> None:
        """The stream's end is published and projected: nothing left to take over."""
        self.let_go(session_id)
        self._last_progress.pop(session_id, None)
        try:
            async with self._db_pool.connection() as conn:
                await end_stream_lease(conn, session_id)
        except Exception:
            # Left to lapse: whoever takes it finds the end in the read model.
            log.exception("session %s: recording its live stream's end failed", session_id)

    async def start(self) -> None:
        # Apart: ending another gateway's stream waits for Kafka, and this gateway's own
        # leases must not lapse meanwhile.
        self._tasks = [
            asyncio.create_task(self._every_round(self.renew), name="stream-leases-renew"),
            asyncio.create_task(self._every_round(self.end_lapsed), name="stream-leases-lapsed"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _every_round(self, work: Callable[[], Awaitable[object]]) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                await work()
            except Exception:
                # PostgreSQL away: try again next round (a lease lasts three rounds).
                log.exception("live stream leases: %s failed", work.__name__)

    async def renew(self) -> None:
        progress = {session_id: current() for session_id, current in self._held.items()}
        self._last_progress.update(progress)
        for session_id in self._unfinished.sessions():
            progress.setdefault(session_id, self._last_progress.get(session_id, (0, 0)))
        for session_id in set(self._last_progress) - set(progress):
            del self._last_progress[session_id]
        if not progress:
            return
        async with self._db_pool.connection() as conn:
            renewed = await renew_stream_leases(conn, progress, self.lease_s)
        for session_id in set(progress) - renewed:
            log.error(
                "session %s: its live stream's lease was taken over (this gateway could not"
                " renew it in time); its end was published by another gateway",
                session_id,
            )

    async def end_lapsed(self) -> None:
        """End the streams whose lease lapsed."""
        async with self._db_pool.connection() as conn:
            lapsed = await take_lapsed_streams(conn)
        for stream in lapsed:
            await self._end_for_lost_gateway(stream)

    async def _end_for_lost_gateway(self, stream: LapsedStream) -> None:
        session_id = stream.session_id
        async with self._db_pool.connection() as conn:
            session = await get_session(conn, session_id)
        if session is None or session.stream_ended_at is not None:
            return  # ended by its gateway, which could not record it in time
        end = stream_end_event(
            session_id,
            total_chunks=stream.acknowledged_chunks,
            total_samples=stream.acknowledged_samples,
            reason=GATEWAY_LOST,
        )
        try:
            # Bounded: a Kafka that is away holds the next lapsed streams up, not for ever.
            async with asyncio.timeout(self.lease_s):
                (envelope,) = await self._publisher.publish(
                    session_id, [end], trace_id=new_trace_id()
                )
        except Exception:
            log.exception("session %s: ending the live stream of a lost gateway failed", session_id)
            async with self._db_pool.connection() as conn:
                await reopen_lapsed_stream(conn, session_id)
            return
        try:
            async with self._db_pool.connection() as conn:
                await project_event(conn, envelope)
        except Exception:
            # The projector writes the same from audio-results, a moment later.
            log.exception("session %s: projecting the lost gateway's stream end failed", session_id)
        log.warning(
            "session %s: its gateway stopped renewing the live stream's lease; ended it with the"
            " %d chunks Kafka had acknowledged",
            session_id,
            stream.acknowledged_chunks,
        )

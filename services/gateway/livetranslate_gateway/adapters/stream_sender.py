"""One live stream's events on their way to Kafka: in order, a bounded number unacknowledged,
and a bounded wait for the broker.

The reading side hands each chunk over as it is cut (:meth:`StreamSender.send_chunk`) and
the end last (:meth:`StreamSender.send_end`); the producer's delivery reports, which arrive
on the event loop in the order of sending, count what Kafka has. Nothing here is a task or a
future per chunk: a chunk costs one produce call and one report (a task woken per chunk, a
queue and a future per batch were a sixth of a gateway's time at 10,000 chunks a second).

Failure is sticky and comes in two kinds, both shown by :attr:`StreamSender.failed`:

- a delivery fails (the broker refused an event, or the producer gave up on it): the
  ``DeliveryError``;
- the oldest unacknowledged event has waited longer than ``max_wait_s`` (the broker away
  for long): ``TimeoutError``. The producer keeps retrying what it holds; whether the
  stream goes on is the caller's decision (it closes, and publishes the rest later).

Only the first events of the stream, up to the first failure, count as acknowledged: the
figures the client and the stream's lease are told are a prefix of the stream.
"""

from __future__ import annotations

import asyncio
import collections
import time

from confluent_kafka import KafkaError

from livetranslate_gateway.adapters.event_publisher import DeliveryError, EventPublisher
from livetranslate_gateway.adapters.metrics import GatewayStats
from livetranslate_schemas.events import AudioChunkReceived, AudioStreamEnded, Envelope


class StreamSender:
    def __init__(
        self,
        publisher: EventPublisher,
        session_id: str,
        *,
        trace_id: str,
        max_in_flight: int,
        max_wait_s: float,
        stats: GatewayStats | None = None,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self._publisher = publisher
        self._session_id = session_id
        self._trace_id = trace_id
        self._max_in_flight = max_in_flight
        self._max_wait_s = max_wait_s
        self._stats = stats or GatewayStats()
        self._loop = asyncio.get_running_loop()
        #: Done (always with an exception) once the stream can no longer be sent.
        self.failed: asyncio.Future[None] = self._loop.create_future()
        # A monotonic send time for every chunk and end not yet reported, oldest first.
        self._unreported: collections.deque[float] = collections.deque()
        self._chunks_in_flight = 0
        # Set while the reader waits for a chunk's room; resolved by the report that frees it.
        self._room: asyncio.Future[None] | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._end: asyncio.Future[Envelope] | None = None
        #: What Kafka has acknowledged: the first chunks of the stream, and their samples.
        self.acknowledged_chunks = 0
        self.acknowledged_samples = 0

    @property
    def failure(self) -> BaseException | None:
        return self.failed.exception() if self.failed.done() else None

    def room_left(self) -> bool:
        return self._chunks_in_flight < self._max_in_flight

    async def wait_for_room(self) -> None:
        """Until one more chunk may be in flight; raises the failure if the stream fails
        meanwhile. Cancelling the wait is harmless."""
        while not self.room_left():
            if self.failed.done():
                raise self._failure_error()
            if self._room is None or self._room.done():
                self._room = self._loop.create_future()
            # Woken by a report (room, or a failure) or by the deadline (a failure).
            await asyncio.shield(self._room)
        if self.failed.done():
            raise self._failure_error()

    async def send_chunk(self, event: AudioChunkReceived) -> None:
        """Hand a chunk to the producer; the caller has waited for room. Nothing is sent if
        this raises (a failed stream, a refused produce)."""
        if self.failed.done():
            raise self._failure_error()
        samples, stats = event.num_samples, self._stats

        def delivered(error: KafkaError | None) -> None:
            self._reported(error)
            self._chunks_in_flight -= 1
            if error is None:
                stats.live_chunks_acknowledged += 1
                if not self.failed.done():
                    self.acknowledged_chunks += 1
                    self.acknowledged_samples += samples
            self._wake_reader()

        await self._publisher.send(
            self._session_id, event, trace_id=self._trace_id, on_delivery=delivered
        )
        self._chunks_in_flight += 1
        stats.live_chunks_sent += 1
        self._sent()

    async def send_end(self, event: AudioStreamEnded) -> Envelope:
        """Hand the end over after every chunk; returns its envelope once Kafka has it and
        every chunk before it. Raises the stream's failure."""
        if self.failed.done():
            raise self._failure_error()
        end: asyncio.Future[Envelope] = self._loop.create_future()
        self._end = end

        def delivered(error: KafkaError | None) -> None:
            self._reported(error)
            if end.done():
                return
            if self.failed.done():
                end.set_exception(self._failure_error())
            else:
                end.set_result(envelope)

        # Reported only after this returns: the callback sees the envelope.
        envelope = await self._publisher.send(
            self._session_id, event, trace_id=self._trace_id, on_delivery=delivered
        )
        self._sent()
        return await asyncio.shield(end)

    # ----------------------------------------------------------------- bookkeeping

    def _sent(self) -> None:
        self._unreported.append(time.monotonic())
        if self._deadline is None:
            self._arm_deadline()

    def _reported(self, error: KafkaError | None) -> None:
        if self._unreported:
            self._unreported.popleft()
        if error is not None:
            self._fail(DeliveryError(error.str()))

    def _arm_deadline(self) -> None:
        # One timer a stream at a time, moved on when it fires: a timer per chunk would fill
        # the loop's heap with thousands of them a second.
        oldest = self._unreported[0]
        self._deadline = self._loop.call_at(
            self._loop.time() + max(0.0, oldest + self._max_wait_s - time.monotonic()),
            self._check_deadline,
        )

    def _check_deadline(self) -> None:
        self._deadline = None
        if not self._unreported or self.failed.done():
            return
        waited = time.monotonic() - self._unreported[0]
        if waited >= self._max_wait_s:
            self._fail(TimeoutError(f"Kafka has not acknowledged the audio for {waited:.1f} s"))
            return
        self._arm_deadline()

    def _fail(self, error: BaseException) -> None:
        if self.failed.done():
            return
        self.failed.set_exception(error)
        # Retrieved here: a stream that fails after its reader is gone must not warn about
        # an exception nobody asked for.
        self.failed.exception()
        if self._end is not None and not self._end.done():
            self._end.set_exception(self._failure_error())
        self._wake_reader()

    def _wake_reader(self) -> None:
        room = self._room
        if room is not None and not room.done() and (self.room_left() or self.failed.done()):
            room.set_result(None)

    def _failure_error(self) -> BaseException:
        failure = self.failure
        assert failure is not None
        return failure

    def close(self) -> None:
        """Stop watching the deadline (the stream is over, or handed to unfinished streams)."""
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

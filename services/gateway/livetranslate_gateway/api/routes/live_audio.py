"""``WS /ws/sessions/{id}/audio``: live audio in, results out, on one socket.

The protocol (``services/gateway/LIVE_PROTOCOL.md`` has the full text):

1. The client opens the socket for an existing session whose audio has not ended (unknown:
   close 4404; ended, or another live stream open for it here: close 4409) and sends
   ``{"type": "start", "sample_rate_hz": 8000..48000, "channels": 1|2,
   "encoding": "pcm_s16le", "capture_time": "<ISO 8601, optional>"}``. The gateway answers
   ``{"type": "ready", "session_id", "chunk_ms"}``; a bad start gets
   ``{"type": "error", "code", "message"}`` and close 1008 (invalid fields) or 1003 (not a
   start message), and publishes nothing. A good start claims the session's audio for the
   stream (``adapters.audio_sources``): if an upload or a stream on any gateway instance
   has it already, error ``audio_taken`` and close 4409.
2. Binary frames: interleaved PCM16 little-endian at the declared rate and channels, whole
   sample frames, at most 1 s each (bigger: close 1009; misaligned: error + close 1003).
   The gateway mixes to mono, resamples to 16 kHz with a streaming resampler, and publishes
   AudioChunkReceived events of ``GATEWAY_LIVE_CHUNK_MS`` (seq from 0, offsets in the 16 kHz
   clock), at most ``GATEWAY_LIVE_MAX_CHUNKS_IN_FLIGHT`` unacknowledged at a time.
   Optionally, before any frame: ``{"type": "clock", "capture_time": "<ISO 8601 with a time
   zone>"}``, the client's capture time of the next frame's first sample (without a zone:
   error + close 1008). A chunk's ``capture_time`` is the newest such mark (or the start's
   ``capture_time``) at or before its first sample plus the audio since; without any, the
   gateway's receive time of the frame that holds its first sample. The pipeline measures
   the client's clock against the audio with it (StreamIrregularity CLOCK_DRIFT).
3. ``{"type": "end"}``: the partial chunk is flushed, AudioStreamEnded (reason "completed")
   published and projected (a later stream or upload gets 4409/409), the client is told
   ``{"type": "stream_ended", "chunks", "duration_ms"}``; results keep flowing until
   ``session_completed``, then close 1000. A client that goes away without ``end`` still
   gets its partial chunk published and an AudioStreamEnded with reason
   "client_disconnected"; one closed for breaking the protocol, with the error's code.
4. Results arrive on the same socket exactly as on ``/ws/sessions/{id}``.
5. ``{"type": "ping"}`` -> ``{"type": "pong"}``.

Text messages longer than 1024 characters: error ``message_too_large`` + close 1009.

Back-pressure: up to ``GATEWAY_LIVE_BURST_S`` of audio ahead of the wall clock is read at
once; beyond that the gateway stops reading until the clock catches up, so TCP slows the
client down. Audio read more than ``GATEWAY_LIVE_MAX_AHEAD_S`` ahead, or more than
``GATEWAY_LIVE_MAX_MESSAGES_PER_S`` messages a second on average, closes with 4429.
Nothing is ever buffered without bound: a frame, the partial chunk and the chunks in flight.

Kafka away (a broker restart, a leader moving): the producer retries, the chunks in flight
wait, and once all of them wait the gateway stops reading, so the client is held back by TCP
as above; read again afterwards, the frames it queued meanwhile are not counted as a flood.
If a chunk stays unacknowledged for ``GATEWAY_LIVE_MAX_KAFKA_WAIT_S``, the stream closes with
1013 and the error ``kafka_unavailable``, which says how many chunks (``acknowledged_chunks``,
``acknowledged_ms``) Kafka has. ``stream_ended`` is sent only once Kafka has every chunk and
the end. What the stream still held and its end are then published once Kafka is back
(``adapters.unfinished_streams``); meanwhile the session takes no other stream (4409).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from livetranslate_common.envelope import new_trace_id
from livetranslate_common.log import log_context
from livetranslate_common.readmodel.projection import project_event
from livetranslate_gateway.adapters.audio_sources import claim_audio_source, describe_source
from livetranslate_gateway.adapters.event_publisher import EventPublisher
from livetranslate_gateway.adapters.metrics import GatewayStats
from livetranslate_gateway.adapters.result_fanout import (
    ResultFanout,
    SubscriberTooSlowError,
    Subscription,
)
from livetranslate_gateway.adapters.stream_leases import StreamLeases
from livetranslate_gateway.adapters.stream_sender import StreamSender
from livetranslate_gateway.adapters.translation_targets import (
    TranslationTargetChanges,
    translation_targets_of,
)
from livetranslate_gateway.adapters.unfinished_streams import UnfinishedStreams
from livetranslate_gateway.api.access import accept, owned_session, refuse, websocket_principal
from livetranslate_gateway.api.routes.results_ws import cancel_and_wait, forward_results
from livetranslate_gateway.api.routes.sessions import session_audio_context
from livetranslate_gateway.config import GatewaySettings
from livetranslate_gateway.core.chunking import (
    SessionAudioContext,
    pcm_chunk_event,
    stream_end_event,
)
from livetranslate_gateway.core.errors import SessionNotFoundError
from livetranslate_gateway.core.live_stream import (
    CLOSE_INTERNAL_ERROR,
    CLOSE_NORMAL,
    CLOSE_POLICY,
    CLOSE_SESSION_ENDED,
    CLOSE_SESSION_NOT_FOUND,
    CLOSE_TOO_SLOW,
    CLOSE_TRY_AGAIN_LATER,
    CLOSE_UNSUPPORTED_DATA,
    ClockMessage,
    CutChunk,
    EndMessage,
    LiveAudioState,
    LiveProtocolError,
    Pacer,
    PingMessage,
    StartMessage,
    parse_control,
)
from livetranslate_gateway.core.tracing import trace_id_from_traceparent
from livetranslate_gateway.core.upload_decoding import TARGET_SAMPLE_RATE
from livetranslate_schemas.events import AudioChunkReceived, Envelope, SourceType

log = logging.getLogger(__name__)

router = APIRouter()

#: How long a client may take to send its start message.
START_TIMEOUT_S = 10.0
#: How long writing a stream's end into the read model may take.
FINISH_TIMEOUT_S = 30.0
#: Messages a client may send at once above its average rate.
MESSAGE_BURST = 200
#: Pings a client may send before its start message.
MAX_MESSAGES_BEFORE_START = 10

LIVE_STREAMS_STATE = "live_streams"


def live_streams(app_state: Any) -> set[str]:
    """Sessions with a live stream open on this gateway instance."""
    streams: set[str] | None = getattr(app_state, LIVE_STREAMS_STATE, None)
    if streams is None:
        streams = set()
        setattr(app_state, LIVE_STREAMS_STATE, streams)
    return streams


@router.websocket("/ws/sessions/{session_id}/audio")
async def live_audio(websocket: WebSocket, session_id: str) -> None:
    # Join the caller's W3C trace if the handshake carried one: every event of the stream
    # and every log line about it carries the trace id.
    trace_id = trace_id_from_traceparent(websocket.headers.get("traceparent")) or new_trace_id()
    with log_context(trace_id=trace_id, session_id=session_id):
        await _serve(websocket, session_id, trace_id)


async def _serve(websocket: WebSocket, session_id: str, trace_id: str) -> None:
    state = websocket.app.state
    principal = await websocket_principal(websocket)
    if principal is None:
        return
    async with state.db_pool.connection() as conn:
        try:
            session = await owned_session(conn, session_id, principal)
        except SessionNotFoundError:
            await refuse(websocket, CLOSE_SESSION_NOT_FOUND, "unknown session")
            return
        if session.stream_ended_at is not None:
            await refuse(websocket, CLOSE_SESSION_ENDED, "the session's audio has already ended")
            return
        context = await session_audio_context(conn, session, SourceType.STREAM)
    streams = live_streams(state)
    unfinished: UnfinishedStreams = state.unfinished_streams
    if session_id in unfinished:
        await refuse(
            websocket,
            CLOSE_SESSION_ENDED,
            "the session's last live stream is still being ended (Kafka was away); try later",
        )
        return
    if session_id in streams:
        await refuse(
            websocket, CLOSE_SESSION_ENDED, "a live stream is already open for this session"
        )
        return
    streams.add(session_id)
    try:
        await accept(websocket)
        fanout: ResultFanout = state.fanout
        # Subscribe before anything is published: no result of this stream can be missed.
        subscription = fanout.subscribe(session_id)
        try:
            stream = _LiveStream(
                websocket,
                context=context,
                settings=state.settings,
                publisher=state.publisher,
                db_pool=state.db_pool,
                subscription=subscription,
                trace_id=trace_id,
                unfinished=unfinished,
                leases=state.stream_leases,
            )
            await stream.run()
        finally:
            fanout.unsubscribe(subscription)
    finally:
        state.translation_targets.unwatch(session_id)
        # A stream whose end is still to be published is in ``unfinished`` by now: that
        # keeps other streams of the session out until it is (and its lease renewed).
        streams.discard(session_id)
        state.stream_leases.let_go(session_id)


class _LiveStream:
    """One connection's stream: reading, pacing, publishing and results, as tasks."""

    def __init__(
        self,
        websocket: WebSocket,
        *,
        context: SessionAudioContext,
        settings: GatewaySettings,
        publisher: EventPublisher,
        db_pool: Any,
        subscription: Subscription,
        trace_id: str,
        unfinished: UnfinishedStreams,
        leases: StreamLeases,
    ) -> None:
        self._ws = websocket
        self._context = context
        self._session_id = context.session_id
        self._settings = settings
        self._publisher = publisher
        self._db_pool = db_pool
        self._subscription = subscription
        self._trace_id = trace_id
        self._unfinished = unfinished
        self._leases = leases
        self._stats: GatewayStats = websocket.app.state.stats
        self._send_lock = asyncio.Lock()
        # Chunks cut from the last frame, not yet handed over (at most one frame's worth).
        self._unsent: collections.deque[CutChunk] = collections.deque()
        self._audio: LiveAudioState | None = None
        self._audio_config = context.chunk_audio_config()
        self._pacer: Pacer | None = None
        # Once the stream started: its chunks and end on their way to Kafka.
        self._sender: StreamSender | None = None
        self._finished = False
        self._closed = False
        # Translation target changes applied (to tell a stale read from a newer notice).
        self._retargets = 0

    # ----------------------------------------------------------------- sending

    async def _send(self, message: dict[str, Any]) -> None:
        # One sender at a time: results, pongs and errors come from different tasks.
        async with self._send_lock:
            await self._ws.send_json(message)

    async def _close(self, code: int, reason: str = "") -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            async with self._send_lock:
                await self._ws.close(code=code, reason=reason[:120])

    async def _reject(self, error: LiveProtocolError, *, reason: str | None = None) -> None:
        """Tell the client what went wrong; end the stream (as ``reason``); close."""
        log.info("live stream closed (%d): %s", error.close_code, error.message)
        with contextlib.suppress(Exception):
            await self._send(error.client_message())
        if reason is not None:
            # Nothing accepted is lost: what was read is published before the close.
            await self._finish(reason)
        await self._close(error.close_code, error.message)

    # ----------------------------------------------------------------- the stream

    async def run(self) -> None:
        try:
            start = await self._receive_start()
        except LiveProtocolError as error:
            await self._reject(error)
            return
        except WebSocketDisconnect:
            return
        # Claimed once the stream is known good (a bad start leaves the session free), before
        # anything is published; from here on the stream always publishes its end, or, if this
        # gateway dies, another one does once the claim's lease lapses (adapters.stream_leases).
        # Targets changed through the API (on any gateway) apply to the chunks cut after the
        # change. Watched before the targets are read again here: no change falls between.
        targets: TranslationTargetChanges = self._ws.app.state.translation_targets
        targets.watch(self._session_id, self._retarget)
        async with self._db_pool.connection() as conn:
            holder = await claim_audio_source(
                conn, self._session_id, self._context.source_type, lease_s=self._leases.lease_s
            )
            retargets = self._retargets
            current = await translation_targets_of(conn, self._session_id)
        if current is not None and self._retargets == retargets:  # no newer notice meanwhile
            self._retarget(current)
        if holder is not None:
            await self._reject(
                LiveProtocolError(
                    CLOSE_SESSION_ENDED,
                    "audio_taken",
                    f"the session already takes its audio from {describe_source(holder)}",
                )
            )
            return
        settings = self._settings
        sender = StreamSender(
            self._publisher,
            self._session_id,
            trace_id=self._trace_id,
            max_in_flight=settings.live_max_chunks_in_flight,
            max_wait_s=settings.live_max_kafka_wait_s,
            stats=self._stats,
        )
        self._leases.hold(
            self._session_id, lambda: (sender.acknowledged_chunks, sender.acknowledged_samples)
        )
        self._audio = LiveAudioState(start, chunk_ms=settings.live_chunk_ms)
        self._pacer = Pacer(
            time.monotonic(),
            burst_s=settings.live_burst_s,
            max_ahead_s=settings.live_max_ahead_s,
            max_messages_per_s=settings.live_max_messages_per_s,
            message_burst=MESSAGE_BURST,
        )
        try:
            ready = {"session_id": self._session_id, "chunk_ms": settings.live_chunk_ms}
            await self._send({"type": "ready", **ready})
        except Exception:
            log.info("live stream: the client left before it was ready")
            return
        log.info("live stream started: %d Hz, %d channel(s)", start.sample_rate_hz, start.channels)
        self._stats.live_streams_started += 1
        self._sender = sender
        results = asyncio.create_task(
            forward_results(self._subscription, self._send, until_completed=True),
            name="live-results",
        )
        reader = asyncio.create_task(self._read_audio(), name="live-read")
        try:
            await self._supervise(reader, results)
        finally:
            await cancel_and_wait(reader, results)
            if not self._finished:
                # Cancelled (the gateway shuts down) or failed: still end the stream, in a
                # task of its own that a repeated cancellation of this one cannot stop.
                await asyncio.shield(asyncio.create_task(self._finish("gateway_closed")))
            sender.close()

    async def _supervise(self, reader: asyncio.Task[str], results: asyncio.Task[None]) -> None:
        assert self._sender is not None
        failed = self._sender.failed
        waiting: set[asyncio.Future[Any]] = {reader, results, failed}
        while waiting:
            done, waiting = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if failed in done:
                self._finished = True  # Kafka refuses: the end cannot be published now.
                error = self._publishing_error()
                self._finish_later(error.code)
                await self._reject(error)
                return
            if results in done and not await self._results_ended(results, reader):
                return
            if reader in done:
                await self._reader_ended(reader, results)
                return

    async def _results_ended(self, results: asyncio.Task[None], reader: asyncio.Task[str]) -> bool:
        """Whether to carry on reading after the results task ended."""
        error = results.exception()
        if error is None:
            # session_completed before the client's end (another run finished the session):
            # keep taking the audio, the client decides when to stop.
            return True
        await cancel_and_wait(reader)
        if isinstance(error, SubscriberTooSlowError):
            await self._finish("client_too_slow")
            await self._close(CLOSE_TOO_SLOW, "client too slow reading results; reconnect")
        else:
            # Sending failed: the client is gone.
            await self._finish("client_disconnected")
        return False

    async def _reader_ended(self, reader: asyncio.Task[str], results: asyncio.Task[None]) -> None:
        error = reader.exception()
        if isinstance(error, LiveProtocolError):
            await self._reject(error, reason=error.code)
            return
        if error is not None:
            raise error
        reason = reader.result()
        ended = await self._finish(reason)
        if ended is None:
            if reason == "completed" and self._publishing_failure() is not None:
                await self._reject(self._publishing_error())
            elif reason == "completed":
                await self._close(CLOSE_INTERNAL_ERROR, "could not end the stream")
            return
        if reason != "completed":
            return
        audio = self._audio
        assert audio is not None
        with contextlib.suppress(Exception):
            await self._send(
                {
                    "type": "stream_ended",
                    "session_id": self._session_id,
                    "chunks": audio.chunks,
                    "duration_ms": audio.samples * 1000 // TARGET_SAMPLE_RATE,
                }
            )
        # Results keep coming until the pipeline completes the session; the client may
        # still ping, or leave.
        drain = asyncio.create_task(self._read_after_end(), name="live-drain")
        try:
            done, _ = await asyncio.wait({results, drain}, return_when=asyncio.FIRST_COMPLETED)
            if results in done and results.exception() is None:
                await self._close(CLOSE_NORMAL, "session completed")
            elif results in done and isinstance(results.exception(), SubscriberTooSlowError):
                await self._close(CLOSE_TOO_SLOW, "client too slow reading results; reconnect")
            elif drain in done and isinstance(drain.exception(), LiveProtocolError):
                error = drain.exception()
                assert isinstance(error, LiveProtocolError)
                await self._reject(error)
        finally:
            await cancel_and_wait(drain)

    # ----------------------------------------------------------------- reading

    async def _receive_start(self) -> StartMessage:
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                return await self._await_start()
        except TimeoutError:
            raise LiveProtocolError(
                CLOSE_POLICY, "start_timeout", f"no start message within {START_TIMEOUT_S:g} s"
            ) from None

    async def _await_start(self) -> StartMessage:
        for _ in range(MAX_MESSAGES_BEFORE_START):
            message = await self._ws.receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))
            text = message.get("text")
            if text is None:
                raise LiveProtocolError(
                    CLOSE_UNSUPPORTED_DATA,
                    "expected_start",
                    'the first message must be the text message {"type": "start", ...}',
                )
            control = parse_control(text)
            if isinstance(control, StartMessage):
                return control
            if not isinstance(control, PingMessage):
                raise LiveProtocolError(
                    CLOSE_POLICY, "expected_start", "the first message must be a start message"
                )
            await self._send({"type": "pong"})
        raise LiveProtocolError(CLOSE_POLICY, "expected_start", "too many messages before start")

    async def _read_audio(self) -> str:
        """Read frames until the client's end ("completed") or its departure."""
        audio, pacer = self._audio, self._pacer
        assert audio is not None
        assert pacer is not None
        limit_s = self._settings.max_audio_seconds
        while True:
            hold = pacer.hold(time.monotonic())
            if hold > 0:
                # Not reading is the back-pressure: the socket's buffers fill, TCP stops
                # the client.
                await asyncio.sleep(hold)
                pacer.held(hold)
            message = await self._ws.receive()
            if message["type"] == "websocket.disconnect":
                return "client_disconnected"
            now = time.monotonic()
            pacer.on_message(now)
            data: bytes | None = message.get("bytes")
            if data is not None:
                seconds = audio.frame_seconds(data)  # checks the frame first
                pacer.on_audio(seconds, now)
                if audio.input_seconds + seconds > limit_s:
                    raise LiveProtocolError(
                        CLOSE_POLICY,
                        "audio_too_long",
                        f"a stream may carry at most {limit_s:g} s of audio",
                    )
                self._unsent.extend(audio.push(data, received_at=datetime.now(UTC)))
                await self._hand_over()
                continue
            control = parse_control(message.get("text") or "")
            if isinstance(control, EndMessage):
                return "completed"
            if isinstance(control, PingMessage):
                await self._send({"type": "pong"})
                continue
            if isinstance(control, ClockMessage):
                audio.clock(control.capture_time)
                continue
            raise LiveProtocolError(CLOSE_POLICY, "unexpected_start", "the stream already started")

    async def _read_after_end(self) -> None:
        """After the end: answer pings until the client leaves; audio is refused."""
        pacer = self._pacer
        assert pacer is not None
        while True:
            message = await self._ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            pacer.on_message(time.monotonic())
            if message.get("bytes") is not None:
                raise LiveProtocolError(CLOSE_POLICY, "stream_ended", "the stream has ended")
            if isinstance(parse_control(message.get("text") or ""), PingMessage):
                await self._send({"type": "pong"})

    # ----------------------------------------------------------------- publishing

    async def _hand_over(self) -> None:
        """Send the cut chunks to Kafka, in order, as in-flight room allows."""
        sender = self._sender
        assert sender is not None
        while self._unsent:
            # Waits while too many chunks are unacknowledged (Kafka slow or away): reading
            # stops, TCP pushes back. A chunk leaves ``_unsent`` only once it is sent, so a
            # cancelled wait loses nothing: the end of the stream hands over what is left.
            if not sender.room_left():
                began = time.monotonic()
                await sender.wait_for_room()
                if self._pacer is not None:
                    # The client's frames queued up meanwhile are no flood of its making.
                    self._pacer.stalled(time.monotonic() - began)
            await sender.send_chunk(self._chunk_event(self._unsent[0]))
            self._unsent.popleft()

    def _retarget(self, translate_to: list[str]) -> None:
        self._retargets += 1
        if translate_to == self._context.processing_flags.translate_to:
            return
        flags = dataclasses.replace(self._context.processing_flags, translate_to=translate_to)
        self._context = dataclasses.replace(self._context, processing_flags=flags)
        log.info("live stream: translation targets now %s", translate_to)

    def _chunk_event(self, chunk: CutChunk) -> AudioChunkReceived:
        return pcm_chunk_event(
            self._context,
            chunk.samples.tobytes(),
            seq=chunk.seq,
            sample_offset=chunk.sample_offset,
            capture_time=chunk.capture_time,
            audio_config=self._audio_config,
        )

    def _finish_later(self, reason: str) -> None:
        """Kafka stopped taking the stream: what it still holds (cut, the partial chunk) and
        its end go to the gateway's unfinished streams, published once Kafka is back (see
        ``adapters.unfinished_streams``). The chunks in flight stay with the producer, which
        delivers them if it can."""
        audio = self._audio
        if audio is None:
            return
        rest = [self._chunk_event(chunk) for chunk in [*self._unsent, *audio.finish()]]
        self._unsent.clear()
        end = stream_end_event(
            self._session_id, total_chunks=audio.chunks, total_samples=audio.samples, reason=reason
        )
        self._unfinished.finish_later(self._session_id, rest, end, trace_id=self._trace_id)
        self._stats.stream_ended(reason)

    def _publishing_failure(self) -> BaseException | None:
        return None if self._sender is None else self._sender.failure

    def _publishing_error(self) -> LiveProtocolError:
        """What to tell the client when publishing failed: why, and what Kafka has."""
        error = self._publishing_failure()
        log.error("live stream: publishing failed: %r", error)
        sender = self._sender
        assert sender is not None
        chunks, samples = sender.acknowledged_chunks, sender.acknowledged_samples
        stored = {
            "acknowledged_chunks": chunks,
            "acknowledged_ms": samples * 1000 // TARGET_SAMPLE_RATE,
        }
        told = f"Kafka has the first {chunks} chunks ({stored['acknowledged_ms']} ms)"
        if isinstance(error, TimeoutError):
            wait_s = self._settings.live_max_kafka_wait_s
            return LiveProtocolError(
                CLOSE_TRY_AGAIN_LATER,
                "kafka_unavailable",
                f"Kafka did not acknowledge the audio for {wait_s:g} s; {told}",
                stored,
            )
        return LiveProtocolError(
            CLOSE_INTERNAL_ERROR, "publish_failed", f"could not publish the audio; {told}", stored
        )

    async def _finish(self, reason: str) -> Envelope | None:
        """Publish what is still held, then AudioStreamEnded; project it. Once."""
        if self._finished:
            return None
        self._finished = True
        audio, sender = self._audio, self._sender
        if audio is None or sender is None or sender.failed.done():
            return None
        try:
            # Bounded: the sender fails once Kafka leaves an event unacknowledged for
            # live_max_kafka_wait_s, and every wait here then raises.
            self._unsent.extend(audio.finish())
            await self._hand_over()
            end = stream_end_event(
                self._session_id,
                total_chunks=audio.chunks,
                total_samples=audio.samples,
                reason=reason,
            )
            envelope = await sender.send_end(end)
            async with asyncio.timeout(FINISH_TIMEOUT_S), self._db_pool.connection() as conn:
                await project_event(conn, envelope)
            await self._leases.ended(self._session_id)
        except Exception:
            log.exception("live stream: could not publish its end (%s)", reason)
            return None
        self._stats.stream_ended(reason)
        log.info(
            "live stream ended (%s): %d chunks, %d samples, held back %.1f s, waited %.1f s"
            " for Kafka",
            reason,
            audio.chunks,
            audio.samples,
            self._pacer.held_s if self._pacer else 0.0,
            self._pacer.stalled_s if self._pacer else 0.0,
        )
        return envelope

"""A small async client for the gateway's API; the demo, tests and benchmarks use it.

Live streaming (``WS /ws/sessions/{id}/audio``, see ``services/gateway/LIVE_PROTOCOL.md``)::

    async with GatewayClient(url) as client:
        session = await client.create_session(language="en", translate_to=["es"])
        session_id = session["session_id"]
        async with client.stream_audio(session_id, samples, sample_rate_hz=44100) as stream:
            async for message in stream:  # results while the audio is still being sent
                ...
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK

from livetranslate_common.pcm import float_to_pcm16

#: Audio for :meth:`GatewayClient.stream_audio`: PCM16 bytes, int16 samples or float samples
#: in [-1, 1]; 1-D for mono, (frames, channels) or interleaved 1-D for stereo.
AudioInput = bytes | npt.NDArray[np.int16] | npt.NDArray[np.float32] | npt.NDArray[np.float64]


class GatewayRequestError(Exception):
    def __init__(self, status_code: int, problem: dict[str, Any]) -> None:
        super().__init__(f"{status_code}: {problem.get('detail', problem)}")
        self.status_code = status_code
        self.problem = problem


class LiveStreamError(Exception):
    """The gateway refused or closed a live stream: ``code`` is the WebSocket close code."""

    def __init__(self, code: int, reason: str, error: dict[str, Any] | None = None) -> None:
        super().__init__(f"live stream closed ({code}): {reason or error}")
        self.code = code
        self.reason = reason
        #: The ``{"type": "error", "code", "message"}`` message sent before the close, if any.
        self.error = error


class LiveStream:
    """An open live stream. Iterate it for the gateway's messages (results, ``pong``,
    ``stream_ended``, ``error``...) while the audio is sent in the background; the iteration
    ends when the gateway closes the socket normally (after ``session_completed``) and
    raises :class:`LiveStreamError` when it closes it for any other reason.
    """

    def __init__(
        self, socket: ClientConnection, ready: dict[str, Any], sender: asyncio.Task[int]
    ) -> None:
        self._socket = socket
        self.session_id: str = ready["session_id"]
        self.chunk_ms: int = ready["chunk_ms"]
        self._sender = sender
        self._last_error: dict[str, Any] | None = None

    @property
    def sending(self) -> bool:
        """Whether audio (or the end) is still being sent."""
        return not self._sender.done()

    async def sent(self) -> int:
        """Wait until every frame and the end were sent; the number of frames."""
        return await self._sender

    async def ping(self) -> None:
        await self._socket.send(json.dumps({"type": "ping"}))

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            try:
                raw = await self._socket.recv()
            except ConnectionClosedOK:
                return
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else 1006
                reason = closed.rcvd.reason if closed.rcvd else "connection lost"
                raise LiveStreamError(code, reason, self._last_error) from None
            message: dict[str, Any] = json.loads(raw)
            if message.get("type") == "error" and "code" in message:
                self._last_error = message
            yield message


class GatewayClient:
    def __init__(self, base_url: str, *, api_key: str, timeout: float = 120.0) -> None:
        """``api_key``: the key the gateway issued for the caller's tenant
        (``python -m livetranslate_gateway.keys issue``)."""
        self._base_url = base_url.rstrip("/")
        # On every request and every socket's handshake; never in a URL.
        self._auth = {"Authorization": f"Bearer {api_key}"}
        self._http = httpx.AsyncClient(base_url=self._base_url, timeout=timeout, headers=self._auth)

    async def __aenter__(self) -> GatewayClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def create_session(self, **fields: Any) -> dict[str, Any]:
        """``fields``: the body of ``POST /api/sessions`` (title, language, translate_to,
        diarize, preset, speaker_names={"SPEAKER_00": "Alice"}, ...)."""
        return await self._json(await self._http.post("/api/sessions", json=fields))

    async def name_speakers(
        self, session_id: str, names: Mapping[str, str | None]
    ) -> dict[str, Any]:
        """Name speakers (None removes a name); ``{"session_id", "names"}`` with the session's
        names after the change."""
        response = await self._http.put(
            f"/api/sessions/{session_id}/speakers", json={"names": dict(names)}
        )
        return await self._json(response)

    async def session(self, session_id: str) -> dict[str, Any]:
        return await self._json(await self._http.get(f"/api/sessions/{session_id}"))

    async def sessions(self, *, limit: int = 50, before: str | None = None) -> dict[str, Any]:
        """A page of the tenant's sessions, newest first: ``{"sessions", "next_before"}``."""
        params: dict[str, Any] = {"limit": limit, **({"before": before} if before else {})}
        return await self._json(await self._http.get("/api/sessions", params=params))

    async def end_session(self, session_id: str) -> dict[str, Any]:
        """No audio will come (a session never given any completes empty)."""
        return await self._json(await self._http.post(f"/api/sessions/{session_id}/end"))

    async def delete_session(self, session_id: str) -> None:
        response = await self._http.delete(f"/api/sessions/{session_id}")
        if response.is_error:
            await self._json(response)  # raises with the problem

    async def upload_audio(
        self, session_id: str, audio: bytes, *, content_type: str = "application/octet-stream"
    ) -> dict[str, Any]:
        response = await self._http.post(
            f"/api/sessions/{session_id}/audio",
            content=audio,
            headers={"content-type": content_type},
        )
        return await self._json(response)

    async def transcript(self, session_id: str, *, run: str = "live") -> dict[str, Any]:
        return await self._json(
            await self._http.get(f"/api/sessions/{session_id}/transcript", params={"run": run})
        )

    async def reprocess(self, session_id: str, **fields: Any) -> dict[str, Any]:
        """Ask for a run of the session's recorded audio; ``fields``: the body of ``POST
        .../reprocess`` (model, preset, language, translate_to, diarize, start_ms, end_ms)."""
        response = await self._http.post(f"/api/sessions/{session_id}/reprocess", json=fields)
        return await self._json(response)

    async def run(self, session_id: str, run_id: str) -> dict[str, Any]:
        return await self._json(await self._http.get(f"/api/sessions/{session_id}/runs/{run_id}"))

    async def runs(self, session_id: str) -> list[dict[str, Any]]:
        response = await self._http.get(f"/api/sessions/{session_id}/runs")
        if response.is_error:
            await self._json(response)  # raises GatewayRequestError with the problem
        runs: list[dict[str, Any]] = response.json()
        return runs

    async def wait_until_completed(
        self, session_id: str, *, within_s: float = 60.0, poll_s: float = 0.2
    ) -> dict[str, Any]:
        """Poll the stored transcript until the pipeline has finished the session."""
        async with asyncio.timeout(within_s):
            while True:
                transcript = await self.transcript(session_id)
                if transcript["status"] == "completed":
                    return transcript
                await asyncio.sleep(poll_s)

    @asynccontextmanager
    async def results(
        self, session_id: str, *, run: str = "live"
    ) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        """Open the results socket of one run; iterate the yielded stream for messages."""
        base = "ws" + self._base_url.removeprefix("http")
        url = f"{base}/ws/sessions/{session_id}?run={run}"
        async with websockets.connect(url, max_size=2**22, additional_headers=self._auth) as socket:

            async def messages() -> AsyncIterator[dict[str, Any]]:
                async for raw in socket:
                    message: dict[str, Any] = json.loads(raw)
                    yield message

            yield messages()

    @asynccontextmanager
    async def stream_audio(
        self,
        session_id: str,
        audio: AudioInput,
        *,
        sample_rate_hz: int,
        channels: int = 1,
        frame_ms: int = 40,
        realtime: bool = True,
        capture_time: datetime | None = None,
        clock_every_s: float | None = None,
    ) -> AsyncIterator[LiveStream]:
        """Stream audio over the live socket; iterate the yielded stream for messages.

        Frames of ``frame_ms`` are sent at real-time pace on a monotonic clock (or as fast as
        the gateway reads them with ``realtime=False``: it slows the sender down to real time
        after a burst), then ``end``. Leaving the block early closes the socket, which ends
        the session's stream ("client_disconnected").

        ``clock_every_s``: before the first frame and then every so many seconds of audio, a
        ``clock`` message stamps the next frame with this client's clock (``capture_time``,
        or the wall clock at the first frame, plus the monotonic time since): the moment a
        frame leaves stands for its capture, as a capturing client would stamp it.
        """
        if not 20 <= frame_ms <= 100:
            raise ValueError("frame_ms must be within 20..100")
        if clock_every_s is not None and clock_every_s <= 0:
            raise ValueError("clock_every_s must be positive")
        if channels not in (1, 2):
            raise ValueError("channels must be 1 or 2")
        pcm = pcm16_bytes(audio, channels=channels)
        frame_bytes = sample_rate_hz * frame_ms // 1000 * channels * 2
        start: dict[str, Any] = {
            "type": "start",
            "sample_rate_hz": sample_rate_hz,
            "channels": channels,
            "encoding": "pcm_s16le",
        }
        if capture_time is not None:
            start["capture_time"] = capture_time.isoformat()
        url = "ws" + self._base_url.removeprefix("http") + f"/ws/sessions/{session_id}/audio"
        async with websockets.connect(url, max_size=2**22, additional_headers=self._auth) as socket:
            with contextlib.suppress(ConnectionClosed):
                # A refused stream may be closed already: its close code is read next.
                await socket.send(json.dumps(start))
            ready = await _first_message(socket)
            clock = (
                None
                if clock_every_s is None
                else _ClientClock(every_s=clock_every_s, origin=capture_time)
            )
            sender = asyncio.create_task(
                _send_frames(
                    socket, pcm, frame_bytes, frame_ms / 1000, realtime=realtime, clock=clock
                )
            )
            try:
                yield LiveStream(socket, ready, sender)
            finally:
                if not sender.done():
                    sender.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                    await sender

    @staticmethod
    async def _json(response: httpx.Response) -> dict[str, Any]:
        if response.is_error:
            try:
                problem = response.json()
            except ValueError:
                problem = {"detail": response.text}
            raise GatewayRequestError(response.status_code, problem)
        body: dict[str, Any] = response.json()
        return body


def pcm16_bytes(audio: AudioInput, *, channels: int) -> bytes:
    """Interleaved little-endian PCM16 of the audio (see :data:`AudioInput`)."""
    if isinstance(audio, bytes):
        if len(audio) % (2 * channels):
            raise ValueError(f"PCM16 audio with {channels} channel(s) needs whole sample frames")
        return audio
    if audio.ndim == 2 and audio.shape[1] != channels:
        raise ValueError(f"audio has {audio.shape[1]} channels, not {channels}")
    if audio.ndim not in (1, 2):
        raise ValueError("audio must be 1-D or (frames, channels)")
    flat = audio.reshape(-1)
    if len(flat) % channels:
        raise ValueError(f"audio with {channels} channel(s) needs whole sample frames")
    if flat.dtype == np.int16:
        return flat.astype("<i2").tobytes()
    return float_to_pcm16(flat.astype(np.float32))


async def _first_message(socket: ClientConnection) -> dict[str, Any]:
    """The gateway's answer to ``start``: ``ready``, or a refusal raised as LiveStreamError."""
    error: dict[str, Any] | None = None
    try:
        while True:
            message: dict[str, Any] = json.loads(await socket.recv())
            if message.get("type") == "ready":
                return message
            if message.get("type") == "error":
                error = message
    except ConnectionClosed as closed:
        code = closed.rcvd.code if closed.rcvd else 1006
        raise LiveStreamError(code, closed.rcvd.reason if closed.rcvd else "", error) from None


class _ClientClock:
    """Clock marks for :meth:`GatewayClient.stream_audio`: which frames, stamped when."""

    def __init__(self, *, every_s: float, origin: datetime | None) -> None:
        self.every_s = every_s
        self._origin = origin
        # Monotonic time and clock reading at the first mark; set then.
        self._began: tuple[float, datetime] | None = None
        self._next_mark_s = 0.0

    def mark(self, audio_s: float) -> dict[str, str] | None:
        """The clock message to send before the frame starting at ``audio_s``, if one is due."""
        now = time.monotonic()
        if self._began is None:
            self._began = (now, self._origin or datetime.now(UTC))
        # A little slack: the times marks are due at are sums of floats.
        if audio_s + 1e-9 < self._next_mark_s:
            return None
        while self._next_mark_s <= audio_s + 1e-9:
            self._next_mark_s += self.every_s
        began, origin = self._began
        stamp = origin + timedelta(seconds=now - began)
        return {"type": "clock", "capture_time": stamp.isoformat()}


async def _send_frames(
    socket: ClientConnection,
    pcm: bytes,
    frame_bytes: int,
    frame_s: float,
    *,
    realtime: bool,
    clock: _ClientClock | None = None,
) -> int:
    """Send the frames (at real-time pace on the monotonic clock if asked), then ``end``."""
    began = time.monotonic()
    frames = 0
    for offset in range(0, len(pcm), frame_bytes):
        if realtime:
            # Frame n leaves when the n frames before it would have been played: no drift.
            delay = began + frames * frame_s - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        mark = clock.mark(frames * frame_s) if clock is not None else None
        if mark is not None:
            await socket.send(json.dumps(mark))
        await socket.send(pcm[offset : offset + frame_bytes])
        frames += 1
    await socket.send(json.dumps({"type": "end"}))
    return frames

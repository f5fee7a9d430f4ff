"""The state of one live audio stream, without any I/O: messages, frames, resampling, chunks,
pacing.

The WebSocket route (``api/routes/live_audio.py``) feeds this module what the client sends
and the clock readings; it gets back the chunks to publish, the time to hold the socket
unread, or a :class:`LiveProtocolError` saying how to close. The wire protocol is described
in ``services/gateway/LIVE_PROTOCOL.md``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Literal

import numpy as np
import soxr
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
)

from livetranslate_common.pcm import Pcm16Samples, float_to_pcm16_samples
from livetranslate_gateway.core.upload_decoding import TARGET_SAMPLE_RATE

# WebSocket close codes: RFC 6455's, and ours in 4000-4999 (HTTP status + 4000 in spirit).
CLOSE_NORMAL = 1000
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_UNAUTHORIZED = 4401
CLOSE_SESSION_NOT_FOUND = 4404
CLOSE_TOO_SLOW = 4408
CLOSE_SESSION_ENDED = 4409
CLOSE_TOO_FAST = 4429

MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 48_000
#: The longest audio one binary frame may carry.
MAX_FRAME_SECONDS = 1.0
#: The longest text (control) message: every valid one fits in a fraction of it.
MAX_CONTROL_MESSAGE_CHARS = 1024
BYTES_PER_SAMPLE = 2  # PCM16


class LiveProtocolError(Exception):
    """The stream must close: tell the client ``code``/``message`` (and ``details``, more
    fields of the error message), close with ``close_code``."""

    def __init__(
        self, close_code: int, code: str, message: str, details: Mapping[str, int] | None = None
    ) -> None:
        super().__init__(message)
        self.close_code = close_code
        self.code = code
        self.message = message
        self.details = dict(details or {})

    def client_message(self) -> dict[str, str | int]:
        return {"type": "error", "code": self.code, "message": self.message, **self.details}


# --------------------------------------------------------------------------- messages


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StartMessage(_Message):
    """The first message of a stream: the format of the binary frames that follow."""

    type: Literal["start"]
    sample_rate_hz: int = Field(ge=MIN_SAMPLE_RATE, le=MAX_SAMPLE_RATE)
    channels: Literal[1, 2] = 1
    encoding: Literal["pcm_s16le"] = "pcm_s16le"
    #: Wall-clock time at which the first sample was captured (client's clock).
    capture_time: AwareDatetime | None = None

    @property
    def frame_bytes_limit(self) -> int:
        return int(self.sample_rate_hz * MAX_FRAME_SECONDS) * self.channels * BYTES_PER_SAMPLE

    @property
    def bytes_per_frame(self) -> int:
        """Bytes of one sample frame (one sample of every channel)."""
        return self.channels * BYTES_PER_SAMPLE


class EndMessage(_Message):
    type: Literal["end"]


class PingMessage(_Message):
    type: Literal["ping"]


class ClockMessage(_Message):
    """A clock mark: the first sample of the next binary frame was captured at this time
    (client's clock). Chunks from there on take their capture time from it."""

    type: Literal["clock"]
    # Strict: an ISO 8601 string with a zone, not a number of unknown epoch and unit.
    capture_time: Annotated[AwareDatetime, Strict()]


AnyControl = StartMessage | EndMessage | PingMessage | ClockMessage
ControlMessage = Annotated[AnyControl, Field(discriminator="type")]
_CONTROL: TypeAdapter[AnyControl] = TypeAdapter(ControlMessage)


def parse_control(text: str) -> AnyControl:
    """A client's text message; malformed or invalid ones raise LiveProtocolError."""
    if len(text) > MAX_CONTROL_MESSAGE_CHARS:
        # Refused before parsing: a client must not make the gateway parse megabytes.
        raise LiveProtocolError(
            CLOSE_TOO_BIG,
            "message_too_large",
            f"a text message may be at most {MAX_CONTROL_MESSAGE_CHARS} characters",
        )
    try:
        return _CONTROL.validate_json(text)
    except ValidationError as error:
        # JSON that is not an object with a known type is data we do not speak (1003);
        # a known message with bad fields breaks the protocol's rules (1008).
        kinds = {e["type"] for e in error.errors()}
        if kinds & {
            "json_invalid",
            "dict_type",
            "model_type",
            "union_tag_invalid",
            "union_tag_not_found",
        }:
            raise LiveProtocolError(
                CLOSE_UNSUPPORTED_DATA,
                "unsupported_message",
                'expected a JSON object with "type": "start", "clock", "end" or "ping"',
            ) from None
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'message'}: {e['msg']}"
            for e in error.errors()
        )
        raise LiveProtocolError(CLOSE_POLICY, "invalid_message", details[:500]) from None


def _check_frame_size(size: int, limit: int, bytes_per_frame: int, channels: int) -> None:
    """A binary frame must hold whole sample frames and at most MAX_FRAME_SECONDS of audio."""
    if size > limit:
        raise LiveProtocolError(
            CLOSE_TOO_BIG,
            "frame_too_large",
            f"a frame may hold at most {MAX_FRAME_SECONDS:g} s of audio"
            f" ({limit} bytes); got {size} bytes",
        )
    if size % bytes_per_frame:
        raise LiveProtocolError(
            CLOSE_UNSUPPORTED_DATA,
            "misaligned_frame",
            f"a frame must hold whole {channels}-channel PCM16 samples"
            f" (a multiple of {bytes_per_frame} bytes); got {size} bytes",
        )


# --------------------------------------------------------------------------- resampling


class MonoResampler:
    """Interleaved PCM16 at any rate and 1-2 channels in, 16 kHz mono PCM16 out.

    Streaming: the filter's state carries over from one frame to the next, so the output
    equals resampling the whole stream at once (no clicks or drift at frame boundaries),
    whatever the frames' sizes. 16 kHz mono passes through untouched, without a round trip
    through floats (the common case, and a live gateway's busiest path).
    """

    def __init__(self, sample_rate_hz: int, channels: int) -> None:
        self.sample_rate_hz = sample_rate_hz
        self.channels = channels
        self._stream = (
            None
            if sample_rate_hz == TARGET_SAMPLE_RATE
            else soxr.ResampleStream(sample_rate_hz, TARGET_SAMPLE_RATE, 1, dtype="float32")
        )

    def push(self, pcm: bytes) -> Pcm16Samples:
        if self.channels == 1 and self._stream is None:
            return np.frombuffer(pcm, dtype="<i2")
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        if self.channels > 1:
            samples = samples.reshape(-1, self.channels).mean(axis=1, dtype=np.float32)
        if self._stream is not None:
            samples = self._stream.resample_chunk(samples)
        return float_to_pcm16_samples(samples)

    def flush(self) -> Pcm16Samples:
        """The filter's tail, at the end of the stream."""
        if self._stream is None:
            return np.zeros(0, dtype="<i2")
        tail = self._stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        return float_to_pcm16_samples(tail)


# --------------------------------------------------------------------------- chunking


@dataclass(frozen=True, slots=True)
class CutChunk:
    """A chunk's audio and where it sits in the session's 16 kHz clock."""

    seq: int
    sample_offset: int
    samples: Pcm16Samples
    # None only if nothing was known about the time of its first sample (no mark before it).
    capture_time: datetime | None


@dataclass(frozen=True, slots=True)
class TimeMark:
    """A time known for a point of the 16 kHz clock (a frame's first sample)."""

    # Not always a whole sample: a frame at 44.1 kHz starts between two 16 kHz samples.
    position: float
    time: datetime


class ChunkCutter:
    """Cuts a stream of 16 kHz samples into chunks of ``chunk_samples`` (the last may be short).

    Capture time of a chunk: from the newest client clock mark at or before its first sample
    (``capture_origin`` is one at sample 0), plus the audio in between; without any, the
    server's receive time of the frame that holds its first sample. The caller marks each
    frame (:meth:`frame`) before pushing the samples resampled from it.
    """

    def __init__(self, chunk_samples: int, *, capture_origin: datetime | None = None) -> None:
        if chunk_samples <= 0:
            raise ValueError("chunk_samples must be positive")
        self.chunk_samples = chunk_samples
        self.next_seq = 0
        self.samples_cut = 0
        self._pending: list[Pcm16Samples] = []
        self._pending_count = 0
        # Oldest first; only those that can still date a chunk are kept.
        self._clock_marks: deque[TimeMark] = deque()
        self._frame_marks: deque[TimeMark] = deque()
        if capture_origin is not None:
            self._clock_marks.append(TimeMark(0.0, capture_origin))

    @property
    def pending_samples(self) -> int:
        return self._pending_count

    def frame(
        self, position: float, *, received_at: datetime, capture_time: datetime | None = None
    ) -> None:
        """A frame whose first sample sits at ``position`` (16 kHz clock) was received at
        ``received_at``; ``capture_time``: when the client says that sample was captured."""
        self._frame_marks.append(TimeMark(position, received_at))
        if capture_time is not None:
            self._clock_marks.append(TimeMark(position, capture_time))

    def push(self, samples: Pcm16Samples) -> list[CutChunk]:
        if len(samples):
            self._pending.append(samples)
            self._pending_count += len(samples)
        chunks = []
        while self._pending_count >= self.chunk_samples:
            chunks.append(self._cut(self.chunk_samples))
        return chunks

    def flush(self) -> list[CutChunk]:
        """The partial chunk left over, if any (at the end of the stream)."""
        if not self._pending_count:
            return []
        return [self._cut(self._pending_count)]

    def _cut(self, count: int) -> CutChunk:
        joined = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        head, rest = joined[:count], joined[count:]
        self._pending = [rest] if len(rest) else []
        self._pending_count = len(rest)
        offset = self.samples_cut
        chunk = CutChunk(
            seq=self.next_seq,
            sample_offset=offset,
            samples=head,
            capture_time=self._capture_time(offset),
        )
        self.next_seq += 1
        self.samples_cut += count
        _drop_marks_before(self._clock_marks, self.samples_cut)
        _drop_marks_before(self._frame_marks, self.samples_cut)
        return chunk

    def _capture_time(self, offset: int) -> datetime | None:
        clock = _newest_mark_at(self._clock_marks, offset)
        if clock is not None:
            # The client's clock runs with its audio: the mark plus the samples since.
            return clock.time + timedelta(seconds=(offset - clock.position) / TARGET_SAMPLE_RATE)
        frame = _newest_mark_at(self._frame_marks, offset)
        return frame.time if frame is not None else None


def _newest_mark_at(marks: deque[TimeMark], position: int) -> TimeMark | None:
    """The newest mark at or before ``position``."""
    found = None
    for mark in marks:
        if mark.position > position:
            break
        found = mark
    return found


def _drop_marks_before(marks: deque[TimeMark], position: int) -> None:
    """Forget the marks no chunk from ``position`` on can need: all but the newest at or
    before it."""
    while len(marks) > 1 and marks[1].position <= position:
        marks.popleft()


class LiveAudioState:
    """Frames in, chunks out: validation, resampling and cutting for one stream."""

    def __init__(self, start: StartMessage, *, chunk_ms: int) -> None:
        self.start = start
        self.resampler = MonoResampler(start.sample_rate_hz, start.channels)
        self.cutter = ChunkCutter(
            TARGET_SAMPLE_RATE * chunk_ms // 1000, capture_origin=start.capture_time
        )
        #: Sample frames (per channel) received at the client's rate.
        self.input_samples = 0
        self._rate = start.sample_rate_hz
        self._channels = start.channels
        self._bytes_per_frame = start.bytes_per_frame
        self._frame_limit = start.frame_bytes_limit
        # A clock message's time, for the next frame's first sample.
        self._clock_mark: datetime | None = None

    @property
    def input_seconds(self) -> float:
        return self.input_samples / self._rate

    def frame_seconds(self, data: bytes) -> float:
        """The audio in a binary frame; raises LiveProtocolError for a bad one."""
        self._check(data)
        return len(data) / self._bytes_per_frame / self._rate

    def _check(self, data: bytes) -> None:
        # The start's figures, read once: this runs for every frame of every stream.
        _check_frame_size(len(data), self._frame_limit, self._bytes_per_frame, self._channels)

    def clock(self, capture_time: datetime) -> None:
        """The client's clock mark: the next frame's first sample was captured then."""
        self._clock_mark = capture_time

    def push(self, data: bytes, *, received_at: datetime) -> list[CutChunk]:
        self._check(data)
        # Where the frame starts in the 16 kHz clock, in time rather than in the resampler's
        # output, which lags its input by the filter's delay.
        position = self.input_samples * TARGET_SAMPLE_RATE / self._rate
        self.cutter.frame(position, received_at=received_at, capture_time=self._clock_mark)
        self._clock_mark = None
        self.input_samples += len(data) // self._bytes_per_frame
        return self.cutter.push(self.resampler.push(data))

    def finish(self) -> list[CutChunk]:
        """Everything still held: the resampler's tail and the partial chunk."""
        return self.cutter.push(self.resampler.flush()) + self.cutter.flush()

    @property
    def chunks(self) -> int:
        return self.cutter.next_seq

    @property
    def samples(self) -> int:
        """Samples in the chunks cut so far (the 16 kHz clock)."""
        return self.cutter.samples_cut


# --------------------------------------------------------------------------- pacing


class Pacer:
    """Keeps a client near real time, by arithmetic on the monotonic clock.

    *ahead* is the audio read so far minus the wall time since the stream started. Up to
    ``burst_s`` ahead, the gateway reads as fast as frames come; beyond it, the gateway waits
    (:meth:`hold`) before reading the next frame, until the wall clock has caught up: TCP
    back-pressure then slows the client down without any buffer here. Reading more than
    ``max_ahead_s`` ahead closes the stream (4429). Messages of any kind are also counted in
    a token bucket (``max_messages_per_s`` refill, ``message_burst`` capacity): a client
    flooding tiny frames or pings is closed (4429) before it costs more than it is worth.

    When the gateway itself stops reading (Kafka has not acknowledged the chunks in flight),
    the client keeps sending at its pace and its messages queue up in the socket; read once
    Kafka is back, they arrive at once. :meth:`stalled` credits the bucket with what the
    client may have sent meanwhile, so that backlog does not count as a flood.
    """

    def __init__(
        self,
        started_at: float,
        *,
        burst_s: float,
        max_ahead_s: float,
        max_messages_per_s: float,
        message_burst: int,
    ) -> None:
        if not 0 <= burst_s <= max_ahead_s:
            raise ValueError("need 0 <= burst_s <= max_ahead_s")
        self.started_at = started_at
        self.burst_s = burst_s
        self.max_ahead_s = max_ahead_s
        self.max_messages_per_s = max_messages_per_s
        self.message_burst = message_burst
        self.audio_s = 0.0
        self._tokens = float(message_burst)
        self._tokens_at = started_at
        # Messages excused because the gateway stopped reading (see stalled()).
        self._stall_credit = 0.0
        #: Total time spent holding the client back.
        self.held_s = 0.0
        #: Total time the gateway stopped reading because Kafka had not acknowledged.
        self.stalled_s = 0.0

    def ahead(self, now: float) -> float:
        return self.audio_s - (now - self.started_at)

    def hold(self, now: float) -> float:
        """Seconds to leave the socket unread before taking the next frame."""
        return max(0.0, self.ahead(now) - self.burst_s)

    def held(self, seconds: float) -> None:
        self.held_s += seconds

    def stalled(self, seconds: float) -> None:
        """The gateway left the socket unread for ``seconds`` for reasons of its own."""
        self.stalled_s += seconds
        self._stall_credit += seconds * self.max_messages_per_s

    def on_message(self, now: float) -> None:
        elapsed = max(0.0, now - self._tokens_at)
        self._tokens = min(
            float(self.message_burst), self._tokens + elapsed * self.max_messages_per_s
        )
        self._tokens_at = now
        if self._tokens < 1.0 and self._stall_credit >= 1.0:
            self._stall_credit -= 1.0
            return
        if self._tokens < 1.0:
            raise LiveProtocolError(
                CLOSE_TOO_FAST,
                "too_many_messages",
                "sending faster than real time: more than"
                f" {self.max_messages_per_s:g} messages per second",
            )
        self._tokens -= 1.0

    def on_audio(self, seconds: float, now: float) -> None:
        self.audio_s += seconds
        ahead = self.ahead(now)
        if ahead > self.max_ahead_s:
            raise LiveProtocolError(
                CLOSE_TOO_FAST,
                "too_far_ahead",
                f"sending faster than real time: {ahead:.1f} s ahead of the wall clock"
                f" (at most {self.max_ahead_s:g} s)",
            )

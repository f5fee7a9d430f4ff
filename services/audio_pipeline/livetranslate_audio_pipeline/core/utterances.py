"""Utterance assembly: cutting a session's audio at pauses.

Whisper is accurate on whole utterances and poor on fixed chunks cut mid-word (measured here:
44-53% WER for 2 s chunks). So audio is buffered until the VAD sees a pause long enough to
end an utterance, and each utterance is recognised whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from livetranslate_audio_pipeline.core.audio import PIPELINE_SAMPLE_RATE, Samples
from livetranslate_audio_pipeline.core.vad import SpeechRegion


class VoiceActivityDetector(Protocol):
    min_silence_ms: int
    speech_pad_ms: int

    def speech_regions(self, samples: Samples) -> list[SpeechRegion]: ...


@dataclass(frozen=True, slots=True)
class Utterance:
    # Positions on the session's 16 kHz sample clock.
    start_sample: int
    end_sample: int
    samples: Samples


# Audio with no speech is dropped down to this tail, which keeps the onset of a word that
# straddles two chunks.
_SILENT_TAIL_SAMPLES = PIPELINE_SAMPLE_RATE // 2


class UtteranceSegmenter:
    """Buffers one session's audio and hands back each utterance once a pause closes it."""

    def __init__(self, vad: VoiceActivityDetector, *, start_sample: int = 0) -> None:
        self._vad = vad
        self._buffer: Samples = np.zeros(0, dtype=np.float32)
        self._buffer_start = start_sample
        # Trailing silence needed to call an utterance finished; the VAD's padding is
        # already silence, so it counts towards the pause.
        self._closing_silence = (
            (vad.min_silence_ms - vad.speech_pad_ms) * PIPELINE_SAMPLE_RATE // 1000
        )

    @property
    def buffered_samples(self) -> int:
        return len(self._buffer)

    @property
    def next_sample(self) -> int:
        """The session sample index the next pushed sample will have."""
        return self._buffer_start + len(self._buffer)

    def push(self, samples: Samples) -> list[Utterance]:
        self._buffer = np.concatenate((self._buffer, samples))
        regions = self._vad.speech_regions(self._buffer)
        if not regions:
            self._drop_silence()
            return []
        closed = [
            region
            for index, region in enumerate(regions)
            # A region followed by another one was ended by the VAD itself (a pause or its
            # maximum length); the last one is closed once enough silence has followed it.
            if index < len(regions) - 1 or len(self._buffer) - region.end >= self._closing_silence
        ]
        return self._cut(closed)

    def flush(self) -> list[Utterance]:
        """End of stream: whatever speech is still open becomes the last utterance(s)."""
        utterances = self._cut(self._vad.speech_regions(self._buffer))
        self._buffer_start += len(self._buffer)
        self._buffer = np.zeros(0, dtype=np.float32)
        return utterances

    def _cut(self, regions: list[SpeechRegion]) -> list[Utterance]:
        if not regions:
            return []
        utterances = [
            Utterance(
                start_sample=self._buffer_start + region.start,
                end_sample=self._buffer_start + region.end,
                samples=self._buffer[region.start : region.end].copy(),
            )
            for region in regions
        ]
        consumed = regions[-1].end
        self._buffer = self._buffer[consumed:].copy()
        self._buffer_start += consumed
        return utterances

    def _drop_silence(self) -> None:
        excess = len(self._buffer) - _SILENT_TAIL_SAMPLES
        if excess > 0:
            self._buffer = self._buffer[excess:].copy()
            self._buffer_start += excess

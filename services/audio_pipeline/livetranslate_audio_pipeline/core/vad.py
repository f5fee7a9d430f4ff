"""Voice activity detection: where in a stretch of audio somebody speaks.

Silero VAD as shipped inside faster-whisper: robust to noise (webrtcvad is not) and needs
no extra install. It runs over the open (not yet cut) part of a session's audio only.
"""

from __future__ import annotations

from dataclasses import dataclass

from livetranslate_audio_pipeline.core.audio import PIPELINE_SAMPLE_RATE, Samples


@dataclass(frozen=True, slots=True)
class SpeechRegion:
    start: int  # sample index, inclusive
    end: int  # sample index, exclusive


class SileroVad:
    def __init__(
        self,
        *,
        threshold: float = 0.5,
        min_silence_ms: int = 500,
        min_speech_ms: int = 250,
        speech_pad_ms: int = 200,
        max_speech_s: float = 20.0,
    ) -> None:
        from faster_whisper.vad import VadOptions

        self.min_silence_ms = min_silence_ms
        self.speech_pad_ms = speech_pad_ms
        self._options = VadOptions(
            threshold=threshold,
            min_silence_duration_ms=min_silence_ms,
            min_speech_duration_ms=min_speech_ms,
            speech_pad_ms=speech_pad_ms,
            max_speech_duration_s=max_speech_s,
        )

    def speech_regions(self, samples: Samples) -> list[SpeechRegion]:
        from faster_whisper.vad import get_speech_timestamps

        if len(samples) < PIPELINE_SAMPLE_RATE // 10:
            return []
        stamps = get_speech_timestamps(samples, self._options, sampling_rate=PIPELINE_SAMPLE_RATE)
        return [SpeechRegion(int(s["start"]), int(s["end"])) for s in stamps]

"""The speech-recognition port: what every recognizer backend gives the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from livetranslate_audio_pipeline.core.audio import Samples


@dataclass(frozen=True, slots=True)
class RecognizedWord:
    word: str
    # Relative to the start of the audio handed to the recognizer.
    start_ms: int
    end_ms: int
    probability: float | None = None


@dataclass(frozen=True, slots=True)
class Recognition:
    text: str
    language: str | None
    words: list[RecognizedWord] = field(default_factory=list)
    confidence: float | None = None


class SpeechRecognizer(Protocol):
    """A backend that turns one utterance of 16 kHz mono audio into words."""

    @property
    def model_name(self) -> str: ...

    def recognize(
        self, samples: Samples, *, language: str | None = None, preview: bool = False
    ) -> Recognition:
        """Blocking; the agents call it from a worker thread.

        ``preview``: the result is a partial that the next one replaces, so the backend may
        trade a little accuracy for speed (a preview that holds the CPU delays the final
        result waiting behind it).
        """
        ...

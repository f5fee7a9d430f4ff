"""The speech-recognition port: what every recognizer backend gives the pipeline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from livetranslate_audio_pipeline.core.audio import Samples

# Context handed to a recognizer is at most this long (its end kept): Whisper reads only
# the last 224 tokens of a prompt, and the remote API takes it as a form field.
MAX_CONTEXT_CHARS = 800


def recognition_context(previous_texts: Sequence[str], *, keep: int) -> str | None:
    """The context for an utterance: the last ``keep`` of the texts said before it."""
    context = " ".join(text for text in previous_texts[-keep:] if text) if keep else ""
    return context[-MAX_CONTEXT_CHARS:] or None


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


class RecognitionMode(StrEnum):
    """Who waits for a recognition, so that a backend can weigh speed against accuracy."""

    # A partial result: the next revision replaces it.
    PREVIEW = "preview"
    # The final result of a live utterance: a person is waiting for it.
    LIVE = "live"
    # A final result nobody watches arrive (an upload): accuracy first.
    BATCH = "batch"


class SpeechRecognizer(Protocol):
    """A backend that turns one utterance of 16 kHz mono audio into words."""

    @property
    def model_name(self) -> str: ...

    def recognize(
        self,
        samples: Samples,
        *,
        language: str | None = None,
        mode: RecognitionMode = RecognitionMode.BATCH,
        context: str | None = None,
    ) -> Recognition:
        """Blocking; the agents call it from a worker thread.

        ``mode`` says who waits: a backend may trade a little accuracy for speed where a
        person is waiting (a preview that holds the CPU also delays the final behind it).
        ``context`` is what was said just before this audio (the session's latest finals):
        a backend may condition on it, as Whisper does with a prompt.
        """
        ...

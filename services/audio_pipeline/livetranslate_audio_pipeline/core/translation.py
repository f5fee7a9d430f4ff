"""The translation port: backends behind one interface, and the choice among them.

Two kinds of backend exist:

- a ``TextTranslator`` turns text in one language into text in another (a
  LibreTranslate-compatible HTTP service, or anything else that proves real);
- a ``SpeechTranslator`` turns an utterance's audio straight into English text (Whisper's
  ``translate`` task), skipping the source-language transcript.

``TranslationRouter`` picks one per (source, target) pair, in this order:

1. target and source are the same language: the source text itself, no backend call;
2. target is English, a speech translator is configured, the audio is at hand and the source
   is not known to be English: speech translation;
3. the first text translator that supports the pair, in the configured order;
4. otherwise ``NoTranslationBackendError`` (not retryable: configuration, not luck, decides it).

Every method here is blocking; the agents call them from a worker thread.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from livetranslate_audio_pipeline.core.audio import Samples
from livetranslate_audio_pipeline.core.errors import (
    NoTranslationBackendError,
    PipelineError,
    TranslationError,
)

ENGLISH = "en"
IDENTITY_BACKEND = "identity"


def primary_language(code: str | None) -> str | None:
    """The primary subtag of a BCP-47 code, lower case: ``"de-AT"`` -> ``"de"``.

    Backends and Whisper speak in primary subtags; regional variants do not change the
    choice of backend. ``None``, ``""`` and ``"auto"`` all mean unknown.
    """
    if code is None:
        return None
    primary = code.strip().replace("_", "-").split("-", 1)[0].lower()
    return None if primary in ("", "auto", "und") else primary


class TextTranslator(Protocol):
    """Text in one language to text in another."""

    @property
    def name(self) -> str:
        """Names the backend in TranslationCompleted.backend."""
        ...

    def supports(self, source: str | None, target: str) -> bool:
        """Whether this backend translates ``source`` (None: detect it) into ``target``.

        May do I/O (and cache it); raises TranslationError when it cannot tell right now.
        """
        ...

    def translate(self, text: str, *, source_language: str | None, target_language: str) -> str:
        """Blocking; raises TranslationError (``retryable`` says whether to try again)."""
        ...


class SpeechTranslator(Protocol):
    """Speech in some language to English text."""

    @property
    def name(self) -> str: ...

    def translate_speech(self, samples: Samples, *, source_language: str | None) -> str:
        """16 kHz mono float32 audio of one utterance -> English text. Blocking."""
        ...


RouteKind = Literal["identity", "speech", "text"]


@dataclass(frozen=True, slots=True)
class TranslationPlan:
    """Which backend will translate a (source, target) pair, and how."""

    kind: RouteKind
    backend: str
    source_language: str | None
    target_language: str
    text_translator: TextTranslator | None = None
    speech_translator: SpeechTranslator | None = None


@dataclass(frozen=True, slots=True)
class TranslationResult:
    """What a TranslationCompleted event needs from the translation."""

    text: str
    backend: str
    source_language: str | None
    target_language: str
    latency_ms: int


class TranslationRouter:
    """Chooses a backend for each (source, target) and runs it."""

    def __init__(
        self,
        text_translators: Sequence[TextTranslator] = (),
        speech_translator: SpeechTranslator | None = None,
    ) -> None:
        self._text_translators = list(text_translators)
        self._speech_translator = speech_translator

    @property
    def backends(self) -> list[str]:
        names = [translator.name for translator in self._text_translators]
        if self._speech_translator is not None:
            names.insert(0, self._speech_translator.name)
        return names

    @property
    def has_speech_translator(self) -> bool:
        return self._speech_translator is not None

    def plan(
        self, source_language: str | None, target_language: str, *, have_audio: bool = True
    ) -> TranslationPlan:
        """Pick the backend; raises NoTranslationBackendError when none fits.

        ``have_audio`` is False when only text is at hand (re-translating a stored
        transcript), which rules speech translation out.
        """
        source = primary_language(source_language)
        target = primary_language(target_language)
        if target is None:
            raise NoTranslationBackendError(f"invalid target language {target_language!r}")
        if source == target:
            return TranslationPlan("identity", IDENTITY_BACKEND, source, target)
        if target == ENGLISH and have_audio and self._speech_translator is not None:
            return TranslationPlan(
                "speech",
                self._speech_translator.name,
                source,
                target,
                speech_translator=self._speech_translator,
            )
        for translator in self._text_translators:
            if translator.supports(source, target):
                return TranslationPlan(
                    "text", translator.name, source, target, text_translator=translator
                )
        raise NoTranslationBackendError(
            f"no translation backend for {source or 'auto'} -> {target}"
            f" (configured: {', '.join(self.backends) or 'none'})"
        )

    def translate(
        self,
        text: str,
        *,
        source_language: str | None,
        target_language: str,
        samples: Samples | None = None,
    ) -> TranslationResult:
        """Translate one segment: its text, and its audio when speech translation may use it."""
        plan = self.plan(source_language, target_language, have_audio=samples is not None)
        started = time.perf_counter()
        if plan.kind == "identity":
            translated = text
        elif not text.strip() and plan.kind == "text":
            translated = ""
        else:
            translated = self._run(plan, text, samples)
        return TranslationResult(
            text=translated,
            backend=plan.backend,
            source_language=plan.source_language,
            target_language=plan.target_language,
            latency_ms=round((time.perf_counter() - started) * 1000),
        )

    @staticmethod
    def _run(plan: TranslationPlan, text: str, samples: Samples | None) -> str:
        try:
            if plan.speech_translator is not None and samples is not None:
                return plan.speech_translator.translate_speech(
                    samples, source_language=plan.source_language
                ).strip()
            if plan.text_translator is not None:
                return plan.text_translator.translate(
                    text,
                    source_language=plan.source_language,
                    target_language=plan.target_language,
                ).strip()
        except PipelineError:
            raise
        except Exception as exc:  # a backend's own bug or library error: still a stage failure
            raise TranslationError(f"{plan.backend} failed: {type(exc).__name__}") from exc
        raise AssertionError(f"unroutable plan {plan}")  # pragma: no cover - plan() forbids it

"""The translation router: which backend translates which pair, and what it reports."""

from __future__ import annotations

import numpy as np
import pytest

from livetranslate_audio_pipeline.config import PipelineSettings
from livetranslate_audio_pipeline.core.audio import Samples
from livetranslate_audio_pipeline.core.errors import (
    NoTranslationBackendError,
    PipelineError,
    TranslationError,
)
from livetranslate_audio_pipeline.core.translation import TranslationRouter, primary_language
from livetranslate_audio_pipeline.recognizers import build_translation_router


class FakeText:
    def __init__(self, name: str, pairs: set[tuple[str | None, str]]) -> None:
        self._name = name
        self.pairs = pairs
        self.calls: list[tuple[str, str | None, str]] = []

    @property
    def name(self) -> str:
        return self._name

    def supports(self, source: str | None, target: str) -> bool:
        return (source, target) in self.pairs

    def translate(self, text: str, *, source_language: str | None, target_language: str) -> str:
        self.calls.append((text, source_language, target_language))
        return f"[{self._name}:{target_language}] {text}"


class FakeSpeech:
    def __init__(self) -> None:
        self.calls: list[tuple[int, str | None]] = []

    @property
    def name(self) -> str:
        return "fake-whisper"

    def translate_speech(self, samples: Samples, *, source_language: str | None) -> str:
        self.calls.append((len(samples), source_language))
        return " spoken english "


AUDIO = np.zeros(16_000, dtype=np.float32)


def test_primary_language() -> None:
    assert primary_language("de-AT") == "de"
    assert primary_language("PT_br") == "pt"
    assert primary_language("en") == "en"
    assert primary_language(None) is None
    assert primary_language("auto") is None
    assert primary_language("") is None


def test_same_language_is_the_source_text_without_a_call() -> None:
    libre = FakeText("libre", {("en", "en")})
    speech = FakeSpeech()
    router = TranslationRouter([libre], speech)
    result = router.translate(
        "Hello there.", source_language="en-US", target_language="en", samples=AUDIO
    )
    assert result.text == "Hello there."
    assert result.backend == "identity"
    assert (result.source_language, result.target_language) == ("en", "en")
    assert libre.calls == []
    assert speech.calls == []


def test_speech_translation_into_english_when_configured() -> None:
    libre = FakeText("libre", {("de", "en")})
    speech = FakeSpeech()
    router = TranslationRouter([libre], speech)
    result = router.translate(
        "Guten Tag", source_language="de", target_language="en", samples=AUDIO
    )
    assert result.text == "spoken english"
    assert result.backend == "fake-whisper"
    assert speech.calls == [(16_000, "de")]
    assert libre.calls == []
    assert result.latency_ms >= 0


def test_unknown_source_into_english_goes_to_speech() -> None:
    router = TranslationRouter([], FakeSpeech())
    plan = router.plan(None, "en")
    assert plan.kind == "speech"


def test_without_audio_text_translation_takes_over() -> None:
    libre = FakeText("libre", {("de", "en")})
    router = TranslationRouter([libre], FakeSpeech())
    result = router.translate("Guten Tag", source_language="de", target_language="en")
    assert result.backend == "libre"
    assert libre.calls == [("Guten Tag", "de", "en")]


def test_first_text_translator_supporting_the_pair_wins() -> None:
    first = FakeText("first", {("en", "fr")})
    second = FakeText("second", {("en", "de"), ("en", "fr")})
    router = TranslationRouter([first, second], FakeSpeech())
    assert router.plan("en", "de").backend == "second"
    assert router.plan("en", "fr").backend == "first"
    result = router.translate("Hi", source_language="en", target_language="de-DE", samples=AUDIO)
    assert result.text == "[second:de] Hi"
    assert result.target_language == "de"


def test_no_backend_for_the_pair() -> None:
    router = TranslationRouter([FakeText("libre", {("en", "fr")})])
    with pytest.raises(NoTranslationBackendError, match="en -> ja") as caught:
        router.translate("Hi", source_language="en", target_language="ja")
    error = caught.value
    assert error.retryable is False
    assert (error.stage, error.error_code) == ("translation", "no_backend")
    # Speech translation only goes into English.
    with pytest.raises(NoTranslationBackendError):
        TranslationRouter([], FakeSpeech()).plan("de", "fr")
    with pytest.raises(NoTranslationBackendError, match="invalid target"):
        router.plan("en", "")


def test_backend_failures_become_translation_errors() -> None:
    class Broken(FakeText):
        def translate(self, text: str, *, source_language: str | None, target_language: str) -> str:
            raise ValueError("library bug")

    router = TranslationRouter([Broken("broken", {("en", "de")})])
    with pytest.raises(TranslationError, match="broken failed: ValueError") as caught:
        router.translate("Hi", source_language="en", target_language="de")
    assert caught.value.retryable is True
    assert isinstance(caught.value, PipelineError)


def test_translation_error_retryable_per_instance() -> None:
    assert TranslationError("x").retryable is True
    assert TranslationError("x", retryable=False).retryable is False
    assert TranslationError.retryable is True
    assert TranslationError("x").stage == "translation"
    assert TranslationError("x").error_code == "translation_failed"


def test_router_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TRANSLATION_SERVICE_URL", "PIPELINE_SPEECH_TRANSLATION"):
        monkeypatch.delenv(name, raising=False)
    assert build_translation_router(PipelineSettings()).backends == []
    monkeypatch.setenv("TRANSLATION_SERVICE_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("TRANSLATION_SERVICE_API_KEY", "s3cret")
    settings = PipelineSettings()
    assert "s3cret" not in repr(settings)
    router = build_translation_router(settings, speech_translator=FakeSpeech())
    assert router.backends == ["fake-whisper", "libretranslate"]

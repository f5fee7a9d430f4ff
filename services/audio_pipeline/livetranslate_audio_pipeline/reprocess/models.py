"""The speech models a reprocessing run may ask for, by name, loaded once and kept.

- ``tiny.en``: the embedded Whisper tiny.en (English only), as the live pipeline runs it;
- ``base``: the multilingual Whisper base, assembled from its two packages on first use;
- the operator's own CTranslate2 folder (``WHISPER_MODEL_DIR``) under ``WHISPER_MODEL_NAME``;
- ``remote``: the OpenAI-compatible service at ``AUDIO_SERVICE_URL``, when one is set.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from livetranslate_audio_pipeline.adapters.whisper_local import LocalWhisperRecognizer
from livetranslate_audio_pipeline.config import PipelineSettings
from livetranslate_audio_pipeline.core.errors import ModelUnavailableError
from livetranslate_audio_pipeline.core.recognition import SpeechRecognizer
from livetranslate_audio_pipeline.core.reprocessing import ReprocessError
from livetranslate_audio_pipeline.recognizers import whisper_decoding

TINY_EN = "tiny.en"
BASE = "base"
REMOTE = "remote"
MODEL_NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"


class SpeechModels:
    """Recognizers by model name; the ``keep`` most recently used stay loaded."""

    def __init__(self, settings: PipelineSettings, *, keep: int = 2) -> None:
        self._settings = settings
        self._keep = keep
        self._loaded: OrderedDict[str, SpeechRecognizer] = OrderedDict()
        # Loading runs in a worker thread; two runs asking at once load once.
        self._lock = threading.Lock()
        self._builders: dict[str, Callable[[], SpeechRecognizer]] = {
            TINY_EN: self._tiny_en,
            BASE: self._base,
        }
        if settings.whisper_model_dir is not None:
            self._builders[settings.whisper_model_name] = self._configured
        if settings.audio_service_url:
            self._builders[REMOTE] = self._remote

    @property
    def names(self) -> list[str]:
        return sorted(self._builders)

    def english_only(self, name: str) -> bool:
        return name.endswith(".en")

    def get(self, name: str) -> SpeechRecognizer:
        """The loaded model; ReprocessError for a name not offered here."""
        builder = self._builders.get(name)
        if builder is None:
            raise ReprocessError(f"no speech model {name!r} here; models: {', '.join(self.names)}")
        with self._lock:
            recognizer = self._loaded.get(name)
            if recognizer is None:
                try:
                    recognizer = builder()
                except ModelUnavailableError as error:
                    raise ReprocessError(
                        f"speech model {name!r} cannot be loaded: {error}"
                    ) from error
                self._loaded[name] = recognizer
                while len(self._loaded) > self._keep:
                    self._loaded.popitem(last=False)
            self._loaded.move_to_end(name)
            return recognizer

    def _tiny_en(self) -> SpeechRecognizer:
        return LocalWhisperRecognizer.embedded_tiny_en(
            decoding=whisper_decoding(self._settings), cpu_threads=self._settings.asr_threads
        )

    def _base(self) -> SpeechRecognizer:
        from livetranslate_audio_pipeline.adapters.whisper_translate import (
            WhisperSpeechTranslator,
        )

        return WhisperSpeechTranslator(
            cache_dir=self._settings.whisper_cache_dir,
            beam_size=self._settings.beam_size,
            cpu_threads=self._settings.asr_threads,
        )

    def _configured(self) -> SpeechRecognizer:
        settings = self._settings
        assert settings.whisper_model_dir is not None  # only registered when set
        return LocalWhisperRecognizer(
            settings.whisper_model_dir,
            expected_sha256=settings.whisper_model_sha256,
            model_name=settings.whisper_model_name,
            decoding=whisper_decoding(settings),
            cpu_threads=settings.asr_threads,
        )

    def _remote(self) -> SpeechRecognizer:
        from livetranslate_audio_pipeline.recognizers import build_recognizer

        return build_recognizer(self._settings)

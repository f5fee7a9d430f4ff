"""Choosing the speech-recognition and translation backends from settings."""

from __future__ import annotations

from livetranslate_audio_pipeline.adapters.whisper_local import (
    LocalWhisperRecognizer,
    WhisperDecoding,
)
from livetranslate_audio_pipeline.config import PipelineSettings
from livetranslate_audio_pipeline.core.endpointing import EndpointerConfig
from livetranslate_audio_pipeline.core.recognition import SpeechRecognizer
from livetranslate_audio_pipeline.core.translation import (
    SpeechTranslator,
    TextTranslator,
    TranslationRouter,
)


def build_recognizer(settings: PipelineSettings) -> SpeechRecognizer:
    """The remote Whisper service when AUDIO_SERVICE_URL is set, else the local Whisper."""
    if settings.audio_service_url:
        from livetranslate_audio_pipeline.adapters.remote_whisper import RemoteWhisperRecognizer

        api_key = settings.audio_service_api_key
        return RemoteWhisperRecognizer(
            settings.audio_service_url,
            settings.audio_service_model,
            api_key=api_key.get_secret_value() if api_key is not None else None,
            timeout=settings.audio_service_timeout_s,
        )
    return build_local_recognizer(settings)


def build_local_recognizer(settings: PipelineSettings) -> SpeechRecognizer:
    """WHISPER_MODEL_DIR when set, else the embedded tiny.en (never the remote service)."""
    if settings.whisper_model_dir is not None:
        return LocalWhisperRecognizer(
            settings.whisper_model_dir,
            expected_sha256=settings.whisper_model_sha256,
            model_name=settings.whisper_model_name,
            decoding=whisper_decoding(settings),
            cpu_threads=settings.asr_threads,
        )
    return LocalWhisperRecognizer.embedded_tiny_en(
        decoding=whisper_decoding(settings), cpu_threads=settings.asr_threads
    )


def endpointer_config(settings: PipelineSettings) -> EndpointerConfig:
    """Where utterances begin and end: the speech detector's settings."""
    return EndpointerConfig(
        threshold=settings.vad_threshold,
        neg_threshold=settings.vad_neg_threshold,
        speech_pad_ms=settings.vad_speech_pad_ms,
        end_pad_ms=settings.vad_end_pad_ms,
        min_silence_ms=settings.vad_min_silence_ms,
        max_utterance_s=settings.max_utterance_s,
    )


def whisper_decoding(settings: PipelineSettings) -> WhisperDecoding:
    return WhisperDecoding(
        beam_size=settings.beam_size,
        live_beam_size=settings.live_beam_size,
        preview_beam_size=settings.preview_beam_size,
        temperature_fallback=settings.temperature_fallback,
        encoder_window_s=settings.whisper_window_s,
    )


def build_translation_router(
    settings: PipelineSettings, *, speech_translator: SpeechTranslator | None = None
) -> TranslationRouter:
    """The configured translation backends, in the router's order of preference.

    PIPELINE_SPEECH_TRANSLATION=true loads Whisper base (assembled on first use, about
    150 MB of RAM) for speech into English; TRANSLATION_SERVICE_URL adds LibreTranslate
    for every pair it lists. ``speech_translator`` lets a caller share a model it has.
    """
    text_translators: list[TextTranslator] = []
    if settings.translation_service_url:
        from livetranslate_audio_pipeline.adapters.libretranslate import LibreTranslateClient

        api_key = settings.translation_service_api_key
        text_translators.append(
            LibreTranslateClient(
                settings.translation_service_url,
                api_key=api_key.get_secret_value() if api_key is not None else None,
                timeout=settings.translation_timeout_s,
            )
        )
    if speech_translator is None and settings.speech_translation:
        from livetranslate_audio_pipeline.adapters.whisper_translate import (
            WhisperSpeechTranslator,
        )

        speech_translator = WhisperSpeechTranslator(
            cache_dir=settings.whisper_cache_dir,
            beam_size=settings.beam_size,
            cpu_threads=settings.asr_threads,
        )
    return TranslationRouter(text_translators, speech_translator)

"""Choosing the speech-recognition backend from settings."""

from __future__ import annotations

from livetranslate_audio_pipeline.adapters.whisper_local import LocalWhisperRecognizer
from livetranslate_audio_pipeline.config import PipelineSettings
from livetranslate_audio_pipeline.core.recognition import SpeechRecognizer


def build_recognizer(settings: PipelineSettings) -> SpeechRecognizer:
    if settings.whisper_model_dir is not None:
        return LocalWhisperRecognizer(
            settings.whisper_model_dir,
            expected_sha256=settings.whisper_model_sha256,
            model_name=settings.whisper_model_name,
            beam_size=settings.beam_size,
            cpu_threads=settings.asr_threads,
        )
    return LocalWhisperRecognizer.embedded_tiny_en(
        beam_size=settings.beam_size, cpu_threads=settings.asr_threads
    )

"""Faust agents: thin loops that decode, call the core, and publish."""

from livetranslate_audio_pipeline.agents import health, metrics_page, transcribe

__all__ = ["health", "metrics_page", "transcribe"]

"""Faust agents: thin loops that decode, call the core, and publish."""

from livetranslate_audio_pipeline.agents import health, transcribe

__all__ = ["health", "transcribe"]

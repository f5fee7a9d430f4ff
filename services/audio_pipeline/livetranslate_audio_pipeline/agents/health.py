"""``GET /health`` (200 once the worker can process audio, else 503) and ``GET /metrics``."""

from __future__ import annotations

from livetranslate_audio_pipeline.agents.transcribe import recognizer_loaded
from livetranslate_audio_pipeline.app import app
from livetranslate_common.faust_support import serve_health_and_metrics

serve_health_and_metrics(app, lambda: {"model_loaded": recognizer_loaded()})

"""``GET /health`` on the worker's web port: 200 once it can process audio, else 503."""

from __future__ import annotations

from typing import Any

from livetranslate_audio_pipeline.agents.transcribe import recognizer_loaded
from livetranslate_audio_pipeline.app import app


@app.page("/health")
async def health(web: Any, request: Any) -> Any:
    assigned = len(app.consumer.assignment()) if app.consumer else 0
    ready = recognizer_loaded() and assigned > 0
    body = {
        "status": "ok" if ready else "starting",
        "model_loaded": recognizer_loaded(),
        "assigned_partitions": assigned,
    }
    return web.json(body, status=200 if ready else 503)

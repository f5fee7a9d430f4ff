"""Examples of the API's bodies, for the OpenAPI document (``model_config`` of each model).

One session, followed through: created, given audio, transcribed, its speakers named, run
again with another model. Kept apart from the models so the routes stay readable.
"""

from __future__ import annotations

from typing import Any

SESSION_ID = "0b6c3f9e-52a2-4d8e-9d40-1f2a3b4c5d6e"
RUN_ID = "rp-4f1c2a9b7d3e"
SEGMENT_ID = f"{SESSION_ID}:000000001240"
CREATED_AT = "2026-12-05T09:30:00.123000Z"

SESSION_CREATE: dict[str, Any] = {
    "title": "Weekly planning",
    "language": "en",
    "translate_to": ["es", "de"],
    "diarize": True,
    "speaker_names": {"SPEAKER_00": "Alice"},
    "metadata": {"team": "platform"},
}

SESSION_VIEW: dict[str, Any] = {
    "session_id": SESSION_ID,
    "title": "Weekly planning",
    "source_type": "UPLOAD",
    "created_at": CREATED_AT,
    "status": "completed",
    "final_segment_count": 12,
}

SESSION_PAGE: dict[str, Any] = {"sessions": [SESSION_VIEW], "next_before": SESSION_ID}

UPLOAD_ACCEPTED: dict[str, Any] = {"session_id": SESSION_ID, "chunks": 30, "duration_ms": 29_216}

SEGMENT: dict[str, Any] = {
    "segment_id": SEGMENT_ID,
    "start_ms": 1240,
    "end_ms": 3980,
    "text": "Shall we start with the budget review?",
    "speaker": "SPEAKER_00",
    "speaker_name": "Alice",
    "language": "en",
    "revision": 2,
    "words": [{"word": "Shall", "start_ms": 1240, "end_ms": 1420, "probability": 0.97}],
    "translations": {"es": "¿Empezamos con la revisión del presupuesto?"},
}

TRANSCRIPT: dict[str, Any] = {
    "session_id": SESSION_ID,
    "run_id": "live",
    "status": "completed",
    "segments": [SEGMENT],
    "speaker_names": {"SPEAKER_00": "Alice"},
}

SPEAKER_NAMES: dict[str, Any] = {
    "session_id": SESSION_ID,
    "names": {"SPEAKER_00": "Alice", "SPEAKER_01": "Bob"},
}

REPROCESS_CREATE: dict[str, Any] = {"model": "base", "translate_to": ["de"], "start_ms": 0}

RUN_VIEW: dict[str, Any] = {
    "session_id": SESSION_ID,
    "run_id": RUN_ID,
    "status": "RUNNING",
    "model": "base",
    "pipeline_version": "0.1.0",
    "processed_ms": 12_000,
    "total_ms": 29_216,
    "progress": 0.41,
    "final_segment_count": 5,
    "start_ms": None,
    "end_ms": None,
    "error": None,
    "requested_at": "2026-12-05T10:00:00Z",
    "updated_at": "2026-12-05T10:00:04Z",
    "transcript": f"/api/sessions/{SESSION_ID}/transcript?run={RUN_ID}",
}

_FIGURES: dict[str, Any] = {
    "final_segments": 12,
    "words": 180,
    "talk_time_ms": 61_000,
    "words_per_minute": 177.0,
    "speakers": [
        {
            "speaker": "SPEAKER_00",
            "talk_time_ms": 40_000,
            "talk_share": 0.66,
            "words": 120,
            "words_per_minute": 180.0,
            "final_segments": 8,
        }
    ],
    "latency_ms": {"finals_measured": 12, "p50": 540, "p95": 650, "p99": 700},
}

SESSION_ANALYTICS: dict[str, Any] = {
    "session_id": SESSION_ID,
    **_FIGURES,
    "window_s": 60,
    "windows": [{"start": CREATED_AT, "end": "2026-12-05T09:31:00.123000Z", **_FIGURES}],
}

HOURLY_ANALYTICS: dict[str, Any] = {
    "from": "2026-12-04T10:00:00Z",
    "to": "2026-12-05T10:00:00Z",
    "window_s": 3600,
    "windows": [
        {"start": "2026-12-05T09:00:00Z", "end": "2026-12-05T10:00:00Z", "sessions": 3, **_FIGURES}
    ],
    "total": _FIGURES,
}

READINESS: dict[str, Any] = {"status": "ok", "checks": {"database": "ok", "kafka": "ok"}}

SRT = "1\n00:00:01,240 --> 00:00:03,980\nAlice: Shall we start with the budget review?\n"
WEBVTT = (
    "WEBVTT\n\n00:00:01.240 --> 00:00:03.980\n<v Alice>Shall we start with the budget review?\n"
)

SPEAKER_NAMES_CHANGE: dict[str, Any] = {"names": {"SPEAKER_00": "Alice", "SPEAKER_01": None}}
HEALTH: dict[str, Any] = {"status": "ok"}


def examples(*values: dict[str, Any]) -> dict[str, Any]:
    """A model's ``json_schema_extra``."""
    return {"examples": list(values)}

"""What WebSocket clients receive: one JSON object per result event."""

from __future__ import annotations

from typing import Any

from livetranslate_schemas.events import (
    Envelope,
    ProcessingFailed,
    SessionProcessingCompleted,
    TranscriptionCompleted,
    TranslationCompleted,
)


def client_message(envelope: Envelope) -> dict[str, Any] | None:
    """The client's view of a result; None for events clients do not see."""
    message = _payload_message(envelope)
    if message is not None:
        # When the pipeline published it: lets a client measure its own delivery latency.
        message["emitted_at"] = envelope.timestamp.isoformat()
    return message


def _payload_message(envelope: Envelope) -> dict[str, Any] | None:
    payload = envelope.payload
    match payload:
        case TranscriptionCompleted():
            return {
                "type": "segment",
                "session_id": payload.session_id,
                "segment_id": payload.segment_id,
                "revision": payload.revision,
                "is_final": payload.is_final,
                "run_id": payload.run_id,
                "text": payload.text,
                "language": payload.language,
                "start_ms": payload.start_ms,
                "end_ms": payload.end_ms,
                "speaker": payload.speaker,
                "words": [
                    {"word": w.word, "start_ms": w.start_ms, "end_ms": w.end_ms}
                    for w in payload.words
                ],
                "latency_ms": payload.latency.end_of_speech_to_result_ms,
            }
        case TranslationCompleted():
            return {
                "type": "translation",
                "session_id": payload.session_id,
                "segment_id": payload.segment_id,
                "revision": payload.revision,
                "target_language": payload.target_language,
                "text": payload.text,
            }
        case SessionProcessingCompleted():
            return {
                "type": "session_completed",
                "session_id": payload.session_id,
                "run_id": payload.run_id,
                "final_segment_count": payload.final_segment_count,
                "audio_duration_ms": payload.audio_duration_ms,
            }
        case ProcessingFailed():
            return {
                "type": "error",
                "session_id": payload.session_id,
                "stage": payload.stage,
                "error_code": payload.error_code,
                "message": payload.message,
                "retryable": payload.retryable,
            }
        case _:
            return None

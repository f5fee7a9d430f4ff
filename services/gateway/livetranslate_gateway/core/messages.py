"""What WebSocket clients receive: one JSON object per result event."""

from __future__ import annotations

from typing import Any

from livetranslate_schemas.events import (
    Envelope,
    ProcessingFailed,
    RunProgress,
    SessionProcessingCompleted,
    SpeakerNamesUpdated,
    StreamIrregularity,
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


def _speaker_name(segment: TranscriptionCompleted) -> str | None:
    return segment.speaker_map.get(segment.speaker) if segment.speaker else None


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
                "speaker_name": _speaker_name(payload),
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
                "run_id": payload.run_id,
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
        case SpeakerNamesUpdated() if payload.names is not None:
            # The pipeline's echo: the complete mapping, in order with the segments (the
            # request on audio-ingest never reaches this socket).
            return {
                "type": "speaker_names",
                "session_id": payload.session_id,
                "names": payload.names,
            }
        case RunProgress():
            return {
                "type": "run_progress",
                "session_id": payload.session_id,
                "run_id": payload.run_id,
                "status": payload.status.value,
                "model": payload.model,
                "processed_ms": payload.processed_ms,
                "total_ms": payload.total_ms,
                "final_segment_count": payload.final_segment_count,
                "error": payload.error,
            }
        case ProcessingFailed():
            return {
                "type": "error",
                "session_id": payload.session_id,
                "run_id": payload.run_id,
                "stage": payload.stage,
                "error_code": payload.error_code,
                "message": payload.message,
                "retryable": payload.retryable,
            }
        case StreamIrregularity():
            # Diagnostics of the audio the pipeline got: chunks lost, repeated or late, and a
            # client clock drifting; the transcript carries on regardless.
            return {
                "type": "stream_irregularity",
                "session_id": payload.session_id,
                "kind": payload.kind.value.lower(),
                "seq": payload.seq,
                "expected_seq": payload.expected_seq,
                "missing_chunks": payload.missing_chunks,
                "missing_samples": payload.missing_samples,
                "clock_offset_ms": payload.clock_offset_ms,
                "clock_drift_ppm": payload.clock_drift_ppm,
                "run_id": payload.run_id,
                "detail": payload.detail,
            }
        case _:
            return None

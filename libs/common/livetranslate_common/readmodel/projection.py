"""Writing events into the read model, idempotently.

Every write is an upsert keyed by the event's idempotency key, so replaying a topic (or a
worker re-delivering after a crash) leaves the same rows. A segment row only ever moves
forward: an older revision arriving late never overwrites a newer one.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import psycopg

from livetranslate_schemas.events import (
    AudioStreamEnded,
    Envelope,
    ProcessingFailed,
    SessionCreated,
    SessionProcessingCompleted,
    TranscriptionCompleted,
)

AnyConnection = psycopg.AsyncConnection[object]

_UPSERT_SESSION = """
INSERT INTO sessions (session_id, user_id, source_type, title, audio_config,
                      processing_flags, metadata, created_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (session_id) DO NOTHING
"""

_STREAM_ENDED = """
UPDATE sessions SET stream_ended_at = %s, last_seq = %s, total_samples = %s
WHERE session_id = %s
"""

_SESSION_COMPLETED = """
UPDATE sessions SET completed_at = %s, final_segment_count = %s
WHERE session_id = %s
"""

_UPSERT_SEGMENT = """
INSERT INTO segments (session_id, run_id, segment_id, revision, is_final, text, language,
                      start_ms, end_ms, speaker, confidence, words, model, pipeline_version,
                      event_id, produced_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (session_id, run_id, segment_id) DO UPDATE SET
    revision = EXCLUDED.revision, is_final = EXCLUDED.is_final, text = EXCLUDED.text,
    language = EXCLUDED.language, start_ms = EXCLUDED.start_ms, end_ms = EXCLUDED.end_ms,
    speaker = EXCLUDED.speaker, confidence = EXCLUDED.confidence, words = EXCLUDED.words,
    model = EXCLUDED.model, pipeline_version = EXCLUDED.pipeline_version,
    event_id = EXCLUDED.event_id, produced_at = EXCLUDED.produced_at
WHERE segments.revision < EXCLUDED.revision
   OR (segments.revision = EXCLUDED.revision AND NOT segments.is_final AND EXCLUDED.is_final)
"""

_INSERT_FAILURE = """
INSERT INTO processing_failures (event_id, session_id, stage, error_code, message,
                                 retryable, occurred_at)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (event_id) DO NOTHING
"""


async def project_event(conn: AnyConnection, envelope: Envelope) -> bool:
    """Apply one event to the read model; False if the event type is not projected."""
    payload = envelope.payload
    match payload:
        case SessionCreated():
            await conn.execute(
                _UPSERT_SESSION,
                (
                    payload.session_id,
                    payload.user_id,
                    payload.source_type.value,
                    payload.title,
                    json.dumps(payload.audio_config.to_avro()),
                    json.dumps(payload.processing_flags.to_avro()),
                    json.dumps(payload.metadata),
                    envelope.timestamp,
                ),
            )
        case AudioStreamEnded():
            await conn.execute(
                _STREAM_ENDED,
                (envelope.timestamp, payload.last_seq, payload.total_samples, payload.session_id),
            )
        case TranscriptionCompleted():
            await conn.execute(_UPSERT_SEGMENT, _segment_row(envelope, payload))
        case SessionProcessingCompleted():
            await conn.execute(
                _SESSION_COMPLETED,
                (envelope.timestamp, payload.final_segment_count, payload.session_id),
            )
        case ProcessingFailed():
            await conn.execute(
                _INSERT_FAILURE,
                (
                    envelope.event_id,
                    payload.session_id,
                    payload.stage,
                    payload.error_code,
                    payload.message,
                    payload.retryable,
                    envelope.timestamp,
                ),
            )
        case _:
            return False
    return True


def _segment_row(envelope: Envelope, payload: TranscriptionCompleted) -> tuple[object, ...]:
    return (
        payload.session_id,
        payload.run_id,
        payload.segment_id,
        payload.revision,
        payload.is_final,
        payload.text,
        payload.language,
        payload.start_ms,
        payload.end_ms,
        payload.speaker,
        payload.confidence,
        json.dumps([asdict(word) for word in payload.words]),
        payload.model,
        payload.pipeline_version,
        envelope.event_id,
        envelope.timestamp,
    )

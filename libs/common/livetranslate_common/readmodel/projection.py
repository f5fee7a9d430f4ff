"""Writing events into the read model, idempotently.

Every write is an upsert keyed by the event's idempotency key, so replaying a topic (or a
worker re-delivering after a crash) leaves the same rows. A segment row only ever moves
forward: an older revision arriving late never overwrites a newer one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import psycopg

from livetranslate_common.runs import LIVE_RUN
from livetranslate_schemas.events import (
    AudioStreamEnded,
    Envelope,
    ProcessingFailed,
    ReprocessRequested,
    RunProgress,
    SessionCreated,
    SessionDeleted,
    SessionProcessingCompleted,
    SpeakerNamesUpdated,
    TranscriptionCompleted,
    TranslationCompleted,
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

# The session's own completion is its live run's; a reprocessing run completes in runs.
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

# The pipeline's echo carries the complete mapping, and audio-results keeps a session's
# echoes in order: the newest one projected is the truth, so it simply replaces.
_REPLACE_SPEAKER_NAMES = """
INSERT INTO session_speaker_names (session_id, names, updated_at)
VALUES (%s, %s, %s)
ON CONFLICT (session_id) DO UPDATE SET names = EXCLUDED.names, updated_at = EXCLUDED.updated_at
"""

# A request's changes on top of the current names (at first those the session was created
# with); ``jsonb - text[]`` drops the labels whose names are removed.
_MERGE_SPEAKER_NAMES = """
INSERT INTO session_speaker_names (session_id, names, updated_at)
SELECT session_id,
       (COALESCE(processing_flags -> 'speaker_names', '{}'::jsonb) || %(named)s::jsonb)
           - %(unnamed)s::text[],
       now()
FROM sessions WHERE session_id = %(session_id)s
ON CONFLICT (session_id) DO UPDATE SET
    names = (session_speaker_names.names || %(named)s::jsonb) - %(unnamed)s::text[],
    updated_at = now()
RETURNING names
"""

# A translation follows its segment's revision: a late older one never replaces a newer.
_UPSERT_TRANSLATION = """
INSERT INTO translations (session_id, run_id, segment_id, target_language, revision,
                          source_language, text, backend, event_id, produced_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (session_id, run_id, segment_id, target_language) DO UPDATE SET
    revision = EXCLUDED.revision, source_language = EXCLUDED.source_language,
    text = EXCLUDED.text, backend = EXCLUDED.backend, event_id = EXCLUDED.event_id,
    produced_at = EXCLUDED.produced_at
WHERE translations.revision <= EXCLUDED.revision
"""

# A run's reports arrive in order on its session's partition; the newest one describes it,
# and any report outranks the request (whichever of the two topics was read first).
# A run started again (its worker died before it was done) reports RUNNING again, truly.
_UPSERT_RUN = """
INSERT INTO runs (session_id, run_id, status, model, pipeline_version, processed_ms,
                  total_ms, final_segment_count, start_ms, end_ms, error, requested_at,
                  updated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (session_id, run_id) DO UPDATE SET
    status = EXCLUDED.status, model = EXCLUDED.model,
    pipeline_version = EXCLUDED.pipeline_version, processed_ms = EXCLUDED.processed_ms,
    total_ms = EXCLUDED.total_ms, final_segment_count = EXCLUDED.final_segment_count,
    start_ms = EXCLUDED.start_ms, end_ms = EXCLUDED.end_ms, error = EXCLUDED.error,
    requested_at = EXCLUDED.requested_at, updated_at = EXCLUDED.updated_at
WHERE runs.status = 'REQUESTED' OR runs.updated_at <= EXCLUDED.updated_at
"""

# The request: a row of its own until the run reports. Only the request knows who asked;
# everything else the reports say better (the two topics may be read in either order).
_RUN_REQUESTED = """
INSERT INTO runs (session_id, run_id, status, model, processed_ms, final_segment_count,
                  start_ms, end_ms, requested_by, requested_at, updated_at)
VALUES (%s, %s, 'REQUESTED', %s, 0, 0, %s, %s, %s, %s, %s)
ON CONFLICT (session_id, run_id) DO UPDATE SET requested_by = EXCLUDED.requested_by
"""

# Everything the read model holds of a session, in one statement (a batch's statements are
# applied kind by kind; this kind last, so a deletion outranks whatever else the batch says
# of the session). The gateways' own records (session_audio_sources) stay: a deleted session
# takes no more audio.
_DELETE_SESSION = """
WITH segments_gone AS (DELETE FROM segments WHERE session_id = %s),
     translations_gone AS (DELETE FROM translations WHERE session_id = %s),
     runs_gone AS (DELETE FROM runs WHERE session_id = %s),
     failures_gone AS (DELETE FROM processing_failures WHERE session_id = %s),
     names_gone AS (DELETE FROM session_speaker_names WHERE session_id = %s)
DELETE FROM sessions WHERE session_id = %s
"""

_INSERT_FAILURE = """
INSERT INTO processing_failures (event_id, session_id, stage, error_code, message,
                                 retryable, occurred_at)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (event_id) DO NOTHING
"""


@dataclass(frozen=True, slots=True)
class Statement:
    """One write of the read model: the SQL and its parameters."""

    sql: str
    params: tuple[object, ...]
    # For a segment's writes: which row, and how the SQL ranks them (see _UPSERT_SEGMENT's
    # WHERE: a higher revision wins, and at the same revision a final beats a partial; a tie
    # keeps the row). A batch can drop a write that a later one of the same row outranks.
    row_key: tuple[str, str, str] | None = None
    rank: tuple[int, bool] = (0, False)


# The order in which a batch applies its statements: a session's row before the updates of
# it. Within one kind, statements keep the log's order (later revisions, newer names last).
STATEMENT_ORDER = (
    _UPSERT_SESSION,
    _STREAM_ENDED,
    _SESSION_COMPLETED,
    _UPSERT_SEGMENT,
    _UPSERT_TRANSLATION,
    _RUN_REQUESTED,
    _UPSERT_RUN,
    _REPLACE_SPEAKER_NAMES,
    _INSERT_FAILURE,
    _DELETE_SESSION,
)


def statement_for(envelope: Envelope) -> Statement | None:
    """The read model's write for one event; None if the event type is not projected."""
    payload = envelope.payload
    match payload:
        case SessionCreated() | AudioStreamEnded() | SessionDeleted():
            return _lifecycle_statement(envelope)
        case TranscriptionCompleted():
            return Statement(
                _UPSERT_SEGMENT,
                _segment_row(envelope, payload),
                row_key=(payload.session_id, payload.run_id, payload.segment_id),
                rank=(payload.revision, payload.is_final),
            )
        case TranslationCompleted():
            return Statement(
                _UPSERT_TRANSLATION,
                (
                    payload.session_id,
                    payload.run_id,
                    payload.segment_id,
                    payload.target_language,
                    payload.revision,
                    payload.source_language,
                    payload.text,
                    payload.backend,
                    envelope.event_id,
                    envelope.timestamp,
                ),
            )
        case ReprocessRequested():
            return Statement(
                _RUN_REQUESTED,
                (
                    payload.session_id,
                    payload.run_id,
                    payload.model,
                    payload.start_ms,
                    payload.end_ms,
                    payload.requested_by,
                    envelope.timestamp,
                    envelope.timestamp,
                ),
            )
        case RunProgress():
            return Statement(
                _UPSERT_RUN,
                (
                    payload.session_id,
                    payload.run_id,
                    payload.status.value,
                    payload.model,
                    payload.pipeline_version,
                    payload.processed_ms,
                    payload.total_ms,
                    payload.final_segment_count,
                    payload.start_ms,
                    payload.end_ms,
                    payload.error,
                    payload.requested_at,
                    envelope.timestamp,
                ),
            )
        case SessionProcessingCompleted() if payload.run_id != LIVE_RUN:
            return None  # the run's own RunProgress records its completion
        case SessionProcessingCompleted():
            return Statement(
                _SESSION_COMPLETED,
                (envelope.timestamp, payload.final_segment_count, payload.session_id),
            )
        case SpeakerNamesUpdated():
            if payload.names is None:
                # The request (audio-ingest) holds only changes; the pipeline's echo, merged
                # in log order, is what the read model keeps.
                return None
            return Statement(
                _REPLACE_SPEAKER_NAMES,
                (payload.session_id, json.dumps(payload.names), envelope.timestamp),
            )
        case ProcessingFailed():
            return Statement(
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
            return None


def _lifecycle_statement(envelope: Envelope) -> Statement | None:
    """A session's creation, end of audio or deletion."""
    payload = envelope.payload
    match payload:
        case SessionCreated():
            return Statement(
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
            return Statement(
                _STREAM_ENDED,
                (envelope.timestamp, payload.last_seq, payload.total_samples, payload.session_id),
            )
        case SessionDeleted():
            return Statement(_DELETE_SESSION, (payload.session_id,) * 6)
        case _:
            return None


async def project_event(conn: AnyConnection, envelope: Envelope) -> bool:
    """Apply one event to the read model; False if the event type is not projected."""
    statement = statement_for(envelope)
    if statement is None:
        return False
    await conn.execute(statement.sql, statement.params)
    return True


async def merge_speaker_name_changes(
    conn: AnyConnection, session_id: str, changes: Mapping[str, str | None]
) -> dict[str, str] | None:
    """Apply a names request to the read model at once; returns the session's names after it,
    or None when there is no such session.

    For the gateway, which calls it in a transaction around publishing the request: the row
    stays locked until the broker has the request, so two gateways' requests reach the log in
    the order they changed the row, and the names returned are those the pipeline's echo will
    carry. The echo's projection then replaces them with the same mapping.
    """
    cursor = await conn.execute(
        _MERGE_SPEAKER_NAMES,
        {
            "session_id": session_id,
            "named": json.dumps({k: v for k, v in changes.items() if v is not None}),
            "unnamed": [k for k, v in changes.items() if v is None],
        },
    )
    row = await cursor.fetchone()
    if row is None:
        return None
    names: dict[str, str] = row[0]  # type: ignore[index]
    return dict(sorted(names.items()))


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
        # The Avro record form: the same keys as dataclasses.asdict, a tenth of its cost.
        json.dumps([word.to_avro() for word in payload.words]),
        payload.model,
        payload.pipeline_version,
        envelope.event_id,
        envelope.timestamp,
    )

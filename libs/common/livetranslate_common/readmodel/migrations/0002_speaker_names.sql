-- Human names of a session's speaker labels: the complete mapping, label -> name.
-- A table of its own rather than a column of sessions: the pipeline's echo (audio-results)
-- may be projected before the session's SessionCreated (audio-ingest, another agent) when
-- the read model is rebuilt, and an upsert here needs no sessions row to land in.
-- No row: the names the session was created with (sessions.processing_flags) still hold.

CREATE TABLE session_speaker_names (
    session_id text PRIMARY KEY,
    names      jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at timestamptz NOT NULL
);

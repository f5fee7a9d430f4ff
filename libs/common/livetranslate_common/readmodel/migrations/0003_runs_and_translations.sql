-- Translations of final segments, and the reprocessing runs of each session.
-- The live run has no row in runs: its state is the session's own (sessions.completed_at).
-- A run's row appears with its request (audio-reprocess, status REQUESTED) and follows its
-- RunProgress reports (audio-results: RUNNING, COMPLETED, FAILED).

CREATE TABLE translations (
    session_id      text NOT NULL,
    run_id          text NOT NULL,
    segment_id      text NOT NULL,
    target_language text NOT NULL,
    revision        integer NOT NULL,
    source_language text,
    text            text NOT NULL,
    backend         text NOT NULL,
    event_id        uuid NOT NULL,
    produced_at     timestamptz NOT NULL,
    PRIMARY KEY (session_id, run_id, segment_id, target_language)
);

CREATE TABLE runs (
    session_id          text NOT NULL,
    run_id              text NOT NULL,
    status              text NOT NULL,
    model               text NOT NULL,
    pipeline_version    text,
    processed_ms        bigint NOT NULL,
    total_ms            bigint,
    final_segment_count integer NOT NULL,
    start_ms            bigint,
    end_ms              bigint,
    error               text,
    requested_by        text,
    requested_at        timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    PRIMARY KEY (session_id, run_id)
);

-- The read model: a projection of the audio-ingest and audio-results topics.
-- Everything here can be dropped and rebuilt from the log.

CREATE TABLE sessions (
    session_id          text PRIMARY KEY,
    user_id             text,
    source_type         text NOT NULL,
    title               text,
    audio_config        jsonb NOT NULL,
    processing_flags    jsonb NOT NULL,
    metadata            jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at          timestamptz NOT NULL,
    stream_ended_at     timestamptz,
    last_seq            bigint,
    total_samples       bigint,
    completed_at        timestamptz,
    final_segment_count integer
);

CREATE TABLE segments (
    session_id       text NOT NULL,
    run_id           text NOT NULL,
    segment_id       text NOT NULL,
    revision         integer NOT NULL,
    is_final         boolean NOT NULL,
    text             text NOT NULL,
    language         text,
    start_ms         bigint NOT NULL,
    end_ms           bigint NOT NULL,
    speaker          text,
    confidence       real,
    words            jsonb NOT NULL DEFAULT '[]'::jsonb,
    model            text NOT NULL,
    pipeline_version text NOT NULL,
    event_id         uuid NOT NULL,
    produced_at      timestamptz NOT NULL,
    PRIMARY KEY (session_id, run_id, segment_id)
);

CREATE INDEX segments_by_time ON segments (session_id, run_id, start_ms);

CREATE TABLE processing_failures (
    event_id    uuid PRIMARY KEY,
    session_id  text,
    stage       text NOT NULL,
    error_code  text NOT NULL,
    message     text NOT NULL,
    retryable   boolean NOT NULL,
    occurred_at timestamptz NOT NULL
);

CREATE INDEX processing_failures_by_session ON processing_failures (session_id);

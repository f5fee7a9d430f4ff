-- Where each session's audio comes from: one upload or one live stream, claimed by the
-- gateway instance that takes it before it publishes the first chunk. Two sources would both
-- number their chunks from 0, and the pipeline keeps the first chunk of each number only.
-- The gateways' own record, not a projection of the log: rebuilding the read model keeps it.

CREATE TABLE session_audio_sources (
    session_id  text PRIMARY KEY,
    source_type text NOT NULL,
    claimed_at  timestamptz NOT NULL DEFAULT now()
);

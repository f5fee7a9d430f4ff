-- A live stream's claim is a lease: its gateway renews it every few seconds, with how much of
-- the stream Kafka has acknowledged. A gateway that dies mid-stream publishes no end; once its
-- lease has lapsed, another gateway ends the stream for it (reason gateway_lost) with the
-- audio Kafka has, so the session completes instead of staying open for ever.
-- Uploads publish within their request and take no lease (lease_until NULL).

ALTER TABLE session_audio_sources
    ADD COLUMN lease_until timestamptz,
    ADD COLUMN acknowledged_chunks integer NOT NULL DEFAULT 0,
    ADD COLUMN acknowledged_samples bigint NOT NULL DEFAULT 0,
    -- Set when the stream's end is published (by its gateway or, lapsed, by another).
    ADD COLUMN ended_at timestamptz;

CREATE INDEX session_audio_sources_live_leases ON session_audio_sources (lease_until)
    WHERE ended_at IS NULL AND lease_until IS NOT NULL;

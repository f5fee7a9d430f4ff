"""Gateway settings, from the environment (``GATEWAY_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    # Prometheus metrics at http://<host>:<metrics_port>/metrics, a port apart from the API's
    # (in-cluster only, no API key); 0 serves none (several gateways on one host would fight
    # over a fixed default).
    metrics_port: int = Field(default=0, ge=0, le=65535)
    # Speech models a reprocessing run may ask for: those the reprocessing workers offer
    # (tiny.en and base always; an operator's own WHISPER_MODEL_NAME, "remote").
    reprocess_models: list[str] = Field(default_factory=lambda: ["tiny.en", "base"])
    # Runs of one session asked for or running at once: each takes a worker's CPU for minutes.
    max_unfinished_runs: int = Field(default=3, ge=1)
    # The analytics workers (/api/analytics): their web port (MONITORING_WEB_PORT, 6069).
    analytics_url: str = "http://127.0.0.1:6069"
    # Connecting to them, sending, waiting for the answer: each at most this long.
    analytics_timeout_s: float = Field(default=5.0, gt=0, le=60)
    # Requests each caller (API key, or address without a good key) may make, per gateway
    # instance: every limit applies ("limits" notation). Socket handshakes count as requests.
    rate_limit: str = "50/second;3000/minute"
    # How long a checked API key is trusted without asking PostgreSQL again: a revoked key
    # keeps working this long on an instance that checked it just before.
    api_key_cache_s: float = Field(default=30.0, ge=0, le=3600)
    # Request bodies other than audio uploads (JSON): larger ones get 413.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # Uploads are read whole into memory to be decoded; this bounds that memory.
    max_upload_bytes: int = 100 * 1024 * 1024
    max_audio_seconds: float = 4 * 60 * 60
    # One second of 16 kHz PCM16 (32 KB) per event: small enough for low latency, large
    # enough that per-event overhead stays negligible.
    chunk_ms: int = 1000
    # Results a slow WebSocket client may fall behind by before it is disconnected.
    subscriber_queue_size: int = 1000
    # Live streams (WS /ws/sessions/{id}/audio): chunk length on audio-ingest. Audio waits
    # here until a chunk is full, so this adds half of itself to every result's latency on
    # average: 100 ms measured 60 ms faster finals than 200 ms, at twice the events per
    # second (deployments with hundreds of streams per worker may prefer 200).
    live_chunk_ms: int = Field(default=100, ge=20, le=1000)
    # How far ahead of the wall clock a live client may send before the gateway stops reading
    # its socket until the clock catches up (TCP back-pressure slows the client down).
    live_burst_s: float = 2.0
    # Audio read this far ahead of the wall clock closes the stream (4429).
    live_max_ahead_s: float = 10.0
    # Messages (frames, pings) per second a live client may send on average; more is a flood
    # and closes the stream (4429). 100/s allows 10 ms frames.
    live_max_messages_per_s: float = 100.0
    # Chunks published but not yet acknowledged by Kafka, per live stream; beyond it the
    # gateway stops reading the socket.
    live_max_chunks_in_flight: int = 16
    # How long a live stream waits for Kafka to acknowledge its audio (a broker restarting, a
    # leader moving) before it closes with 1013 kafka_unavailable. Meanwhile the gateway stops
    # reading the socket once the chunks in flight are all waiting: nothing more is buffered.
    live_max_kafka_wait_s: float = Field(default=30.0, gt=0)
    # A stream closed that way keeps its session's stream slot while the gateway publishes
    # what it still held and its end, once Kafka is back; after this long it gives up.
    live_end_retry_s: float = Field(default=900.0, gt=0)
    # A live stream's claim on its session is a lease its gateway renews every third of this;
    # a gateway that dies mid-stream lets it lapse, and another gateway then publishes the
    # stream's end for it (reason gateway_lost), so the session completes with the audio
    # Kafka has. Lower: a dead gateway's sessions complete sooner; more renewals.
    live_lease_s: float = Field(default=30.0, ge=1.0, le=3600.0)

"""Gateway settings, from the environment (``GATEWAY_*``)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    # Uploads are read whole into memory to be decoded; this bounds that memory.
    max_upload_bytes: int = 100 * 1024 * 1024
    max_audio_seconds: float = 4 * 60 * 60
    # One second of 16 kHz PCM16 (32 KB) per event: small enough for low latency, large
    # enough that per-event overhead stays negligible.
    chunk_ms: int = 1000
    # Results a slow WebSocket client may fall behind by before it is disconnected.
    subscriber_queue_size: int = 1000

"""Settings of the analytics worker, from the environment (``MONITORING_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MonitoringSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MONITORING_", extra="ignore")

    # The Faust application id: the workers' consumer group and the prefix of their tables'
    # changelog topics. A new window size needs a new id (old windows would not line up).
    app_id: str = "livetranslate-monitoring"
    web_port: int = 6069
    web_host: str = "127.0.0.1"
    # How the other workers reach this one's web server (they forward a session's question to
    # the worker that owns it); by default http://<web_host>:<web_port>. On Kubernetes, the
    # pod's address.
    canonical_url: str | None = None
    session_timeout_s: float = 10.0
    # Figures are kept per session and per window of this many seconds (tumbling, aligned to
    # the epoch: whole UTC hours by default).
    window_s: int = Field(default=3600, ge=60, le=86400)
    # Windows older than this are dropped (from memory and, by retention, from the changelog)
    # and events older than this are not counted.
    retention_days: float = Field(default=7.0, gt=0, le=366)
    # A question forwarded to another worker waits at most this long for its answer.
    forward_timeout_s: float = Field(default=5.0, gt=0)
    # Faust's local bookkeeping (the tables live in memory, rebuilt from their changelog).
    data_dir: Path = Field(default=Path("monitoring-data"))

    @property
    def retention_s(self) -> float:
        return self.retention_days * 86400

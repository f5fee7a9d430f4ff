"""Settings of the projector, from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ProjectorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PROJECTOR_", extra="ignore")

    # The Faust application id: the projector's consumer group.
    app_id: str = "livetranslate-projector"
    web_port: int = 6067
    web_host: str = "127.0.0.1"
    session_timeout_s: float = 10.0
    # Faust's local bookkeeping (the projector keeps no tables).
    data_dir: Path = Field(default=Path("projector-data"))

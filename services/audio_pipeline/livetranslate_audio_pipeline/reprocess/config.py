"""Settings of the reprocessing worker, from the environment.

Recognition, voice activity and translation settings are the pipeline's own
(``PipelineSettings``, PIPELINE_* and the backends' variables): a run differs from live
processing only in what its request asks for.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ReprocessSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REPROCESS_", extra="ignore")

    # The Faust application id: the workers' consumer group.
    app_id: str = "livetranslate-reprocess"
    web_port: int = 6068
    web_host: str = "127.0.0.1"
    session_timeout_s: float = 10.0
    # A run holds its request until it is done: a three-hour meeting at ten times real time
    # takes 18 minutes. Past this the group takes the request to another worker.
    max_run_s: float = Field(default=4 * 3600.0, ge=60.0)
    # How often a running run reports its progress.
    report_every_s: float = Field(default=2.0, gt=0.0)
    # Speech models kept loaded between runs (each costs 100-300 MB).
    models_kept: int = Field(default=2, ge=1, le=8)
    data_dir: Path = Field(default=Path("reprocess-data"))

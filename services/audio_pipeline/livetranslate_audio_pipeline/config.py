"""Settings of the audio pipeline worker, from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PipelineSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PIPELINE_", extra="ignore")

    # The Faust application id: the consumer group and the prefix of its internal topics.
    app_id: str = "livetranslate-audio-pipeline"
    web_port: int = 6066
    web_host: str = "127.0.0.1"
    # Results of live processing share one run id; reprocessing runs get their own.
    run_id: str = "live"
    # Faust's local data (RocksDB or memory stores, its own bookkeeping).
    data_dir: Path = Field(default=Path("pipeline-data"), validation_alias="APP_DATADIR")
    # An operator-provided CTranslate2 Whisper folder instead of the embedded tiny.en.
    whisper_model_dir: Path | None = Field(default=None, validation_alias="WHISPER_MODEL_DIR")
    whisper_model_sha256: str | None = Field(default=None, validation_alias="WHISPER_MODEL_SHA256")
    whisper_model_name: str = Field(default="whisper", validation_alias="WHISPER_MODEL_NAME")
    beam_size: int = 5
    asr_threads: int = 0
    vad_min_silence_ms: int = 500
    vad_threshold: float = 0.5
    max_utterance_s: float = 20.0

"""The audio pipeline's Faust app; ``faust -A livetranslate_audio_pipeline.app worker``.

Importing this module builds the app from the environment; the agents register themselves on
it when ``agents`` is imported (``autodiscover`` below).
"""

from __future__ import annotations

from livetranslate_audio_pipeline.config import PipelineSettings
from livetranslate_common.faust_support import service_app
from livetranslate_common.settings import KafkaSettings

kafka_settings = KafkaSettings()
pipeline_settings = PipelineSettings()

app = service_app(
    pipeline_settings.app_id,
    kafka=kafka_settings,
    service="audio_pipeline",
    web_host=pipeline_settings.web_host,
    web_port=pipeline_settings.web_port,
    session_timeout_s=pipeline_settings.session_timeout_s,
    # Local state (table stores) goes here; Kubernetes mounts an emptyDir on it.
    datadir=str(pipeline_settings.data_dir),
    # Idempotent producer with acks=all: a retried send never duplicates or loses a result.
    producer_acks=-1,
    # Whisper on an utterance can take seconds on a busy CPU; polls stay well inside this.
    broker_max_poll_interval=300.0,
    # Commit every second: on a crash, about that much is processed again. Not every N
    # events as well: a commit holds the stream while it flushes the producer, and at 100
    # events per commit 250 chunks/s queued up for over a second (measured).
    broker_commit_interval=1.0,
    consumer_max_fetch_size=pipeline_settings.fetch_max_bytes_per_partition,
    fetch_max_wait_ms=pipeline_settings.fetch_max_wait_ms,
    fetch_min_bytes=pipeline_settings.fetch_min_bytes,
    autodiscover=["livetranslate_audio_pipeline.agents"],
    origin="livetranslate_audio_pipeline",
)

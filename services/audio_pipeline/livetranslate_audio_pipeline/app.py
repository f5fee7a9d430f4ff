"""The audio pipeline's Faust app; ``faust -A livetranslate_audio_pipeline.app worker``.

Importing this module builds the app from the environment; the agents register themselves on
it when ``agents`` is imported (``autodiscover`` below).
"""

from __future__ import annotations

from livetranslate_audio_pipeline.config import PipelineSettings
from livetranslate_common.catalogue import SESSION_PARTITIONS
from livetranslate_common.faust_codec import CODEC_NAME, register_codec
from livetranslate_common.faust_support import RecoveringApp, broker_urls
from livetranslate_common.log import logging_config
from livetranslate_common.settings import KafkaSettings

register_codec()

kafka_settings = KafkaSettings()
pipeline_settings = PipelineSettings()

app = RecoveringApp(
    f"{kafka_settings.topic_prefix}{pipeline_settings.app_id}",
    broker=broker_urls(kafka_settings.bootstrap_servers),
    value_serializer=CODEC_NAME,
    key_serializer="raw",
    topic_partitions=SESSION_PARTITIONS,
    # For the topics Faust creates itself (table changelogs); 3 on a real cluster.
    topic_replication_factor=kafka_settings.replication_factor,
    # Faust declares only its internal topics; the catalogue's (internal=False) come from the
    # topic step (livetranslate-topics / the Helm hook) with their retention and cleanup.
    topic_allow_declare=True,
    consumer_auto_offset_reset="earliest",
    # Idempotent producer with acks=all: a retried send never duplicates or loses a result.
    producer_acks=-1,
    # Whisper on an utterance can take seconds on a busy CPU; polls stay well inside this.
    broker_max_poll_interval=300.0,
    # A worker that died is noticed after this long, and its partitions move on (Faust's
    # default of 60 s would stall a session that long after a crash).
    broker_session_timeout=pipeline_settings.session_timeout_s,
    broker_heartbeat_interval=pipeline_settings.session_timeout_s / 4,
    # Commit every second: on a crash, about that much is processed again. Not every N
    # events as well: a commit holds the stream while it flushes the producer, and at 100
    # events per commit 250 chunks/s queued up for over a second (measured).
    broker_commit_interval=1.0,
    consumer_max_fetch_size=pipeline_settings.fetch_max_bytes_per_partition,
    fetch_max_wait_ms=pipeline_settings.fetch_max_wait_ms,
    web_enabled=True,
    web_host=pipeline_settings.web_host,
    web_port=pipeline_settings.web_port,
    logging_config=logging_config("audio_pipeline"),
    autodiscover=["livetranslate_audio_pipeline.agents"],
    origin="livetranslate_audio_pipeline",
    # Local state (table stores) goes here; Kubernetes mounts an emptyDir on it.
    datadir=str(pipeline_settings.data_dir),
)

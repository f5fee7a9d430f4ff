"""The projector's Faust app; ``python -m livetranslate_audio_pipeline.projector worker``."""

from __future__ import annotations

from livetranslate_audio_pipeline.projector.config import ProjectorSettings
from livetranslate_common.catalogue import SESSION_PARTITIONS
from livetranslate_common.faust_codec import CODEC_NAME, register_codec
from livetranslate_common.faust_support import RecoveringApp, broker_urls
from livetranslate_common.log import logging_config
from livetranslate_common.settings import KafkaSettings

register_codec()

kafka_settings = KafkaSettings()
projector_settings = ProjectorSettings()

app = RecoveringApp(
    f"{kafka_settings.topic_prefix}{projector_settings.app_id}",
    broker=broker_urls(kafka_settings.bootstrap_servers),
    value_serializer=CODEC_NAME,
    key_serializer="raw",
    topic_partitions=SESSION_PARTITIONS,
    topic_replication_factor=kafka_settings.replication_factor,
    topic_allow_declare=True,
    consumer_auto_offset_reset="earliest",
    broker_session_timeout=projector_settings.session_timeout_s,
    broker_heartbeat_interval=projector_settings.session_timeout_s / 4,
    broker_commit_interval=1.0,
    web_enabled=True,
    web_host=projector_settings.web_host,
    web_port=projector_settings.web_port,
    logging_config=logging_config("projector"),
    autodiscover=["livetranslate_audio_pipeline.projector.agents"],
    origin="livetranslate_audio_pipeline.projector",
    datadir=str(projector_settings.data_dir),
)

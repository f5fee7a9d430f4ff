"""The projector's Faust app; ``python -m livetranslate_audio_pipeline.projector worker``."""

from __future__ import annotations

from livetranslate_audio_pipeline.projector.config import ProjectorSettings
from livetranslate_common.faust_support import service_app
from livetranslate_common.settings import KafkaSettings

kafka_settings = KafkaSettings()
projector_settings = ProjectorSettings()

app = service_app(
    projector_settings.app_id,
    kafka=kafka_settings,
    service="projector",
    web_host=projector_settings.web_host,
    web_port=projector_settings.web_port,
    session_timeout_s=projector_settings.session_timeout_s,
    datadir=str(projector_settings.data_dir),
    broker_commit_interval=1.0,
    autodiscover=["livetranslate_audio_pipeline.projector.agents"],
    origin="livetranslate_audio_pipeline.projector",
)

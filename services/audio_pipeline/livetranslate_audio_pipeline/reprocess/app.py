"""The reprocessing worker's Faust app.

Run it with ``python -m livetranslate_audio_pipeline.reprocess worker``.
"""

from __future__ import annotations

from livetranslate_audio_pipeline.config import PipelineSettings
from livetranslate_audio_pipeline.reprocess.config import ReprocessSettings
from livetranslate_common.faust_support import service_app
from livetranslate_common.settings import KafkaSettings

kafka_settings = KafkaSettings()
pipeline_settings = PipelineSettings()
reprocess_settings = ReprocessSettings()

app = service_app(
    reprocess_settings.app_id,
    kafka=kafka_settings,
    service="reprocess",
    web_host=reprocess_settings.web_host,
    web_port=reprocess_settings.web_port,
    session_timeout_s=reprocess_settings.session_timeout_s,
    datadir=str(reprocess_settings.data_dir),
    producer_acks=-1,
    broker_max_poll_interval=reprocess_settings.max_run_s,
    broker_commit_interval=1.0,
    autodiscover=["livetranslate_audio_pipeline.reprocess.agents"],
    origin="livetranslate_audio_pipeline.reprocess",
)

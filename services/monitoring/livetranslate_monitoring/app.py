"""The analytics worker's Faust app; ``python -m livetranslate_monitoring worker``."""

from __future__ import annotations

from typing import Any

from livetranslate_common.faust_support import service_app
from livetranslate_common.settings import KafkaSettings
from livetranslate_monitoring.config import MonitoringSettings

kafka_settings = KafkaSettings()
monitoring_settings = MonitoringSettings()

_options: dict[str, Any] = {}
if monitoring_settings.canonical_url:
    _options["canonical_url"] = monitoring_settings.canonical_url

app = service_app(
    monitoring_settings.app_id,
    kafka=kafka_settings,
    service="monitoring",
    web_host=monitoring_settings.web_host,
    web_port=monitoring_settings.web_port,
    session_timeout_s=monitoring_settings.session_timeout_s,
    datadir=str(monitoring_settings.data_dir),
    # Commit every second: on a crash, about that much is read again (and dropped as
    # already counted).
    broker_commit_interval=1.0,
    # No standby copies of other workers' partitions. When one of two workers left, the other's
    # recovery of the partitions it took over never ended ("No event received for active tp
    # ... since recovery start"; it answers 503 until restarted) in 2 of 4 runs with a standby
    # replica (Faust's default), in 2 of 35 without. A worker starting up always recovered. A
    # partition taken over is read back from its changelog, which the retention keeps short.
    table_standby_replicas=0,
    autodiscover=["livetranslate_monitoring.agents", "livetranslate_monitoring.web"],
    origin="livetranslate_monitoring",
    **_options,
)

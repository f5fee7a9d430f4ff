"""Create the table's changelog topic before the worker starts.

Faust declares it itself while starting, but the consumer's metadata can miss a topic created
a moment earlier (the table then sees "0 partitions"; seen with the pipeline's tables on a
loaded machine). Created here first, with what Faust would declare for a windowed table
(compact,delete, the windows' retention), the topic exists before Faust ever looks.
"""

from __future__ import annotations

from livetranslate_common.catalogue import CleanupPolicy, TopicSpec
from livetranslate_common.topics import ensure_topics
from livetranslate_monitoring.app import app, kafka_settings, monitoring_settings
from livetranslate_monitoring.tables import session_windows

_DAY_MS = 86_400_000


def changelog_specs() -> list[TopicSpec]:
    retention_ms = int(monitoring_settings.retention_s * 1000)
    return [
        TopicSpec(
            # Faust's own naming: "<app id>-<table>-changelog" (the app id carries the prefix).
            name=f"{app.conf.id}-{session_windows.name}-changelog",
            key="session_id and window",
            events=(),
            partitions=session_windows.partitions or app.conf.topic_partitions,
            cleanup_policy=CleanupPolicy.COMPACT,
            retention_ms=retention_ms,
            description="Changelog of the analytics' session windows.",
            extra_config={
                "cleanup.policy": "compact,delete",
                # Expired windows go when their segment does: keep segments short against
                # the retention, or they would stay up to a segment's age (7 days) longer.
                "segment.ms": str(max(3_600_000, min(_DAY_MS, retention_ms // 4))),
            },
        )
    ]


def ensure_changelog_topics() -> list[str]:
    """Create the missing changelog topic; returns the names created."""
    return ensure_topics(kafka_settings.bootstrap_servers, specs=changelog_specs())

"""Create the table's changelog topic before the worker starts (see ``changelog_spec``),
with what Faust would declare for a windowed table (compact,delete, the windows' retention).
"""

from __future__ import annotations

from livetranslate_common.catalogue import TopicSpec
from livetranslate_common.faust_support import changelog_spec
from livetranslate_common.topics import ensure_topics
from livetranslate_monitoring.app import app, kafka_settings, monitoring_settings
from livetranslate_monitoring.tables import session_windows

_DAY_MS = 86_400_000


def changelog_specs() -> list[TopicSpec]:
    retention_ms = int(monitoring_settings.retention_s * 1000)
    return [
        changelog_spec(
            app,
            session_windows,
            key="session_id and window",
            description="Changelog of the analytics' session windows.",
            retention_ms=retention_ms,
            extra_config={
                # What Faust declares for a windowed table: compacted, and expired windows
                # deleted with their segment. Keep segments short against the retention, or
                # expired windows would stay up to a segment's age (7 days) longer.
                "cleanup.policy": "compact,delete",
                "segment.ms": str(max(3_600_000, min(_DAY_MS, retention_ms // 4))),
            },
        )
    ]


def ensure_changelog_topics() -> list[str]:
    """Create the missing changelog topic; returns the names created."""
    return ensure_topics(kafka_settings.bootstrap_servers, specs=changelog_specs())

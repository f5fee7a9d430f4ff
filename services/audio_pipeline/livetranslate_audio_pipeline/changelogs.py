"""Create the tables' changelog topics before the worker starts.

Faust declares them itself while starting, but the consumer's metadata can miss a topic
created a moment earlier: the table then sees "0 partitions" and the agent crashes on its
first write until the metadata refreshes (seen on a loaded machine). Created here first,
the topics exist before Faust ever looks.
"""

from __future__ import annotations

from livetranslate_audio_pipeline import tables  # noqa: F401  (registers the tables)
from livetranslate_audio_pipeline.app import app, kafka_settings
from livetranslate_common.catalogue import CleanupPolicy, TopicSpec
from livetranslate_common.topics import ensure_topics


def changelog_specs() -> list[TopicSpec]:
    return [
        TopicSpec(
            # Faust's own naming: "<app id>-<table>-changelog" (the app id carries the prefix).
            name=f"{app.conf.id}-{table.name}-changelog",
            key="session_id",
            events=(),
            partitions=table.partitions or app.conf.topic_partitions,
            cleanup_policy=CleanupPolicy.COMPACT,
            retention_ms=-1,
            description=f"Changelog of the {table.name} table.",
        )
        for table in app.tables.values()
    ]


def ensure_changelog_topics() -> list[str]:
    """Create the missing changelog topics; returns the names created."""
    return ensure_topics(kafka_settings.bootstrap_servers, specs=changelog_specs())

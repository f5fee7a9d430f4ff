"""Create the tables' changelog topics before the worker starts (see ``changelog_spec``)."""

from __future__ import annotations

from livetranslate_audio_pipeline import tables  # noqa: F401  (registers the tables)
from livetranslate_audio_pipeline.app import app, kafka_settings
from livetranslate_common.catalogue import TopicSpec
from livetranslate_common.faust_support import changelog_spec
from livetranslate_common.topics import ensure_topics


def changelog_specs() -> list[TopicSpec]:
    return [
        changelog_spec(
            app, table, key="session_id", description=f"Changelog of the {table.name} table."
        )
        for table in app.tables.values()
    ]


def ensure_changelog_topics() -> list[str]:
    """Create the missing changelog topics; returns the names created."""
    return ensure_topics(kafka_settings.bootstrap_servers, specs=changelog_specs())

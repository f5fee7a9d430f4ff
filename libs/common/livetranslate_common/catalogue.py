"""The topic catalogue: the one place that names every topic and how it is kept.

Services take topic names from here, and the topic-creation step (``topics.ensure_topics``)
creates exactly what is listed, so the broker's configuration can never drift from the code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

# Every session-scoped topic has the same partition count, so that Faust tables and streams
# keyed by session_id are co-partitioned and one worker owns all of a session's state.
SESSION_PARTITIONS = 6

_DAY_MS = 24 * 60 * 60 * 1000


class CleanupPolicy(StrEnum):
    DELETE = "delete"
    COMPACT = "compact"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """How one topic is keyed, what it carries and how long the broker keeps it."""

    name: str
    key: str
    events: tuple[str, ...]
    partitions: int
    cleanup_policy: CleanupPolicy
    # -1 keeps records forever (the broker's own convention).
    retention_ms: int
    description: str
    extra_config: dict[str, str] = field(default_factory=dict)

    def full_name(self, prefix: str = "") -> str:
        """The topic's name on the broker; a prefix isolates tests and tenants of one cluster."""
        return f"{prefix}{self.name}"

    def broker_config(self) -> dict[str, str]:
        config = {
            "cleanup.policy": self.cleanup_policy.value,
            "retention.ms": str(self.retention_ms),
        }
        config.update(self.extra_config)
        return config


AUDIO_INGEST = TopicSpec(
    name="audio-ingest",
    key="session_id",
    # SpeakerNamesUpdated rides here as a request (the changes), ordered with the chunks;
    # SessionDeleted too, after the session's audio, for the pipeline to forget the session.
    events=(
        "SessionCreated",
        "AudioChunkReceived",
        "AudioStreamEnded",
        "SpeakerNamesUpdated",
        "SessionDeleted",
    ),
    partitions=SESSION_PARTITIONS,
    cleanup_policy=CleanupPolicy.DELETE,
    # The audio archive that reprocessing reads back: kept for 90 days by default.
    retention_ms=90 * _DAY_MS,
    description="Every accepted chunk of audio in order per session: the reprocessing archive.",
    # A chunk of one second of 16 kHz PCM16 is 32 KB; allow generous headroom for larger chunks.
    extra_config={"max.message.bytes": str(4 * 1024 * 1024)},
)

AUDIO_RESULTS = TopicSpec(
    name="audio-results",
    key="session_id",
    events=(
        "TranscriptionCompleted",
        "TranslationCompleted",
        "ProcessingFailed",
        "SessionProcessingCompleted",
        # The pipeline's echo of a names request, with the session's complete mapping.
        "SpeakerNamesUpdated",
        # Gaps, duplicates, late chunks and client-clock drift the pipeline noticed.
        "StreamIrregularity",
        # The session's SessionCreated, AudioStreamEnded and SessionDeleted, forwarded
        # unchanged by the pipeline, so this topic alone tells each session's story (the read
        # model is projected from it and rebuilt from it).
        "SessionCreated",
        "AudioStreamEnded",
        "SessionDeleted",
        # How far each reprocessing run has come (its results carry their own run_id).
        "RunProgress",
    ),
    partitions=SESSION_PARTITIONS,
    cleanup_policy=CleanupPolicy.DELETE,
    # Transcript history is the source of truth for the read model: keep it for a year.
    retention_ms=365 * _DAY_MS,
    description="Partial and final transcript revisions, translations and failures per session.",
)

AUDIO_REPROCESS = TopicSpec(
    name="audio-reprocess",
    key="session_id",
    events=("ReprocessRequested",),
    partitions=SESSION_PARTITIONS,
    cleanup_policy=CleanupPolicy.DELETE,
    # A request is acted on within minutes; its run's record lives on in audio-results.
    retention_ms=30 * _DAY_MS,
    description="Requests to run a session's recorded audio through the pipeline again.",
)

AUDIO_INGEST_DLQ = TopicSpec(
    name="audio-ingest.dlq",
    key="original key",
    events=(),
    partitions=SESSION_PARTITIONS,
    cleanup_policy=CleanupPolicy.DELETE,
    retention_ms=30 * _DAY_MS,
    description="Messages from audio-ingest that could not be decoded: original bytes plus error.",
)

AUDIO_RESULTS_DLQ = TopicSpec(
    name="audio-results.dlq",
    key="original key",
    events=(),
    partitions=SESSION_PARTITIONS,
    cleanup_policy=CleanupPolicy.DELETE,
    retention_ms=30 * _DAY_MS,
    description="Messages from audio-results that could not be decoded: original bytes plus error.",
)

AUDIO_REPROCESS_DLQ = TopicSpec(
    name="audio-reprocess.dlq",
    key="original key",
    events=(),
    partitions=SESSION_PARTITIONS,
    cleanup_policy=CleanupPolicy.DELETE,
    retention_ms=30 * _DAY_MS,
    description=(
        "Messages from audio-reprocess that could not be decoded (set aside by the reprocessing"
        " worker and by the projector): original bytes plus error."
    ),
)

CONFIG_SYNC = TopicSpec(
    name="config-sync",
    key="config scope",
    events=("ConfigSnapshot", "ConfigDriftDetected", "ConfigRollbackRequested"),
    partitions=1,
    cleanup_policy=CleanupPolicy.COMPACT,
    retention_ms=-1,
    description="Versioned configuration snapshots per scope, drift reports and rollback requests.",
)

BOT_CONTROL = TopicSpec(
    name="bot-control",
    key="bot_id",
    events=("BotRequested", "BotStopRequested", "BotStatusUpdate"),
    partitions=SESSION_PARTITIONS,
    cleanup_policy=CleanupPolicy.DELETE,
    retention_ms=30 * _DAY_MS,
    description="Meeting-bot requests and their status updates, keyed by bot_id.",
)

MONITORING = TopicSpec(
    name="monitoring",
    key="service name",
    events=("ServiceHealthReport", "AnomalyDetected", "UsageMetrics"),
    partitions=1,
    cleanup_policy=CleanupPolicy.DELETE,
    retention_ms=3 * _DAY_MS,
    description="Health reports, anomalies and usage metrics from every service.",
)

CATALOGUE: tuple[TopicSpec, ...] = (
    AUDIO_INGEST,
    AUDIO_RESULTS,
    AUDIO_REPROCESS,
    AUDIO_INGEST_DLQ,
    AUDIO_RESULTS_DLQ,
    AUDIO_REPROCESS_DLQ,
    CONFIG_SYNC,
    BOT_CONTROL,
    MONITORING,
)


def topic_for_event(event_type: str) -> TopicSpec:
    """The topic an event type belongs on; producers use it so no event lands astray.

    An event on two topics (SpeakerNamesUpdated) is first published on the earlier one in the
    catalogue; whoever echoes it onto the later one names that topic itself.
    """
    spec = _TOPIC_OF_EVENT.get(event_type)
    if spec is None:
        raise KeyError(f"no topic in the catalogue carries {event_type!r}")
    return spec


# Looked up for every event published (a scan of the catalogue was a twelfth of a busy
# gateway's time); the first topic in the catalogue wins, as the docstring above says.
_TOPIC_OF_EVENT: dict[str, TopicSpec] = {}
for _spec in reversed(CATALOGUE):
    _TOPIC_OF_EVENT.update(dict.fromkeys(_spec.events, _spec))

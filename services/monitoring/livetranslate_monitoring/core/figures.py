"""What a final segment adds to a session's figures, and the figures' arithmetic.

Definitions (the README's Analytics section repeats them):

- talk time of a segment: ``end_ms - start_ms`` (the utterance as the pipeline cut it);
- words of a segment: its recognised words (``words``), or its text's words when the model
  gave no word timings;
- words per minute: words / talk time in minutes, per speaker and over all of them (how fast
  people speak, not how much of the meeting was speech);
- latency of a final: ``queue_ms + end_of_speech_to_result_ms`` from its LatencyMetrics, i.e.
  from the gateway publishing the audio chunk that closed the utterance to the pipeline
  publishing the final, as the pipeline measured it. It leaves out the pause the endpointer
  must hear before it knows an utterance is over and the delivery to clients. It is counted
  for live sessions only (see ``live_evidence``): an upload's audio all arrives at once, so
  its finals queue behind each other by design.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from livetranslate_monitoring.core.histogram import LatencyHistogram, bucket_of
from livetranslate_schemas.events import (
    EventPayload,
    SessionCreated,
    SourceType,
    TranscriptionCompleted,
)

# Sources whose audio arrives as it is spoken: their finals' latency means something.
LIVE_SOURCES = frozenset({SourceType.STREAM, SourceType.BOT})
# The JSON key of segments without a speaker label (diarization off).
UNATTRIBUTED = ""


@dataclass(frozen=True, slots=True)
class Contribution:
    """One final segment's share of its session's figures."""

    revision: int
    speaker: str | None
    talk_ms: int
    words: int
    # None: not measured, or not a live session.
    latency_bucket: int | None

    def to_json(self) -> list[Any]:
        return [self.revision, self.speaker, self.talk_ms, self.words, self.latency_bucket]

    @classmethod
    def from_json(cls, data: list[Any]) -> Contribution:
        revision, speaker, talk_ms, words, latency_bucket = data
        return cls(int(revision), speaker, int(talk_ms), int(words), latency_bucket)


def final_latency_ms(segment: TranscriptionCompleted) -> int | None:
    """The final's latency (see the module's docstring), None when the pipeline gave none."""
    latency = segment.latency
    if latency.end_of_speech_to_result_ms is None:
        return None
    return max(0, latency.end_of_speech_to_result_ms + (latency.queue_ms or 0))


def live_evidence(payload: EventPayload) -> bool:
    """Whether the event shows its session's audio arrives as it is spoken.

    audio-results does not say it outright: the gateway creates every session as an UPLOAD
    (the live socket's chunks say STREAM, but they stay on audio-ingest). What shows is that
    the pipeline publishes partial results for live audio only: a partial, or a final with a
    revision above 0 (partials came before it), is a live session's. So is a SessionCreated
    saying STREAM or BOT (a bot's session, say). A live session's finals before its first
    partial (short utterances at its start) are not known to be live and their latency is
    not counted.
    """
    if isinstance(payload, SessionCreated):
        return payload.source_type in LIVE_SOURCES
    if isinstance(payload, TranscriptionCompleted):
        return not payload.is_final or payload.revision > 0
    return False


def contribution_of(segment: TranscriptionCompleted, *, live: bool) -> Contribution:
    words = len(segment.words) if segment.words else len(segment.text.split())
    latency = final_latency_ms(segment) if live else None
    return Contribution(
        revision=segment.revision,
        speaker=segment.speaker,
        talk_ms=max(0, segment.end_ms - segment.start_ms),
        words=words,
        latency_bucket=bucket_of(latency) if latency is not None else None,
    )


def segment_key(segment: TranscriptionCompleted) -> str:
    """The segment's id within its session (ids are ``<session>:<position>``)."""
    prefix = f"{segment.session_id}:"
    return segment.segment_id.removeprefix(prefix)


@dataclass(slots=True)
class SpeakerTotals:
    talk_ms: int = 0
    words: int = 0
    finals: int = 0

    def add(self, contribution: Contribution, sign: int = 1) -> None:
        self.talk_ms += sign * contribution.talk_ms
        self.words += sign * contribution.words
        self.finals += sign

    def merge(self, other: SpeakerTotals) -> None:
        self.talk_ms += other.talk_ms
        self.words += other.words
        self.finals += other.finals


@dataclass(slots=True)
class Figures:
    """Totals per speaker and a latency histogram: adding up windows adds these up."""

    speakers: dict[str, SpeakerTotals] = field(default_factory=dict)
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)

    @property
    def finals(self) -> int:
        return sum(totals.finals for totals in self.speakers.values())

    def add(self, contribution: Contribution, sign: int = 1) -> None:
        label = contribution.speaker or UNATTRIBUTED
        totals = self.speakers.setdefault(label, SpeakerTotals())
        totals.add(contribution, sign)
        if not totals.finals:
            del self.speakers[label]
        if contribution.latency_bucket is not None:
            self.latency.add(contribution.latency_bucket, sign)

    def merge(self, other: Figures) -> None:
        for label, totals in other.speakers.items():
            self.speakers.setdefault(label, SpeakerTotals()).merge(totals)
        self.latency.merge(other.latency)

    @classmethod
    def total(cls, parts: Iterable[Figures]) -> Figures:
        figures = cls()
        for part in parts:
            figures.merge(part)
        return figures

    def to_json(self) -> dict[str, Any]:
        return {
            "speakers": {
                label: [totals.talk_ms, totals.words, totals.finals]
                for label, totals in sorted(self.speakers.items())
            },
            "latency": self.latency.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Figures:
        return cls(
            speakers={
                label: SpeakerTotals(int(talk_ms), int(words), int(finals))
                for label, (talk_ms, words, finals) in data.get("speakers", {}).items()
            },
            latency=LatencyHistogram.from_json(data.get("latency", {})),
        )

    def summary(self) -> dict[str, Any]:
        """The figures as the API shows them."""
        talk_ms = sum(totals.talk_ms for totals in self.speakers.values())
        words = sum(totals.words for totals in self.speakers.values())
        return {
            "final_segments": self.finals,
            "words": words,
            "talk_time_ms": talk_ms,
            "words_per_minute": words_per_minute(words, talk_ms),
            "speakers": [
                {
                    "speaker": label or None,
                    "talk_time_ms": totals.talk_ms,
                    "talk_share": round(totals.talk_ms / talk_ms, 4) if talk_ms else None,
                    "words": totals.words,
                    "words_per_minute": words_per_minute(totals.words, totals.talk_ms),
                    "final_segments": totals.finals,
                }
                for label, totals in sorted(self.speakers.items())
            ],
            "latency_ms": {
                "finals_measured": self.latency.count,
                "p50": self.latency.percentile(0.50),
                "p95": self.latency.percentile(0.95),
                "p99": self.latency.percentile(0.99),
            },
        }


def words_per_minute(words: int, talk_ms: int) -> float | None:
    return round(words * 60_000 / talk_ms, 1) if talk_ms > 0 else None

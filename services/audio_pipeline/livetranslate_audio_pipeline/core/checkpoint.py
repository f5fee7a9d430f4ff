"""What a worker needs to take over a session after a restart or a rebalance.

The audio itself is not kept: the log is the buffer. A checkpoint names the offset of the
oldest chunk whose audio the session may still need (the start of the open utterance, or a
short tail), so a new owner reads those chunks back from audio-ingest and replays them
through the (deterministic) endpointer, landing where the old owner was. It also records what
was already published, so the replay does not publish a final twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from livetranslate_schemas.events import AudioChunkReceived


@dataclass(frozen=True, slots=True)
class LogPosition:
    """Where an audio-ingest event sits in the log."""

    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class SessionCheckpoint:
    options: dict[str, Any]
    partition: int
    next_seq: int
    # Offset of the oldest chunk still needed; None before the first chunk.
    replay_from_offset: int | None
    final_segments: int
    # End (session samples) of the newest utterance whose final was published.
    finalized_until_sample: int
    # The stream ended and its completion was published: redeliveries change nothing.
    completed: bool = False
    # Texts of the latest finals: the next final's recognition context, the same after a
    # take-over as it would have been.
    recent_finals: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "options": self.options,
            "partition": self.partition,
            "next_seq": self.next_seq,
            "replay_from_offset": self.replay_from_offset,
            "final_segments": self.final_segments,
            "finalized_until_sample": self.finalized_until_sample,
            "completed": self.completed,
            "recent_finals": self.recent_finals or [],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionCheckpoint:
        return cls(
            options=dict(data["options"]),
            partition=int(data["partition"]),
            next_seq=int(data["next_seq"]),
            replay_from_offset=data["replay_from_offset"],
            final_segments=int(data["final_segments"]),
            finalized_until_sample=int(data["finalized_until_sample"]),
            completed=bool(data.get("completed", False)),
            recent_finals=[str(text) for text in data.get("recent_finals", [])],
        )


class SessionStateStore(Protocol):
    """Durable per-session state (Faust tables in the worker)."""

    def load_checkpoint(self, session_id: str) -> SessionCheckpoint | None: ...

    def save_checkpoint(self, session_id: str, checkpoint: SessionCheckpoint) -> None: ...

    def load_speakers(self, session_id: str) -> dict[str, Any] | None: ...

    def save_speakers(self, session_id: str, state: dict[str, Any]) -> None: ...

    # Kept apart from the speaker models: a session can be named before anyone has spoken,
    # and names survive a speaker state that has to be thrown away.
    def load_speaker_names(self, session_id: str) -> dict[str, str] | None:
        """The session's complete label -> name mapping; None if never saved."""
        ...

    def save_speaker_names(self, session_id: str, names: dict[str, str]) -> None: ...

    # The stream's timing (``StreamTiming.to_dict``): order, gaps and the client's clock.
    def load_timing(self, session_id: str) -> dict[str, Any] | None: ...

    def save_timing(self, session_id: str, state: dict[str, Any]) -> None: ...

    def forget(self, session_id: str) -> None:
        """Drop everything kept about the session (a deleted session: its voices, names,
        options and recent texts) but a completed checkpoint, so that a redelivered event of
        it changes nothing."""
        ...


class AudioLog(Protocol):
    """Reads a session's chunks back from audio-ingest."""

    async def chunks(
        self, session_id: str, *, partition: int, from_offset: int, before_seq: int
    ) -> list[tuple[int, AudioChunkReceived]]:
        """(offset, chunk) for the session's chunks from ``from_offset`` on, in log order,
        up to (not including) its chunk ``before_seq`` or the end of the log."""
        ...

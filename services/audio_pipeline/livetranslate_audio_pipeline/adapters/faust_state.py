"""SessionStateStore on the worker's Faust tables."""

from __future__ import annotations

from typing import Any

from faust.types import TableT

from livetranslate_audio_pipeline.core.checkpoint import SessionCheckpoint


class FaustSessionStore:
    def __init__(self, progress: TableT[bytes, Any], speakers: TableT[bytes, Any]) -> None:
        self._progress = progress
        self._speakers = speakers

    def load_checkpoint(self, session_id: str) -> SessionCheckpoint | None:
        data = self._progress.get(session_id.encode())
        return SessionCheckpoint.from_dict(data) if data else None

    def save_checkpoint(self, session_id: str, checkpoint: SessionCheckpoint) -> None:
        self._progress[session_id.encode()] = checkpoint.to_dict()

    def load_speakers(self, session_id: str) -> dict[str, Any] | None:
        data = self._speakers.get(session_id.encode())
        return dict(data) if data else None

    def save_speakers(self, session_id: str, state: dict[str, Any]) -> None:
        self._speakers[session_id.encode()] = state

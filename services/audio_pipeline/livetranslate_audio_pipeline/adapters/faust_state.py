"""SessionStateStore on the worker's Faust tables."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from faust.types import TableT

from livetranslate_audio_pipeline.core.checkpoint import SessionCheckpoint

# The session's speaker names sit under this key of its session-speakers value, beside the
# speaker models' keys, so one changelog record holds everything about its speakers and a
# value written before names existed still reads as it did.
_NAMES = "names"


class FaustSessionStore:
    def __init__(
        self,
        progress: TableT[bytes, Any],
        speakers: TableT[bytes, Any],
        timing: TableT[bytes, Any] | None = None,
    ) -> None:
        self._progress = progress
        self._speakers = speakers
        # Without a table (tests about other state), the timing lives only in this object.
        self._timing: MutableMapping[bytes, Any] = {} if timing is None else timing

    def load_checkpoint(self, session_id: str) -> SessionCheckpoint | None:
        data = self._progress.get(session_id.encode())
        return SessionCheckpoint.from_dict(data) if data else None

    def save_checkpoint(self, session_id: str, checkpoint: SessionCheckpoint) -> None:
        self._progress[session_id.encode()] = checkpoint.to_dict()

    def load_speakers(self, session_id: str) -> dict[str, Any] | None:
        data = self._speakers.get(session_id.encode())
        if not data or "speakers" not in data:
            return None  # nothing, or only names
        return {key: value for key, value in data.items() if key != _NAMES}

    def save_speakers(self, session_id: str, state: dict[str, Any]) -> None:
        key = session_id.encode()
        names = (self._speakers.get(key) or {}).get(_NAMES)
        self._speakers[key] = state if names is None else {**state, _NAMES: names}

    def load_speaker_names(self, session_id: str) -> dict[str, str] | None:
        names = (self._speakers.get(session_id.encode()) or {}).get(_NAMES)
        return None if names is None else {str(k): str(v) for k, v in names.items()}

    def save_speaker_names(self, session_id: str, names: dict[str, str]) -> None:
        key = session_id.encode()
        self._speakers[key] = {**(self._speakers.get(key) or {}), _NAMES: dict(names)}

    def load_timing(self, session_id: str) -> dict[str, Any] | None:
        data = self._timing.get(session_id.encode())
        return dict(data) if data else None

    def save_timing(self, session_id: str, state: dict[str, Any]) -> None:
        self._timing[session_id.encode()] = state

    def forget(self, session_id: str) -> None:
        key = session_id.encode()
        # Deleting a table key writes a tombstone to its changelog: compaction removes it.
        for table in (self._speakers, self._timing):
            if key in table:
                del table[key]
        previous = self._progress.get(key)
        self._progress[key] = SessionCheckpoint(
            options={},
            partition=int(previous["partition"]) if previous else 0,
            next_seq=int(previous["next_seq"]) if previous else 0,
            replay_from_offset=None,
            final_segments=0,
            finalized_until_sample=0,
            completed=True,
        ).to_dict()

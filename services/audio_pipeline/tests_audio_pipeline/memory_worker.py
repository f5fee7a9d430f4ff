"""A worker's state without a broker, for session-level tests.

Its tables are dicts behind the real store adapter (a Faust table is a mutable mapping; the
changelog behind it is Faust's business, tested end to end), and the audio log is one
partition of audio-ingest as a list, an event's offset being its index.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from faust.types import TableT

from livetranslate_audio_pipeline.adapters.faust_state import FaustSessionStore
from livetranslate_schemas.events import AudioChunkReceived, EventPayload


class MemoryTables:
    """The worker's three tables, as dicts, and the store over them."""

    def __init__(self) -> None:
        self.progress: dict[bytes, Any] = {}
        self.speakers: dict[bytes, Any] = {}
        self.timing: dict[bytes, Any] = {}
        self.store = FaustSessionStore(
            cast(TableT[bytes, Any], self.progress),
            cast(TableT[bytes, Any], self.speakers),
            cast(TableT[bytes, Any], self.timing),
        )


class ListAudioLog:
    """One partition of audio-ingest as a list: an event's offset is its index."""

    def __init__(self, events: Sequence[EventPayload]) -> None:
        self._events = events

    async def chunks(
        self, session_id: str, *, partition: int, from_offset: int, before_seq: int
    ) -> list[tuple[int, AudioChunkReceived]]:
        found = []
        for offset, event in enumerate(self._events[from_offset:], start=from_offset):
            if isinstance(event, AudioChunkReceived) and event.session_id == session_id:
                if event.seq >= before_seq:
                    break
                found.append((offset, event))
        return found

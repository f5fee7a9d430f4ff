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
from livetranslate_audio_pipeline.core.checkpoint import LogPosition
from livetranslate_audio_pipeline.core.recognition import SpeechRecognizer
from livetranslate_audio_pipeline.core.session import SessionTranscriber
from livetranslate_common.pcm import float_to_pcm16
from livetranslate_common.speech_samples import SAMPLE_RATE, FloatSamples
from livetranslate_schemas.events import (
    AudioChunkReceived,
    AudioConfig,
    AudioStreamEnded,
    EventPayload,
    ProcessingFlags,
    SessionCreated,
    SourceType,
)


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


def memory_worker(
    recognizer: SpeechRecognizer,
    tables: MemoryTables,
    log: Sequence[EventPayload],
    *,
    run_id: str = "live",
    **options: Any,
) -> SessionTranscriber:
    """A worker whose state is ``tables`` and whose audio-ingest partition is ``log``;
    ``options`` go to the transcriber (checkpoint cadence, partials...)."""
    return SessionTranscriber(
        recognizer,
        run_id=run_id,
        pipeline_version="t",
        store=tables.store,
        audio_log=ListAudioLog(log),
        **options,
    )


def live_session_log(
    session_id: str,
    samples: FloatSamples,
    *,
    flags: ProcessingFlags,
    chunk_samples: int = SAMPLE_RATE // 5,
    flags_at: dict[int, ProcessingFlags] | None = None,
) -> list[EventPayload]:
    """A live session's audio-ingest events: SessionCreated with ``flags``, the audio in
    chunks (200 ms, as the gateway cuts them unless told otherwise; ``flags_at`` overrides
    by seq), then the end of the stream."""
    events: list[EventPayload] = [
        SessionCreated(
            session_id=session_id,
            source_type=SourceType.STREAM,
            audio_config=AudioConfig(),
            processing_flags=flags,
        )
    ]
    offsets = range(0, len(samples), chunk_samples)
    for seq, offset in enumerate(offsets):
        part = samples[offset : offset + chunk_samples]
        events.append(
            AudioChunkReceived(
                session_id=session_id,
                chunk_id=f"{session_id}:{seq}",
                seq=seq,
                source_type=SourceType.STREAM,
                audio_config=AudioConfig(),
                processing_flags=(flags_at or {}).get(seq),
                sample_offset=offset,
                num_samples=len(part),
                audio=float_to_pcm16(part),
            )
        )
    events.append(
        AudioStreamEnded(
            session_id=session_id,
            last_seq=len(offsets) - 1,
            total_chunks=len(offsets),
            total_samples=len(samples),
        )
    )
    return events


async def consume(
    worker: SessionTranscriber, log: Sequence[EventPayload], offsets: range, session_id: str
) -> list[EventPayload]:
    """Hand the log's events at ``offsets`` to the worker as its agent does: each event's
    results (published), then the session's checkpoint."""
    results: list[EventPayload] = []
    for offset in offsets:
        results += await worker.handle(log[offset], position=LogPosition(0, offset))
        worker.checkpoint(session_id)
    return results

"""One session's way from audio chunks to final transcript segments.

Plain Python and asyncio, no Kafka: the agent feeds it decoded events and publishes what it
returns. Recognition blocks, so it runs in a worker thread and the event loop keeps serving
heartbeats and other partitions meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from livetranslate_audio_pipeline.core.audio import Samples, decode_chunk, samples_to_ms
from livetranslate_audio_pipeline.core.errors import InvalidChunkError, PipelineError
from livetranslate_audio_pipeline.core.recognition import SpeechRecognizer
from livetranslate_audio_pipeline.core.utterances import (
    Utterance,
    UtteranceSegmenter,
    VoiceActivityDetector,
)
from livetranslate_schemas.events import (
    AudioChunkReceived,
    AudioStreamEnded,
    EventPayload,
    LatencyMetrics,
    ProcessingFailed,
    SessionCreated,
    SessionProcessingCompleted,
    TranscriptionCompleted,
    WordTiming,
)

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _OpenSession:
    segmenter: UtteranceSegmenter
    language: str | None
    transcribe: bool = True
    next_seq: int = 0
    last_seq: int = -1
    final_segments: int = 0
    # Monotonic time the newest chunk reached us: the reference for result latency.
    last_chunk_received: float = 0.0


class SessionTranscriber:
    """Per-worker: the open sessions of the partitions this worker owns."""

    def __init__(
        self,
        recognizer: SpeechRecognizer,
        vad_factory: Callable[[], VoiceActivityDetector],
        *,
        run_id: str,
        pipeline_version: str,
    ) -> None:
        self._recognizer = recognizer
        self._vad_factory = vad_factory
        self._run_id = run_id
        self._pipeline_version = pipeline_version
        self._sessions: dict[str, _OpenSession] = {}
        self._queue_ms: int | None = None

    @property
    def open_sessions(self) -> int:
        return len(self._sessions)

    async def handle(
        self, payload: EventPayload, *, published_at: datetime | None = None
    ) -> list[EventPayload]:
        """Process one audio-ingest event; returns the audio-results events it caused.

        ``published_at`` is when the event was published (its envelope's timestamp): results
        report how long it waited before the pipeline took it.
        """
        self._queue_ms = (
            round((datetime.now(UTC) - published_at).total_seconds() * 1000)
            if published_at is not None
            else None
        )
        match payload:
            case SessionCreated():
                self._open(
                    payload.session_id,
                    language=payload.audio_config.language,
                    transcribe=payload.processing_flags.transcribe,
                )
                return []
            case AudioChunkReceived():
                return await self._on_chunk(payload)
            case AudioStreamEnded():
                return await self._on_stream_ended(payload)
            case _:
                return []

    def _open(self, session_id: str, *, language: str | None, transcribe: bool) -> _OpenSession:
        session = self._sessions.get(session_id)
        if session is None:
            session = _OpenSession(UtteranceSegmenter(self._vad_factory()), language, transcribe)
            self._sessions[session_id] = session
        return session

    async def _on_chunk(self, chunk: AudioChunkReceived) -> list[EventPayload]:
        session = self._sessions.get(chunk.session_id) or self._open(
            # A chunk without a prior SessionCreated (a worker that lost its state, say):
            # the chunk carries enough configuration to carry on.
            chunk.session_id,
            language=chunk.audio_config.language,
            transcribe=chunk.processing_flags.transcribe if chunk.processing_flags else True,
        )
        if chunk.seq < session.next_seq:
            log.info("dropping duplicate chunk %s (seq %d)", chunk.chunk_id, chunk.seq)
            return []
        session.next_seq = chunk.seq + 1
        session.last_seq = chunk.seq
        session.last_chunk_received = time.monotonic()
        try:
            samples = _chunk_samples(chunk)
        except PipelineError as error:
            return [self._failure(chunk.session_id, error, chunk_id=chunk.chunk_id)]
        gap = chunk.sample_offset - session.segmenter.next_sample
        if gap > 0:
            # Keep the session clock true to the sender's: lost audio becomes silence.
            samples = np.concatenate((np.zeros(gap, dtype=np.float32), samples))
        utterances = session.segmenter.push(samples)
        return await self._recognize_all(chunk.session_id, session, utterances)

    async def _on_stream_ended(self, ended: AudioStreamEnded) -> list[EventPayload]:
        session = self._sessions.pop(ended.session_id, None)
        results: list[EventPayload] = []
        if session is not None:
            results = await self._recognize_all(
                ended.session_id, session, session.segmenter.flush()
            )
        final_count = session.final_segments if session else 0
        results.append(
            SessionProcessingCompleted(
                session_id=ended.session_id,
                run_id=self._run_id,
                final_segment_count=final_count,
                audio_duration_ms=samples_to_ms(ended.total_samples),
                last_seq=ended.last_seq,
            )
        )
        return results

    async def _recognize_all(
        self, session_id: str, session: _OpenSession, utterances: list[Utterance]
    ) -> list[EventPayload]:
        results: list[EventPayload] = []
        if not session.transcribe:
            return results
        for utterance in utterances:
            try:
                segment = await self._recognize(session_id, session, utterance)
            except PipelineError as error:
                results.append(self._failure(session_id, error))
                continue
            if segment is not None:
                results.append(segment)
        return results

    async def _recognize(
        self, session_id: str, session: _OpenSession, utterance: Utterance
    ) -> TranscriptionCompleted | None:
        started = time.monotonic()
        recognition = await asyncio.to_thread(
            self._recognizer.recognize, utterance.samples, language=session.language
        )
        finished = time.monotonic()
        if not recognition.text:
            return None
        offset_ms = samples_to_ms(utterance.start_sample)
        words = [
            WordTiming(
                word=word.word,
                start_ms=offset_ms + word.start_ms,
                end_ms=offset_ms + word.end_ms,
                probability=word.probability,
            )
            for word in recognition.words
        ]
        session.final_segments += 1
        return TranscriptionCompleted(
            session_id=session_id,
            # Derived from the audio position, so a re-run over the same audio produces the
            # same id and consumers can drop duplicates.
            segment_id=f"{session_id}:{utterance.start_sample:012d}",
            revision=0,
            is_final=True,
            run_id=self._run_id,
            pipeline_version=self._pipeline_version,
            model=self._recognizer.model_name,
            text=recognition.text,
            language=recognition.language,
            # Word timestamps are tighter than the VAD's padded region.
            start_ms=words[0].start_ms if words else offset_ms,
            end_ms=words[-1].end_ms if words else samples_to_ms(utterance.end_sample),
            words=words,
            confidence=recognition.confidence,
            # The chunk whose arrival closed the utterance.
            last_seq=session.last_seq,
            latency=LatencyMetrics(
                asr_ms=round((finished - started) * 1000),
                queue_ms=self._queue_ms,
                end_of_speech_to_result_ms=round((finished - session.last_chunk_received) * 1000),
            ),
        )

    def _failure(
        self, session_id: str, error: PipelineError, *, chunk_id: str | None = None
    ) -> ProcessingFailed:
        log.warning("session %s: %s failed: %s", session_id, error.stage, error)
        return ProcessingFailed(
            session_id=session_id,
            stage=error.stage,
            error_code=error.error_code,
            message=str(error),
            retryable=error.retryable,
            chunk_id=chunk_id,
            run_id=self._run_id,
        )


def _chunk_samples(chunk: AudioChunkReceived) -> Samples:
    if chunk.audio is None:
        raise InvalidChunkError(f"chunk {chunk.chunk_id} carries no inline audio")
    config = chunk.audio_config
    return decode_chunk(
        chunk.audio,
        encoding=config.encoding.value,
        sample_rate_hz=config.sample_rate_hz,
        channels=config.channels,
    )

"""Running a session's recorded audio through the pipeline again, as a run of its own.

The run feeds the session's chunks, as audio-ingest kept them, to a SessionTranscriber of its
own (another model, preset or languages), with the request's settings laid over each chunk's.
Its results carry the run's id, so they stand beside the live run's; its segment ids depend
only on the session and the audio, so a run started again after a crash rewrites the same
rows instead of adding new ones.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from livetranslate_audio_pipeline.core.audio import PIPELINE_SAMPLE_RATE
from livetranslate_audio_pipeline.core.errors import PipelineError
from livetranslate_audio_pipeline.core.session import SessionTranscriber
from livetranslate_common.runs import check_run_id
from livetranslate_schemas.events import (
    AudioChunkReceived,
    AudioStreamEnded,
    EventPayload,
    ProcessingFlags,
    ReprocessRequested,
    RunProgress,
    RunStatus,
    SourceType,
    TranscriptionCompleted,
)

log = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 500
END_REASON = "reprocessed"

RecordedAudio = AsyncIterator[AudioChunkReceived | AudioStreamEnded]
Publish = Callable[[Sequence[EventPayload]], Awaitable[None]]


class ReprocessError(PipelineError):
    """The run cannot be done as asked (no such model, no audio left, a bad range...)."""

    stage = "reprocess"
    error_code = "reprocess_failed"


def _ms_to_samples(ms: int) -> int:
    return ms * PIPELINE_SAMPLE_RATE // 1000


def _samples_to_ms(samples: int) -> int:
    return samples * 1000 // PIPELINE_SAMPLE_RATE


def rerun_chunk(chunk: AudioChunkReceived, request: ReprocessRequested) -> AudioChunkReceived:
    """The chunk as the run sees it: the request's settings over the session's own.

    Every chunk is transcribed (a session may have been recorded with transcription off, for
    later), without partial results (nobody watches a run live), and as a recording: the
    pipeline then spends nothing on previews.
    """
    flags = chunk.processing_flags or ProcessingFlags()
    targets = flags.translate_to if request.translate_to is None else request.translate_to
    flags = replace(
        flags,
        transcribe=True,
        partials=False,
        diarize=flags.diarize if request.diarize is None else request.diarize,
        translate_to=list(targets),
    )
    audio_config = replace(
        chunk.audio_config,
        preset=request.preset or chunk.audio_config.preset,
        language=request.language or chunk.audio_config.language,
    )
    return replace(
        chunk, processing_flags=flags, audio_config=audio_config, source_type=SourceType.UPLOAD
    )


@dataclass(slots=True)
class _Tally:
    first_sample: int | None = None
    end_sample: int = 0
    last_seq: int = -1
    chunks: int = 0
    finals: int = 0
    last_report: float = field(default_factory=time.monotonic)


class ReprocessRun:
    """One request's run: feeds the audio, publishes results and progress as it goes."""

    def __init__(
        self,
        request: ReprocessRequested,
        *,
        model: str,
        pipeline_version: str,
        requested_at: datetime,
        publish: Publish,
        report_every_s: float = 2.0,
    ) -> None:
        self._request = request
        self._model = model
        self._pipeline_version = pipeline_version
        self._requested_at = requested_at
        self._publish = publish
        self._report_every_s = report_every_s
        self._start = _ms_to_samples(request.start_ms or 0)
        self._end = _ms_to_samples(request.end_ms) if request.end_ms is not None else None
        self._tally = _Tally()

    def check(self) -> None:
        """ReprocessError unless the request can be run as it stands."""
        request = self._request
        try:
            check_run_id(request.run_id)
        except ValueError as error:
            raise ReprocessError(str(error)) from error
        if request.start_ms is not None and request.start_ms < 0:
            raise ReprocessError(f"start_ms must not be negative, got {request.start_ms}")
        if request.end_ms is not None and request.end_ms <= (request.start_ms or 0):
            raise ReprocessError(
                f"end_ms ({request.end_ms}) must come after start_ms ({request.start_ms or 0})"
            )

    @property
    def total_ms(self) -> int | None:
        """Audio the run will cover, when the request tells enough to know it."""
        request = self._request
        end = request.end_ms
        if request.total_ms is not None:
            end = request.total_ms if end is None else min(end, request.total_ms)
        return None if end is None else max(0, end - (request.start_ms or 0))

    def progress(self, status: RunStatus, *, error: str | None = None) -> RunProgress:
        tally = self._tally
        processed = 0 if tally.first_sample is None else tally.end_sample - self._start
        return RunProgress(
            session_id=self._request.session_id,
            run_id=self._request.run_id,
            status=status,
            model=self._model,
            pipeline_version=self._pipeline_version,
            processed_ms=max(0, _samples_to_ms(processed)),
            total_ms=self.total_ms,
            final_segment_count=tally.finals,
            start_ms=self._request.start_ms,
            end_ms=self._request.end_ms,
            requested_at=self._requested_at,
            error=error[:MAX_ERROR_LENGTH] if error is not None else None,
        )

    async def run(self, transcriber: SessionTranscriber, audio: RecordedAudio) -> RunProgress:
        """Process the recorded audio with ``transcriber`` (the run's own: its run id, its
        model); returns the last report (COMPLETED), already published.

        Raises ReprocessError when the request or the audio asked for is not right; other
        errors propagate. The caller reports a failure (``progress(RunStatus.FAILED, ...)``).
        """
        self.check()
        await self._publish([self.progress(RunStatus.RUNNING)])
        async for event in audio:
            if isinstance(event, AudioStreamEnded):
                break
            if self._end is not None and event.sample_offset >= self._end:
                break
            if event.sample_offset + event.num_samples <= self._start:
                continue
            await self._feed(transcriber, event)
        if self._tally.first_sample is None:
            raise ReprocessError(
                f"session {self._request.session_id} has no recorded audio in the range asked"
                " for (audio-ingest keeps it only for its retention period)"
            )
        ended = AudioStreamEnded(
            session_id=self._request.session_id,
            last_seq=self._tally.last_seq,
            total_chunks=self._tally.chunks,
            total_samples=self._tally.end_sample,
            reason=END_REASON,
        )
        await self._emit(await transcriber.handle(ended))
        done = self.progress(RunStatus.COMPLETED)
        await self._publish([done])
        return done

    async def _feed(self, transcriber: SessionTranscriber, chunk: AudioChunkReceived) -> None:
        tally = self._tally
        if tally.first_sample is None:
            tally.first_sample = chunk.sample_offset
            # Chunks older than the retention are gone: a run must not pass off part of a
            # session as all of it.
            if chunk.sample_offset > self._start and chunk.seq > 0:
                raise ReprocessError(
                    f"the audio of session {chunk.session_id} before"
                    f" {_samples_to_ms(chunk.sample_offset)} ms is no longer in audio-ingest"
                    " (its retention period has passed)"
                )
        tally.chunks += 1
        tally.last_seq = chunk.seq
        tally.end_sample = max(tally.end_sample, chunk.sample_offset + chunk.num_samples)
        await self._emit(await transcriber.handle(rerun_chunk(chunk, self._request)))
        now = time.monotonic()
        if now - tally.last_report >= self._report_every_s:
            tally.last_report = now
            await self._publish([self.progress(RunStatus.RUNNING)])

    async def _emit(self, results: list[EventPayload]) -> None:
        self._tally.finals += sum(
            isinstance(result, TranscriptionCompleted) and result.is_final for result in results
        )
        if results:
            await self._publish(results)

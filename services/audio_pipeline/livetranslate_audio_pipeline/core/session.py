"""One worker's sessions: from audio chunks to partial and final transcript segments.

Plain Python and asyncio, no Kafka: the agent feeds it decoded events and publishes what it
returns. Final segments are recognised before ``handle`` returns, so the event that closed an
utterance is only acknowledged once its final result has been published (at least once,
never lost). Partial results are previews: a background task recognises the newest open
utterance of each session whenever no final is waiting, and publishes through ``publish``;
one that is overtaken by its utterance's final is dropped.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import asdict, replace
from datetime import UTC, datetime

import numpy as np

from livetranslate_audio_pipeline.core.audio import (
    PIPELINE_SAMPLE_RATE,
    chunk_samples,
    samples_to_ms,
)
from livetranslate_audio_pipeline.core.audio_stages import AudioStageChain
from livetranslate_audio_pipeline.core.checkpoint import (
    AudioLog,
    LogPosition,
    SessionCheckpoint,
    SessionStateStore,
)
from livetranslate_audio_pipeline.core.endpointing import EndpointerConfig
from livetranslate_audio_pipeline.core.errors import PipelineError
from livetranslate_audio_pipeline.core.open_session import (
    OpenSession,
    PartialJob,
    segment_id_for,
)
from livetranslate_audio_pipeline.core.previews import PreviewScheduler
from livetranslate_audio_pipeline.core.recognition import (
    Recognition,
    SpeechRecognizer,
)
from livetranslate_audio_pipeline.core.recognition_gate import RecognitionGate
from livetranslate_audio_pipeline.core.segments import SegmentContext, build_segment
from livetranslate_audio_pipeline.core.session_options import SessionOptions
from livetranslate_audio_pipeline.core.speaker_names import merge_speaker_names
from livetranslate_audio_pipeline.core.speakers import (
    SpeakerEmbedding,
    SpeakerRegistry,
    SpeakerRegistryState,
)
from livetranslate_audio_pipeline.core.stream_timing import ChunkVerdict, StreamTiming
from livetranslate_audio_pipeline.core.translation import TranslationRouter
from livetranslate_audio_pipeline.core.translation_stage import translations_for
from livetranslate_audio_pipeline.core.utterance_recognition import UtteranceRecognition
from livetranslate_audio_pipeline.core.utterance_tracker import (
    PartialDue,
    PauseBegan,
    TrackerEvent,
    UtteranceAudio,
    UtteranceClosed,
    UtteranceTracker,
)
from livetranslate_schemas.events import (
    AudioChunkReceived,
    AudioStreamEnded,
    EventPayload,
    LatencyMetrics,
    ProcessingFailed,
    ProcessingFlags,
    SessionCreated,
    SessionDeleted,
    SessionProcessingCompleted,
    SourceType,
    SpeakerNamesUpdated,
    TranscriptionCompleted,
    TranslationCompleted,
)

log = logging.getLogger(__name__)

# Audio stages applied when a session names no preset: "none" leaves the audio untouched;
# presets are opt-in until measured to help recognition on real meetings.
DEFAULT_PRESET = "none"

_SAME_UTTERANCE_SAMPLES = 4800  # 300 ms, less than any pause that ends an utterance

# How often, at most, the open sessions are looked through for idle ones (seconds).
_EVICTION_SCAN_S = 60.0


def _published_already(session: OpenSession, event: TrackerEvent) -> bool:
    """Whether ``event`` is about audio whose final is already out.

    An utterance (or a preview or pause of one) ending within the shortest possible pause of
    the last published final is that final's utterance, seen from a slightly different start:
    a real next utterance ends at least a pause and some speech later.
    """
    if session.finalized_until_sample <= 0:
        return False
    return event.audio.end_sample <= session.finalized_until_sample + _SAME_UTTERANCE_SAMPLES


PublishPartial = Callable[[str, TranscriptionCompleted], Awaitable[None]]


class SessionTranscriber:
    """Per worker: the open sessions of the partitions this worker owns."""

    def __init__(
        self,
        recognizer: SpeechRecognizer,
        *,
        run_id: str,
        pipeline_version: str,
        endpointer: EndpointerConfig | None = None,
        partial_interval_ms: int = 1000,
        speculate_after_ms: int | None = 64,
        checkpoint_every_ms: int = 0,
        evict_idle_after_s: float = 0.0,
        context_finals: int = 0,
        publish_partial: PublishPartial | None = None,
        translation: TranslationRouter | None = None,
        speakers: SpeakerRegistry | None = None,
        store: SessionStateStore | None = None,
        audio_log: AudioLog | None = None,
    ) -> None:
        self._store = store
        self._audio_log = audio_log
        # Sessions whose stream ended, with their final record, until checkpointed.
        self._ended: dict[str, SessionCheckpoint] = {}
        # Speaker names changed by an event, by session, until checkpointed.
        self._names_to_save: dict[str, dict[str, str]] = {}
        self._translation = translation or TranslationRouter()
        self._speakers = speakers or SpeakerRegistry()
        self._run_id = run_id
        self._pipeline_version = pipeline_version
        self._endpointer = endpointer or EndpointerConfig()
        self._partial_interval_ms = partial_interval_ms
        self._speculate_after_ms = speculate_after_ms
        # Progress is saved after every event that published something, else once per this
        # much audio (and at a session's first chunk); 0 saves after every event.
        self._checkpoint_every = checkpoint_every_ms * PIPELINE_SAMPLE_RATE // 1000
        self._publish_partial = publish_partial
        self._sessions: dict[str, OpenSession] = {}
        # Sessions no chunk has reached for this long leave memory (0: never); see
        # ``evict_idle``. Looked for at most every _EVICTION_SCAN_S.
        self._evict_idle_after_s = evict_idle_after_s
        self._next_eviction_scan = 0.0
        self._gate = RecognitionGate()
        self._recognition = UtteranceRecognition(
            recognizer, self._gate, context_finals=context_finals
        )
        # Newest pending partial per session; dict order is submission order.
        self._previews: PreviewScheduler[PartialJob] = PreviewScheduler(
            self._gate, self._run_partial
        )

    @property
    def open_sessions(self) -> int:
        return len(self._sessions)

    async def close(self) -> None:
        await self._previews.close()

    async def handle(
        self,
        payload: EventPayload,
        *,
        published_at: datetime | None = None,
        position: LogPosition | None = None,
    ) -> list[EventPayload]:
        """Process one audio-ingest event; returns the audio-results events it caused.

        ``published_at`` is when the event was published (its envelope's timestamp): results
        report how long it waited before the pipeline took it.
        """
        queue_ms = (
            round((datetime.now(UTC) - published_at).total_seconds() * 1000)
            if published_at is not None
            else None
        )
        results = await self._dispatch(payload, position, queue_ms)
        session = self._sessions.get(getattr(payload, "session_id", ""))
        if results and session is not None:
            session.checkpoint_due = True
        return results

    async def _dispatch(
        self, payload: EventPayload, position: LogPosition | None, queue_ms: int | None
    ) -> list[EventPayload]:
        match payload:
            case SessionCreated():
                if self._store is not None and self._store.load_checkpoint(payload.session_id):
                    return []  # redelivered after a restart: its chunks will take it over
                try:
                    session = self._open(
                        payload.session_id,
                        SessionOptions.of(payload.processing_flags, payload.audio_config),
                    )
                except PipelineError as error:
                    return [self._failure(payload.session_id, error)]
                if session.speaker_names:
                    # Durable from the start: a worker that takes the session over before its
                    # first chunk (no checkpoint yet) must still know them for a rename.
                    self._names_to_save[payload.session_id] = dict(session.speaker_names)
                if position is not None:
                    # The first checkpoint is taken here, replaying from this event: sessions
                    # that start streaming together then save on their own phases from the
                    # first chunk on, instead of all at once (500 sessions starting together
                    # held up every chunk for a second, measured).
                    session.note_log_position(
                        session.tracker.position, position.partition, position.offset
                    )
                return []
            case SpeakerNamesUpdated():
                return [self._rename_speakers(payload)]
            case AudioChunkReceived():
                return await self._on_chunk(payload, position, queue_ms)
            case AudioStreamEnded():
                return await self._on_stream_ended(payload)
            case SessionDeleted():
                self._forget(payload.session_id)
                return []
            case _:
                return []

    def _open(
        self, session_id: str, options: SessionOptions, *, start_sample: int = 0
    ) -> OpenSession:
        session = self._sessions.get(session_id)
        if session is None:
            tracker = UtteranceTracker(
                self._endpointer,
                partial_interval_ms=self._partial_interval_ms,
                partials=options.partials and self._publish_partial is not None,
                start_sample=start_sample,
                speculate_after_ms=self._speculate_after_ms,
            )
            stages = AudioStageChain.from_preset(options.preset or DEFAULT_PRESET)
            session = OpenSession(session_id, tracker, options, stages)
            session.speaker_names = self._saved_names(session_id, options)
            self._sessions[session_id] = session
        return session

    async def _on_chunk(
        self, chunk: AudioChunkReceived, position: LogPosition | None, queue_ms: int | None
    ) -> list[EventPayload]:
        results: list[EventPayload] = []
        session = self._sessions.get(chunk.session_id)
        if session is None:
            try:
                session, results = await self._take_over(chunk, position)
            except PipelineError as error:
                return [self._failure(chunk.session_id, error, chunk_id=chunk.chunk_id)]
        verdict, issues = session.timing.observe(
            chunk, log_offset=position.offset if position is not None else None
        )
        session.timing_changed |= verdict is not ChunkVerdict.REDELIVERED
        results += [issue.event(chunk.session_id, self._run_id) for issue in issues]
        if verdict is ChunkVerdict.REDELIVERED and chunk.seq >= session.next_seq:
            # Observed, but the progress says its audio is still owed (a crash kept the timing's
            # write and lost the progress's): it goes in, unreported.
            verdict = ChunkVerdict.IN_ORDER
        if not verdict.accepted:
            # Duplicates and late chunks are reported (above); a redelivery is not news.
            log.info("dropping %s chunk %s (seq %d)", verdict, chunk.chunk_id, chunk.seq)
            return results
        session.last_queue_ms = queue_ms
        return results + await self._ingest(session, chunk, position)

    async def _ingest(
        self,
        session: OpenSession,
        chunk: AudioChunkReceived,
        position: LogPosition | None,
        *,
        replaying: bool = False,
    ) -> list[EventPayload]:
        session.next_seq = chunk.seq + 1
        session.last_seq = chunk.seq
        session.last_chunk_received = time.monotonic()
        results: list[EventPayload] = []
        if chunk.processing_flags is not None:
            results = await self._apply_flags(session, chunk.processing_flags, replaying)
        session.live = chunk.source_type != SourceType.UPLOAD
        if not session.live:
            # A whole recording arrives at once: previews of it would only cost CPU.
            session.tracker.partials = False
        if position is not None:
            session.note_log_position(chunk.sample_offset, position.partition, position.offset)
        try:
            samples = chunk_samples(chunk)
            samples, session.stage_state = session.stages.process(samples, session.stage_state)
        except PipelineError as error:
            if not replaying:
                results.append(self._failure(chunk.session_id, error, chunk_id=chunk.chunk_id))
            return results
        gap = chunk.sample_offset - session.tracker.position
        if gap > 0:
            # Keep the session clock true to the sender's: lost audio becomes silence.
            samples = np.concatenate((np.zeros(gap, dtype=np.float32), samples))
        if not session.options.transcribe:
            # Recorded for later (reprocessing), not transcribed now: the VAD would only
            # cost CPU (about 5 ms per second of audio).
            session.tracker.skip(len(samples))
            return results
        events = session.tracker.push(samples)
        if replaying:
            events = self._finals_only(events)
        return results + await self._act_on(session, events)

    async def _apply_flags(
        self, session: OpenSession, flags: ProcessingFlags, replaying: bool
    ) -> list[EventPayload]:
        """A chunk changed the session's flags; switching transcription off ends the open
        utterance there (what was said so far still gets its final)."""
        options = session.options.with_flags(flags)
        results: list[EventPayload] = []
        if session.options.transcribe and not options.transcribe:
            closing = session.tracker.flush()
            if replaying:
                closing = self._finals_only(closing)
            results = await self._act_on(session, closing)
        session.options = options
        session.tracker.partials = options.partials and self._publish_partial is not None
        return results

    @staticmethod
    def _finals_only(events: list[TrackerEvent]) -> list[TrackerEvent]:
        """Rebuilding state: no previews or speculation, only utterances that closed (of
        those, _act_on drops the ones whose final the old owner already published)."""
        return [event for event in events if isinstance(event, UtteranceClosed)]

    async def _take_over(
        self, chunk: AudioChunkReceived, position: LogPosition | None
    ) -> tuple[OpenSession, list[EventPayload]]:
        """First chunk of a session this worker has no memory of: new, or taken over."""
        checkpoint = self._store.load_checkpoint(chunk.session_id) if self._store else None
        if checkpoint is None:
            # A chunk without a prior SessionCreated (or whose SessionCreated another worker
            # took): the chunk carries enough configuration to carry on, from its own clock.
            options = SessionOptions.of(chunk.processing_flags, chunk.audio_config)
            session = self._open(chunk.session_id, options, start_sample=chunk.sample_offset)
            return session, []
        return await self._resume(
            chunk.session_id, checkpoint, before_seq=max(checkpoint.next_seq, chunk.seq)
        )

    async def _resume(
        self, session_id: str, checkpoint: SessionCheckpoint, *, before_seq: int
    ) -> tuple[OpenSession, list[EventPayload]]:
        """Rebuild a session from its checkpoint and the log, publishing only what is missing.

        Replays its chunks from the checkpoint's offset up to ``before_seq``: the ones the old
        owner had processed (to refill the audio buffer and the endpointer) and any it had
        taken but not recorded (a crash between the two), whose finals are still owed.
        """
        log.info("taking over session %s at seq %d", session_id, checkpoint.next_seq)
        replay: list[tuple[int, AudioChunkReceived]] = []
        if self._audio_log is not None and checkpoint.replay_from_offset is not None:
            replay = await self._audio_log.chunks(
                session_id,
                partition=checkpoint.partition,
                from_offset=checkpoint.replay_from_offset,
                before_seq=before_seq,
            )
        session = self._open(
            session_id,
            SessionOptions.from_dict(checkpoint.options),
            start_sample=replay[0][1].sample_offset if replay else 0,
        )
        session.partition = checkpoint.partition
        session.final_segments = checkpoint.final_segments
        session.finalized_until_sample = checkpoint.finalized_until_sample
        session.recent_finals = list(checkpoint.recent_finals or [])
        speakers = self._store.load_speakers(session_id) if self._store else None
        if speakers is not None:
            session.speaker_state = SpeakerRegistryState.from_dict(speakers)
        session.timing = self._restored_timing(session_id, checkpoint, replay)
        session.timing_changed = True
        results: list[EventPayload] = []
        for offset, replayed in replay:
            # Catches the timing up on chunks the old owner took but did not record (those it
            # recorded are redeliveries to it); what they revealed was the old owner's to
            # report, so nothing is reported twice.
            session.timing.observe(replayed, log_offset=offset)
            if replayed.seq < session.next_seq:
                continue  # a duplicate or late chunk in the log: the old owner dropped it too
            replayed_at = LogPosition(checkpoint.partition, offset)
            results += await self._ingest(session, replayed, replayed_at, replaying=True)
        session.next_seq = max(session.next_seq, checkpoint.next_seq)
        session.timing.skip_to(session.next_seq)
        return session, results

    def _restored_timing(
        self,
        session_id: str,
        checkpoint: SessionCheckpoint,
        replay: list[tuple[int, AudioChunkReceived]],
    ) -> StreamTiming:
        saved = self._store.load_timing(session_id) if self._store else None
        if saved is not None:
            return StreamTiming.from_dict(saved)
        # Never recorded (a session from before timing was kept): expecting seq 0 would make
        # its whole past one gap.
        return StreamTiming.resuming(replay[0][1].seq if replay else checkpoint.next_seq)

    def checkpoint(self, session_id: str) -> None:
        """Record the session's progress; call once its results are published."""
        if self._store is None:
            return
        names = self._names_to_save.pop(session_id, None)
        if names is not None:
            self._store.save_speaker_names(session_id, names)
        ended = self._ended.pop(session_id, None)
        if ended is not None:
            # A tombstone: a redelivered end of stream finds the session done.
            self._store.save_checkpoint(session_id, ended)
            return
        session = self._sessions.get(session_id)
        if session is None or session.partition is None:
            return
        if (
            not session.checkpoint_due
            and session.checkpointed_at is not None
            and session.tracker.position - session.checkpointed_at < self._checkpoint_every
        ):
            # Nothing published since the last checkpoint: a worker taking over from it
            # replays a little more audio and finds the same (no) results. Saving after every
            # 200 ms chunk made the table writes a third of a busy worker's time.
            return
        first = session.checkpointed_at is None
        session.checkpoint_due = False
        # Sessions that start together would otherwise save together once a period, all of
        # them in the same instant: a burst of table writes that holds up every chunk behind
        # it (a lag spike every period with 500 sessions started at once, measured). A phase
        # per session spreads them over the period.
        session.checkpointed_at = session.tracker.position - (
            self._checkpoint_phase(session_id) if first else 0
        )
        needed_from = session.tracker.buffer_start
        offsets = session.chunk_offsets
        # Keep the chunk that holds the oldest needed sample; drop the ones before it.
        while len(offsets) > 1 and offsets[1][0] <= needed_from:
            offsets.popleft()
        self._store.save_checkpoint(
            session_id,
            SessionCheckpoint(
                options=asdict(session.options),
                partition=session.partition,
                next_seq=session.next_seq,
                replay_from_offset=offsets[0][1] if offsets else None,
                final_segments=session.final_segments,
                finalized_until_sample=session.finalized_until_sample,
                recent_finals=list(session.recent_finals),
            ),
        )
        if session.speakers_changed and session.speaker_state is not None:
            self._store.save_speakers(session_id, session.speaker_state.to_dict())
            session.speakers_changed = False
        if session.timing_changed:
            self._store.save_timing(session_id, session.timing.to_dict())
            session.timing_changed = False

    def _checkpoint_phase(self, session_id: str) -> int:
        """A stable offset in [0, period) samples, the same on every worker."""
        if self._checkpoint_every <= 0:
            return 0
        return zlib.crc32(session_id.encode()) % self._checkpoint_every

    def _rename_speakers(self, update: SpeakerNamesUpdated) -> SpeakerNamesUpdated:
        """Merge a names request, in log order, into the session's names; the echo carries
        the complete mapping. Also for a session this worker holds nothing open for (not
        started, ended, or owned elsewhere until now): names are presentation and outlive
        the audio, so they are saved and echoed all the same.
        """
        session = self._sessions.get(update.session_id)
        current = (
            session.speaker_names
            if session is not None
            else self._saved_names(update.session_id, None)
        )
        names = merge_speaker_names(current, update.changes)
        if session is not None:
            session.speaker_names = names
        # Saved once the echo is out (checkpoint), like the rest of the session's state.
        self._names_to_save[update.session_id] = names
        return replace(update, names=names)

    def _saved_names(self, session_id: str, options: SessionOptions | None) -> dict[str, str]:
        """The session's names as last recorded: a change not checkpointed yet, the store's,
        else those of its configuration (``options``, or else its checkpoint's options)."""
        unsaved = self._names_to_save.get(session_id)
        if unsaved is not None:
            return dict(unsaved)
        if self._store is not None:
            saved = self._store.load_speaker_names(session_id)
            if saved is not None:
                return saved
            checkpoint = self._store.load_checkpoint(session_id) if options is None else None
            if checkpoint is not None:
                options = SessionOptions.from_dict(checkpoint.options)
        return dict(options.speaker_names) if options is not None else {}

    def forget_partitions(self, partitions: set[int]) -> None:
        """Partitions went to another worker: their sessions' memory here is stale."""
        for session_id, session in list(self._sessions.items()):
            if session.partition in partitions:
                self._drop(session_id, session)

    def evict_idle(self, now: float | None = None) -> list[str]:
        """Drop from memory the sessions no chunk has reached for ``evict_idle_after_s``;
        returns their ids. Call it between events (the agent does, after each one).

        A live stream always sends audio, silence included, so a session this quiet has lost
        its sender: a gateway that died without publishing the end, say. Kept, each would hold
        its audio buffer and a speech detector for as long as the worker runs. Nothing is lost
        by dropping one: its progress is in the tables and its audio in the log, so a chunk or
        an end arriving after all finds it as a worker taking the session over would, and
        carries on from its last checkpoint (replaying the audio since).
        """
        if self._evict_idle_after_s <= 0:
            return []
        now = time.monotonic() if now is None else now
        if now < self._next_eviction_scan:
            return []
        self._next_eviction_scan = now + min(_EVICTION_SCAN_S, self._evict_idle_after_s / 4)
        idle = [
            session_id
            for session_id, session in self._sessions.items()
            if now - session.last_chunk_received >= self._evict_idle_after_s
        ]
        for session_id in idle:
            self._drop(session_id, self._sessions[session_id])
        if idle:
            log.info("%d session(s) idle for %g s left memory", len(idle), self._evict_idle_after_s)
        return idle

    def _forget(self, session_id: str) -> None:
        """A deleted session: nothing of it stays, in memory or in the tables."""
        session = self._sessions.get(session_id)
        if session is not None:
            self._drop(session_id, session)
        self._names_to_save.pop(session_id, None)
        self._ended.pop(session_id, None)
        if self._store is not None:
            self._store.forget(session_id)
        log.info("session %s deleted: its state is forgotten", session_id)

    def _drop(self, session_id: str, session: OpenSession) -> None:
        del self._sessions[session_id]
        self._previews.discard(session_id)
        if session.speculation is not None:
            session.speculation.task.cancel()
        session.tracker.close()

    async def _on_stream_ended(self, ended: AudioStreamEnded) -> list[EventPayload]:
        results: list[EventPayload] = []
        session = self._sessions.pop(ended.session_id, None)
        if session is None and self._store is not None:
            checkpoint = self._store.load_checkpoint(ended.session_id)
            if checkpoint is not None and checkpoint.completed:
                return []  # redelivered: its completion is already out
            if checkpoint is not None:
                session, results = await self._resume(
                    ended.session_id, checkpoint, before_seq=ended.last_seq + 1
                )
                self._sessions.pop(ended.session_id, None)
        if session is not None:
            self._previews.discard(ended.session_id)
            results += await self._act_on(session, session.tracker.flush())
            session.tracker.close()
        final_count = session.final_segments if session else 0
        self._ended[ended.session_id] = SessionCheckpoint(
            options=asdict(session.options) if session else {},
            partition=session.partition or 0 if session else 0,
            next_seq=ended.last_seq + 1,
            replay_from_offset=None,
            final_segments=final_count,
            finalized_until_sample=session.finalized_until_sample if session else 0,
            completed=True,
        )
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

    async def _act_on(self, session: OpenSession, events: list[TrackerEvent]) -> list[EventPayload]:
        results: list[EventPayload] = []
        if not session.options.transcribe:
            return results
        for event in events:
            if _published_already(session, event):
                # The tail of an utterance whose final is out, seen again by a worker that took
                # the session over: its replay started inside that utterance's last second (the
                # pre-roll kept for the next one) and the utterance closes only after the replay.
                continue
            segment_id = segment_id_for(session.session_id, event.audio.start_sample)
            if isinstance(event, PartialDue):
                self._previews.submit(
                    session.session_id,
                    PartialJob(session, segment_id, event.audio, event.revision),
                )
                continue
            if isinstance(event, PauseBegan):
                self._recognition.speculate(session, event.audio)
                continue
            # The final supersedes any partial still waiting for this utterance.
            pending = self._previews.pending(session.session_id)
            if pending is not None and pending.segment_id == segment_id:
                self._previews.discard(session.session_id)
            try:
                recognised = await self._recognition.final(session, event.audio)
            except PipelineError as error:
                results.append(self._failure(session.session_id, error))
                continue
            if not recognised.recognition.text:
                continue
            session.final_segments += 1
            self._recognition.remember_final(session, recognised.recognition.text)
            session.finalized_until_sample = event.audio.end_sample
            final = self._segment(
                session,
                segment_id,
                event.audio,
                recognised.recognition,
                event.revision,
                recognised.asr_ms,
                True,
            )
            if session.options.diarize:
                final = replace(final, speaker=self._attribute(session, recognised.embedding))
            results.append(final)
            for outcome in await translations_for(
                self._translation,
                final,
                session.options.translate_to,
                samples=event.audio.samples,
            ):
                results.append(
                    outcome
                    if isinstance(outcome, TranslationCompleted)
                    else self._failure(session.session_id, outcome)
                )
        return results

    def _attribute(self, session: OpenSession, embedding: SpeakerEmbedding | None) -> str | None:
        if embedding is None:
            return None
        label, session.speaker_state = self._speakers.assign(embedding, session.speaker_state)
        session.speakers_changed = True
        return label

    async def _run_partial(self, job: PartialJob) -> None:
        if job.session.tracker.open_utterance_start != job.audio.start_sample:
            return  # its utterance has ended meanwhile: the final covers it
        started = time.monotonic()
        try:
            recognition = await self._recognition.preview(job.session, job.audio.samples)
        except PipelineError as error:
            log.warning("partial for %s failed: %s", job.segment_id, error)
            return
        asr_ms = round((time.monotonic() - started) * 1000)
        await self._publish_partial_result(job, recognition, asr_ms)

    async def _publish_partial_result(
        self, job: PartialJob, recognition: Recognition, asr_ms: int
    ) -> None:
        session = job.session
        still_open = session.tracker.open_utterance_start == job.audio.start_sample
        if not still_open or not recognition.text or self._publish_partial is None:
            return
        partial = self._segment(
            session, job.segment_id, job.audio, recognition, job.revision, asr_ms, False
        )
        await self._publish_partial(session.session_id, partial)

    def _segment(
        self,
        session: OpenSession,
        segment_id: str,
        audio: UtteranceAudio,
        recognition: Recognition,
        revision: int,
        asr_ms: int,
        is_final: bool,
    ) -> TranscriptionCompleted:
        return build_segment(
            SegmentContext(
                session_id=session.session_id,
                run_id=self._run_id,
                pipeline_version=self._pipeline_version,
                model=self._recognition.model_name,
                last_seq=session.last_seq,
                speaker_map=session.speaker_names,
            ),
            segment_id=segment_id,
            audio=audio,
            recognition=recognition,
            revision=revision,
            is_final=is_final,
            latency=LatencyMetrics(
                asr_ms=asr_ms,
                queue_ms=session.last_queue_ms,
                end_of_speech_to_result_ms=round(
                    (time.monotonic() - session.last_chunk_received) * 1000
                ),
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

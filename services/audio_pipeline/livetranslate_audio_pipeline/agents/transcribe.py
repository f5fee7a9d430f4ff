"""audio-ingest -> audio-results: chunks in, transcript segments out."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
from faust.types import TP, EventT

from livetranslate_audio_pipeline import PIPELINE_VERSION, metrics
from livetranslate_audio_pipeline.adapters.audio_log import KafkaAudioLog
from livetranslate_audio_pipeline.adapters.faust_state import FaustSessionStore
from livetranslate_audio_pipeline.app import app, kafka_settings, pipeline_settings
from livetranslate_audio_pipeline.core.audio import PIPELINE_SAMPLE_RATE
from livetranslate_audio_pipeline.core.checkpoint import LogPosition
from livetranslate_audio_pipeline.core.errors import PipelineError
from livetranslate_audio_pipeline.core.recognition import RecognitionMode, SpeechRecognizer
from livetranslate_audio_pipeline.core.session import SessionTranscriber
from livetranslate_audio_pipeline.core.speakers import utterance_embedding
from livetranslate_audio_pipeline.core.vad_pool import DEFAULT_POOL
from livetranslate_audio_pipeline.recognizers import (
    build_recognizer,
    build_translation_router,
    endpointer_config,
)
from livetranslate_audio_pipeline.tables import (
    session_progress,
    session_speakers,
    session_timing,
)
from livetranslate_audio_pipeline.topics import SOURCE, audio_ingest, audio_results
from livetranslate_common.catalogue import AUDIO_INGEST
from livetranslate_common.envelope import new_event
from livetranslate_common.faust_batches import BatchedTopic
from livetranslate_common.heap import freeze_long_lived
from livetranslate_common.log import log_context, trace_id_var
from livetranslate_common.serde import encode_key
from livetranslate_schemas.events import (
    AudioStreamEnded,
    Envelope,
    EventPayload,
    SessionCreated,
    SessionDeleted,
    TranscriptionCompleted,
)

log = logging.getLogger(__name__)

# A session's start, end and deletion go on to audio-results as they are (same event id,
# time and trace): that topic alone then tells each session's whole story, so the read model
# is projected, and rebuilt, from it without reading the audio.
FORWARDED_TO_RESULTS = (SessionCreated, AudioStreamEnded, SessionDeleted)

_transcriber: SessionTranscriber | None = None
_building = asyncio.Lock()


def recognizer_loaded() -> bool:
    return _transcriber is not None


async def _publish_partial(session_id: str, partial: TranscriptionCompleted) -> None:
    metrics.RESULTS_PUBLISHED.labels(type(partial).__name__).inc()
    await audio_results.send(
        key=encode_key(session_id),
        value=new_event(partial, source=SOURCE, trace_id=trace_id_var.get()),
    )


def _warm_up(recognizer: SpeechRecognizer) -> None:
    """Pay the one-off costs of the first recognition and speaker embedding now.

    The first utterance of a fresh worker otherwise waits for them (measured: its final came
    1.5 s later than the others').
    """
    noise = np.random.default_rng(0).normal(0.0, 0.05, PIPELINE_SAMPLE_RATE).astype(np.float32)
    try:
        for mode in RecognitionMode:
            recognizer.recognize(noise, mode=mode)
        utterance_embedding(noise)
    except PipelineError as error:  # a remote recognizer that is not up yet: not fatal
        log.warning("warm-up failed: %s", error)


def _build_transcriber() -> SessionTranscriber:
    settings = pipeline_settings
    recognizer = build_recognizer(settings)
    _warm_up(recognizer)
    # Speech detectors for the first sessions, so that they do not wait for one.
    DEFAULT_POOL.prewarm(4)
    return SessionTranscriber(
        recognizer,
        run_id=settings.run_id,
        pipeline_version=PIPELINE_VERSION,
        endpointer=endpointer_config(settings),
        partial_interval_ms=settings.partial_interval_ms,
        speculate_after_ms=settings.speculate_after_ms,
        checkpoint_every_ms=settings.checkpoint_every_ms,
        evict_idle_after_s=settings.idle_session_evict_s,
        context_finals=settings.context_finals,
        publish_partial=_publish_partial,
        translation=build_translation_router(settings),
        store=FaustSessionStore(session_progress, session_speakers, session_timing),
        audio_log=KafkaAudioLog(
            kafka_settings.bootstrap_servers, kafka_settings.topic(AUDIO_INGEST.name)
        ),
    )


async def transcriber() -> SessionTranscriber:
    # Built once, off the event loop (loading the model takes CPU for a second), and only
    # in a worker: importing the app for `faust --help` or tests loads no model.
    global _transcriber
    if _transcriber is not None:
        return _transcriber  # every event after the first: no lock on the hot path
    async with _building:
        if _transcriber is None:
            _transcriber = await asyncio.to_thread(_build_transcriber)
            log.info("speech recognizer ready: %s", _transcriber)
    return _transcriber


async def transcribe_audio(event: EventT[Envelope]) -> None:
    """One audio-ingest event: its results go to audio-results, then its session's progress
    is saved. Events come in log order, from the batched topic below."""
    sessions = await transcriber()
    envelope = cast(Envelope, event.value)
    started = time.perf_counter()
    session_id = event.key.decode("utf-8", "replace") if event.key else None
    position = LogPosition(event.message.partition, event.message.offset)
    with log_context(trace_id=envelope.trace_id, session_id=session_id):
        results = await sessions.handle(
            envelope.payload, published_at=envelope.timestamp, position=position
        )
        # Results keep the session's key, so they land in the matching partition.
        forwarded = (
            [await audio_results.send(key=event.key, value=envelope)]
            if isinstance(envelope.payload, FORWARDED_TO_RESULTS)
            else []
        )
        deliveries = forwarded + [
            await audio_results.send(
                key=event.key,
                value=new_event(payload, source=SOURCE, trace_id=envelope.trace_id),
            )
            for payload in results
        ]
        # Only once the broker has the results does the session's progress move on: a
        # crash in between replays them (a duplicate at worst), never loses them.
        if deliveries:
            await asyncio.gather(*deliveries)
        if session_id is not None:
            sessions.checkpoint(session_id)
    _record(envelope, results, time.perf_counter() - started, sessions.open_sessions)
    # Between events, so no session is being handled; at most once a minute.
    sessions.evict_idle()


# Hundreds of live sessions send thousands of chunks a second: Faust's per-event path would
# cost more CPU than the pipeline's own work on them (see livetranslate_common.faust_batches).
audio_ingest_batches = BatchedTopic(app, audio_ingest, transcribe_audio)


def _record(
    envelope: Envelope, results: list[EventPayload], spent_s: float, open_sessions: int
) -> None:
    processing, lag = metrics.event_histograms(type(envelope.payload).__name__)
    processing.observe(spent_s)
    lag.observe(max(0.0, (datetime.now(UTC) - envelope.timestamp).total_seconds()))
    for payload in results:
        metrics.RESULTS_PUBLISHED.labels(type(payload).__name__).inc()
    metrics.OPEN_SESSIONS.set(open_sessions)


@app.on_partitions_revoked.connect  # type: ignore[arg-type]  # faust's stub is narrower
async def forget_revoked_sessions(sender: Any, *args: Any, **kwargs: Any) -> None:
    # Faust sends the revoked partitions as the one positional argument.
    revoked: set[TP] = args[0] if args else set()
    if _transcriber is not None:
        ingest = kafka_settings.topic(AUDIO_INGEST.name)
        _transcriber.forget_partitions({tp.partition for tp in revoked if tp.topic == ingest})


@app.task
async def load_model_at_start() -> None:
    # Load Whisper before the first chunk arrives, so the first result is not late by the
    # model's load time.
    await transcriber()
    # The model and the worker's clients are here for good: keep them out of collections.
    freeze_long_lived()

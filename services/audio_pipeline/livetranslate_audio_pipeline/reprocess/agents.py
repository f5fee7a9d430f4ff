"""audio-reprocess -> runs of recorded audio -> audio-results; and /health, /metrics.

One run at a time per worker: recognition takes the CPU a run has. A request is committed
once its run is over, so a worker that dies mid-run leaves the request to the next one, which
runs it again from the start under the same run id (same segment ids: the read model's rows
are rewritten, not doubled; on the topic, consumers drop repeats by segment_id + revision).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime

import faust
from prometheus_client import Counter, Histogram

from livetranslate_audio_pipeline import PIPELINE_VERSION
from livetranslate_audio_pipeline.adapters.session_audio import SessionAudioReader
from livetranslate_audio_pipeline.core.errors import PipelineError
from livetranslate_audio_pipeline.core.reprocessing import Publish, ReprocessError, ReprocessRun
from livetranslate_audio_pipeline.core.session import SessionTranscriber
from livetranslate_audio_pipeline.core.translation import ENGLISH, primary_language
from livetranslate_audio_pipeline.recognizers import build_translation_router, endpointer_config
from livetranslate_audio_pipeline.reprocess.app import (
    app,
    kafka_settings,
    pipeline_settings,
    reprocess_settings,
)
from livetranslate_audio_pipeline.reprocess.models import SpeechModels
from livetranslate_common.catalogue import (
    AUDIO_INGEST,
    AUDIO_REPROCESS,
    AUDIO_REPROCESS_DLQ,
    AUDIO_RESULTS,
)
from livetranslate_common.dead_letters import DeadLetteringTopic
from livetranslate_common.envelope import new_event
from livetranslate_common.faust_support import serve_health_and_metrics
from livetranslate_common.log import log_context
from livetranslate_common.serde import encode_key
from livetranslate_schemas.events import (
    Envelope,
    EventPayload,
    ProcessingFailed,
    ReprocessRequested,
    RunStatus,
)

log = logging.getLogger(__name__)

SOURCE = "reprocess"

RUNS = Counter("livetranslate_reprocess_runs", "Reprocessing runs ended, by outcome", ["outcome"])
RUN_SECONDS = Histogram(
    "livetranslate_reprocess_run_seconds",
    "Wall time of a reprocessing run",
    buckets=(1, 5, 15, 60, 300, 900, 3600, 4 * 3600),
)

requests = DeadLetteringTopic(
    app,
    topics=[kafka_settings.topic(AUDIO_REPROCESS.name)],
    dead_letter_topic=kafka_settings.topic(AUDIO_REPROCESS_DLQ.name),
)
audio_results = app.topic(kafka_settings.topic(AUDIO_RESULTS.name), internal=False)

models = SpeechModels(pipeline_settings, keep=reprocess_settings.models_kept)
audio = SessionAudioReader(
    kafka_settings.bootstrap_servers, kafka_settings.topic(AUDIO_INGEST.name)
)


def _check_language(request: ReprocessRequested) -> None:
    language = primary_language(request.language)
    if language is not None and language != ENGLISH and models.english_only(request.model):
        raise ReprocessError(
            f"speech model {request.model!r} knows English only; {request.language!r} needs a"
            " multilingual one (e.g. 'base')"
        )


async def run_request(
    request: ReprocessRequested, *, requested_at: datetime, trace_id: str
) -> RunStatus:
    """Run one request to its end; its outcome is published (RunProgress), not raised."""
    key = encode_key(request.session_id)

    async def publish(payloads: Sequence[EventPayload]) -> None:
        for payload in payloads:
            await audio_results.send(
                key=key, value=new_event(payload, source=SOURCE, trace_id=trace_id)
            )

    run = ReprocessRun(
        request,
        model=request.model,
        pipeline_version=PIPELINE_VERSION,
        requested_at=requested_at,
        publish=publish,
        report_every_s=reprocess_settings.report_every_s,
    )
    try:
        run.check()
        _check_language(request)
        recognizer = await asyncio.to_thread(models.get, request.model)
        transcriber = SessionTranscriber(
            recognizer,
            run_id=request.run_id,
            pipeline_version=PIPELINE_VERSION,
            endpointer=endpointer_config(pipeline_settings),
            # Nobody waits on a run's pauses: each utterance is recognised once, at its end.
            speculate_after_ms=None,
            context_finals=pipeline_settings.context_finals,
            translation=build_translation_router(pipeline_settings),
        )
        try:
            with RUN_SECONDS.time():
                done = await run.run(
                    transcriber, audio.events(request.session_id, since=request.audio_since)
                )
        finally:
            await transcriber.close()
    except PipelineError as error:
        log.warning("run %s of %s failed: %s", request.run_id, request.session_id, error)
        await _report_failure(run, publish, request, error, str(error))
        return RunStatus.FAILED
    except Exception as error:  # anything else: the run is over all the same; say so
        log.exception("run %s of %s failed", request.run_id, request.session_id)
        await _report_failure(
            run, publish, request, error, f"internal error ({type(error).__name__})"
        )
        return RunStatus.FAILED
    RUNS.labels("completed").inc()
    log.info(
        "run %s of %s completed: %d final segments, %d ms of audio",
        request.run_id,
        request.session_id,
        done.final_segment_count,
        done.processed_ms,
    )
    return RunStatus.COMPLETED


async def _report_failure(
    run: ReprocessRun,
    publish: Publish,
    request: ReprocessRequested,
    error: Exception,
    message: str,
) -> None:
    RUNS.labels("failed").inc()
    failure = ProcessingFailed(
        session_id=request.session_id,
        stage=getattr(error, "stage", "reprocess"),
        error_code=getattr(error, "error_code", "internal_error"),
        message=message[:1000],
        retryable=bool(getattr(error, "retryable", False)),
        run_id=request.run_id,
    )
    await publish([failure, run.progress(RunStatus.FAILED, error=message)])


@app.agent(requests)
async def reprocess(stream: faust.StreamT[Envelope]) -> None:
    async for envelope in stream:
        request = envelope.payload
        if not isinstance(request, ReprocessRequested):
            continue
        with log_context(trace_id=envelope.trace_id, session_id=request.session_id):
            await run_request(request, requested_at=envelope.timestamp, trace_id=envelope.trace_id)


serve_health_and_metrics(app, lambda: {"models": True})

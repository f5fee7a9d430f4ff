"""The Faust topic objects this app reads and writes, named from the catalogue."""

from __future__ import annotations

from faust.types import Message

from livetranslate_audio_pipeline.app import app, kafka_settings
from livetranslate_common.catalogue import (
    AUDIO_INGEST,
    AUDIO_INGEST_DLQ,
    AUDIO_RESULTS,
    AUDIO_RESULTS_DLQ,
)
from livetranslate_common.dead_letters import DeadLetteringTopic
from livetranslate_common.envelope import new_event
from livetranslate_schemas.events import ProcessingFailed

SOURCE = "audio_pipeline"


async def _report_undecodable(message: Message, error: Exception) -> None:
    # Tell the session's listeners (the key is its id, when the producer set one) that
    # something sent for it was unreadable; the bytes themselves are on the DLQ.
    session_id = message.key.decode("utf-8", "replace") if message.key else None
    failure = ProcessingFailed(
        session_id=session_id,
        stage="ingest",
        error_code="undecodable_event",
        message=f"an event on {message.topic} could not be decoded: {error}"[:1000],
        retryable=False,
    )
    await audio_results.send(key=message.key, value=new_event(failure, source=SOURCE))


audio_results = DeadLetteringTopic(
    app,
    topics=[kafka_settings.topic(AUDIO_RESULTS.name)],
    dead_letter_topic=kafka_settings.topic(AUDIO_RESULTS_DLQ.name),
)
audio_ingest = DeadLetteringTopic(
    app,
    topics=[kafka_settings.topic(AUDIO_INGEST.name)],
    dead_letter_topic=kafka_settings.topic(AUDIO_INGEST_DLQ.name),
    on_dead_letter=_report_undecodable,
)

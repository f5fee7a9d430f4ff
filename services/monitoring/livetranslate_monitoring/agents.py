"""audio-results -> the session windows (see counting.py for what counts)."""

from __future__ import annotations

import logging
import time
from typing import Any

import faust
from faust.types import Message
from prometheus_client import Counter

from livetranslate_common.catalogue import AUDIO_RESULTS
from livetranslate_monitoring.app import app, kafka_settings
from livetranslate_monitoring.counting import record_event
from livetranslate_monitoring.tables import store
from livetranslate_schemas.events import Envelope

log = logging.getLogger(__name__)

EVENTS = Counter(
    "livetranslate_monitoring_events",
    "audio-results events read by the analytics, by type and outcome",
    ["type", "outcome"],
)


class ResultsTopic(faust.Topic):
    """audio-results, skipping what cannot be decoded: the projector already copies it to
    audio-results.dlq, and a second copy from here would only double the dead letters."""

    async def on_key_decode_error(self, exc: Exception, message: Message) -> None:
        self._skip(exc, message)

    async def on_value_decode_error(self, exc: Exception, message: Message) -> None:
        self._skip(exc, message)

    def _skip(self, exc: Exception, message: Message) -> None:
        log.warning(
            "undecodable message at %s/%d/%d skipped: %s",
            message.topic,
            message.partition,
            message.offset,
            exc,
        )
        EVENTS.labels("undecodable", "ignored").inc()


audio_results = ResultsTopic(app, topics=[kafka_settings.topic(AUDIO_RESULTS.name)])


@app.agent(audio_results)
async def count_results(stream: faust.StreamT[Envelope]) -> None:
    event: Any
    async for event in stream.events():
        envelope: Envelope = event.value
        outcome = record_event(store, envelope, partition=event.message.partition, now=time.time())
        EVENTS.labels(type(envelope.payload).__name__, outcome.value).inc()

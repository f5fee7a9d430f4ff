"""StreamIrregularity results reach WebSocket clients as ``stream_irregularity`` messages,
each once."""

from __future__ import annotations

from typing import Any

from livetranslate_common.envelope import new_event
from livetranslate_gateway.adapters.result_fanout import ResultRecord, Subscription
from livetranslate_gateway.api.routes.results_ws import forward_results
from livetranslate_gateway.core.messages import client_message
from livetranslate_schemas.events import (
    EventPayload,
    SessionProcessingCompleted,
    StreamIrregularity,
    StreamIrregularityKind,
)


def _gap(seq: int) -> StreamIrregularity:
    return StreamIrregularity(
        session_id="s",
        kind=StreamIrregularityKind.GAP,
        seq=seq,
        expected_seq=seq - 2,
        missing_chunks=2,
        missing_samples=6_400,
        run_id="live",
        detail="2 chunk(s) skipped",
    )


def test_an_irregularity_becomes_a_client_message() -> None:
    drift = StreamIrregularity(
        session_id="s",
        kind=StreamIrregularityKind.CLOCK_DRIFT,
        seq=50,
        clock_offset_ms=20.5,
        clock_drift_ppm=2_010.0,
        run_id="live",
    )
    envelope = new_event(drift, source="audio_pipeline")
    assert client_message(envelope) == {
        "type": "stream_irregularity",
        "session_id": "s",
        "kind": "clock_drift",
        "seq": 50,
        "expected_seq": None,
        "missing_chunks": 0,
        "missing_samples": 0,
        "clock_offset_ms": 20.5,
        "clock_drift_ppm": 2_010.0,
        "run_id": "live",
        "detail": None,
        "emitted_at": envelope.timestamp.isoformat(),
    }


async def test_an_irregularity_reported_again_after_a_restart_reaches_the_client_once() -> None:
    subscription = Subscription("s", maxsize=10)
    payloads: list[EventPayload] = [
        _gap(5),
        _gap(5),  # a restarted worker's repeat
        _gap(9),
        SessionProcessingCompleted(
            session_id="s", run_id="live", final_segment_count=0, audio_duration_ms=0, last_seq=9
        ),
    ]
    for offset, payload in enumerate(payloads):
        envelope = new_event(payload, source="audio_pipeline")
        subscription.queue.put_nowait(ResultRecord(0, offset, envelope))
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await forward_results(subscription, send, until_completed=True)
    assert [(m["type"], m.get("seq")) for m in sent] == [
        ("stream_irregularity", 5),
        ("stream_irregularity", 9),
        ("session_completed", None),
    ]
    assert sent[0]["kind"] == "gap"
    assert (sent[0]["missing_chunks"], sent[0]["missing_samples"]) == (2, 6_400)

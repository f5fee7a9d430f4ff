"""Result events as the pipeline publishes them, for tests of what consumes them."""

from __future__ import annotations

from collections.abc import Mapping

from livetranslate_schemas.events import LatencyMetrics, TranscriptionCompleted


def segment_result(
    session_id: str,
    start_ms: int,
    *,
    text: str | None = None,
    end_ms: int | None = None,
    speaker: str | None = None,
    speaker_map: Mapping[str, str] | None = None,
    revision: int = 0,
    is_final: bool = True,
    run_id: str = "live",
) -> TranscriptionCompleted:
    """A segment's revision (final by default) starting at ``start_ms``, its id derived from
    the session and start as the pipeline derives it."""
    return TranscriptionCompleted(
        session_id=session_id,
        segment_id=f"{session_id}:{start_ms:012d}",
        revision=revision,
        is_final=is_final,
        run_id=run_id,
        pipeline_version="test",
        model="tiny.en",
        text=text if text is not None else f"words at {start_ms}",
        start_ms=start_ms,
        end_ms=end_ms if end_ms is not None else start_ms + 900,
        speaker=speaker,
        speaker_map=dict(speaker_map or {}),
        latency=LatencyMetrics(),
    )

"""Turning a recognition of an utterance into a TranscriptionCompleted event."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from livetranslate_audio_pipeline.core.audio import samples_to_ms
from livetranslate_audio_pipeline.core.recognition import Recognition
from livetranslate_audio_pipeline.core.utterance_tracker import UtteranceAudio
from livetranslate_schemas.events import LatencyMetrics, TranscriptionCompleted, WordTiming


@dataclass(frozen=True, slots=True)
class SegmentContext:
    session_id: str
    run_id: str
    pipeline_version: str
    model: str
    last_seq: int
    # The session's speaker names when the segment is built (copied into the segment).
    speaker_map: Mapping[str, str] = field(default_factory=dict)


def build_segment(
    context: SegmentContext,
    *,
    segment_id: str,
    audio: UtteranceAudio,
    recognition: Recognition,
    revision: int,
    is_final: bool,
    latency: LatencyMetrics,
) -> TranscriptionCompleted:
    """Word times move from the utterance's clock to the session's."""
    offset_ms = samples_to_ms(audio.start_sample)
    words = [
        WordTiming(
            word=word.word,
            start_ms=offset_ms + word.start_ms,
            end_ms=offset_ms + word.end_ms,
            probability=word.probability,
        )
        for word in recognition.words
    ]
    return TranscriptionCompleted(
        session_id=context.session_id,
        segment_id=segment_id,
        revision=revision,
        is_final=is_final,
        run_id=context.run_id,
        pipeline_version=context.pipeline_version,
        model=context.model,
        text=recognition.text,
        language=recognition.language,
        # Word timestamps are tighter than the VAD's padded region.
        start_ms=words[0].start_ms if words else offset_ms,
        end_ms=words[-1].end_ms if words else samples_to_ms(audio.end_sample),
        words=words,
        confidence=recognition.confidence,
        last_seq=context.last_seq,
        # A copy: the session's names may change after this segment was built.
        speaker_map=dict(context.speaker_map),
        latency=latency,
    )

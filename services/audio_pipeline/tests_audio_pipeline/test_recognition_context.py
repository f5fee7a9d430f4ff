"""Finals hear the session's previous finals; the context survives a take-over."""

from __future__ import annotations

from livetranslate_audio_pipeline.adapters.whisper_local import LocalWhisperRecognizer
from livetranslate_audio_pipeline.core.audio import Samples
from livetranslate_audio_pipeline.core.checkpoint import SessionCheckpoint
from livetranslate_audio_pipeline.core.recognition import Recognition, RecognitionMode
from livetranslate_audio_pipeline.core.session import SessionTranscriber
from livetranslate_common.speech_samples import conversation
from livetranslate_schemas.events import ProcessingFlags, TranscriptionCompleted
from tests_audio_pipeline.memory_worker import live_session_log

LINES = [
    ("piper", "Good morning, shall we start with the budget review?"),
    ("en-gb-x-rp+f3", "Yes, the numbers for the last quarter are ready."),
    ("piper", "Great, how much did we spend on marketing this time?"),
]


class ContextRecorder:
    """The real Whisper, noting the context each final recognition was given."""

    def __init__(self, whisper: LocalWhisperRecognizer) -> None:
        self._whisper = whisper
        self.final_contexts: list[str | None] = []

    @property
    def model_name(self) -> str:
        return self._whisper.model_name

    def recognize(
        self,
        samples: Samples,
        *,
        language: str | None = None,
        mode: RecognitionMode = RecognitionMode.BATCH,
        context: str | None = None,
    ) -> Recognition:
        if mode is not RecognitionMode.PREVIEW:
            self.final_contexts.append(context)
        return self._whisper.recognize(samples, language=language, mode=mode, context=context)


async def test_each_final_hears_the_two_before_it() -> None:
    samples, _ = conversation(LINES, pause_s=1.2)
    recorder = ContextRecorder(LocalWhisperRecognizer.embedded_tiny_en())
    transcriber = SessionTranscriber(recorder, run_id="t", pipeline_version="t", context_finals=2)
    finals: list[str] = []
    log = live_session_log("ctx", samples, flags=ProcessingFlags(diarize=False))
    for event in log:
        for result in await transcriber.handle(event):
            if isinstance(result, TranscriptionCompleted) and result.is_final:
                finals.append(result.text)
    assert len(finals) == 3
    # Speculative recognitions may run more than once per utterance; each one had the
    # context of the finals published before it.
    assert recorder.final_contexts[0] is None
    assert finals[0] in recorder.final_contexts
    assert f"{finals[0]} {finals[1]}" in recorder.final_contexts
    assert all(context != " ".join(finals) for context in recorder.final_contexts)


async def test_without_context_finals_no_recognition_gets_a_context() -> None:
    samples, _ = conversation(LINES[:2], pause_s=1.2)
    recorder = ContextRecorder(LocalWhisperRecognizer.embedded_tiny_en())
    transcriber = SessionTranscriber(recorder, run_id="t", pipeline_version="t")
    for event in live_session_log("plain", samples, flags=ProcessingFlags(diarize=False)):
        await transcriber.handle(event)
    assert len(recorder.final_contexts) >= 2
    assert set(recorder.final_contexts) == {None}


def test_the_context_is_part_of_the_checkpoint() -> None:
    checkpoint = SessionCheckpoint(
        options={},
        partition=0,
        next_seq=3,
        replay_from_offset=1,
        final_segments=2,
        finalized_until_sample=100,
        recent_finals=["First.", "Second."],
    )
    assert SessionCheckpoint.from_dict(checkpoint.to_dict()).recent_finals == ["First.", "Second."]
    older = checkpoint.to_dict()
    del older["recent_finals"]  # written before contexts existed
    assert SessionCheckpoint.from_dict(older).recent_finals == []

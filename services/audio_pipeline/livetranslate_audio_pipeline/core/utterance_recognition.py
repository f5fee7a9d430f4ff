"""Recognising a session's utterances: speculative and final recognitions, and previews.

All of them share the worker's recognizer through the gate (finals before previews). A final
recognition may have started already, speculatively, when the open utterance went quiet: if
the pause turns out to be the utterance's end, that result is the final, and recognition is
off the path between the end of speech and the final result.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time

from livetranslate_audio_pipeline.core.audio import Samples
from livetranslate_audio_pipeline.core.errors import PipelineError
from livetranslate_audio_pipeline.core.open_session import OpenSession, Recognised, Speculation
from livetranslate_audio_pipeline.core.recognition import (
    Recognition,
    RecognitionMode,
    SpeechRecognizer,
    recognition_context,
)
from livetranslate_audio_pipeline.core.recognition_gate import RecognitionGate
from livetranslate_audio_pipeline.core.speakers import utterance_embedding
from livetranslate_audio_pipeline.core.utterance_tracker import UtteranceAudio

log = logging.getLogger(__name__)


class UtteranceRecognition:
    def __init__(
        self, recognizer: SpeechRecognizer, gate: RecognitionGate, *, context_finals: int = 0
    ) -> None:
        self._recognizer = recognizer
        self._gate = gate
        # Finals whose text is the next final's context (0: none).
        self.context_finals = context_finals

    @property
    def model_name(self) -> str:
        return self._recognizer.model_name

    def speculate(self, session: OpenSession, audio: UtteranceAudio) -> None:
        """The open utterance went quiet: recognise it now, in case this is its end."""
        self.drop_speculation(session)
        task = asyncio.create_task(
            self._recognise_whole(session, audio), name=f"speculate-{session.session_id}"
        )
        session.speculation = Speculation(audio.start_sample, audio.end_sample, task)

    @staticmethod
    def drop_speculation(session: OpenSession) -> None:
        if session.speculation is not None:
            session.speculation.task.cancel()
            session.speculation = None

    async def final(self, session: OpenSession, audio: UtteranceAudio) -> Recognised:
        """The closed utterance's words (and speaker embedding): speculated, or now."""
        speculation = session.speculation
        session.speculation = None
        if speculation is not None:
            if (speculation.start_sample, speculation.end_sample) == (
                audio.start_sample,
                audio.end_sample,
            ):
                # The pause was the end: the recognition already ran (or is running).
                with contextlib.suppress(asyncio.CancelledError, PipelineError):
                    return await speculation.task
            else:
                speculation.task.cancel()
        return await self._recognise_whole(session, audio)

    def remember_final(self, session: OpenSession, text: str) -> None:
        """A final was published: it is context for the ones after it."""
        if self.context_finals:
            session.recent_finals = [*session.recent_finals, text][-self.context_finals :]

    async def preview(self, session: OpenSession, samples: Samples) -> Recognition:
        """A partial result's words; the caller holds the gate (the preview scheduler)."""
        return await self._recognize(session, samples, RecognitionMode.PREVIEW)

    async def _recognise_whole(self, session: OpenSession, audio: UtteranceAudio) -> Recognised:
        async with self._gate.final():
            started = time.monotonic()
            mode = RecognitionMode.LIVE if session.live else RecognitionMode.BATCH
            # Finals may hear what was said just before them (PipelineSettings.context_finals).
            # Previews go without: they are replaced anyway.
            context = recognition_context(session.recent_finals, keep=self.context_finals)
            recognition = await self._recognize(session, audio.samples, mode, context)
            asr_ms = round((time.monotonic() - started) * 1000)
            embedding = None
            if session.options.diarize and recognition.text:
                try:
                    embedding = await asyncio.to_thread(utterance_embedding, audio.samples)
                except PipelineError as error:
                    log.info("no speaker for %s: %s", session.session_id, error)
        return Recognised(recognition, asr_ms, embedding)

    async def _recognize(
        self,
        session: OpenSession,
        samples: Samples,
        mode: RecognitionMode,
        context: str | None = None,
    ) -> Recognition:
        return await asyncio.to_thread(
            functools.partial(
                self._recognizer.recognize,
                samples,
                language=session.options.language,
                mode=mode,
                context=context,
            )
        )

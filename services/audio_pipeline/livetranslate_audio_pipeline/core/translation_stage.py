"""The translation stage: one TranslationCompleted per final segment and requested target."""

from __future__ import annotations

import asyncio

from livetranslate_audio_pipeline.core.audio import Samples
from livetranslate_audio_pipeline.core.errors import PipelineError
from livetranslate_audio_pipeline.core.translation import TranslationRouter
from livetranslate_schemas.events import TranscriptionCompleted, TranslationCompleted


async def translations_for(
    router: TranslationRouter,
    final: TranscriptionCompleted,
    targets: tuple[str, ...],
    *,
    samples: Samples,
) -> list[TranslationCompleted | PipelineError]:
    """Each target's translation of the final, or the error that prevented it (in order).

    Backends block (HTTP, or Whisper on the utterance's audio), so each runs in a thread.
    """
    outcomes: list[TranslationCompleted | PipelineError] = []
    for target in targets:
        try:
            translated = await asyncio.to_thread(
                router.translate,
                final.text,
                source_language=final.language,
                target_language=target,
                samples=samples,
            )
        except PipelineError as error:
            outcomes.append(error)
            continue
        outcomes.append(
            TranslationCompleted(
                session_id=final.session_id,
                segment_id=final.segment_id,
                revision=final.revision,
                run_id=final.run_id,
                source_language=translated.source_language,
                target_language=translated.target_language,
                source_text=final.text,
                text=translated.text,
                backend=translated.backend,
                latency_ms=translated.latency_ms,
            )
        )
    return outcomes

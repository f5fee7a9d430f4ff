"""The pipeline's error hierarchy: each error names the stage and whether a retry can help."""

from __future__ import annotations

from livetranslate_common.errors import LiveTranslateError


class PipelineError(LiveTranslateError):
    """A failure inside one pipeline stage; becomes a ProcessingFailed event."""

    stage = "pipeline"
    error_code = "pipeline_error"
    retryable = False


class InvalidChunkError(PipelineError):
    stage = "decode"
    error_code = "invalid_chunk"


class ModelUnavailableError(PipelineError):
    stage = "asr"
    error_code = "model_unavailable"


class RecognitionError(PipelineError):
    stage = "asr"
    error_code = "recognition_failed"
    retryable = True


class TranslationError(PipelineError):
    """A translation backend failed; ``retryable`` says whether the same call may succeed later."""

    stage = "translation"
    error_code = "translation_failed"
    retryable = True

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable


class NoTranslationBackendError(TranslationError):
    """No configured backend can translate this language pair."""

    error_code = "no_backend"
    retryable = False

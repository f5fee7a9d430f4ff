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

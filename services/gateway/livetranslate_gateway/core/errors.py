"""Errors the gateway turns into clear 4xx answers."""

from __future__ import annotations

from livetranslate_common.errors import LiveTranslateError


class GatewayError(LiveTranslateError):
    status_code = 400
    code = "bad_request"

    def headers(self) -> dict[str, str]:
        """Headers the answer carries besides the problem document."""
        return {}


class UnreadableAudioError(GatewayError):
    status_code = 415
    code = "unreadable_audio"


class TruncatedAudioError(GatewayError):
    status_code = 422
    code = "truncated_audio"


class EmptyAudioError(GatewayError):
    status_code = 422
    code = "empty_audio"


class AudioTooLargeError(GatewayError):
    status_code = 413
    code = "audio_too_large"


class SessionNotFoundError(GatewayError):
    status_code = 404
    code = "session_not_found"


class SessionClosedError(GatewayError):
    status_code = 409
    code = "session_closed"


class AudioInProgressError(GatewayError):
    status_code = 409
    code = "audio_in_progress"


class NoAudioError(GatewayError):
    status_code = 409
    code = "no_audio"


class SessionBusyError(GatewayError):
    status_code = 409
    code = "session_busy"


class InvalidSpeakerNamesError(GatewayError):
    status_code = 422
    code = "invalid_speaker_names"


class RunNotFoundError(GatewayError):
    status_code = 404
    code = "run_not_found"


class InvalidReprocessRequestError(GatewayError):
    status_code = 422
    code = "invalid_reprocess_request"


class TooManyRunsError(GatewayError):
    status_code = 429
    code = "too_many_runs"


class UnauthorizedError(GatewayError):
    """No key, a malformed one, or one that opens nothing. The message never repeats it."""

    status_code = 401
    code = "unauthorized"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="livetranslate"'}


class OperatorOnlyError(GatewayError):
    status_code = 403
    code = "operator_only"


class RateLimitedError(GatewayError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: str) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": self.retry_after}


class RequestTooLargeError(GatewayError):
    status_code = 413
    code = "request_too_large"

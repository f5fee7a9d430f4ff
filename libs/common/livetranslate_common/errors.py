"""The error types shared by every LiveTranslate service."""


class LiveTranslateError(Exception):
    """Base of every error LiveTranslate raises on purpose."""


class SerdeError(LiveTranslateError):
    """An event could not be encoded to, or decoded from, its wire format."""

"""Events on the wire: Avro single-object encoding of the envelope.

The format and its decoding live in the schemas package (``livetranslate_schemas.wire``),
so that a consumer outside the project needs nothing else; this module gives it the
services' error type: every failure is a :class:`SerdeError`. Keys are plain UTF-8 strings.
"""

from __future__ import annotations

from functools import cache

from livetranslate_common.errors import SerdeError
from livetranslate_schemas import released_envelope_schemas, wire
from livetranslate_schemas.events import Envelope
from livetranslate_schemas.wire import HEADER_SIZE, MAGIC, WireFormatError, schema_fingerprint


class EnvelopeSerde(wire.EnvelopeSerde):
    """``livetranslate_schemas.wire.EnvelopeSerde`` raising :class:`SerdeError`."""

    def encode(self, envelope: Envelope) -> bytes:
        try:
            return super().encode(envelope)
        except WireFormatError as exc:
            raise SerdeError(str(exc)) from exc

    def decode(self, data: bytes) -> Envelope:
        try:
            return super().decode(data)
        except WireFormatError as exc:
            raise SerdeError(str(exc)) from exc


@cache
def default_serde() -> EnvelopeSerde:
    """The process-wide serde: the current schema plus every release in schemas/released."""
    return EnvelopeSerde(released_envelope_schemas())


def encode_event(envelope: Envelope) -> bytes:
    """The envelope as an Avro single-object encoded message."""
    return default_serde().encode(envelope)


def decode_event(data: bytes) -> Envelope:
    """The envelope in an Avro single-object encoded message (from any known writer schema)."""
    return default_serde().decode(data)


def encode_key(session_id: str) -> bytes:
    """A message key (a session id, bot id, scope...) as plain UTF-8."""
    return session_id.encode("utf-8")


def decode_key(data: bytes) -> str:
    """A message key from its UTF-8 bytes."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        msg = f"message key is not UTF-8: {data[:64]!r}"
        raise SerdeError(msg) from exc


__all__ = [
    "HEADER_SIZE",
    "MAGIC",
    "EnvelopeSerde",
    "SerdeError",
    "decode_event",
    "decode_key",
    "default_serde",
    "encode_event",
    "encode_key",
    "schema_fingerprint",
]

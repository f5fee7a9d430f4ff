"""The envelope serde as a Faust codec, so topics can declare ``value_serializer=CODEC_NAME``.

Call ``register_codec()`` once before creating topics (it is idempotent); agents then
receive ``Envelope`` objects and ``send`` accepts them.
"""

from __future__ import annotations

from typing import Any

from faust.serializers import codecs

from livetranslate_common.errors import SerdeError
from livetranslate_common.serde import decode_event, encode_event
from livetranslate_schemas.events import Envelope

CODEC_NAME = "livetranslate-avro"


class EnvelopeCodec(codecs.Codec):
    """Avro single-object encoding of ``Envelope`` (see ``livetranslate_common.serde``)."""

    def _dumps(self, obj: Any) -> bytes:
        if not isinstance(obj, Envelope):
            msg = f"{CODEC_NAME} encodes Envelope objects, not {type(obj).__name__}"
            raise SerdeError(msg)
        return encode_event(obj)

    def _loads(self, s: bytes) -> Envelope:
        return decode_event(s)


def register_codec() -> None:
    """Make ``CODEC_NAME`` known to Faust; calling it again changes nothing."""
    if not isinstance(codecs.codecs.get(CODEC_NAME), EnvelopeCodec):
        codecs.register(CODEC_NAME, EnvelopeCodec())

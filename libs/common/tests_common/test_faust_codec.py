"""The envelope serde as a Faust codec, used by name the way topics use it."""

from __future__ import annotations

import faust
import pytest
from faust.exceptions import ValueDecodeError
from faust.serializers import Registry, codecs

from livetranslate_common.envelope import new_event
from livetranslate_common.errors import SerdeError
from livetranslate_common.faust_codec import CODEC_NAME, EnvelopeCodec, register_codec
from livetranslate_common.serde import encode_event
from livetranslate_schemas.events import Envelope
from livetranslate_schemas.samples import sample_payloads


@pytest.fixture
def envelope() -> Envelope:
    return new_event(sample_payloads()["TranscriptionCompleted"], source="tests")


def test_register_is_idempotent() -> None:
    register_codec()
    first = codecs.get_codec(CODEC_NAME)
    register_codec()
    assert codecs.get_codec(CODEC_NAME) is first
    assert isinstance(first, EnvelopeCodec)


def test_dumps_and_loads_by_name(envelope: Envelope) -> None:
    register_codec()
    data = codecs.dumps(CODEC_NAME, envelope)
    assert data == encode_event(envelope)
    assert codecs.loads(CODEC_NAME, data) == envelope


def test_a_topic_serializer_registry_uses_it(envelope: Envelope) -> None:
    register_codec()
    registry = Registry(key_serializer="raw", value_serializer=CODEC_NAME)
    data = registry.dumps_value(None, envelope)
    assert isinstance(data, bytes)
    assert registry.loads_value(None, data) == envelope
    with pytest.raises(ValueDecodeError, match="not an Avro single-object message"):
        registry.loads_value(None, b"garbage!!!!!")


def test_a_faust_topic_serializes_values_with_it(envelope: Envelope) -> None:
    register_codec()
    app = faust.App("livetranslate-codec-test", broker="memory://", store="memory://")
    topic = app.topic("audio-results", key_type=bytes, value_serializer=CODEC_NAME)
    value, _headers = topic.prepare_value(envelope, None)
    assert value == encode_event(envelope)


def test_dumps_rejects_anything_but_an_envelope() -> None:
    register_codec()
    with pytest.raises(SerdeError, match="encodes Envelope objects, not dict"):
        codecs.dumps(CODEC_NAME, {"session_id": "s"})

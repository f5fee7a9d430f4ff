"""The wire format: Avro single-object encoding of the envelope, checked against the spec."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import avro.io
import avro.schema
import fastavro
import pytest

from livetranslate_common.envelope import new_event
from livetranslate_common.errors import LiveTranslateError, SerdeError
from livetranslate_common.serde import (
    HEADER_SIZE,
    MAGIC,
    EnvelopeSerde,
    decode_event,
    decode_key,
    default_serde,
    encode_event,
    encode_key,
    schema_fingerprint,
)
from livetranslate_schemas import SCHEMA_VERSION, envelope_schema_json
from livetranslate_schemas.events import (
    AudioChunkReceived,
    AudioStreamEnded,
    Envelope,
    EventPayload,
    TranscriptionCompleted,
)
from livetranslate_schemas.samples import sample_payloads

SAMPLES = sample_payloads()

# --- The specification's algorithms, written out independently of fastavro -------------

_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
_CRC64_EMPTY = 0xC15D213AA4D7A795
_CRC64_TABLE = []
for _i in range(256):
    _fp = _i
    for _ in range(8):
        _fp = (_fp >> 1) ^ (_CRC64_EMPTY & -(_fp & 1))
    _CRC64_TABLE.append(_fp)


def crc64_avro(data: bytes) -> bytes:
    """CRC-64-AVRO (the spec's Rabin fingerprint), little-endian as single-object encoding."""
    fp = _CRC64_EMPTY
    for byte in data:
        fp = (fp >> 8) ^ _CRC64_TABLE[(fp ^ byte) & 0xFF]
    return fp.to_bytes(8, "little")


def parsing_canonical_form(schema: Any, namespace: str = "") -> str:
    """The spec's Parsing Canonical Form: PRIMITIVES, FULLNAMES, STRIP, ORDER, WHITESPACE."""
    if isinstance(schema, str):
        if schema in _PRIMITIVES or "." in schema or not namespace:
            return json.dumps(schema)
        return json.dumps(f"{namespace}.{schema}")
    if isinstance(schema, list):
        return "[" + ",".join(parsing_canonical_form(s, namespace) for s in schema) + "]"
    kind = schema["type"]
    if kind in _PRIMITIVES:  # {"type": "long", "logicalType": ...} -> "long"
        return json.dumps(kind)
    if kind in ("array", "map"):
        key = "items" if kind == "array" else "values"
        return f'{{"type":"{kind}","{key}":{parsing_canonical_form(schema[key], namespace)}}}'
    name = schema["name"]
    if "." not in name and schema.get("namespace", namespace):
        name = f"{schema.get('namespace', namespace)}.{name}"
    head = f'{{"name":{json.dumps(name)},"type":"{kind}"'
    if kind == "enum":
        return f'{head},"symbols":{json.dumps(schema["symbols"], separators=(",", ":"))}}}'
    inner = name.rpartition(".")[0]
    fields = ",".join(
        f'{{"name":{json.dumps(f["name"])},"type":{parsing_canonical_form(f["type"], inner)}}}'
        for f in schema["fields"]
    )
    return f'{head},"fields":[{fields}]}}'


def _strip_logical_types(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_strip_logical_types(s) for s in schema]
    if isinstance(schema, dict):
        return {k: _strip_logical_types(v) for k, v in schema.items() if k != "logicalType"}
    return schema


def _event(payload: EventPayload) -> Envelope:
    return new_event(payload, source="tests", span_id="span-7")


# --- Round trips -------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", sorted(SAMPLES))
def test_every_event_type_round_trips(event_type: str) -> None:
    envelope = _event(SAMPLES[event_type])
    decoded = decode_event(encode_event(envelope))
    assert decoded == envelope
    assert type(decoded.payload) is type(envelope.payload)


def test_minimal_events_round_trip_with_defaults() -> None:
    payload = AudioStreamEnded(session_id="s", last_seq=-1, total_chunks=0, total_samples=0)
    envelope = new_event(payload, source="gateway")
    assert decode_event(encode_event(envelope)) == envelope


@pytest.mark.parametrize("revision", [2**31 - 1, -(2**31)])
def test_avro_int_limits_round_trip(revision: int) -> None:
    envelope = _event(_transcription(revision=revision))
    assert decode_event(encode_event(envelope)) == envelope


def test_new_event_fills_the_envelope() -> None:
    before = datetime.now(UTC)
    envelope = new_event(SAMPLES["AudioStreamEnded"], source="gateway")
    assert envelope.schema_version == SCHEMA_VERSION
    assert envelope.event_id.version == 4
    assert envelope.event_type == "AudioStreamEnded"
    assert envelope.source == "gateway"
    assert envelope.timestamp.tzinfo is UTC
    assert before <= envelope.timestamp <= before + timedelta(seconds=5)
    assert re.fullmatch(r"[0-9a-f]{32}", envelope.trace_id)
    assert envelope.span_id is None
    other = new_event(SAMPLES["AudioStreamEnded"], source="gateway")
    assert other.trace_id != envelope.trace_id
    assert other.event_id != envelope.event_id
    chained = new_event(SAMPLES["TranscriptionCompleted"], source="ap", trace_id="ab" * 16)
    assert chained.trace_id == "ab" * 16


def test_keys_are_plain_utf8() -> None:
    assert encode_key("sess-ü") == "sess-ü".encode()
    assert decode_key(encode_key("sess-ü")) == "sess-ü"


# --- An independent reader -------------------------------------------------------------


def test_header_is_magic_plus_the_specs_fingerprint_of_the_canonical_form() -> None:
    data = encode_event(_event(SAMPLES["AudioChunkReceived"]))
    assert data[:2] == b"\xc3\x01"
    canonical = parsing_canonical_form(json.loads(envelope_schema_json()))
    assert data[2:HEADER_SIZE] == crc64_avro(canonical.encode())
    assert data[2:HEADER_SIZE] == default_serde().fingerprint


def test_crc64_matches_the_avro_packages_own_fingerprint() -> None:
    assert crc64_avro(b'"int"') == avro.schema.parse('"int"').fingerprint()
    # avro 1.12 keeps {"type": "long"} for logical types in its canonical form, where the
    # spec (and Java, and fastavro) write "long"; with logicalType stripped (which does not
    # change the binary encoding) the package's own fingerprint equals our header's.
    plain = json.dumps(_strip_logical_types(json.loads(envelope_schema_json())))
    assert avro.schema.parse(plain).fingerprint("CRC-64-AVRO") == default_serde().fingerprint


def _read_with_avro(data: bytes) -> dict[str, Any]:
    """The body after the 10-byte header, read by the avro package from the .avsc alone."""
    reader = avro.io.DatumReader(avro.schema.parse(envelope_schema_json()))
    datum = reader.read(avro.io.BinaryDecoder(io.BytesIO(data[HEADER_SIZE:])))
    assert isinstance(datum, dict)
    return datum


@pytest.mark.parametrize("event_type", sorted(SAMPLES))
def test_the_avro_package_reads_the_body(event_type: str) -> None:
    envelope = _event(SAMPLES[event_type])
    datum = _read_with_avro(encode_event(envelope))
    assert datum["schema_version"] == SCHEMA_VERSION
    assert datum["event_id"] == str(envelope.event_id)
    assert datum["event_type"] == event_type
    assert datum["source"] == "tests"
    assert datum["timestamp"] == envelope.timestamp
    assert datum["trace_id"] == envelope.trace_id
    assert datum["span_id"] == "span-7"
    assert datum["payload"] == envelope.payload.to_avro()


def test_the_avro_package_sees_nested_values() -> None:
    envelope = _event(SAMPLES["TranscriptionCompleted"])
    payload = _read_with_avro(encode_event(envelope))["payload"]
    assert payload["text"] == "Grüß Gott, everyone 👋"
    assert payload["words"][0] == {
        "word": " Grüß",
        "start_ms": 1200,
        "end_ms": 1500,
        "probability": 0.75,
    }
    assert payload["speaker_map"] == {"SPEAKER_00": "Ada", "SPEAKER_01": "Grace"}
    assert payload["latency"]["end_of_speech_to_result_ms"] == 640


# --- Older writers ---------------------------------------------------------------------


def _older_schema() -> str:
    """The envelope as an imagined earlier release: no span_id, no checksum on chunks."""
    schema = json.loads(envelope_schema_json())
    schema["fields"] = [f for f in schema["fields"] if f["name"] != "span_id"]
    payload = next(f for f in schema["fields"] if f["name"] == "payload")
    chunk = next(b for b in payload["type"] if b.get("name") == "AudioChunkReceived")
    chunk["fields"] = [f for f in chunk["fields"] if f["name"] != "checksum_crc32"]
    return json.dumps(schema)


def test_data_from_a_released_schema_decodes_with_schema_resolution() -> None:
    older = _older_schema()
    parsed = fastavro.parse_schema(json.loads(older), named_schemas={})
    envelope = _event(SAMPLES["AudioChunkReceived"])
    body = io.BytesIO()
    fastavro.schemaless_writer(body, parsed, envelope.to_avro())
    data = MAGIC + schema_fingerprint(parsed) + body.getvalue()

    serde = EnvelopeSerde({"v0": older})
    assert serde.known_fingerprints[schema_fingerprint(parsed)] == "released v0"
    decoded = serde.decode(data)
    assert isinstance(decoded.payload, AudioChunkReceived)
    assert isinstance(envelope.payload, AudioChunkReceived)
    assert decoded.span_id is None
    assert decoded.payload.checksum_crc32 is None
    assert decoded.payload.audio == envelope.payload.audio
    assert decoded.payload.seq == envelope.payload.seq
    with pytest.raises(SerdeError, match="unknown writer schema fingerprint"):
        decode_event(data)


def test_a_release_identical_to_the_current_schema_needs_no_resolution() -> None:
    serde = EnvelopeSerde({"v1": envelope_schema_json()})
    assert serde.known_fingerprints == {serde.fingerprint: "current"}


# --- Every failure is a SerdeError ------------------------------------------------------


def _valid() -> bytes:
    return encode_event(_event(SAMPLES["TranscriptionCompleted"]))


def test_serde_error_is_a_livetranslate_error() -> None:
    assert issubclass(SerdeError, LiveTranslateError)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "too short"),
        (b"\xc3\x01\x00", "too short"),
        (b'{"json": "not avro"}', "not an Avro single-object message"),
        (b"\xc3\x02" + bytes(8) + b"\x02", "not an Avro single-object message"),
        (b"\xc3\x01" + bytes(8) + b"\x02", "unknown writer schema fingerprint 0000000000000000"),
    ],
)
def test_bad_headers_are_rejected(data: bytes, message: str) -> None:
    with pytest.raises(SerdeError, match=message):
        decode_event(data)


@pytest.mark.parametrize("cut", [HEADER_SIZE, HEADER_SIZE + 1, 40, -1])
def test_truncated_bodies_are_rejected(cut: int) -> None:
    with pytest.raises(SerdeError, match="truncated"):
        decode_event(_valid()[:cut])


def test_trailing_bytes_are_rejected() -> None:
    with pytest.raises(SerdeError, match="unexpected bytes after"):
        decode_event(_valid() + b"\x00")


def test_a_payload_branch_outside_the_union_is_rejected() -> None:
    # The same bytes as a real envelope up to the payload, whose union index is 100.
    schema = json.loads(envelope_schema_json())
    next(f for f in schema["fields"] if f["name"] == "payload")["type"] = "long"
    datum = {**_event(SAMPLES["AudioStreamEnded"]).to_avro(), "payload": 100}
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(schema, named_schemas={}), datum)
    with pytest.raises(SerdeError, match="corrupt or truncated event body"):
        decode_event(MAGIC + default_serde().fingerprint + body.getvalue())


def test_garbage_after_a_valid_header_is_rejected() -> None:
    with pytest.raises(SerdeError):
        decode_event(MAGIC + default_serde().fingerprint + b"\xff" * 64)


def _transcription(**changes: Any) -> TranscriptionCompleted:
    sample = SAMPLES["TranscriptionCompleted"]
    assert isinstance(sample, TranscriptionCompleted)
    return dataclasses.replace(sample, **changes)


@pytest.mark.parametrize(
    "payload",
    [
        AudioStreamEnded(session_id=None, last_seq=0, total_chunks=0, total_samples=0),  # type: ignore[arg-type]
        AudioStreamEnded(session_id="s", last_seq="x", total_chunks=0, total_samples=0),  # type: ignore[arg-type]
        AudioStreamEnded(session_id="s", last_seq=2**70, total_chunks=0, total_samples=0),
        _transcription(revision=2**31),
        _transcription(revision=-(2**31) - 1),
    ],
    ids=["none-for-string", "str-for-long", "long-overflow", "int-overflow", "int-underflow"],
)
def test_invalid_data_is_rejected_when_encoding(payload: EventPayload) -> None:
    with pytest.raises(SerdeError, match="cannot encode"):
        encode_event(_event(payload))


def test_a_non_event_payload_is_rejected_when_encoding() -> None:
    envelope = _event(SAMPLES["AudioStreamEnded"])
    bogus = dataclasses.replace(envelope, payload={"session_id": "s"})  # type: ignore[arg-type]
    with pytest.raises(SerdeError, match="cannot encode dict event"):
        encode_event(bogus)


def test_a_key_that_is_not_utf8_is_rejected() -> None:
    with pytest.raises(SerdeError, match="not UTF-8"):
        decode_key(b"\xff\xfe")

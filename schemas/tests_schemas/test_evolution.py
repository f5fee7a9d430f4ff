"""The current envelope schema can read everything any released version wrote.

Two independent judges: the ``avro`` package's structural reader/writer compatibility
checker, and actual data written with the released schema and read back through schema
resolution, by fastavro (the hot path) and by the ``avro`` package.
"""

from __future__ import annotations

import copy
import io
import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import avro.io
import avro.schema
import fastavro
import pytest
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
from fastavro.read import SchemaResolutionError

from livetranslate_schemas import envelope_schema_json, released_envelope_schemas
from livetranslate_schemas.events import EVENT_TYPES, Envelope, EventPayload
from livetranslate_schemas.samples import sample_payloads

RELEASED = released_envelope_schemas()


def _envelope(payload: EventPayload) -> Envelope:
    return Envelope(
        schema_version=1,
        event_id=UUID("12345678-1234-4678-9234-567812345678"),
        event_type=type(payload).__name__,
        source="tests",
        timestamp=datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        trace_id="0" * 32,
        span_id="span-1",
        payload=payload,
    )


def structural_incompatibilities(reader_json: str, writer_json: str) -> list[str]:
    """Why a reader cannot read what a writer wrote, per the avro package; empty if it can."""
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
    result = checker.get_compatibility(
        reader=avro.schema.parse(reader_json), writer=avro.schema.parse(writer_json)
    )
    if result.compatibility is SchemaCompatibilityType.compatible:
        return []
    return [f"{m} at {'/'.join(result.locations)}" for m in result.messages]


def _write(writer_json: str, envelope: Envelope) -> bytes:
    buffer = io.BytesIO()
    schema = fastavro.parse_schema(json.loads(writer_json), named_schemas={})
    fastavro.schemaless_writer(buffer, schema, envelope.to_avro())
    return buffer.getvalue()


def _read_fastavro(body: bytes, writer_json: str, reader_json: str) -> Any:
    return fastavro.schemaless_reader(
        io.BytesIO(body),
        fastavro.parse_schema(json.loads(writer_json), named_schemas={}),
        fastavro.parse_schema(json.loads(reader_json), named_schemas={}),
        return_record_name=True,
        return_record_name_override=True,
    )


def _read_avro(body: bytes, writer_json: str, reader_json: str) -> Any:
    reader = avro.io.DatumReader(avro.schema.parse(writer_json), avro.schema.parse(reader_json))
    return reader.read(avro.io.BinaryDecoder(io.BytesIO(body)))


def _payload_types(schema_json: str) -> set[str]:
    fields = json.loads(schema_json)["fields"]
    payload = next(f for f in fields if f["name"] == "payload")
    return {branch["name"] for branch in payload["type"] if isinstance(branch, dict)}


def _with_field(schema_json: str, record: str, new_field: dict[str, Any]) -> str:
    schema = json.loads(schema_json)
    payload = next(f for f in schema["fields"] if f["name"] == "payload")
    target = next(b for b in payload["type"] if isinstance(b, dict) and b["name"] == record)
    target["fields"].append(new_field)
    return json.dumps(schema)


@pytest.mark.parametrize("version", sorted(RELEASED))
def test_current_schema_is_structurally_backward_compatible(version: str) -> None:
    assert structural_incompatibilities(envelope_schema_json(), RELEASED[version]) == []


# Every event type of every release (types added since a release have no data written by it).
_RELEASED_EVENTS = [
    (version, event_type)
    for version in sorted(RELEASED)
    for event_type in sorted(sample_payloads())
    if event_type in _payload_types(RELEASED[version])
]


@pytest.mark.parametrize(("version", "event_type"), _RELEASED_EVENTS)
def test_data_written_with_a_release_decodes_with_the_current_schema(
    version: str, event_type: str
) -> None:
    released = RELEASED[version]
    envelope = _envelope(sample_payloads()[event_type])
    body = _write(released, envelope)
    decoded = Envelope.from_avro(_read_fastavro(body, released, envelope_schema_json()))
    assert type(decoded.payload) is type(envelope.payload)
    assert decoded.event_id == envelope.event_id
    assert decoded.timestamp == envelope.timestamp
    # The avro package resolves the same bytes independently and must agree.
    independent = _read_avro(body, released, envelope_schema_json())
    assert independent["payload"] == decoded.payload.to_avro()
    assert UUID(independent["event_id"]) == decoded.event_id
    assert independent["timestamp"] == decoded.timestamp
    assert independent["trace_id"] == decoded.trace_id
    if json.loads(released) == json.loads(envelope_schema_json()):
        assert decoded == envelope


def test_a_new_field_without_default_is_detected() -> None:
    released = RELEASED["v1"]
    changed = _with_field(
        envelope_schema_json(),
        "TranscriptionCompleted",
        {"name": "speaker_confidence", "type": "float", "doc": "no default: breaks old data"},
    )
    # The checker reports it as the reader's payload union lacking the writer's (old)
    # TranscriptionCompleted: no reader branch can read it any more.
    branch = list(EVENT_TYPES).index("TranscriptionCompleted")
    problems = structural_incompatibilities(changed, released)
    assert any(p.endswith(f"/fields/7/type/{branch}") for p in problems), problems
    body = _write(released, _envelope(sample_payloads()["TranscriptionCompleted"]))
    with pytest.raises(SchemaResolutionError):
        _read_fastavro(body, released, changed)


def test_a_removed_enum_symbol_is_detected() -> None:
    changed = json.loads(envelope_schema_json())
    text = json.dumps(changed).replace('"LEAVING", "STOPPED", "FAILED"', '"LEAVING", "STOPPED"')
    assert text != json.dumps(changed)
    assert structural_incompatibilities(text, RELEASED["v1"])


def test_a_new_optional_field_is_accepted_and_gets_its_default() -> None:
    released = RELEASED["v1"]
    changed = _with_field(
        envelope_schema_json(),
        "TranscriptionCompleted",
        {"name": "speaker_confidence", "type": ["null", "float"], "default": None, "doc": "ok"},
    )
    assert structural_incompatibilities(changed, released) == []
    body = _write(released, _envelope(sample_payloads()["TranscriptionCompleted"]))
    name, payload = _read_fastavro(body, released, changed)["payload"]
    assert name == "io.livetranslate.events.TranscriptionCompleted"
    assert payload["speaker_confidence"] is None


def test_the_checker_is_not_fooled_by_a_deep_copy() -> None:
    # Sanity: an identical schema is compatible both ways.
    same = json.dumps(copy.deepcopy(json.loads(RELEASED["v1"])))
    assert structural_incompatibilities(same, RELEASED["v1"]) == []
    assert structural_incompatibilities(RELEASED["v1"], same) == []

"""The .avsc files: named and documented as agreed, loadable by any Avro library."""

from __future__ import annotations

import json
from typing import Any

import avro.schema
import fastavro
import pytest
from fastavro.schema import load_schema, to_parsing_canonical_form

from livetranslate_schemas import (
    ENVELOPE_NAME,
    SCHEMA_DIR,
    envelope_schema_json,
    load_envelope_schema,
    schema_definitions,
)
from livetranslate_schemas.events import EVENT_TYPES

DEFINITIONS = schema_definitions()


def _fields() -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{name}.{fld['name']}", fld)
        for name, definition in DEFINITIONS.items()
        for fld in definition.get("fields", [])
    ]


def test_every_file_is_named_after_the_type_it_defines() -> None:
    files = sorted(p.stem for p in SCHEMA_DIR.glob("*.avsc"))
    assert files == sorted(DEFINITIONS)
    assert all(name.startswith("io.livetranslate.events.") for name in files)


@pytest.mark.parametrize(("where", "fld"), _fields(), ids=[w for w, _ in _fields()])
def test_every_field_is_documented_and_optional_fields_have_defaults(
    where: str, fld: dict[str, Any]
) -> None:
    assert fld.get("doc"), f"{where} has no doc"
    schema = fld["type"]
    if isinstance(schema, list) and "null" in schema:
        assert schema[0] == "null", f"{where}: null must come first so the default can be null"
        assert "default" in fld, f"{where}: nullable field without default"
        assert fld["default"] is None
    if isinstance(schema, dict) and schema.get("type") in ("array", "map"):
        assert fld.get("default") in ([], {}), f"{where}: container without an empty default"


def test_every_named_type_is_documented() -> None:
    assert all(definition.get("doc") for definition in DEFINITIONS.values())


def test_the_payload_union_lists_every_event_record() -> None:
    envelope = DEFINITIONS[ENVELOPE_NAME]
    payload = next(f for f in envelope["fields"] if f["name"] == "payload")
    assert payload["type"] == list(EVENT_TYPES)
    assert [f["name"] for f in envelope["fields"]] == [
        "schema_version",
        "event_id",
        "event_type",
        "source",
        "timestamp",
        "trace_id",
        "span_id",
        "payload",
    ]


def test_fastavro_load_schema_resolves_references_between_files() -> None:
    loaded = load_schema(str(SCHEMA_DIR / f"{ENVELOPE_NAME}.avsc"))
    expected = to_parsing_canonical_form(load_envelope_schema())
    assert to_parsing_canonical_form(loaded) == expected


def test_the_expanded_schema_defines_each_name_once_for_independent_readers() -> None:
    text = envelope_schema_json()
    parsed = avro.schema.parse(text)  # the avro package rejects a name defined twice
    assert isinstance(parsed, avro.schema.RecordSchema)
    assert parsed.fullname == ENVELOPE_NAME
    definitions = text.count('"type": "record"') + text.count('"type": "enum"')
    assert definitions == len(DEFINITIONS)
    fastavro.parse_schema(json.loads(text), named_schemas={})

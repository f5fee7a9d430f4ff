"""The Avro contract of every LiveTranslate event, and typed Python records derived from it.

The ``.avsc`` files in ``avro/`` (one per named type, each file named by the type's full
name) are the contract. ``events.py`` is generated from them by ``codegen``; released
versions of the expanded envelope schema live in ``schemas/released/<version>/`` (see
``release``) and every later schema must stay able to read what they wrote.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import fastavro
from fastavro.types import Schema

SCHEMA_DIR = Path(__file__).resolve().parent / "avro"
NAMESPACE = "io.livetranslate.events"
ENVELOPE_NAME = f"{NAMESPACE}.Envelope"
# The envelope's schema_version field; raise it together with a new release under released/.
SCHEMA_VERSION = 1

_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_NAMED = frozenset({"record", "enum", "fixed"})


def released_dir() -> Path:
    """Where released schemas live: inside the package if it was built with them, else the repo.

    Wheels only carry the package directory; a build that wants old versions readable must
    copy ``schemas/released`` into the package as ``livetranslate_schemas/released``.
    """
    packaged = Path(__file__).resolve().parent / "released"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "released"


def _fullname(name: str, namespace: str | None = NAMESPACE) -> str:
    if "." in name or not namespace:
        return name
    return f"{namespace}.{name}"


@cache
def schema_definitions() -> dict[str, dict[str, Any]]:
    """Every named type's raw JSON definition, by full name, as written in ``avro/``."""
    definitions: dict[str, dict[str, Any]] = {}
    for path in sorted(SCHEMA_DIR.glob("*.avsc")):
        definition = json.loads(path.read_text(encoding="utf-8"))
        fullname = _fullname(definition["name"], definition.get("namespace"))
        if path.stem != fullname:
            msg = f"{path.name} defines {fullname}; name the file after the type it defines"
            raise ValueError(msg)
        definitions[fullname] = definition
    return definitions


class _Expander:
    """Inlines each named type at its first use and references it by full name afterwards."""

    def __init__(self, definitions: dict[str, dict[str, Any]]) -> None:
        self.definitions = definitions
        self.defined: set[str] = set()

    def reference(self, schema: str, namespace: str) -> Any:
        if schema in _PRIMITIVES:
            return schema
        name = _fullname(schema, namespace)
        if name not in self.definitions:
            msg = f"unknown type {schema!r} (no {name}.avsc in {SCHEMA_DIR})"
            raise ValueError(msg)
        if name in self.defined:
            return name
        return self.expand(self.definitions[name], namespace)

    def expand(self, schema: Any, namespace: str) -> Any:
        if isinstance(schema, list):
            return [self.expand(branch, namespace) for branch in schema]
        if isinstance(schema, str):
            return self.reference(schema, namespace)
        if schema.get("type") in _NAMED:
            name = _fullname(schema["name"], schema.get("namespace", namespace))
            if name in self.defined:
                msg = f"{name} is defined twice; define it once in its own .avsc file"
                raise ValueError(msg)
            self.defined.add(name)
            namespace = name.rpartition(".")[0]
        expanded = dict(schema)
        if "fields" in schema:
            expanded["fields"] = [
                {**fld, "type": self.expand(fld["type"], namespace)} for fld in schema["fields"]
            ]
        for key in ("items", "values"):
            if key in schema:
                expanded[key] = self.expand(schema[key], namespace)
        if isinstance(schema.get("type"), (dict, list)):
            expanded["type"] = self.expand(schema["type"], namespace)
        return expanded


def expand_schema(fullname: str) -> dict[str, Any]:
    """The named type as one self-contained schema that any Avro library can parse.

    Each referenced named type is defined inline at its first use (depth first, in field
    order) and referenced by full name afterwards, as the specification requires: a name
    may be defined only once. The order is deterministic, so the canonical form (and thus the
    fingerprint) only changes when the contract does.
    """
    return dict(_Expander(schema_definitions()).expand(fullname, NAMESPACE))


@cache
def envelope_schema_json() -> str:
    """The fully expanded envelope schema as a JSON string (with docs and defaults)."""
    return json.dumps(expand_schema(ENVELOPE_NAME), indent=2) + "\n"


@cache
def load_envelope_schema() -> Schema:
    """The envelope schema parsed by fastavro, ready for its readers and writers."""
    return fastavro.parse_schema(json.loads(envelope_schema_json()), named_schemas={})


def released_envelope_schemas() -> dict[str, str]:
    """Every released envelope schema's JSON, by release name (``"v1"``, ...), oldest first."""
    root = released_dir()
    if not root.is_dir():
        return {}
    paths = sorted(
        root.glob("v*/envelope.avsc"),
        key=lambda p: int(p.parent.name[1:]) if p.parent.name[1:].isdigit() else -1,
    )
    return {path.parent.name: path.read_text(encoding="utf-8") for path in paths}


__all__ = [
    "ENVELOPE_NAME",
    "NAMESPACE",
    "SCHEMA_DIR",
    "SCHEMA_VERSION",
    "envelope_schema_json",
    "expand_schema",
    "load_envelope_schema",
    "released_dir",
    "released_envelope_schemas",
    "schema_definitions",
]

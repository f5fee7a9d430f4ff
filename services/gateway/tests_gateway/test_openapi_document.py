"""The OpenAPI document a client generates code from: every route has examples, every error
is a problem document, every route but health needs a key, and the examples are valid."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from livetranslate_gateway.main import create_app

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
OPEN_ROUTES = {"/health", "/api/health"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    # Building the document needs no Kafka or database: the app is not started.
    return create_app().openapi()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def _resolved(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if schema.get("type") == "array":
        return _resolved(document, schema["items"])
    return schema


def _examples(document: dict[str, Any], content: dict[str, Any]) -> list[Any]:
    """The examples of a media type: its own, or its schema's."""
    if "example" in content:
        return [content["example"]]
    if "examples" in content:
        return [example["value"] for example in content["examples"].values()]
    schema = content.get("schema", {})
    if schema.get("format") == "binary":
        return ["(binary)"]
    return list(_resolved(document, schema).get("examples", []))


def test_every_route_and_body_has_an_example(document: dict[str, Any]) -> None:
    missing = []
    for method, path, operation in _operations(document):
        for media, content in operation.get("requestBody", {}).get("content", {}).items():
            if not _examples(document, content):
                missing.append(f"{method} {path} request {media}")
        for status, response in operation["responses"].items():
            if status.startswith("2"):
                for media, content in response.get("content", {}).items():
                    if not _examples(document, content):
                        missing.append(f"{method} {path} {status} {media}")
    assert not missing, missing


def test_every_error_is_a_problem_document(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        errors = {s: r for s, r in operation["responses"].items() if s[0] in "45"}
        assert errors or path == "/health", f"{method} {path} documents no error"
        for status, response in errors.items():
            assert response["content"] == PROBLEM, (method, path, status)
        if path not in OPEN_ROUTES:
            assert {"401", "422", "429"} <= set(errors), (method, path)
    example = document["components"]["schemas"]["Problem"]["examples"][0]
    assert example["type"].startswith("urn:livetranslate:error:")


def test_every_route_but_health_asks_for_a_key(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "Authorization: Bearer <API key>",
    }
    for method, path, operation in _operations(document):
        expected: list[dict[str, list[str]]] = (
            [] if path in OPEN_ROUTES else [{"bearer": []}, {"apiKey": []}]
        )
        assert operation.get("security", []) == expected, (method, path)


def test_the_examples_are_valid_bodies(document: dict[str, Any]) -> None:
    # Each model's example validates against the model's own schema in the document.
    schemas = document["components"]["schemas"]
    checked = 0
    for name, schema in schemas.items():
        for example in schema.get("examples", []):
            resolver_document = {"components": {"schemas": schemas}, **schema}
            jsonschema.validate(example, resolver_document)
            checked += 1
        assert name
    assert checked >= 12

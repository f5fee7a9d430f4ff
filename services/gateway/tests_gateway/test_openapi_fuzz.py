"""Fuzzing the gateway through its own OpenAPI document (Schemathesis), on real Kafka and
PostgreSQL: no generated request may get a server error, and every answer must be one the
document describes.

Run only the fuzz::

    uv run --frozen pytest services/gateway/tests_gateway/test_openapi_fuzz.py

One operation (``-k`` matches the test's name, ``test_fuzz[<METHOD> <path>]``)::

    uv run --frozen pytest services/gateway/tests_gateway/test_openapi_fuzz.py -k "PUT and speakers"

Longer, or with another seed (both read when the module is imported)::

    FUZZ_MAX_EXAMPLES=500 uv run --frozen pytest services/gateway/tests_gateway/test_openapi_fuzz.py
    FUZZ_SEED=7 uv run --frozen pytest services/gateway/tests_gateway/test_openapi_fuzz.py

``FUZZ_MAX_EXAMPLES`` (default 30) bounds the random cases per operation (twice that for the
operations with a request body); Schemathesis adds the document's examples and its coverage
cases (boundary values, invalid values, other methods) to those. Generation is derandomized
from ``FUZZ_SEED``: a run fails or passes the same way each time.

``test_fuzz[<METHOD> <path>]`` is one test per operation of the document, each against a fresh
database and fresh topics: the app from ``create_app``, inside a ``TestClient`` so that its
lifespan runs, with a stand-in for the monitoring service's analytics (which has counted
nothing). Every request carries a tenant's API key (an operator's for the operator-only
routes). Real state is created first, and valid generated values are bound to it
(deterministically, from the case) so that deep paths are reached, not only 404s:

- ``session_id``: a session with audio, final segments, speaker names and a run; an open
  session without audio; another tenant's session (must be a 4xx, never an answer); or the
  generated id as it is (a 404).
- ``run_id`` and the ``run`` query parameter: the seeded run, or the generated value.
- ``before`` (the session list's cursor): the seeded session, or the generated value.
- a reprocessing request's ``model``: one the gateway offers, or the generated name.

Checks on every answer: ``not_a_server_error``, ``status_code_conformance``,
``content_type_conformance``, ``response_schema_conformance``,
``response_headers_conformance``, and this module's own: every 4xx/5xx is an RFC 9457 problem
document whose status is the answer's (a 500 is ``internal_error``), and another tenant's
session is never answered. A server error's traceback, which the gateway logs rather than
answers, is added to the failure report; an exception that escapes the app fails the test
with its own.

The fuzz runs against the document *completed* with the error answers the gateway gives
(:func:`completed`: per operation, those of :func:`expected_errors`, each a problem document
of :data:`PROBLEM_SCHEMA`), so that a gap in the document does not stop the fuzz at its
first undocumented 4xx and hide what comes after. What the real document lacks is what
``test_the_document_describes_every_answer`` reports (and fails on).

Also here: ``test_any_other_key_is_refused_with_a_problem`` (random Authorization and
X-API-Key values: a 401 problem, never an error); the pinned regressions of what fuzzing
found (``test_a_nul_character_...``, ``test_an_hourly_range_ending_in_year_one_...``); and
``test_the_fuzz_fails_on_a_misbehaving_route``, which runs the same harness against throwaway
routes that raise, answer an error that is not a problem document, or answer another tenant's
session, and requires it to fail on each.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

import httpx
import hypothesis
import numpy as np
import pytest
import schemathesis
from fastapi import FastAPI, Path
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient
from hypothesis import strategies as st
from schemathesis import BaseSchema, CheckContext, CheckFunction
from schemathesis import Case as GenericCase
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import CustomFailure, FailureGroup, ServerError
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from livetranslate_common.speech_samples import to_wav_bytes
from livetranslate_common.testing.fixtures import KafkaTopics
from livetranslate_common.testing.read_model import project_payloads
from livetranslate_common.testing.results import segment_result
from livetranslate_gateway.config import GatewaySettings
from livetranslate_gateway.core.access import KEY_PATTERN
from livetranslate_gateway.main import create_app
from tests_gateway.conftest import assert_problem, bearer

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "30"))
SEED = int(os.environ.get("FUZZ_SEED", "20250611"))

PROBLEM_MEDIA_TYPE = "application/problem+json"

Case = GenericCase[Any]

pytestmark = pytest.mark.filterwarnings(
    # Raised by Schemathesis' own negative-case strategies, not by anything here.
    "ignore:Do not use the `random` module inside strategies"
)

# ----------------------------------------------------------------- what the gateway answers

#: Routes that answer without a key (so never 401 or 429).
KEYLESS_PATHS = {"/health", "/api/health"}
#: Operations for operators' keys only: fuzzed with one (with a tenant's key, every request
#: would be the same 403).
OPERATOR_ONLY = {"GET /api/analytics/hours"}
#: Error answers of particular operations, besides those of :func:`expected_errors`' rules.
PARTICULAR_ERRORS: dict[str, set[int]] = {
    # session_closed, audio_too_large, unreadable_audio, empty_audio / truncated_audio
    "POST /api/sessions/{session_id}/audio": {409, 413, 415, 422},
    "POST /api/sessions/{session_id}/end": {409},  # audio_in_progress
    "DELETE /api/sessions/{session_id}": {409},  # audio_in_progress, session_busy
    "PUT /api/sessions/{session_id}/translation-targets": {409},  # session_closed
    "GET /api/analytics/hours": {403, 503},  # operator_only, analytics_unavailable
    "GET /api/analytics/sessions/{session_id}": {503},
}

#: An RFC 9457 problem document as the gateway writes it (api/problems.py).
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {
        "type": {"type": "string", "pattern": "^urn:livetranslate:error:[a-z0-9_]+$"},
        "title": {"type": "string", "minLength": 1},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "minLength": 1},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["loc", "msg", "type"],
                "properties": {
                    "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}


def label(method: str, path: str) -> str:
    return f"{method.upper()} {path}"


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in {"get", "put", "post", "delete", "patch", "head", "options"}:
                yield method, path, operation


def expected_errors(method: str, path: str, operation: dict[str, Any]) -> set[int]:
    """The error statuses the gateway may answer the operation with."""
    statuses = set(PARTICULAR_ERRORS.get(label(method, path), set()))
    if path not in KEYLESS_PATHS:
        statuses |= {401, 429}  # no key or a bad one; over the caller's rate
    names = {parameter.get("name") for parameter in operation.get("parameters", [])}
    if names & {"session_id", "run_id", "run"}:
        statuses.add(404)  # session_not_found, run_not_found
    if names:
        statuses.add(422)  # invalid_request
    body = operation.get("requestBody", {}).get("content", {})
    if body:
        statuses |= {413, 422}  # request_too_large, invalid_request
    if "application/json" in body:
        statuses.add(400)  # bad_request: a body that does not parse
    return statuses


def _is_problem(response: dict[str, Any]) -> bool:
    return PROBLEM_MEDIA_TYPE in response.get("content", {})


def _is_fastapi_default_422(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return bool(schema.get("$ref", "").endswith("/HTTPValidationError"))


def document_gaps(document: dict[str, Any]) -> list[str]:
    """What the document lacks to describe the gateway's answers, one line per operation."""
    gaps = []
    if not document.get("components", {}).get("securitySchemes"):
        gaps.append("no securitySchemes: the API key (Authorization: Bearer) is undocumented")
    for method, path, operation in operations(document):
        responses = operation.get("responses", {})
        expected = expected_errors(method, path, operation)
        missing = sorted(status for status in expected if str(status) not in responses)
        not_problems = sorted(
            status
            for status, response in responses.items()
            if status[:1] in "45" and not _is_problem(response)
        )
        problems = []
        if missing:
            problems.append(f"undocumented {', '.join(map(str, missing))}")
        if not_problems:
            problems.append(f"{', '.join(not_problems)} not as {PROBLEM_MEDIA_TYPE}")
        secured = "security" in operation or "security" in document
        if path not in KEYLESS_PATHS and not secured:
            problems.append("no security requirement")
        if problems:
            gaps.append(f"{label(method, path)}: {'; '.join(problems)}")
    return gaps


def completed(document: dict[str, Any]) -> dict[str, Any]:
    """The document with the error answers it lacks, each a problem document (a 422 the way
    FastAPI documents it by default is replaced: the gateway answers a problem instead)."""
    document = copy.deepcopy(document)
    document.setdefault("components", {}).setdefault("schemas", {})["FuzzProblem"] = PROBLEM_SCHEMA
    problem = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/FuzzProblem"}}}
    for method, path, operation in operations(document):
        responses = operation.setdefault("responses", {})
        for status in expected_errors(method, path, operation):
            response = responses.setdefault(str(status), {"description": "A problem"})
            if status == 422 and _is_fastapi_default_422(response):
                response["content"] = {}
            if not _is_problem(response):
                response.setdefault("content", {}).update(problem)
    return document


# ----------------------------------------------------------------- the schema


def fuzz_settings(analytics_url: str = "http://127.0.0.1:9") -> GatewaySettings:
    return GatewaySettings(
        # The fuzz sends far more than a client may: the rate is not what is tested here.
        rate_limit="1000000/second",
        max_unfinished_runs=20,
        max_upload_bytes=256 * 1024,
        analytics_url=analytics_url,
        analytics_timeout_s=2.0,
    )


def fuzz_config(document: dict[str, Any]) -> schemathesis.Config:
    # Operations with a request body get twice the examples.
    body_operations = [
        {"include-name": label(method, path), "generation": {"max-examples": 2 * MAX_EXAMPLES}}
        for method, path, operation in operations(document)
        if "requestBody" in operation
    ]
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
                # Every request carries the test's key (Gateway.send), not a generated one.
                "with-security-parameters": False,
            },
            "phases": {"stateful": {"enabled": False}},
            "operations": body_operations,
        }
    )


def load_schema(app: FastAPI) -> BaseSchema:
    """The app's document, completed, as Schemathesis reads it (the requests go through a
    TestClient of ours, not through Schemathesis' own transport)."""
    document = completed(app.openapi())
    return schemathesis.openapi.from_dict(document, config=fuzz_config(document))


# Uploads (``audio/*``) are sent as generated: random bytes, as audio/wav.
schemathesis.serializer.alias("audio/wav", "application/octet-stream")
schema = load_schema(create_app(fuzz_settings()))

CHECKS: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


#: Health checks about the harness, not the gateway: the cases of an operation share its app
#: (a fixture) on purpose, and generating may be slow on a loaded CI machine.
QUIET = [
    hypothesis.HealthCheck.function_scoped_fixture,
    hypothesis.HealthCheck.too_slow,
    hypothesis.HealthCheck.filter_too_much,
    hypothesis.HealthCheck.data_too_large,
]


def errors_are_problem_documents(ctx: CheckContext, response: Any, case: Case) -> bool | None:
    """Every error answer is an RFC 9457 problem document; an unhandled error, internal_error."""
    if response.status_code < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    assert content_type == PROBLEM_MEDIA_TYPE, (
        f"a {response.status_code} answered {content_type!r}, not {PROBLEM_MEDIA_TYPE}"
    )
    if case.method.upper() == "HEAD":
        return None  # no body
    try:
        problem = json.loads(response.content)
    except ValueError:
        raise AssertionError(
            f"a {response.status_code} answered {response.content[:200]!r}"
        ) from None
    assert isinstance(problem, dict), problem
    assert problem.get("status") == response.status_code, problem
    assert str(problem.get("type", "")).startswith("urn:livetranslate:error:"), problem
    if response.status_code == 500:
        assert problem["type"] == "urn:livetranslate:error:internal_error", problem
    return None


# ----------------------------------------------------------------- the harness


class ServerErrors(logging.Handler):
    """Tracebacks the gateway logs (a 500 answers without its cause; the log has it)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.tracebacks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            trace = logging.Formatter().formatException(record.exc_info)
            self.tracebacks.append(f"{record.getMessage()}\n{trace}")


@dataclass
class Seeded:
    """Real state the fuzzer's values are bound to."""

    recorded: str  # audio, final segments, speaker names and a run
    open: str  # created, nothing else
    foreign: str  # another tenant's
    run_id: str  # a run of ``recorded``
    models: list[str]  # the speech models a reprocessing run may ask for


@dataclass
class Gateway:
    client: TestClient
    headers: dict[str, str]
    operator_headers: dict[str, str]
    seeded: Seeded
    errors: ServerErrors = field(default_factory=ServerErrors)

    def fuzz(self, case: Case) -> None:
        self.bind(case)
        self.validate(case, self.send(case))

    def bind(self, case: Case) -> None:
        """Point valid generated values at real state, for part of the cases; which part is
        decided by the case itself, so that a failure replays the same way."""
        bucket = zlib.crc32(_case_key(case).encode())
        seeded = self.seeded
        path = case.path_parameters if isinstance(case.path_parameters, dict) else {}
        query = case.query if isinstance(case.query, dict) else {}
        session_id = path.get("session_id")
        if _valid(case, "path", "session_id", session_id):
            targets = [seeded.recorded, seeded.recorded, seeded.open, seeded.foreign, session_id]
            path["session_id"] = targets[bucket % len(targets)]
        if _valid(case, "path", "run_id", path.get("run_id")) and bucket % 3:
            path["run_id"] = seeded.run_id
        if _valid(case, "query", "run", query.get("run")) and bucket % 4 == 1:
            query["run"] = seeded.run_id
        if _valid(case, "query", "before", query.get("before")) and bucket % 2:
            query["before"] = seeded.recorded
        body = case.body
        if case.operation.path.endswith("/reprocess") and isinstance(body, dict):
            model = body.get("model")
            if isinstance(model, str) and re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", model):
                choices = [*seeded.models, model]
                body["model"] = choices[bucket % len(choices)]

    def send(self, case: Case) -> httpx.Response:
        operator = label(case.method, case.operation.path) in OPERATOR_ONLY
        headers = self.operator_headers if operator else self.headers
        kwargs = case.as_transport_kwargs(base_url=str(self.client.base_url), headers=headers)
        extra: dict[str, Any] = {}
        if "json" in kwargs:
            extra["json"] = kwargs["json"]
        data = kwargs.get("data")
        if isinstance(data, bytes | str):
            extra["content"] = data
        elif data is not None:
            extra["data"] = data
        if kwargs.get("cookies"):
            self.client.cookies = kwargs["cookies"]
        self.errors.tracebacks.clear()
        try:
            response: httpx.Response = self.client.request(
                kwargs["method"],
                kwargs["url"],
                params=kwargs.get("params"),
                headers=kwargs.get("headers"),
                **extra,
            )
        finally:
            self.client.cookies.clear()
        return response

    def validate(self, case: Case, response: httpx.Response) -> None:
        try:
            case.validate_response(
                response,
                checks=[*CHECKS, errors_are_problem_documents, self._tenant_isolation],
                headers=dict(self.headers),
            )
        except FailureGroup as group:
            for traceback in self.errors.tracebacks:
                group.add_note(f"\nThe gateway logged:\n{traceback}")
            raise

    def _tenant_isolation(self, ctx: CheckContext, response: Any, case: Case) -> bool | None:
        """Another tenant's session is answered like one that does not exist."""
        if (case.path_parameters or {}).get("session_id") == self.seeded.foreign:
            assert response.status_code >= 400, (
                f"another tenant's session was answered with {response.status_code}"
            )
        return None


def _case_key(case: Case) -> str:
    body = case.body if isinstance(case.body, bytes | str | int | float | list | dict) else None
    return repr((case.method, case.path_parameters, case.query, body))


def _valid(case: Case, location: str, name: str, value: object) -> bool:
    """Whether ``value`` is a valid string for the parameter (its pattern, if any)."""
    if not isinstance(value, str):
        return False
    for parameter in case.operation.definition.raw.get("parameters", []):
        if parameter.get("in") == location and parameter.get("name") == name:
            pattern = parameter.get("schema", {}).get("pattern")
            return pattern is None or re.search(pattern, value) is not None
    return False


# ----------------------------------------------------------------- the analytics


class _Analytics(BaseHTTPRequestHandler):
    """The monitoring service's analytics API as far as the gateway asks it: it has counted
    nothing of any session, and every hour is empty."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/analytics/hours":
            query = parse_qs(url.query)
            hours = {"from": query["from"][0], "to": query["to"][0], "window_s": 3600}
            self._answer(200, {**hours, "windows": [], "total": {}})
        else:
            self._answer(404, {"detail": "nothing counted"})

    def _answer(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def analytics_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Analytics)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# ----------------------------------------------------------------- seeding


def seed(client: TestClient, database: str, foreign_headers: dict[str, str]) -> Seeded:
    def created(body: dict[str, Any], headers: dict[str, str] | None = None) -> str:
        response = client.post("/api/sessions", json=body, headers=headers)
        assert response.status_code == 201, response.text
        return str(response.json()["session_id"])

    recorded = created(
        {
            "title": "weekly <planning> & co",
            "language": "en",
            "translate_to": ["de"],
            "speaker_names": {"SPEAKER_00": "Alice"},
        }
    )
    wav = to_wav_bytes(np.zeros(16_000, dtype=np.float32))
    uploaded = client.post(
        f"/api/sessions/{recorded}/audio", content=wav, headers={"content-type": "audio/wav"}
    )
    assert uploaded.status_code == 202, uploaded.text
    project_payloads(
        database,
        segment_result(
            recorded,
            0,
            text="Good morning & welcome <all>.",
            speaker="SPEAKER_00",
            end_ms=1_500,
        ),
        segment_result(
            recorded,
            2_000,
            text="An hour in,\n\nstill going --> fine.",
            speaker="SPEAKER_01",
            end_ms=3_500,
        ),
        segment_result(recorded, 4_000, text="Nobody said this.", speaker=None, end_ms=5_500),
    )
    renamed = client.put(
        f"/api/sessions/{recorded}/speakers", json={"names": {"SPEAKER_01": "Bob"}}
    )
    assert renamed.status_code == 202, renamed.text
    run = client.post(f"/api/sessions/{recorded}/reprocess", json={"model": "tiny.en"})
    assert run.status_code == 202, run.text
    settings: GatewaySettings = client.app.state.settings  # type: ignore[attr-defined]
    return Seeded(
        recorded=recorded,
        open=created({}),
        foreign=created({"title": "not yours"}, headers=foreign_headers),
        run_id=str(run.json()["run_id"]),
        models=list(settings.reprocess_models),
    )


@contextmanager
def running(
    app: FastAPI, database: str, api_key: str, other_tenant_key: str, operator_key: str
) -> Iterator[Gateway]:
    """The app started (its lifespan run), seeded, and the gateway's error log captured."""
    errors = ServerErrors()
    logger = logging.getLogger("livetranslate_gateway")
    logger.addHandler(errors)
    try:
        with TestClient(app, headers=bearer(api_key)) as client:
            seeded = seed(client, database, bearer(other_tenant_key))
            yield Gateway(client, bearer(api_key), bearer(operator_key), seeded, errors)
    finally:
        logger.removeHandler(errors)


@pytest.fixture
def gateway(
    kafka_topics: KafkaTopics,
    database: str,
    api_key: str,
    other_tenant_key: str,
    operator_key: str,
    analytics_url: str,
) -> Iterator[Gateway]:
    app = create_app(fuzz_settings(analytics_url))
    with running(app, database, api_key, other_tenant_key, operator_key) as gateway:
        yield gateway


# ----------------------------------------------------------------- the fuzz


@schema.parametrize()
@hypothesis.settings(suppress_health_check=QUIET)
def test_fuzz(case: Case, gateway: Gateway) -> None:
    gateway.fuzz(case)


def test_the_document_describes_every_answer() -> None:
    gaps = document_gaps(create_app(fuzz_settings()).openapi())
    assert not gaps, "The OpenAPI document lacks:\n" + "\n".join(gaps)


#: What a header value may hold (sent as bytes, as a client would, not as text).
_HEADER_CHARACTERS = st.characters(codec="latin-1", exclude_categories=["Cc"])


@hypothesis.given(
    header=st.sampled_from(["authorization", "x-api-key"]),
    key=st.one_of(
        st.from_regex(KEY_PATTERN, fullmatch=True), st.text(_HEADER_CHARACTERS, max_size=120)
    ),
    scheme=st.sampled_from(["Bearer ", "bearer ", "Basic ", ""]),
)
@hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=QUIET,
)
def test_any_other_key_is_refused_with_a_problem(
    gateway: Gateway, header: str, key: str, scheme: str
) -> None:
    value = (f"{scheme}{key}" if header == "authorization" else key).encode("latin-1")
    headers = {b"authorization": b"", header.encode(): value}
    response = gateway.client.get("/api/sessions", headers=headers)
    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")


# ----------------------------------------------------------------- regressions


def test_an_hourly_range_ending_in_year_one_is_refused(gateway: Gateway) -> None:
    # Was a 500: the default start, a day before 'to', is before datetime.min (OverflowError).
    response = gateway.client.get(
        "/api/analytics/hours",
        params={"to": "0001-01-01T00:00:00Z"},
        headers=gateway.operator_headers,
    )
    assert_problem(response, 422, "invalid_time_range")


@pytest.mark.parametrize(
    "body",
    [{"title": "a\x00b"}, {"metadata": {"k": "a\x00b"}}, {"metadata": {"a\x00b": "v"}}],
    ids=["title", "metadata value", "metadata key"],
)
def test_a_nul_character_in_a_new_session_is_refused(gateway: Gateway, body: object) -> None:
    assert_problem(gateway.client.post("/api/sessions", json=body), 422, "invalid_request")


# ----------------------------------------------------------------- the fuzz can fail


def _canary_app(analytics_url: str) -> FastAPI:
    """The gateway with routes that misbehave for some inputs (never part of the real app)."""
    app = create_app(fuzz_settings(analytics_url))

    async def raises(n: int) -> dict[str, int]:
        if n % 7 == 3:
            raise ZeroDivisionError("the canary fell over")
        return {"n": n}

    async def plain_error(n: int) -> PlainTextResponse:
        return PlainTextResponse("no", status_code=422 if n % 5 == 2 else 200)

    async def leaks(session_id: Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]) -> dict[str, str]:
        return {"session_id": session_id}

    app.add_api_route("/api/canary/raises/{n}", raises, methods=["GET"])
    app.add_api_route(
        "/api/canary/plain/{n}", plain_error, methods=["GET"], response_class=PlainTextResponse
    )
    app.add_api_route("/api/canary/leaks/{session_id}", leaks, methods=["GET"])
    return app


@pytest.mark.parametrize(
    ("path", "failure", "message"),
    [
        ("/api/canary/raises/{n}", ServerError, ""),
        ("/api/canary/plain/{n}", CustomFailure, "not application/problem+json"),
        ("/api/canary/leaks/{session_id}", CustomFailure, "another tenant's session"),
    ],
    ids=["raises", "error not a problem", "another tenant's session answered"],
)
def test_the_fuzz_fails_on_a_misbehaving_route(
    kafka_topics: KafkaTopics,
    database: str,
    api_key: str,
    other_tenant_key: str,
    operator_key: str,
    analytics_url: str,
    path: str,
    failure: type[Exception],
    message: str,
) -> None:
    app = _canary_app(analytics_url)
    operation = load_schema(app)[path]["GET"]
    with running(app, database, api_key, other_tenant_key, operator_key) as gateway:

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=200,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=QUIET,
        )
        def fuzz(case: Case) -> None:
            gateway.fuzz(case)

        with pytest.raises(FailureGroup) as found:
            fuzz()
    failures = [f for f in found.value.exceptions if isinstance(f, failure)]
    assert failures, found.value.exceptions
    assert any(message in str(f) for f in failures), failures
    if failure is ServerError:  # the cause, from the gateway's log
        notes = "\n".join(getattr(found.value, "__notes__", []))
        assert "ZeroDivisionError: the canary fell over" in notes

"""The WebSocket protocol's AsyncAPI document (``GET /api/asyncapi.json``) against the gateway.

The document is served and well-formed; every message the gateway sends in real exchanges on
both sockets (on real Kafka and PostgreSQL) validates against the document's schema for its
``type``, and so does every text message the tests send; the documented client messages are
the ones the gateway accepts. Read from the source: the message types and fields the gateway
can send, its close codes and the error codes that go with them are all in the document, so
a new message, field or close code without documentation fails here.

(JSON Schema validation: ``jsonschema_rs``, which schemathesis brings.)
"""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

import httpx
import jsonschema_rs
import pytest
from confluent_kafka import Producer
from fastapi.routing import APIRoute, APIWebSocketRoute
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from livetranslate_common.envelope import new_event
from livetranslate_common.runs import RUN_ID_PATTERN
from livetranslate_common.serde import encode_event, encode_key
from livetranslate_common.speech_samples import silence, to_wav_bytes
from livetranslate_common.testing.fixtures import KafkaTopics
from livetranslate_common.testing.results import segment_result
from livetranslate_gateway.adapters.result_history import POSITION_PATTERN
from livetranslate_gateway.api import access as api_access
from livetranslate_gateway.api import routes as routes_package
from livetranslate_gateway.api.routes import live_audio, protocol, results_ws
from livetranslate_gateway.config import GatewaySettings
from livetranslate_gateway.core import access as core_access
from livetranslate_gateway.core import live_stream, messages
from livetranslate_gateway.core.live_stream import AnyControl, LiveProtocolError, parse_control
from livetranslate_gateway.main import create_app
from livetranslate_schemas.events import (
    EventPayload,
    ProcessingFailed,
    RunProgress,
    RunStatus,
    SessionProcessingCompleted,
    SpeakerNamesUpdated,
    StreamIrregularity,
    StreamIrregularityKind,
    TranslationCompleted,
)
from tests_gateway.conftest import bearer
from tests_gateway.served import served_gateway

RESULTS = "sessionResults"
AUDIO = "sessionAudio"
CHANNEL_ADDRESSES = {RESULTS: "/ws/sessions/{session_id}", AUDIO: "/ws/sessions/{session_id}/audio"}
UNKNOWN = "00000000-0000-4000-8000-000000000000"
CAPTURED = "2025-03-04T10:00:00.000Z"

# The sources the gateway's WebSocket messages are built in.
MESSAGE_SOURCES = [
    Path(messages.__file__),
    Path(results_ws.__file__),
    Path(live_audio.__file__),
    Path(live_stream.__file__),
]

# Which of the document's messages the exchanges below make the gateway send, per channel:
# together, every message the document has (checked in test_every_message_is_exercised).
SENT_ON_AUDIO = {"ready", "pong", "streamEnded", "protocolError", "segment", "sessionCompleted"}
SENT_ON_RESULTS = {
    "segment",
    "translation",
    "speakerNames",
    "streamIrregularity",
    "runProgress",
    "sessionCompleted",
    "pipelineError",
    "caughtUp",
    "pong",
    "protocolError",
}
# ...and which client messages the tests send.
SENT_TO_AUDIO = {"start", "audioFrame", "clock", "ping", "end"}
SENT_TO_RESULTS = {"ping"}


# --------------------------------------------------------------------------- the document


def _pointer(document: Any, ref: str) -> Any:
    """What a local reference (``#/a/b``) points at; KeyError if nothing."""
    assert ref.startswith("#/"), f"not a local reference: {ref}"
    node = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                assert isinstance(value, str)
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _deref(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = _pointer(document, node["$ref"])
    return node


@dataclass
class Message:
    """One of a channel's messages: its key there, its ``type`` (None for binary), content
    type, payload schema and a validator of it, and whether the gateway sends it."""

    key: str
    type: str | None
    content_type: str
    payload: dict[str, Any]
    validator: jsonschema_rs.Validator
    from_gateway: bool


@dataclass
class Channel:
    name: str
    document: dict[str, Any]
    messages: dict[str, Message] = field(default_factory=dict)

    @property
    def close_codes(self) -> dict[str, Any]:
        codes: dict[str, Any] = self.document["channels"][self.name]["x-close-codes"]
        return codes

    def _check(self, message: Any, *, from_gateway: bool) -> set[str]:
        assert isinstance(message, dict), message
        candidates = [
            m
            for m in self.messages.values()
            if m.from_gateway is from_gateway and m.type == message.get("type")
        ]
        side = "gateway" if from_gateway else "client"
        assert candidates, f"{self.name}: no {side} message of type {message.get('type')!r}"
        failures = {
            m.key: [e.message for e in m.validator.iter_errors(message)] for m in candidates
        }
        valid = {key for key, errors in failures.items() if not errors}
        assert valid, f"{self.name}: {message} matches no documented {side} message: {failures}"
        return valid

    def sent(self, message: Any) -> set[str]:
        """The message the gateway sent validates against the document: the keys it matches."""
        return self._check(message, from_gateway=True)

    def received(self, message: Any) -> set[str]:
        """A client's text message validates against the document."""
        return self._check(message, from_gateway=False)

    def allows(self, message: Any) -> bool:
        return any(
            m.validator.is_valid(message)
            for m in self.messages.values()
            if not m.from_gateway and m.type == message.get("type")
        )

    def closed(self, code: int, error: dict[str, Any] | None = None) -> None:
        """The close is documented for this channel, with the error code sent before it."""
        assert str(code) in self.close_codes, f"{self.name}: close {code} is not documented"
        if error is not None:
            assert error["code"] in self.close_codes[str(code)]["errorCodes"], (
                f"{self.name}: close {code} is not documented to follow {error['code']!r}"
            )


def _channels(document: dict[str, Any]) -> dict[str, Channel]:
    uri = "urn:livetranslate:asyncapi"
    registry = jsonschema_rs.Registry([(uri, document)], draft=jsonschema_rs.Draft7)
    direction: dict[tuple[str, str], bool] = {}  # (channel, message key) -> from the gateway
    for operation in document["operations"].values():
        sends = operation["action"] == "send"
        groups = [(sends, operation["messages"])]
        if "reply" in operation:
            groups.append((True, operation["reply"]["messages"]))
        for from_gateway, refs in groups:
            for ref in refs:
                _, _, channel, _, key = ref["$ref"].split("/")
                assert direction.setdefault((channel, key), from_gateway) is from_gateway, ref
    channels = {}
    for name, channel in document["channels"].items():
        found = Channel(name, document)
        for key, reference in channel["messages"].items():
            assert (name, key) in direction, f"{name}/{key}: in no operation"
            message = _deref(document, reference)
            pointer = reference["$ref"] + "/payload"
            payload = _deref(document, message["payload"])
            type_ = payload.get("properties", {}).get("type", {}).get("const")
            validator = jsonschema_rs.Draft7Validator(
                {"$ref": uri + pointer}, registry=registry, validate_formats=True
            )
            found.messages[key] = Message(
                key,
                type_,
                message.get("contentType", document["defaultContentType"]),
                payload,
                validator,
                direction[name, key],
            )
        channels[name] = found
    return channels


DOCUMENT: dict[str, Any] = json.loads(protocol.ASYNCAPI_DOCUMENT)
CHANNELS = _channels(DOCUMENT)


def _routes() -> Iterator[BaseRoute]:
    """Every route of the gateway's routers (``api/routes/*.py``)."""
    for module in pkgutil.iter_modules(routes_package.__path__):
        name = f"{routes_package.__name__}.{module.name}"
        router = getattr(importlib.import_module(name), "router", None)
        if router is not None:
            yield from router.routes


def test_the_document_is_served_without_a_key_and_every_reference_resolves() -> None:
    app = create_app(GatewaySettings())
    response = TestClient(app).get(protocol.ASYNCAPI_PATH)  # no lifespan needed, no key
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert document == DOCUMENT
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["version"] == app.version
    # Left out of the OpenAPI document, like /openapi.json itself.
    (route,) = protocol.router.routes
    assert isinstance(route, APIRoute)
    assert (route.path, route.include_in_schema) == (protocol.ASYNCAPI_PATH, False)

    references = list(_refs(document))
    assert len(references) > 50
    for ref in references:
        _pointer(document, ref)  # raises if it points at nothing
    for name, operation in document["operations"].items():
        channel = operation["channel"]["$ref"]
        assert _pointer(document, channel) is not None
        for ref in operation["messages"]:
            assert ref["$ref"].startswith(channel + "/messages/"), (name, ref)
        if "reply" in operation:
            reply = operation["reply"]["channel"]["$ref"]
            for ref in operation["reply"]["messages"]:
                assert ref["$ref"].startswith(reply + "/messages/"), (name, ref)

    # The channels are the gateway's sockets, all of them.
    sockets = {r.path: r for r in _routes() if isinstance(r, APIWebSocketRoute)}
    addresses = {c["address"] for c in document["channels"].values()}
    assert addresses == set(sockets) == set(CHANNEL_ADDRESSES.values())
    for name, address in CHANNEL_ADDRESSES.items():
        assert document["channels"][name]["address"] == address
        documented = set(document["channels"][name]["parameters"])
        assert documented == {p.name for p in sockets[address].dependant.path_params}
    # The sockets' query parameters, as the routes declare them.
    query = document["channels"][RESULTS]["bindings"]["ws"]["query"]["properties"]
    declared = sockets[CHANNEL_ADDRESSES[RESULTS]].dependant.query_params
    assert set(query) == {p.name for p in declared} == {"run", "after"}
    assert query["run"]["pattern"] == RUN_ID_PATTERN
    assert query["after"]["pattern"] == POSITION_PATTERN
    assert query["run"]["default"] == "live"
    assert "query" not in document["channels"][AUDIO]["bindings"]["ws"]
    assert not sockets[CHANNEL_ADDRESSES[AUDIO]].dependant.query_params

    # The ways to present a key, as core/access.py reads them.
    schemes = document["components"]["securitySchemes"]
    assert (schemes["bearer"]["type"], schemes["bearer"]["scheme"]) == ("http", "bearer")
    assert (schemes["apiKeyHeader"]["name"], schemes["apiKeyHeader"]["in"]) == (
        "X-API-Key",
        "header",
    )
    subprotocol = schemes["subprotocol"]["description"]
    assert core_access.WS_SUBPROTOCOL in subprotocol
    assert f"{core_access.WS_BEARER_PREFIX}<key>" in subprotocol
    security = document["servers"]["gateway"]["security"]
    assert {_pointer(document, s["$ref"])["type"] for s in security} == {"http", "httpApiKey"}


def test_server_messages_are_open_and_client_messages_closed() -> None:
    for channel in CHANNELS.values():
        for message in channel.messages.values():
            payload = message.payload
            if message.type is None:  # the binary audio frame
                assert not message.from_gateway
                assert message.content_type == "application/octet-stream"
                continue
            assert message.content_type == "application/json", message.key
            # Clients must ignore fields they do not know; the gateway refuses them.
            assert payload["additionalProperties"] is message.from_gateway, message.key
            assert "type" in payload["required"], message.key
            assert set(payload["required"]) <= set(payload["properties"]), message.key


def test_every_example_is_valid_and_client_examples_are_accepted() -> None:
    checked = 0
    for channel in CHANNELS.values():
        for message in channel.messages.values():
            reference = DOCUMENT["channels"][channel.name]["messages"][message.key]
            for example in _deref(DOCUMENT, reference).get("examples", []):
                payload = example["payload"]
                errors = [e.message for e in message.validator.iter_errors(payload)]
                assert not errors, (channel.name, message.key, example["name"], errors)
                if not message.from_gateway:
                    parse_control(json.dumps(payload))  # raises if the gateway refuses it
                checked += 1
    assert checked >= 15


# Text messages to the live audio socket the document allows, and some it does not: the
# gateway must accept the first (what the document allows works) and refuse the others.
ALLOWED = [
    {"type": "start", "sample_rate_hz": 8000},
    {"type": "start", "sample_rate_hz": 48000, "channels": 1, "encoding": "pcm_s16le"},
    {"type": "start", "sample_rate_hz": 22050, "channels": 2, "capture_time": None},
    {"type": "start", "sample_rate_hz": 16000, "capture_time": "2025-03-04T10:00:00+05:30"},
    {"type": "clock", "capture_time": "2025-03-04T10:00:00.123456Z"},
    {"type": "clock", "capture_time": "2025-03-04T10:00:00-08:00"},
    {"type": "end"},
    {"type": "ping"},
]
REFUSED = [
    {"type": "start", "sample_rate_hz": 7999},
    {"type": "start", "sample_rate_hz": 48001},
    {"type": "start"},
    {"type": "start", "sample_rate_hz": 16000, "channels": 3},
    {"type": "start", "sample_rate_hz": 16000, "encoding": "opus"},
    {"type": "start", "sample_rate_hz": 16000, "codec": "pcm"},
    {"type": "start", "sample_rate_hz": 16000, "capture_time": "2025-03-04T10:00:00"},
    {"type": "clock", "capture_time": "2025-03-04T10:00:00"},
    {"type": "clock", "capture_time": 1741082400},
    {"type": "clock"},
    {"type": "end", "reason": "done"},
    {"type": "ping", "id": 1},
]


@pytest.mark.parametrize("message", ALLOWED, ids=lambda m: json.dumps(m))
def test_a_client_message_the_document_allows_is_accepted(message: dict[str, Any]) -> None:
    assert CHANNELS[AUDIO].allows(message)
    parse_control(json.dumps(message))


@pytest.mark.parametrize("message", REFUSED, ids=lambda m: json.dumps(m))
def test_a_client_message_the_document_forbids_is_refused(message: dict[str, Any]) -> None:
    assert not CHANNELS[AUDIO].allows(message)
    with pytest.raises(LiveProtocolError):
        parse_control(json.dumps(message))


# --------------------------------------------------------------------------- the source


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _typed_dicts(path: Path) -> list[tuple[str, set[str], bool]]:
    """The dict literals of a source file with a literal ``"type"``: the type, the literal
    keys, and whether the dict also unpacks another (``**extra``)."""
    found = []
    for node in ast.walk(_tree(path)):
        if not isinstance(node, ast.Dict):
            continue
        keys = {
            k.value: v
            for k, v in zip(node.keys, node.values, strict=True)
            if isinstance(k, ast.Constant)
        }
        kind = keys.get("type")
        if isinstance(kind, ast.Constant) and isinstance(kind.value, str):
            found.append((kind.value, {str(k) for k in keys}, None in node.keys))
    return found


def _documented(channels: list[Channel], *, from_gateway: bool) -> dict[str, list[Message]]:
    by_type: dict[str, list[Message]] = {}
    for channel in channels:
        for message in channel.messages.values():
            if message.from_gateway is from_gateway and message.type is not None:
                by_type.setdefault(message.type, []).append(message)
    return by_type


def test_every_message_type_and_field_the_gateway_can_send_is_documented() -> None:
    documented = _documented(list(CHANNELS.values()), from_gateway=True)
    in_code: set[str] = set()
    for path in MESSAGE_SOURCES:
        dicts = _typed_dicts(path)
        assert dicts, f"no message found in {path.name}: the scan is broken"
        for kind, keys, unpacks in dicts:
            in_code.add(kind)
            assert kind in documented, f"{path.name}: message type {kind!r} is not documented"
            if path == Path(messages.__file__):
                keys |= {"emitted_at", "position"}  # every result gets them (results_ws.py)
            shapes = [set(m.payload["required"]) for m in documented[kind]]
            if unpacks:  # more fields come from elsewhere: the literal ones at least
                assert any(keys <= shape for shape in shapes), (path.name, kind, keys, shapes)
            else:  # exactly the fields documented as always there
                assert keys in shapes, (path.name, kind, keys, shapes)
    # Nothing documented that the gateway cannot send.
    assert in_code == set(documented)


def test_the_client_message_types_are_the_gateways() -> None:
    # The models of the discriminated union parse_control validates with.
    models = {get_args(m.model_fields["type"].annotation)[0]: m for m in get_args(AnyControl)}
    documented = _documented([CHANNELS[AUDIO]], from_gateway=False)
    assert set(documented) == set(models) == {"start", "clock", "end", "ping"}
    for kind, (message,) in documented.items():
        assert set(message.payload["properties"]) == set(models[kind].model_fields), kind
        required = {n for n, f in models[kind].model_fields.items() if f.is_required()}
        assert set(message.payload["required"]) == required, kind
    assert set(_documented([CHANNELS[RESULTS]], from_gateway=False)) == {"ping"}


def _close_constants() -> dict[str, int]:
    return {
        name: value
        for name, value in vars(live_stream).items()
        if name.startswith("CLOSE_") and isinstance(value, int)
    }


def _names_used(path: Path) -> set[str]:
    return {n.id for n in ast.walk(_tree(path)) if isinstance(n, ast.Name)}


def _protocol_errors(path: Path) -> set[tuple[int, str]]:
    """(close code, error code) of every ``LiveProtocolError(CLOSE_X, "code", ...)``."""
    constants = _close_constants()
    found: set[tuple[int, str]] = set()
    for node in ast.walk(_tree(path)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "LiveProtocolError"
        ):
            close, code = node.args[0], node.args[1]
            assert isinstance(close, ast.Name), ast.unparse(node)
            assert isinstance(code, ast.Constant), ast.unparse(node)
            assert isinstance(code.value, str), ast.unparse(node)
            found.add((constants[close.id], code.value))
    return found


def test_every_close_code_is_documented_with_its_error_codes() -> None:
    constants = _close_constants()
    assert len(constants) >= 11
    # The live audio socket can close with every one of them.
    audio, results = CHANNELS[AUDIO].close_codes, CHANNELS[RESULTS].close_codes
    for name, value in constants.items():
        assert str(value) in audio, f"{name} ({value}) is not in the audio channel's x-close-codes"
        assert audio[str(value)]["constant"] == name
    # The results socket with those its route and the key check use.
    used = (_names_used(Path(results_ws.__file__)) | _names_used(Path(api_access.__file__))) & set(
        constants
    )
    assert {"CLOSE_POLICY", "CLOSE_UNAUTHORIZED", "CLOSE_SESSION_NOT_FOUND"} <= used
    for name in used:
        assert results.get(str(constants[name]), {}).get("constant") == name, name
    for channel in (audio, results):
        for code, entry in channel.items():
            assert set(entry) >= {"constant", "description", "errorCodes"}, code
            assert entry["description"], code
            if entry["constant"] is None:  # from the ASGI server, not the gateway's code
                assert code == "1012", code
            else:
                assert constants[entry["constant"]] == int(code), code
    # Every refusal of the live audio socket, with the close it gets, and nothing else.
    raised = _protocol_errors(Path(live_stream.__file__)) | _protocol_errors(
        Path(live_audio.__file__)
    )
    assert len(raised) >= 15
    documented = {(int(code), e) for code, entry in audio.items() for e in entry["errorCodes"]}
    assert raised == documented, raised ^ documented
    # The results socket's one refusal.
    literal = set()
    for node in ast.walk(_tree(Path(results_ws.__file__))):
        if isinstance(node, ast.Dict):
            for key, item in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "code":
                    assert isinstance(item, ast.Constant), ast.unparse(node)
                    literal.add(item.value)
    assert (
        literal
        == {e for entry in results.values() for e in entry["errorCodes"]}
        == {"bad_position"}
    )
    # The error message's code enum: exactly these.
    enum = DOCUMENT["components"]["schemas"]["ProtocolError"]["properties"]["code"]["enum"]
    assert set(enum) == {code for _, code in raised} | literal


def test_every_message_is_exercised() -> None:
    """The exchanges below see every documented message: none is documented untested."""

    def keys(channel: str, *, from_gateway: bool) -> set[str]:
        return {k for k, m in CHANNELS[channel].messages.items() if m.from_gateway is from_gateway}

    on_audio, on_results = keys(AUDIO, from_gateway=True), keys(RESULTS, from_gateway=True)
    assert on_audio >= SENT_ON_AUDIO
    assert on_results == SENT_ON_RESULTS
    # The live audio socket's results come from the same code as the results socket's
    # (results_ws.forward_results): those not seen on it are seen there.
    assert on_audio - SENT_ON_AUDIO <= on_results
    assert keys(AUDIO, from_gateway=False) == SENT_TO_AUDIO
    assert keys(RESULTS, from_gateway=False) == SENT_TO_RESULTS


# --------------------------------------------------------------------------- live audio


class Recorder:
    """A live audio socket whose every message, both ways, is checked against the document."""

    def __init__(self, ws: WebSocketTestSession) -> None:
        self.ws = ws
        self.channel = CHANNELS[AUDIO]
        self.seen: set[str] = set()
        self.sent: set[str] = set()

    def send(self, message: dict[str, Any]) -> None:
        self.sent |= self.channel.received(message)
        self.ws.send_json(message)

    def send_bytes(self, frame: bytes) -> None:
        self.sent.add("audioFrame")
        self.ws.send_bytes(frame)

    def receive(self) -> dict[str, Any]:
        message: dict[str, Any] = self.ws.receive_json()
        self.seen |= self.channel.sent(message)
        return message

    def until_closed(self) -> tuple[list[dict[str, Any]], WebSocketDisconnect]:
        received = []
        while True:
            try:
                received.append(self.receive())
            except WebSocketDisconnect as closed:
                errors = [m for m in received if m["type"] == "error" and "code" in m]
                self.channel.closed(closed.code, errors[-1] if errors else None)
                return received, closed


@pytest.fixture
def client(kafka_topics: KafkaTopics, database: str) -> Iterator[TestClient]:
    with TestClient(create_app(GatewaySettings(live_chunk_ms=100))) as test_client:
        yield test_client


def _session(client: TestClient, headers: dict[str, str]) -> str:
    response = client.post("/api/sessions", json={"translate_to": ["es"]}, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["session_id"])


def _refused_at_handshake(connect_socket: Callable[[], Any]) -> int:
    with pytest.raises(WebSocketDisconnect) as closed, connect_socket() as ws:
        ws.receive_json()
    return closed.value.code


def test_a_live_stream_speaks_as_documented(client: TestClient, api_key: str) -> None:
    headers = bearer(api_key)
    channel = CHANNELS[AUDIO]
    session_id = _session(client, headers)
    path = f"/ws/sessions/{session_id}/audio"
    no_key = _refused_at_handshake(lambda: client.websocket_connect(path))
    unknown = _refused_at_handshake(
        lambda: client.websocket_connect(f"/ws/sessions/{UNKNOWN}/audio", headers=headers)
    )
    assert (no_key, unknown) == (4401, 4404)
    channel.closed(no_key)
    channel.closed(unknown)

    # The browser's way to present the key: the documented subprotocols.
    offered = [core_access.WS_SUBPROTOCOL, f"{core_access.WS_BEARER_PREFIX}{api_key}"]
    with client.websocket_connect(path, subprotocols=offered) as ws:
        assert ws.accepted_subprotocol == core_access.WS_SUBPROTOCOL
        socket = Recorder(ws)
        socket.send({"type": "ping"})
        assert socket.receive()["type"] == "pong"  # before start too
        socket.send(
            {"type": "start", "sample_rate_hz": 16000, "channels": 2, "capture_time": CAPTURED}
        )
        assert socket.receive() == {"type": "ready", "session_id": session_id, "chunk_ms": 100}
        socket.send({"type": "clock", "capture_time": "2025-03-04T10:00:00.000+00:00"})
        for _ in range(3):
            socket.send_bytes(bytes(16000 * 2 * 2 // 10))  # 100 ms of stereo silence
        socket.send({"type": "ping"})
        assert socket.receive()["type"] == "pong"
        socket.send({"type": "end"})
        ended = socket.receive()
        assert (ended["type"], ended["chunks"], ended["duration_ms"]) == ("stream_ended", 3, 300)

        publisher = client.app.state.publisher
        results: list[EventPayload] = [
            segment_result(session_id, 0, speaker="SPEAKER_00", speaker_map={"SPEAKER_00": "A"}),
            SessionProcessingCompleted(
                session_id=session_id,
                run_id="live",
                final_segment_count=1,
                audio_duration_ms=300,
                last_seq=2,
            ),
        ]

        async def publish() -> None:
            await publisher.publish(session_id, results)

        assert client.portal is not None
        client.portal.call(publish)
        received, closed = socket.until_closed()
        assert [m["type"] for m in received] == ["segment", "session_completed"]
        assert received[0]["speaker_name"] == "A"
        assert closed.code == 1000
    seen, sent = socket.seen, socket.sent

    # Refusals: a bad start, and a bad frame after a good one.
    for first, frame, code in [
        ({"type": "start", "sample_rate_hz": 4000}, None, "invalid_message"),
        ({"type": "start", "sample_rate_hz": 16000}, bytes(641), "misaligned_frame"),
    ]:
        with client.websocket_connect(
            f"/ws/sessions/{_session(client, headers)}/audio", headers=headers
        ) as ws:
            socket = Recorder(ws)
            ws.send_json(first)  # the bad one is not checked against the document
            if frame is not None:
                assert socket.receive()["type"] == "ready"
                ws.send_bytes(frame)
            received, _ = socket.until_closed()
            assert [(m["type"], m["code"]) for m in received[-1:]] == [("error", code)]
        seen |= socket.seen

    assert seen == SENT_ON_AUDIO
    assert sent == SENT_TO_AUDIO


# --------------------------------------------------------------------------- results


class ResultsSocket:
    """A results socket over real TCP, every message checked against the document."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.channel = CHANNELS[RESULTS]
        self.seen: set[str] = set()

    def receive(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(self.socket.recv(timeout=30))
        self.seen |= self.channel.sent(message)
        return message

    def until_caught_up(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        history = []
        while (message := self.receive())["type"] != "caught_up":
            history.append(message)
        return history, message

    def ping(self) -> None:
        message = {"type": "ping"}
        self.channel.received(message)
        self.socket.send(json.dumps(message))
        assert self.receive() == {"type": "pong"}

    def _next(self) -> dict[str, Any] | ConnectionClosed:
        try:
            return self.receive()
        except ConnectionClosed as closed:
            return closed

    def closed(self) -> tuple[list[dict[str, Any]], int]:
        """Messages until the gateway closes the socket, and the close code."""
        received = []
        while not isinstance(message := self._next(), ConnectionClosed):
            received.append(message)
        assert message.rcvd is not None, "closed without a close frame"
        errors = [m for m in received if m["type"] == "error" and "code" in m]
        self.channel.closed(message.rcvd.code, errors[-1] if errors else None)
        return received, message.rcvd.code


class Pipeline:
    """Produces results to audio-results the way the pipeline does."""

    def __init__(self, topics: KafkaTopics) -> None:
        self._topic = topics["audio-results"]
        self._producer = Producer(
            {"bootstrap.servers": topics.bootstrap_servers, "partitioner": "murmur2_random"}
        )

    def publish(self, session_id: str, *payloads: EventPayload) -> None:
        for payload in payloads:
            envelope = new_event(payload, source="audio_pipeline")
            self._producer.produce(self._topic, encode_event(envelope), key=encode_key(session_id))
        assert self._producer.flush(30) == 0

    def close(self) -> None:
        self._producer.close()


@pytest.fixture
def pipeline(kafka_topics: KafkaTopics) -> Iterator[Pipeline]:
    producer = Pipeline(kafka_topics)
    yield producer
    producer.close()  # before the test's Kafka goes away


@pytest.fixture
def gateway_url(kafka_topics: KafkaTopics, database: str) -> Iterator[str]:
    with served_gateway(GatewaySettings()) as url:
        yield url


def test_the_results_socket_speaks_as_documented(
    gateway_url: str, pipeline: Pipeline, api_key: str
) -> None:
    headers = bearer(api_key)
    ws_url = "ws" + gateway_url.removeprefix("http")

    def results(
        session_id: str, query: str = "", key_headers: dict[str, str] = headers
    ) -> ClientConnection:
        url = f"{ws_url}/ws/sessions/{session_id}{query}"
        return connect(url, additional_headers=key_headers, open_timeout=30)

    response = httpx.post(
        f"{gateway_url}/api/sessions", json={"translate_to": ["es"]}, headers=headers
    )
    assert response.status_code == 201, response.text
    session_id = str(response.json()["session_id"])
    pipeline.publish(
        session_id,
        segment_result(
            session_id, 0, speaker="SPEAKER_00", speaker_map={"SPEAKER_00": "Alice"}, is_final=False
        ),
        segment_result(session_id, 0, speaker="SPEAKER_00", revision=1),
        TranslationCompleted(
            session_id=session_id,
            segment_id=f"{session_id}:{0:012d}",
            revision=1,
            run_id="live",
            source_language="en",
            target_language="es",
            source_text="words at 0",
            text="palabras en 0",
            backend="test",
        ),
        SpeakerNamesUpdated(
            session_id=session_id, changes={"SPEAKER_00": "Bob"}, names={"SPEAKER_00": "Bob"}
        ),
        StreamIrregularity(
            session_id=session_id,
            kind=StreamIrregularityKind.GAP,
            seq=5,
            expected_seq=3,
            missing_chunks=2,
            missing_samples=3200,
            run_id="live",
            detail="chunks 3..4 never arrived",
        ),
        ProcessingFailed(
            session_id=session_id,
            stage="translation",
            error_code="translation_failed",
            message="the backend did not answer",
            retryable=True,
        ),
    )
    history_types = [
        "segment",
        "segment",
        "translation",
        "speaker_names",
        "stream_irregularity",
        "error",
    ]

    # A late joiner: the history, caught_up, then live; pings answered.
    with results(session_id) as raw:
        socket = ResultsSocket(raw)
        history, caught_up = socket.until_caught_up()
        assert [m["type"] for m in history] == history_types
        assert caught_up["position"] == history[-1]["position"]
        socket.ping()
        pipeline.publish(
            session_id,
            StreamIrregularity(
                session_id=session_id,
                kind=StreamIrregularityKind.CLOCK_DRIFT,
                seq=400,
                clock_offset_ms=61.5,
                clock_drift_ppm=1537.5,
                run_id="live",
            ),
            SessionProcessingCompleted(
                session_id=session_id,
                run_id="live",
                final_segment_count=1,
                audio_duration_ms=900,
                last_seq=8,
            ),
        )
        live = [socket.receive(), socket.receive()]
        assert [m["type"] for m in live] == ["stream_irregularity", "session_completed"]
    seen = socket.seen

    # Resuming after a position: what came after it, once, then caught_up.
    with results(session_id, f"?after={history[2]['position']}") as raw:
        socket = ResultsSocket(raw)
        rest, caught_up = socket.until_caught_up()
        assert [m["position"] for m in rest] == [m["position"] for m in history[3:] + live]
        assert caught_up["position"] == live[-1]["position"]
    seen |= socket.seen

    # A reprocessing run (of the session's recorded audio): its progress, results and
    # completion on ?run=.
    recorded = httpx.post(
        f"{gateway_url}/api/sessions/{session_id}/audio",
        content=to_wav_bytes(silence(0.3)),
        headers=headers,
    )
    assert recorded.status_code == 202, recorded.text
    response = httpx.post(
        f"{gateway_url}/api/sessions/{session_id}/reprocess", json={}, headers=headers
    )
    assert response.status_code == 202, response.text
    run_id = str(response.json()["run_id"])
    pipeline.publish(
        session_id,
        RunProgress(
            session_id=session_id,
            run_id=run_id,
            status=RunStatus.RUNNING,
            model="tiny.en",
            pipeline_version="test",
            processed_ms=500,
            total_ms=900,
            final_segment_count=0,
            requested_at=datetime.now(UTC),
        ),
        segment_result(session_id, 0, run_id=run_id),
        SessionProcessingCompleted(
            session_id=session_id,
            run_id=run_id,
            final_segment_count=1,
            audio_duration_ms=900,
            last_seq=8,
        ),
    )
    with results(session_id, f"?run={run_id}") as raw:
        socket = ResultsSocket(raw)
        run_history, _ = socket.until_caught_up()
        of_the_run = [m for m in run_history if m.get("run_id") == run_id]
        assert [m["type"] for m in of_the_run] == ["run_progress", "segment", "session_completed"]
        # Messages of no run concern every run, as documented.
        of_no_run = [m["type"] for m in run_history if m.get("run_id") is None]
        assert of_no_run == ["speaker_names", "error"]
    seen |= socket.seen

    # Refusals: a position that cannot be the session's; an unknown run; no key.
    with results(session_id, "?after=99:0") as raw:
        socket = ResultsSocket(raw)
        received, code = socket.closed()
        assert [(m["type"], m["code"]) for m in received] == [("error", "bad_position")]
        assert code == 1008
    seen |= socket.seen
    for query, key_headers, expected in [
        ("?run=rp-0123456789ab", headers, 4404),
        ("", {}, 4401),
    ]:
        with results(session_id, query, key_headers) as raw:
            socket = ResultsSocket(raw)
            assert socket.closed() == ([], expected)

    assert seen == SENT_ON_RESULTS

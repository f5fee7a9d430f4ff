"""The generated writers (``write_avro``) write exactly the bytes fastavro writes.

fastavro's ``schemaless_writer`` of ``to_avro()`` is the reference: every sample, every
sample stripped to its required fields, hand-picked edge cases and records drawn at random
from the .avsc files themselves (not from the generated type hints) must encode to the same
bytes, and decode back to the record they came from. What fastavro would write silently but
wrongly (an int beyond 32 bits, a float for a long, a naive datetime) is refused.
"""

from __future__ import annotations

import dataclasses
import io
import struct
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livetranslate_schemas import (
    ENVELOPE_NAME,
    codegen,
    events,
    expand_schema,
    load_envelope_schema,
    released_envelope_schemas,
    schema_definitions,
)
from livetranslate_schemas.events import (
    EVENT_TYPES,
    AudioChunkReceived,
    AudioConfig,
    BotRequested,
    Envelope,
    EventPayload,
    ProcessingFlags,
    ReprocessRequested,
    ServiceHealthReport,
    SourceType,
    SpeakerNamesUpdated,
    StreamIrregularity,
    TranscriptionCompleted,
    TranslationCompleted,
    WordTiming,
)
from livetranslate_schemas.samples import sample_of, sample_payloads
from livetranslate_schemas.wire import EnvelopeSerde, WireFormatError

SCHEMA = load_envelope_schema()
SERDE = EnvelopeSerde(released_envelope_schemas())
DEFINITIONS = schema_definitions()


def envelope(payload: EventPayload, **changes: Any) -> Envelope:
    fields: dict[str, Any] = {
        "schema_version": 1,
        "event_id": UUID("12345678-1234-4678-9234-567812345678"),
        "event_type": type(payload).__name__,
        "source": "tests",
        "timestamp": datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        "trace_id": "0" * 32,
        "span_id": "span-1",
        "payload": payload,
    }
    return Envelope(**(fields | changes))


def fastavro_bytes(value: Envelope) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, SCHEMA, value.to_avro())
    return buffer.getvalue()


def generated_bytes(value: Envelope) -> bytes:
    out = bytearray()
    value.write_avro(out)
    return bytes(out)


def assert_same_bytes_and_round_trip(value: Envelope) -> None:
    expected = fastavro_bytes(value)
    assert generated_bytes(value).hex(" ") == expected.hex(" ")
    message = SERDE.encode(value)
    assert message[len(SERDE.fingerprint) + 2 :] == expected
    assert SERDE.decode(message) == value


def replace(record: Any, **changes: Any) -> Any:
    """The record with some fields changed, unchecked: for values of the wrong type."""
    return dataclasses.replace(record, **changes)


def stripped(record: Any) -> Any:
    """The record with every optional field None and every container empty, recursively."""
    changes: dict[str, Any] = {}
    for fld in dataclasses.fields(record):
        value = getattr(record, fld.name)
        if fld.default is None:
            changes[fld.name] = None
        elif fld.default_factory is not dataclasses.MISSING:
            changes[fld.name] = fld.default_factory()
        elif dataclasses.is_dataclass(value):
            changes[fld.name] = stripped(value)
    return dataclasses.replace(record, **changes)


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_sample_is_written_as_fastavro_writes_it(event_type: str) -> None:
    assert_same_bytes_and_round_trip(envelope(sample_payloads()[event_type]))


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_event_with_only_its_required_fields(event_type: str) -> None:
    payload = stripped(sample_payloads()[event_type])
    assert_same_bytes_and_round_trip(envelope(payload, span_id=None))


def test_the_samples_themselves_fill_every_optional_field() -> None:
    # Else the test above would compare a sample with itself.
    for payload in sample_payloads().values():
        optional = [
            f.name
            for f in dataclasses.fields(payload)
            if f.default is None or f.default_factory is not dataclasses.MISSING
        ]
        for name in optional:
            assert stripped(payload) != replace(stripped(payload), **{name: getattr(payload, name)})


_CHUNK = sample_of(AudioChunkReceived)
_TRANSCRIPTION = sample_of(TranscriptionCompleted)
_BOUNDARY_LONGS = [0, 1, -1, 63, 64, -64, -65, 8191, 8192, -(2**31), 2**31 - 1, -(2**63), 2**63 - 1]
_BOUNDARY_INTS = [0, 1, -1, 63, 64, -64, -65, 8191, 8192, -(2**31), 2**31 - 1]


@pytest.mark.parametrize("value", _BOUNDARY_LONGS)
def test_longs_at_their_boundaries(value: int) -> None:
    assert_same_bytes_and_round_trip(envelope(replace(_CHUNK, seq=value, checksum_crc32=value)))


@pytest.mark.parametrize("value", _BOUNDARY_INTS)
def test_ints_at_their_boundaries(value: int) -> None:
    config = AudioConfig(sample_rate_hz=value, channels=-value if value > -(2**31) else 0)
    assert_same_bytes_and_round_trip(envelope(replace(_CHUNK, audio_config=config)))
    assert_same_bytes_and_round_trip(envelope(_CHUNK, schema_version=value))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "moment",
    [
        _EPOCH,
        datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1900, 2, 28, 12, 0, 0, 1, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2025, 6, 1, 8, 30, 0, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        datetime(2025, 6, 1, 8, 30, 0, 123456, tzinfo=timezone(timedelta(hours=-9))),
        # Where the varint grows from 7 to 8 bytes and from 8 to 9, on both sides.
        *(
            _EPOCH + timedelta(microseconds=micros)
            for edge in (2**48, 2**55)
            for micros in (edge - 1, edge, -edge, -edge - 1)
        ),
    ],
    ids=str,
)
def test_timestamps_before_and_after_the_epoch(moment: datetime) -> None:
    payload = replace(_CHUNK, capture_time=moment)
    assert_same_bytes_and_round_trip(envelope(payload, timestamp=moment))


@pytest.mark.parametrize("value", [0.0, -0.0, 1.5, -2.75, 0.1, -1e-300, 1e300, float("inf")])
def test_doubles_and_floats(value: float) -> None:
    irregular = replace(
        sample_of(StreamIrregularity), clock_offset_ms=value, clock_drift_ppm=-value
    )
    assert_same_bytes_and_round_trip(envelope(irregular))
    # Avro float is 32-bit: for the round trip, values a float32 holds exactly.
    single = value if value in (0.0, 1.5, -2.75, float("inf")) else 0.375
    words = [WordTiming(word="x", start_ms=0, end_ms=1, probability=single)]
    transcription = replace(_TRANSCRIPTION, confidence=-single, words=words)
    assert_same_bytes_and_round_trip(envelope(transcription))


def test_a_float_a_float32_cannot_hold_exactly_is_rounded_as_fastavro_rounds_it() -> None:
    value = envelope(replace(_TRANSCRIPTION, confidence=0.1))
    assert generated_bytes(value) == fastavro_bytes(value)


@pytest.mark.parametrize(
    "text",
    ["", "a", "Grüß Gott 👋", "日本語のテキスト", "x" * 63, "y" * 64, "z" * 8191, "é" * 5000],
    ids=lambda text: f"{len(text)} chars",
)
def test_strings_of_every_length_and_script(text: str) -> None:
    payload = replace(
        sample_of(TranslationCompleted), source_text=text, text=text, source_language=text
    )
    assert_same_bytes_and_round_trip(envelope(payload, source=text))


@pytest.mark.parametrize("count", [0, 1, 2, 63, 64, 200])
def test_arrays_and_maps_of_every_size(count: int) -> None:
    words = [
        WordTiming(word=f" w{i}", start_ms=i * 10, end_ms=i * 10 + 5, probability=0.5)
        for i in range(count)
    ]
    names = {f"SPEAKER_{i:02d}": f"Speaker {i} ✓" for i in range(count)}
    transcription = replace(_TRANSCRIPTION, words=words, speaker_map=names)
    assert_same_bytes_and_round_trip(envelope(transcription))
    changes = {name: (None if i % 2 else "Ada") for i, name in enumerate(names)}
    speakers = replace(sample_of(SpeakerNamesUpdated), changes=changes, names=names)
    assert_same_bytes_and_round_trip(envelope(speakers))
    languages = [f"l{i}" for i in range(count)]
    reprocess = replace(sample_of(ReprocessRequested), translate_to=languages)
    assert_same_bytes_and_round_trip(envelope(reprocess))
    flags = ProcessingFlags(translate_to=languages, speaker_names=names)
    assert_same_bytes_and_round_trip(envelope(replace(_CHUNK, processing_flags=flags)))


@pytest.mark.parametrize("size", [0, 1, 63, 64, 3200, 100_000])
def test_audio_of_every_size(size: int) -> None:
    audio = bytes(i % 251 for i in range(size))
    assert_same_bytes_and_round_trip(envelope(replace(_CHUNK, audio=audio)))


def test_a_bytearray_or_memoryview_is_written_as_its_bytes() -> None:
    expected = generated_bytes(envelope(replace(_CHUNK, audio=b"\x01\x02\x03\x04")))
    for audio in (bytearray(b"\x01\x02\x03\x04"), memoryview(b"\x01\x02\x03\x04")):
        assert generated_bytes(envelope(replace(_CHUNK, audio=audio))) == expected
    # Two 16-bit samples are still four bytes, not a length of two.
    samples = memoryview(b"\x01\x02\x03\x04").cast("H")
    assert generated_bytes(envelope(replace(_CHUNK, audio=samples))) == expected


def test_a_uuid_given_as_text_is_written_as_it_is() -> None:
    value = envelope(_CHUNK, event_id="12345678-1234-4678-9234-567812345678")
    assert generated_bytes(value) == generated_bytes(envelope(_CHUNK))
    assert generated_bytes(value) == fastavro_bytes(value)


def test_a_plain_str_equal_to_an_enum_symbol_is_written_as_the_symbol() -> None:
    value = envelope(replace(_CHUNK, source_type="BOT"))
    assert generated_bytes(value) == generated_bytes(envelope(_CHUNK))
    assert generated_bytes(value) == fastavro_bytes(value)


# Records drawn at random from the .avsc definitions.
_UTC_OFFSETS = st.builds(
    timezone, st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
)
_PRIMITIVES: dict[str, st.SearchStrategy[Any]] = {
    "boolean": st.booleans(),
    "int": st.integers(-(2**31), 2**31 - 1),
    "long": st.integers(-(2**63), 2**63 - 1),
    # Values a float32 holds exactly, so the decoded record equals the original.
    "float": st.floats(width=32, allow_nan=False),
    "double": st.floats(allow_nan=False),
    "bytes": st.binary(max_size=300),
    "string": st.text(max_size=80),
}
_LOGICAL: dict[str, st.SearchStrategy[Any]] = {
    # Not within a day of datetime's limits: decoding returns UTC, which must exist.
    "timestamp-micros": st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=_UTC_OFFSETS
    ),
    "uuid": st.uuids(),
}


def strategy(schema: Any) -> st.SearchStrategy[Any]:
    """Values of an Avro schema, as the generated records hold them."""
    if isinstance(schema, list):
        branches = [strategy(branch) for branch in schema if branch != "null"]
        both = st.one_of(*branches)
        return st.none() | both if "null" in schema else both
    if isinstance(schema, dict):
        if "logicalType" in schema:
            return _LOGICAL[schema["logicalType"]]
        if schema["type"] == "array":
            return st.lists(strategy(schema["items"]), max_size=4)
        if schema["type"] == "map":
            return st.dictionaries(st.text(max_size=12), strategy(schema["values"]), max_size=4)
        return strategy(schema["type"])
    if schema in _PRIMITIVES:
        return _PRIMITIVES[schema]
    return named(schema if "." in schema else f"{ENVELOPE_NAME.rpartition('.')[0]}.{schema}")


def named(fullname: str) -> st.SearchStrategy[Any]:
    definition = DEFINITIONS[fullname]
    python_type = getattr(events, definition["name"])
    if definition["type"] == "enum":
        return st.sampled_from(list(python_type))
    fields = {fld["name"]: strategy(fld["type"]) for fld in definition["fields"]}
    return st.builds(python_type, **fields)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(named(ENVELOPE_NAME))
def test_random_envelopes_of_every_event_are_written_as_fastavro_writes_them(
    value: Envelope,
) -> None:
    assert_same_bytes_and_round_trip(value)


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_records_of_each_event(event_type: str, data: st.DataObject) -> None:
    payload = data.draw(named(EVENT_TYPES[event_type].AVRO_NAME))
    assert_same_bytes_and_round_trip(envelope(payload))


_RECORDS = sorted(name for name, d in DEFINITIONS.items() if d["type"] == "record")


@pytest.mark.parametrize("fullname", _RECORDS, ids=lambda name: name.rpartition(".")[2])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_record_writes_itself_alone_as_fastavro_writes_it(
    fullname: str, data: st.DataObject
) -> None:
    # Nested records are written inline by the records holding them; their own
    # write_avro() is what a caller writing one of them alone gets.
    schema = fastavro.parse_schema(expand_schema(fullname), named_schemas={})
    record = data.draw(named(fullname))
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, schema, record.to_avro())
    out = bytearray()
    record.write_avro(out)
    assert out.hex(" ") == buffer.getvalue().hex(" ")


# What must be refused: fastavro would write some of these silently (and wrongly).
_BAD_VALUES: list[tuple[str, Envelope, str]] = [
    ("int beyond 32 bits", envelope(_CHUNK, schema_version=2**31), "does not fit an Avro int"),
    ("int below 32 bits", envelope(_CHUNK, schema_version=-(2**31) - 1), "Avro int (32 bits)"),
    (
        "nested int beyond 32 bits",
        envelope(replace(_CHUNK, audio_config=AudioConfig(sample_rate_hz=2**40))),
        "does not fit an Avro int (32 bits)",
    ),
    ("long beyond 64 bits", envelope(replace(_CHUNK, seq=2**63)), "Avro long (64 bits)"),
    ("long below 64 bits", envelope(replace(_CHUNK, seq=-(2**63) - 1)), "Avro long (64 bits)"),
    (
        "optional long beyond 64 bits",
        envelope(replace(_CHUNK, checksum_crc32=2**64)),
        "Avro long (64 bits)",
    ),
    ("float for a long", envelope(replace(_CHUNK, seq=1.0)), "TypeError"),
    ("negative float for a long", envelope(replace(_CHUNK, seq=-3.5)), "TypeError"),
    ("str for an int", envelope(_CHUNK, schema_version="1"), "TypeError"),
    ("None for a long", envelope(replace(_CHUNK, num_samples=None)), "TypeError"),
    ("int for a string", envelope(replace(_CHUNK, session_id=7)), "AttributeError"),
    ("bytes for a string", envelope(replace(_CHUNK, chunk_id=b"c")), "AttributeError"),
    ("None for a string", envelope(_CHUNK, source=None), "AttributeError"),
    ("str for bytes", envelope(replace(_CHUNK, audio="pcm")), "TypeError"),
    ("list for bytes", envelope(replace(_CHUNK, audio=[1, 2])), "TypeError"),
    (
        "int for a boolean",
        envelope(replace(_TRANSCRIPTION, is_final=1)),
        "expected a bool, not int",
    ),
    (
        "None for a boolean",
        envelope(replace(_CHUNK, processing_flags=replace(ProcessingFlags(), diarize=None))),
        "expected a bool, not NoneType",
    ),
    (
        "str for a double",
        envelope(replace(sample_of(StreamIrregularity), clock_drift_ppm="x")),
        "error: required argument is not a float",
    ),
    (
        "float32 overflow",
        envelope(replace(_TRANSCRIPTION, confidence=1e39)),
        "OverflowError",
    ),
    (
        "naive datetime",
        envelope(_CHUNK, timestamp=datetime(2025, 1, 1)),
        "naive datetime datetime.datetime(2025, 1, 1, 0, 0): a timestamp needs a timezone",
    ),
    (
        "int for a timestamp",
        envelope(replace(_CHUNK, capture_time=1_700_000_000)),
        "expected an aware datetime, not int",
    ),
    ("date string for a timestamp", envelope(_CHUNK, timestamp="2025-01-01"), "aware datetime"),
    ("int for a uuid", envelope(_CHUNK, event_id=12345), "AttributeError"),
    (
        "unknown enum symbol",
        envelope(replace(_CHUNK, source_type="CARRIER_PIGEON")),
        "KeyError: 'CARRIER_PIGEON'",
    ),
    (
        "another record where a record belongs",
        envelope(replace(_CHUNK, audio_config=ProcessingFlags())),
        "expected AudioConfig, not ProcessingFlags",
    ),
    (
        "another record in an optional record",
        envelope(replace(_CHUNK, processing_flags=AudioConfig())),
        "expected ProcessingFlags, not AudioConfig",
    ),
    (
        "another record in an array",
        envelope(
            replace(
                sample_of(ServiceHealthReport), checks=[WordTiming(word="w", start_ms=0, end_ms=1)]
            )
        ),
        "expected HealthCheck, not WordTiming",
    ),
    ("a dict for a record", envelope(replace(_CHUNK, audio_config={})), "expected AudioConfig"),
    (
        "a nested record as the payload",
        replace(envelope(_CHUNK), payload=AudioConfig()),
        "expected an event record, not AudioConfig",
    ),
    ("str for an array", envelope(replace(_TRANSCRIPTION, words="hello")), "expected a list"),
    (
        "str for an array of strings",
        envelope(replace(sample_of(ReprocessRequested), translate_to="en")),
        "expected a list, not str",
    ),
    ("None for an array", envelope(replace(_TRANSCRIPTION, words=None)), "expected a list"),
    ("list for a map", envelope(replace(_TRANSCRIPTION, speaker_map=[("a", "b")])), "a dict"),
    ("empty list for a map", envelope(replace(_TRANSCRIPTION, speaker_map=[])), "a dict, not list"),
    (
        "int key in a map",
        envelope(replace(sample_of(BotRequested), metadata={1: "x"})),
        "AttributeError",
    ),
    (
        "int value in a map",
        envelope(replace(sample_of(BotRequested), metadata={"x": 1})),
        "AttributeError",
    ),
    (
        "lone surrogate in a string",
        envelope(replace(_CHUNK, user_id="\ud800")),
        "UnicodeEncodeError",
    ),
]


@pytest.mark.parametrize(
    ("what", "value", "message"), _BAD_VALUES, ids=[what for what, _, _ in _BAD_VALUES]
)
def test_what_cannot_be_written_is_refused(what: str, value: Envelope, message: str) -> None:
    with pytest.raises(WireFormatError, match="cannot encode") as raised:
        SERDE.encode(value)
    assert message in str(raised.value)
    # struct.error and OverflowError: what Struct.pack raises for a str where a float
    # belongs, and for a float beyond float32.
    refusals = (TypeError, ValueError, AttributeError, KeyError, struct.error, OverflowError)
    assert isinstance(raised.value.__cause__, refusals)


def test_a_payload_is_not_an_envelope() -> None:
    with pytest.raises(WireFormatError, match="expected an Envelope, not AudioChunkReceived"):
        SERDE.encode(_CHUNK)  # type: ignore[arg-type]


def test_fastavro_writes_some_of_them_silently() -> None:
    # Why they are refused rather than matched: fastavro's bytes would mean something else.
    assert fastavro_bytes(envelope(replace(_CHUNK, seq=1.5))) == fastavro_bytes(
        envelope(replace(_CHUNK, seq=1))
    )
    not_a_bool = envelope(replace(_TRANSCRIPTION, is_final="no"))
    assert fastavro_bytes(not_a_bool) == fastavro_bytes(envelope(_TRANSCRIPTION))


def test_the_comparison_notices_a_wrong_branch_or_symbol_index(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    value = envelope(_CHUNK)
    assert generated_bytes(value) == fastavro_bytes(value)
    branches = dict(events._PAYLOAD_BRANCHES)
    branches[AudioChunkReceived] = branches[TranscriptionCompleted]
    monkeypatch.setattr(events, "_PAYLOAD_BRANCHES", branches)
    assert generated_bytes(value) != fastavro_bytes(value)
    monkeypatch.undo()
    symbols = dict(events._SOURCE_TYPE_INDEX)
    symbols[SourceType.BOT] = symbols[SourceType.STREAM]
    monkeypatch.setattr(events, "_SOURCE_TYPE_INDEX", symbols)
    assert generated_bytes(value) != fastavro_bytes(value)


def test_codegen_refuses_a_logical_type_it_has_no_writer_for() -> None:
    ctx = codegen._Context(DEFINITIONS, ())
    with pytest.raises(codegen.CodegenError, match="no writer for logical type date"):
        codegen._writer({"type": "int", "logicalType": "date"}, "value", ctx, "value")

"""The generated records: up to date with the .avsc files, and faithful to them."""

from __future__ import annotations

import dataclasses
import typing
from datetime import datetime
from pathlib import Path
from uuid import UUID

import pytest

from livetranslate_schemas import codegen, events
from livetranslate_schemas.events import (
    EVENT_TYPES,
    AudioChunkReceived,
    AudioConfig,
    AudioEncoding,
    Envelope,
    EventPayload,
    TranscriptionCompleted,
)
from livetranslate_schemas.samples import sample_payloads


def test_generated_module_is_up_to_date() -> None:
    assert codegen.main(["--check"]) == 0


def test_check_fails_when_the_generated_module_is_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = tmp_path / "events.py"
    stale.write_text(codegen.OUTPUT.read_text().replace("PCM_S16LE", "PCM_S24LE"))
    monkeypatch.setattr(codegen, "OUTPUT", stale)
    assert codegen.main(["--check"]) == 1
    assert codegen.main([]) == 0
    assert codegen.main(["--check"]) == 0


def test_event_types_cover_every_payload_branch() -> None:
    assert set(EVENT_TYPES) == set(sample_payloads())
    assert set(typing.get_args(EventPayload)) == set(EVENT_TYPES.values())


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_records_round_trip_through_their_avro_dicts(event_type: str) -> None:
    payload = sample_payloads()[event_type]
    assert type(payload).from_avro(payload.to_avro()) == payload


def test_types_and_defaults_follow_the_schema() -> None:
    hints = typing.get_type_hints(AudioChunkReceived)
    assert hints["capture_time"] == datetime | None
    assert hints["audio"] == bytes | None
    assert typing.get_type_hints(Envelope)["event_id"] is UUID
    assert typing.get_type_hints(TranscriptionCompleted)["speaker_map"] == dict[str, str]
    assert AudioConfig() == AudioConfig(
        encoding=AudioEncoding.PCM_S16LE, sample_rate_hz=16000, channels=1
    )
    fields = {f.name: f for f in dataclasses.fields(TranscriptionCompleted)}
    assert fields["words"].default_factory is list
    assert "AVRO_NAME" not in fields


def test_records_are_frozen_and_slotted() -> None:
    config = AudioConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.channels = 2  # type: ignore[misc]
    assert not hasattr(config, "__dict__")


def test_from_avro_fills_defaults_for_missing_optional_fields() -> None:
    config = AudioConfig.from_avro({})
    assert config == AudioConfig()


def test_an_unknown_payload_branch_is_rejected() -> None:
    with pytest.raises(ValueError, match="not a known"):
        events._payload_from_avro(("io.livetranslate.events.Nope", {}))

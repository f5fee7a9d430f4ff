"""Transcripts as SubRip and WebVTT downloads: read back by the same libraries players use."""

from __future__ import annotations

import html
import io
from collections.abc import Iterator
from datetime import timedelta

import pytest
import srt
import webvtt
from fastapi.testclient import TestClient

from livetranslate_common.testing.fixtures import KafkaTopics
from livetranslate_common.testing.read_model import project_payloads
from livetranslate_common.testing.results import segment_result
from livetranslate_gateway.config import GatewaySettings
from livetranslate_gateway.core.subtitles import Cue, to_srt, to_webvtt
from livetranslate_gateway.main import create_app
from livetranslate_schemas.events import (
    SpeakerNamesUpdated,
)

CUES = [
    Cue(61_500, 63_200, "Then we ship on Friday.", "SPEAKER_01"),
    Cue(0, 1_200, "Good morning & welcome <all>.", "Alice"),
    Cue(3_600_000, 3_601_005, "An hour in,\n\nstill going --> fine.", None),
    Cue(5_000, 5_000, "   ", "Alice"),  # nothing said: no cue
]


def test_srt_cues_are_ordered_timed_and_led_by_the_speaker() -> None:
    parsed = list(srt.parse(to_srt(CUES)))
    assert [(s.index, s.start, s.end) for s in parsed] == [
        (1, timedelta(0), timedelta(milliseconds=1_200)),
        (2, timedelta(milliseconds=61_500), timedelta(milliseconds=63_200)),
        (3, timedelta(hours=1), timedelta(hours=1, milliseconds=1_005)),
    ]
    assert [s.content for s in parsed] == [
        "Alice: Good morning & welcome <all>.",
        "SPEAKER_01: Then we ship on Friday.",
        "An hour in, still going -> fine.",
    ]


def test_webvtt_cues_carry_voices_and_escaped_text() -> None:
    text = to_webvtt(CUES)
    assert text.startswith("WEBVTT\n")
    captions = webvtt.from_buffer(io.StringIO(text)).captions
    assert [(c.start, c.end) for c in captions] == [
        ("00:00:00.000", "00:00:01.200"),
        ("00:01:01.500", "00:01:03.200"),
        ("01:00:00.000", "01:00:01.005"),
    ]
    assert [c.raw_text for c in captions] == [
        "<v Alice>Good morning &amp; welcome &lt;all&gt;.",
        "<v SPEAKER_01>Then we ship on Friday.",
        "An hour in, still going -&gt; fine.",
    ]
    # What a player shows: the voice span read as markup, the entities as characters
    # (webvtt-py strips the tags but leaves the entities).
    assert html.unescape(captions[0].text) == "Good morning & welcome <all>."
    assert captions[0].voice == "Alice"


def test_a_cue_never_ends_before_it_starts() -> None:
    (only,) = srt.parse(to_srt([Cue(2_000, 1_500, "late end", None)]))
    assert only.end > only.start


# --------------------------------------------------------------------------- the API


@pytest.fixture
def client(kafka_topics: KafkaTopics, auth_headers: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(GatewaySettings()), headers=auth_headers) as test_client:
        yield test_client


def test_a_session_downloads_as_subtitles_with_its_speakers_names(
    client: TestClient, database: str
) -> None:
    session_id = client.post("/api/sessions", json={"title": "standup"}).json()["session_id"]
    project_payloads(
        database,
        segment_result(
            session_id, 2_000, text="Second, from Bob.", speaker="SPEAKER_01", end_ms=3_500
        ),
        segment_result(
            session_id, 0, text="First, from Alice.", speaker="SPEAKER_00", end_ms=1_500
        ),
        SpeakerNamesUpdated(
            session_id=session_id, changes={"SPEAKER_00": "Alice"}, names={"SPEAKER_00": "Alice"}
        ),
    )
    subrip = client.get(f"/api/sessions/{session_id}/transcript.srt")
    assert subrip.status_code == 200, subrip.text
    assert subrip.headers["content-type"].startswith("application/x-subrip")
    assert subrip.headers["content-disposition"] == f'attachment; filename="{session_id}-live.srt"'
    assert [s.content for s in srt.parse(subrip.text)] == [
        "Alice: First, from Alice.",
        "SPEAKER_01: Second, from Bob.",
    ]
    vtt = client.get(f"/api/sessions/{session_id}/transcript.vtt")
    assert vtt.status_code == 200, vtt.text
    assert vtt.headers["content-type"].startswith("text/vtt")
    captions = webvtt.from_buffer(io.StringIO(vtt.text)).captions
    assert [(c.voice, c.text, c.start) for c in captions] == [
        ("Alice", "First, from Alice.", "00:00:00.000"),
        ("SPEAKER_01", "Second, from Bob.", "00:00:02.000"),
    ]


def test_subtitles_of_unknown_sessions_and_runs_are_problems(client: TestClient) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    for extension in ("srt", "vtt"):
        missing = client.get(f"/api/sessions/{unknown}/transcript.{extension}")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
    session_id = client.post("/api/sessions", json={}).json()["session_id"]
    no_run = client.get(f"/api/sessions/{session_id}/transcript.vtt", params={"run": "nope-1"})
    assert no_run.status_code == 404, no_run.text
    bad_run = client.get(f"/api/sessions/{session_id}/transcript.srt", params={"run": "../x"})
    assert bad_run.status_code == 422
    empty = client.get(f"/api/sessions/{session_id}/transcript.vtt")
    assert empty.status_code == 200
    assert empty.text.strip() == "WEBVTT"

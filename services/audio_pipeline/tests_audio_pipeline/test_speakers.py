"""Speaker attribution on real synthesised speech: two voices told apart, one voice kept
together, labels stable, state JSON-safe, and embeddings cheap."""

from __future__ import annotations

import json
import time
from collections import Counter

import numpy as np
import pytest

from livetranslate_audio_pipeline.core.speakers import (
    SpeakerEmbedding,
    SpeakerEmbeddingError,
    SpeakerRegistry,
    SpeakerRegistryState,
    speaker_names,
    utterance_embedding,
)
from livetranslate_common.speech_samples import (
    MEETING_SCRIPT,
    SAMPLE_RATE,
    FloatSamples,
    conversation,
    speak_espeak,
    speak_piper,
)

PIPER = "piper"
FEMALE = "en-gb-x-rp+f3"
ESPEAK_MALE = "en-us"

LINES = [
    *MEETING_SCRIPT,
    "I think we should wait for the numbers from finance.",
    "Can you share your screen so everybody can see the chart?",
    "The design review went well and the client liked the new layout.",
    "We still have a few open bugs in the login flow on older phones.",
    "Who is going to write the summary for the board this month?",
    "Let me check my calendar and get back to you this afternoon.",
    "The server costs went down after we moved the database.",
    "Our biggest risk is still the deadline at the end of March.",
]

# Who speaks each line: irregular turns, piper first.
TURNS = [PIPER, PIPER, FEMALE, PIPER, FEMALE, FEMALE, FEMALE, PIPER, FEMALE, PIPER, PIPER]
TURNS += [FEMALE, PIPER, FEMALE]


def _utterances(voices: list[str]) -> list[tuple[str, FloatSamples]]:
    """A conversation, cut into utterances where the speech is (as the VAD would)."""
    audio, truth = conversation(list(zip(voices, LINES, strict=False)), pause_s=0.6)
    ms = SAMPLE_RATE // 1000
    pad = 200 * ms
    return [
        (line.speaker, audio[max(0, line.start_ms * ms - pad) : line.end_ms * ms + pad])
        for line in truth
    ]


def _embed_all(
    utterances: list[tuple[str, FloatSamples]],
) -> tuple[list[tuple[str, SpeakerEmbedding]], float]:
    embedded = []
    elapsed = 0.0
    for speaker, samples in utterances:
        started = time.perf_counter()
        embedded.append((speaker, utterance_embedding(samples)))
        elapsed += time.perf_counter() - started
    seconds = sum(len(samples) for _, samples in utterances) / SAMPLE_RATE
    return embedded, elapsed * 1000 / seconds


def _attribute(
    registry: SpeakerRegistry, embedded: list[tuple[str, SpeakerEmbedding]]
) -> tuple[list[str], SpeakerRegistryState]:
    state = registry.initial_state()
    labels = []
    for _, embedding in embedded:
        label, state = registry.assign(embedding, state)
        labels.append(label)
    return labels, state


def _accuracy(truth: list[str], labels: list[str]) -> float:
    """Each label stands for the speaker most of its utterances came from."""
    correct = sum(
        Counter(t for t, label in zip(truth, labels, strict=True) if label == which).most_common(1)[
            0
        ][1]
        for which in set(labels)
    )
    return correct / len(truth)


@pytest.fixture(scope="module")
def two_voices() -> tuple[list[tuple[str, SpeakerEmbedding]], float]:
    return _embed_all(_utterances(TURNS))


def test_two_person_conversation_is_attributed(
    two_voices: tuple[list[tuple[str, SpeakerEmbedding]], float],
) -> None:
    embedded, ms_per_second = two_voices
    truth = [speaker for speaker, _ in embedded]
    labels, state = _attribute(SpeakerRegistry(), embedded)
    accuracy = _accuracy(truth, labels)
    print(
        f"\npiper vs {FEMALE}: {len(truth)} utterances, accuracy {accuracy:.0%}, "
        f"labels {sorted(set(labels))}, embedding {ms_per_second:.1f} ms per second of audio"
    )
    assert len(truth) >= 12
    assert accuracy >= 0.9
    assert len(set(labels)) == 2
    assert labels[0] == "SPEAKER_00"
    assert Counter(lb for t, lb in zip(truth, labels, strict=True) if t == PIPER).most_common(1)[0][
        0
    ] == ("SPEAKER_00")
    assert state.labels == ["SPEAKER_00", "SPEAKER_01"]
    assert ms_per_second < 60


@pytest.mark.parametrize("voice", [PIPER, FEMALE])
def test_one_voice_stays_one_speaker(voice: str) -> None:
    embedded, _ = _embed_all(_utterances([voice] * 8))
    labels, state = _attribute(SpeakerRegistry(), embedded)
    assert labels == ["SPEAKER_00"] * 8
    assert state.speakers[0].count == 8


def test_state_survives_json_mid_conversation(
    two_voices: tuple[list[tuple[str, SpeakerEmbedding]], float],
) -> None:
    embedded, _ = two_voices
    registry = SpeakerRegistry()
    _, state = _attribute(registry, embedded[:7])
    encoded = json.dumps(state.to_dict())
    print(f"\nspeaker state with {len(state.speakers)} speakers: {len(encoded)} bytes of JSON")
    assert len(encoded) < 8000
    restored = SpeakerRegistryState.from_dict(json.loads(encoded))
    assert restored == state
    for _, embedding in embedded[7:]:
        label, state = registry.assign(embedding, state)
        restored_label, restored = registry.assign(embedding, restored)
        assert restored_label == label
        assert restored == state


def test_short_utterance_joins_the_nearest_speaker() -> None:
    registry = SpeakerRegistry()
    state = registry.initial_state()
    for line in LINES[:3]:
        _, state = registry.assign(utterance_embedding(speak_piper(line)), state)
    yes = speak_espeak("Yes.", FEMALE)
    assert len(yes) < SAMPLE_RATE
    label, after = registry.assign(utterance_embedding(yes), state)
    assert label == "SPEAKER_00"
    assert after.speakers == state.speakers  # too short to move the model
    assert after.utterances == state.utterances + 1
    # The same voice saying a whole sentence is a new speaker.
    label, after = registry.assign(utterance_embedding(speak_espeak(LINES[4], FEMALE)), after)
    assert label == "SPEAKER_01"


def test_speaker_count_is_capped(
    two_voices: tuple[list[tuple[str, SpeakerEmbedding]], float],
) -> None:
    embedded, _ = two_voices
    labels, state = _attribute(SpeakerRegistry(max_speakers=1), embedded)
    assert set(labels) == {"SPEAKER_00"}
    assert len(state.speakers) == 1


def test_unusable_audio_is_refused() -> None:
    with pytest.raises(SpeakerEmbeddingError, match="too short"):
        utterance_embedding(np.zeros(100, dtype=np.float32))
    with pytest.raises(SpeakerEmbeddingError, match="silent"):
        utterance_embedding(np.zeros(SAMPLE_RATE, dtype=np.float32))


def test_foreign_state_versions_are_refused() -> None:
    data = SpeakerRegistry().initial_state().to_dict()
    data["version"] = 99
    with pytest.raises(Exception, match="version 99"):
        SpeakerRegistryState.from_dict(data)


def test_speaker_names() -> None:
    configured = {"SPEAKER_00": "Alice", "SPEAKER_01": "Bob"}
    assert speaker_names(configured) == configured
    assert speaker_names(configured, {"SPEAKER_01": "  Robert  Smith ", "SPEAKER_02": "Eve"}) == {
        "SPEAKER_00": "Alice",
        "SPEAKER_01": "Robert Smith",
        "SPEAKER_02": "Eve",
    }
    assert speaker_names(configured, {"SPEAKER_00": None}) == {"SPEAKER_01": "Bob"}
    assert speaker_names(["SPEAKER_00"], {"SPEAKER_00": "Alice"}) == {"SPEAKER_00": "Alice"}
    with pytest.raises(ValueError, match="not a speaker label"):
        speaker_names({"alice": "Alice"})


def test_two_espeak_voices_report() -> None:
    """Informational: espeak's male en-us against its female RP voice (no accuracy bar)."""
    turns = [voice if voice == FEMALE else ESPEAK_MALE for voice in TURNS]
    embedded, _ = _embed_all(_utterances(turns))
    truth = [speaker for speaker, _ in embedded]
    labels, _ = _attribute(SpeakerRegistry(), embedded)
    print(
        f"\n{ESPEAK_MALE} vs {FEMALE}: accuracy {_accuracy(truth, labels):.0%}, "
        f"{len(set(labels))} labels: {labels}"
    )
    assert labels[0] == "SPEAKER_00"

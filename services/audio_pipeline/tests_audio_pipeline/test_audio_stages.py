"""Audio stages: chunk-invariant, on target loudness, never clipping, gating noise, harmless
to recognition, and with a state that survives JSON."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pyloudnorm
import pytest
from scipy import signal

from livetranslate_audio_pipeline.adapters.whisper_local import LocalWhisperRecognizer
from livetranslate_audio_pipeline.core.audio_stages import (
    AudioStageChain,
    AudioStageState,
    HighPass,
    LoudnessNormalizer,
    NoiseGate,
    UnknownPresetError,
)
from livetranslate_common.speech_samples import (
    MEETING_SCRIPT,
    SAMPLE_RATE,
    FloatSamples,
    SpokenLine,
    conversation,
    word_error_rate,
)


def _in_chunks(
    chain: AudioStageChain,
    samples: FloatSamples,
    sizes: tuple[int, ...] = (3200,),
    state: AudioStageState | None = None,
) -> tuple[FloatSamples, AudioStageState]:
    out: list[FloatSamples] = []
    position, index = 0, 0
    while position < len(samples):
        size = sizes[index % len(sizes)]
        chunk, state = chain.process(samples[position : position + size], state)
        out.append(chunk)
        position += size
        index += 1
    assert state is not None
    return np.concatenate(out), state


def _lufs(samples: FloatSamples) -> float:
    loudness: float = pyloudnorm.Meter(SAMPLE_RATE).integrated_loudness(samples.astype(np.float64))
    return loudness


def _rms_db(samples: FloatSamples) -> float:
    return float(10 * np.log10(np.mean(np.square(samples.astype(np.float64)))))


@pytest.fixture(scope="module")
def quiet_speech(
    meeting_speech: tuple[FloatSamples, list[SpokenLine]],
) -> FloatSamples:
    """The meeting script at -26 dB: about -46 LUFS, a far-away laptop microphone."""
    return (meeting_speech[0] * 0.05).astype(np.float32)


def test_high_pass_chunk_by_chunk_equals_one_shot(rng: np.random.Generator) -> None:
    x = rng.standard_normal(SAMPLE_RATE * 5)
    stage = HighPass(80.0)
    whole = signal.sosfilt(stage.sos, x)
    state = stage.initial_state()
    parts = []
    position = 0
    for size in rng.integers(1600, 16000, 20):
        y, state = stage.process(x[position : position + size], state)
        parts.append(y)
        position += size
        if position >= len(x):
            break
    chunked = np.concatenate(parts)
    np.testing.assert_allclose(chunked, whole[: len(chunked)], rtol=0, atol=1e-12)
    # The filter really removes rumble and keeps speech frequencies.
    t = np.arange(SAMPLE_RATE * 2) / SAMPLE_RATE
    low, _ = stage.process(np.sin(2 * np.pi * 30 * t), stage.initial_state())
    mid, _ = stage.process(np.sin(2 * np.pi * 500 * t), stage.initial_state())
    assert np.max(np.abs(low[SAMPLE_RATE:])) < 0.05
    assert np.max(np.abs(mid[SAMPLE_RATE:])) > 0.99


@pytest.mark.parametrize("preset", ["speech", "noisy", "broadcast"])
def test_every_preset_is_chunk_invariant(preset: str, quiet_speech: FloatSamples) -> None:
    chain = AudioStageChain.from_preset(preset)
    samples = quiet_speech[: SAMPLE_RATE * 10]
    by_100ms, _ = _in_chunks(chain, samples, (1600,))
    mixed, _ = _in_chunks(chain, samples, (16000, 777, 4800, 1600))
    np.testing.assert_allclose(by_100ms, mixed, rtol=0, atol=1e-6)


def test_unknown_preset_names_the_presets() -> None:
    with pytest.raises(UnknownPresetError, match="broadcast, noisy, none, speech"):
        AudioStageChain.from_preset("loud")


def test_none_preset_is_identity(quiet_speech: FloatSamples) -> None:
    out, state = _in_chunks(AudioStageChain.from_preset("none"), quiet_speech)
    np.testing.assert_array_equal(out, quiet_speech)
    assert state.samples == len(quiet_speech)


@pytest.mark.parametrize(("preset", "target"), [("speech", -23.0), ("broadcast", -16.0)])
def test_quiet_speech_comes_out_at_the_target_loudness(
    preset: str, target: float, quiet_speech: FloatSamples
) -> None:
    assert _lufs(quiet_speech) < -44
    out, _ = _in_chunks(AudioStageChain.from_preset(preset), quiet_speech)
    after_warmup = _lufs(out[SAMPLE_RATE * 3 :])
    print(f"\n{preset}: in {_lufs(quiet_speech):.1f} LUFS, out {after_warmup:.1f} LUFS")
    assert abs(after_warmup - target) <= 2.0
    assert np.max(np.abs(out)) <= 1.0


def test_sudden_loud_speech_after_quiet_speech_never_clips(
    meeting_speech: tuple[FloatSamples, list[SpokenLine]],
) -> None:
    speech = meeting_speech[0]
    # The gain has risen by ~25 dB for the quiet part when full-scale speech arrives.
    samples = np.concatenate((speech[: SAMPLE_RATE * 8] * 0.05, speech)).astype(np.float32)
    for preset in ("speech", "broadcast", "noisy"):
        out, _ = _in_chunks(AudioStageChain.from_preset(preset), samples, (1600,))
        assert np.max(np.abs(out)) <= 0.98 + 1e-6, preset


def test_streaming_meter_equals_pyloudnorm(
    meeting_speech: tuple[FloatSamples, list[SpokenLine]],
) -> None:
    speech = meeting_speech[0].astype(np.float64)
    speech = speech[: len(speech) // 1600 * 1600]
    # No forgetting: the running meter must then be BS.1770's integrated loudness.
    normalizer = LoudnessNormalizer(-23.0, memory_s=1e12)
    state = normalizer.initial_state()
    for position in range(0, len(speech), 4000):
        _, state = normalizer.process(speech[position : position + 4000], state)
    measured = state.integrated_loudness()
    assert measured is not None
    assert abs(measured - _lufs(speech.astype(np.float32))) < 0.1


def test_gate_attenuates_noise_between_words_and_keeps_speech(
    rng: np.random.Generator,
) -> None:
    speech, truth = conversation([("piper", line) for line in MEETING_SCRIPT[:4]], pause_s=0.8)
    speech_mask = np.zeros(len(speech), dtype=bool)
    gap_mask = np.zeros(len(speech), dtype=bool)
    ms = SAMPLE_RATE // 1000
    for line in truth:
        speech_mask[line.start_ms * ms : line.end_ms * ms] = True
    for before, after in itertools.pairwise(truth):
        # After hold (250 ms) and release (150 ms) the gate is closed.
        gap_mask[(before.end_ms + 450) * ms : (after.start_ms - 20) * ms] = True
    speech_level = _rms_db(speech[speech_mask])
    # Low-level hiss 35 dB under the speech.
    noise = rng.standard_normal(len(speech)) * 10 ** ((speech_level - 35) / 20)
    noisy = (speech + noise).astype(np.float32)

    gate = NoiseGate()
    state = gate.initial_state()
    parts = []
    for position in range(0, len(noisy), 1600):
        part, state = gate.process(noisy[position : position + 1600].astype(np.float64), state)
        parts.append(part)
    out = np.concatenate(parts).astype(np.float32)

    gap_attenuation = _rms_db(noisy[gap_mask]) - _rms_db(out[gap_mask])
    speech_change = abs(_rms_db(noisy[speech_mask]) - _rms_db(out[speech_mask]))
    print(f"\ngate: noise between phrases -{gap_attenuation:.1f} dB, speech {speech_change:.2f} dB")
    assert gap_attenuation >= 15
    assert speech_change < 2


def test_state_survives_json_mid_stream(quiet_speech: FloatSamples) -> None:
    chain = AudioStageChain.from_preset("noisy")
    head, tail = quiet_speech[: SAMPLE_RATE * 5 + 123], quiet_speech[SAMPLE_RATE * 5 + 123 :]
    _, state = _in_chunks(chain, head)
    encoded = json.dumps(state.to_dict())
    print(f"\nnoisy preset state: {len(encoded)} bytes of JSON")
    assert len(encoded) < 8000
    restored = AudioStageState.from_dict(json.loads(encoded))
    assert restored == state
    continued, _ = _in_chunks(chain, tail, state=state)
    resumed, _ = _in_chunks(chain, tail, state=restored)
    np.testing.assert_array_equal(continued, resumed)


def test_state_of_another_preset_is_taken_over(quiet_speech: FloatSamples) -> None:
    _, state = _in_chunks(AudioStageChain.from_preset("speech"), quiet_speech[: SAMPLE_RATE * 4])
    out, new_state = AudioStageChain.from_preset("noisy").process(quiet_speech[:1600], state)
    assert new_state.preset == "noisy"
    assert new_state.gate is not None
    assert new_state.highpass is not None
    assert new_state.highpass.cutoff_hz == 100.0
    # The loudness measurement carries over: no return to a 0 dB gain.
    assert new_state.loudness is not None
    assert new_state.loudness.gain_db > 15
    assert len(out) == 1600


def test_speech_preset_does_not_hurt_recognition(
    meeting_speech: tuple[FloatSamples, list[SpokenLine]],
) -> None:
    recognizer = LocalWhisperRecognizer.embedded_tiny_en()
    speech, truth = meeting_speech
    ms = SAMPLE_RATE // 1000
    # Three sentences, processed as a live session would be, from the session's start.
    end = (truth[2].end_ms + 300) * ms
    reference = " ".join(line.text for line in truth[:3])
    for scale in (1.0, 0.05):
        raw = (speech[:end] * scale).astype(np.float32)
        processed, _ = _in_chunks(AudioStageChain.from_preset("speech"), raw, (1600,))
        raw_wer = word_error_rate(reference, recognizer.recognize(raw).text)
        processed_wer = word_error_rate(reference, recognizer.recognize(processed).text)
        print(f"\nscale {scale}: WER raw {raw_wer:.3f}, speech preset {processed_wer:.3f}")
        assert processed_wer <= raw_wer + 0.05

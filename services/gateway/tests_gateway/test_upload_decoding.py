"""Decoding uploads: formats, rates and channels in; 16 kHz mono out; bad files refused."""

import io

import numpy as np
import pytest
import soundfile

from livetranslate_common.speech_samples import SAMPLE_RATE, FloatSamples, SpokenLine, to_wav_bytes
from livetranslate_gateway.core.errors import (
    EmptyAudioError,
    TruncatedAudioError,
    UnreadableAudioError,
)
from livetranslate_gateway.core.upload_decoding import decode_upload

LIMIT_S = 3600.0


def _encode(samples: np.ndarray, rate: int, fmt: str, subtype: str | None = None) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def tone() -> FloatSamples:
    t = np.arange(44100 * 2) / 44100
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


@pytest.mark.parametrize(("fmt", "subtype"), [("WAV", "PCM_16"), ("FLAC", None), ("OGG", "VORBIS")])
def test_formats_are_resampled_to_16k_mono(
    tone: FloatSamples, fmt: str, subtype: str | None
) -> None:
    stereo = np.stack([tone, tone * 0.5], axis=1)
    decoded = decode_upload(_encode(stereo, 44100, fmt, subtype), max_duration_s=LIMIT_S)
    assert decoded.dtype == np.float32
    assert abs(len(decoded) - 2 * SAMPLE_RATE) <= 160
    # The mix-down of a 0.3 and a 0.15 amplitude tone: about 0.225 peak.
    assert 0.18 < float(np.max(np.abs(decoded))) < 0.27


def test_speech_survives_decoding(short_speech: tuple[FloatSamples, list[SpokenLine]]) -> None:
    samples, _ = short_speech
    decoded = decode_upload(to_wav_bytes(samples), max_duration_s=LIMIT_S)
    assert len(decoded) == len(samples)
    # PCM16 keeps [-1, 1) to within one step.
    np.testing.assert_allclose(decoded, np.clip(samples, -1.0, 1.0), atol=1 / 16384)


def test_garbage_is_unreadable() -> None:
    with pytest.raises(UnreadableAudioError, match="not a readable audio file"):
        decode_upload(b"this is not audio at all" * 100, max_duration_s=LIMIT_S)


def test_empty_upload_is_refused() -> None:
    with pytest.raises(EmptyAudioError):
        decode_upload(b"", max_duration_s=LIMIT_S)


def test_wav_without_samples_is_refused() -> None:
    header_only = to_wav_bytes(np.zeros(0, dtype=np.float32))
    with pytest.raises(EmptyAudioError):
        decode_upload(header_only, max_duration_s=LIMIT_S)


@pytest.mark.parametrize("keep", [0.5, 0.99])
def test_truncated_wav_is_refused(tone: FloatSamples, keep: float) -> None:
    data = _encode(tone, 44100, "WAV", "PCM_16")
    with pytest.raises(TruncatedAudioError, match="declares"):
        decode_upload(data[: int(len(data) * keep)], max_duration_s=LIMIT_S)


def test_truncated_flac_is_refused(tone: FloatSamples) -> None:
    data = _encode(tone, 44100, "FLAC")
    with pytest.raises((TruncatedAudioError, UnreadableAudioError)):
        decode_upload(data[: len(data) // 2], max_duration_s=LIMIT_S)


def test_too_long_recording_is_refused(tone: FloatSamples) -> None:
    with pytest.raises(UnreadableAudioError, match="limit"):
        decode_upload(_encode(tone, 44100, "WAV"), max_duration_s=1.0)


@pytest.mark.parametrize("rate", [1, 4_000, 384_000])
def test_a_sample_rate_outside_speech_recordings_is_refused(rate: int) -> None:
    # 4 KB declaring 1 Hz would otherwise be resampled into 32 million samples.
    data = _encode(np.zeros(2_000, dtype=np.float32), rate, "WAV")
    assert len(data) < 5_000
    with pytest.raises(UnreadableAudioError, match="sample rate"):
        decode_upload(data, max_duration_s=LIMIT_S)

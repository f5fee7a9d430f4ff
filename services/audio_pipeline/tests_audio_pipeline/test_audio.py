import numpy as np
import pytest

from livetranslate_audio_pipeline.core.audio import decode_chunk, pcm16_to_float, samples_to_ms
from livetranslate_audio_pipeline.core.errors import InvalidChunkError


def test_pcm16_round_trip_scale() -> None:
    pcm = np.array([0, 16384, -32768, 32767], dtype="<i2").tobytes()
    samples = pcm16_to_float(pcm)
    assert samples.dtype == np.float32
    np.testing.assert_allclose(samples, [0.0, 0.5, -1.0, 32767 / 32768])


def test_odd_byte_count_is_rejected() -> None:
    with pytest.raises(InvalidChunkError, match="odd number"):
        pcm16_to_float(b"\x00\x01\x02")


@pytest.mark.parametrize(("rate", "channels"), [(8000, 1), (16000, 2)])
def test_only_16k_mono_is_accepted(rate: int, channels: int) -> None:
    with pytest.raises(InvalidChunkError, match="16000 Hz mono"):
        decode_chunk(b"\x00\x00", encoding="PCM_S16LE", sample_rate_hz=rate, channels=channels)


def test_float32_with_nan_is_rejected() -> None:
    data = np.array([0.0, np.nan], dtype="<f4").tobytes()
    with pytest.raises(InvalidChunkError, match="NaN"):
        decode_chunk(data, encoding="FLOAT32_LE", sample_rate_hz=16000, channels=1)


def test_unknown_encoding_is_rejected() -> None:
    with pytest.raises(InvalidChunkError, match="unsupported"):
        decode_chunk(b"\x00\x00", encoding="OPUS", sample_rate_hz=16000, channels=1)


def test_samples_to_ms() -> None:
    assert samples_to_ms(16000) == 1000
    assert samples_to_ms(8) == 0

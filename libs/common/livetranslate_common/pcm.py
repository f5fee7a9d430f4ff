"""PCM16, the format of audio on the audio-ingest topic, to and from float32 samples."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatSamples = npt.NDArray[np.float32]
#: Little-endian signed 16-bit samples.
Pcm16Samples = npt.NDArray[np.int16]


def float_to_pcm16(samples: FloatSamples) -> bytes:
    """float32 in [-1, 1] to little-endian signed 16-bit; out-of-range values are clipped."""
    return float_to_pcm16_samples(samples).tobytes()


def float_to_pcm16_samples(samples: FloatSamples) -> Pcm16Samples:
    """As :func:`float_to_pcm16`, as an array."""
    clipped = np.clip(samples, -1.0, 32767 / 32768)
    return (clipped * 32768.0).astype("<i2")


def pcm16_to_float(audio: bytes) -> FloatSamples:
    """Little-endian signed 16-bit PCM to float32 in [-1, 1); the length must be even."""
    if len(audio) % 2:
        raise ValueError(f"PCM16 audio has an odd number of bytes ({len(audio)})")
    return np.frombuffer(audio, dtype="<i2").astype(np.float32) / 32768.0

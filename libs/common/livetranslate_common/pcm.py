"""PCM16, the format of audio on the audio-ingest topic, to and from float32 samples."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatSamples = npt.NDArray[np.float32]


def float_to_pcm16(samples: FloatSamples) -> bytes:
    """float32 in [-1, 1] to little-endian signed 16-bit; out-of-range values are clipped."""
    clipped = np.clip(samples, -1.0, 32767 / 32768)
    return (clipped * 32768.0).astype("<i2").tobytes()


def pcm16_to_float(audio: bytes) -> FloatSamples:
    """Little-endian signed 16-bit PCM to float32 in [-1, 1); the length must be even."""
    if len(audio) % 2:
        raise ValueError(f"PCM16 audio has an odd number of bytes ({len(audio)})")
    return np.frombuffer(audio, dtype="<i2").astype(np.float32) / 32768.0

"""Turning chunk bytes into the pipeline's one internal format: float32 mono at 16 kHz."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from livetranslate_audio_pipeline.core.errors import InvalidChunkError
from livetranslate_common import pcm
from livetranslate_schemas.events import AudioChunkReceived

PIPELINE_SAMPLE_RATE = 16_000

Samples = npt.NDArray[np.float32]


def pcm16_to_float(audio: bytes) -> Samples:
    try:
        return pcm.pcm16_to_float(audio)
    except ValueError as exc:
        raise InvalidChunkError(str(exc)) from exc


def float32le_to_float(audio: bytes) -> Samples:
    if len(audio) % 4:
        raise InvalidChunkError(f"float32 audio length {len(audio)} is not a multiple of 4")
    samples = np.frombuffer(audio, dtype="<f4").astype(np.float32)
    if not np.all(np.isfinite(samples)):
        raise InvalidChunkError("float32 audio contains NaN or infinite samples")
    return samples


def decode_chunk(audio: bytes, *, encoding: str, sample_rate_hz: int, channels: int) -> Samples:
    """Decode one chunk's inline audio; the gateway already resampled it to 16 kHz mono."""
    if sample_rate_hz != PIPELINE_SAMPLE_RATE or channels != 1:
        # Resampling lives in the gateway so every chunk on the topic is in one format.
        raise InvalidChunkError(
            f"chunk is {sample_rate_hz} Hz x{channels}; the pipeline takes 16000 Hz mono"
        )
    if encoding == "PCM_S16LE":
        return pcm16_to_float(audio)
    if encoding == "FLOAT32_LE":
        return float32le_to_float(audio)
    raise InvalidChunkError(f"unsupported audio encoding {encoding!r}")


def samples_to_ms(samples: int) -> int:
    return samples * 1000 // PIPELINE_SAMPLE_RATE


def chunk_samples(chunk: AudioChunkReceived) -> Samples:
    """The inline audio of an AudioChunkReceived as pipeline samples."""
    if chunk.audio is None:
        raise InvalidChunkError(f"chunk {chunk.chunk_id} carries no inline audio")
    config = chunk.audio_config
    return decode_chunk(
        chunk.audio,
        encoding=config.encoding.value,
        sample_rate_hz=config.sample_rate_hz,
        channels=config.channels,
    )

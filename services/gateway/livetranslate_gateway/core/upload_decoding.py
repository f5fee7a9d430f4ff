"""Decoding an uploaded file into the pipeline's format: 16 kHz mono.

soundfile (libsndfile) reads WAV, FLAC, OGG/Vorbis/Opus, MP3 and more; librosa resamples
(soxr) and mixes down. libsndfile quietly reads what is there of a cut-off file, so the
declared length is checked against what decoded: a truncated upload is refused, not
transcribed half-way.
"""

from __future__ import annotations

import io
import struct

import librosa
import numpy as np
import numpy.typing as npt
import soundfile

from livetranslate_gateway.core.errors import (
    EmptyAudioError,
    TruncatedAudioError,
    UnreadableAudioError,
)

TARGET_SAMPLE_RATE = 16_000
# Recordings of speech: below 8 kHz there is no speech to recognise, and a tiny file that
# declared 1 Hz would be resampled into gigabytes.
MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 192_000

FloatSamples = npt.NDArray[np.float32]


def decode_upload(data: bytes, *, max_duration_s: float) -> FloatSamples:
    """Return float32 mono samples at 16 kHz; raise a GatewayError on bad input."""
    if not data:
        raise EmptyAudioError("the upload is empty")
    _check_riff_complete(data)
    try:
        info = soundfile.info(io.BytesIO(data))
        if not MIN_SAMPLE_RATE <= info.samplerate <= MAX_SAMPLE_RATE:
            raise UnreadableAudioError(
                f"the recording's sample rate is {info.samplerate} Hz; {MIN_SAMPLE_RATE}.."
                f"{MAX_SAMPLE_RATE} Hz are taken"
            )
        if info.duration > max_duration_s:
            raise UnreadableAudioError(
                f"the recording is {info.duration:.0f} s long; the limit is {max_duration_s:.0f} s"
            )
        samples, sample_rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except soundfile.LibsndfileError as exc:
        raise UnreadableAudioError(f"not a readable audio file ({exc.error_string})") from exc
    if 0 < len(samples) < info.frames:
        raise TruncatedAudioError(
            f"the file declares {info.frames} frames but only {len(samples)} could be read"
        )
    if len(samples) == 0:
        raise EmptyAudioError("the file contains no audio samples")
    mono = samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]
    if not np.all(np.isfinite(mono)):
        raise UnreadableAudioError("the audio contains NaN or infinite samples")
    if sample_rate != TARGET_SAMPLE_RATE:
        mono = librosa.resample(mono, orig_sr=sample_rate, target_sr=TARGET_SAMPLE_RATE)
    return np.ascontiguousarray(mono, dtype=np.float32)


def _check_riff_complete(data: bytes) -> None:
    """WAV/RF64: the data chunk's declared size must fit in the bytes received."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return
    position = 12
    while position + 8 <= len(data):
        chunk_id = data[position : position + 4]
        (size,) = struct.unpack_from("<I", data, position + 4)
        body_start = position + 8
        if chunk_id == b"data":
            # 0 and 0xFFFFFFFF mark a stream written without knowing its final length.
            if size not in (0, 0xFFFFFFFF) and body_start + size > len(data):
                raise TruncatedAudioError(
                    f"the WAV data chunk declares {size} bytes but {len(data) - body_start} arrived"
                )
            return
        position = body_start + size + (size & 1)
    raise TruncatedAudioError("the WAV file ends before its data chunk")

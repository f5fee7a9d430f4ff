"""The embedded Whisper: loaded by path, checksum enforced, words right."""

import shutil
from pathlib import Path

import pytest

from livetranslate_audio_pipeline.adapters.whisper_local import (
    TINY_EN_SHA256,
    LocalWhisperRecognizer,
    embedded_model_dir,
)
from livetranslate_audio_pipeline.core.errors import ModelUnavailableError
from livetranslate_common.speech_samples import (
    SAMPLE_RATE,
    FloatSamples,
    SpokenLine,
    word_error_rate,
)


@pytest.fixture(scope="module")
def recognizer() -> LocalWhisperRecognizer:
    return LocalWhisperRecognizer.embedded_tiny_en()


def test_recognizes_a_sentence(
    recognizer: LocalWhisperRecognizer, short_speech: tuple[FloatSamples, list[SpokenLine]]
) -> None:
    samples, truth = short_speech
    first = truth[0]
    span = samples[
        (first.start_ms - 200) * SAMPLE_RATE // 1000 : (first.end_ms + 200) * SAMPLE_RATE // 1000
    ]
    result = recognizer.recognize(span)
    assert word_error_rate(first.text, result.text) <= 0.1
    assert result.language == "en"
    assert len(result.words) >= 8
    assert all(w.start_ms <= w.end_ms for w in result.words)
    assert result.words[-1].end_ms <= len(span) * 1000 // SAMPLE_RATE + 100
    assert result.confidence is not None
    assert 0 < result.confidence <= 1


def test_model_with_wrong_checksum_is_refused(tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(embedded_model_dir(), model_dir)
    with (model_dir / "model.bin").open("r+b") as handle:
        handle.seek(1000)
        handle.write(b"\x00corrupted\x00")
    with pytest.raises(ModelUnavailableError, match="SHA256"):
        LocalWhisperRecognizer(model_dir, expected_sha256=TINY_EN_SHA256, model_name="x.en")


def test_missing_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError, match=r"no model\.bin"):
        LocalWhisperRecognizer(tmp_path, expected_sha256="00", model_name="x.en")

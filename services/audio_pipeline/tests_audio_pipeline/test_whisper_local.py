"""The embedded Whisper: loaded by path, checksum enforced, words right."""

import shutil
from pathlib import Path

import pytest

from livetranslate_audio_pipeline.adapters.whisper_local import (
    TINY_EN_SHA256,
    LocalWhisperRecognizer,
    WhisperDecoding,
    embedded_model_dir,
    encoder_frames_for,
)
from livetranslate_audio_pipeline.core.errors import ModelUnavailableError
from livetranslate_audio_pipeline.core.recognition import (
    MAX_CONTEXT_CHARS,
    RecognitionMode,
    recognition_context,
)
from livetranslate_common.speech_samples import (
    SAMPLE_RATE,
    FloatSamples,
    SpokenLine,
    conversation,
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


def test_encoder_window_covers_the_audio_or_is_whisper_s_own() -> None:
    assert encoder_frames_for(3 * SAMPLE_RATE, 20.0) == 2000
    assert encoder_frames_for(19 * SAMPLE_RATE, 20.0) == 2000
    assert encoder_frames_for(20 * SAMPLE_RATE, 20.0) == 3000  # no frame to spare: full window
    assert encoder_frames_for(45 * SAMPLE_RATE, 15.0) == 3000
    assert encoder_frames_for(SAMPLE_RATE, 30.0) == 3000


def test_modes_choose_their_beams() -> None:
    decoding = WhisperDecoding(beam_size=5, live_beam_size=2, preview_beam_size=1)
    assert [decoding.beam_for(mode) for mode in RecognitionMode] == [1, 2, 5]


def test_the_short_window_hears_what_the_full_one_does(
    short_speech: tuple[FloatSamples, list[SpokenLine]],
) -> None:
    samples, truth = short_speech
    full = LocalWhisperRecognizer.embedded_tiny_en(
        decoding=WhisperDecoding(live_beam_size=1, encoder_window_s=30.0)
    )
    short = LocalWhisperRecognizer.embedded_tiny_en(
        decoding=WhisperDecoding(live_beam_size=1, encoder_window_s=15.0)
    )
    for line in truth:
        span = samples[
            (line.start_ms - 160) * SAMPLE_RATE // 1000 : (line.end_ms + 160) * SAMPLE_RATE // 1000
        ]
        heard = short.recognize(span, mode=RecognitionMode.LIVE)
        assert word_error_rate(line.text, heard.text) <= 0.15, heard.text
        reference = full.recognize(span, mode=RecognitionMode.LIVE)
        assert word_error_rate(reference.text, heard.text) <= 0.15
        # Word timings stay on the audio's clock.
        assert abs(heard.words[-1].end_ms - reference.words[-1].end_ms) <= 200
        assert heard.words[-1].end_ms <= len(span) * 1000 // SAMPLE_RATE + 100


def test_a_prompt_does_not_run_on_past_the_speech(recognizer: LocalWhisperRecognizer) -> None:
    # The bench conversation's seventh sentence after its sixth: unguarded, tiny.en says it
    # twice and goes on with "We'll see you next time" until the tokens run out.
    before = "Let us meet again next week at the same time to decide on the final plan."
    line = "The budget for travel stays the same as last year."
    samples, truth = conversation([("piper", line)], pause_s=0.3)
    span = samples[(truth[0].start_ms - 160) * 16 : (truth[0].end_ms + 160) * 16]
    prompted = recognizer.recognize(span, mode=RecognitionMode.LIVE, context=before)
    assert word_error_rate(line, prompted.text) <= 0.1, prompted.text
    duration_ms = len(span) * 1000 // SAMPLE_RATE
    assert all(word.start_ms < duration_ms for word in prompted.words)
    assert prompted.text == " ".join(word.word for word in prompted.words)


def test_recognition_context_keeps_the_latest_texts_within_bounds() -> None:
    assert recognition_context([], keep=2) is None
    assert recognition_context(["one.", "two.", "three."], keep=2) == "two. three."
    assert recognition_context(["one."], keep=0) is None
    long = recognition_context(["x" * 5000, "end."], keep=2)
    assert long is not None
    assert len(long) == MAX_CONTEXT_CHARS
    assert long.endswith("end.")

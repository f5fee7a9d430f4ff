"""A prompted final is decoded in one pass: the utterance's trailing pause is not decoded again.

Real tiny.en on synthesised sentences cut as the endpointer cuts them (a little audio before
the speech, the pause after it). Each is recognised with the sentence before it as the prompt,
once as shipped and once with faster-whisper's own behaviour, counting the encoder's passes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

from livetranslate_audio_pipeline.adapters.whisper_local import (
    LocalWhisperRecognizer,
    WhisperDecoding,
)
from livetranslate_audio_pipeline.core.recognition import RecognitionMode
from livetranslate_common.speech_samples import (
    MEETING_SCRIPT,
    silence,
    speak_espeak,
    speak_piper,
    word_error_rate,
)

# About what the endpointer keeps around an utterance: its pad before, and the pause that
# ended it after.
_BEFORE_S = 0.16
_AFTER_S = 0.45


@pytest.fixture(scope="module")
def utterances() -> list[tuple[str, np.ndarray[Any, Any]]]:
    spoken = []
    for index, line in enumerate(MEETING_SCRIPT):
        voice = speak_piper(line) if index % 2 == 0 else speak_espeak(line)
        spoken.append((line, np.concatenate([silence(_BEFORE_S), voice, silence(_AFTER_S)])))
    return spoken


@contextmanager
def _counting_encoder_passes(recognizer: LocalWhisperRecognizer) -> Iterator[list[int]]:
    model: Any = recognizer._model  # the windowed faster-whisper model underneath
    passes: list[int] = []
    original = model.encode

    def encode(features: Any) -> Any:
        passes.append(1)
        return original(features)

    model.encode = encode
    try:
        yield passes
    finally:
        del model.encode


def _prompted_finals(
    recognizer: LocalWhisperRecognizer, utterances: list[tuple[str, np.ndarray[Any, Any]]]
) -> tuple[list[str], int]:
    texts = []
    with _counting_encoder_passes(recognizer) as passes:
        previous = "Hello, let us begin."
        for _, samples in utterances:
            result = recognizer.recognize(samples, mode=RecognitionMode.LIVE, context=previous)
            texts.append(result.text)
            previous = result.text
    return texts, len(passes)


def test_prompted_finals_take_one_pass_and_say_the_same(
    utterances: list[tuple[str, np.ndarray[Any, Any]]],
) -> None:
    shipped = LocalWhisperRecognizer.embedded_tiny_en()
    whispers_way = LocalWhisperRecognizer.embedded_tiny_en(
        decoding=WhisperDecoding(skip_trailing_pause=False)
    )
    texts, passes = _prompted_finals(shipped, utterances)
    unskipped_texts, unskipped_passes = _prompted_finals(whispers_way, utterances)

    assert passes == len(utterances)
    # The pause is decoded again without the skip (so the count above can tell them apart).
    assert unskipped_passes > len(utterances)
    # The first pass is the same either way; what the second wrote over the pause, the
    # guards did not always catch ("Thank you." after a sentence, here).
    for text, unskipped in zip(texts, unskipped_texts, strict=True):
        assert text
        assert unskipped.startswith(text)
    truth = " ".join(line for line, _ in utterances)
    assert word_error_rate(truth, " ".join(texts)) <= word_error_rate(
        truth, " ".join(unskipped_texts)
    )

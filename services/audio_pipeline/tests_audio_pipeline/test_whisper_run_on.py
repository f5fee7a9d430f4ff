"""Dropping what a prompted Whisper invents after the speech."""

from livetranslate_audio_pipeline.adapters.whisper_run_on import (
    spoken_words,
    without_immediate_repeats,
)
from livetranslate_audio_pipeline.core.recognition import RecognizedWord


def _words(text: str, *, step_ms: int = 200) -> list[RecognizedWord]:
    return [
        RecognizedWord(word, index * step_ms, index * step_ms + step_ms)
        for index, word in enumerate(text.split())
    ]


def _text(words: list[RecognizedWord]) -> str:
    return " ".join(word.word for word in words)


def test_a_sentence_said_twice_in_a_row_is_kept_once() -> None:
    twice = _words(
        "The budget for travel stays the same as last year. The budget for travel stays "
        "the same as last year"
    )
    assert _text(without_immediate_repeats(twice)) == (
        "The budget for travel stays the same as last year."
    )


def test_short_repeats_and_later_repeats_are_speech() -> None:
    for said in (
        "I think, I think we should go.",
        "we can go now and we can go now",  # four words, said twice: kept
        "send it today, then tomorrow send it today again",
    ):
        assert _text(without_immediate_repeats(_words(said))) == said


def test_words_after_the_speech_and_lone_punctuation_are_dropped() -> None:
    words = _words("We are done . . . Thank")  # 200 ms each: "Thank" starts at 1,200 ms
    assert _text(spoken_words(words, duration_ms=1250)) == "We are done"

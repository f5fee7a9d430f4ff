"""What a prompted Whisper invents after the speech, and how it is dropped.

A prompt (the session's previous finals) helps tiny.en with the next utterance, but it also
makes the decoder go on once the speech is over: into the encoder window's padding ("We'll
see you next time" until the tokens run out), as loops of lone punctuation (". . ."), or by
saying the utterance a second time. Measured on the bench's 48-utterance conversation: WER
12.1% without a prompt; 238% prompted and unguarded; 10.7% prompted with these guards, 9.9%
once the last window's trailing pause is no longer decoded (whisper_local); 9.3% for the
same audio as one file.

The guards: tokens capped at a fast talker's rate, segments and words that start in the last
moments of the audio dropped (no speech is left there to hold a word), words without a letter
or digit dropped, and a run of words said twice back to back kept once.
"""

from __future__ import annotations

from livetranslate_audio_pipeline.core.recognition import RecognizedWord

TOKENS_PER_S = 6
SEGMENT_TAIL_S = 0.3
WORD_TAIL_MS = 100
# Shorter repeats happen in speech ("I think, I think"); five words again, verbatim and at
# once, is the decoder looping.
MIN_REPEAT_WORDS = 5


def max_new_tokens(duration_s: float) -> int:
    return int(duration_s * TOKENS_PER_S) + 8


def segment_is_spoken(start_s: float, duration_s: float) -> bool:
    return start_s < duration_s - SEGMENT_TAIL_S


def spoken_words(words: list[RecognizedWord], duration_ms: int) -> list[RecognizedWord]:
    kept = [
        word
        for word in words
        if word.start_ms < duration_ms - WORD_TAIL_MS and any(char.isalnum() for char in word.word)
    ]
    return without_immediate_repeats(kept)


def without_immediate_repeats(words: list[RecognizedWord]) -> list[RecognizedWord]:
    """The words with every run of ``MIN_REPEAT_WORDS`` or more said twice in a row kept once."""
    kept = list(words)
    keys = [_key(word.word) for word in kept]
    start = 0
    while start < len(keys):
        for length in range((len(keys) - start) // 2, MIN_REPEAT_WORDS - 1, -1):
            middle = start + length
            if keys[start:middle] == keys[middle : middle + length]:
                del kept[middle : middle + length]
                del keys[middle : middle + length]
                break
        else:
            start += 1
    return kept


def _key(word: str) -> str:
    return "".join(char for char in word.lower() if char.isalnum())

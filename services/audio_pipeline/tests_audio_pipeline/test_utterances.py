"""Utterance assembly on real speech with the real VAD."""

import numpy as np

from livetranslate_audio_pipeline.core.utterances import UtteranceSegmenter
from livetranslate_audio_pipeline.core.vad import SileroVad
from livetranslate_common.speech_samples import SAMPLE_RATE, FloatSamples, SpokenLine, silence


def _segment(samples: FloatSamples, chunk: int) -> list[tuple[int, int]]:
    segmenter = UtteranceSegmenter(SileroVad())
    spans = []
    for offset in range(0, len(samples), chunk):
        spans += [
            (u.start_sample, u.end_sample) for u in segmenter.push(samples[offset : offset + chunk])
        ]
    spans += [(u.start_sample, u.end_sample) for u in segmenter.flush()]
    return spans


def test_one_utterance_per_sentence_with_true_boundaries(
    meeting_speech: tuple[FloatSamples, list[SpokenLine]],
) -> None:
    samples, truth = meeting_speech
    spans = _segment(samples, SAMPLE_RATE)
    assert len(spans) == len(truth)
    for (start, end), line in zip(spans, truth, strict=True):
        # The VAD pads each side by 200 ms; allow that plus its 32 ms frame.
        assert abs(start * 1000 // SAMPLE_RATE - line.start_ms) <= 300
        assert abs(end * 1000 // SAMPLE_RATE - line.end_ms) <= 300


def test_chunk_size_does_not_change_the_cuts(
    short_speech: tuple[FloatSamples, list[SpokenLine]],
) -> None:
    samples, _ = short_speech
    by_second = _segment(samples, SAMPLE_RATE)
    by_quarter = _segment(samples, SAMPLE_RATE // 4)
    assert len(by_second) == len(by_quarter) == 2
    for (a_start, a_end), (b_start, b_end) in zip(by_second, by_quarter, strict=True):
        assert abs(a_start - b_start) < SAMPLE_RATE // 10
        assert abs(a_end - b_end) < SAMPLE_RATE // 10


def test_an_utterance_closes_only_after_a_pause(
    short_speech: tuple[FloatSamples, list[SpokenLine]],
) -> None:
    samples, truth = short_speech
    first_end = truth[0].end_ms * SAMPLE_RATE // 1000
    segmenter = UtteranceSegmenter(SileroVad(min_silence_ms=500))
    # All of the first sentence but no pause after it: nothing may be closed yet.
    assert segmenter.push(samples[: first_end + SAMPLE_RATE // 10]) == []
    closed = segmenter.push(samples[first_end + SAMPLE_RATE // 10 : first_end + SAMPLE_RATE])
    assert len(closed) == 1


def test_silence_and_noise_give_no_utterance_and_bounded_buffer(rng: np.random.Generator) -> None:
    segmenter = UtteranceSegmenter(SileroVad())
    for _ in range(20):
        assert segmenter.push(silence(1.0)) == []
        noise = (rng.standard_normal(SAMPLE_RATE) * 0.003).astype(np.float32)
        assert segmenter.push(noise) == []
    assert segmenter.buffered_samples <= SAMPLE_RATE
    assert segmenter.next_sample == 40 * SAMPLE_RATE
    assert segmenter.flush() == []

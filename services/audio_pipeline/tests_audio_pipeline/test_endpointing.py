"""Streaming endpointing on real speech: the same cuts whatever the chunk size, true boundaries."""

import numpy as np
import pytest

from livetranslate_audio_pipeline.core.endpointing import (
    Endpointer,
    EndpointerConfig,
    SpeechEnded,
    SpeechStarted,
)
from livetranslate_audio_pipeline.core.utterance_tracker import (
    PartialDue,
    PauseBegan,
    UtteranceClosed,
    UtteranceTracker,
)
from livetranslate_common.speech_samples import SAMPLE_RATE, FloatSamples, SpokenLine, silence


def _utterances(samples: FloatSamples, chunk: int) -> list[tuple[int, int]]:
    endpointer = Endpointer()
    events = []
    for offset in range(0, len(samples), chunk):
        events += endpointer.push(samples[offset : offset + chunk])
    events += endpointer.flush()
    starts = [e.start_sample for e in events if isinstance(e, SpeechStarted)]
    ends = [(e.start_sample, e.end_sample) for e in events if isinstance(e, SpeechEnded)]
    assert [start for start, _ in ends] == starts
    return ends


@pytest.mark.parametrize("chunk", [SAMPLE_RATE // 5, SAMPLE_RATE, 777])
def test_one_utterance_per_sentence_at_true_boundaries(
    meeting_speech: tuple[FloatSamples, list[SpokenLine]], chunk: int
) -> None:
    samples, truth = meeting_speech
    spans = _utterances(samples, chunk)
    assert len(spans) == len(truth)
    config = EndpointerConfig()
    for (start, end), line in zip(spans, truth, strict=True):
        # Padded by speech_pad_ms before and end_pad_ms after; the VAD frame is 32 ms, the
        # truth is the first and last sample above 1% of full scale.
        assert abs(start * 1000 // SAMPLE_RATE + config.speech_pad_ms - line.start_ms) <= 150
        assert abs(end * 1000 // SAMPLE_RATE - config.end_pad_ms - line.end_ms) <= 150


def test_silence_and_noise_give_nothing(rng: np.random.Generator) -> None:
    endpointer = Endpointer()
    for _ in range(10):
        assert endpointer.push(silence(1.0)) == []
        assert endpointer.push((rng.standard_normal(SAMPLE_RATE) * 0.003).astype(np.float32)) == []
    assert endpointer.flush() == []
    assert endpointer.position == 20 * SAMPLE_RATE


def test_a_monologue_is_cut_at_the_maximum_length(
    meeting_speech: tuple[FloatSamples, list[SpokenLine]],
) -> None:
    samples, _ = meeting_speech
    endpointer = Endpointer(EndpointerConfig(max_utterance_s=2.0))
    events = endpointer.push(samples[: 5 * SAMPLE_RATE])
    forced = [e for e in events if isinstance(e, SpeechEnded) and e.forced]
    assert forced
    assert all(e.end_sample - e.start_sample <= 2 * SAMPLE_RATE + 512 for e in forced)


def test_tracker_asks_for_partials_then_closes(
    short_speech: tuple[FloatSamples, list[SpokenLine]],
) -> None:
    samples, truth = short_speech
    tracker = UtteranceTracker(partial_interval_ms=1000)
    events = []
    for offset in range(0, len(samples), SAMPLE_RATE // 5):
        events += tracker.push(samples[offset : offset + SAMPLE_RATE // 5])
    events += tracker.flush()
    closed = [e for e in events if isinstance(e, UtteranceClosed)]
    partials = [e for e in events if isinstance(e, PartialDue)]
    assert len(closed) == 2
    # About one partial per second of each ~3.5 s sentence, each growing from the same start.
    assert 4 <= len(partials) <= 8
    first_start = closed[0].audio.start_sample
    first_partials = [p for p in partials if p.audio.start_sample == first_start]
    lengths = [len(p.audio.samples) for p in first_partials]
    assert lengths == sorted(lengths)
    assert all(len(c.audio.samples) == c.audio.end_sample - c.audio.start_sample for c in closed)
    assert closed[0].audio.end_sample * 1000 // SAMPLE_RATE >= truth[0].end_ms
    # Revisions are numbered per utterance, the final's after its partials'.
    for utterance in closed:
        own = [p.revision for p in partials if p.audio.start_sample == utterance.audio.start_sample]
        assert own == list(range(len(own)))
        assert utterance.revision == len(own) >= 2


def test_tracker_without_partials(short_speech: tuple[FloatSamples, list[SpokenLine]]) -> None:
    samples, _ = short_speech
    tracker = UtteranceTracker(partials=False)
    events = tracker.push(samples) + tracker.flush()
    assert [type(e) for e in events] == [UtteranceClosed, UtteranceClosed]
    assert [e.revision for e in events if isinstance(e, UtteranceClosed)] == [0, 0]


def test_a_pause_announces_the_utterance_before_it_closes(
    meeting_speech: tuple[FloatSamples, list[SpokenLine]],
) -> None:
    samples, truth = meeting_speech
    tracker = UtteranceTracker(partials=False)
    events = []
    for offset in range(0, len(samples), SAMPLE_RATE // 5):
        events += tracker.push(samples[offset : offset + SAMPLE_RATE // 5])
    closed = [e for e in events if isinstance(e, UtteranceClosed)]
    announced = {
        (e.audio.start_sample, e.audio.end_sample) for e in events if isinstance(e, PauseBegan)
    }
    assert len(closed) == len(truth)
    # Every sentence end was announced with exactly the audio it then closed with, so the
    # recognition started at the pause is the final one.
    for event in closed:
        assert (event.audio.start_sample, event.audio.end_sample) in announced
        announcement = next(
            i
            for i, e in enumerate(events)
            if isinstance(e, PauseBegan) and e.audio.end_sample == event.audio.end_sample
        )
        assert announcement < events.index(event)


def test_no_partial_once_a_pause_has_begun(
    short_speech: tuple[FloatSamples, list[SpokenLine]],
) -> None:
    samples, truth = short_speech
    # Speculation off, so that only the partial's own rule is at stake.
    tracker = UtteranceTracker(partial_interval_ms=1000, speculate_after_ms=None)

    def up_to(ms: int) -> int:
        return ms * SAMPLE_RATE // 1000

    first = tracker.push(samples[: up_to(truth[0].start_ms + 1500)])
    assert [type(e) for e in first] == [PartialDue]
    # More than a second of new speech, then 200 ms of the pause after the sentence: too
    # short to end it, long enough that a partial started now would hold the recogniser
    # when the utterance's own recognition becomes due.
    pausing = tracker.push(samples[up_to(truth[0].start_ms + 1500) : up_to(truth[0].end_ms + 200)])
    assert pausing == []
    assert tracker.open_utterance_start is not None


def test_skipped_audio_keeps_the_clock_and_the_frame_grid(
    short_speech: tuple[FloatSamples, list[SpokenLine]],
) -> None:
    samples, _ = short_speech
    # Skip an odd number of samples of the lead-in: the utterances found afterwards are the
    # ones found when the VAD heard everything.
    skipped = 5555
    endpointer = Endpointer()
    endpointer.push(samples[:1000])
    endpointer.skip(skipped - 1000)
    events = []
    for offset in range(skipped, len(samples), 3200):
        events += endpointer.push(samples[offset : offset + 3200])
    events += endpointer.flush()
    ends = [(e.start_sample, e.end_sample) for e in events if isinstance(e, SpeechEnded)]
    assert endpointer.position == len(samples)
    assert ends == _utterances(samples, 3200)


def test_tracker_skip_drops_the_open_utterance(
    short_speech: tuple[FloatSamples, list[SpokenLine]],
) -> None:
    samples, truth = short_speech
    tracker = UtteranceTracker(partials=False)
    middle = (truth[0].start_ms + 500) * SAMPLE_RATE // 1000
    tracker.push(samples[:middle])
    assert tracker.open_utterance_start is not None
    tracker.skip(SAMPLE_RATE)
    assert tracker.open_utterance_start is None
    assert tracker.position == tracker.buffer_start == middle + SAMPLE_RATE

"""Speech detectors are borrowed when a session listens and reused after it."""

from livetranslate_audio_pipeline.core.endpointing import Endpointer, SpeechEnded
from livetranslate_audio_pipeline.core.vad_pool import VadPool
from livetranslate_common.speech_samples import FloatSamples, SpokenLine


def _ends(endpointer: Endpointer, samples: FloatSamples) -> list[tuple[int, int]]:
    events = []
    for offset in range(0, len(samples), 3200):
        events += endpointer.push(samples[offset : offset + 3200])
    events += endpointer.flush()
    return [(e.start_sample, e.end_sample) for e in events if isinstance(e, SpeechEnded)]


def test_a_session_borrows_only_when_it_listens_and_gives_back(
    short_speech: tuple[FloatSamples, list[SpokenLine]],
) -> None:
    samples, _ = short_speech
    pool = VadPool()
    recording_only = Endpointer(pool=pool)
    recording_only.skip(len(samples))
    assert pool.created == 0

    first = Endpointer(pool=pool)
    expected = _ends(first, samples)
    assert len(expected) == 2
    assert (pool.created, pool.idle) == (1, 0)
    first.close()
    assert pool.idle == 1

    # The reused instance starts from fresh state: the same utterances, no new instance.
    second = Endpointer(pool=pool)
    assert _ends(second, samples) == expected
    assert pool.created == 1
    second.close()
    second.close()  # twice is harmless
    assert pool.idle == 1


def test_spare_instances_are_bounded() -> None:
    pool = VadPool(max_idle=2)
    borrowed = [pool.acquire() for _ in range(3)]
    for vad in borrowed:
        pool.release(vad)
    assert (pool.created, pool.idle) == (3, 2)
    pool.prewarm(5)
    assert (pool.created, pool.idle) == (3, 2)

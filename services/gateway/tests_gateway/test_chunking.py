import zlib

import numpy as np

from livetranslate_common.pcm import pcm16_to_float
from livetranslate_gateway.core.chunking import (
    SessionAudioContext,
    chunk_events,
    stream_end_event,
)
from livetranslate_schemas.events import ProcessingFlags, SourceType

CONTEXT = SessionAudioContext(
    session_id="abc",
    user_id="u1",
    source_type=SourceType.UPLOAD,
    language="en",
    processing_flags=ProcessingFlags(),
)


def test_chunks_cover_the_audio_in_order() -> None:
    samples = np.linspace(-0.5, 0.5, 16000 * 2 + 500, dtype=np.float32)
    chunks = list(chunk_events(CONTEXT, samples, chunk_samples=16000))
    assert [c.seq for c in chunks] == [0, 1, 2]
    assert [c.sample_offset for c in chunks] == [0, 16000, 32000]
    assert [c.num_samples for c in chunks] == [16000, 16000, 500]
    assert len({c.chunk_id for c in chunks}) == 3
    joined = np.concatenate([pcm16_to_float(c.audio or b"") for c in chunks])
    np.testing.assert_allclose(joined, samples, atol=1 / 32768)
    for chunk in chunks:
        assert chunk.checksum_crc32 == zlib.crc32(chunk.audio or b"")
        assert chunk.audio_config.sample_rate_hz == 16000
        assert chunk.audio_config.language == "en"


def test_end_of_stream_counts_what_was_sent() -> None:
    end = stream_end_event("abc", total_chunks=3, total_samples=32500)
    assert (end.last_seq, end.total_chunks, end.total_samples) == (2, 3, 32500)

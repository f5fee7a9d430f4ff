"""Encoding one event envelope: fastavro against the generated writers, in-process.

``EnvelopeSerde.encode`` used to build the envelope's Avro dicts (``to_avro()``) and hand
them to fastavro's ``schemaless_writer``; it now calls the records' generated
``write_avro()``, which writes the same bytes (the schemas package's tests compare them).
Both are timed here building the whole message (header included), for a live audio chunk
as the gateway publishes it (100 ms of 16 kHz PCM16: 3,200 bytes) and for a transcription
result. CPU time per event, the best of a few rounds; a few seconds in all.

``python -m benchmarks.event_encoding`` prints the rows alone.
"""

from __future__ import annotations

import io
import timeit
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import fastavro

from livetranslate_common.envelope import new_event
from livetranslate_schemas import load_envelope_schema
from livetranslate_schemas.events import (
    AudioChunkReceived,
    AudioConfig,
    Envelope,
    ProcessingFlags,
    SourceType,
    TranscriptionCompleted,
)
from livetranslate_schemas.samples import sample_of
from livetranslate_schemas.wire import MAGIC, envelope_serde

ROUNDS = 7
ROUND_S = 0.1


@dataclass(frozen=True, slots=True)
class EncodingFigures:
    event: str
    size: int
    fastavro_us: float
    generated_us: float


def audio_chunk() -> Envelope:
    """A live chunk as the gateway publishes it: 100 ms of 16 kHz mono PCM16."""
    audio = bytes(range(256)) * 12 + bytes(128)
    seq = 1234
    return new_event(
        AudioChunkReceived(
            session_id="3f2b8c1e-5d4a-4b7e-9c1d-2e6f8a9b0c3d",
            chunk_id=f"3f2b8c1e-5d4a-4b7e-9c1d-2e6f8a9b0c3d:{seq:08d}",
            seq=seq,
            user_id="user-1",
            source_type=SourceType.STREAM,
            audio_config=AudioConfig(language="en"),
            processing_flags=ProcessingFlags(),
            sample_offset=seq * 1600,
            num_samples=len(audio) // 2,
            capture_time=datetime.now(UTC),
            audio=audio,
            checksum_crc32=zlib.crc32(audio),
        ),
        source="gateway",
    )


def fastavro_encoder() -> Callable[[Envelope], bytes]:
    """What ``EnvelopeSerde.encode`` did before the generated writers."""
    schema = load_envelope_schema()
    header = MAGIC + envelope_serde().fingerprint

    def encode(envelope: Envelope) -> bytes:
        buffer = io.BytesIO()
        buffer.write(header)
        fastavro.schemaless_writer(buffer, schema, envelope.to_avro())
        return buffer.getvalue()

    return encode


def _per_call_us(encode: Callable[[Envelope], bytes], envelope: Envelope) -> float:
    timer = timeit.Timer(lambda: encode(envelope))
    number, _ = timer.autorange()
    number = max(1, int(number * ROUND_S / 0.2))  # autorange aims at 0.2 s
    return min(timer.repeat(ROUNDS, number)) / number * 1e6


def encoding_run() -> list[EncodingFigures]:
    old, new = fastavro_encoder(), envelope_serde().encode
    figures = []
    for envelope in (audio_chunk(), new_event(sample_of(TranscriptionCompleted), source="bench")):
        message = new(envelope)
        if old(envelope) != message:  # the tests' job; a figure for different bytes is moot
            raise RuntimeError(f"the encoders disagree on {type(envelope.payload).__name__}")
        figures.append(
            EncodingFigures(
                event=type(envelope.payload).__name__,
                size=len(message),
                fastavro_us=_per_call_us(old, envelope),
                generated_us=_per_call_us(new, envelope),
            )
        )
    return figures


def encoding_rows(figures: list[EncodingFigures]) -> list[tuple[str, str]]:
    return [
        (
            f"encode one {f.event} envelope ({f.size:,} bytes)",
            f"{f.generated_us:.1f} us generated writer vs {f.fastavro_us:.1f} us fastavro"
            f"  ({f.fastavro_us / f.generated_us:.1f} x faster)",
        )
        for f in figures
    ]


def main() -> None:
    rows = encoding_rows(encoding_run())
    width = max(len(name) for name, _ in rows) + 2
    for name, value in rows:
        print(f"{name:<{width}}{value}")


if __name__ == "__main__":
    main()

"""Cutting decoded audio into AudioChunkReceived events."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from livetranslate_common.pcm import float_to_pcm16
from livetranslate_gateway.core.upload_decoding import TARGET_SAMPLE_RATE, FloatSamples
from livetranslate_schemas.events import (
    AudioChunkReceived,
    AudioConfig,
    AudioEncoding,
    AudioStreamEnded,
    ProcessingFlags,
    SourceType,
)


@dataclass(frozen=True, slots=True)
class SessionAudioContext:
    session_id: str
    user_id: str | None
    source_type: SourceType
    language: str | None
    processing_flags: ProcessingFlags


def chunk_id(session_id: str, seq: int) -> str:
    # Deterministic, so a retried upload of the same chunk is recognisably the same chunk.
    return f"{session_id}:{seq:08d}"


def chunk_events(
    context: SessionAudioContext, samples: FloatSamples, *, chunk_samples: int
) -> Iterator[AudioChunkReceived]:
    config = AudioConfig(
        encoding=AudioEncoding.PCM_S16LE,
        sample_rate_hz=TARGET_SAMPLE_RATE,
        channels=1,
        language=context.language,
    )
    for seq, offset in enumerate(range(0, len(samples), chunk_samples)):
        audio = float_to_pcm16(samples[offset : offset + chunk_samples])
        yield AudioChunkReceived(
            session_id=context.session_id,
            chunk_id=chunk_id(context.session_id, seq),
            seq=seq,
            user_id=context.user_id,
            source_type=context.source_type,
            audio_config=config,
            processing_flags=context.processing_flags,
            sample_offset=offset,
            num_samples=len(audio) // 2,
            audio=audio,
            checksum_crc32=zlib.crc32(audio),
        )


def stream_end_event(session_id: str, *, total_chunks: int, total_samples: int) -> AudioStreamEnded:
    return AudioStreamEnded(
        session_id=session_id,
        last_seq=total_chunks - 1,
        total_chunks=total_chunks,
        total_samples=total_samples,
        reason="completed",
    )

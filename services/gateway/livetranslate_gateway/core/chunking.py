"""Cutting 16 kHz mono audio into AudioChunkReceived events (uploads and live streams)."""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
    """What every chunk of a session repeats: who, how it arrives, how to process it."""

    session_id: str
    user_id: str | None
    source_type: SourceType
    language: str | None
    processing_flags: ProcessingFlags
    preset: str | None = None

    @classmethod
    def from_read_model(
        cls,
        *,
        session_id: str,
        user_id: str | None,
        source_type: SourceType,
        audio_config: Mapping[str, Any],
        processing_flags: Mapping[str, Any],
    ) -> SessionAudioContext:
        """From the ``sessions`` row's jsonb columns (the SessionCreated records' Avro dicts)."""
        return cls(
            session_id=session_id,
            user_id=user_id,
            source_type=source_type,
            language=audio_config.get("language"),
            preset=audio_config.get("preset"),
            processing_flags=ProcessingFlags.from_avro(processing_flags),
        )

    def chunk_audio_config(self) -> AudioConfig:
        """Chunks always carry 16 kHz mono PCM16, whatever the client sent."""
        return AudioConfig(
            encoding=AudioEncoding.PCM_S16LE,
            sample_rate_hz=TARGET_SAMPLE_RATE,
            channels=1,
            preset=self.preset,
            language=self.language,
        )


def chunk_id(session_id: str, seq: int) -> str:
    # Deterministic, so a retried upload of the same chunk is recognisably the same chunk.
    return f"{session_id}:{seq:08d}"


def chunk_event(
    context: SessionAudioContext,
    samples: FloatSamples,
    *,
    seq: int,
    sample_offset: int,
    capture_time: datetime | None = None,
    audio_config: AudioConfig | None = None,
) -> AudioChunkReceived:
    """One chunk of 16 kHz mono audio starting at ``sample_offset`` in the session's clock."""
    return pcm_chunk_event(
        context,
        float_to_pcm16(samples),
        seq=seq,
        sample_offset=sample_offset,
        capture_time=capture_time,
        audio_config=audio_config,
    )


def pcm_chunk_event(
    context: SessionAudioContext,
    audio: bytes,
    *,
    seq: int,
    sample_offset: int,
    capture_time: datetime | None = None,
    audio_config: AudioConfig | None = None,
) -> AudioChunkReceived:
    """As :func:`chunk_event`, from the chunk's PCM16 bytes."""
    return AudioChunkReceived(
        session_id=context.session_id,
        chunk_id=chunk_id(context.session_id, seq),
        seq=seq,
        user_id=context.user_id,
        source_type=context.source_type,
        audio_config=audio_config or context.chunk_audio_config(),
        processing_flags=context.processing_flags,
        sample_offset=sample_offset,
        num_samples=len(audio) // 2,
        capture_time=capture_time,
        audio=audio,
        checksum_crc32=zlib.crc32(audio),
    )


def chunk_events(
    context: SessionAudioContext, samples: FloatSamples, *, chunk_samples: int
) -> Iterator[AudioChunkReceived]:
    config = context.chunk_audio_config()
    for seq, offset in enumerate(range(0, len(samples), chunk_samples)):
        yield chunk_event(
            context,
            samples[offset : offset + chunk_samples],
            seq=seq,
            sample_offset=offset,
            audio_config=config,
        )


def stream_end_event(
    session_id: str, *, total_chunks: int, total_samples: int, reason: str = "completed"
) -> AudioStreamEnded:
    return AudioStreamEnded(
        session_id=session_id,
        last_seq=total_chunks - 1,
        total_chunks=total_chunks,
        total_samples=total_samples,
        reason=reason,
    )

"""One fully populated sample of every event, for tests and examples.

Every optional field is set (to a value other than its default), so a round trip through
the wire format exercises every field. Avro ``float`` is 32-bit: the samples use values a
float32 represents exactly, so decoded records compare equal.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypeVar

from livetranslate_schemas.events import (
    AnomalyDetected,
    AudioChunkReceived,
    AudioConfig,
    AudioEncoding,
    AudioStreamEnded,
    BotRequested,
    BotStatus,
    BotStatusUpdate,
    BotStopRequested,
    ConfigDriftDetected,
    ConfigRollbackRequested,
    ConfigSnapshot,
    EventPayload,
    HealthCheck,
    HealthStatus,
    LatencyMetrics,
    MeetingPlatform,
    ProcessingFailed,
    ProcessingFlags,
    ReprocessRequested,
    RunProgress,
    RunStatus,
    ServiceHealthReport,
    SessionCreated,
    SessionDeleted,
    SessionProcessingCompleted,
    Severity,
    SourceType,
    SpeakerNamesUpdated,
    StreamIrregularity,
    StreamIrregularityKind,
    TranscriptionCompleted,
    TranslationCompleted,
    UsageMetrics,
    WordTiming,
)

SESSION_ID = "sess-7f3a"
_T0 = datetime(2025, 3, 14, 9, 26, 53, 589793, tzinfo=UTC)
_AUDIO_CONFIG = AudioConfig(
    encoding=AudioEncoding.FLOAT32_LE,
    sample_rate_hz=48000,
    channels=2,
    preset="meeting-room",
    language="de",
)
_FLAGS = ProcessingFlags(
    transcribe=True,
    partials=False,
    diarize=False,
    translate_to=["en", "fr"],
    model="small",
    speaker_names={"SPEAKER_00": "Ada"},
)


def sample_payloads() -> dict[str, EventPayload]:
    """A populated sample of every event type, by event type name."""
    samples: list[EventPayload] = [
        SessionCreated(
            session_id=SESSION_ID,
            user_id="user-1",
            source_type=SourceType.STREAM,
            audio_config=_AUDIO_CONFIG,
            processing_flags=_FLAGS,
            title="Weekly sync",
            metadata={"team": "speech", "room": "B2"},
        ),
        AudioChunkReceived(
            session_id=SESSION_ID,
            chunk_id="chunk-0003",
            seq=3,
            user_id="user-1",
            source_type=SourceType.BOT,
            audio_config=_AUDIO_CONFIG,
            processing_flags=_FLAGS,
            sample_offset=48000,
            num_samples=16000,
            capture_time=_T0,
            audio=bytes(range(256)) * 4,
            storage_uri="s3://audio/sess-7f3a/3",
            checksum_crc32=0xDEADBEEF,
        ),
        AudioStreamEnded(
            session_id=SESSION_ID,
            last_seq=-1,
            total_chunks=0,
            total_samples=0,
            reason="client_disconnected",
        ),
        TranscriptionCompleted(
            session_id=SESSION_ID,
            segment_id="seg-12",
            revision=2,
            is_final=True,
            run_id="run-a",
            pipeline_version="0.3.1",
            model="whisper-small-int8",
            text="Grüß Gott, everyone 👋",
            language="de",
            start_ms=1_200,
            end_ms=2_950,
            words=[
                WordTiming(word=" Grüß", start_ms=1_200, end_ms=1_500, probability=0.75),
                WordTiming(word=" Gott,", start_ms=1_500, end_ms=1_900, probability=None),
            ],
            speaker="SPEAKER_01",
            speaker_map={"SPEAKER_00": "Ada", "SPEAKER_01": "Grace"},
            confidence=0.875,
            first_seq=2,
            last_seq=5,
            latency=LatencyMetrics(asr_ms=180, queue_ms=12, end_of_speech_to_result_ms=640),
        ),
        TranslationCompleted(
            session_id=SESSION_ID,
            segment_id="seg-12",
            revision=2,
            run_id="run-a",
            source_language="de",
            target_language="en",
            source_text="Grüß Gott",
            text="Hello",
            backend="libretranslate",
            latency_ms=85,
        ),
        ProcessingFailed(
            session_id=SESSION_ID,
            stage="decode",
            error_code="AUDIO_FORMAT",
            message="odd number of bytes for PCM_S16LE",
            retryable=False,
            chunk_id="chunk-0003",
            segment_id="seg-12",
            run_id="run-a",
        ),
        SessionProcessingCompleted(
            session_id=SESSION_ID,
            run_id="run-a",
            final_segment_count=42,
            audio_duration_ms=3_600_000,
            last_seq=1_799,
        ),
        ConfigSnapshot(
            scope="audio_pipeline",
            version=7,
            checksum="a" * 64,
            settings_json='{"vad": {"threshold": 0.5}}',
            previous_version=6,
            changed_keys=["vad"],
            author="ops@example.org",
            presets={"meeting-room": '{"denoise": true}'},
        ),
        ConfigDriftDetected(
            scope="audio_pipeline",
            expected_version=7,
            expected_checksum="a" * 64,
            observed_checksum="b" * 64,
            observer="audio-pipeline-0",
            drifted_keys=["vad"],
        ),
        ConfigRollbackRequested(
            scope="audio_pipeline", target_version=6, requested_by="ops", reason="bad VAD"
        ),
        BotRequested(
            bot_id="bot-9",
            session_id=SESSION_ID,
            platform=MeetingPlatform.GOOGLE_MEET,
            meeting_url="https://meet.google.com/abc-defg-hij",
            bot_display_name="LiveTranslate",
            requested_by="user-1",
            auth_ref="vault:meet/bot-account",
            meeting_title="Weekly sync",
            scheduled_start=_T0,
            language="en",
            processing_flags=_FLAGS,
            metadata={"calendar_event": "evt-1"},
        ),
        BotStopRequested(
            bot_id="bot-9", session_id=SESSION_ID, requested_by="user-1", reason="meeting over"
        ),
        BotStatusUpdate(
            bot_id="bot-9",
            session_id=SESSION_ID,
            status=BotStatus.FAILED,
            detail="admission timed out",
            error_code="NOT_ADMITTED",
            participant_count=5,
        ),
        ServiceHealthReport(
            service="gateway",
            instance_id="gateway-5d9f-x2",
            status=HealthStatus.DEGRADED,
            checks=[
                HealthCheck(name="kafka", status=HealthStatus.HEALTHY),
                HealthCheck(name="postgres", status=HealthStatus.UNHEALTHY, detail="timeout"),
            ],
            uptime_s=3600.25,
            version="0.3.1",
        ),
        AnomalyDetected(
            service="audio_pipeline",
            metric="livetranslate_audio_pipeline_asr_seconds",
            observed=4.2,
            expected=0.8,
            threshold=2.0,
            severity=Severity.CRITICAL,
            session_id=SESSION_ID,
            detail="ASR slower than real time",
        ),
        UsageMetrics(
            service="audio_pipeline",
            window_start=_T0,
            window_end=datetime(2025, 3, 14, 9, 31, 53, 589793, tzinfo=UTC),
            session_id=SESSION_ID,
            user_id="user-1",
            audio_seconds=300.5,
            final_segments=40,
            words=512,
            asr_seconds=61.25,
            translations=80,
        ),
        SpeakerNamesUpdated(
            session_id=SESSION_ID,
            changes={"SPEAKER_01": "Grace Hopper", "SPEAKER_02": None},
            names={"SPEAKER_00": "Ada", "SPEAKER_01": "Grace Hopper"},
            changed_by="user-1",
        ),
        StreamIrregularity(
            session_id=SESSION_ID,
            kind=StreamIrregularityKind.CLOCK_DRIFT,
            seq=57,
            expected_seq=55,
            missing_chunks=2,
            missing_samples=6_400,
            clock_offset_ms=-21.5,
            clock_drift_ppm=2_048.25,
            run_id="run-a",
            detail="client clock runs 2048 ppm fast",
        ),
        ReprocessRequested(
            session_id=SESSION_ID,
            run_id="run-b",
            model="base",
            requested_by="user-1",
            preset="meeting-room",
            language="de",
            translate_to=["en", "fr"],
            diarize=False,
            start_ms=60_000,
            end_ms=120_000,
            audio_since=_T0,
            total_ms=183_500,
        ),
        RunProgress(
            session_id=SESSION_ID,
            run_id="run-b",
            status=RunStatus.FAILED,
            model="base",
            pipeline_version="0.3.0",
            processed_ms=42_000,
            total_ms=60_000,
            final_segment_count=9,
            start_ms=60_000,
            end_ms=120_000,
            requested_at=_T0,
            error="the speech model 'base' is not installed",
        ),
        SessionDeleted(session_id=SESSION_ID, deleted_by="9f2c4e1a7b3d5f60"),
    ]
    return {type(sample).__name__: sample for sample in samples}


_P = TypeVar("_P", bound=EventPayload)


def sample_of(event_type: type[_P]) -> _P:
    """The populated sample of one event type, typed as that type."""
    sample = sample_payloads()[event_type.__name__]
    if not isinstance(sample, event_type):
        raise TypeError(f"no sample of {event_type.__name__}")
    return sample

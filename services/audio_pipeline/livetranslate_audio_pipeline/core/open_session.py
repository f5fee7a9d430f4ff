"""What a worker holds in memory for each session it serves.

Everything here can be rebuilt: durable progress lives in the worker's tables
(``checkpoint``), the audio in the log.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field

from livetranslate_audio_pipeline.core.audio_stages import AudioStageChain, AudioStageState
from livetranslate_audio_pipeline.core.recognition import Recognition
from livetranslate_audio_pipeline.core.session_options import SessionOptions
from livetranslate_audio_pipeline.core.speakers import SpeakerEmbedding, SpeakerRegistryState
from livetranslate_audio_pipeline.core.stream_timing import StreamTiming
from livetranslate_audio_pipeline.core.utterance_tracker import UtteranceAudio, UtteranceTracker


@dataclass(frozen=True, slots=True)
class Recognised:
    recognition: Recognition
    asr_ms: int
    # The utterance's speaker embedding, when the session wants speakers and it could be had.
    embedding: SpeakerEmbedding | None


@dataclass(slots=True)
class Speculation:
    start_sample: int
    end_sample: int
    task: asyncio.Task[Recognised]


@dataclass(slots=True)
class OpenSession:
    session_id: str
    tracker: UtteranceTracker
    options: SessionOptions
    stages: AudioStageChain
    stage_state: AudioStageState | None = None
    speaker_state: SpeakerRegistryState | None = None
    speakers_changed: bool = False
    # Label -> human name, the session's complete mapping: every segment built carries it.
    speaker_names: dict[str, str] = field(default_factory=dict)
    partition: int | None = None
    # (first sample, log offset) of the chunks whose audio the tracker still holds.
    chunk_offsets: deque[tuple[int, int]] = field(default_factory=deque)
    finalized_until_sample: int = 0
    # A recognition started when the open utterance went quiet: becomes its final if the
    # utterance ends right there.
    speculation: Speculation | None = None
    next_seq: int = 0
    last_seq: int = -1
    # Order of the chunks and the client's clock; saved (when changed) with the progress.
    timing: StreamTiming = field(default_factory=StreamTiming)
    timing_changed: bool = False
    final_segments: int = 0
    # Texts of the latest finals (oldest first): the next final's recognition context.
    recent_finals: list[str] = field(default_factory=list)
    # Monotonic time the newest chunk reached us (or the session was opened): the reference
    # for result latency, and for how long the session has been idle.
    last_chunk_received: float = field(default_factory=time.monotonic)
    # How long the newest chunk waited in Kafka before this worker took it.
    last_queue_ms: int | None = None
    # Audio arriving as it is spoken (not an upload): someone waits for each final.
    live: bool = True
    # Results were published since the last checkpoint: the next one must not be skipped.
    checkpoint_due: bool = False
    # Session clock position at the last checkpoint (None: none yet).
    checkpointed_at: int | None = None

    def note_log_position(self, first_sample: int, partition: int, offset: int) -> None:
        """The audio from ``first_sample`` on is at ``offset`` of audio-ingest's
        ``partition``: where a worker taking over reads it back from."""
        self.partition = partition
        self.chunk_offsets.append((first_sample, offset))


def segment_id_for(session_id: str, start_sample: int) -> str:
    # Derived from the audio position, so re-running the same audio produces the same id and
    # consumers can drop duplicates.
    return f"{session_id}:{start_sample:012d}"


@dataclass(frozen=True, slots=True)
class PartialJob:
    session: OpenSession
    segment_id: str
    audio: UtteranceAudio
    revision: int

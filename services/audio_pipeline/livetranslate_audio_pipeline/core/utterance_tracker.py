"""One session's audio and its open utterance: what to recognise, and when.

Fed the session's audio in order, it keeps only what may still be needed (the open utterance,
or a short tail while nobody speaks) and says when a partial result is due (every
``partial_interval_ms`` of new speech) and when an utterance is finished.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from livetranslate_audio_pipeline.core.audio import PIPELINE_SAMPLE_RATE, Samples
from livetranslate_audio_pipeline.core.endpointing import (
    Endpointer,
    EndpointerConfig,
    SpeechEnded,
    SpeechStarted,
)

# Audio kept before the open utterance (or, while nobody speaks, before now): it holds an
# utterance's start and padding, which the VAD confirms a few frames after the speech
# began; and a worker taking the session over replays it to warm its VAD up, so that it
# finds the same boundaries as the worker before it.
_PRE_ROLL = PIPELINE_SAMPLE_RATE


@dataclass(frozen=True, slots=True)
class UtteranceAudio:
    start_sample: int
    end_sample: int
    samples: Samples


@dataclass(frozen=True, slots=True)
class PartialDue:
    """The open utterance so far should be (re)recognised for a partial result."""

    audio: UtteranceAudio
    # How many partials of this utterance were due before this one.
    revision: int


@dataclass(frozen=True, slots=True)
class PauseBegan:
    """The open utterance has gone quiet: if the pause lasts, this audio is the utterance.

    Recognising it now, while the endpointer still waits to be sure, takes recognition off
    the path between the end of speech and the final result.
    """

    audio: UtteranceAudio


@dataclass(frozen=True, slots=True)
class UtteranceClosed:
    audio: UtteranceAudio
    # How many partials of this utterance were due: the final's revision comes after them.
    revision: int


TrackerEvent = PartialDue | PauseBegan | UtteranceClosed


class UtteranceTracker:
    def __init__(
        self,
        config: EndpointerConfig | None = None,
        *,
        partial_interval_ms: int = 1000,
        partials: bool = True,
        start_sample: int = 0,
        speculate_after_ms: int | None = 160,
    ) -> None:
        self._endpointer = Endpointer(config, start_sample=start_sample)
        self._buffer: Samples = np.zeros(0, dtype=np.float32)
        self._buffer_start = start_sample
        self.partials = partials
        self._partial_interval = partial_interval_ms * PIPELINE_SAMPLE_RATE // 1000
        self._last_partial_at = 0
        self._speculate_after = (
            None
            if speculate_after_ms is None
            else speculate_after_ms * PIPELINE_SAMPLE_RATE // 1000
        )
        # The speech end already speculated on, so one pause yields one PauseBegan.
        self._speculated_end: int | None = None
        # Partials due so far in the open utterance. Revisions are numbered from the audio
        # alone (not from the partials actually published, which depend on the load and are
        # lost in a crash), so a worker that replays the utterance after a crash gives its
        # final the same revision: a redelivery is recognisable as one.
        self._partials_due = 0

    @property
    def position(self) -> int:
        """The session sample index the next pushed sample gets."""
        return self._buffer_start + len(self._buffer)

    @property
    def buffer_start(self) -> int:
        """The oldest session sample still kept (and so still needed after a restart)."""
        return self._buffer_start

    @property
    def open_utterance_start(self) -> int | None:
        return self._endpointer.utterance_start

    def push(self, samples: Samples) -> list[TrackerEvent]:
        self._buffer = np.concatenate((self._buffer, samples))
        events: list[TrackerEvent] = []
        for event in self._endpointer.push(samples):
            if isinstance(event, SpeechStarted):
                self._last_partial_at = event.start_sample
                self._partials_due = 0
            elif isinstance(event, SpeechEnded):
                events.append(self._closed(event))
        start = self._endpointer.utterance_start
        if start is not None:
            events += self._while_speaking(start)
        self._trim()
        return events

    def _while_speaking(self, start: int) -> list[TrackerEvent]:
        pausing = self._endpointer.pause_samples
        if self._speculate_after is not None and pausing >= self._speculate_after:
            # (No partial during a pause: nothing new was said.)
            end = self._endpointer.speech_end_if_closed_now
            if end is None or end == self._speculated_end or end > self.position:
                return []
            self._speculated_end = end
            return [PauseBegan(self._slice(start, end))]
        if pausing:
            # Not now: if the pause goes on, the utterance's speculative recognition is due
            # within frames, and a partial already running would hold the recogniser (it
            # cannot be stopped) while that recognition waits. Speech again: due at once.
            return []
        if self.partials and self.position - self._last_partial_at >= self._partial_interval:
            self._last_partial_at = self.position
            self._partials_due += 1
            return [PartialDue(self._slice(start, self.position), self._partials_due - 1)]
        return []

    def skip(self, count: int) -> None:
        """Audio that will not be recognised (transcription is off): keep only the clock."""
        self._endpointer.skip(count)
        self._buffer_start = self.position + count
        self._buffer = np.zeros(0, dtype=np.float32)
        self._speculated_end = None

    def close(self) -> None:
        """The session is done here: give back what it borrowed (its VAD)."""
        self._endpointer.close()

    def flush(self) -> list[TrackerEvent]:
        return [
            self._closed(event)
            for event in self._endpointer.flush()
            if isinstance(event, SpeechEnded)
        ]

    def _closed(self, ended: SpeechEnded) -> UtteranceClosed:
        return UtteranceClosed(
            self._slice(ended.start_sample, ended.end_sample), self._partials_due
        )

    def _slice(self, start: int, end: int) -> UtteranceAudio:
        first = max(0, start - self._buffer_start)
        last = max(first, end - self._buffer_start)
        samples = self._buffer[first:last].copy()
        return UtteranceAudio(self._buffer_start + first, self._buffer_start + last, samples)

    def _trim(self) -> None:
        start = self._endpointer.utterance_start
        keep_from = (start if start is not None else self.position) - _PRE_ROLL
        drop = keep_from - self._buffer_start
        if drop > 0:
            self._buffer = self._buffer[drop:].copy()
            self._buffer_start += drop

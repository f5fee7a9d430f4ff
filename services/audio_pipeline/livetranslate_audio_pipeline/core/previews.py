"""Scheduling partial results: the newest request per session, one at a time, after finals.

A partial is a preview the next one replaces, so only each session's newest request is kept
(older ones are dropped unseen), sessions take turns in the order they asked, and a preview
only starts while no final is waiting for the recogniser.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from livetranslate_audio_pipeline.core.recognition_gate import RecognitionGate

Job = TypeVar("Job")


class PreviewScheduler(Generic[Job]):
    def __init__(self, gate: RecognitionGate, run: Callable[[Job], Awaitable[None]]) -> None:
        self._gate = gate
        self._run = run
        # Newest job per session; dict order is the order sessions asked.
        self._jobs: dict[str, Job] = {}
        self._wakeup = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None

    def submit(self, session_id: str, job: Job) -> None:
        self._jobs.pop(session_id, None)
        self._jobs[session_id] = job
        self._wakeup.set()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work(), name="previews")

    def pending(self, session_id: str) -> Job | None:
        return self._jobs.get(session_id)

    def discard(self, session_id: str) -> None:
        self._jobs.pop(session_id, None)

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    async def _work(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._jobs:
                async with self._gate.partial():
                    if not self._jobs:
                        break
                    session_id = next(iter(self._jobs))
                    await self._run(self._jobs.pop(session_id))

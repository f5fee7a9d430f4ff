"""Who gets the CPU for recognition next: finals before partials.

A final result is what people keep; a partial is a preview that the next one replaces. Both
run on the same cores, so a partial may only start while no final is waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class RecognitionGate:
    def __init__(self) -> None:
        self._condition = asyncio.Condition()
        self._busy = False
        self._finals_waiting = 0

    @asynccontextmanager
    async def final(self) -> AsyncIterator[None]:
        async with self._condition:
            self._finals_waiting += 1
            try:
                await self._condition.wait_for(lambda: not self._busy)
            finally:
                self._finals_waiting -= 1
            self._busy = True
        try:
            yield
        finally:
            await self._release()

    @asynccontextmanager
    async def partial(self) -> AsyncIterator[None]:
        async with self._condition:
            await self._condition.wait_for(lambda: not self._busy and not self._finals_waiting)
            self._busy = True
        try:
            yield
        finally:
            await self._release()

    async def _release(self) -> None:
        async with self._condition:
            self._busy = False
            self._condition.notify_all()

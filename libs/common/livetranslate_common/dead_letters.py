"""Dead letters for Faust apps: an undecodable message is set aside, not fatal.

Faust's default for a message its codec cannot decode is to throw the error into the agent,
which crashes it: one bad producer could stop every session. ``DeadLetteringTopic`` instead
copies the message's original bytes, with the error and its origin in headers, to the
topic's ``.dlq`` companion, calls an optional hook (the pipeline publishes a
ProcessingFailed there), and carries on with the next message.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import faust
from faust.types import AppT, Message

log = logging.getLogger(__name__)

DeadLetterHook = Callable[[Message, Exception], Awaitable[None]]

# Headers a dead letter carries; values are UTF-8.
ERROR_HEADER = "livetranslate-error"
ORIGIN_HEADER = "livetranslate-origin"

_REMEMBERED = 10_000


class DeadLetteringTopic(faust.Topic):
    def __init__(
        self,
        app: AppT,
        *,
        dead_letter_topic: str,
        on_dead_letter: DeadLetterHook | None = None,
        dead_lettered: OrderedDict[tuple[str, int, int], None] | None = None,
        **kwargs: Any,
    ) -> None:
        self.dead_letter_topic = dead_letter_topic
        self.on_dead_letter = on_dead_letter
        # Every agent reading the topic holds a clone of it, and Faust reports a bad message
        # to each clone: the clones share this record so a message is set aside once.
        self._dead_lettered = dead_lettered if dead_lettered is not None else OrderedDict()
        super().__init__(app, **kwargs)

    def _clone_args(self) -> Mapping[str, Any]:
        return {
            **super()._clone_args(),
            "dead_letter_topic": self.dead_letter_topic,
            "on_dead_letter": self.on_dead_letter,
            "dead_lettered": self._dead_lettered,
        }

    async def on_key_decode_error(self, exc: Exception, message: Message) -> None:
        await self._set_aside(exc, message)

    async def on_value_decode_error(self, exc: Exception, message: Message) -> None:
        await self._set_aside(exc, message)

    async def _set_aside(self, exc: Exception, message: Message) -> None:
        coordinates = (message.topic, message.partition, message.offset)
        if coordinates in self._dead_lettered:
            return
        self._dead_lettered[coordinates] = None
        if len(self._dead_lettered) > _REMEMBERED:
            self._dead_lettered.popitem(last=False)
        origin = f"{message.topic}/{message.partition}/{message.offset}"
        log.warning("undecodable message at %s set aside: %s", origin, exc)
        await self.app.producer.send_and_wait(
            self.dead_letter_topic,
            message.key,
            message.value,
            partition=None,
            timestamp=None,
            headers=[
                (ERROR_HEADER, str(exc)[:2000].encode()),
                (ORIGIN_HEADER, origin.encode()),
            ],
        )
        if self.on_dead_letter is not None:
            await self.on_dead_letter(message, exc)

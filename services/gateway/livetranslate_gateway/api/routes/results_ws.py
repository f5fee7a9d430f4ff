"""``/ws/sessions/{id}``: a session's results, its history first, then live as they arrive.

One run's at a time: the live run's by default, a reprocessing run's with ``?run=<run_id>``
(its results, its RunProgress reports as ``run_progress`` messages, and its completion).

Every result carries its ``position`` in the log (``"<partition>:<offset>"``). A client that
joins late gets the run's results so far, read back from audio-results, then
``{"type": "caught_up"}``, then live results. One that reconnects with ``?after=<the last
position it saw>`` gets exactly what came after it: nothing lost, nothing twice. The
hand-over: the live subscription starts first (buffering), the log is read up to the end it
had then, and live results before that end are dropped as already sent.

:func:`forward_results` is shared with the live audio socket (``live_audio.py``), which
streams the same messages back on the socket the audio comes in on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from livetranslate_common.readmodel.queries import SessionRow, get_run
from livetranslate_common.runs import LIVE_RUN, RUN_ID_PATTERN
from livetranslate_gateway.adapters.result_fanout import (
    ResultFanout,
    ResultRecord,
    SubscriberTooSlowError,
    Subscription,
)
from livetranslate_gateway.adapters.result_history import (
    POSITION_PATTERN,
    HistoryReader,
    Position,
    ResultHistory,
)
from livetranslate_gateway.api.access import accept, owned_session, refuse, websocket_principal
from livetranslate_gateway.core.errors import SessionNotFoundError
from livetranslate_gateway.core.live_stream import (
    CLOSE_POLICY,
    CLOSE_SESSION_NOT_FOUND,
    CLOSE_TOO_SLOW,
)
from livetranslate_gateway.core.messages import client_message

router = APIRouter()

SendJson = Callable[[dict[str, Any]], Awaitable[None]]

#: How far before a run's start (by the session's or the run's record) its history is looked
#: for: the producers' clocks (which stamp the log) may run behind the gateway's.
CLOCK_MARGIN = timedelta(seconds=30)
#: Text messages a results client may send: pings.
MAX_CLIENT_MESSAGE_CHARS = 1024


class ResultStream:
    """What one client is sent of a session's results: one run's, each result once."""

    def __init__(self, send: SendJson, *, run: str = LIVE_RUN) -> None:
        self._send = send
        self._run = run
        # The pipeline publishes at least once: after a worker restart a result can come
        # twice. The client gets each (segment, revision) and each completion once.
        self._delivered: set[tuple[str, str, int, bool]] = set()
        self.last_position: Position | None = None

    async def deliver(self, record: ResultRecord) -> bool:
        """Send the record's message if it is news; True if it was the run's completion."""
        message = client_message(record.envelope)
        # (Results of other runs are left out before: segment ids repeat across runs.)
        if message is None or message.get("run_id") not in (None, self._run):
            return False  # another run's (a message of no run concerns the whole session)
        identity = _result_identity(message)
        if identity is not None:
            if identity in self._delivered:
                return False
            self._delivered.add(identity)
        position = Position(record.partition, record.offset)
        message["position"] = str(position)
        await self._send(message)
        self.last_position = position
        return bool(message["type"] == "session_completed")


async def forward_results(
    subscription: Subscription,
    send: SendJson | ResultStream,
    *,
    until_completed: bool = False,
    run: str = LIVE_RUN,
    sent_before: Position | None = None,
) -> None:
    """Send the subscription's results of ``run`` to the client as they arrive, forever or
    (with ``until_completed``) until the run's ``session_completed`` has been sent. Results
    before ``sent_before`` (on its partition) were sent from the log already.

    Raises SubscriberTooSlowError when the client fell too far behind.
    """
    stream = send if isinstance(send, ResultStream) else ResultStream(send, run=run)
    while True:
        record = await subscription.next()
        if (
            sent_before is not None
            and record.partition == sent_before.partition
            and record.offset < sent_before.offset
        ):
            continue
        completed = await stream.deliver(record)
        if until_completed and completed:
            return


def _result_identity(message: dict[str, Any]) -> tuple[str, str, int, bool] | None:
    kind = message["type"]
    if kind == "segment":
        return (kind, message["segment_id"], message["revision"], message["is_final"])
    if kind == "translation":
        target = message["target_language"]
        return (f"{kind}:{target}", message["segment_id"], message["revision"], True)
    if kind == "run_progress":
        # Every report is news, except the same report twice (a redelivery).
        return (kind, message["status"], message["processed_ms"], True)
    if kind == "session_completed":
        return (kind, message["run_id"], 0, True)
    if kind == "stream_irregularity":
        # A chunk's irregularity is told once, even if a restarted worker reports it again.
        seq = message["seq"] if message["seq"] is not None else -1
        return (f"{kind}:{message['kind']}", message["run_id"], seq, True)
    return None


async def cancel_and_wait(*tasks: asyncio.Task[Any]) -> None:
    """Cancel the tasks and wait for them to end, ignoring how they end."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@router.websocket("/ws/sessions/{session_id}")
async def session_results(
    websocket: WebSocket,
    session_id: str,
    run: str = LIVE_RUN,
    after: str | None = None,
) -> None:
    principal = await websocket_principal(websocket)
    if principal is None:
        return
    # Checked here rather than by FastAPI, which would refuse before the handshake: a
    # browser would see a bare HTTP 403 instead of the close code and reason.
    if re.match(RUN_ID_PATTERN, run) is None or (
        after is not None and re.match(POSITION_PATTERN, after) is None
    ):
        await refuse(websocket, CLOSE_POLICY, "run or after is malformed")
        return
    try:
        async with websocket.app.state.db_pool.connection() as conn:
            session = await owned_session(conn, session_id, principal)
            run_row = await get_run(conn, session_id, run) if run != LIVE_RUN else None
    except SessionNotFoundError:
        await refuse(websocket, CLOSE_SESSION_NOT_FOUND, "unknown session")
        return
    if run != LIVE_RUN and run_row is None:
        await refuse(websocket, CLOSE_SESSION_NOT_FOUND, "the session has no such run")
        return
    resume_after = Position.parse(after) if after is not None else None
    await accept(websocket)
    send_lock = asyncio.Lock()

    async def send(message: dict[str, Any]) -> None:
        # One sender at a time: results and pongs come from different tasks.
        async with send_lock:
            await websocket.send_json(message)

    fanout: ResultFanout = websocket.app.state.fanout
    # Subscribed before the log's end is read: whatever comes after it is buffered here.
    subscription = fanout.subscribe(session_id)
    stream = ResultStream(send, run=run)
    receiver = asyncio.create_task(_answer_client(websocket, send))
    since = run_row.requested_at if run_row is not None else session.created_at
    history = asyncio.create_task(
        _send_history(websocket, session, stream, since=since, after=resume_after)
    )
    forwarder: asyncio.Task[None] | None = None
    try:
        done, _ = await asyncio.wait({receiver, history}, return_when=asyncio.FIRST_COMPLETED)
        if history not in done:
            return  # the client left during the history
        end = history.result()
        if end is None:
            return  # closed for a bad position
        await send({"type": "caught_up", "position": _position_or_none(stream.last_position)})
        forwarder = asyncio.create_task(
            forward_results(subscription, stream, run=run, sent_before=end)
        )
        done, _ = await asyncio.wait({receiver, forwarder}, return_when=asyncio.FIRST_COMPLETED)
        if forwarder in done:
            forwarder.result()
    except SubscriberTooSlowError:
        await websocket.close(code=CLOSE_TOO_SLOW, reason="client too slow; reconnect")
    except WebSocketDisconnect:
        pass
    finally:
        fanout.unsubscribe(subscription)
        await cancel_and_wait(receiver, history, *([forwarder] if forwarder else []))


def _position_or_none(position: Position | None) -> str | None:
    return str(position) if position is not None else None


async def _send_history(
    websocket: WebSocket,
    session: SessionRow,
    stream: ResultStream,
    *,
    since: datetime,
    after: Position | None,
) -> Position | None:
    """Send the run's results from the log up to its end now; that end, or None if the
    socket was closed for a position that cannot be the session's."""
    history: ResultHistory = websocket.app.state.result_history
    fanout: ResultFanout = websocket.app.state.fanout
    async with history.reader(fanout.partitions()) as reader:
        partition = reader.partition_of(session.session_id)
        if after is not None and after.partition != partition:
            await _close_bad_position(websocket, "the position is not on this session's partition")
            return None
        end = await reader.end_of(partition)
        if after is not None and after.offset >= end.offset:
            await _close_bad_position(websocket, "the position is beyond the log's end")
            return None
        start = (
            Position(partition, after.offset + 1)
            if after is not None
            else await reader.first_at(partition, since - CLOCK_MARGIN)
        )
        await _replay(reader, session.session_id, stream, start, end)
    return end


async def _replay(
    reader: HistoryReader, session_id: str, stream: ResultStream, start: Position, end: Position
) -> None:
    async for record in reader.replay(session_id, start, end):
        await stream.deliver(record)


async def _close_bad_position(websocket: WebSocket, reason: str) -> None:
    with contextlib.suppress(Exception):
        await websocket.send_json({"type": "error", "code": "bad_position", "message": reason})
        await websocket.close(code=CLOSE_POLICY, reason=reason)


async def _answer_client(websocket: WebSocket, send: SendJson) -> None:
    """Answer pings; notice a client that goes away even while no results are flowing.
    Anything else a client sends (other text, binary) is ignored."""
    while True:
        received = await websocket.receive()
        if received["type"] == "websocket.disconnect":
            return
        text = received.get("text")
        if text is None or len(text) > MAX_CLIENT_MESSAGE_CHARS:
            continue
        with contextlib.suppress(ValueError):
            message = json.loads(text)
            if isinstance(message, dict) and message.get("type") == "ping":
                await send({"type": "pong"})

"""``/ws/sessions/{id}``: a session's results, pushed as they arrive.

One run's at a time: the live run's by default, a reprocessing run's with ``?run=<run_id>``
(its results, its RunProgress reports as ``run_progress`` messages, and its completion).

:func:`forward_results` is shared with the live audio socket (``live_audio.py``), which
streams the same messages back on the socket the audio comes in on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect

from livetranslate_common.runs import LIVE_RUN, RUN_ID_PATTERN
from livetranslate_gateway.adapters.result_fanout import (
    ResultFanout,
    SubscriberTooSlowError,
    Subscription,
)
from livetranslate_gateway.api.access import accept, owned_session, refuse, websocket_principal
from livetranslate_gateway.core.errors import SessionNotFoundError
from livetranslate_gateway.core.live_stream import CLOSE_SESSION_NOT_FOUND, CLOSE_TOO_SLOW
from livetranslate_gateway.core.messages import client_message

router = APIRouter()

SendJson = Callable[[dict[str, Any]], Awaitable[None]]


async def forward_results(
    subscription: Subscription,
    send: SendJson,
    *,
    until_completed: bool = False,
    run: str = LIVE_RUN,
) -> None:
    """Send the subscription's results of ``run`` to the client as they arrive, forever or
    (with ``until_completed``) until the run's ``session_completed`` has been sent.

    Raises SubscriberTooSlowError when the client fell too far behind.
    """
    # The pipeline publishes at least once: after a worker restart a result can come twice.
    # The client gets each (segment, revision) and each completion once.
    # (Results of other runs are left out before: segment ids repeat across runs.)
    delivered: set[tuple[str, str, int, bool]] = set()
    while True:
        message = client_message(await subscription.next())
        if message is None or message.get("run_id") not in (None, run):
            continue  # another run's (a message of no run concerns the whole session)
        identity = _result_identity(message)
        if identity is not None:
            if identity in delivered:
                continue
            delivered.add(identity)
        await send(message)
        if until_completed and message["type"] == "session_completed":
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
    run: Annotated[str, Query(pattern=RUN_ID_PATTERN)] = LIVE_RUN,
) -> None:
    principal = await websocket_principal(websocket)
    if principal is None:
        return
    try:
        async with websocket.app.state.db_pool.connection() as conn:
            await owned_session(conn, session_id, principal)
    except SessionNotFoundError:
        await refuse(websocket, CLOSE_SESSION_NOT_FOUND, "unknown session")
        return
    await accept(websocket)
    fanout: ResultFanout = websocket.app.state.fanout
    subscription = fanout.subscribe(session_id)
    # Notice a client that goes away even while no results are flowing.
    receiver = asyncio.create_task(_drain_client(websocket))
    forwarder = asyncio.create_task(forward_results(subscription, websocket.send_json, run=run))
    try:
        done, _ = await asyncio.wait({receiver, forwarder}, return_when=asyncio.FIRST_COMPLETED)
        if forwarder in done:
            forwarder.result()
    except SubscriberTooSlowError:
        await websocket.close(code=CLOSE_TOO_SLOW, reason="client too slow; reconnect")
    except WebSocketDisconnect:
        pass
    finally:
        fanout.unsubscribe(subscription)
        await cancel_and_wait(receiver, forwarder)


async def _drain_client(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await websocket.receive_text()

"""``/ws/sessions/{id}``: a session's results, pushed as they arrive."""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from livetranslate_common.readmodel.queries import get_session
from livetranslate_gateway.adapters.result_fanout import ResultFanout, SubscriberTooSlowError
from livetranslate_gateway.core.messages import client_message

router = APIRouter()

# Application close codes (4000-4999 are ours by RFC 6455).
CLOSE_SESSION_NOT_FOUND = 4404
CLOSE_TOO_SLOW = 4408


@router.websocket("/ws/sessions/{session_id}")
async def session_results(websocket: WebSocket, session_id: str) -> None:
    async with websocket.app.state.db_pool.connection() as conn:
        session = await get_session(conn, session_id)
    if session is None:
        await websocket.close(code=CLOSE_SESSION_NOT_FOUND, reason="unknown session")
        return
    await websocket.accept()
    fanout: ResultFanout = websocket.app.state.fanout
    subscription = fanout.subscribe(session_id)
    # Notice a client that goes away even while no results are flowing.
    receiver = asyncio.create_task(_drain_client(websocket))
    try:
        while not receiver.done():
            getter = asyncio.create_task(subscription.next())
            done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                break
            message = client_message(getter.result())
            if message is not None:
                await websocket.send_json(message)
    except SubscriberTooSlowError:
        await websocket.close(code=CLOSE_TOO_SLOW, reason="client too slow; reconnect")
    except WebSocketDisconnect:
        pass
    finally:
        fanout.unsubscribe(subscription)
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
            await receiver


async def _drain_client(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await websocket.receive_text()

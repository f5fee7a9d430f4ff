"""A small async client for the gateway's API; the demo, tests and benchmarks use it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import websockets


class GatewayRequestError(Exception):
    def __init__(self, status_code: int, problem: dict[str, Any]) -> None:
        super().__init__(f"{status_code}: {problem.get('detail', problem)}")
        self.status_code = status_code
        self.problem = problem


class GatewayClient:
    def __init__(self, base_url: str, *, timeout: float = 120.0) -> None:
        self._base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self._base_url, timeout=timeout)

    async def __aenter__(self) -> GatewayClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def create_session(self, **fields: Any) -> dict[str, Any]:
        return await self._json(await self._http.post("/api/sessions", json=fields))

    async def session(self, session_id: str) -> dict[str, Any]:
        return await self._json(await self._http.get(f"/api/sessions/{session_id}"))

    async def upload_audio(
        self, session_id: str, audio: bytes, *, content_type: str = "application/octet-stream"
    ) -> dict[str, Any]:
        response = await self._http.post(
            f"/api/sessions/{session_id}/audio",
            content=audio,
            headers={"content-type": content_type},
        )
        return await self._json(response)

    async def transcript(self, session_id: str, *, run: str = "live") -> dict[str, Any]:
        return await self._json(
            await self._http.get(f"/api/sessions/{session_id}/transcript", params={"run": run})
        )

    async def wait_until_completed(
        self, session_id: str, *, within_s: float = 60.0, poll_s: float = 0.2
    ) -> dict[str, Any]:
        """Poll the stored transcript until the pipeline has finished the session."""
        async with asyncio.timeout(within_s):
            while True:
                transcript = await self.transcript(session_id)
                if transcript["status"] == "completed":
                    return transcript
                await asyncio.sleep(poll_s)

    @asynccontextmanager
    async def results(self, session_id: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        """Open the results socket; iterate the yielded stream for messages."""
        url = "ws" + self._base_url.removeprefix("http") + f"/ws/sessions/{session_id}"
        async with websockets.connect(url, max_size=2**22) as socket:

            async def messages() -> AsyncIterator[dict[str, Any]]:
                async for raw in socket:
                    message: dict[str, Any] = json.loads(raw)
                    yield message

            yield messages()

    @staticmethod
    async def _json(response: httpx.Response) -> dict[str, Any]:
        if response.is_error:
            try:
                problem = response.json()
            except ValueError:
                problem = {"detail": response.text}
            raise GatewayRequestError(response.status_code, problem)
        body: dict[str, Any] = response.json()
        return body

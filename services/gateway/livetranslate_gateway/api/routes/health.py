"""Liveness (``/health``: the process answers) and readiness (``/api/health``: it can reach
what it needs), for load balancers, probes and the local launcher. Neither needs a key."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from livetranslate_gateway.adapters.event_publisher import EventPublisher
from livetranslate_gateway.api.examples import READINESS, examples
from livetranslate_gateway.api.problems import PROBLEM_MEDIA_TYPE, problem_response

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"])

#: How long each dependency may take to answer a readiness check.
CHECK_TIMEOUT_S = 2.0

Check = Literal["ok", "unavailable"]


class Readiness(BaseModel):
    model_config = ConfigDict(json_schema_extra=examples(READINESS))

    status: Literal["ok"]
    checks: dict[str, Check]


@router.get(
    "/health", responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}}
)
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/api/health",
    response_model=Readiness,
    responses={
        503: {"description": "A dependency is unreachable", "content": {PROBLEM_MEDIA_TYPE: {}}}
    },
)
async def readiness(request: Request) -> Readiness | JSONResponse:
    """Ready when PostgreSQL and Kafka both answer within 2 s each."""
    checks: dict[str, Check] = {
        "database": await _checked("database", _database(request)),
        "kafka": await _checked("kafka", _kafka(request.app.state.publisher)),
    }
    if all(state == "ok" for state in checks.values()):
        return Readiness(status="ok", checks=checks)
    down = ", ".join(name for name, state in checks.items() if state != "ok")
    return problem_response(
        503, "unavailable", f"unreachable: {down}", instance=request.url.path, checks=checks
    )


async def _database(request: Request) -> bool:
    async with request.app.state.db_pool.connection(timeout=CHECK_TIMEOUT_S) as conn:
        await conn.execute("SELECT 1")
    return True


async def _kafka(publisher: EventPublisher) -> bool:
    return await publisher.reachable()


async def _checked(name: str, check: Coroutine[Any, Any, bool]) -> Check:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            ok = await check
    except Exception as error:  # any failure means "not ready", with the cause logged
        log.warning("readiness: %s unreachable: %s", name, error)
        return "unavailable"
    return "ok" if ok else "unavailable"

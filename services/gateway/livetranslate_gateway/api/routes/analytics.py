"""Analytics: talk time per speaker, words per minute and latency percentiles, per session and
per hour, from the monitoring service's analytics workers (``GATEWAY_ANALYTICS_URL``).

The figures' definitions are in ``livetranslate_monitoring.core.figures`` and the README.
Sessions have no owner yet (SessionCreated's ``user_id`` is always null until access control
lands): a session's figures are open to whoever may read its transcript, which is anyone who
knows its id, as on every other session route; an unknown session is a 404 here as there.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from livetranslate_gateway.adapters.analytics_client import (
    AnalyticsClient,
    AnalyticsRangeError,
    AnalyticsUnavailableError,
)
from livetranslate_gateway.api.access import (
    PrincipalDep,
    owned_session,
    require_key,
    require_operator,
)
from livetranslate_gateway.api.examples import HOURLY_ANALYTICS, SESSION_ANALYTICS, examples
from livetranslate_gateway.api.problems import problem_responses
from livetranslate_gateway.api.routes.sessions import SessionId

router = APIRouter(
    prefix="/api/analytics",
    tags=["analytics"],
    dependencies=[Depends(require_key)],
    responses=problem_responses(401, 413, 422, 429, 500, 503),
)

# A range longer than this is refused before asking (31 days of hourly windows: 744 rows).
MAX_RANGE = timedelta(days=31)
DEFAULT_RANGE = timedelta(hours=24)

Answer = TypeVar("Answer", bound=BaseModel)


def _analytics(request: Request) -> AnalyticsClient:
    client: AnalyticsClient = request.app.state.analytics
    return client


AnalyticsDep = Annotated[AnalyticsClient, Depends(_analytics)]


class SpeakerFigures(BaseModel):
    speaker: str | None = Field(description="Speaker label; null for unattributed speech")
    talk_time_ms: int
    talk_share: float | None = Field(description="Share of all talk time, 0..1")
    words: int
    words_per_minute: float | None = Field(description="Words per minute of this talk time")
    final_segments: int


class LatencyPercentiles(BaseModel):
    finals_measured: int = Field(description="Finals of live sources with a measured latency")
    p50: int | None
    p95: int | None
    p99: int | None


class Figures(BaseModel):
    final_segments: int = 0
    words: int = 0
    talk_time_ms: int = 0
    words_per_minute: float | None = None
    speakers: list[SpeakerFigures] = Field(default_factory=list)
    latency_ms: LatencyPercentiles = Field(
        default_factory=lambda: LatencyPercentiles(finals_measured=0, p50=None, p95=None, p99=None)
    )


class WindowFigures(Figures):
    start: datetime
    end: datetime


class HourFigures(WindowFigures):
    sessions: int = Field(description="Sessions with final segments in this window")


class SessionAnalytics(Figures):
    model_config = ConfigDict(json_schema_extra=examples(SESSION_ANALYTICS))

    session_id: str
    window_s: int | None = Field(default=None, description="Length of each window, seconds")
    windows: list[WindowFigures] = Field(default_factory=list)


class HourlyAnalytics(BaseModel):
    model_config = ConfigDict(populate_by_name=True, json_schema_extra=examples(HOURLY_ANALYTICS))

    from_: datetime = Field(alias="from")
    to: datetime
    window_s: int
    windows: list[HourFigures]
    total: Figures


@router.get(
    "/sessions/{session_id}",
    response_model=SessionAnalytics,
    responses=problem_responses(404),
)
async def session_analytics(
    session_id: SessionId, request: Request, principal: PrincipalDep, analytics: AnalyticsDep
) -> SessionAnalytics:
    """The session's live-run figures, whole and window by window; zeros until a final is
    counted."""
    # Not ConnectionDep: the connection goes back to the pool before the analytics are asked.
    async with request.app.state.db_pool.connection() as conn:
        await owned_session(conn, session_id, principal)
    body = await analytics.session(session_id)
    if body is None:
        return SessionAnalytics(session_id=session_id)
    return _validated(SessionAnalytics, body)


@router.get(
    "/hours",
    response_model=HourlyAnalytics,
    responses=problem_responses(403),
    dependencies=[Depends(require_operator)],
)
async def hourly_analytics(
    analytics: AnalyticsDep,
    since: Annotated[
        AwareDatetime | None,
        Query(alias="from", description="Start (ISO 8601 with a zone); default: 24 h before to"),
    ] = None,
    until: Annotated[
        AwareDatetime | None, Query(alias="to", description="End (ISO 8601 with a zone); now")
    ] = None,
) -> HourlyAnalytics:
    """Every session's figures per hour (the windows overlapping the range) and in total, across
    tenants: for operators' keys only."""
    until = until or datetime.now(UTC)
    if since is None:
        try:
            since = until - DEFAULT_RANGE
        except OverflowError:  # 'to' within a day of year 1: no default start before it
            msg = "'to' is too early for the default range; give 'from'"
            raise AnalyticsRangeError(msg) from None
    if until <= since:
        raise AnalyticsRangeError("'to' must be after 'from'")
    if until - since > MAX_RANGE:
        raise AnalyticsRangeError(f"a range spans {MAX_RANGE.days} days at most")
    return _validated(HourlyAnalytics, await analytics.hours(since, until))


def _validated(model: type[Answer], body: dict[str, object]) -> Answer:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise AnalyticsUnavailableError(
            f"the analytics service gave an answer of another shape ({exc.error_count()} errors)"
        ) from exc

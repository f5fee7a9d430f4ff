"""The monitoring service's analytics, asked over HTTP (its Faust workers' web API).

Any analytics worker answers (it asks the one owning the session itself), so the URL may point
at a load balancer or Kubernetes Service in front of them. Every call is bounded by a timeout;
an analytics service that cannot answer is a 503 to the client, never a hung request.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import httpx

from livetranslate_gateway.core.errors import GatewayError

log = logging.getLogger(__name__)


class AnalyticsUnavailableError(GatewayError):
    status_code = 503
    code = "analytics_unavailable"


class AnalyticsRangeError(GatewayError):
    status_code = 422
    code = "invalid_time_range"


class AnalyticsClient:
    def __init__(self, url: str, *, timeout_s: float) -> None:
        self._client = httpx.AsyncClient(base_url=url.rstrip("/"), timeout=httpx.Timeout(timeout_s))

    async def close(self) -> None:
        await self._client.aclose()

    async def session(self, session_id: str) -> dict[str, Any] | None:
        """The session's figures, or None when the analytics counted nothing of it."""
        status, body = await self._get(f"/analytics/sessions/{session_id}")
        if status == 404:
            return None
        return self._checked(status, body)

    async def hours(self, since: datetime, until: datetime) -> dict[str, Any]:
        params = {"from": since.isoformat(), "to": until.isoformat()}
        status, body = await self._get("/analytics/hours", params=params)
        if status == 400:
            # The range passed the gateway's checks but not the analytics' (its retention).
            raise AnalyticsRangeError(str(body.get("detail", body)))
        return self._checked(status, body)

    async def _get(self, path: str, params: dict[str, str] | None = None) -> tuple[int, Any]:
        try:
            response = await self._client.get(path, params=params)
            return response.status_code, response.json()
        except httpx.HTTPError as exc:
            log.warning("analytics unreachable at %s%s: %r", self._client.base_url, path, exc)
            raise AnalyticsUnavailableError(
                f"the analytics service did not answer ({type(exc).__name__})"
            ) from exc
        except ValueError as exc:
            raise AnalyticsUnavailableError("the analytics service answered with no JSON") from exc

    @staticmethod
    def _checked(status: int, body: Any) -> dict[str, Any]:
        if status != 200 or not isinstance(body, dict):
            detail = body.get("detail") if isinstance(body, dict) else None
            raise AnalyticsUnavailableError(
                f"the analytics service answered {status}: {detail or 'no figures'}"
            )
        return body

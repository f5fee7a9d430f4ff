"""The FastAPI application: wiring adapters at start-up, mapping errors to answers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from livetranslate_common.db import open_pool
from livetranslate_common.envelope import new_trace_id
from livetranslate_common.log import log_context
from livetranslate_common.readmodel.migrate import apply_migrations
from livetranslate_common.settings import DatabaseSettings, KafkaSettings
from livetranslate_gateway.adapters.analytics_client import AnalyticsClient
from livetranslate_gateway.adapters.api_keys import ApiKeys
from livetranslate_gateway.adapters.event_publisher import EventPublisher
from livetranslate_gateway.adapters.metrics import GatewayStats, MetricsServer
from livetranslate_gateway.adapters.result_fanout import ResultFanout
from livetranslate_gateway.adapters.result_history import ResultHistory
from livetranslate_gateway.adapters.stream_leases import StreamLeases
from livetranslate_gateway.adapters.translation_targets import TranslationTargetChanges
from livetranslate_gateway.adapters.unfinished_streams import UnfinishedStreams
from livetranslate_gateway.api.body_limits import BodyLimit, is_audio_upload
from livetranslate_gateway.api.problems import (
    install_problem_handlers,
    problems_in_openapi,
    server_error_response,
)
from livetranslate_gateway.api.routes import (
    analytics,
    health,
    live_audio,
    protocol,
    results_ws,
    runs,
    sessions,
    speakers,
    translation_targets,
    web,
)
from livetranslate_gateway.config import GatewaySettings
from livetranslate_gateway.core.rate_limits import RateLimits
from livetranslate_gateway.core.tracing import trace_id_from_traceparent


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: GatewaySettings = app.state.settings
    kafka = KafkaSettings()
    async with AsyncExitStack() as stack:
        app.state.db_pool = await open_pool()
        stack.push_async_callback(app.state.db_pool.close)
        async with app.state.db_pool.connection() as conn:
            await apply_migrations(conn)
        app.state.api_keys = ApiKeys(app.state.db_pool, cache_s=settings.api_key_cache_s)
        app.state.translation_targets = TranslationTargetChanges(DatabaseSettings().url)
        await app.state.translation_targets.start()
        stack.push_async_callback(app.state.translation_targets.stop)
        app.state.publisher = EventPublisher(kafka)
        await app.state.publisher.start()
        stack.push_async_callback(app.state.publisher.stop)
        # Stopped before the publisher it uses.
        app.state.unfinished_streams = UnfinishedStreams(
            app.state.publisher,
            app.state.db_pool,
            give_up_after_s=settings.live_end_retry_s,
        )
        stack.push_async_callback(app.state.unfinished_streams.stop)
        app.state.stream_leases = StreamLeases(
            app.state.db_pool,
            app.state.publisher,
            app.state.unfinished_streams,
            lease_s=settings.live_lease_s,
        )
        await app.state.stream_leases.start()
        stack.push_async_callback(app.state.stream_leases.stop)
        app.state.result_history = ResultHistory(kafka)
        app.state.fanout = ResultFanout(
            kafka, queue_size=settings.subscriber_queue_size, stats=app.state.stats
        )
        await app.state.fanout.start()
        stack.push_async_callback(app.state.fanout.stop)
        if settings.metrics_port:
            metrics = MetricsServer(
                app.state.stats,
                gauges={
                    "live_streams": (
                        "Live audio streams open on this instance.",
                        lambda: len(app.state.live_streams),
                    ),
                    "result_subscriptions": (
                        "WebSockets receiving a session's results from this instance.",
                        app.state.fanout.subscription_count,
                    ),
                    "unfinished_streams": (
                        "Live streams whose end waits for Kafka to come back.",
                        lambda: len(app.state.unfinished_streams.sessions()),
                    ),
                },
            )
            await metrics.start(settings.host, settings.metrics_port)
            stack.push_async_callback(metrics.stop)
            app.state.metrics = metrics
        app.state.analytics = AnalyticsClient(
            settings.analytics_url, timeout_s=settings.analytics_timeout_s
        )
        stack.push_async_callback(app.state.analytics.close)
        yield


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    app = FastAPI(
        title="LiveTranslate gateway",
        version="0.1.0",
        description="Create sessions, send their audio, receive transcripts live.",
        lifespan=lifespan,
    )
    app.state.settings = settings or GatewaySettings()
    # Sessions with a live audio stream open on this instance (one stream per session).
    app.state.live_streams = set()
    app.state.stats = GatewayStats()

    app.state.rate_limits = RateLimits(app.state.settings.rate_limit)
    install_problem_handlers(app)
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        return problems_in_openapi(default_openapi())

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(BodyLimit, limit=app.state.settings.max_body_bytes, exempt=is_audio_upload)

    @app.middleware("http")
    async def trace_requests(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        # W3C trace context: join the caller's trace if it sent one, else start one. Every
        # event this request publishes and every log line it writes carries the trace id.
        trace_id = trace_id_from_traceparent(request.headers.get("traceparent")) or new_trace_id()
        with log_context(trace_id=trace_id):
            try:
                response = await call_next(request)
            except Exception as error:  # any failure answers 500; the log has the cause
                response = server_error_response(request, error)
        response.headers["x-trace-id"] = trace_id
        return response

    app.include_router(health.router)
    app.include_router(sessions.router)
    app.include_router(runs.router)
    app.include_router(speakers.router)
    app.include_router(translation_targets.router)
    app.include_router(results_ws.router)
    app.include_router(live_audio.router)
    app.include_router(protocol.router)
    app.include_router(analytics.router)
    app.include_router(web.router)
    return app

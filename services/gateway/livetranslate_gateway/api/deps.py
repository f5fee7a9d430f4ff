"""Typed dependencies for the routes: the wired adapters live on ``app.state``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import psycopg
from fastapi import Depends, Request

from livetranslate_gateway.adapters.event_publisher import EventPublisher
from livetranslate_gateway.config import GatewaySettings


def _settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


def _publisher(request: Request) -> EventPublisher:
    publisher: EventPublisher = request.app.state.publisher
    return publisher


async def _connection(request: Request) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    async with request.app.state.db_pool.connection() as conn:
        yield conn


SettingsDep = Annotated[GatewaySettings, Depends(_settings)]
PublisherDep = Annotated[EventPublisher, Depends(_publisher)]
ConnectionDep = Annotated[psycopg.AsyncConnection[Any], Depends(_connection)]

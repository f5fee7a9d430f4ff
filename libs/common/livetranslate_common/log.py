"""Structured logs that carry the trace: one JSON object per line, or plain text for people.

A request or event sets ``trace_id`` (and ``session_id``) in a context variable with
``log_context``; every log line written inside carries them, so one trace can be followed
from the gateway through Kafka into the pipeline. ``LOG_FORMAT=text`` switches to a
readable format, ``LOG_LEVEL`` sets the level.
"""

from __future__ import annotations

import json
import logging
import logging.config
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

trace_id_var: ContextVar[str | None] = ContextVar("trace_id", default=None)
session_id_var: ContextVar[str | None] = ContextVar("session_id", default=None)

_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [trace=%(trace_id)s] %(message)s"


@contextmanager
def log_context(*, trace_id: str | None = None, session_id: str | None = None) -> Iterator[None]:
    trace_token = trace_id_var.set(trace_id)
    session_token = session_id_var.set(session_id)
    try:
        yield
    finally:
        trace_id_var.reset(trace_token)
        session_id_var.reset(session_token)


class TraceContextFilter(logging.Filter):
    """Puts the current trace and session on every record (as attributes)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.trace_id = trace_id_var.get()
        record.session_id = session_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str = "livetranslate") -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("trace_id", "session_id"):
            value = getattr(record, key, None)
            if value:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def logging_config(service: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for a service (Faust takes it as ``logging_config``)."""
    text = os.environ.get("LOG_FORMAT", "json").lower() == "text"
    formatter: dict[str, Any] = (
        {"format": _TEXT_FORMAT}
        if text
        else {"()": f"{__name__}.JsonFormatter", "service": service}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"trace": {"()": f"{__name__}.TraceContextFilter"}},
        "formatters": {"default": formatter},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["trace"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": os.environ.get("LOG_LEVEL", "INFO").upper(), "handlers": ["default"]},
        # Libraries that log every request or heartbeat at INFO.
        "loggers": {
            "aiokafka": {"level": "WARNING"},
            "uvicorn.access": {"level": "WARNING"},
        },
    }


def configure_logging(service: str) -> None:
    logging.config.dictConfig(logging_config(service))

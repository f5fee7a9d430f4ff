"""The gateway served by uvicorn in a thread, for tests that need real sockets."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import uvicorn

from livetranslate_common.devstack.processes import free_port
from livetranslate_gateway.config import GatewaySettings
from livetranslate_gateway.main import create_app


@contextlib.contextmanager
def served_gateway(settings: GatewaySettings) -> Iterator[str]:
    """The gateway's base URL while it runs: real TCP, so real back-pressure."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive(), "the gateway did not start"
        assert time.monotonic() < deadline, "the gateway did not start in time"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)

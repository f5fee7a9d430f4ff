"""``python -m livetranslate_gateway``: serve the gateway with uvicorn."""

from __future__ import annotations

import uvicorn

from livetranslate_gateway.config import GatewaySettings
from livetranslate_gateway.main import create_app


def main() -> None:
    settings = GatewaySettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


if __name__ == "__main__":
    main()

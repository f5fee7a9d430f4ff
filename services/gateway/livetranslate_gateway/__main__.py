"""``python -m livetranslate_gateway``: serve the gateway with uvicorn."""

from __future__ import annotations

import uvicorn

from livetranslate_common.log import configure_logging
from livetranslate_gateway.config import GatewaySettings
from livetranslate_gateway.main import create_app


def main() -> None:
    configure_logging("gateway")
    settings = GatewaySettings()
    # log_config=None: uvicorn keeps the structured logging configured above.
    # No permessage-deflate on the sockets: speech PCM deflates only to about two thirds,
    # while inflating it took a tenth of a busy gateway's CPU (and compressing, the
    # clients'). Clients that offer it simply go without.
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        ws_per_message_deflate=False,
    )


if __name__ == "__main__":
    main()

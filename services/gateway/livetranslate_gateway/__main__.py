"""``python -m livetranslate_gateway``: serve the gateway with uvicorn."""

from __future__ import annotations

import gc

import uvicorn

from livetranslate_common.log import configure_logging
from livetranslate_gateway.config import GatewaySettings
from livetranslate_gateway.main import create_app


def main() -> None:
    configure_logging("gateway")
    settings = GatewaySettings()
    app = create_app(settings)
    tune_garbage_collection()
    # log_config=None: uvicorn keeps the structured logging configured above.
    # No permessage-deflate on the sockets: speech PCM deflates only to about two thirds,
    # while inflating it took a tenth of a busy gateway's CPU (and compressing, the
    # clients'). Clients that offer it simply go without.
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        ws_per_message_deflate=False,
    )


#: Container allocations between young-generation collections (CPython's default is 700).
GC_YOUNG_THRESHOLD = 50_000


def tune_garbage_collection() -> None:
    """Collect cycles less often, and never look at what start-up loaded again.

    A live gateway allocates a few dozen short-lived containers per audio frame, nearly all
    freed by reference counting; at CPython's default thresholds the collector still ran
    hundreds of times a second over every open connection's objects: 12% of a gateway
    holding 1,000 live sockets (py-spy). Frozen, the modules and the app are out of every
    collection; the higher young threshold makes collections rarer, not bigger (each scans
    what is alive then: the working set).
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


if __name__ == "__main__":
    main()

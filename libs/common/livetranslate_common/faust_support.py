"""Small helpers every Faust app of the project needs."""

from __future__ import annotations

from functools import cached_property

import faust
from mode.utils.queues import FlowControlEvent


def broker_urls(bootstrap_servers: str) -> list[str]:
    """``host1:9092,host2:9092`` (the Kafka convention) to Faust's ``kafka://`` URL list."""
    servers = [server.strip() for server in bootstrap_servers.split(",") if server.strip()]
    if not servers:
        raise ValueError("KAFKA_BOOTSTRAP_SERVERS is empty")
    return [server if "://" in server else f"kafka://{server}" for server in servers]


class _FlowControl(FlowControlEvent):
    """Faust's flow control, except that resuming keeps what the streams have queued.

    Faust clears the stream queues twice around a rebalance: when partitions are revoked
    (after suspending flow, so stale records go) and again when flow resumes. By the second
    clear, recovery has already resumed and sought the stream partitions, so the queues hold
    records fetched for the new assignment: dropping them loses them, unprocessed and
    unacknowledged (seen in the worker-kill test: after a restart the agent processed a few
    records, then the next dozens vanished and the committed offset stopped moving). A record
    that is stale all the same is still skipped by the stream's generation check.
    """

    _resuming = False

    def resume(self) -> None:
        self._resuming = True
        try:
            super().resume()
        finally:
            self._resuming = False

    def clear(self) -> None:
        if not self._resuming:
            super().clear()


class RecoveringApp(faust.App):
    """A Faust app that keeps the records fetched while its recovery completes."""

    @cached_property
    def flow_control(self) -> FlowControlEvent:
        return _FlowControl(loop=self.loop)

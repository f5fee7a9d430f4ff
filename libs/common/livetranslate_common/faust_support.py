"""Small helpers every Faust app of the project needs."""

from __future__ import annotations


def broker_urls(bootstrap_servers: str) -> list[str]:
    """``host1:9092,host2:9092`` (the Kafka convention) to Faust's ``kafka://`` URL list."""
    servers = [server.strip() for server in bootstrap_servers.split(",") if server.strip()]
    if not servers:
        raise ValueError("KAFKA_BOOTSTRAP_SERVERS is empty")
    return [server if "://" in server else f"kafka://{server}" for server in servers]

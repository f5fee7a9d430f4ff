"""Settings shared by every service, read from the environment.

``KAFKA_BOOTSTRAP_SERVERS`` and ``DATABASE_URL`` point a service at existing infrastructure
(docker-compose, Helm); without them, the defaults point at the local stack that
``livetranslate-stack up`` starts.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_KAFKA_PORT = 19092
LOCAL_POSTGRES_PORT = 15432
LOCAL_DATABASE_URL = (
    f"postgresql://livetranslate:livetranslate@127.0.0.1:{LOCAL_POSTGRES_PORT}/livetranslate"
)


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    bootstrap_servers: str = Field(
        default=f"127.0.0.1:{LOCAL_KAFKA_PORT}", validation_alias="KAFKA_BOOTSTRAP_SERVERS"
    )
    # Prefixes every topic name: lets tests (and several deployments) share one cluster.
    topic_prefix: str = Field(default="", validation_alias="LIVETRANSLATE_TOPIC_PREFIX")

    # Replicas of topics services create themselves (Faust changelogs): 1 on a one-broker
    # stack, 3 on a real cluster.
    replication_factor: int = Field(default=1, validation_alias="KAFKA_REPLICATION_FACTOR")

    def topic(self, base_name: str) -> str:
        return f"{self.topic_prefix}{base_name}"


class DatabaseSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    url: str = Field(default=LOCAL_DATABASE_URL, validation_alias="DATABASE_URL")
    pool_min_size: int = Field(default=1, validation_alias="DATABASE_POOL_MIN_SIZE")
    pool_max_size: int = Field(default=10, validation_alias="DATABASE_POOL_MAX_SIZE")

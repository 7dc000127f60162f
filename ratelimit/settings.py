"""Rate-limit service settings, read from the environment (CHAOSGW_RATELIMIT_*) at start."""

import os
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHAOSGW_RATELIMIT_", extra="ignore")

    grpc_host: str = "127.0.0.1"
    grpc_port: int = Field(
        default=18100,
        ge=1,
        le=65535,
        description="Port of process 0; process i serves gRPC on grpc_port + i.",
    )
    http_port: int = Field(
        default=18200,
        ge=1,
        le=65535,
        description="/livez, /readyz, /metrics of process 0; process i on http_port + i.",
    )
    processes: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        le=256,
        description="Service processes, one per core by default, each on its own ports.",
    )
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_cluster: bool = Field(
        default=False, description="redis_url names one node of a Redis Cluster."
    )
    redis_timeout_seconds: float = Field(
        default=0.05,
        gt=0,
        le=1,
        description="Longest wait for Redis: well inside Envoy's ~100 ms rate-limit timeout.",
    )
    key_prefix: str = Field(
        default="chaosgw:rl",
        pattern=r"^[^{}]+$",
        description="Prefix of every counter key in Redis (no braces: keys carry a hash tag).",
    )
    xds_address: str = Field(
        default="127.0.0.1:18000", description="HOST:PORT of the control plane's ADS server."
    )
    node_id: str = Field(
        default="", description="ADS node id prefix (default: ratelimit-<host>); -<index> added."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    def grpc_port_of(self, index: int) -> int:
        return self.grpc_port + index

    def http_port_of(self, index: int) -> int:
        return self.http_port + index

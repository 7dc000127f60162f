"""Rate-limit service settings, read from the environment (CHAOSGW_RATELIMIT_*) at start."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from serviceprocess.settings import GRPC_PORT, HTTP_PORT, ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CHAOSGW_RATELIMIT_", extra="ignore")

    grpc_port: int = Field(default=18100, ge=1, le=65535, description=GRPC_PORT)
    http_port: int = Field(default=18200, ge=1, le=65535, description=HTTP_PORT)
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

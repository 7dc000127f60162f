"""Auth service settings, read from the environment (CHAOSGW_EXTAUTHZ_*) at start."""

import os
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from controlplane.model.auth_api_keys import MIN_SECRET_LENGTH


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHAOSGW_EXTAUTHZ_", extra="ignore")

    grpc_host: str = "127.0.0.1"
    grpc_port: int = Field(
        default=18300,
        ge=1,
        le=65535,
        description="Port of process 0; process i serves gRPC on grpc_port + i.",
    )
    http_port: int = Field(
        default=18400,
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
    api_key_secret: SecretStr = Field(
        default=SecretStr(""),
        validate_default=True,
        validation_alias="CHAOSGW_API_KEY_SECRET",
        description="The HMAC key API keys are hashed with: the control plane's own.",
    )
    xds_address: str = Field(
        default="127.0.0.1:18000", description="HOST:PORT of the control plane's ADS server."
    )
    node_id: str = Field(
        default="", description="ADS node id prefix (default: extauthz-<host>); -<index> added."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("api_key_secret")
    @classmethod
    def _long_enough(cls, secret: SecretStr) -> SecretStr:
        if len(secret.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"CHAOSGW_API_KEY_SECRET must be at least {MIN_SECRET_LENGTH} characters, and "
                "the control plane's"
            )
        return secret

    def grpc_port_of(self, index: int) -> int:
        return self.grpc_port + index

    def http_port_of(self, index: int) -> int:
        return self.http_port + index

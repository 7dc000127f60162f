"""Control-plane settings, read from the environment and validated at start."""

from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from controlplane.model.auth_api_keys import MIN_SECRET_LENGTH
from sessionstore.layout import DEFAULT_PREFIX, DEFAULT_URL

DEFAULT_DATABASE_URL = f"sqlite:///{Path('var/chaosgw.db').resolve()}"
MIN_ADMIN_TOKEN_LENGTH = 24


class DatabaseSettings(BaseSettings):
    """What `chaosgw migrate` needs: the database alone, no admin token."""

    model_config = SettingsConfigDict(env_prefix="CHAOSGW_", extra="ignore")

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        validation_alias="DATABASE_URL",
        description="SQLAlchemy URL: a SQLite file by default, postgresql+psycopg://... in prod.",
    )


class Settings(DatabaseSettings):
    mode: Literal["development", "production"] = Field(
        default="production",
        description="development allows an empty admin token; production refuses insecure ones.",
    )
    admin_token: SecretStr = Field(
        default=SecretStr(""), description="Bearer token of the admin API."
    )
    migrate_on_start: bool | None = Field(
        default=None,
        description="Run the database migrations when the control plane starts. Default: true "
        "in development mode; false in production, where `chaosgw migrate` runs once before "
        "the replicas start and a control plane refuses a schema older than its release.",
    )
    admin_host: str = "127.0.0.1"
    admin_port: int = Field(default=8080, ge=0, le=65535)
    xds_host: str = "127.0.0.1"
    xds_port: int = Field(default=18000, ge=0, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    revision_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often to look for changes written by other control-plane replicas.",
    )
    ack_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How long a push waits for a node to ACK one resource type before the next.",
    )

    ratelimit_endpoints: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="host:port of each rate-limit service process, comma-separated. Empty: no "
        "rate-limit service, so global rate-limit policies are refused (local ones still work).",
    )
    ratelimit_timeout_seconds: float = Field(
        default=0.1, gt=0, le=10, description="How long Envoy waits for a rate-limit decision."
    )
    ratelimit_failure_mode_deny: bool = Field(
        default=False,
        description="When the rate-limit service fails or is too slow: false admits the request, "
        "true refuses it (429).",
    )

    extauthz_endpoints: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="host:port of each auth service (extauthz) process, comma-separated. Empty: "
        "no auth service, so routes needing it (API keys) are refused.",
    )
    extauthz_timeout_seconds: float = Field(
        default=0.2, gt=0, le=10, description="How long Envoy waits for an auth decision."
    )
    api_key_secret: SecretStr = Field(
        default=SecretStr(""),
        validation_alias="CHAOSGW_API_KEY_SECRET",
        description="Key of the HMAC that API keys are stored under; the auth service has the "
        f"same. At least {MIN_SECRET_LENGTH} characters outside development mode.",
    )

    sessions_redis_url: str = Field(
        default=DEFAULT_URL,
        description="Redis of the server-side sessions (the auth service reads the same one).",
    )
    sessions_key_prefix: str = Field(
        default=DEFAULT_PREFIX,
        min_length=1,
        description="Prefix of the sessions' Redis keys; the auth service's must be the same.",
    )

    def migrates_on_start(self) -> bool:
        if self.migrate_on_start is None:
            return self.mode == "development"
        return self.migrate_on_start

    @field_validator("ratelimit_endpoints", "extauthz_endpoints", mode="before")
    @classmethod
    def _split_endpoints(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("ratelimit_endpoints", "extauthz_endpoints")
    @classmethod
    def _check_endpoints(cls, endpoints: list[str], info: ValidationInfo) -> list[str]:
        variable = f"CHAOSGW_{(info.field_name or '').upper()}"
        for endpoint in endpoints:
            host, _, port = endpoint.rpartition(":")
            if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
                raise ValueError(f"{variable}: endpoint {endpoint!r} is not host:port")
        if len(set(endpoints)) != len(endpoints):
            raise ValueError(f"{variable} lists an endpoint twice")
        return endpoints

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Self:
        if self.mode == "production":
            token = self.admin_token.get_secret_value()
            if len(token) < MIN_ADMIN_TOKEN_LENGTH:
                raise ValueError(
                    "CHAOSGW_ADMIN_TOKEN must be set to a random secret of at least "
                    f"{MIN_ADMIN_TOKEN_LENGTH} characters outside development mode "
                    "(or set CHAOSGW_MODE=development on a workstation)"
                )
            if len(self.api_key_secret.get_secret_value()) < MIN_SECRET_LENGTH:
                raise ValueError(
                    "CHAOSGW_API_KEY_SECRET must be set to a random secret of at least "
                    f"{MIN_SECRET_LENGTH} characters outside development mode"
                )
        return self

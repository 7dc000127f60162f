"""Auth service settings, read from the environment (CHAOSGW_EXTAUTHZ_*) at start."""

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from controlplane.model.auth_api_keys import MIN_SECRET_LENGTH
from serviceprocess.settings import GRPC_PORT, HTTP_PORT, ServiceSettings
from sessionstore.layout import DEFAULT_PREFIX, DEFAULT_URL


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CHAOSGW_EXTAUTHZ_", extra="ignore")

    grpc_port: int = Field(default=18300, ge=1, le=65535, description=GRPC_PORT)
    http_port: int = Field(default=18400, ge=1, le=65535, description=HTTP_PORT)
    api_key_secret: SecretStr = Field(
        default=SecretStr(""),
        validate_default=True,
        validation_alias="CHAOSGW_API_KEY_SECRET",
        description="The HMAC key API keys are hashed with: the control plane's own.",
    )
    introspection_cache_size: int = Field(
        default=100_000,
        ge=1,
        le=10_000_000,
        description="How many introspected tokens each process keeps the answer of.",
    )

    security_event_threshold: int = Field(
        default=20,
        ge=1,
        le=10000,
        description="Auth denials from one client address within the window that make a "
        "security event (logged once per window per address).",
    )
    security_event_window_seconds: float = Field(
        default=60.0, gt=0, le=86400, description="The sliding window of that count."
    )
    security_event_max_sources: int = Field(
        default=10000,
        ge=1,
        le=1_000_000,
        description="Client addresses followed at most per process (least recently denied "
        "ones are forgotten first): bounds the detector's memory.",
    )
    redis_url: str = Field(
        default=DEFAULT_URL,
        description="Redis of the server-side sessions: the control plane's "
        "CHAOSGW_SESSIONS_REDIS_URL.",
    )
    redis_timeout_seconds: float = Field(
        default=0.1,
        gt=0,
        le=10,
        description="How long a session check waits for Redis before refusing (503); below "
        "Envoy's wait for the service, so the caller hears why.",
    )
    sessions_key_prefix: str = Field(
        default=DEFAULT_PREFIX,
        min_length=1,
        validation_alias="CHAOSGW_SESSIONS_KEY_PREFIX",
        description="Prefix of the sessions' Redis keys: the control plane's own.",
    )

    @field_validator("api_key_secret")
    @classmethod
    def _long_enough(cls, secret: SecretStr) -> SecretStr:
        if len(secret.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"CHAOSGW_API_KEY_SECRET must be at least {MIN_SECRET_LENGTH} characters, and "
                "the control plane's"
            )
        return secret

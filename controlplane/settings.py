"""Control-plane settings, read from the environment and validated at start."""

import ipaddress
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from controlplane.model.auth_api_keys import MIN_SECRET_LENGTH
from sessionstore.layout import DEFAULT_PREFIX, DEFAULT_URL
from tlsfiles.directory import TlsDirectory, TlsDirectoryError

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
    xds_tls_dir: Path | None = Field(
        default=None,
        description="Directory of the xDS server's ca.crt, tls.crt, tls.key: clients must present "
        "a certificate of that CA, and its SAN names the node group they may read.",
    )
    xds_plaintext_reason: str = Field(
        default="",
        description="Why xDS may be served without TLS outside development on loopback (e.g. a "
        "service mesh encrypts it). Without it, such a control plane refuses to start.",
    )
    admin_tls_dir: Path | None = Field(
        default=None,
        description="Directory of the admin API's ca.crt, tls.crt, tls.key: HTTPS, and client "
        "certificates verified against ca.crt when presented.",
    )
    admin_client_cert_required: bool = Field(
        default=False,
        description="With CHAOSGW_ADMIN_TLS_DIR: refuse admin clients without a certificate.",
    )
    envoy_tls_dir: str = Field(
        default="",
        description="Absolute path where Envoys mount their client ca.crt, tls.crt, tls.key: "
        "Envoy reaches extauthz and ratelimit over mTLS with them (the control plane sends "
        "the file names, never the keys). Empty: plaintext to the services.",
    )
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

    @field_validator("xds_tls_dir", "admin_tls_dir")
    @classmethod
    def _check_tls_dir(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        if path is not None:
            try:
                TlsDirectory(path)
            except TlsDirectoryError as error:
                raise ValueError(f"CHAOSGW_{(info.field_name or '').upper()}: {error}") from None
        return path

    @field_validator("envoy_tls_dir")
    @classmethod
    def _check_envoy_tls_dir(cls, path: str) -> str:
        # Read by Envoy on its own machine or pod, not here: only its form can be checked.
        if path and not path.startswith("/"):
            raise ValueError("CHAOSGW_ENVOY_TLS_DIR must be an absolute path")
        return path.rstrip("/")

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

    @model_validator(mode="after")
    def _refuse_plaintext_xds(self) -> Self:
        if self.xds_tls_dir is not None or self.xds_plaintext_reason.strip():
            return self
        if self.mode == "production":
            raise ValueError(
                "xDS serves TLS keys and client secrets: set CHAOSGW_XDS_TLS_DIR to the "
                "directory of its ca.crt, tls.crt, tls.key (`chaosgw certs generate` makes "
                "them), or CHAOSGW_XDS_PLAINTEXT_REASON to why plaintext is acceptable"
            )
        if not _is_loopback(self.xds_host):
            raise ValueError(
                f"plaintext xDS on {self.xds_host}: development mode serves plaintext on loopback "
                "only; set CHAOSGW_XDS_TLS_DIR, or CHAOSGW_XDS_PLAINTEXT_REASON to say why"
            )
        return self


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False

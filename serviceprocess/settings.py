"""What every service process reads from the environment: where it serves, how many processes
run, and where the control plane is. Each service subclasses it with its env prefix, its own
settings and the defaults of its two port fields."""

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings

from serviceprocess.cpus import available_cpus
from tlsfiles.directory import TlsDirectory

GRPC_PORT = "Port of process 0; process i serves gRPC on grpc_port + i."
HTTP_PORT = "/livez, /readyz, /metrics of process 0; process i on http_port + i."


class ServiceSettings(BaseSettings):
    grpc_host: str = "127.0.0.1"
    grpc_port: int = Field(ge=1, le=65535, description=GRPC_PORT)
    http_port: int = Field(ge=1, le=65535, description=HTTP_PORT)
    processes: int = Field(
        default_factory=lambda: available_cpus(),
        ge=1,
        le=256,
        description="Service processes, each on its own ports. Default: one per CPU of the "
        "container's CPU limit (cgroup cpu.max or CFS quota, rounded up), else one per core.",
    )
    xds_address: str = Field(
        default="127.0.0.1:18000", description="HOST:PORT of the control plane's ADS server."
    )
    node_id: str = Field(
        default="", description="ADS node id prefix (default: <service>-<host>); -<index> added."
    )
    tls_dir: Path | None = Field(
        default=None,
        description="Directory of the service's ca.crt, tls.crt, tls.key (its service identity "
        "certificate): its ADS subscription uses mTLS with them. None: plaintext xDS.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    def tls_directory(self) -> TlsDirectory | None:
        return None if self.tls_dir is None else TlsDirectory(self.tls_dir)

    def grpc_port_of(self, index: int) -> int:
        return self.grpc_port + index

    def http_port_of(self, index: int) -> int:
        return self.http_port + index

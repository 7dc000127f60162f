"""Listeners: where Envoy accepts client connections."""

from pydantic import Field

from controlplane.model.common import IPAddress, Name, Port, Spec, TimeoutSeconds
from controlplane.model.edge import (
    ClientIps,
    Compression,
    CorsPolicy,
    PathNormalization,
    RequestLimits,
    SecurityHeaders,
)
from controlplane.model.tls import ListenerTls
from controlplane.model.transforms import Transform


class ListenerSpec(Spec):
    name: Name
    address: IPAddress = Field(default="0.0.0.0", description="Address Envoy binds.")
    port: Port
    node_group: Name = Field(
        default="default",
        description="Envoy node group (the node's `cluster` field) that serves this listener.",
    )
    http2: bool = Field(default=True, description="Accept HTTP/2 (h2c and ALPN) besides HTTP/1.1.")
    tls: ListenerTls | None = Field(default=None, description="Terminate TLS (HTTPS).")
    limits: RequestLimits = RequestLimits()
    paths: PathNormalization = PathNormalization()
    grpc_web: bool = Field(default=False, description="Translate gRPC-Web from browsers to gRPC.")
    compression: Compression | None = None
    # Policies for every route of the listener. A route's own CORS and client IPs replace these,
    # its security headers override these per header, its transform applies after this one.
    # They travel in the route configuration (RDS): changing them never drains the listener.
    transform: Transform | None = None
    cors: CorsPolicy | None = None
    security_headers: SecurityHeaders | None = None
    client_ips: ClientIps | None = None
    # Timeouts of every request and stream of the listener; a route's idle_timeout_seconds
    # (or its service's idle_seconds) replaces the stream idle timeout for that route.
    stream_idle_timeout_seconds: TimeoutSeconds = Field(
        default=300.0,
        ge=0,
        le=86400,
        description="A request or stream with no bytes either way for this long is closed "
        "(a request still waiting for its answer gets 504); every WebSocket message or gRPC "
        "frame starts it again. 0: never. Routes replace it with their idle_timeout_seconds.",
    )
    request_timeout_seconds: TimeoutSeconds = Field(
        default=0.0,
        ge=0,
        le=86400,
        description="How long a client may take to send a whole request, headers and body, "
        "unless the answer starts first (408): a guard against slow clients. 0: off. It stops "
        "at a WebSocket's or gRPC stream's answer headers, but would cut a client stream "
        "answered only at its end.",
    )
    trusted_proxy_hops: int = Field(
        default=0,
        ge=0,
        le=10,
        description="Proxies in front of Envoy whose X-Forwarded-For entries are trusted: the "
        "client address (what rate limits count as 'ip') is the one this many hops back.",
    )

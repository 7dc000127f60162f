"""Listeners: where Envoy accepts client connections."""

from pydantic import Field

from controlplane.model.common import IPAddress, Name, Port, Spec


class ListenerSpec(Spec):
    name: Name
    address: IPAddress = Field(default="0.0.0.0", description="Address Envoy binds.")
    port: Port
    node_group: Name = Field(
        default="default",
        description="Envoy node group (the node's `cluster` field) that serves this listener.",
    )
    http2: bool = Field(default=True, description="Accept HTTP/2 (h2c and ALPN) besides HTTP/1.1.")
    trusted_proxy_hops: int = Field(
        default=0,
        ge=0,
        le=10,
        description="Proxies in front of Envoy whose X-Forwarded-For entries are trusted: the "
        "client address (what rate limits count as 'ip') is the one this many hops back.",
    )

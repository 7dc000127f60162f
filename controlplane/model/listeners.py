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

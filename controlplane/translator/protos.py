"""Small builders for Envoy messages that every translator module needs."""

from typing import Any

from envoy.config.core.v3 import address_pb2, config_source_pb2
from google.protobuf import any_pb2
from google.protobuf.message import Message


def ads_source() -> Any:
    """A config source that points at the ADS stream the resource itself came over."""
    return config_source_pb2.ConfigSource(
        ads=config_source_pb2.AggregatedConfigSource(),
        resource_api_version=config_source_pb2.ApiVersion.V3,
    )


def socket_address(host: str, port: int) -> Any:
    return address_pb2.Address(
        socket_address=address_pb2.SocketAddress(address=host, port_value=port)
    )


def duration_fields(seconds: float) -> dict[str, int]:
    # Rounded as a whole: 1.9999999999 s is 2 s, never 1 s and 1,000,000,000 ns (invalid).
    whole, nanos = divmod(round(seconds * 1e9), 1_000_000_000)
    return {"seconds": whole, "nanos": nanos}


def packed(message: Message) -> any_pb2.Any:
    holder = any_pb2.Any()
    # Deterministic: a packed message with a map (RBAC policies, a JSON body) must give the
    # same bytes in every process, or versions would differ between replicas.
    holder.Pack(message, deterministic=True)
    return holder

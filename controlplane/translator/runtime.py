"""The runtime layer served over RTDS: values an admin moves without touching any route.

Each node group gets one `Runtime` resource, `RUNTIME_LAYER`, which the bootstrap's
`layered_runtime` subscribes to. It holds the share of every gradual rollout of the group's
routes, as whole percents under `rollout_key(route)`.
"""

from collections.abc import Iterable

from envoy.service.runtime.v3 import rtds_pb2
from google.protobuf import struct_pb2

from controlplane.model import ForwardAction, RouteSpec
from controlplane.translator.wire import serialize

RUNTIME_LAYER = "chaosgw"


def rollout_key(route_name: str) -> str:
    return f"chaosgw.rollout.{route_name}"


def runtime_layer(routes: Iterable[RouteSpec]) -> bytes:
    values = struct_pb2.Struct()
    for route in routes:
        if isinstance(route.action, ForwardAction) and route.action.rollout is not None:
            values[rollout_key(route.name)] = route.action.rollout.percent
    return serialize(rtds_pb2.Runtime(name=RUNTIME_LAYER, layer=values))

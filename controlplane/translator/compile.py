"""The entry point: a whole gateway state in, serialized Envoy resources per node group out.

`Translator` remembers what each spec compiled to, keyed by the spec object itself: the store
hands back the same object for a row whose stored text did not change, so after an edit of one
route among 10k only that route is compiled again. The output never depends on the memory;
`translate()` (a fresh translator) gives the same bytes.
"""

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import partial
from typing import Any

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from google.protobuf.message import Message

from controlplane.model import GatewayState, ListenerSpec, RouteSpec, ServiceSpec
from controlplane.translator.clusters import build_cluster, build_load_assignment
from controlplane.translator.listeners import build_listener, route_config_name
from controlplane.translator.routes import (
    assemble_route_configuration,
    encode_route,
    route_sort_key,
    route_timeout,
)
from controlplane.translator.wire import serialize


@dataclass(frozen=True, slots=True)
class Serialized:
    """One Envoy resource: its name and its deterministic serialization."""

    name: str
    payload: bytes


@dataclass(frozen=True)
class GroupResources:
    """Everything one node group's Envoys need, each list sorted by resource name."""

    clusters: list[Serialized]
    endpoints: list[Serialized]
    listeners: list[Serialized]
    routes: list[Serialized]

    def decoded(self) -> dict[str, list[Any]]:
        """The resources as Envoy messages, for tests and debugging."""
        kinds: dict[str, tuple[type[Message], list[Serialized]]] = {
            "clusters": (cluster_pb2.Cluster, self.clusters),
            "endpoints": (endpoint_pb2.ClusterLoadAssignment, self.endpoints),
            "listeners": (listener_pb2.Listener, self.listeners),
            "routes": (route_pb2.RouteConfiguration, self.routes),
        }
        return {
            kind: [message_type.FromString(item.payload) for item in items]
            for kind, (message_type, items) in kinds.items()
        }


class _Memo:
    """Compiled bytes per (spec object, extra inputs); forgets what the last call did not use."""

    def __init__(self) -> None:
        self._previous: dict[tuple[int, Hashable], tuple[object, bytes]] = {}
        self._current: dict[tuple[int, Hashable], tuple[object, bytes]] = {}

    def get(self, spec: object, extra: Hashable, build: Callable[[], bytes]) -> bytes:
        key = (id(spec), extra)
        hit = self._current.get(key) or self._previous.get(key)
        # The stored spec keeps its id from being reused while the entry lives.
        if hit is None or hit[0] is not spec:
            hit = (spec, build())
        self._current[key] = hit
        return hit[1]

    def forget_unused(self) -> None:
        self._previous, self._current = self._current, {}


class Translator:
    def __init__(self) -> None:
        self._routes = _Memo()
        self._clusters = _Memo()
        self._endpoints = _Memo()
        self._listeners = _Memo()

    def translate(self, state: GatewayState) -> dict[str, GroupResources]:
        services = {service.name: service for service in state.services}
        routes_by_listener: dict[str, list[RouteSpec]] = {}
        for route in sorted(state.routes, key=route_sort_key):
            routes_by_listener.setdefault(route.listener, []).append(route)

        groups: dict[str, GroupResources] = {}
        for group in state.node_groups():
            listeners = sorted(
                (listener for listener in state.listeners if listener.node_group == group),
                key=lambda listener: listener.name,
            )
            group_routes = [
                route
                for listener in listeners
                for route in routes_by_listener.get(listener.name, [])
            ]
            # A group receives only the services its routes use.
            used = sorted({backend.service for r in group_routes for backend in r.action.backends})
            used_services = [services[name] for name in used]
            groups[group] = GroupResources(
                clusters=[self._cluster(service) for service in used_services],
                endpoints=[
                    self._endpoints_of(service)
                    for service in used_services
                    if service.discovery == "static"
                ],
                listeners=[self._listener(listener) for listener in listeners],
                routes=[
                    self._route_configuration(
                        listener, routes_by_listener.get(listener.name, []), services
                    )
                    for listener in listeners
                ],
            )
        for memo in (self._routes, self._clusters, self._endpoints, self._listeners):
            memo.forget_unused()
        return groups

    def _cluster(self, service: ServiceSpec) -> Serialized:
        payload = self._clusters.get(service, None, lambda: serialize(build_cluster(service)))
        return Serialized(service.name, payload)

    def _endpoints_of(self, service: ServiceSpec) -> Serialized:
        payload = self._endpoints.get(
            service, None, lambda: serialize(build_load_assignment(service))
        )
        return Serialized(service.name, payload)

    def _listener(self, listener: ListenerSpec) -> Serialized:
        payload = self._listeners.get(listener, None, lambda: serialize(build_listener(listener)))
        return Serialized(listener.name, payload)

    def _route_configuration(
        self, listener: ListenerSpec, routes: list[RouteSpec], services: dict[str, ServiceSpec]
    ) -> Serialized:
        encoded: list[bytes] = []
        for route in routes:
            timeout = route_timeout(route, services)
            encoded.append(self._routes.get(route, timeout, partial(encode_route, route, timeout)))
        name = route_config_name(listener)
        return Serialized(name, assemble_route_configuration(name, routes, encoded))


def translate(state: GatewayState) -> dict[str, GroupResources]:
    """Compile `state` from scratch."""
    return Translator().translate(state)

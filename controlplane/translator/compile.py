"""The entry point: a whole gateway state in, serialized Envoy resources per node group out.

`Translator` remembers what each spec compiled to, keyed by the spec object itself: the store
hands back the same object for a row whose stored text did not change, so after an edit of one
route among 10k only that route is compiled again. The output never depends on the memory;
`translate()` (a fresh translator) gives the same bytes.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import extension_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from google.protobuf.message import Message

from controlplane.model import (
    AuthenticatedAuth,
    GatewayState,
    ListenerSpec,
    RouteSpec,
    ServiceSpec,
)
from controlplane.translator.auth_jwt import build_jwt_authn
from controlplane.translator.auth_route import AuthContext, auth_context, per_filter_configs
from controlplane.translator.clusters import build_cluster, build_load_assignment
from controlplane.translator.listeners import build_listener, route_config_name
from controlplane.translator.route_policy import ServiceDefaults, route_policy, service_defaults
from controlplane.translator.routes import (
    assemble_route_configuration,
    encode_route,
    route_sort_key,
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
    # Filter configurations discovered over ECDS (jwt_authn).
    extension_configs: list[Serialized] = field(default_factory=list)

    def decoded(self) -> dict[str, list[Any]]:
        """The resources as Envoy messages, for tests and debugging."""
        kinds: dict[str, tuple[type[Message], list[Serialized]]] = {
            "clusters": (cluster_pb2.Cluster, self.clusters),
            "endpoints": (endpoint_pb2.ClusterLoadAssignment, self.endpoints),
            "listeners": (listener_pb2.Listener, self.listeners),
            "routes": (route_pb2.RouteConfiguration, self.routes),
            "extension_configs": (extension_pb2.TypedExtensionConfig, self.extension_configs),
        }
        return {
            kind: [message_type.FromString(item.payload) for item in items]
            for kind, (message_type, items) in kinds.items()
        }


class _Memo:
    """Compiled bytes per spec object; forgets the specs the last call did not see."""

    def __init__(self) -> None:
        self._previous: dict[int, tuple[object, bytes]] = {}
        self._current: dict[int, tuple[object, bytes]] = {}

    def get(self, spec: object, build: Callable[[], bytes]) -> bytes:
        hit = self._current.get(id(spec)) or self._previous.get(id(spec))
        # The stored spec keeps its id from being reused while the entry lives.
        if hit is None or hit[0] is not spec:
            hit = (spec, build())
        self._current[id(spec)] = hit
        return hit[1]

    def forget_unused(self) -> None:
        self._previous, self._current = self._current, {}


@dataclass(frozen=True, slots=True)
class _CompiledRoute:
    spec: RouteSpec
    encoded: bytes  # a `VirtualHost.routes` entry
    services: tuple[str, ...]


class Translator:
    def __init__(self) -> None:
        self._routes: dict[int, _CompiledRoute] = {}
        # What compiled routes took from each service (timeouts, retries, hashing).
        self._defaults: dict[str, ServiceDefaults] = {}
        # What compiled protected routes took from the declared providers and roles.
        self._auth: AuthContext | None = None
        self._clusters = _Memo()
        self._endpoints = _Memo()
        self._listeners = _Memo()

    def translate(self, state: GatewayState) -> dict[str, GroupResources]:
        services = {service.name: service for service in state.services}
        auth = auth_context(state.jwt_providers, state.roles)
        self._forget_protected_routes_if_changed(auth)
        routes_by_listener = self._compile_routes(state.routes, state.services, auth)
        jwt_authn = _jwt_authn(state)

        groups: dict[str, GroupResources] = {}
        for group in state.node_groups():
            listeners = sorted(
                (listener for listener in state.listeners if listener.node_group == group),
                key=lambda listener: listener.name,
            )
            # A group receives only the services its routes use.
            used: set[str] = set()
            for listener in listeners:
                for route in routes_by_listener.get(listener.name, ()):
                    used.update(route.services)
            used_services = [services[name] for name in sorted(used)]
            groups[group] = GroupResources(
                clusters=[self._cluster(service) for service in used_services],
                endpoints=[
                    self._endpoints_of(service)
                    for service in used_services
                    if service.discovery == "static"
                ],
                listeners=[self._listener(listener) for listener in listeners],
                routes=[
                    _route_configuration(listener, routes_by_listener.get(listener.name, []))
                    for listener in listeners
                ],
                extension_configs=[jwt_authn],
            )
        for memo in (self._clusters, self._endpoints, self._listeners):
            memo.forget_unused()
        return groups

    def _compile_routes(
        self, routes: Iterable[RouteSpec], services: Iterable[ServiceSpec], auth: AuthContext
    ) -> dict[str, list[_CompiledRoute]]:
        """Each listener's routes in order, compiling only those not compiled before."""
        defaults = {service.name: service_defaults(service) for service in services}
        self._forget_routes_of_changed_services(defaults)
        known, compiled = self._routes, {}
        by_listener: dict[str, list[_CompiledRoute]] = {}
        for route in sorted(routes, key=route_sort_key):
            entry = known.get(id(route))
            # The stored spec keeps its id from being reused while the entry lives.
            if entry is None or entry.spec is not route:
                entry = _CompiledRoute(
                    route,
                    encode_route(
                        route, route_policy(route, defaults), per_filter_configs(route.auth, auth)
                    ),
                    tuple(backend.service for backend in route.action.backends),
                )
            compiled[id(route)] = entry
            by_listener.setdefault(route.listener, []).append(entry)
        self._routes = compiled
        return by_listener

    def _forget_protected_routes_if_changed(self, auth: AuthContext) -> None:
        if auth != self._auth and self._routes:
            self._routes = {
                key: entry
                for key, entry in self._routes.items()
                if not isinstance(entry.spec.auth, AuthenticatedAuth)
            }
        self._auth = auth

    def _forget_routes_of_changed_services(self, defaults: dict[str, ServiceDefaults]) -> None:
        changed = {name for name, taken in defaults.items() if self._defaults.get(name) != taken}
        if changed and self._routes:
            self._routes = {
                key: entry
                for key, entry in self._routes.items()
                if changed.isdisjoint(entry.services)
            }
        self._defaults = defaults

    def _cluster(self, service: ServiceSpec) -> Serialized:
        payload = self._clusters.get(service, lambda: serialize(build_cluster(service)))
        return Serialized(service.name, payload)

    def _endpoints_of(self, service: ServiceSpec) -> Serialized:
        payload = self._endpoints.get(service, lambda: serialize(build_load_assignment(service)))
        return Serialized(service.name, payload)

    def _listener(self, listener: ListenerSpec) -> Serialized:
        payload = self._listeners.get(listener, lambda: serialize(build_listener(listener)))
        return Serialized(listener.name, payload)


def _route_configuration(listener: ListenerSpec, routes: list[_CompiledRoute]) -> Serialized:
    name = route_config_name(listener)
    placed = [(route.spec.hosts, route.encoded) for route in routes]
    return Serialized(name, assemble_route_configuration(name, placed))


def _jwt_authn(state: GatewayState) -> Serialized:
    config = build_jwt_authn(state.jwt_providers, state.fetched_jwks)
    return Serialized(config.name, serialize(config))


def translate(state: GatewayState) -> dict[str, GroupResources]:
    """Compile `state` from scratch."""
    return Translator().translate(state)

"""The entry point: a whole gateway state in, serialized Envoy resources per node group out.

`Translator` remembers what each spec compiled to, keyed by the spec object itself: the store
hands back the same object for a row whose stored text did not change, so after an edit of one
route among 10k only that route is compiled again. The output never depends on the memory;
`translate()` (a fresh translator) gives the same bytes.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import extension_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from envoy.extensions.transport_sockets.tls.v3 import secret_pb2
from envoy.service.runtime.v3 import rtds_pb2
from google.protobuf.message import Message

from controlplane.model import (
    AuthenticatedAuth,
    CertificateSpec,
    ForwardAction,
    GatewayState,
    ListenerSpec,
    RouteSpec,
    ServiceSpec,
)
from controlplane.translator import auth_extauthz, ratelimits
from controlplane.translator.auth_extauthz import ExtAuthzService
from controlplane.translator.auth_jwt import build_jwt_authn
from controlplane.translator.auth_route import AuthContext, auth_context, per_filter_configs
from controlplane.translator.clusters import build_cluster, build_load_assignment
from controlplane.translator.listeners import build_listener, route_config_name
from controlplane.translator.policies import listener_route_config_fields
from controlplane.translator.ratelimits import RateLimitPlan, RateLimitService
from controlplane.translator.route_policy import ServiceDefaults, route_policy, service_defaults
from controlplane.translator.routes import (
    assemble_route_configuration,
    encode_route,
)
from controlplane.translator.runtime import RUNTIME_LAYER, runtime_layer
from controlplane.translator.secrets import build_secret
from controlplane.translator.service_tls import service_secrets
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
    # Always the one runtime layer (RTDS): Envoy waits for it before asking for clusters.
    runtime: list[Serialized]
    secrets: list[Serialized]
    # Filter configurations discovered over ECDS (jwt_authn).
    extension_configs: list[Serialized]

    @classmethod
    def empty(cls) -> "GroupResources":
        return cls([], [], [], [], [Serialized(RUNTIME_LAYER, runtime_layer(()))], [], [])

    def decoded(self) -> dict[str, list[Any]]:
        """The resources as Envoy messages, for tests and debugging."""
        kinds: dict[str, tuple[type[Message], list[Serialized]]] = {
            "clusters": (cluster_pb2.Cluster, self.clusters),
            "endpoints": (endpoint_pb2.ClusterLoadAssignment, self.endpoints),
            "listeners": (listener_pb2.Listener, self.listeners),
            "routes": (route_pb2.RouteConfiguration, self.routes),
            "runtime": (rtds_pb2.Runtime, self.runtime),
            "secrets": (secret_pb2.Secret, self.secrets),
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
    encoded: bytes  # `VirtualHost.routes` entries
    services: tuple[str, ...]
    rollout: bool  # has a share in the runtime layer
    limits: bytes  # the rate-limit fields it was compiled with


class Translator:
    """`ratelimit`: the rate-limit service Envoy asks for global decisions; None: no global
    rate limiting (global policies are then left out). `extauthz`: the auth service that checks
    API keys; None: routes needing it let nobody in."""

    def __init__(
        self, ratelimit: RateLimitService | None = None, extauthz: ExtAuthzService | None = None
    ) -> None:
        self._ratelimit = ratelimit
        self._extauthz = extauthz
        # The clusters of the gateway's own services, in every group.
        self._service_clusters = []
        if ratelimit is not None:
            self._service_clusters.append(
                Serialized(
                    ratelimits.SERVICE_CLUSTER,
                    serialize(ratelimits.build_service_cluster(ratelimit)),
                )
            )
        if extauthz is not None:
            self._service_clusters.append(
                Serialized(
                    auth_extauthz.SERVICE_CLUSTER,
                    serialize(auth_extauthz.build_service_cluster(extauthz)),
                )
            )
        # The file names of Envoy's client certificate for them, in every group.
        # (Both services take it from the one CHAOSGW_ENVOY_TLS_DIR.)
        tls_dir = next(
            (service.tls_dir for service in (ratelimit, extauthz) if service and service.tls_dir),
            "",
        )
        self._service_secrets = [
            Serialized(secret.name, serialize(secret))
            for secret in (service_secrets(tls_dir) if tls_dir else [])
        ]
        self._routes: dict[int, _CompiledRoute] = {}
        # What compiled routes took from each service (timeouts, retries, hashing).
        self._defaults: dict[str, ServiceDefaults] = {}
        # What compiled protected routes took from the declared providers and roles.
        self._auth: AuthContext | None = None
        self._clusters = _Memo()
        self._endpoints = _Memo()
        self._listeners = _Memo()
        self._secrets = _Memo()

    def translate(self, state: GatewayState) -> dict[str, GroupResources]:
        services = {service.name: service for service in state.services}
        plan = ratelimits.plan(state.rate_limit_policies, self._ratelimit)
        auth = auth_context(state.jwt_providers, state.roles)
        self._forget_protected_routes_if_changed(auth)
        routes_by_listener = self._compile_routes(state.routes, state.services, plan, auth)
        jwt_authn = _jwt_authn(state)
        certificates = {certificate.name: certificate for certificate in state.certificates}

        groups: dict[str, GroupResources] = {}
        for group in state.node_groups():
            listeners = sorted(
                (listener for listener in state.listeners if listener.node_group == group),
                key=lambda listener: listener.name,
            )
            # A group receives only the services its routes use.
            used: set[str] = set()
            rollouts: list[RouteSpec] = []
            for listener in listeners:
                for route in routes_by_listener.get(listener.name, ()):
                    used.update(route.services)
                    if route.rollout:
                        rollouts.append(route.spec)
            used_services = [services[name] for name in sorted(used)]
            # Only the certificates its listeners present: private keys go nowhere else.
            presented = sorted(
                {
                    name
                    for listener in listeners
                    if listener.tls
                    for name in listener.tls.certificates
                }
                & certificates.keys()
            )
            clusters = [self._cluster(service) for service in used_services]
            clusters += self._service_clusters
            groups[group] = GroupResources(
                clusters=sorted(clusters, key=lambda cluster: cluster.name),
                endpoints=[
                    self._endpoints_of(service)
                    for service in used_services
                    if service.discovery == "static"
                ],
                listeners=[self._listener(listener) for listener in listeners],
                routes=[
                    _route_configuration(listener, routes_by_listener.get(listener.name, []), plan)
                    for listener in listeners
                ],
                runtime=[Serialized(RUNTIME_LAYER, runtime_layer(rollouts))],
                secrets=[
                    *(self._secret(certificates[name]) for name in presented),
                    *self._service_secrets,
                ],
                extension_configs=[jwt_authn],
            )
        for memo in (self._clusters, self._endpoints, self._listeners, self._secrets):
            memo.forget_unused()
        return groups

    def _compile_routes(
        self,
        routes: Iterable[RouteSpec],
        services: Iterable[ServiceSpec],
        plan: RateLimitPlan,
        auth: AuthContext,
    ) -> dict[str, list[_CompiledRoute]]:
        """Each listener's routes in order, compiling only those not compiled before."""
        defaults = {service.name: service_defaults(service) for service in services}
        self._forget_routes_of_changed_services(defaults)
        known, compiled = self._routes, {}
        by_listener: dict[str, list[_CompiledRoute]] = {}
        for route in sorted(routes, key=RouteSpec.sort_key):
            entry = known.get(id(route))
            forward = isinstance(route.action, ForwardAction)
            # Envoy counts only requests it forwards: redirects and direct responses carry none.
            limits = plan.route_fields(route.name) if forward else b""
            # The stored spec keeps its id from being reused while the entry lives.
            if entry is None or entry.spec is not route or entry.limits != limits:
                entry = _CompiledRoute(
                    route,
                    encode_route(
                        route,
                        route_policy(route, defaults),
                        limits,
                        per_filter_configs(
                            route.name, route.auth, auth, auth_service=self._extauthz is not None
                        ),
                    ),
                    tuple(route.action.services()),
                    isinstance(route.action, ForwardAction) and route.action.rollout is not None,
                    limits,
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
        payload = self._listeners.get(
            listener, lambda: serialize(build_listener(listener, self._ratelimit, self._extauthz))
        )
        return Serialized(listener.name, payload)

    def _secret(self, certificate: CertificateSpec) -> Serialized:
        payload = self._secrets.get(certificate, lambda: serialize(build_secret(certificate)))
        return Serialized(certificate.name, payload)


def _route_configuration(
    listener: ListenerSpec, routes: list[_CompiledRoute], plan: RateLimitPlan
) -> Serialized:
    name = route_config_name(listener)
    placed = [(route.spec.hosts, route.encoded) for route in routes]
    config = assemble_route_configuration(
        name,
        placed,
        listener_route_config_fields(listener),
        hosts=plan.hosts,
        virtual_host_fields=plan.virtual_host_fields,
        configuration_fields=plan.configuration_fields,
    )
    return Serialized(name, config)


def _jwt_authn(state: GatewayState) -> Serialized:
    config = build_jwt_authn(state.jwt_providers, state.fetched_jwks)
    return Serialized(config.name, serialize(config))


def translate(
    state: GatewayState,
    ratelimit: RateLimitService | None = None,
    extauthz: ExtAuthzService | None = None,
) -> dict[str, GroupResources]:
    """Compile `state` from scratch."""
    return Translator(ratelimit, extauthz).translate(state)


def policy_resources(state: GatewayState) -> list[Serialized]:
    """The `RateLimitPolicy` resources of the state's global policies, by name."""
    return [
        Serialized(policy.name, serialize(ratelimits.build_policy(policy)))
        for policy in sorted(state.rate_limit_policies, key=lambda policy: policy.name)
        if policy.enforcement == "global"
    ]

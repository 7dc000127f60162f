"""An unused filter costs nothing: the listener's filters of per-route policies are disabled,
and a route's configuration enables exactly those its policies (or its listener's) use.

Envoy builds a stream's filters after picking its route and skips a disabled filter unless
the route, its virtual host or its route configuration carries a per-filter config under the
filter's name: a policy whose config named no filter of the chain would silently not apply.
"""

from typing import Any

from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)
from envoy.extensions.http.early_header_mutation.header_mutation.v3 import header_mutation_pb2

from authcontract.identity import IDENTITY_HEADERS
from controlplane.model import (
    AuthenticatedAuth,
    GatewayState,
    ListenerSpec,
    RouteSpec,
)
from controlplane.translator import translate
from controlplane.translator.auth_extauthz import EXTAUTHZ_FILTER
from controlplane.translator.auth_filters import IDENTITY_FILTER, JWT_FILTER, RBAC_FILTER
from controlplane.translator.http_filters import (
    BODY_LIMIT,
    CLIENT_IPS,
    COMPRESSORS,
    CORS,
    CSRF,
    GRPC_WEB,
    QUERY_CHANGES,
    ROUTER,
)
from controlplane.translator.ratelimits import LOCAL_FILTER, RATELIMIT_FILTER
from tests.unit.translator.golden_state import EXTAUTHZ, RATELIMIT, golden_state, plain_state


def _managers(state: GatewayState) -> list[tuple[Any, Any]]:
    """(connection manager, its route configuration) of every listener of every group; never
    empty, so that the tests' loops over it check something."""
    managers = []
    for resources in translate(state, RATELIMIT, EXTAUTHZ).values():
        decoded = resources.decoded()
        configs = {config.name: config for config in decoded["routes"]}
        for listener in decoded["listeners"]:
            manager = hcm_pb2.HttpConnectionManager()
            assert listener.filter_chains[0].filters[0].typed_config.Unpack(manager)
            managers.append((manager, configs[manager.rds.route_config_name]))
    assert managers, "the state has no listener"
    return managers


def _chains(state: GatewayState) -> list[tuple[str, list[Any], Any]]:
    """(listener name, its HTTP filters, its route configuration) of every group."""
    return [
        (manager.stat_prefix, list(manager.http_filters), config)
        for manager, config in _managers(state)
    ]


def _always_on(listener: ListenerSpec) -> set[str]:
    """Filters that act on every request of the listener, whatever its routes declare."""
    names = {ROUTER}
    if listener.grpc_web:
        names.add(GRPC_WEB)
    compression = listener.compression
    if compression is not None and compression.routes != "opt_in":
        names.update(COMPRESSORS[algorithm] for algorithm in compression.algorithms)
    return names


def _enabling(config: Any) -> list[tuple[str, set[str]]]:
    """(Envoy route name, the filters its per-filter configs at any level enable)."""
    return [
        (
            route.name,
            {name for level in (config, host, route) for name in level.typed_per_filter_config},
        )
        for host in config.virtual_hosts
        for route in host.routes
    ]


def _policy_filters(route: RouteSpec, listener: ListenerSpec, state: GatewayState) -> set[str]:
    """The filters the route's policies, its listener's and the rate-limit policies need."""
    auth = route.auth
    # API keys, owner rules and such are the auth service's to check; JWTs and roles Envoy's.
    by_service = isinstance(auth, AuthenticatedAuth) and auth.needs_service()
    by_envoy = isinstance(auth, AuthenticatedAuth) and not by_service
    edge = {
        CLIENT_IPS: route.client_ips or listener.client_ips,
        CORS: route.cors or listener.cors,
        CSRF: route.csrf,
        QUERY_CHANGES: any(
            t is not None and t.query for t in (route.transform, listener.transform)
        ),
        BODY_LIMIT: route.max_body_bytes is not None,
        JWT_FILTER: by_envoy,
        RBAC_FILTER: by_envoy,
        IDENTITY_FILTER: by_envoy,
        EXTAUTHZ_FILTER: by_service,
        LOCAL_FILTER: any(p.enforcement == "local" for p in state.rate_limit_policies),
        RATELIMIT_FILTER: any(p.enforcement == "global" for p in state.rate_limit_policies),
    }
    names = {name for name, used in edge.items() if used}
    if route.compression is not None:
        names.update(COMPRESSORS.values())
    return names


def test_listeners_disable_every_filter_that_serves_policies_only() -> None:
    state = golden_state()
    listeners = {listener.name: listener for listener in state.listeners}
    for name, filters, _ in _chains(state):
        enabled = {f.name for f in filters if not f.disabled}
        assert enabled == _always_on(listeners[name]), name


def test_every_request_loses_client_sent_identity_headers_before_any_filter() -> None:
    for manager, _ in _managers(golden_state()):
        (strip,) = manager.early_header_mutation_extensions
        mutations = header_mutation_pb2.HeaderMutation()
        assert strip.typed_config.Unpack(mutations)
        assert [m.remove for m in mutations.mutations] == list(IDENTITY_HEADERS)


def test_per_filter_configs_name_filters_of_the_chain() -> None:
    checked = set()
    for name, filters, config in _chains(golden_state()):
        # A route's compression switch names every compressor, its listener's among them.
        chain = {f.name for f in filters} | set(COMPRESSORS.values())
        for route, enabled in _enabling(config):
            assert enabled <= chain, f"{name}/{route}: no such filter: {enabled - chain}"
            checked.add(route.partition("/")[0])

    assert checked == {route.name for route in golden_state().routes}


def test_routes_enable_the_filters_their_policies_use() -> None:
    state = golden_state()
    listeners = {listener.name: listener for listener in state.listeners}
    routes = {route.name: route for route in state.routes}
    checked = set()
    for name, filters, config in _chains(state):
        optional = {f.name for f in filters if f.disabled}
        for envoy_route, enabled in _enabling(config):
            # A canary or rollout copy is named after its route: "<route>/canary".
            route = routes[envoy_route.partition("/")[0]]
            expected = _policy_filters(route, listeners[name], state) & optional
            assert enabled & optional == expected, f"{name}/{envoy_route}"
            checked.add(route.name)

    assert checked == set(routes)


def test_a_route_without_policies_runs_only_the_router() -> None:
    """What the routed benchmark declares, with a rate-limit service."""
    ((_, filters, config),) = _chains(plain_state())
    assert [f.name for f in filters if not f.disabled] == [ROUTER]
    assert dict(_enabling(config)) == {"items": set()}

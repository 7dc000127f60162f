"""Routes become Envoy route configurations, one per listener, served over RDS.

Each host a route names gets its own virtual host. A route whose host pattern covers another
virtual host's host (`*` covers everything, `*.example.com` covers `api.example.com`) is copied
into that virtual host too, so "routes are tried in ascending order, the first match wins"
holds for every request whatever its host.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from envoy.config.route.v3 import route_components_pb2 as rc_pb2
from envoy.config.route.v3 import route_pb2

from controlplane.model import HeaderMatch, QueryParamMatch, RouteMatch, RouteSpec
from controlplane.translator.route_policy import RoutePolicy, action_fields
from controlplane.translator.wire import field_number, length_delimited, serialize

_VIRTUAL_HOSTS = field_number(route_pb2.RouteConfiguration, "virtual_hosts")
_ROUTES = field_number(rc_pb2.VirtualHost, "routes")


def route_sort_key(route: RouteSpec) -> tuple[int, str]:
    return route.order, route.name


def encode_route(
    route: RouteSpec, policy: RoutePolicy, per_filter: Mapping[str, Any] | None = None
) -> bytes:
    """The route as a `VirtualHost.routes` entry, ready to splice into any virtual host.
    `per_filter` is its per-route filter configuration (auth)."""
    return length_delimited(_ROUTES, serialize(build_route(route, policy, per_filter)))


def assemble_route_configuration(name: str, routes: Sequence[tuple[Sequence[str], bytes]]) -> bytes:
    """Serialized RouteConfiguration from (hosts, `encode_route` bytes) of routes in order."""
    domains = sorted({host for route_hosts, _ in routes for host in route_hosts})
    members: dict[str, list[bytes]] = {domain: [] for domain in domains}
    # Routes share a handful of host lists: work out each list's virtual hosts once.
    placements: dict[tuple[str, ...], list[list[bytes]]] = {}
    for route_hosts, route_bytes in routes:
        hosts = tuple(route_hosts)
        targets = placements.get(hosts)
        if targets is None:
            targets = placements[hosts] = [
                members[domain]
                for domain in domains
                if any(host_covers(pattern, domain) for pattern in hosts)
            ]
        for target in targets:
            target.append(route_bytes)
    parts = [serialize(route_pb2.RouteConfiguration(name=name))]
    for domain in domains:
        host = serialize(rc_pb2.VirtualHost(name=domain, domains=[domain]))
        parts.append(length_delimited(_VIRTUAL_HOSTS, host + b"".join(members[domain])))
    return b"".join(parts)


def host_covers(pattern: str, domain: str) -> bool:
    """Whether every host that `domain` matches is also matched by `pattern`."""
    if pattern in ("*", domain):
        return True
    if pattern.startswith("*"):
        return domain.lstrip("*").endswith(pattern[1:]) and not domain.endswith("*")
    if pattern.endswith("*"):
        return domain.rstrip("*").startswith(pattern[:-1]) and not domain.startswith("*")
    return False


def build_route(
    route: RouteSpec, policy: RoutePolicy, per_filter: Mapping[str, Any] | None = None
) -> Any:
    # Nested dicts in one constructor call build upb messages about twice as fast as
    # assigning submessages field by field, which matters at 10k routes.
    backends = route.action.backends
    action = action_fields(policy)
    if len(backends) == 1:
        action["cluster"] = backends[0].service
    else:
        action["weighted_clusters"] = {
            "clusters": [{"name": b.service, "weight": {"value": b.weight}} for b in backends]
        }
    return rc_pb2.Route(
        name=route.name,
        match=match_fields(route.match),
        route=action,
        typed_per_filter_config=per_filter or {},
    )


def match_fields(match: RouteMatch) -> dict[str, Any]:
    path = match.path
    fields: dict[str, Any] = {}
    if path.type == "exact":
        fields["path"] = path.value
    elif path.type == "prefix":
        fields["prefix"] = path.value
    else:
        fields["safe_regex"] = {"regex": path.value}
    headers: list[dict[str, Any]] = []
    if match.methods:
        methods = sorted(match.methods)
        headers.append(
            {
                "name": ":method",
                "string_match": (
                    {"exact": methods[0]}
                    if len(methods) == 1
                    else {"safe_regex": {"regex": "|".join(methods)}}
                ),
            }
        )
    headers.extend(_header_fields(header) for header in match.headers)
    if headers:
        fields["headers"] = headers
    if match.query_params:
        fields["query_parameters"] = [_query_fields(param) for param in match.query_params]
    return fields


def _header_fields(header: HeaderMatch) -> dict[str, Any]:
    fields: dict[str, Any] = {"name": header.name.lower()}
    if header.invert:
        fields["invert_match"] = True
    if header.type == "present":
        fields["present_match"] = True
    else:
        fields["string_match"] = _string_fields(header.type, header.value or "")
    return fields


def _query_fields(param: QueryParamMatch) -> dict[str, Any]:
    if param.type == "present":
        return {"name": param.name, "present_match": True}
    return {"name": param.name, "string_match": _string_fields(param.type, param.value or "")}


def _string_fields(kind: str, value: str) -> dict[str, Any]:
    if kind == "regex":
        return {"safe_regex": {"regex": value}}
    return {"exact": value}

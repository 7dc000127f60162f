"""Routes become Envoy route configurations, one per listener, served over RDS.

Each host a route names gets its own virtual host. A route whose host pattern covers another
virtual host's host (`*` covers everything, `*.example.com` covers `api.example.com`) is copied
into that virtual host too, so "routes are tried in ascending order, the first match wins"
holds for every request whatever its host.

One declared route may compile to several Envoy routes: its canary and its rollout are narrower
copies placed just before it (see `route_actions`).
"""

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from envoy.config.route.v3 import route_components_pb2 as rc_pb2
from envoy.config.route.v3 import route_pb2
from envoy.extensions.path.match.uri_template.v3 import uri_template_match_pb2

from controlplane.model import HeaderMatch, QueryParamMatch, RouteMatch, RouteSpec
from controlplane.model.routes import host_covers
from controlplane.translator.policies import route_policy_fields
from controlplane.translator.protos import packed
from controlplane.translator.route_actions import action_fields, variants
from controlplane.translator.route_policy import RoutePolicy
from controlplane.translator.wire import field_number, length_delimited, serialize

_VIRTUAL_HOSTS = field_number(route_pb2.RouteConfiguration, "virtual_hosts")
_ROUTES = field_number(rc_pb2.VirtualHost, "routes")
URI_TEMPLATE_MATCHER = "envoy.path.match.uri_template.uri_template_matcher"


def encode_route(
    route: RouteSpec,
    policy: RoutePolicy | None,
    extra: bytes = b"",
    per_filter: Mapping[str, Any] | None = None,
) -> bytes:
    """The route's Envoy routes as `VirtualHost.routes` entries, ready to splice into any
    virtual host; `extra`: encoded `Route` fields merged into each (its rate limits);
    `per_filter`: its per-route filter configuration (auth)."""
    base = build_route(route, policy, per_filter)
    return b"".join(
        length_delimited(_ROUTES, serialize(entry) + extra)
        for entry in (*variants(route, base), base)
    )


def _no_fields(_domain: str) -> bytes:
    return b""


def assemble_route_configuration(
    name: str,
    routes: Sequence[tuple[Sequence[str], bytes]],
    config_fields: Mapping[str, Any] | None = None,
    *,
    hosts: Collection[str] = (),
    virtual_host_fields: Callable[[str], bytes] = _no_fields,
    configuration_fields: bytes = b"",
) -> bytes:
    """Serialized RouteConfiguration from (hosts, `encode_route` bytes) of routes in order.

    `config_fields` (the listener's defaults for all routes) go on the configuration. `hosts`
    get a virtual host even if no route names them (for their rate limits);
    `virtual_host_fields(domain)` and `configuration_fields` are encoded fields added to each
    virtual host and to the configuration.
    """
    domains = sorted({host for route_hosts, _ in routes for host in route_hosts} | set(hosts))
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
    parts = [
        serialize(route_pb2.RouteConfiguration(name=name, **(config_fields or {}))),
        configuration_fields,
    ]
    for domain in domains:
        host = serialize(rc_pb2.VirtualHost(name=domain, domains=[domain]))
        host += virtual_host_fields(domain)
        parts.append(length_delimited(_VIRTUAL_HOSTS, host + b"".join(members[domain])))
    return b"".join(parts)


def build_route(
    route: RouteSpec, policy: RoutePolicy | None, per_filter: Mapping[str, Any] | None = None
) -> Any:
    # Nested dicts in one constructor call build upb messages about twice as fast as
    # assigning submessages field by field, which matters at 10k routes.
    fields = action_fields(route, policy)
    policies = route_policy_fields(route)
    if per_filter:
        policies["typed_per_filter_config"] = {
            **policies.get("typed_per_filter_config", {}),
            **per_filter,
        }
    for key, value in policies.items():
        # Both may add response headers (a direct response's content type, the route's own).
        fields[key] = [*fields[key], *value] if key in fields else value
    return rc_pb2.Route(name=route.name, match=match_fields(route.match), **fields)


def match_fields(match: RouteMatch) -> dict[str, Any]:
    path = match.path
    fields: dict[str, Any] = {}
    if path.type == "exact":
        fields["path"] = path.value
    elif path.type == "prefix":
        fields["prefix"] = path.value
    elif path.type == "regex":
        fields["safe_regex"] = {"regex": path.value}
    else:
        template = uri_template_match_pb2.UriTemplateMatchConfig(path_template=path.value)
        fields["path_match_policy"] = {
            "name": URI_TEMPLATE_MATCHER,
            "typed_config": packed(template),
        }
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
    if match.grpc is not None:
        fields["grpc"] = {}
    return fields


def _header_fields(header: HeaderMatch) -> dict[str, Any]:
    fields: dict[str, Any] = {"name": header.name.lower()}
    # "absent" is "present", inverted.
    if header.invert != (header.type == "absent"):
        fields["invert_match"] = True
    if header.type in ("present", "absent"):
        fields["present_match"] = True
    else:
        fields["string_match"] = _string_fields(header.type, header.value or "")
        if header.invert:
            # Else Envoy never matches a request without the header, which "x-region is not
            # eu" should match.
            fields["treat_missing_header_as_empty"] = True
    return fields


def _query_fields(param: QueryParamMatch) -> dict[str, Any]:
    if param.type == "present":
        return {"name": param.name, "present_match": True}
    return {"name": param.name, "string_match": _string_fields(param.type, param.value or "")}


def _string_fields(kind: str, value: str) -> dict[str, Any]:
    if kind == "regex":
        return {"safe_regex": {"regex": value}}
    return {kind: value}  # exact, prefix, suffix, contains: Envoy's own field names

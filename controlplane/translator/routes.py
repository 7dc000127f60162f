"""Routes become Envoy route configurations, one per listener, served over RDS.

Each host a route names gets its own virtual host. A route whose host pattern covers another
virtual host's host (`*` covers everything, `*.example.com` covers `api.example.com`) is copied
into that virtual host too, so "routes are tried in ascending order, the first match wins"
holds for every request whatever its host.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from envoy.config.route.v3 import route_components_pb2 as rc_pb2
from envoy.config.route.v3 import route_pb2
from envoy.type.matcher.v3 import regex_pb2, string_pb2
from google.protobuf import wrappers_pb2

from controlplane.model import HeaderMatch, QueryParamMatch, RouteMatch, RouteSpec, ServiceSpec
from controlplane.translator.protos import duration


def route_sort_key(route: RouteSpec) -> tuple[int, str]:
    return route.order, route.name


def build_route_configuration(
    name: str, routes: Iterable[RouteSpec], services: Mapping[str, ServiceSpec]
) -> Any:
    ordered = sorted(routes, key=route_sort_key)
    built = {route.name: build_route(route, services) for route in ordered}
    domains = sorted({host for route in ordered for host in route.hosts})
    return route_pb2.RouteConfiguration(
        name=name,
        virtual_hosts=[
            rc_pb2.VirtualHost(
                name=domain,
                domains=[domain],
                routes=[
                    built[route.name]
                    for route in ordered
                    if any(host_covers(pattern, domain) for pattern in route.hosts)
                ],
            )
            for domain in domains
        ],
    )


def host_covers(pattern: str, domain: str) -> bool:
    """Whether every host that `domain` matches is also matched by `pattern`."""
    if pattern in ("*", domain):
        return True
    if pattern.startswith("*"):
        return domain.lstrip("*").endswith(pattern[1:]) and not domain.endswith("*")
    if pattern.endswith("*"):
        return domain.rstrip("*").startswith(pattern[:-1]) and not domain.startswith("*")
    return False


def build_route(route: RouteSpec, services: Mapping[str, ServiceSpec]) -> Any:
    backends = route.action.backends
    action = rc_pb2.RouteAction()
    if len(backends) == 1:
        action.cluster = backends[0].service
    else:
        action.weighted_clusters.clusters.extend(
            rc_pb2.WeightedCluster.ClusterWeight(
                name=backend.service, weight=wrappers_pb2.UInt32Value(value=backend.weight)
            )
            for backend in backends
        )
    timeout = route.timeout_seconds
    if timeout is None:
        # A split route waits as long as its most patient backend would.
        timeout = max(services[b.service].timeouts.request_seconds for b in backends)
    action.timeout.CopyFrom(duration(timeout))
    return rc_pb2.Route(name=route.name, match=build_match(route.match), route=action)


def build_match(match: RouteMatch) -> Any:
    built = rc_pb2.RouteMatch()
    path = match.path
    if path.type == "exact":
        built.path = path.value
    elif path.type == "prefix":
        built.prefix = path.value
    else:
        built.safe_regex.CopyFrom(_regex(path.value))
    if match.methods:
        methods = sorted(match.methods)
        method_matcher = (
            string_pb2.StringMatcher(exact=methods[0])
            if len(methods) == 1
            else string_pb2.StringMatcher(safe_regex=_regex("|".join(methods)))
        )
        built.headers.append(rc_pb2.HeaderMatcher(name=":method", string_match=method_matcher))
    built.headers.extend(_header_matcher(header) for header in match.headers)
    built.query_parameters.extend(_query_matcher(param) for param in match.query_params)
    return built


def _header_matcher(header: HeaderMatch) -> Any:
    matcher = rc_pb2.HeaderMatcher(name=header.name.lower(), invert_match=header.invert)
    if header.type == "present":
        matcher.present_match = True
    else:
        matcher.string_match.CopyFrom(_string_matcher(header.type, header.value or ""))
    return matcher


def _query_matcher(param: QueryParamMatch) -> Any:
    matcher = rc_pb2.QueryParameterMatcher(name=param.name)
    if param.type == "present":
        matcher.present_match = True
    else:
        matcher.string_match.CopyFrom(_string_matcher(param.type, param.value or ""))
    return matcher


def _string_matcher(kind: str, value: str) -> Any:
    if kind == "regex":
        return string_pb2.StringMatcher(safe_regex=_regex(value))
    return string_pb2.StringMatcher(exact=value)


def _regex(pattern: str) -> Any:
    return regex_pb2.RegexMatcher(regex=pattern)

"""Edge policies become fields of a route, or of a listener's route configuration.

Header changes use the route's own header lists; everything else is a per-filter config of the
filter in `http_filters` that enforces it, which also switches that filter (disabled in the
listener) on for the route, or for all routes of a listener's route configuration. Route
configurations let the most specific level's header changes win, so a route overrides its
listener.
"""

from typing import Any

from envoy.config.core.v3 import base_pb2
from envoy.config.rbac.v3 import rbac_pb2 as rbac_config_pb2
from envoy.extensions.filters.http.buffer.v3 import buffer_pb2
from envoy.extensions.filters.http.compressor.v3 import compressor_pb2
from envoy.extensions.filters.http.cors.v3 import cors_pb2
from envoy.extensions.filters.http.csrf.v3 import csrf_pb2
from envoy.extensions.filters.http.header_mutation.v3 import header_mutation_pb2
from envoy.extensions.filters.http.rbac.v3 import rbac_pb2
from google.protobuf.any_pb2 import Any as AnyMessage

from controlplane.model import ListenerSpec, RouteSpec
from controlplane.model.edge import (
    ClientIps,
    CorsPolicy,
    SecurityHeaders,
    SecurityHeadersOverride,
)
from controlplane.model.transforms import HeaderChanges, QueryChanges, Transform
from controlplane.translator.http_filters import (
    BODY_LIMIT,
    CLIENT_IPS,
    COMPRESSORS,
    CORS,
    CSRF,
    QUERY_CHANGES,
)
from controlplane.translator.protos import packed

_OPTION = base_pb2.HeaderValueOption
_APPEND = base_pb2.KeyValueAppend
SECURITY_HEADER_NAMES = {
    "content_security_policy": "content-security-policy",
    "strict_transport_security": "strict-transport-security",
    "x_content_type_options": "x-content-type-options",
    "x_frame_options": "x-frame-options",
    "referrer_policy": "referrer-policy",
}


def route_policy_fields(route: RouteSpec) -> dict[str, Any]:
    """Fields to add to the route's `Route` message."""
    fields = _transform_fields(route.transform)
    typed = _typed_configs(route.transform, route.cors, route.client_ips)
    if route.security_headers is not None:
        _override_security_headers(fields, route.security_headers)
    if route.csrf is not None:
        typed[CSRF] = packed(
            csrf_pb2.CsrfPolicy(
                filter_enabled={"default_value": {"numerator": 100}},
                additional_origins=[{"exact": origin} for origin in route.csrf.additional_origins],
            )
        )
    if route.max_body_bytes is not None:
        typed[BODY_LIMIT] = packed(
            buffer_pb2.BufferPerRoute(buffer={"max_request_bytes": {"value": route.max_body_bytes}})
        )
    if route.compression is not None:
        # Any per-route config switches on a compressor the listener has off by default.
        switch = packed(
            compressor_pb2.CompressorPerRoute(overrides={"response_direction_config": {}})
            if route.compression
            else compressor_pb2.CompressorPerRoute(disabled=True)
        )
        typed.update((name, switch) for name in COMPRESSORS.values())
    if typed:
        fields["typed_per_filter_config"] = typed
    return fields


def listener_route_config_fields(listener: ListenerSpec) -> dict[str, Any]:
    """Fields of the listener's `RouteConfiguration`: the defaults of all its routes."""
    fields = _transform_fields(listener.transform)
    fields["most_specific_header_mutations_wins"] = True
    if listener.security_headers is not None:
        fields.setdefault("response_headers_to_add", []).extend(
            _security_headers(listener.security_headers)
        )
    typed = _typed_configs(listener.transform, listener.cors, listener.client_ips)
    if typed:
        fields["typed_per_filter_config"] = typed
    return fields


def _transform_fields(transform: Transform | None) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if transform is None:
        return fields
    for direction, changes in (
        ("request", transform.request_headers),
        ("response", transform.response_headers),
    ):
        if changes is not None:
            _header_fields(fields, direction, changes)
    return fields


def _header_fields(fields: dict[str, Any], direction: str, changes: HeaderChanges) -> None:
    options = [
        _header(header.name, header.value, _OPTION.OVERWRITE_IF_EXISTS_OR_ADD)
        for header in changes.set
    ]
    options += [
        _header(header.name, header.value, _OPTION.APPEND_IF_EXISTS_OR_ADD)
        for header in changes.add
    ]
    if options:
        fields[f"{direction}_headers_to_add"] = options
    if changes.remove:
        fields[f"{direction}_headers_to_remove"] = list(changes.remove)


def _header(name: str, value: str, action: int) -> dict[str, Any]:
    return {"header": {"key": name, "value": value}, "append_action": action}


def _security_headers(preset: SecurityHeaders) -> list[dict[str, Any]]:
    # An upstream that sets one of these itself knows better: keep its value.
    return [
        _header(name, value, _OPTION.ADD_IF_ABSENT)
        for field, name in SECURITY_HEADER_NAMES.items()
        if (value := getattr(preset, field)) is not None
    ]


def _override_security_headers(fields: dict[str, Any], override: SecurityHeadersOverride) -> None:
    if not override.enabled:
        removed = fields.setdefault("response_headers_to_remove", [])
        removed.extend(SECURITY_HEADER_NAMES.values())
        return
    fields.setdefault("response_headers_to_add", []).extend(
        _header(name, value, _OPTION.OVERWRITE_IF_EXISTS_OR_ADD)
        for field, name in SECURITY_HEADER_NAMES.items()
        if (value := getattr(override, field)) is not None
    )


def _typed_configs(
    transform: Transform | None, cors: CorsPolicy | None, client_ips: ClientIps | None
) -> dict[str, AnyMessage]:
    typed: dict[str, AnyMessage] = {}
    if transform is not None and transform.query is not None:
        typed[QUERY_CHANGES] = packed(_query_changes(transform.query))
    if cors is not None:
        typed[CORS] = packed(_cors(cors))
    if client_ips is not None:
        typed[CLIENT_IPS] = packed(_client_ips(client_ips))
    return typed


def _query_changes(query: QueryChanges) -> Any:
    mutations: list[dict[str, Any]] = [{"remove": name} for name in query.remove]
    mutations += [
        {
            "append": {
                "record": {"key": p.name, "value": {"string_value": p.value}},
                "action": action,
            }
        }
        for action, params in (
            (_APPEND.OVERWRITE_IF_EXISTS_OR_ADD, query.set),
            (_APPEND.APPEND_IF_EXISTS_OR_ADD, query.add),
        )
        for p in params
    ]
    return header_mutation_pb2.HeaderMutationPerRoute(
        mutations={"query_parameter_mutations": mutations}
    )


def _cors(cors: CorsPolicy) -> Any:
    origins = [
        {"safe_regex": {"regex": ".*"}} if origin == "*" else {"exact": origin}
        for origin in cors.allow_origins
    ]
    policy = cors_pb2.CorsPolicy(
        allow_origin_string_match=origins,
        allow_methods=",".join(cors.allow_methods),
        allow_headers=",".join(cors.allow_headers),
        expose_headers=",".join(cors.expose_headers),
        allow_credentials={"value": cors.allow_credentials},
    )
    if cors.max_age_seconds is not None:
        policy.max_age = str(cors.max_age_seconds)
    return policy


def _client_ips(client_ips: ClientIps) -> Any:
    """One ALLOW policy: the client is in an allowed range (if any) and in no denied range."""
    conditions: list[dict[str, Any]] = []
    if client_ips.allow:
        conditions.append({"or_ids": {"ids": _ranges(client_ips.allow)}})
    if client_ips.deny:
        conditions.append({"not_id": {"or_ids": {"ids": _ranges(client_ips.deny)}}})
    rules = rbac_config_pb2.RBAC(
        action=rbac_config_pb2.RBAC.ALLOW,
        policies={
            "client-ips": {
                "permissions": [{"any": True}],
                "principals": [{"and_ids": {"ids": conditions}}],
            }
        },
    )
    return rbac_pb2.RBACPerRoute(rbac={"rules": rules})


def _ranges(cidrs: list[str]) -> list[dict[str, Any]]:
    # remote_ip: the client address the connection manager worked out (X-Forwarded-For with
    # the listener's trusted hops), not merely the peer.
    ranges = []
    for cidr in cidrs:
        prefix, length = cidr.split("/")
        ranges.append(
            {"remote_ip": {"address_prefix": prefix, "prefix_len": {"value": int(length)}}}
        )
    return ranges

"""Listeners become Envoy listeners whose HTTP connection manager takes routes over RDS.

Routes are never inlined here: a route change then only touches RDS and never drains a
listener, so players' WebSockets and gRPC streams survive every config push. Likewise TLS
certificates arrive over SDS: a rotated certificate changes a secret, not the listener.
"""

from typing import Any

from envoy.config.core.v3 import protocol_pb2
from envoy.config.listener.v3 import listener_components_pb2, listener_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2

from controlplane.model import ListenerSpec, ListenerTls
from controlplane.model.edge import PathNormalization
from controlplane.translator.auth_events import auth_events_log
from controlplane.translator.auth_extauthz import ExtAuthzService
from controlplane.translator.auth_filters import denial_replies, identity_strip
from controlplane.translator.http_filters import http_filters
from controlplane.translator.protos import ads_source, duration_fields, packed, socket_address
from controlplane.translator.ratelimits import RateLimitService

HCM_FILTER = "envoy.filters.network.http_connection_manager"
TLS_TRANSPORT_SOCKET = "envoy.transport_sockets.tls"
HCM = hcm_pb2.HttpConnectionManager
DROP_UNDERSCORED = protocol_pb2.HttpProtocolOptions.DROP_HEADER

_ESCAPED_SLASHES = {
    "keep": HCM.KEEP_UNCHANGED,
    "reject": HCM.REJECT_REQUEST,
    "unescape_and_redirect": HCM.UNESCAPE_AND_REDIRECT,
    "unescape_and_forward": HCM.UNESCAPE_AND_FORWARD,
}


def route_config_name(listener: ListenerSpec) -> str:
    return listener.name


def build_listener(
    listener: ListenerSpec,
    ratelimit: RateLimitService | None = None,
    extauthz: ExtAuthzService | None = None,
) -> Any:
    """`ratelimit`: the rate-limit service, when global rate limiting is on; `extauthz`: the
    auth service, when there is one."""
    manager = HCM(
        stat_prefix=listener.name,
        codec_type=HCM.AUTO if listener.http2 else HCM.HTTP1,
        rds=hcm_pb2.Rds(config_source=ads_source(), route_config_name=route_config_name(listener)),
        early_header_mutation_extensions=[identity_strip()],
        http_filters=http_filters(listener, ratelimit, extauthz),
        local_reply_config=denial_replies(),
        # Auth denials to the auth service's event sink, when there is an auth service.
        access_log=[auth_events_log()] if extauthz is not None else [],
        upgrade_configs=[HCM.UpgradeConfig(upgrade_type="websocket")],
        # The client address (for client IP lists and %DOWNSTREAM_REMOTE_ADDRESS%) is the peer,
        # or the X-Forwarded-For entry the trusted hops select; never what a client claims.
        use_remote_address={"value": True},
        xff_num_trusted_hops=listener.trusted_proxy_hops,
        common_http_protocol_options={
            "max_headers_count": {"value": listener.limits.max_header_count},
            # `x_chaosgw_player_id` is `x-chaosgw-player-id` to a CGI/WSGI/PHP backend
            # (both are HTTP_X_CHAOSGW_PLAYER_ID): a header with an underscore is dropped, so no
            # spelling of an identity header gets past the identity strip. Envoy counts each in
            # `http1.dropped_headers_with_underscores` / `http2.dropped_headers_with_underscores`.
            "headers_with_underscores_action": DROP_UNDERSCORED,
        },
        max_request_headers_kb={"value": listener.limits.max_header_kb},
        # Always explicit: 0 switches a timeout off (Envoy's own defaults: 300 s and off).
        stream_idle_timeout=duration_fields(listener.stream_idle_timeout_seconds),
        request_timeout=duration_fields(listener.request_timeout_seconds),
        **_path_fields(listener.paths),
    )
    chain = listener_components_pb2.FilterChain(
        filters=[listener_components_pb2.Filter(name=HCM_FILTER, typed_config=packed(manager))]
    )
    if listener.tls is not None:
        chain.transport_socket.name = TLS_TRANSPORT_SOCKET
        chain.transport_socket.typed_config.CopyFrom(
            packed(_tls_context(listener.tls, listener.http2))
        )
    return listener_pb2.Listener(
        name=listener.name,
        address=socket_address(listener.address, listener.port),
        filter_chains=[chain],
    )


def _path_fields(paths: PathNormalization) -> dict[str, Any]:
    return {
        "normalize_path": {"value": paths.normalize},
        "merge_slashes": paths.merge_slashes,
        "path_with_escaped_slashes_action": _ESCAPED_SLASHES[paths.escaped_slashes],
    }


def _tls_context(tls: ListenerTls, http2: bool) -> Any:
    return tls_pb2.DownstreamTlsContext(
        common_tls_context={
            # Fetched by name over ADS, like routes: see translator/secrets.py.
            "tls_certificate_sds_secret_configs": [
                {"name": name, "sds_config": ads_source()} for name in tls.certificates
            ],
            "alpn_protocols": ["h2", "http/1.1"] if http2 else ["http/1.1"],
        },
    )

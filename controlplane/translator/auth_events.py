"""Auth events: every listener sends the gateway's own auth denials to the auth service, off
the request path, so one place counts them by reason and sees one source failing again and
again (extauthz/events.py), whichever filter refused: `jwt_authn`, `rbac` or `ext_authz`.

An HTTP connection manager access log (`envoy.access_loggers.http_grpc`): Envoy writes the entry
after the response went out and streams entries in batches to the `extauthz` processes (the
same cluster and ports as their Authorization service), dropping them if the service is away.
Its filter keeps only what the gateway itself refused for auth (the response code details
Envoy 1.40 sets: `jwt_authn_access_denied{<status>}`, `rbac_access_denied_matched_policy[..]`,
`ext_authz_denied`, `ext_authz_error`): allowed requests and an upstream's own 401s (details
`via_upstream`) never reach Python. A cheap status test (>= 401) comes first; the CEL test only
runs for error responses.

No header is added to the entries (`additional_*_headers_to_log` stay empty), nor filter state
or custom tags: no token, key or cookie is sent. The sink reads only the client address, the
route name and the response code details. (The http_grpc logger always fills some fields of its
own that no option turns off: the path with its query string, authority, user agent,
X-Forwarded-For, and the stream's dynamic metadata, which after an `rbac` denial holds the
verified token's claims, not the token. Seen on Envoy 1.40: no Authorization, x-api-key or
cookie value is in the entries. The sink never reads or logs those fields; a logger with full
control of its fields would be the OpenTelemetry one.)

It is a listener setting that depends only on the control plane's settings (is there an auth
service?): a policy change never changes a listener.
"""

from typing import Any

from envoy.config.accesslog.v3 import accesslog_pb2
from envoy.config.core.v3 import config_source_pb2, grpc_service_pb2
from envoy.extensions.access_loggers.filters.cel.v3 import cel_pb2
from envoy.extensions.access_loggers.grpc.v3 import als_pb2

from controlplane.translator.auth_extauthz import SERVICE_CLUSTER
from controlplane.translator.protos import duration_fields, packed

HTTP_GRPC_LOGGER = "envoy.access_loggers.http_grpc"
CEL_FILTER = "envoy.access_loggers.extension_filters.cel"
# The stream's log name (the sink accepts any; it names the source in Envoy's stats).
LOG_NAME = "chaosgw.auth_events"
# Response code details of the denials the gateway makes (prefixes, as Envoy 1.40 sets them).
DENIAL_DETAILS = (
    "jwt_authn_access_denied",
    "rbac_access_denied",
    "ext_authz_denied",
    "ext_authz_error",
)
# Entries are batched: sent when this much is buffered or at the flush interval.
_FLUSH_SECONDS = 1.0
_BUFFER_BYTES = 16384
# Every auth denial is 401 or above (jwt_authn 401, rbac 403, ext_authz 401/403, errors 503).
_LOWEST_DENIAL_STATUS = 401


def denial_expression() -> str:
    return " || ".join(f'response.code_details.startsWith("{d}")' for d in DENIAL_DETAILS)


def auth_events_log() -> Any:
    """The `HttpConnectionManager.access_log` entry sending auth denials to the auth service's
    cluster; for listeners only when there is an auth service."""
    config = als_pb2.HttpGrpcAccessLogConfig(
        common_config=als_pb2.CommonGrpcAccessLogConfig(
            log_name=LOG_NAME,
            grpc_service=grpc_service_pb2.GrpcService(
                envoy_grpc=grpc_service_pb2.GrpcService.EnvoyGrpc(cluster_name=SERVICE_CLUSTER)
            ),
            transport_api_version=config_source_pb2.ApiVersion.V3,
            buffer_flush_interval=duration_fields(_FLUSH_SECONDS),
            buffer_size_bytes={"value": _BUFFER_BYTES},
        ),
    )
    only_denials = accesslog_pb2.AccessLogFilter(
        and_filter=accesslog_pb2.AndFilter(
            filters=[
                accesslog_pb2.AccessLogFilter(
                    status_code_filter=accesslog_pb2.StatusCodeFilter(
                        comparison=accesslog_pb2.ComparisonFilter(
                            op=accesslog_pb2.ComparisonFilter.GE,
                            value={
                                "default_value": _LOWEST_DENIAL_STATUS,
                                "runtime_key": "chaosgw.auth_events.lowest_status",
                            },
                        )
                    )
                ),
                accesslog_pb2.AccessLogFilter(
                    extension_filter={
                        "name": CEL_FILTER,
                        "typed_config": packed(
                            cel_pb2.ExpressionFilter(expression=denial_expression())
                        ),
                    }
                ),
            ]
        )
    )
    return accesslog_pb2.AccessLog(
        name=HTTP_GRPC_LOGGER, filter=only_denials, typed_config=packed(config)
    )

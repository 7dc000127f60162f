"""Routes whose credentials only the auth service can check (API keys) go through Envoy's
`ext_authz` filter to the `extauthz` processes.

The filter sits in every listener's chain (after `rbac`, before the global rate limit), disabled:
a route turns it on in its own configuration (over RDS), naming itself in the check's context
(`route`), which selects the route's policy in the service. Unprotected routes never call the
service. It fails closed: when the service cannot answer in time, Envoy refuses the request.
Only the headers that can carry a credential are sent, and never the body.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from envoy.config.core.v3 import config_source_pb2, grpc_service_pb2
from envoy.config.route.v3 import route_components_pb2 as rc_pb2
from envoy.extensions.filters.http.ext_authz.v3 import ext_authz_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)
from envoy.type.matcher.v3 import string_pb2

from controlplane.translator.protos import duration_fields, packed
from controlplane.translator.service_clusters import grpc_service_cluster, host_port

# No user service can be named so: names have no dots.
SERVICE_CLUSTER = "chaosgw.extauthz"
EXTAUTHZ_FILTER = "chaosgw.ext_authz"
# The check's context extension naming the route (and so its policy in the service).
ROUTE_CONTEXT = "route"
API_KEY_HEADER = "x-api-key"
# Where a key may also come: `Authorization: ApiKey <key>`.
AUTHORIZATION_HEADER = "authorization"
# Tokens read from a cookie (the check request carries the path, so its query string, anyway).
# Where a session id comes: a header of this fixed name, or the route's cookie. Fixed, as the
# listener's filter lists them: a route change never changes a listener.
SESSION_HEADER = "x-chaosgw-session"
COOKIE_HEADER = "cookie"
# When the service fails or is too slow: the request is refused, and says it was not the caller.
_STATUS_ON_ERROR = 503


@dataclass(frozen=True)
class ExtAuthzService:
    """Where Envoy asks for auth decisions."""

    endpoints: tuple[tuple[str, int], ...]
    timeout_seconds: float = 0.2
    # Where Envoys mount their client certificate files; empty: plaintext to the service.
    tls_dir: str = ""

    @classmethod
    def of(
        cls, endpoints: Iterable[str], timeout_seconds: float, tls_dir: str = ""
    ) -> "ExtAuthzService | None":
        """From `host:port` strings; None when there are none (no auth service)."""
        parsed = tuple(host_port(endpoint) for endpoint in endpoints)
        return cls(parsed, timeout_seconds, tls_dir) if parsed else None


def extauthz_filter(service: ExtAuthzService) -> Any:
    config = ext_authz_pb2.ExtAuthz(
        grpc_service=grpc_service_pb2.GrpcService(
            envoy_grpc=grpc_service_pb2.GrpcService.EnvoyGrpc(cluster_name=SERVICE_CLUSTER),
            timeout=duration_fields(service.timeout_seconds),
        ),
        transport_api_version=config_source_pb2.ApiVersion.V3,
        failure_mode_allow=False,
        status_on_error={"code": _STATUS_ON_ERROR},
        allowed_headers=string_pb2.ListStringMatcher(
            patterns=[
                string_pb2.StringMatcher(exact=name)
                for name in (API_KEY_HEADER, AUTHORIZATION_HEADER, SESSION_HEADER, COOKIE_HEADER)
            ]
        ),
    )
    return hcm_pb2.HttpFilter(name=EXTAUTHZ_FILTER, typed_config=packed(config), disabled=True)


def build_service_cluster(service: ExtAuthzService) -> Any:
    return grpc_service_cluster(
        SERVICE_CLUSTER, service.endpoints, "extauthz" if service.tls_dir else None
    )


def extauthz_per_route(route: str) -> Any:
    """Turns the filter on for the route, naming it in every check."""
    check = ext_authz_pb2.ExtAuthzPerRoute(
        check_settings=ext_authz_pb2.CheckSettings(context_extensions={ROUTE_CONTEXT: route})
    )
    return packed(rc_pb2.FilterConfig(config=packed(check)))

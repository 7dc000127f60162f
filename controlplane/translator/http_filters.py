"""The HTTP filter chain of every listener's connection manager, in the order Envoy runs it.

Requests pass the filters top to bottom, responses bottom to top (so the compressors, first,
compress the final response). The filters of per-route policies (client IPs, local and global
rate limits, CORS, CSRF, JWT, roles, query changes, body limits) are always in the chain and
take their policy from the route configuration: a policy added to a route or a listener travels
over RDS and never changes, and so never drains, the listener.

Each of them is `disabled` here: Envoy builds a stream's filters once it has picked the route,
and skips a disabled filter unless the route, its virtual host or its route configuration
carries a per-filter config for it (every policy does). So a request whose route has no policy
pays for none of these filters.
"""

from typing import Any

from envoy.config.core.v3 import base_pb2
from envoy.extensions.compression.brotli.compressor.v3 import brotli_pb2
from envoy.extensions.compression.gzip.compressor.v3 import gzip_pb2
from envoy.extensions.compression.zstd.compressor.v3 import zstd_pb2
from envoy.extensions.filters.http.buffer.v3 import buffer_pb2
from envoy.extensions.filters.http.compressor.v3 import compressor_pb2
from envoy.extensions.filters.http.cors.v3 import cors_pb2
from envoy.extensions.filters.http.csrf.v3 import csrf_pb2
from envoy.extensions.filters.http.grpc_web.v3 import grpc_web_pb2
from envoy.extensions.filters.http.header_mutation.v3 import header_mutation_pb2
from envoy.extensions.filters.http.rbac.v3 import rbac_pb2
from envoy.extensions.filters.http.router.v3 import router_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)
from envoy.type.v3 import percent_pb2
from google.protobuf.message import Message

from controlplane.model import ListenerSpec
from controlplane.model.edge import Algorithm, Compression
from controlplane.translator import ratelimits
from controlplane.translator.auth_extauthz import ExtAuthzService, extauthz_filter
from controlplane.translator.auth_filters import auth_http_filters
from controlplane.translator.protos import packed
from controlplane.translator.ratelimits import RateLimitService

# Names are what per-route configs are keyed by; each must be unique in a chain.
COMPRESSORS: dict[Algorithm, str] = {
    "zstd": "chaosgw.compressor.zstd",
    "brotli": "chaosgw.compressor.brotli",
    "gzip": "chaosgw.compressor.gzip",
}
CLIENT_IPS = "envoy.filters.http.rbac"
CORS = "envoy.filters.http.cors"
CSRF = "envoy.filters.http.csrf"
GRPC_WEB = "envoy.filters.http.grpc_web"
QUERY_CHANGES = "envoy.filters.http.header_mutation"
BODY_LIMIT = "envoy.filters.http.buffer"
ROUTER = "envoy.filters.http.router"

_LIBRARIES: dict[Algorithm, tuple[str, Message]] = {
    "zstd": ("envoy.compression.zstd.compressor", zstd_pb2.Zstd()),
    "brotli": ("envoy.compression.brotli.compressor", brotli_pb2.Brotli()),
    "gzip": ("envoy.compression.gzip.compressor", gzip_pb2.Gzip()),
}
# A required field; the route's body limit replaces it.
_UNUSED_BODY_LIMIT = 1024 * 1024


def http_filters(
    listener: ListenerSpec,
    ratelimit: RateLimitService | None,
    extauthz: ExtAuthzService | None = None,
) -> list[Any]:
    filters = [*_compressors(listener.compression)]
    filters += [
        _filter(CLIENT_IPS, rbac_pb2.RBAC(), off=True),
        # Cheap per-Envoy protections (an IP flood guard) before anything costlier.
        ratelimits.local_filter(),
        _filter(CORS, cors_pb2.Cors(), off=True),
        # The field is required; a route's policy replaces it with its own.
        _filter(
            CSRF,
            csrf_pb2.CsrfPolicy(
                filter_enabled=base_pb2.RuntimeFractionalPercent(
                    default_value=percent_pb2.FractionalPercent(numerator=0)
                )
            ),
            off=True,
        ),
    ]
    if listener.grpc_web:
        filters.append(_filter(GRPC_WEB, grpc_web_pb2.GrpcWeb()))
    # Identity first (verify tokens, check roles, ask the auth service about API keys; what
    # clients claim is stripped before any filter, see auth_filters), so the rate limiter counts
    # verified callers only.
    filters += auth_http_filters()
    if extauthz is not None:
        filters.append(extauthz_filter(extauthz))
    if ratelimit is not None:
        filters.append(ratelimits.global_filter(ratelimit))
    filters += [
        _filter(QUERY_CHANGES, header_mutation_pb2.HeaderMutation(), off=True),
        _filter(
            BODY_LIMIT, buffer_pb2.Buffer(max_request_bytes={"value": _UNUSED_BODY_LIMIT}), off=True
        ),
        _filter(ROUTER, router_pb2.Router()),
    ]
    return filters


def _compressors(compression: Compression | None) -> list[Any]:
    if compression is None:
        return []
    common = compressor_pb2.Compressor.CommonDirectionConfig(
        min_content_length={"value": compression.min_size_bytes},
        content_type=compression.content_types,
    )
    filters = []
    for algorithm in compression.algorithms:
        library, config = _LIBRARIES[algorithm]
        compressor = compressor_pb2.Compressor(
            compressor_library={"name": library, "typed_config": packed(config)},
            response_direction_config={"common_config": common},
        )
        filters.append(
            _filter(COMPRESSORS[algorithm], compressor, off=compression.routes == "opt_in")
        )
    return filters


def _filter(name: str, config: Message, *, off: bool = False) -> Any:
    return hcm_pb2.HttpFilter(name=name, typed_config=packed(config), disabled=off)

"""Listeners become Envoy listeners whose HTTP connection manager takes routes over RDS.

Routes are never inlined here: a route change then only touches RDS and never drains a
listener, so players' WebSockets and gRPC streams survive every config push.
"""

from typing import Any

from envoy.config.listener.v3 import listener_components_pb2, listener_pb2
from envoy.extensions.filters.http.router.v3 import router_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)

from controlplane.model import ListenerSpec
from controlplane.translator.auth_filters import auth_http_filters, denial_replies
from controlplane.translator.protos import ads_source, packed, socket_address

HCM_FILTER = "envoy.filters.network.http_connection_manager"
ROUTER_FILTER = "envoy.filters.http.router"
HCM = hcm_pb2.HttpConnectionManager


def route_config_name(listener: ListenerSpec) -> str:
    return listener.name


def build_listener(listener: ListenerSpec) -> Any:
    manager = HCM(
        stat_prefix=listener.name,
        codec_type=HCM.AUTO if listener.http2 else HCM.HTTP1,
        rds=hcm_pb2.Rds(config_source=ads_source(), route_config_name=route_config_name(listener)),
        http_filters=[
            *auth_http_filters(),
            hcm_pb2.HttpFilter(name=ROUTER_FILTER, typed_config=packed(router_pb2.Router())),
        ],
        local_reply_config=denial_replies(),
        upgrade_configs=[HCM.UpgradeConfig(upgrade_type="websocket")],
    )
    return listener_pb2.Listener(
        name=listener.name,
        address=socket_address(listener.address, listener.port),
        filter_chains=[
            listener_components_pb2.FilterChain(
                filters=[
                    listener_components_pb2.Filter(name=HCM_FILTER, typed_config=packed(manager))
                ]
            )
        ],
    )

"""The auth events access log: on every listener when there is an auth service, on none
otherwise; it sends to the auth service's cluster, no header, only the gateway's auth denials.
(It is a constant: `auth_events_log()` takes nothing a policy declares.)"""

from typing import Any

from envoy.extensions.access_loggers.filters.cel.v3 import cel_pb2
from envoy.extensions.access_loggers.grpc.v3 import als_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)

from controlplane.translator import translate
from controlplane.translator.auth_events import DENIAL_DETAILS, HTTP_GRPC_LOGGER
from controlplane.translator.auth_extauthz import SERVICE_CLUSTER
from tests.unit.translator.golden_state import EXTAUTHZ, RATELIMIT, golden_state


def _managers(extauthz: Any) -> list[Any]:
    managers = []
    for resources in translate(golden_state(), RATELIMIT, extauthz).values():
        for listener in resources.decoded()["listeners"]:
            manager = hcm_pb2.HttpConnectionManager()
            assert listener.filter_chains[0].filters[0].typed_config.Unpack(manager)
            managers.append(manager)
    assert managers
    return managers


def test_every_listener_sends_auth_denials_to_the_auth_service() -> None:
    for manager in _managers(EXTAUTHZ):
        (log,) = manager.access_log
        assert log.name == HTTP_GRPC_LOGGER
        config = als_pb2.HttpGrpcAccessLogConfig()
        assert log.typed_config.Unpack(config)
        assert config.common_config.grpc_service.envoy_grpc.cluster_name == SERVICE_CLUSTER
        # No header, filter state or tag of the request goes into the entries.
        assert not config.additional_request_headers_to_log
        assert not config.additional_response_headers_to_log
        assert not config.additional_response_trailers_to_log
        assert not config.common_config.filter_state_objects_to_log
        assert not config.common_config.custom_tags
        status, cel = log.filter.and_filter.filters
        assert status.status_code_filter.comparison.value.default_value == 401
        expression = cel_pb2.ExpressionFilter()
        assert cel.extension_filter.typed_config.Unpack(expression)
        for details in DENIAL_DETAILS:
            assert f'response.code_details.startsWith("{details}")' in expression.expression


def test_without_an_auth_service_no_listener_logs() -> None:
    assert all(not manager.access_log for manager in _managers(None))

"""A route accepting sessions: its policy names the kind and the cookie, and the listener's
ext_authz filter always sends the session header and cookies (a route change never touches a
listener)."""

from dataclasses import replace

from chaosgw.auth.v1 import auth_pb2
from envoy.extensions.filters.http.ext_authz.v3 import ext_authz_pb2

from authcontract.identity import IDENTITY_HEADERS
from controlplane.model import AuthenticatedAuth
from controlplane.model.auth_route import SessionCredential
from controlplane.translator import route_policy_resources
from controlplane.translator.auth_extauthz import ExtAuthzService, extauthz_filter
from tests.unit.translator.golden_state import golden_state


def test_a_session_route_policy_names_its_cookie() -> None:
    state = golden_state()
    routes = tuple(
        route.model_copy(
            update={
                "auth": AuthenticatedAuth(
                    type="authenticated",
                    credentials=[SessionCredential(cookie="sid")],
                    roles_any_of=["admin"],
                )
            }
        )
        if route.name == "partner-orders"
        else route
        for route in state.routes
    )

    sent = route_policy_resources(replace(state, routes=routes))

    payload = next(resource.payload for resource in sent if resource.name == "partner-orders")
    policy = auth_pb2.RoutePolicy.FromString(payload)
    assert list(policy.credentials) == [auth_pb2.RoutePolicy.SESSION]
    assert policy.session_cookie == "sid"
    assert SessionCredential().cookie == "chaosgw_session"


def test_the_filter_sends_the_session_header_and_cookies_and_clients_cannot_forge_its_id() -> None:
    config = ext_authz_pb2.ExtAuthz()
    extauthz_filter(ExtAuthzService((("127.0.0.1", 1),))).typed_config.Unpack(config)

    allowed = [matcher.exact for matcher in config.allowed_headers.patterns]
    assert {"x-chaosgw-session", "cookie"} <= set(allowed)
    assert "x-chaosgw-session-id" in IDENTITY_HEADERS

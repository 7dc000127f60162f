"""Route policies pushed by the control plane: which credentials a guarded route accepts and
what their holder must be. A set is taken whole or refused whole (the ADS subscriber NACKs
it): the service never decides with half of an update."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from chaosgw.auth.v1 import auth_pb2

from extauthz import metrics, response
from extauthz.identity import API_KEY, JWT, OAUTH2, SESSION
from extauthz.owner_rule import OwnerRule

_KINDS = {
    auth_pb2.RoutePolicy.API_KEY: API_KEY,
    auth_pb2.RoutePolicy.JWT: JWT,
    auth_pb2.RoutePolicy.SESSION: SESSION,
    auth_pb2.RoutePolicy.OAUTH2_INTROSPECTION: OAUTH2,
}


class InvalidResources(ValueError):
    """A pushed set cannot be applied; the message says which resource and why (never a
    secret)."""


@dataclass(frozen=True, slots=True)
class RoutePolicy:
    route: str
    # The credential kinds accepted, any of them.
    accepts: frozenset[str]
    # One role of each set.
    required: tuple[frozenset[str], ...]
    # `WWW-Authenticate` of its 401s.
    challenge: str
    # The JWT providers whose tokens it accepts.
    jwt_providers: frozenset[str] = frozenset()
    # A resource-level rule, checked after the role terms.
    owner: OwnerRule | None = None
    # OAuth 2.0 introspectors asked about an opaque token, in order.
    introspectors: tuple[str, ...] = ()
    # The cookie a session id may come in (empty: none).
    session_cookie: str = ""

    def admits(self, roles: frozenset[str]) -> bool:
        return all(not required.isdisjoint(roles) for required in self.required)


def compile_policies(messages: Sequence[auth_pb2.RoutePolicy]) -> dict[str, RoutePolicy]:
    policies: dict[str, RoutePolicy] = {}
    for message in messages:
        if not message.route or message.route in policies:
            raise InvalidResources(f"route policy {message.route!r}: no route, or one seen twice")
        unknown = [kind for kind in message.credentials if kind not in _KINDS]
        if unknown or not message.credentials:
            raise InvalidResources(f"route policy {message.route!r}: no or unknown credentials")
        kinds = [_KINDS[kind] for kind in message.credentials]
        if (JWT in kinds) != bool(message.jwt_providers):
            raise InvalidResources(
                f"route policy {message.route!r}: JWT providers with no JWT kind, or none"
            )
        owner = None
        if message.HasField("owner"):
            rule = message.owner
            try:
                owner = OwnerRule.compile(
                    rule.path_parameter, rule.path_regex, [*rule.unless_roles]
                )
            except ValueError as error:
                raise InvalidResources(f"route policy {message.route!r}: {error}") from None
        if (OAUTH2 in kinds) != bool(message.introspectors):
            raise InvalidResources(
                f"route policy {message.route!r}: introspectors without OAuth2 tokens, or none"
            )
        policies[message.route] = RoutePolicy(
            route=message.route,
            accepts=frozenset(kinds),
            required=tuple(frozenset(required.roles) for required in message.required),
            challenge=response.challenge(kinds),
            jwt_providers=frozenset(message.jwt_providers),
            owner=owner,
            introspectors=tuple(message.introspectors),
            session_cookie=message.session_cookie,
        )
    return policies


class RoutePolicies:
    """The live set, replaced whole by its subscription."""

    def __init__(self) -> None:
        self.by_route: Mapping[str, RoutePolicy] = {}

    def replace(self, policies: Mapping[str, RoutePolicy]) -> None:
        self.by_route = policies
        metrics.ROUTE_POLICIES.set(len(policies))

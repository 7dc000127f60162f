"""Which credential a request presents to a route, and the checkers of each kind.

A request is judged by the first credential it carries that the route accepts: an API key
(`x-api-key`, or `Authorization: ApiKey ...`), then a session id (`x-chaosgw-session`, or the
route's cookie), then a bearer token (a JWT when it has a JWT's shape and the route accepts
JWTs, otherwise an opaque token for introspection).
"""

from collections.abc import Mapping
from typing import Protocol

from extauthz.identity import API_KEY, JWT, OAUTH2, SESSION, Identity, Presented
from extauthz.policies import RoutePolicy

API_KEY_HEADER = "x-api-key"
AUTHORIZATION_HEADER = "authorization"
SESSION_HEADER = "x-chaosgw-session"
COOKIE_HEADER = "cookie"
# The request headers a check may need: what Envoy sends the service, and nothing else.
CREDENTIAL_HEADERS = (API_KEY_HEADER, AUTHORIZATION_HEADER, SESSION_HEADER, COOKIE_HEADER)


class Verifier(Protocol):
    async def verify(self, presented: Presented, policy: RoutePolicy) -> Identity | str:
        """The identity the credential proves, or the reason (denials.REASONS) it proves
        nothing."""
        ...


class JwtLocator(Protocol):
    def __call__(
        self, headers: Mapping[str, str], path: str, policy: RoutePolicy
    ) -> Presented | None:
        """A JWT in a cookie or the query string where the route's providers read one."""
        ...


def presented(headers: Mapping[str, str], policy: RoutePolicy) -> Presented | None:
    accepts = policy.accepts
    if API_KEY in accepts:
        key = headers.get(API_KEY_HEADER)
        if key:
            return Presented(API_KEY, key, API_KEY_HEADER)
    if SESSION in accepts:
        session = _session(headers, policy.session_cookie)
        if session is not None:
            return session
    authorization = headers.get(AUTHORIZATION_HEADER)
    if authorization:
        scheme, _, value = authorization.partition(" ")
        scheme, value = scheme.lower(), value.strip()
        if not value:
            return None
        if scheme == "apikey" and API_KEY in accepts:
            return Presented(API_KEY, value, AUTHORIZATION_HEADER)
        if scheme == "bearer":
            if JWT in accepts and (value.count(".") == 2 or OAUTH2 not in accepts):
                return Presented(JWT, value, AUTHORIZATION_HEADER)
            if OAUTH2 in accepts:
                return Presented(OAUTH2, value, AUTHORIZATION_HEADER)
    return None


def _session(headers: Mapping[str, str], cookie: str) -> Presented | None:
    """A session id from the session header, else from the route's cookie; the other cookies
    go upstream."""
    value = headers.get(SESSION_HEADER)
    if value:
        return Presented(SESSION, value, SESSION_HEADER)
    cookies = headers.get(COOKIE_HEADER)
    if not cookie or not cookies:
        return None
    found, others = "", []
    for pair in cookies.split(";"):
        name, _, value = pair.strip().partition("=")
        if name == cookie:  # every one of that name stays here, checked or not
            found = found or value.strip('"')
        elif pair.strip():
            others.append(pair.strip())
    if not found:
        return None
    return Presented(SESSION, found, COOKIE_HEADER, kept="; ".join(others))

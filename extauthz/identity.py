"""Who a checked credential proved the caller to be, and what each credential kind is called.

An identity is what every credential kind comes down to: the servicer checks the route's role
terms against it and sends it upstream (see response.py). The answer admitting it is built the
first time it is needed and kept on the identity, so an identity that is itself kept (an API
key's, a cached token's) costs no protobuf work on later requests.
"""

from dataclasses import KW_ONLY, dataclass, field

# Credential kinds: the route spec's names, the metrics' `kind` label.
API_KEY = "api_key"
JWT = "jwt"
SESSION = "session"
OAUTH2 = "oauth2_introspection"


@dataclass(frozen=True, slots=True, eq=False)
class Identity:
    kind: str
    player_id: str = ""
    roles: frozenset[str] = frozenset()
    tier: str = ""
    api_key_id: str = ""
    session_id: str = ""
    # The serialized admission by the request header the credential came in (removed upstream).
    answers: dict[str, bytes] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class Presented:
    """A credential as the request carries it."""

    kind: str
    value: str
    # The request header that carried it: removed before the request goes upstream ("?name": a
    # query parameter, removed too; "": kept, as a cookie is).
    carrier: str
    _: KW_ONLY
    # Where it came from: "header", "cookie:<name>" or "query:<name>" (a JWT provider reads
    # tokens from some of them only).
    source: str = "header"
    # What of that header goes upstream instead (the other cookies); empty: nothing.
    kept: str = ""

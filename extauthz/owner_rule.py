"""The resource-level rule "the `{player_id}` in the path must be the caller's own, unless the
caller holds one of these roles": what Envoy's RBAC cannot express (it compares no path segment
with a claim), checked after the route's role terms."""

from dataclasses import dataclass
from typing import Any

import re2

from extauthz.identity import Identity


@dataclass(frozen=True, slots=True)
class OwnerRule:
    parameter: str
    # The route's path template as a regex; group 1 is the parameter's value.
    path: Any  # a compiled re2 regex
    unless_roles: frozenset[str]

    @classmethod
    def compile(cls, parameter: str, regex: str, unless_roles: list[str]) -> "OwnerRule":
        """ValueError when `regex` is not a valid RE2 regex with a capture group."""
        try:
            compiled = re2.compile(regex)
        except re2.error as error:
            raise ValueError(f"owner rule regex: {error}") from None
        if compiled.groups < 1:
            raise ValueError("owner rule regex has no capture group")
        return cls(parameter, compiled, frozenset(unless_roles))

    def allows(self, identity: Identity, path: str) -> bool:
        """`path` as Envoy sends it (with its query string). A path the template does not
        match, or a caller without a player id, owns nothing."""
        if not self.unless_roles.isdisjoint(identity.roles):
            return True
        match = self.path.fullmatch(path.partition("?")[0])
        return match is not None and identity.player_id != "" and match[1] == identity.player_id

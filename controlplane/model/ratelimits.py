"""Rate-limit policies: what is counted, how much is admitted, and where the policy applies.

A "global" policy is decided by the `ratelimit` service (counters shared by every Envoy); a
"local" one by a token bucket in each Envoy process, for cheap per-instance guards.
"""

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from controlplane.model.common import Name, Spec
from controlplane.model.routes import Domain, HeaderName

# One day: the longest window the ratelimit service keeps counters for.
MAX_WINDOW_SECONDS = 86_400
MAX_REQUESTS = 1_000_000_000

CountedKey = Literal["player", "ip", "route", "api_key"]
Requests = Annotated[int, Field(ge=1, le=MAX_REQUESTS)]
Burst = Annotated[int, Field(ge=0, le=MAX_REQUESTS)]
Tier = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9_.-]+$")]


class HeaderKey(Spec):
    """Count by the value of a request header."""

    header: HeaderName


CountedBy = CountedKey | HeaderKey


class Limit(Spec):
    requests: Requests = Field(description="Requests admitted over any window, before `burst`.")
    window_seconds: int = Field(
        ge=1, le=MAX_WINDOW_SECONDS, description="1 (a second) to 86400 (a day).", examples=[60]
    )


class TierLimit(Spec):
    requests: Requests
    burst: Burst = 0


class OnRedisError(Spec):
    mode: Literal["allow", "deny", "local"] = Field(
        default="allow",
        description="allow: admit and count nothing; deny: refuse with 429; local: count in "
        "each service process's memory, `local_requests` per window.",
    )
    local_requests: Requests | None = None

    @model_validator(mode="after")
    def _local_needs_a_limit(self) -> Self:
        if (self.mode == "local") != (self.local_requests is not None):
            raise ValueError("local_requests is needed with mode 'local', and only with it")
        return self


class GatewayTarget(Spec):
    """Every request the gateway serves."""

    type: Literal["gateway"] = "gateway"


class HostsTarget(Spec):
    """Requests to these hosts (virtual hosts), whatever their route."""

    type: Literal["hosts"] = "hosts"
    hosts: list[Domain] = Field(min_length=1, max_length=64)

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if len(set(self.hosts)) != len(self.hosts):
            raise ValueError("hosts lists a host twice")
        return self


class RoutesTarget(Spec):
    """Requests matched by these routes."""

    type: Literal["routes"] = "routes"
    routes: list[Name] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if len(set(self.routes)) != len(self.routes):
            raise ValueError("routes lists a route twice")
        return self


Target = Annotated[GatewayTarget | HostsTarget | RoutesTarget, Field(discriminator="type")]


class RateLimitPolicySpec(Spec):
    name: Name
    applies_to: Target
    counted_by: list[CountedBy] = Field(
        default_factory=list,
        max_length=8,
        description="What is counted, in this order: one counter per distinct combination of "
        "values ('ip' is the client address behind the listener's trusted proxies). Empty: one "
        "counter for every request the policy applies to. A request lacking a value (no player "
        "id, no such header) is not limited by this policy.",
        examples=[["player"], ["ip", {"header": "x-game-client"}]],
    )
    limit: Limit
    burst: Burst = Field(default=0, description="Requests admitted above `limit.requests`.")
    tiers: dict[Tier, TierLimit] = Field(
        default_factory=dict,
        max_length=32,
        description="Overrides by the caller's tier (header `x-chaosgw-tier`); same window.",
    )
    shadow: bool = Field(default=False, description="Count and report, never refuse.")
    on_redis_error: OnRedisError = OnRedisError()
    enforcement: Literal["global", "local"] = Field(
        default="global",
        description="global: the ratelimit service, one count shared by every Envoy; local: a "
        "token bucket in each Envoy process (per instance, no service call).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        keys = [counted_key(item) for item in self.counted_by]
        if len(set(keys)) != len(keys):
            raise ValueError("counted_by lists the same key twice")
        if isinstance(self.applies_to, HostsTarget) and "route" in self.counted_by:
            raise ValueError(
                "a policy applied to hosts cannot count by 'route': apply it to the routes, or "
                "to the whole gateway"
            )
        if self.enforcement == "local":
            refused = [
                reason
                for reason, present in (
                    ("tiers", bool(self.tiers)),
                    ("shadow", self.shadow),
                    ("on_redis_error", self.on_redis_error != OnRedisError()),
                )
                if present
            ]
            if refused:
                raise ValueError(
                    f"a local policy cannot honour {', '.join(refused)}: Envoy's token bucket "
                    "knows no tiers, always enforces and uses no Redis; use enforcement 'global'"
                )
        return self

    def routes(self) -> list[str]:
        """The routes this policy names (none unless it applies to routes)."""
        return list(self.applies_to.routes) if isinstance(self.applies_to, RoutesTarget) else []


def counted_key(item: CountedBy) -> str:
    """The descriptor entry key Envoy sends for a counted_by item (see the policy proto)."""
    if isinstance(item, HeaderKey):
        return f"header.{item.header.lower()}"
    return "remote_address" if item == "ip" else item

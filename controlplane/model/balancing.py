"""Load balancing: which endpoint of a service takes a request, and what keeps a player sticky.

Ring hash and maglev pick the endpoint from a hash of the request (a header, a cookie, the
client's address), so the same player keeps landing on the same world shard.
"""

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from controlplane.model.common import Spec

LoadBalancing = Literal["round_robin", "least_request", "random", "ring_hash", "maglev"]
HASHING_POLICIES = ("ring_hash", "maglev")

# Envoy's limits: ring sizes up to 8M entries, maglev tables must be prime and below 5M.
MAX_RING_SIZE = 8_388_608
MAX_MAGLEV_TABLE_SIZE = 5_000_011
_HTTP_NAME = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"


class HeaderHash(Spec):
    type: Literal["header"] = "header"
    name: str = Field(min_length=1, max_length=256, pattern=_HTTP_NAME, examples=["x-player-id"])


class CookieHash(Spec):
    """Hash on a cookie; when the request has none, Envoy sets one with this TTL."""

    type: Literal["cookie"] = "cookie"
    name: str = Field(min_length=1, max_length=256, pattern=_HTTP_NAME, examples=["shard"])
    ttl_seconds: int = Field(
        default=3600,
        ge=1,
        le=31_536_000,
        description="Lifetime of the cookie Envoy generates for a request that has none.",
    )
    path: str = Field(default="/", min_length=1, max_length=1024, pattern=r"^/[^;\s]*$")


class SourceIpHash(Spec):
    type: Literal["source_ip"] = "source_ip"


HashKey = Annotated[HeaderHash | CookieHash | SourceIpHash, Field(discriminator="type")]


class RingHash(Spec):
    min_ring_size: int = Field(default=1024, ge=1, le=MAX_RING_SIZE)
    max_ring_size: int = Field(default=8_388_608, ge=1, le=MAX_RING_SIZE)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min_ring_size > self.max_ring_size:
            raise ValueError("min_ring_size must not exceed max_ring_size")
        return self


class Maglev(Spec):
    table_size: int = Field(
        default=65537, ge=2, le=MAX_MAGLEV_TABLE_SIZE, description="A prime number."
    )

    @model_validator(mode="after")
    def _prime(self) -> Self:
        if not _is_prime(self.table_size):
            raise ValueError(f"table_size {self.table_size} is not a prime number")
        return self


def check_fits_policy(
    policy: LoadBalancing, hash_on: list[HashKey], ring_hash: RingHash | None, maglev: Maglev | None
) -> None:
    """Refuse options the chosen policy would ignore: they would only mislead."""
    if hash_on and policy not in HASHING_POLICIES:
        raise ValueError(f"hash_on needs load_balancing ring_hash or maglev, not {policy!r}")
    if ring_hash is not None and policy != "ring_hash":
        raise ValueError("ring_hash options need load_balancing 'ring_hash'")
    if maglev is not None and policy != "maglev":
        raise ValueError("maglev options need load_balancing 'maglev'")
    if sum(isinstance(key, SourceIpHash) for key in hash_on) > 1:
        raise ValueError("hash_on lists source_ip twice")


def _is_prime(number: int) -> bool:
    if number < 2:
        return False
    divisor = 2
    while divisor * divisor <= number:
        if number % divisor == 0:
            return False
        divisor += 1
    return True

"""A policy set is compiled whole or refused whole, with a reason the NACK carries."""

import pytest

from ratelimit.policies import InvalidPolicies, compile_policies
from tests.unit.ratelimit.factories import LOCAL_FALLBACK, policy


def test_a_valid_set_is_indexed_by_name_with_tier_ceilings() -> None:
    book = compile_policies([policy("a", requests=5, burst=2, tiers={"premium": (10, 0)})])
    compiled = book.get("a")
    assert compiled is not None
    assert compiled.ceiling("") == 7
    assert compiled.ceiling("premium") == 10
    assert compiled.ceiling("unknown") == 7


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (policy("a", window=0), "window_seconds"),
        (policy("a", window=86_401), "window_seconds"),
        (policy("a", requests=0), "burst must be"),
        (policy("a", counted_by=("player", "player")), "counted_by"),
        (policy("a", counted_by=("tier",)), "counted_by"),
        (policy("a", on_redis_error=LOCAL_FALLBACK), "fallback_requests"),
        (policy(""), "no name"),
    ],
)
def test_an_invalid_policy_refuses_the_set(bad: object, reason: str) -> None:
    with pytest.raises(InvalidPolicies, match=reason):
        compile_policies([policy("fine"), bad])  # type: ignore[list-item]


def test_duplicate_names_refuse_the_set() -> None:
    with pytest.raises(InvalidPolicies, match="twice"):
        compile_policies([policy("a"), policy("a")])

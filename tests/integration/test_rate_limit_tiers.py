"""An API key's tier decides its rate limit: the auth service writes `x-chaosgw-tier` (from the
key's `tier`) before the global rate limiter reads it, and a tier a client sends itself is
removed before either. The real `extauthz` and `ratelimit` services (two processes each), one
Envoy, one Redis, in the style of test_rate_limiting.py."""

from collections.abc import Iterator

import httpx
import pytest

from tests.integration.auth_gateway import AuthGateway, auth_gateway
from tests.integration.conftest import _PROCESSES
from tests.integration.harness import AdminClient, route_spec, wait_until

pytestmark = pytest.mark.integration

PROCESSES = 2
BASE, PREMIUM = 3, 6
TIER = "x-chaosgw-tier"
UPSTREAM = "tiers-up"


def _declare(admin: AdminClient) -> None:
    route = route_spec("tiered", "public", "/tiered", {UPSTREAM: 1})
    route["auth"] = {"type": "authenticated", "credentials": [{"kind": "api_key"}]}
    admin.create("routes", route)
    admin.create(
        "rate-limit-policies",
        {
            "name": "per-key",
            "applies_to": {"type": "routes", "routes": ["tiered"]},
            "counted_by": ["api_key"],
            "limit": {"requests": BASE, "window_seconds": 60},
            "tiers": {"premium": {"requests": PREMIUM}},
        },
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthGateway]:
    """Envoy asking both the auth service and the rate-limit service (its own Redis)."""
    with auth_gateway(
        tmp_path_factory.mktemp("rate-limit-tiers"),
        processes=PROCESSES,
        declare=_declare,
        upstreams=[UPSTREAM],
        ratelimit=True,
    ) as gateway:
        yield gateway


@pytest.fixture(autouse=True)
def show_logs(request: pytest.FixtureRequest, stack: AuthGateway) -> None:
    request.node.stash[_PROCESSES] = stack.plane.processes


def _limit_reached(stack: AuthGateway, client: httpx.Client, key: str, **headers: str) -> int:
    """Until the key is admitted and rate limited (it reached every process of both services),
    then how many requests a fresh window admits; the limit the responses announce must agree."""
    url = stack.url("/tiered")
    sent = {"x-api-key": key, **headers}

    def counted() -> httpx.Response | None:
        response = client.get(url, headers=sent)
        ok = response.status_code == 200 and "ratelimit-limit" in response.headers
        return response if ok else None

    first = wait_until(
        counted,
        timeout=10.0,
        description="the key to be admitted and counted",
        alive=[stack.extauthz],
    )
    limit = int(first.headers["ratelimit-limit"])
    assert first.headers["ratelimit-remaining"] == str(limit - 1), "a fresh count"
    admitted = 1
    while True:
        response = client.get(url, headers=sent)
        if response.status_code == 429:
            break
        assert response.status_code == 200, response.text
        assert response.headers["ratelimit-limit"] == str(limit)
        admitted += 1
        assert admitted <= PREMIUM + 1, "never limited"
    assert admitted == limit
    return limit


def test_a_premium_key_gets_the_premium_limit_and_a_key_without_tier_the_base(
    stack: AuthGateway,
) -> None:
    premium = stack.new_key("tier-premium", tier="premium")
    base = stack.new_key("tier-none")
    with httpx.Client(timeout=5.0) as client:
        assert _limit_reached(stack, client, premium) == PREMIUM
        assert _limit_reached(stack, client, base) == BASE


def test_a_client_sent_tier_changes_nothing(stack: AuthGateway) -> None:
    base = stack.new_key("tier-forger")
    premium = stack.new_key("tier-premium-forging-down", tier="premium")
    with httpx.Client(timeout=5.0) as client:
        assert _limit_reached(stack, client, base, **{TIER: "premium"}) == BASE
        assert _limit_reached(stack, client, premium, **{TIER: "free"}) == PREMIUM

"""Routes declared through the admin API carry real traffic through Envoy."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.integration.conftest import UpstreamFactory
from tests.integration.harness import Gateway, upstream_of, wait_for_response

pytestmark = pytest.mark.integration

# The promise: an admin change carries traffic within 2 s.
PROPAGATION_SECONDS = 2.0


def test_route_create_update_delete_reach_envoy(
    gateway: Gateway, upstream: UpstreamFactory, client: httpx.Client
) -> None:
    inv, inv2 = upstream("inv"), upstream("inv2")
    gateway.add_service("inv", inv)
    gateway.add_service("inv2", inv2)
    url = gateway.url("/inv/items?page=2")
    # Before any route, Envoy itself answers 404: nothing is forwarded.
    before = client.get(url)
    assert before.status_code == 404
    assert upstream_of(before) is None

    gateway.add_route("r1", "/inv", {"inv": 1})
    response = wait_for_response(
        client, url, upstream="inv", timeout=PROPAGATION_SECONDS, alive=gateway.alive()
    )
    echoed = response.json()
    assert echoed["upstream"] == "inv"
    assert (echoed["method"], echoed["path"], echoed["query"]) == ("GET", "/inv/items", "page=2")
    # Envoy forwarded the request: it added its request id on the way.
    assert echoed["headers"].get("x-request-id")
    # Only the declared prefix is routed.
    assert client.get(gateway.url("/other")).status_code == 404

    gateway.set_route("r1", "/inv", {"inv2": 1})
    wait_for_response(
        client, url, upstream="inv2", timeout=PROPAGATION_SECONDS, alive=gateway.alive()
    )
    # Once moved, it stays moved: no request goes back to the old service.
    assert {upstream_of(client.get(url)) for _ in range(20)} == {"inv2"}

    gateway.admin.delete("routes", "r1")
    gone = wait_for_response(client, url, status=404, timeout=PROPAGATION_SECONDS)
    assert upstream_of(gone) is None


def test_weighted_split_lands_within_five_percent(
    gateway: Gateway, upstream: UpstreamFactory, client: httpx.Client
) -> None:
    gateway.add_service("inv", upstream("inv"))
    gateway.add_service("inv2", upstream("inv2"))
    gateway.add_route("r1", "/inv", {"inv": 80, "inv2": 20})
    url = gateway.url("/inv")
    wait_for_response(client, url, timeout=PROPAGATION_SECONDS, alive=gateway.alive())

    total = 2000

    def one(_: int) -> str | None:
        response = client.get(url)
        assert response.status_code == 200, response.text
        return upstream_of(response)

    # A few keep-alive connections in parallel: Envoy spreads them over its workers, and the
    # weighted pick is made per request whichever worker serves it.
    with ThreadPoolExecutor(max_workers=4) as pool:
        counts = Counter(pool.map(one, range(total)))

    assert set(counts) == {"inv", "inv2"}, counts
    share = counts["inv"] / total
    assert 0.75 <= share <= 0.85, f"inv got {share:.1%} of {total} requests ({counts})"

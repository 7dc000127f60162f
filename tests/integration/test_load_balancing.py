"""Load-balancing policies declared on services, as Envoy applies them to real traffic."""

from collections import Counter
from typing import Any

import httpx
import pytest

from tests.integration.harness import Upstream, upstream_of, wait_for_response
from tests.integration.stack import (  # noqa: F401 - fixtures
    Stack,
    endpoints,
    forward_route,
    show_stack_logs,
    stack_fixture,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def shards(stack: Stack) -> list[Upstream]:
    return [stack.upstream(f"shard-{n}") for n in range(3)]


def _declare(stack: Stack, name: str, shards: list[Upstream], **fields: Any) -> str:
    stack.gateway.admin.create(
        "services", {"name": name, "endpoints": endpoints(*shards), **fields}
    )
    stack.gateway.admin.create("routes", forward_route(name, f"/{name}", name))
    url = stack.gateway.url(f"/{name}")
    with httpx.Client() as client:
        wait_for_response(client, url, alive=stack.gateway.alive())
    return url


@pytest.mark.parametrize(
    ("policy", "envoy_policy"),
    [("round_robin", None), ("least_request", "LEAST_REQUEST"), ("random", "RANDOM")],
)
def test_policy_reaches_envoy_and_every_endpoint(
    stack: Stack, shards: list[Upstream], policy: str, envoy_policy: str | None
) -> None:
    name = policy.replace("_", "-")
    url = _declare(stack, name, shards, load_balancing=policy)
    with httpx.Client() as client:
        counts = Counter(upstream_of(client.get(url)) for _ in range(90))

    assert set(counts) == {"shard-0", "shard-1", "shard-2"}, counts
    dump = stack.gateway.envoy.config_dump("dynamic_active_clusters")["configs"]
    (cluster,) = [entry["cluster"] for entry in dump if entry["cluster"]["name"] == name]
    # ROUND_ROBIN is Envoy's default value, which its JSON leaves out.
    assert cluster.get("lb_policy") == envoy_policy


@pytest.mark.parametrize("policy", ["ring_hash", "maglev"])
def test_same_header_same_shard_and_values_spread(
    stack: Stack, shards: list[Upstream], policy: str
) -> None:
    name = f"{policy.replace('_', '-')}-header"
    url = _declare(
        stack,
        name,
        shards,
        load_balancing=policy,
        hash_on=[{"type": "header", "name": "x-player-id"}],
    )
    with httpx.Client() as client:
        chosen = {}
        for player in range(30):
            landed = {
                upstream_of(client.get(url, headers={"x-player-id": f"player-{player}"}))
                for _ in range(5)
            }
            assert len(landed) == 1, f"player-{player} landed on {landed}"
            chosen[player] = landed.pop()

    assert len(set(chosen.values())) >= 2, chosen


@pytest.mark.parametrize("policy", ["ring_hash", "maglev"])
def test_cookie_envoy_generates_keeps_the_player_on_one_shard(
    stack: Stack, shards: list[Upstream], policy: str
) -> None:
    name = f"{policy.replace('_', '-')}-cookie"
    url = _declare(
        stack,
        name,
        shards,
        load_balancing=policy,
        hash_on=[{"type": "cookie", "name": "shard", "ttl_seconds": 600}],
    )
    landed_by_cookie = {}
    for _ in range(12):
        # A new player: no cookie yet; Envoy sets one and later requests carry it.
        with httpx.Client() as player:
            first = player.get(url)
            cookie = player.cookies.get("shard")
            assert cookie, first.headers
            assert "Max-Age=600" in first.headers["set-cookie"]
            landed = {upstream_of(player.get(url)) for _ in range(5)}
            assert landed == {upstream_of(first)}
            landed_by_cookie[cookie] = landed.pop()

    assert len(set(landed_by_cookie.values())) >= 2, landed_by_cookie

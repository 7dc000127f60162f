"""The ADS server as Envoy sees it: what is pushed, in which order, and what is ACKed.

Each test runs the real AggregatedDiscoveryService on a loopback port and drives it with the
Envoy-like AdsClient. To show that nothing beyond the expected responses was sent, a test ends
with a barrier: a change of the listener's marker route, whose routes response must come right
after the expected ones (the server pushes one change after the other on a stream).
"""

from collections.abc import Callable, Iterable, Sequence
from functools import partial

import pytest

from controlplane.model import RouteSpec, ServiceSpec
from controlplane.translator import translate
from controlplane.xds.nodes import NodeStatus
from controlplane.xds.snapshot import PUSH_ORDER, Snapshot
from tests.support.ads_client import (
    CLUSTER,
    ENDPOINT,
    LISTENER,
    ROUTE,
    AdsClient,
    Decision,
    Nack,
    Received,
    Reply,
    discovery_request,
)
from tests.support.waiting import eventually
from tests.unit.xds.conftest import AdsServer, ClientFactory, start_server
from tests.unit.xds.gateway import Gateway, Spec, listener, marker, route, service

TIMEOUT = 5.0
EDGE = "edge"
INTERNAL = "internal"

Step = tuple[str, tuple[str, ...]]


def base_specs() -> list[Spec]:
    return [
        listener("public", 10080, EDGE),
        service("users", "10.0.0.1"),
        service("inventory", "10.0.0.2", "10.0.0.3"),
        route("users", "users"),
        route("inventory", "inventory"),
        marker("public", "users"),
    ]


@pytest.fixture
def gateway(ads: AdsServer) -> Gateway:
    gateway = Gateway(ads.cache, base_specs())
    gateway.publish()
    return gateway


def steps(received: Iterable[Received]) -> list[Step]:
    return [(r.type_url, r.names) for r in received]


async def synced(client: AdsClient, gateway: Gateway) -> None:
    await client.wait_synced(gateway.versions(client.group), TIMEOUT)


async def connected(client: AdsClient, gateway: Gateway) -> AdsClient:
    await client.connect()
    await synced(client, gateway)
    return client


async def assert_pushed(
    client: AdsClient, gateway: Gateway, mark: int, expected: Sequence[Step], listener: str
) -> None:
    """Exactly `expected` arrived since `mark` (checked with the barrier)."""
    await assert_all_pushed([(client, mark)], gateway, expected, listener)


async def assert_all_pushed(
    marked: Sequence[tuple[AdsClient, int]],
    gateway: Gateway,
    expected: Sequence[Step],
    listener: str,
) -> None:
    """Every client (of one group) got exactly `expected` since its mark, then the barrier."""
    for client, mark in marked:
        await client.wait_until(
            partial(arrived, client, mark, len(expected)), TIMEOUT, f"{len(expected)} responses"
        )
    gateway.touch(listener)
    for client, mark in marked:
        await client.wait_for_version(ROUTE, gateway.version(client.group, ROUTE), TIMEOUT)
        assert steps(client.since(mark)) == [*expected, (ROUTE, (listener,))], client.describe()


def arrived(client: AdsClient, mark: int, count: int) -> bool:
    return len(client.since(mark)) >= count


def node_status(ads: AdsServer, node_id: str) -> NodeStatus:
    found = [node for node in ads.registry.describe() if node.id == node_id]
    assert found, f"node {node_id} is not in the registry"
    return found[0]


def acked_everything(ads: AdsServer, node_id: str, versions: dict[str, str]) -> bool:
    status = node_status(ads, node_id)
    by_type = {entry.type_url: entry for entry in status.types}
    return status.connected and all(
        url in by_type and by_type[url].acked_version == version
        for url, version in versions.items()
    )


# -- first connection --------------------------------------------------------------------------


@pytest.mark.parametrize("eager", [False, True], ids=["envoy-like", "eager-listeners"])
async def test_first_connect_gets_clusters_endpoints_listeners_routes_in_order_and_acks(
    ads: AdsServer, gateway: Gateway, clients: ClientFactory, eager: bool
) -> None:
    client = clients("edge-1", EDGE, eager=eager)
    mark = client.mark()
    await connected(client, gateway)
    versions = gateway.versions(EDGE)

    assert steps(client.since(mark)) == [
        (CLUSTER, ("inventory", "users")),
        (ENDPOINT, ("inventory", "users")),
        (LISTENER, ("public",)),
        (ROUTE, ("public",)),
    ]
    assert [r.version for r in client.since(mark)] == [versions[url] for url in PUSH_ORDER]
    assert client.subscriptions[ENDPOINT] == frozenset({"inventory", "users"})
    assert client.subscriptions[ROUTE] == frozenset({"public"})

    await eventually(
        lambda: acked_everything(ads, "edge-1", versions), timeout=TIMEOUT, what="ACKs recorded"
    )
    status = node_status(ads, "edge-1")
    assert status.group == EDGE
    assert status.user_agent.startswith("chaosgw-ads-client")
    for entry in status.types:
        assert entry.sent_version == entry.acked_version == versions[entry.type_url]
        assert entry.nacked_version is None
        assert entry.nack_error is None
    assert {entry.type_url for entry in status.types} == set(PUSH_ORDER)


async def test_node_of_an_undeclared_group_gets_empty_clusters_and_listeners(
    ads: AdsServer, gateway: Gateway, clients: ClientFactory
) -> None:
    client = clients("lost-1", "nobody-declared-this")
    await client.connect()
    empty = Snapshot.empty()
    await client.wait_synced(
        {url: empty.of_type(url).version for url in (CLUSTER, LISTENER)}, TIMEOUT
    )
    assert steps(client.received) == [(CLUSTER, ()), (LISTENER, ())]
    assert ENDPOINT not in client.subscriptions
    assert ROUTE not in client.subscriptions


# -- pushes send only what changed -------------------------------------------------------------


async def test_route_only_change_sends_only_routes(
    gateway: Gateway, clients: ClientFactory
) -> None:
    client = await connected(clients("edge-1", EDGE), gateway)
    before = gateway.versions(EDGE)
    mark = client.mark()

    gateway.put(route("users", "users", prefix="/players"))
    assert gateway.publish() == {EDGE: True}
    after = gateway.versions(EDGE)
    assert {url for url in PUSH_ORDER if before[url] != after[url]} == {ROUTE}

    await assert_pushed(client, gateway, mark, [(ROUTE, ("public",))], "public")


async def test_endpoint_only_change_sends_only_that_clusters_endpoints(
    gateway: Gateway, clients: ClientFactory
) -> None:
    client = await connected(clients("edge-1", EDGE), gateway)
    mark = client.mark()

    gateway.put(service("inventory", "10.0.0.2", "10.0.0.4"))
    gateway.publish()

    await assert_pushed(client, gateway, mark, [(ENDPOINT, ("inventory",))], "public")
    assert client.since(mark)[0].version == gateway.version(EDGE, ENDPOINT)


async def test_identical_snapshot_sends_nothing(
    ads: AdsServer, gateway: Gateway, clients: ClientFactory
) -> None:
    client = await connected(clients("edge-1", EDGE), gateway)
    mark = client.mark()
    served = ads.cache.get(EDGE)

    # Rebuilt from the same state: new objects, same content.
    assert gateway.publish() == {EDGE: False}
    assert not ads.cache.set(EDGE, Snapshot.of_group(translate(gateway.state())[EDGE]))
    assert ads.cache.get(EDGE) is served

    await assert_pushed(client, gateway, mark, [], "public")


# -- make before break -------------------------------------------------------------------------


async def test_new_cluster_and_its_route_arrive_clusters_then_endpoints_then_routes(
    gateway: Gateway, clients: ClientFactory
) -> None:
    client = await connected(clients("edge-1", EDGE), gateway)
    mark = client.mark()

    gateway.put(service("chat", "10.0.0.9"), route("chat", "chat"))
    gateway.publish()

    await assert_pushed(
        client,
        gateway,
        mark,
        [
            (CLUSTER, ("chat", "inventory", "users")),
            (ENDPOINT, ("chat",)),
            (ROUTE, ("public",)),
        ],
        "public",
    )
    assert client.subscriptions[ENDPOINT] == frozenset({"chat", "inventory", "users"})


async def test_replaced_cluster_is_removed_only_after_routes_stop_naming_it(
    gateway: Gateway, clients: ClientFactory
) -> None:
    client = await connected(clients("edge-1", EDGE), gateway)
    mark = client.mark()

    # The inventory route moves to a new service; the old one is used by nothing any more.
    gateway.put(service("inventory-v2", "10.0.1.2"), route("inventory", "inventory-v2"))
    gateway.publish()

    await assert_pushed(
        client,
        gateway,
        mark,
        [
            (CLUSTER, ("inventory", "inventory-v2", "users")),  # the union: nothing leaves yet
            (ENDPOINT, ("inventory-v2",)),
            (ROUTE, ("public",)),
            (CLUSTER, ("inventory-v2", "users")),  # stale cluster removed last
        ],
        "public",
    )
    # The node dropped the endpoints of the removed cluster, as Envoy does.
    assert client.subscriptions[ENDPOINT] == frozenset({"inventory-v2", "users"})


async def test_cluster_whose_last_route_goes_away_is_removed_after_the_routes(
    gateway: Gateway, clients: ClientFactory
) -> None:
    client = await connected(clients("edge-1", EDGE), gateway)
    mark = client.mark()

    # Only a removal: no cluster is added or changed.
    gateway.delete(RouteSpec, "inventory")
    gateway.publish()

    await assert_pushed(
        client,
        gateway,
        mark,
        [(ROUTE, ("public",)), (CLUSTER, ("users",))],
        "public",
    )
    assert client.subscriptions[ENDPOINT] == frozenset({"users"})


async def test_changed_cluster_gets_its_unchanged_endpoints_again(
    gateway: Gateway, clients: ClientFactory
) -> None:
    """go-control-plane#245: a re-created cluster stays warming until its endpoints come."""
    client = await connected(clients("edge-1", EDGE), gateway)
    endpoints_version = gateway.version(EDGE, ENDPOINT)
    mark = client.mark()

    gateway.put(service("users", "10.0.0.1", connect_seconds=2.5))
    gateway.publish()
    assert gateway.version(EDGE, ENDPOINT) == endpoints_version

    await assert_pushed(
        client,
        gateway,
        mark,
        [(CLUSTER, ("inventory", "users")), (ENDPOINT, ("users",))],
        "public",
    )


# -- ACK, NACK and nonces ----------------------------------------------------------------------


async def test_nack_is_recorded_not_resent_and_the_next_change_still_goes_out(
    ads: AdsServer, gateway: Gateway, clients: ClientFactory
) -> None:
    rejected: set[str] = set()

    def decide(received: Received) -> Reply | Nack:
        if received.type_url == ROUTE and received.version in rejected:
            return Nack("route 'users': invalid regex")
        return Reply.ACK

    client = await connected(clients("edge-1", EDGE, decide=decide), gateway)
    good = gateway.version(EDGE, ROUTE)
    mark = client.mark()

    gateway.put(route("users", "users", prefix="/rejected"))
    gateway.publish()
    bad = gateway.version(EDGE, ROUTE)
    rejected.add(bad)
    nacked = await client.wait_for_response(ROUTE, since=mark, timeout=TIMEOUT)
    assert nacked.version == bad
    assert client.acked[ROUTE] == good

    def nack_recorded() -> bool:
        entry = next(e for e in node_status(ads, "edge-1").types if e.type_url == ROUTE)
        return entry.nacked_version == bad

    await eventually(nack_recorded, timeout=TIMEOUT, what="the NACK in the registry")
    entry = next(e for e in node_status(ads, "edge-1").types if e.type_url == ROUTE)
    assert entry.nack_error == "route 'users': invalid regex"
    assert entry.sent_version == bad
    assert entry.acked_version == good

    # The next real changes go out (endpoints here: the rejected routes are still what is
    # declared), and the rejected version was sent once, not in a loop.
    gateway.put(service("users", "10.0.0.1", "10.0.0.6"))
    gateway.publish()
    await assert_pushed(
        client, gateway, mark, [(ROUTE, ("public",)), (ENDPOINT, ("users",))], "public"
    )
    versions = [r.version for r in client.since(mark)]
    assert versions.count(bad) == 1
    await eventually(
        lambda: acked_everything(ads, "edge-1", gateway.versions(EDGE)),
        timeout=TIMEOUT,
        what="the ACK of the next change",
    )


def reject_clusters_named(name: str, switch: dict[str, bool]) -> Callable[[Received], Decision]:
    """NACK every clusters response that holds `name` while `switch["on"]`."""

    def decide(received: Received) -> Decision:
        if switch["on"] and received.type_url == CLUSTER and name in received.names:
            return Nack(f"cluster '{name}': bad config")
        return Reply.ACK

    return decide


async def test_rejected_clusters_hold_back_the_routes_that_would_name_them(
    ads: AdsServer, gateway: Gateway, clients: ClientFactory
) -> None:
    """A NACKed update never takes down what works: /inventory keeps its working cluster."""
    switch = {"on": True}
    client = await connected(
        clients("edge-1", EDGE, decide=reject_clusters_named("inventory-v2", switch)), gateway
    )
    accepted = gateway.versions(EDGE)
    mark = client.mark()

    gateway.put(service("inventory-v2", "10.0.1.2"), route("inventory", "inventory-v2"))
    gateway.publish()
    rejected = await client.wait_for_response(CLUSTER, since=mark, timeout=TIMEOUT)
    assert rejected.names == ("inventory", "inventory-v2", "users")
    assert client.acked == accepted

    # The admin reverts: what the node holds is what is declared again.
    gateway.put(route("inventory", "inventory"))
    gateway.delete(ServiceSpec, "inventory-v2")
    gateway.publish()
    assert gateway.versions(EDGE) == accepted

    # Neither the routes naming inventory-v2 nor the removal of inventory were ever sent.
    await assert_pushed(client, gateway, mark, [(CLUSTER, rejected.names)], "public")
    entry = next(e for e in node_status(ads, "edge-1").types if e.type_url == CLUSTER)
    assert entry.nacked_version == rejected.version
    assert entry.nack_error == "cluster 'inventory-v2': bad config"


async def test_fixed_cluster_goes_out_with_the_routes_that_waited_for_it(
    gateway: Gateway, clients: ClientFactory
) -> None:
    switch = {"on": True}
    client = await connected(
        clients("edge-1", EDGE, decide=reject_clusters_named("inventory-v2", switch)), gateway
    )
    mark = client.mark()
    gateway.put(service("inventory-v2", "10.0.1.2"), route("inventory", "inventory-v2"))
    gateway.publish()
    await client.wait_for_response(CLUSTER, since=mark, timeout=TIMEOUT)

    switch["on"] = False  # the admin fixes the cluster's config
    gateway.put(service("inventory-v2", "10.0.1.2", connect_seconds=2))
    gateway.publish()

    union = ("inventory", "inventory-v2", "users")
    await assert_pushed(
        client,
        gateway,
        mark,
        [
            (CLUSTER, union),  # rejected
            (CLUSTER, union),  # fixed
            (ENDPOINT, ("inventory-v2",)),
            (ROUTE, ("public",)),
            (CLUSTER, ("inventory-v2", "users")),
        ],
        "public",
    )


async def test_rejected_routes_keep_the_clusters_they_still_name(
    gateway: Gateway, clients: ClientFactory
) -> None:
    switch = {"on": False}

    def decide(received: Received) -> Decision:
        return Nack("bad routes") if switch["on"] and received.type_url == ROUTE else Reply.ACK

    client = await connected(clients("edge-1", EDGE, decide=decide), gateway)
    mark = client.mark()

    switch["on"] = True
    gateway.delete(RouteSpec, "inventory")
    gateway.publish()
    await client.wait_for_response(ROUTE, since=mark, timeout=TIMEOUT)

    # The node still routes /inventory to the inventory cluster: it must stay until the
    # node accepts routes without it.
    switch["on"] = False
    gateway.touch("public")
    await assert_pushed(
        client,
        gateway,
        mark,
        [(ROUTE, ("public",)), (ROUTE, ("public",)), (CLUSTER, ("users",))],
        "public",
    )


async def test_node_that_rejects_its_first_clusters_still_gets_listeners_and_routes(
    gateway: Gateway, clients: ClientFactory
) -> None:
    """It has nothing that works to protect; the routes to valid clusters can serve."""
    client = clients("edge-1", EDGE, decide=reject_clusters_named("inventory", {"on": True}))
    await client.connect()
    await client.wait_for_version(ROUTE, gateway.version(EDGE, ROUTE), TIMEOUT)
    assert steps(client.received) == [
        (CLUSTER, ("inventory", "users")),
        (LISTENER, ("public",)),
        (ROUTE, ("public",)),
    ]


async def test_new_subscription_is_answered_even_while_the_types_version_is_rejected(
    gateway: Gateway, clients: ClientFactory
) -> None:
    switch = {"on": False}

    def decide(received: Received) -> Decision:
        return (
            Nack("bad endpoints") if switch["on"] and received.type_url == ENDPOINT else Reply.ACK
        )

    client = await connected(clients("edge-1", EDGE, decide=decide), gateway)
    first = client.latest(ENDPOINT)
    assert first is not None
    # The node holds only the users endpoints (as if inventory were not a cluster of it yet).
    await client.send(
        discovery_request(ENDPOINT, version=first.version, nonce=first.nonce, names=["users"])
    )
    mark = client.mark()
    switch["on"] = True
    gateway.put(service("users", "10.0.0.1", "10.0.0.8"))
    gateway.publish()
    rejected = await client.wait_for_response(ENDPOINT, since=mark, timeout=TIMEOUT)
    assert rejected.names == ("users",)

    # Now it subscribes to inventory: the snapshot did not change, but inventory is owed.
    await client.send(
        discovery_request(
            ENDPOINT, version=first.version, nonce=rejected.nonce, names=["inventory", "users"]
        )
    )
    answer = await client.wait_for_response(ENDPOINT, since=mark, timeout=TIMEOUT, count=2)
    assert "inventory" in answer.names


async def test_stale_nonce_is_ignored(
    ads: AdsServer, gateway: Gateway, clients: ClientFactory
) -> None:
    hold = {"on": False}

    def decide(received: Received) -> Reply:
        return Reply.HOLD if hold["on"] and received.type_url == ROUTE else Reply.ACK

    client = await connected(clients("edge-1", EDGE, decide=decide), gateway)
    old = client.latest(ROUTE)
    assert old is not None
    hold["on"] = True
    mark = client.mark()

    gateway.touch("public")
    pending = await client.wait_for_response(ROUTE, since=mark, timeout=TIMEOUT)
    assert client.held(ROUTE) == pending
    # Answers to the superseded response: a NACK and a bogus ACK, both with its old nonce.
    await client.send(
        discovery_request(
            ROUTE, version=old.version, nonce=old.nonce, names=["public"], error="stale"
        )
    )
    await client.send(discovery_request(ROUTE, version="bogus", nonce=old.nonce, names=["public"]))
    hold["on"] = False
    await client.release(ROUTE)

    def route_entry_acked() -> bool:
        entry = next(e for e in node_status(ads, "edge-1").types if e.type_url == ROUTE)
        return entry.acked_version == pending.version

    await eventually(route_entry_acked, timeout=TIMEOUT, what="the ACK of the held response")
    entry = next(e for e in node_status(ads, "edge-1").types if e.type_url == ROUTE)
    assert entry.nacked_version is None
    assert entry.nack_error is None
    await assert_pushed(client, gateway, mark, [(ROUTE, ("public",))], "public")


# -- reconnecting ------------------------------------------------------------------------------


async def test_reconnect_with_current_versions_receives_nothing(
    ads: AdsServer, gateway: Gateway, clients: ClientFactory
) -> None:
    client = await connected(clients("edge-1", EDGE), gateway)
    versions = gateway.versions(EDGE)
    mark = client.mark()

    await client.reconnect()
    # The server takes the announced versions as what the node holds.
    await eventually(
        lambda: acked_everything(ads, "edge-1", versions), timeout=TIMEOUT, what="resumed node"
    )
    await assert_pushed(client, gateway, mark, [], "public")


async def test_reconnect_with_old_versions_receives_the_new_config(
    gateway: Gateway, clients: ClientFactory
) -> None:
    client = await connected(clients("edge-1", EDGE), gateway)
    await client.disconnect()
    mark = client.mark()

    gateway.put(service("inventory", "10.0.0.2", "10.0.0.5"), route("users", "users", timeout=3))
    gateway.publish()
    await client.connect()

    # Clusters and listeners did not change: the announced versions are current.
    await assert_pushed(
        client,
        gateway,
        mark,
        [(ENDPOINT, ("inventory", "users")), (ROUTE, ("public",))],
        "public",
    )


async def test_reconnect_to_a_restarted_control_plane_with_the_same_state_receives_nothing(
    ads: AdsServer, gateway: Gateway, clients: ClientFactory
) -> None:
    client = await connected(clients("edge-1", EDGE), gateway)
    versions = gateway.versions(EDGE)
    await ads.server.stop(grace=None)
    await client.wait_until(lambda: not client.connected, TIMEOUT, "the stream to end")

    # A new process: a new cache built from the same declared state, on the same port.
    restarted = await start_server(type(ads.cache)(), port=ads.port)
    try:
        state = gateway.state()
        again = Gateway(restarted.cache, [*state.listeners, *state.services, *state.routes])
        again.publish()
        assert again.versions(EDGE) == versions
        mark = client.mark()

        await client.reconnect()
        await eventually(
            lambda: acked_everything(restarted, "edge-1", versions),
            timeout=TIMEOUT,
            what="the node resumed on the new server",
        )
        await assert_pushed(client, again, mark, [], "public")
    finally:
        await restarted.server.stop(grace=None)


# -- node groups -------------------------------------------------------------------------------


async def test_nodes_of_one_group_share_its_snapshot(
    ads: AdsServer, gateway: Gateway, clients: ClientFactory
) -> None:
    first = await connected(clients("edge-1", EDGE), gateway)
    second = await connected(clients("edge-2", EDGE), gateway)
    assert steps(first.received) == steps(second.received)
    assert [r.version for r in first.received] == [r.version for r in second.received]

    marks = first.mark(), second.mark()
    gateway.put(route("inventory", "inventory", prefix="/items"))
    gateway.publish()
    await assert_all_pushed(
        list(zip((first, second), marks, strict=True)), gateway, [(ROUTE, ("public",))], "public"
    )
    assert ads.cache.groups() == [EDGE]


async def test_nodes_of_different_groups_get_their_own_resources(
    gateway: Gateway, clients: ClientFactory
) -> None:
    gateway.put(
        listener("admin", 10090, INTERNAL),
        service("guilds", "10.0.2.1"),
        route("guilds", "guilds", listener="admin"),
        marker("admin", "guilds"),
    )
    gateway.publish()
    edge = await connected(clients("edge-1", EDGE), gateway)
    internal = await connected(clients("internal-1", INTERNAL), gateway)

    assert steps(internal.received) == [
        (CLUSTER, ("guilds",)),
        (ENDPOINT, ("guilds",)),
        (LISTENER, ("admin",)),
        (ROUTE, ("admin",)),
    ]
    assert steps(edge.received)[0] == (CLUSTER, ("inventory", "users"))
    assert gateway.versions(EDGE)[CLUSTER] != gateway.versions(INTERNAL)[CLUSTER]

    # A change in one group is pushed to that group only.
    marks = edge.mark(), internal.mark()
    gateway.put(service("users", "10.0.0.7"))
    gateway.publish()
    await assert_pushed(edge, gateway, marks[0], [(ENDPOINT, ("users",))], "public")
    await assert_pushed(internal, gateway, marks[1], [], "admin")

"""Rate-limit policies reach the real Envoy: the descriptors it sends the rate-limit service
follow the contract, the service's verdict and headers reach the client, local token buckets
answer 429 from Envoy itself, and no policy change touches the listener."""

from collections.abc import Iterator

import httpx
import pytest

from tests.integration.conftest import EnvoyFactory, UpstreamFactory
from tests.integration.harness import (
    ControlPlane,
    ProcessGroup,
    free_port,
    port_accepts,
    route_spec,
    service_spec,
    wait_for_response,
    wait_until,
)
from tests.integration.ratelimit_service import Players, RateLimitedControlPlane
from tests.integration.ratelimit_stub import REFUSED_HEADERS, RateLimitStub

pytestmark = pytest.mark.integration

LISTENER_MODIFIED = "listener_manager.listener_modified"


@pytest.fixture
def stub() -> Iterator[RateLimitStub]:
    service = RateLimitStub().start()
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def control_plane(
    processes: ProcessGroup, database_url: str, stub: RateLimitStub
) -> Iterator[ControlPlane]:
    """Overrides conftest's: this control plane knows the rate-limit service."""
    plane = RateLimitedControlPlane(processes, database_url, [stub.address])
    try:
        yield plane.start()
    finally:
        plane.close()


def policy(name: str, applies_to: dict[str, object], **fields: object) -> dict[str, object]:
    return {
        "name": name,
        "applies_to": applies_to,
        "limit": {"requests": 5, "window_seconds": 60},
        **fields,
    }


def test_policies_reach_envoy_and_the_rate_limit_service(
    control_plane: ControlPlane,
    envoy: EnvoyFactory,
    upstream: UpstreamFactory,
    stub: RateLimitStub,
    client: httpx.Client,
) -> None:
    admin = control_plane.admin
    port = free_port()
    # One proxy in front of Envoy: the client is the last X-Forwarded-For entry.
    admin.create(
        "listeners",
        {"name": "public", "address": "127.0.0.1", "port": port, "trusted_proxy_hops": 1},
    )
    items = upstream("items")
    admin.create("services", service_spec("items", items.port))
    # Players are who `jwt_authn` verified: the identity headers the rate limiter counts are
    # written by the gateway from the token (a client's own copies are stripped).
    players = Players("idp")
    admin.create("jwt-providers", players.provider_spec())
    admin.create("routes", players.protect(route_spec("items", "public", "/items", {"items": 1})))
    bearer = players.bearer

    admin.create("routes", route_spec("guarded", "public", "/guarded", {"items": 1}))
    proxy = envoy()
    wait_until(lambda: port_accepts(port), timeout=5.0, description="Envoy listener 'public'")
    url = f"http://127.0.0.1:{port}"
    wait_for_response(client, f"{url}/guarded", alive=[proxy.process])
    modified = proxy.stat(LISTENER_MODIFIED)

    admin.create(
        "rate-limit-policies",
        policy(
            "per-player",
            {"type": "routes", "routes": ["items"]},
            counted_by=["player", "ip", "route", {"header": "X-Client"}],
            tiers={"gold": {"requests": 50}},
        ),
    )
    admin.create("rate-limit-policies", policy("per-ip", {"type": "gateway"}, counted_by=["ip"]))
    identity = {
        "authorization": bearer("p1"),
        # Stripped before anyone reads it: the token says who the player is.
        "x-chaosgw-player-id": "p-forged",
        "x-forwarded-for": "198.51.100.9, 203.0.113.7",
        "x-client": "ios",
    }
    expected = (
        ("policy", "per-player"),
        ("player", "p1"),
        ("remote_address", "203.0.113.7"),
        ("route", "items"),
        ("header.x-client", "ios"),
    )

    def sent(*wanted: tuple[tuple[str, str], ...]) -> object:
        return lambda domain, descriptors: domain == "chaosgw" and set(wanted) <= set(descriptors)

    def call_with(headers: dict[str, str], *wanted: tuple[tuple[str, str], ...]) -> None:
        """Send requests until Envoy asks the service about all of `wanted` at once (the
        policies arrive one push after another)."""

        def answered() -> bool:
            response = client.get(f"{url}/items", headers=headers)
            assert response.status_code == 200, response.text
            return stub.wait_for(f"descriptors {wanted}", sent(*wanted), 0.2) is not None

        wait_until(
            answered,
            timeout=5.0,
            description=f"Envoy to send {wanted}",
            ignore=(AssertionError,),
        )

    # Untiered: the policy's descriptor without a tier, next to the gateway-wide one's.
    per_ip = (("policy", "per-ip"), ("remote_address", "203.0.113.7"))
    call_with(identity, expected, per_ip)
    _, descriptors = stub.wait_for("both policies", sent(expected, per_ip))
    assert len(descriptors) == 2

    stub.clear()
    gold = {**identity, "authorization": bearer("p1", tier="gold")}
    call_with(gold, (*expected, ("tier", "gold")), per_ip)

    # A request without a player id is not limited by the per-player policy.
    stub.clear()
    response = client.get(f"{url}/guarded", headers={"x-forwarded-for": "203.0.113.8"})
    assert response.status_code == 200
    _, descriptors = stub.wait_for(
        "the anonymous request", sent((("policy", "per-ip"), ("remote_address", "203.0.113.8")))
    )
    assert [d[0] for d in descriptors] == [("policy", "per-ip")]

    # The service's verdict and headers reach the client, admitted or refused.
    admitted = client.get(f"{url}/items", headers=identity)
    assert admitted.status_code == 200
    assert admitted.headers["ratelimit-remaining"] == "4"
    stub.refuse.add(("player", "blocked"))
    refused = client.get(f"{url}/items", headers={**identity, "authorization": bearer("blocked")})
    assert refused.status_code == 429
    for header, value in REFUSED_HEADERS.items():
        assert refused.headers[header] == value

    # A local token bucket per client address: Envoy answers 429 by itself.
    admin.create(
        "rate-limit-policies",
        policy(
            "guard",
            {"type": "routes", "routes": ["guarded"]},
            counted_by=["ip"],
            limit={"requests": 2, "window_seconds": 60},
            enforcement="local",
        ),
    )
    flooder = {"x-forwarded-for": "192.0.2.1"}
    # Until the policy arrives every request passes; then two more pass and the next is refused.
    wait_until(
        lambda: client.get(f"{url}/guarded", headers=flooder).status_code == 429,
        timeout=5.0,
        description="the local bucket to refuse 192.0.2.1",
    )
    refused_locally = client.get(f"{url}/guarded", headers=flooder)
    assert refused_locally.status_code == 429
    assert "ratelimit-limit" not in refused_locally.headers, "Envoy decided, not the service"
    other = client.get(f"{url}/guarded", headers={"x-forwarded-for": "192.0.2.2"})
    assert other.status_code == 200, "another client address has its own bucket"

    # Three policies added, and not one listener change: connections were never drained.
    assert proxy.stat(LISTENER_MODIFIED) == modified

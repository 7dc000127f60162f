"""One control plane and one Envoy shared by all tests of a module, and control of the demo
upstreams' behaviour (slow, failing) while they run.

A test module uses them with `from tests.integration.stack import show_stack_logs,
stack_fixture` and takes a `stack` argument.

Starting a control plane and an Envoy costs seconds; tests that each declare their own services
and routes (under their own path prefix) can share them.
"""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.conftest import _PROCESSES
from tests.integration.harness import Upstream
from tests.integration.shared_gateway import SharedGateway, shared_gateway

# The module-shared gateway, by the name these tests know it.
Stack = SharedGateway


@pytest.fixture(scope="module", name="stack")
def stack_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with shared_gateway(tmp_path_factory.mktemp("stack")) as stack:
        yield stack


@pytest.fixture(autouse=True)
def show_stack_logs(request: pytest.FixtureRequest) -> None:
    """A failing test shows the logs of the shared processes (see conftest.py)."""
    if "stack" in request.fixturenames:
        request.node.stash[_PROCESSES] = request.getfixturevalue("stack").processes


def behave(upstream: Upstream, *, status: int = 200, delay_seconds: float = 0.0) -> None:
    """Make every later request to `upstream` wait `delay_seconds`, then answer `status`."""
    response = httpx.put(
        f"{upstream.url}/_upstream",
        json={"status": status, "delay_seconds": delay_seconds},
        timeout=2.0,
    )
    assert response.status_code == 200, response.text


def received(upstream: Upstream) -> int:
    """How many requests reached `upstream` (control requests excepted)."""
    count: int = httpx.get(f"{upstream.url}/_upstream", timeout=2.0).json()["received"]
    return count


def forward_route(name: str, prefix: str, service: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "listener": "public",
        "match": {"path": {"type": "prefix", "value": prefix}},
        "action": {"type": "forward", "backends": [{"service": service}]},
        **fields,
    }


def endpoints(*upstreams: Upstream, priority: int = 0) -> list[dict[str, Any]]:
    return [{"host": u.host, "port": u.port, "priority": priority} for u in upstreams]

"""One gateway per test module: a control plane, an Envoy and an echo upstream, started once
and shared by the module's tests (each test declares its own routes)."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.integration import shared_gateway as shared
from tests.integration.harness import Gateway


@contextmanager
def shared_gateway(tmp: Path, listener: dict[str, Any]) -> Iterator[Gateway]:
    """`listener` (without name and port) declared as "public", with service "echo" behind it."""
    with shared.shared_gateway(tmp, listener) as gateway:
        gateway.service("echo")
        yield gateway.gateway


def edge_route(name: str, prefix: str, **policies: Any) -> dict[str, Any]:
    return {
        "name": name,
        "listener": "public",
        "match": {"path": {"type": "prefix", "value": prefix}},
        "action": {"type": "forward", "backends": [{"service": "echo"}]},
        **policies,
    }

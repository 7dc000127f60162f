"""Admin API fixtures: an app on a fresh test database, and what it told the publisher."""

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Literal

import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr

from controlplane.api import create_app
from controlplane.model import GatewayState
from controlplane.settings import Settings
from controlplane.store import Database, current_revision, load_gateway_state
from controlplane.xds.nodes import NodeRegistry

TOKEN = "test-admin-token-0123456789abcdef"


class RecordingPublisher:
    """Counts change notifications, like the xDS side would receive them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls = 0

    def changed(self) -> None:
        with self._lock:
            self.calls += 1


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def nodes() -> NodeRegistry:
    return NodeRegistry()


ClientFactory = Callable[..., TestClient]
API_KEY_SECRET = "unit-test-api-key-secret-0123456789abcdef"
Mode = Literal["development", "production"]


@pytest.fixture
def sessions_prefix() -> Iterator[str]:
    """Redis keys of this test's sessions (the shared Redis at 127.0.0.1:6379), removed after."""
    prefix = f"test:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis(socket_timeout=2.0)
    try:
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
    except redis.ConnectionError:
        pass  # no Redis: the tests that needed it failed already
    finally:
        client.close()


@pytest.fixture
def make_client(
    database: Database, publisher: RecordingPublisher, nodes: NodeRegistry, sessions_prefix: str
) -> Iterator[ClientFactory]:
    """Build a client for an app with the given mode and token."""
    clients: list[TestClient] = []

    def make(
        mode: Mode = "development",
        token: str = "",
        ratelimit_endpoints: tuple[str, ...] = (),
        extauthz_endpoints: tuple[str, ...] = (),
        **headers: str,
    ) -> TestClient:
        settings = Settings.model_validate(
            {
                "mode": mode,
                "admin_token": SecretStr(token),
                "ratelimit_endpoints": list(ratelimit_endpoints),
                "extauthz_endpoints": list(extauthz_endpoints),
                # The variable's name: the field reads CHAOSGW_API_KEY_SECRET, unprefixed.
                "CHAOSGW_API_KEY_SECRET": API_KEY_SECRET,
                "sessions_key_prefix": sessions_prefix,
                "xds_plaintext_reason": "unit test: no xDS server",
            }
        )
        client = TestClient(create_app(settings, database, publisher, nodes), headers=headers)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: ClientFactory) -> TestClient:
    """Development mode without a token: no authentication."""
    return make_client()


def store_state(database: Database) -> tuple[GatewayState, int]:
    """Everything stored, and the revision: equal before and after means nothing changed."""
    with database.snapshot() as session:
        return load_gateway_state(session), current_revision(session)


def listener(name: str = "public", port: Any = 8080, **fields: Any) -> dict[str, Any]:
    return {"name": name, "port": port, **fields}


def service(name: str = "inventory", *hosts: str, **fields: Any) -> dict[str, Any]:
    endpoints = [{"host": host, "port": 8080} for host in hosts or ("10.0.0.1",)]
    return {"name": name, "endpoints": endpoints, **fields}


def route(
    name: str = "items",
    *services: str,
    listener: str = "public",
    prefix: str = "/items",
    **fields: Any,
) -> dict[str, Any]:
    return {
        "name": name,
        "listener": listener,
        "match": {"path": {"type": "prefix", "value": prefix}},
        "action": {"backends": [{"service": s} for s in services or ("inventory",)]},
        **fields,
    }


def policy(
    name: str = "per-player", *routes: str, enforcement: str = "global", **fields: Any
) -> dict[str, Any]:
    """A rate-limit policy on `routes`, or on the whole gateway without any."""
    applies_to = {"type": "routes", "routes": list(routes)} if routes else {"type": "gateway"}
    return {
        "name": name,
        "applies_to": applies_to,
        "counted_by": ["player"] if enforcement == "global" else ["ip"],
        "limit": {"requests": 100, "window_seconds": 60},
        "enforcement": enforcement,
        **fields,
    }


def created(client: TestClient, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/api/v1/{kind}", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def error_of(response: Any) -> dict[str, Any]:
    """The `error` object of an error answer, after checking its shape."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message", "details"} <= set(body["error"]), body
    assert response.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = body["error"]
    return error

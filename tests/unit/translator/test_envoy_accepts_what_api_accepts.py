"""Whatever the admin API accepts, Envoy accepts: a property over generated input.

Listeners, services and routes are generated from the API's own OpenAPI document (valid by
schema; Schemathesis' positive mode, as in `tests/unit/api/test_fuzz_openapi.py`), with their
references pointed at resources of the same batch. Each batch is posted to the real API; what
it accepts is loaded from the store, translated, and checked by `envoy --mode validate` once
per batch. Anything Envoy rejects is input the API should have refused with a 422.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from controlplane.api import create_app
from controlplane.model import GatewayState
from controlplane.settings import Settings
from controlplane.store import Database, load_gateway_state
from controlplane.translator import translate
from controlplane.translator.protos import duration_fields
from controlplane.xds.nodes import NodeRegistry
from tests.conftest import empty_database
from tests.unit.api.conftest import RecordingPublisher
from tests.unit.translator.golden_state import CA_PEM
from tests.unit.translator.test_envoy_validates import envoy_validate, static_bootstrap

pytestmark = pytest.mark.integration

# Each batch: one Envoy validation (~0.2 s). Derandomized: the gate sees the same batches
# every run; raise BATCHES (and drop derandomize) to explore.
BATCHES = 20
Json = dict[str, Any]
_PEM = (Path(__file__).parent / "golden_certificate.pem").read_text()
_KEY_AT = _PEM.index("-----BEGIN PRIVATE KEY-----")
CERTIFICATE = {"name": "batch", "certificate_chain": _PEM[:_KEY_AT], "private_key": _PEM[_KEY_AT:]}


def _schema() -> Any:
    # The document depends on the code only; the database behind this app is never opened.
    app = create_app(
        Settings(mode="development", admin_token=SecretStr("")),
        Database("sqlite://"),
        RecordingPublisher(),
        NodeRegistry(),
    )
    return schemathesis.openapi.from_dict(app.openapi())


SCHEMA = _schema()


def bodies(kind: str) -> st.SearchStrategy[Json]:
    """Request bodies of POST /api/v1/{kind} that the OpenAPI document allows."""
    operation = SCHEMA.find_operation_by_label(f"POST /api/v1/{kind}")
    assert operation is not None, kind
    cases: st.SearchStrategy[schemathesis.Case[Any]] = operation.as_strategy(
        generation_mode=schemathesis.GenerationMode.POSITIVE
    )
    return cases.map(_body)


def _body(case: "schemathesis.Case[Any]") -> Json:
    assert isinstance(case.body, dict), case.body
    return case.body


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    settings = Settings(mode="development", admin_token=SecretStr(""))
    app = create_app(settings, database, RecordingPublisher(), NodeRegistry())
    with TestClient(app) as http:
        yield http


def _repair_listener(body: Json) -> Json:
    """One node group; TLS with the batch's certificate."""
    repaired = {**body, "node_group": "default"}
    if repaired.get("tls") is not None:
        repaired["tls"] = {"certificates": [CERTIFICATE["name"]]}
    return repaired


def _repair_service(body: Json) -> Json:
    """What a JSON schema cannot say: endpoint hosts are IP addresses (or, for DNS discovery,
    hostnames), a CA is PEM text; a hash key names its type."""
    repaired = dict(body)
    dns = repaired.get("discovery") == "dns"
    repaired["endpoints"] = [
        {**endpoint, "host": f"shard-{n}.example" if dns else f"10.0.{n // 250}.{n % 250 + 1}"}
        for n, endpoint in enumerate(repaired.get("endpoints") or [])
        if isinstance(endpoint, dict)
    ]
    if isinstance(repaired.get("hash_on"), list):
        repaired["hash_on"] = [
            key for key in repaired["hash_on"] if isinstance(key, dict) and "type" in key
        ]
    if isinstance(repaired.get("tls"), dict):
        repaired["tls"] = {**repaired["tls"], "ca_pem": CA_PEM}
    return repaired


def _retarget(value: Any, services: list[str], pick: int) -> Any:
    """`value` with every service a route names replaced by one of `services`."""
    if isinstance(value, dict):
        return {
            key: services[pick % len(services)]
            if key == "service"
            else _retarget(v, services, pick)
            for key, v in value.items()
        }
    if isinstance(value, list):
        return [_retarget(item, services, pick + n) for n, item in enumerate(value)]
    return value


def _accepted(client: TestClient, kind: str, body: Json) -> str | None:
    """The name of the stored resource, or None when the API refused the body (4xx)."""
    response = client.post(f"/api/v1/{kind}", json=body)
    assert response.status_code < 500, response.text
    return str(body["name"]) if response.status_code == 201 else None


def test_envoy_accepts_every_batch_the_api_accepts(
    client: TestClient, database: Database, tmp_path_factory: pytest.TempPathFactory
) -> None:
    validated = 0

    @given(
        listeners=st.lists(bodies("listeners"), min_size=1, max_size=4),
        services=st.lists(bodies("services"), min_size=1, max_size=12),
        routes=st.lists(st.tuples(bodies("routes"), st.integers(0, 1000)), max_size=30),
    )
    @settings(
        max_examples=BATCHES,
        derandomize=True,
        # No shrinking: it would run Envoy hundreds of times; the failure shows the whole state.
        phases=[Phase.explicit, Phase.generate],
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def batch(listeners: list[Json], services: list[Json], routes: list[tuple[Json, int]]) -> None:
        nonlocal validated
        state = _store_batch(client, database, listeners, services, routes)
        if state is None:
            return
        (resources,) = translate(state).values()
        config = tmp_path_factory.mktemp("accepted") / "envoy.json"
        returncode, output = envoy_validate(static_bootstrap("default", resources), config)
        validated += 1

        assert returncode == 0, f"Envoy rejected what the API accepted:\n{output}\n{state}"

    batch()

    # A batch the API refused whole proves nothing about Envoy: the property must have run.
    assert validated > 0, f"none of {BATCHES} batches reached envoy --mode validate"


def _store_batch(
    client: TestClient,
    database: Database,
    listeners: list[Json],
    services: list[Json],
    routes: list[tuple[Json, int]],
) -> GatewayState | None:
    """Post the batch to an empty store; what it accepted, or None when it refused every
    listener or every service (nothing to translate)."""
    empty_database(database)
    assert _accepted(client, "certificates", CERTIFICATE)
    # One node group: one Envoy configuration, one validation.
    listener_names = [
        name
        for body in listeners
        if (name := _accepted(client, "listeners", _repair_listener(body)))
    ]
    service_names = [
        name for body in services if (name := _accepted(client, "services", _repair_service(body)))
    ]
    if not listener_names or not service_names:
        return None
    for body, pick in routes:
        route = {**body, "listener": listener_names[pick % len(listener_names)]}
        _accepted(client, "routes", _retarget(route, service_names, pick))
    # Every service is used by some route, or it would not be translated.
    for name in service_names:
        _accepted(
            client,
            "routes",
            {
                "name": f"uses-{name}"[:63].rstrip("-"),
                "listener": listener_names[0],
                "match": {"path": {"type": "prefix", "value": f"/{name}"}},
                "action": {"type": "forward", "backends": [{"service": name}]},
            },
        )
    with database.snapshot() as session:
        return load_gateway_state(session)


# What this property found, pinned down.


@pytest.mark.parametrize(
    ("kind", "body", "message"),
    [
        # Envoy refuses a 0 s connect timeout, and 1e-10 s would reach it as 0 s.
        (
            "services",
            {"timeouts": {"connect_seconds": 1e-10}},
            "greater than or equal to 0.001",
        ),
        # A 0 s route timeout means "none": a tiny one must not turn into that.
        ("services", {"timeouts": {"request_seconds": 1e-10}}, "too short"),
        # Envoy parses header values, a direct response's content type included, as formatters.
        (
            "routes",
            {"action": {"type": "direct_response", "status": 503, "content_type": "text/a%{b"}},
            "content_type cannot contain '%'",
        ),
    ],
)
def test_what_envoy_would_reject_is_refused(
    client: TestClient, kind: str, body: Json, message: str
) -> None:
    assert _accepted(client, "listeners", {"name": "public", "port": 8080})
    assert _accepted(
        client, "services", {"name": "base", "endpoints": [{"host": "10.0.0.1", "port": 80}]}
    )
    base: Json = (
        {"name": "x", "endpoints": [{"host": "10.0.0.1", "port": 80}]}
        if kind == "services"
        else {"name": "x", "listener": "public", "action": {"backends": [{"service": "base"}]}}
    )
    response = client.post(f"/api/v1/{kind}", json={**base, **body})

    assert response.status_code == 422, response.text
    assert message in response.text


def test_durations_round_as_a_whole() -> None:
    assert duration_fields(1.9999999999) == {"seconds": 2, "nanos": 0}
    assert duration_fields(30.5) == {"seconds": 30, "nanos": 500_000_000}
    assert duration_fields(0.001) == {"seconds": 0, "nanos": 1_000_000}

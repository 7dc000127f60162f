"""Fuzz the admin API against its own OpenAPI document: whatever comes in, never a 5xx.

Schemathesis generates requests from the schema, valid ones (positive) and ones that break it
on purpose (negative), for every operation, on a store that already holds resources under the
names the schema gives as examples, so updates and deletes get past "404".
"""

from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from pydantic import SecretStr
from schemathesis.core.result import Ok

from controlplane.api import create_app
from controlplane.settings import Settings
from controlplane.store import Database
from controlplane.xds.nodes import NodeRegistry
from tests.unit.api.conftest import (
    RecordingPublisher,
    created,
    listener,
    policy,
    route,
    service,
)
from tests.unit.api.test_oauth2_introspectors import introspector

EXAMPLES_PER_OPERATION = 30


def _cases() -> list[tuple[str, schemathesis.GenerationMode]]:
    """Every operation with valid input, and with invalid input where it takes any."""
    # The document depends on the code only; the database behind this app is never opened.
    app = create_app(
        Settings(mode="development", admin_token=SecretStr("")),
        Database("sqlite://"),
        RecordingPublisher(),
        NodeRegistry(),
    )
    schema = schemathesis.openapi.from_dict(app.openapi())
    cases = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        cases.append((operation.label, schemathesis.GenerationMode.POSITIVE))
        if operation.path_parameters or operation.query or operation.headers or operation.body:
            cases.append((operation.label, schemathesis.GenerationMode.NEGATIVE))
    return cases


@pytest.fixture
def seeded_client(client: TestClient) -> TestClient:
    created(client, "listeners", listener("inventory"))
    created(client, "services", service("inventory"))
    created(client, "routes", route("inventory", "inventory", listener="inventory"))
    created(client, "rate-limit-policies", policy("inventory", "inventory", enforcement="local"))
    created(client, "oauth2-introspectors", introspector("inventory"))
    return client


@pytest.mark.parametrize(("label", "mode"), _cases())
def test_no_request_makes_the_api_fail(
    seeded_client: TestClient, label: str, mode: schemathesis.GenerationMode
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", seeded_client.app)
    operation = schema.find_operation_by_label(label)
    assert operation is not None

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def call(case: schemathesis.Case[Any]) -> None:
        response = case.call()
        assert response.status_code < 500, (case.method, case.formatted_path, response.text)

    call()

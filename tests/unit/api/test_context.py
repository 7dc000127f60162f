"""AdminContext: the publisher hears of every committed change, after the commit, and cannot
break a write; a write losing a race answers 409 or 412, never 500."""

import logging

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from controlplane.api import ConfigPublisher, create_app
from controlplane.api.context import AdminContext
from controlplane.api.errors import Conflict, PreconditionFailed
from controlplane.model import ServiceSpec
from controlplane.settings import Settings
from controlplane.store import Database, current_revision, load_gateway_state
from controlplane.store.repositories import services
from controlplane.store.tables import Service
from controlplane.xds.nodes import NodeRegistry
from tests.support.store import bump_version_behind_the_orm
from tests.unit.api.conftest import RecordingPublisher, listener, service


class SnapshotTakingPublisher:
    """Reads the store the way the xDS side does, at the moment it is told."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.seen: list[tuple[list[str], int]] = []

    def changed(self) -> None:
        with self.database.snapshot() as session:
            state = load_gateway_state(session)
            self.seen.append(([s.name for s in state.services], current_revision(session)))


class BrokenPublisher:
    def changed(self) -> None:
        raise RuntimeError("publisher is down")


def _client(database: Database, publisher: ConfigPublisher) -> TestClient:
    settings = Settings(mode="development", admin_token=SecretStr(""))
    return TestClient(create_app(settings, database, publisher, NodeRegistry()))


def test_the_publisher_is_told_after_the_commit(database: Database) -> None:
    publisher = SnapshotTakingPublisher(database)
    with _client(database, publisher) as client:
        client.post("/api/v1/services", json=service("chat"))
        client.post("/api/v1/services", json=service("inventory"))

    [(first, first_revision), (second, second_revision)] = publisher.seen
    assert first == ["chat"]
    assert second == ["chat", "inventory"]
    assert second_revision == first_revision + 1


def test_a_failing_publisher_does_not_fail_the_committed_write(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR), _client(database, BrokenPublisher()) as client:
        response = client.post("/api/v1/listeners", json=listener())
        stored = client.get("/api/v1/listeners/public")

    assert response.status_code == 201
    assert stored.status_code == 200
    assert any("publisher" in record.getMessage() for record in caplog.records)


def _inventory() -> ServiceSpec:
    return ServiceSpec.model_validate(service("inventory"))


def test_a_write_losing_a_race_on_a_constraint_is_a_409(database: Database) -> None:
    publisher = RecordingPublisher()
    admin = AdminContext(database, publisher, NodeRegistry())
    with database.session() as session:
        services.add(session, _inventory())

    def add_again() -> None:
        # What a concurrent creator sees when the other one committed after its check.
        with admin.write() as session:
            services.add(session, _inventory())

    with pytest.raises(Conflict):
        add_again()
    assert publisher.calls == 0


def test_a_write_losing_a_race_on_the_version_is_a_412(database: Database) -> None:
    publisher = RecordingPublisher()
    admin = AdminContext(database, publisher, NodeRegistry())
    with database.session() as session:
        services.add(session, _inventory())

    def replace_after_another_writer() -> None:
        with admin.write() as session:
            row = services.get(session, "inventory")
            assert row is not None
            bump_version_behind_the_orm(session, Service, row.id)
            services.replace(session, row, _inventory())

    with pytest.raises(PreconditionFailed):
        replace_after_another_writer()
    assert publisher.calls == 0

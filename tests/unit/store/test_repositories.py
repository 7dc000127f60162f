"""Repositories: CRUD, ordering, the revision counter and the references the database keeps."""

import threading

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from controlplane.model import ListenerSpec, RouteSpec, ServiceSpec
from controlplane.store import Database, current_revision
from controlplane.store.repositories import listeners, routes, services
from controlplane.store.tables import Service
from tests.support.store import bump_version_behind_the_orm


def _listener(name: str = "public", port: int = 8080) -> ListenerSpec:
    return ListenerSpec(name=name, port=port)


def _service(name: str = "inventory") -> ServiceSpec:
    return ServiceSpec.model_validate(
        {"name": name, "endpoints": [{"host": "10.0.0.1", "port": 80}]}
    )


def _route(name: str, *services: str, order: int = 1000, listener: str = "public") -> RouteSpec:
    return RouteSpec.model_validate(
        {
            "name": name,
            "listener": listener,
            "order": order,
            "action": {"backends": [{"service": service} for service in services]},
        }
    )


def _revision(database: Database) -> int:
    with database.snapshot() as session:
        return current_revision(session)


def _add_route(database: Database, spec: RouteSpec) -> None:
    with database.session() as session:
        listener = listeners.get(session, spec.listener)
        assert listener is not None
        found = services.get_many(session, spec.services())
        routes.add(session, spec, listener, found.values())


def test_add_get_replace_delete_round_trip(database: Database) -> None:
    with database.session() as session:
        added = listeners.add(session, _listener())
        assert (added.version, added.port) == (1, 8080)
        created = added.created_at

    with database.session() as session:
        row = listeners.get(session, "public")
        assert row is not None
        assert row.created_at == created
        assert row.created_at.tzinfo is not None
        listeners.replace(session, row, _listener(port=9090))
        assert row.version == 2

    with database.snapshot() as session:
        stored = listeners.get(session, "public")
        assert stored is not None
        assert (stored.version, stored.port, stored.spec["port"]) == (2, 9090, 9090)
        assert stored.updated_at >= stored.created_at
        assert ListenerSpec.model_validate(stored.spec) == _listener(port=9090)

    with database.session() as session:
        doomed = listeners.get(session, "public")
        assert doomed is not None
        listeners.delete(session, doomed)

    with database.snapshot() as session:
        assert listeners.get(session, "public") is None


def test_every_committed_write_bumps_the_revision_once(database: Database) -> None:
    start = _revision(database)
    with database.session() as session:
        services.add(session, _service())
    assert _revision(database) == start + 1

    with database.session() as session:
        row = services.get(session, "inventory")
        assert row is not None
        services.replace(session, row, _service())
        services.delete(session, row)
    assert _revision(database) == start + 3


def test_a_rolled_back_write_leaves_the_revision_alone(database: Database) -> None:
    start = _revision(database)

    def add_then_fail() -> None:
        with database.session() as session:
            services.add(session, _service())
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        add_then_fail()

    assert _revision(database) == start
    with database.snapshot() as session:
        assert services.count(session) == 0


def test_names_are_unique(database: Database) -> None:
    with database.session() as session:
        services.add(session, _service())
    with pytest.raises(IntegrityError), database.session() as session:
        services.add(session, _service())


def test_listener_bindings_are_unique_per_node_group(database: Database) -> None:
    with database.session() as session:
        listeners.add(session, _listener("a", 8080))
        listeners.add(session, ListenerSpec(name="b", port=8080, node_group="edge"))
        assert listeners.bound_to(session, "0.0.0.0", 8080, "default") is not None
    with pytest.raises(IntegrityError), database.session() as session:
        listeners.add(session, _listener("c", 8080))


def test_an_update_of_a_version_changed_meanwhile_fails(database: Database) -> None:
    with database.session() as session:
        services.add(session, _service())

    def replace_after_a_concurrent_writer() -> None:
        with database.session() as session:
            row = services.get(session, "inventory")
            assert row is not None
            bump_version_behind_the_orm(session, Service, row.id)
            services.replace(session, row, _service())

    with pytest.raises(StaleDataError):
        replace_after_a_concurrent_writer()

    with database.snapshot() as session:
        row = services.get(session, "inventory")
        assert row is not None
        assert row.version == 1  # the failed transaction changed nothing


def test_the_database_refuses_to_delete_what_routes_still_use(database: Database) -> None:
    with database.session() as session:
        listeners.add(session, _listener())
        services.add(session, _service("inventory"))
        services.add(session, _service("chat"))
    _add_route(database, _route("items", "inventory", "chat"))

    with database.snapshot() as session:
        service = services.get(session, "chat")
        listener = listeners.get(session, "public")
        assert service is not None
        assert listener is not None
        assert services.referencing_route_names(session, service, limit=10) == ["items"]
        assert listeners.route_names(session, listener, limit=10) == ["items"]

    def delete_service() -> None:
        with database.session() as session:
            row = services.get(session, "chat")
            assert row is not None
            services.delete(session, row)

    def delete_listener() -> None:
        with database.session() as session:
            row = listeners.get(session, "public")
            assert row is not None
            listeners.delete(session, row)

    with pytest.raises(IntegrityError):
        delete_service()
    with pytest.raises(IntegrityError):
        delete_listener()


def test_replacing_a_route_moves_its_references(database: Database) -> None:
    with database.session() as session:
        listeners.add(session, _listener())
        services.add(session, _service("inventory"))
        services.add(session, _service("chat"))
    _add_route(database, _route("items", "inventory"))

    with database.session() as session:
        row = routes.get(session, "items")
        chat = services.get(session, "chat")
        listener = listeners.get(session, "public")
        assert row is not None
        assert chat is not None
        assert listener is not None
        routes.replace(session, row, _route("items", "chat"), listener, [chat])

    with database.session() as session:
        inventory = services.get(session, "inventory")
        assert inventory is not None
        assert services.referencing_route_names(session, inventory, limit=10) == []
        services.delete(session, inventory)


def test_deleting_a_route_releases_its_services(database: Database) -> None:
    with database.session() as session:
        listeners.add(session, _listener())
        services.add(session, _service())
    _add_route(database, _route("items", "inventory"))

    with database.session() as session:
        route = routes.get(session, "items")
        assert route is not None
        routes.delete(session, route)
    with database.session() as session:
        service = services.get(session, "inventory")
        assert service is not None
        services.delete(session, service)
        assert services.count(session) == 0


def test_pages_are_ordered_deterministically(database: Database) -> None:
    with database.session() as session:
        listeners.add(session, _listener())
        services.add(session, _service())
        for name in ["delta", "alpha", "charlie", "bravo"]:
            services.add(session, _service(name))
    for name, order in [("z", 1), ("b", 5), ("a", 5), ("c", 0)]:
        _add_route(database, _route(name, "inventory", order=order))

    with database.snapshot() as session:
        assert [row.name for row in services.page(session, limit=3, offset=0)] == [
            "alpha",
            "bravo",
            "charlie",
        ]
        assert [row.name for row in services.page(session, limit=3, offset=3)] == [
            "delta",
            "inventory",
        ]
        assert services.count(session) == 5
        assert [row.name for row in routes.page(session, limit=10, offset=0)] == [
            "c",
            "z",
            "a",
            "b",
        ]
        assert [row.name for row in routes.page(session, limit=2, offset=1)] == ["z", "a"]


def test_concurrent_writers_all_commit(database: Database) -> None:
    start = _revision(database)
    errors: list[BaseException] = []

    def write(prefix: str) -> None:
        try:
            for index in range(10):
                with database.session() as session:
                    services.add(session, _service(f"{prefix}-{index}"))
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert _revision(database) == start + 40
    with database.snapshot() as session:
        assert services.count(session) == 40

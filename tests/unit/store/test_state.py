"""load_gateway_state and current_revision: what the xDS side reads."""

from typing import Any

from sqlalchemy import event, insert

from controlplane.model import GatewayState, ListenerSpec, RouteSpec, ServiceSpec
from controlplane.store import Database, StateLoader, current_revision, load_gateway_state
from controlplane.store.repositories import listeners, routes, services
from controlplane.store.tables import Route, route_service_refs, utcnow


def test_an_empty_store_gives_an_empty_state(database: Database) -> None:
    with database.snapshot() as session:
        state = load_gateway_state(session)
        revision = current_revision(session)

    assert (state.listeners, state.services, state.routes) == ((), (), ())
    assert state.revision == revision


def test_state_holds_every_spec_with_its_revision(database: Database) -> None:
    # The order of specs in a state carries no meaning: the translator orders what it needs.
    with database.session() as session:
        for name, port in [("b", 81), ("a", 80)]:
            listeners.add(session, ListenerSpec(name=name, port=port))
        service = services.add(
            session,
            ServiceSpec.model_validate(
                {"name": "inventory", "endpoints": [{"host": "10.0.0.1", "port": 80}]}
            ),
        )
    specs = [_route_spec(name, order) for name, order in [("late", 9), ("early", 1), ("mid", 5)]]
    _insert_routes(database, specs, service.id)

    with database.snapshot() as session:
        state = load_gateway_state(session)
        revision = current_revision(session)

    assert sorted(listener.name for listener in state.listeners) == ["a", "b"]
    assert [s.name for s in state.services] == ["inventory"]
    assert sorted(state.routes, key=lambda route: route.name) == sorted(
        specs, key=lambda route: route.name
    )
    assert state.revision == revision


def test_ten_thousand_routes_load_with_one_query_per_table(database: Database) -> None:
    with database.session() as session:
        listeners.add(session, ListenerSpec(name="public", port=8080))
        service = services.add(
            session,
            ServiceSpec.model_validate(
                {"name": "inventory", "endpoints": [{"host": "10.0.0.1", "port": 80}]}
            ),
        )
    _insert_routes(database, [_route_spec(f"r{n:05d}", n % 7) for n in range(10_000)], service.id)

    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(database.engine, "before_cursor_execute", count)
    try:
        with database.snapshot() as session:
            state = load_gateway_state(session)
    finally:
        event.remove(database.engine, "before_cursor_execute", count)

    assert len(state.routes) == 10_000
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    # The revision, then listeners, services, routes, certificates, rate-limit policies, JWT
    # providers, roles, API keys and OAuth 2.0 introspectors.
    assert len(selects) == 10, selects


def test_loader_gives_back_the_same_spec_objects_for_unchanged_rows(database: Database) -> None:
    with database.session() as session:
        listeners.add(session, ListenerSpec(name="a", port=80))
        service = services.add(
            session,
            ServiceSpec.model_validate(
                {"name": "inventory", "endpoints": [{"host": "10.0.0.1", "port": 80}]}
            ),
        )
    _insert_routes(database, [_route_spec("one", 1), _route_spec("two", 2)], service.id)
    loader = StateLoader()
    with database.snapshot() as session:
        before = loader.load(session)

    with database.session() as session:
        row, listener = routes.get(session, "two"), listeners.get(session, "a")
        assert row is not None
        assert listener is not None
        edited = _route_spec("two", 3)
        routes.replace(session, row, edited, listener, [service])
    with database.snapshot() as session:
        after = loader.load(session)

    assert after.routes[0] is before.routes[0]
    assert after.routes[1] is not before.routes[1]
    assert after.routes[1] == edited
    assert after.listeners[0] is before.listeners[0]
    assert after.services[0] is before.services[0]
    assert after.revision > before.revision


def test_loader_catches_up_on_edits_additions_and_deletions(database: Database) -> None:
    with database.session() as session:
        listener = listeners.add(session, ListenerSpec(name="a", port=80))
        service = services.add(
            session,
            ServiceSpec.model_validate(
                {"name": "inventory", "endpoints": [{"host": "10.0.0.1", "port": 80}]}
            ),
        )
        for name in ("one", "two", "three"):
            routes.add(session, _route_spec(name, 1), listener, [service])
    loader = StateLoader()

    def names(state: GatewayState) -> list[str]:
        return sorted(route.name for route in state.routes)

    def both() -> tuple[GatewayState, GatewayState]:
        with database.snapshot() as session:
            return loader.load(session), load_gateway_state(session)

    first, _ = both()
    with database.session() as session:
        row = routes.get(session, "two")
        assert row is not None
        routes.replace(session, row, _route_spec("two", 7), listener, [service])
        routes.add(session, _route_spec("four", 1), listener, [service])
    caught_up, fresh = both()
    assert names(caught_up) == names(fresh) == ["four", "one", "three", "two"]
    assert {r.name: r.order for r in caught_up.routes}["two"] == 7

    with database.session() as session:  # a deletion and an addition: the count is unchanged
        row = routes.get(session, "one")
        assert row is not None
        routes.delete(session, row)
        routes.add(session, _route_spec("five", 1), listener, [service])
    caught_up, fresh = both()
    assert names(caught_up) == names(fresh) == ["five", "four", "three", "two"]
    kept = {r.name: r for r in first.routes}
    assert next(r for r in caught_up.routes if r.name == "three") is kept["three"]

    with database.snapshot() as session:
        assert loader.load(session) is caught_up, "nothing written: the same state again"


def _route_spec(name: str, order: int) -> RouteSpec:
    return RouteSpec.model_validate(
        {
            "name": name,
            "listener": "public" if name.startswith("r") else "a",
            "order": order,
            "match": {"path": {"type": "prefix", "value": f"/{name}"}},
            "action": {"backends": [{"service": "inventory"}]},
        }
    )


def _insert_routes(database: Database, specs: list[RouteSpec], service_id: int) -> None:
    # Bulk insert: ten thousand ORM round trips would make the test slow, not the code.
    with database.session() as session:
        listener_ids = {
            name: row.id
            for name in {spec.listener for spec in specs}
            if (row := listeners.get(session, name)) is not None
        }
        now = utcnow()
        session.execute(
            insert(Route),
            [
                {
                    "name": spec.name,
                    "listener_id": listener_ids[spec.listener],
                    "order": spec.order,
                    "spec": spec.model_dump(mode="json"),
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
                for spec in specs
            ],
        )
        ids = session.execute(Route.__table__.select().with_only_columns(Route.id)).scalars()
        session.execute(
            insert(route_service_refs),
            [{"route_id": route_id, "service_id": service_id} for route_id in ids],
        )

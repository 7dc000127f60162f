"""Rate-limit policies in the store: round trip, the routes they name, and the loader."""

import pytest
from sqlalchemy.exc import IntegrityError

from controlplane.model import ListenerSpec, RateLimitPolicySpec, RouteSpec, ServiceSpec
from controlplane.store import Database, StateLoader
from controlplane.store.repositories import listeners, ratelimits, routes, services


def _policy(*route_names: str, requests: int = 10) -> RateLimitPolicySpec:
    return RateLimitPolicySpec.model_validate(
        {
            "name": "per-player",
            "applies_to": {"type": "routes", "routes": list(route_names)},
            "counted_by": ["player"],
            "limit": {"requests": requests, "window_seconds": 60},
        }
    )


@pytest.fixture
def stored_routes(database: Database) -> None:
    with database.session() as session:
        listener = listeners.add(session, ListenerSpec(name="public", port=8080))
        service = services.add(
            session,
            ServiceSpec.model_validate(
                {"name": "inv", "endpoints": [{"host": "10.0.0.1", "port": 80}]}
            ),
        )
        for name in ("a", "b"):
            spec = RouteSpec.model_validate(
                {"name": name, "listener": "public", "action": {"backends": [{"service": "inv"}]}}
            )
            routes.add(session, spec, listener, [service])


def test_policies_round_trip_and_the_loader_sees_each_change(
    database: Database, stored_routes: None
) -> None:
    loader = StateLoader()
    with database.session() as session:
        ratelimits.add(session, _policy("a"), routes.get_many(session, ["a"]).values())
    with database.snapshot() as session:
        assert loader.load(session).rate_limit_policies == (_policy("a"),)

    with database.session() as session:
        row = ratelimits.get(session, "per-player")
        assert row is not None
        ratelimits.replace(
            session, row, _policy("b", requests=5), routes.get_many(session, ["b"]).values()
        )
    with database.snapshot() as session:
        assert loader.load(session).rate_limit_policies == (_policy("b", requests=5),)
        route_b = routes.get(session, "b")
        route_a = routes.get(session, "a")
        assert route_a is not None
        assert route_b is not None
        assert routes.referencing_policy_names(session, route_b, limit=5) == ["per-player"]
        assert routes.referencing_policy_names(session, route_a, limit=5) == []

    with database.session() as session:
        row = ratelimits.get(session, "per-player")
        assert row is not None
        ratelimits.delete(session, row)
    with database.snapshot() as session:
        assert loader.load(session).rate_limit_policies == ()


def test_the_database_refuses_to_delete_a_route_a_policy_names(
    database: Database, stored_routes: None
) -> None:
    with database.session() as session:
        ratelimits.add(session, _policy("a"), routes.get_many(session, ["a"]).values())

    with database.session() as session:
        route = routes.get(session, "a")
        assert route is not None
        # RESTRICT: even a writer that skips the API's check cannot remove it.
        with pytest.raises(IntegrityError):
            routes.delete(session, route)
        session.rollback()

"""A long-lived Translator reuses what unchanged specs compiled to, and gives the same bytes
as compiling from scratch."""

from dataclasses import replace
from typing import Any

import pytest

from controlplane.model import (
    Limit,
    PathMatch,
    Retries,
    RouteMatch,
    RouteSpec,
    RoutesTarget,
    SourceIpHash,
    Timeouts,
)
from controlplane.translator import Translator, translate
from controlplane.translator import compile as compile_module
from controlplane.translator import routes as routes_module
from controlplane.translator.route_policy import RoutePolicy
from tests.unit.translator.golden_state import EXTAUTHZ, RATELIMIT, golden_state


def test_memoized_translation_equals_a_fresh_one_after_each_edit() -> None:
    state = golden_state()
    translator = Translator(RATELIMIT, EXTAUTHZ)
    assert translator.translate(state) == translate(state, RATELIMIT, EXTAUTHZ)

    first = state.routes[0]
    moved = first.model_copy(update={"match": RouteMatch(path=PathMatch(value="/moved"))})
    edited = replace(state, routes=(moved, *state.routes[1:]))
    assert translator.translate(edited) == translate(edited, RATELIMIT, EXTAUTHZ)

    slower = state.services[0].model_copy(update={"timeouts": Timeouts(request_seconds=99)})
    edited_service = replace(edited, services=(slower, *edited.services[1:]))
    assert translator.translate(edited_service) == translate(edited_service, RATELIMIT, EXTAUTHZ)

    policy = state.rate_limit_policies[0]
    retargeted = policy.model_copy(update={"applies_to": RoutesTarget(routes=["chat"])})
    edited_policy = replace(
        edited_service, rate_limit_policies=(retargeted, *state.rate_limit_policies[1:])
    )
    assert translator.translate(edited_policy) == translate(edited_policy, RATELIMIT, EXTAUTHZ)


def test_only_changed_routes_are_compiled_again(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[str] = []
    real = routes_module.encode_route

    def counting(
        route: RouteSpec, policy: RoutePolicy | None, extra: bytes = b"", per_filter: Any = None
    ) -> bytes:
        compiled.append(route.name)
        return real(route, policy, extra, per_filter)

    monkeypatch.setattr(compile_module, "encode_route", counting)
    state = golden_state()
    translator = Translator(RATELIMIT, EXTAUTHZ)
    translator.translate(state)
    assert sorted(compiled) == sorted(route.name for route in state.routes)

    compiled.clear()
    first = state.routes[0]
    moved = first.model_copy(update={"match": RouteMatch(path=PathMatch(value="/moved"))})
    translator.translate(replace(state, routes=(moved, *state.routes[1:])))
    assert compiled == [first.name]

    compiled.clear()
    translator.translate(replace(state))
    assert compiled == [first.name], "the route's earlier spec object was forgotten"

    compiled.clear()
    # A new limit is the rate-limit service's business: Envoy's routes stay as they are.
    policy, *others = state.rate_limit_policies
    assert policy.routes() == ["users", "items"]
    stricter = policy.model_copy(update={"limit": Limit(requests=1, window_seconds=60)})
    translator.translate(replace(state, rate_limit_policies=(stricter, *others)))
    assert compiled == []

    # Counting something else changes the descriptor: the policy's two routes, and no other.
    by_ip = policy.model_copy(update={"counted_by": ["ip"]})
    translator.translate(replace(state, rate_limit_policies=(by_ip, *others)))
    assert sorted(compiled) == ["items", "users"]


def test_a_route_is_compiled_again_when_its_service_changes_what_routes_take() -> None:
    state = golden_state()
    translator = Translator()
    translator.translate(state)
    users = next(service for service in state.services if service.name == "users")
    others = tuple(service for service in state.services if service is not users)
    for change in (
        {"retries": Retries(on=["reset"])},
        {"timeouts": Timeouts(idle_seconds=5)},
        {"load_balancing": "ring_hash", "hash_on": [SourceIpHash()]},
    ):
        edited = replace(state, services=(users.model_copy(update=change), *others))
        assert translator.translate(edited) == translate(edited), change

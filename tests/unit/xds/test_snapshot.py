"""Snapshots are versioned by content: the same state always gives the same versions and bytes."""

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from controlplane.model import GatewayState
from controlplane.translator import GroupResources, translate
from controlplane.xds.snapshot import (
    CLUSTER,
    ENDPOINT,
    LISTENER,
    PUSH_ORDER,
    ROUTE,
    RUNTIME,
    Snapshot,
)
from tests.unit.translator.golden_state import EDGE, golden_state


def snapshots(state: GatewayState) -> dict[str, Snapshot]:
    return {group: Snapshot.of_group(resources) for group, resources in translate(state).items()}


def contents(snapshot: Snapshot) -> dict[str, dict[str, bytes]]:
    return {
        type_url: {name: r.payload for name, r in typed.resources.items()}
        for type_url, typed in snapshot.types.items()
    }


def type_versions(snapshot: Snapshot) -> dict[str, str]:
    return {type_url: snapshot.of_type(type_url).version for type_url in snapshot.types}


def test_same_state_built_twice_gives_identical_versions_and_bytes() -> None:
    first, second = snapshots(golden_state()), snapshots(golden_state())
    assert first.keys() == second.keys()
    for group in first:
        assert first[group].version == second[group].version
        assert type_versions(first[group]) == type_versions(second[group])
        assert contents(first[group]) == contents(second[group])
        assert first[group] == second[group]  # build time is not part of the content


def test_order_of_the_declared_state_does_not_matter() -> None:
    state = golden_state()
    shuffled = GatewayState(
        listeners=state.listeners[::-1],
        services=state.services[::-1],
        routes=state.routes[::-1],
        certificates=state.certificates[::-1],
        rate_limit_policies=state.rate_limit_policies[::-1],
        jwt_providers=state.jwt_providers[::-1],
        roles=state.roles[::-1],
        fetched_jwks=state.fetched_jwks,
    )
    expected = snapshots(state)
    actual = snapshots(shuffled)
    assert {g: s.version for g, s in actual.items()} == {g: s.version for g, s in expected.items()}
    assert {g: contents(s) for g, s in actual.items()} == {
        g: contents(s) for g, s in expected.items()
    }


def test_store_revision_is_not_part_of_the_version() -> None:
    state = golden_state()
    assert {g: s.version for g, s in snapshots(state).items()} == {
        g: s.version for g, s in snapshots(replace(state, revision=state.revision + 1)).items()
    }


REPO = Path(__file__).resolve().parents[3]
_PRINT_VERSIONS = """
import json
from controlplane.translator import translate
from controlplane.xds.snapshot import Snapshot
from tests.unit.translator.golden_state import EDGE, golden_state
print(json.dumps({
    group: {t: Snapshot.of_group(r).of_type(t).version for t in Snapshot.of_group(r).types}
    for group, r in translate(golden_state()).items()
}))
"""


def test_versions_are_the_same_in_another_process() -> None:
    """What lets an Envoy resume on a restarted control plane or another replica."""
    expected = {group: type_versions(s) for group, s in snapshots(golden_state()).items()}
    for seed in ("1", "2"):  # set and dict iteration must not leak into the content
        output = subprocess.run(
            [sys.executable, "-c", _PRINT_VERSIONS],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
            env={**os.environ, "PYTHONHASHSEED": seed},
            cwd=REPO,
        ).stdout
        assert json.loads(output) == expected


def test_type_versions_change_only_for_the_types_whose_content_changed() -> None:
    state = golden_state()
    before = snapshots(state)["edge"]
    routes = tuple(
        route.model_copy(update={"timeout_seconds": 9.0}) if route.name == "items" else route
        for route in state.routes
    )
    after = snapshots(replace(state, routes=routes))["edge"]
    changed = {t for t in PUSH_ORDER if before.of_type(t).version != after.of_type(t).version}
    assert changed == {ROUTE}
    assert after.version != before.version
    assert after.of_type(ROUTE).digest("public") != before.of_type(ROUTE).digest("public")


def test_empty_snapshot_is_an_empty_build() -> None:
    empty = Snapshot.empty()
    assert empty == Snapshot.of_group(GroupResources.empty())
    for type_url in (CLUSTER, ENDPOINT, LISTENER, ROUTE):
        assert empty.of_type(type_url).names == frozenset()
    # The runtime layer is always served: Envoy waits for it before asking for clusters.
    assert empty.of_type(RUNTIME).names == {"chaosgw"}
    # A type the snapshot does not hold reads as empty too.
    assert Snapshot({}).of_type(CLUSTER).version == empty.of_type(CLUSTER).version


def test_changed_since_names_new_and_changed_resources_and_is_remembered() -> None:
    state = golden_state()
    before = Snapshot.of_group(translate(state)[EDGE]).of_type(ROUTE)
    first = state.routes[0]
    moved = first.model_copy(update={"timeout_seconds": 42.0})
    after = Snapshot.of_group(
        translate(replace(state, routes=(moved, *state.routes[1:])))[EDGE]
    ).of_type(ROUTE)

    changed = after.changed_since(before)

    assert changed == {name for name in after.names if after.digest(name) != before.digest(name)}
    assert changed, "the edited route's configuration changed"
    assert after.changed_since(before) is changed
    assert after.changed_since(after) == frozenset()

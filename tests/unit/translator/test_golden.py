"""The translator's output for a fixed, realistic state, compared with reviewed golden files.

Regenerate after an intended change with `UPDATE_GOLDEN=1 pytest tests/unit/translator`, then
read the diff: the golden files are what Envoy is sent.
"""

import json
import os
from pathlib import Path

import pytest
from google.protobuf import json_format

from controlplane.translator import GroupResources, translate
from tests.unit.translator.golden_state import (
    BACKOFFICE,
    EDGE,
    EXTAUTHZ,
    RATELIMIT,
    golden_state,
)

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def as_json(resources: GroupResources) -> str:
    document = {
        kind: [json_format.MessageToDict(message) for message in messages]
        for kind, messages in resources.decoded().items()
    }
    return json.dumps(document, sort_keys=True, indent=2) + "\n"


def test_every_node_group_of_the_state_gets_resources() -> None:
    assert sorted(translate(golden_state(), RATELIMIT, EXTAUTHZ)) == [BACKOFFICE, EDGE]


@pytest.mark.parametrize("group", [EDGE, BACKOFFICE])
def test_translation_matches_golden_file(group: str) -> None:
    actual = as_json(translate(golden_state(), RATELIMIT, EXTAUTHZ)[group])
    path = GOLDEN / f"{group}.json"
    if UPDATE:
        path.write_text(actual)
    assert path.exists(), f"{path} is missing: run UPDATE_GOLDEN=1 pytest tests/unit/translator"
    assert actual == path.read_text(), (
        f"translation of group {group!r} differs from {path}; if the change is intended, "
        "regenerate with UPDATE_GOLDEN=1 and review the diff"
    )

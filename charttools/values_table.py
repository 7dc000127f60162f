"""The values table of helm/README.md, generated from the chart's values.schema.json (names,
types, descriptions) and values.yaml (defaults): `python -m charttools.values_table` prints it,
and a test checks that the README holds exactly this table."""

import json
import sys
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parent.parent / "helm" / "chaosgw"
BEGIN = "<!-- values table: python -m charttools.values_table -->"
END = "<!-- end of values table -->"

Schema = dict[str, Any]


def leaves(schema: Schema, root: Schema, path: str = "") -> list[tuple[str, Schema]]:
    """Every documented value: objects with declared properties are walked, the rest listed."""
    if "$ref" in schema:
        schema = {**root["definitions"][schema["$ref"].rsplit("/", 1)[1]], **schema}
        del schema["$ref"]
    properties = schema.get("properties")
    if schema.get("type") != "object" or not properties:
        return [(path, schema)]
    found: list[tuple[str, Schema]] = []
    for name, child in properties.items():
        found += leaves(child, root, f"{path}.{name}" if path else name)
    return found


def _default(values: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(values, dict) or part not in values:
            return None
        values = values[part]
    return values


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(chart: Path = CHART) -> str:
    schema = json.loads((chart / "values.schema.json").read_text())
    defaults = yaml.safe_load((chart / "values.yaml").read_text())
    rows = ["| value | type | default | description |", "|---|---|---|---|"]
    for path, leaf in leaves(schema, schema):
        kind = leaf.get("type", "object")
        kind = " or ".join(kind) if isinstance(kind, list) else kind
        if "enum" in leaf:
            kind = " \\| ".join(f"`{choice}`" for choice in leaf["enum"] if choice)
        default = json.dumps(_default(defaults, path), separators=(", ", ": "))
        description = leaf.get("description", "")
        rows.append(f"| `{path}` | {kind} | `{_cell(default)}` | {_cell(description)} |")
    return "\n".join([BEGIN, *rows, END])


def section_of(readme: str) -> str:
    """The table as the README holds it (between the markers), or "" when it has none."""
    start, end = readme.find(BEGIN), readme.find(END)
    return readme[start : end + len(END)] if start >= 0 and end > start else ""


if __name__ == "__main__":
    print(table())
    sys.exit(0)

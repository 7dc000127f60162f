"""Results as JSON and Markdown, and the README table between its two marker comments."""

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.bench.runner import MetricResult, ScenarioResult

README_START = "<!-- bench:start -->"
README_END = "<!-- bench:end -->"


def to_json(header: Mapping[str, Any], results: Sequence[ScenarioResult]) -> dict[str, Any]:
    return {
        **header,
        "scenarios": [
            {
                "name": result.scenario.name,
                "title": result.scenario.title,
                "baseline": result.scenario.baseline,
                "settings": dict(result.scenario.settings()),
                "rounds": result.rounds,
                "seconds": round(result.seconds, 1),
                "metrics": [_metric_json(m) for m in result.results()],
                "observations": result.observations,
            }
            for result in results
        ],
    }


def _metric_json(result: MetricResult) -> dict[str, Any]:
    metric, target = result.metric, result.metric.target
    return {
        "key": metric.key,
        "label": metric.label,
        "unit": metric.unit,
        "percentile": metric.percentile,
        "lower_is_better": metric.lower_is_better,
        "candidate": result.candidate,
        "baseline": result.baseline,
        "ratio": result.ratio,
        "target": None
        if target is None
        else {
            "limit": target.limit,
            "on": target.on,
            "applies": target.applies,
            "text": target_text(result),
        },
        "met": result.met,
    }


def number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if unit == "req/s":
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) >= 0.01 else f"{value:.2g}"


def target_text(result: MetricResult) -> str:
    metric, target = result.metric, result.metric.target
    if target is None:
        return ""
    sign = "≤" if metric.lower_is_better else "≥"
    if target.on == "ratio":
        return f"{sign} {target.limit:g}x baseline"
    return f"{sign} {target.limit:g} {metric.unit}"


def verdict(result: MetricResult) -> str:
    if result.metric.target is None:
        return ""
    if result.met is None:
        return "not judged (smoke size)"
    return "met" if result.met else "**not met**"


# A 1-minute load average above this before the run: something else was running. (The one
# after the run mostly shows the benchmark's own load.)
BUSY_LOAD = 0.5


def busy_note(header: Mapping[str, Any]) -> str:
    before = header["load_average_1min"]["before"]
    if before <= BUSY_LOAD:
        return ""
    return (
        f"Warning: the machine was not idle (1-minute load average {before:.2f} before the run): "
        "other processes may have skewed these numbers, the HTTP ones most."
    )


def machine_line(header: Mapping[str, Any]) -> str:
    machine, git = header["machine"], header["git"]
    dirty = uncommitted_text(git.get("uncommitted_files", []))
    return (
        f"{machine['cpu_model']}, {machine['cores']} cores, "
        f"{machine['memory_mib'] / 1024:.0f} GiB; Linux {machine['kernel']}, "
        f"Python {machine['python']}, Envoy {machine['envoy']}; "
        f"commit `{str(git['commit'])[:10]}`{dirty}; {header['mode']} run of "
        f"{header['started_at']}, {header['seconds']:.0f} s"
    )


# Uncommitted files named in the machine line; more are counted.
SHOWN_FILES = 5


def uncommitted_text(files: Sequence[str]) -> str:
    """What the machine line adds after the commit when measured files had uncommitted changes."""
    if not files:
        return ""
    shown = ", ".join(f"`{name}`" for name in files[:SHOWN_FILES])
    more = f" and {len(files) - SHOWN_FILES} more" if len(files) > SHOWN_FILES else ""
    return f" plus uncommitted changes to {shown}{more}"


def _label(result: MetricResult) -> str:
    metric = result.metric
    return f"{metric.label} ({metric.unit})" if metric.unit else metric.label


def _ratio(result: MetricResult) -> str:
    return "—" if result.ratio is None else f"{result.ratio:.3f}"


def summary_table(results: Sequence[ScenarioResult]) -> str:
    """One table: every metric of every scenario, its baseline and its target."""
    lines = [
        "| scenario | metric | measured | baseline | ratio | target | |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for scenario_result in results:
        for result in scenario_result.results():
            lines.append(
                f"| {scenario_result.scenario.name} | {_label(result)} | "
                f"{number(result.candidate, result.metric.unit)} | "
                f"{number(result.baseline, result.metric.unit)} | {_ratio(result)} | "
                f"{target_text(result)} | {verdict(result)} |"
            )
    return "\n".join(lines)


def to_markdown(header: Mapping[str, Any], results: Sequence[ScenarioResult]) -> str:
    parts = [
        "# Benchmark results",
        "",
        f"Machine: {machine_line(header)}.",
        "",
        "Values are medians over the rounds unless the metric names a percentile; the ratio is "
        "measured / baseline. Written by `python -m tests.bench`; do not edit by hand.",
        "",
        *([busy_note(header), ""] if busy_note(header) else []),
        summary_table(results),
    ]
    for result in results:
        scenario = result.scenario
        parts += ["", f"## {scenario.name}: {scenario.title}", ""]
        if scenario.baseline:
            parts.append(f"Baseline: {scenario.baseline}.")
        parts.append(
            f"{result.rounds} round(s), {result.seconds:.0f} s. Settings: "
            + "; ".join(f"{key}: {value}" for key, value in scenario.settings().items())
        )
        rounds = _rounds_table(result)
        if rounds:
            parts += ["", rounds]
    return "\n".join(parts) + "\n"


def _rounds_table(result: ScenarioResult) -> str:
    """Each measurement's values of every series, so a reader sees the spread."""
    rows = []
    for side, measurements in result.observations.items():
        for index, observed in enumerate(measurements):
            for series, values in observed.items():
                shown = ", ".join(number(v) for v in values[:12])
                more = f" … ({len(values)} values)" if len(values) > 12 else ""
                rows.append(f"| {side} | {index + 1} | {series} | {shown}{more} |")
    if not rows:
        return ""
    return "\n".join(["| side | measurement | series | values |", "|---|---:|---|---|", *rows])


def readme_block(header: Mapping[str, Any], results: Sequence[ScenarioResult]) -> str:
    return "\n".join(
        [
            README_START,
            f"Measured on {machine_line(header)}.",
            *([busy_note(header)] if busy_note(header) else []),
            "Details and per-round values: [tests/bench/results/latest.md]"
            "(tests/bench/results/latest.md).",
            "",
            summary_table(results),
            README_END,
        ]
    )


# A figure of the recorded run quoted in prose, FIELD one of FIGURE_FIELDS:
# `<!-- bench:SCENARIO/METRIC/FIELD -->VALUE<!-- /bench -->`. A full run rewrites every VALUE.
FIGURE = re.compile(r"<!-- bench:([^/>]+)/([^/>]+)/([a-z]+) -->(.*?)<!-- /bench -->")
FIGURE_FIELDS = ("candidate", "baseline", "ratio", "met")


class UnknownFigure(ValueError):
    """A figure marker names a scenario, metric or field the results do not have."""


def figure(results: Mapping[str, Any], scenario: str, key: str, field: str) -> str:
    """How the prose shows one figure of `results` (the JSON of a run, see `to_json`)."""
    metrics = {
        (entry["name"], metric["key"]): metric
        for entry in results["scenarios"]
        for metric in entry["metrics"]
    }
    metric = metrics.get((scenario, key))
    if metric is None or field not in FIGURE_FIELDS:
        raise UnknownFigure(f"no figure {scenario}/{key}/{field} in the results")
    value = metric[field]
    if field == "met":
        return {True: "met", False: "not met", None: "not judged"}[value]
    if field == "ratio":
        return "—" if value is None else f"{value:.2f}"
    return number(value, metric["unit"])


def fill_figures(text: str, results: Mapping[str, Any]) -> str:
    """`text` with every figure marker's value taken from `results`."""

    def fill(match: re.Match[str]) -> str:
        value = figure(results, match[1], match[2], match[3])
        return f"<!-- bench:{match[1]}/{match[2]}/{match[3]} -->{value}<!-- /bench -->"

    return FIGURE.sub(fill, text)


def update_readme(readme: Path, block: str, results: Mapping[str, Any]) -> None:
    """Replace what lies between the markers (markers included) with `block`, and every figure
    quoted in the prose with the one of `results`."""
    text = readme.read_text()
    pattern = re.compile(re.escape(README_START) + r".*?" + re.escape(README_END), re.DOTALL)
    if not pattern.search(text):
        raise RuntimeError(f"{readme} has no {README_START} ... {README_END} section to update")
    readme.write_text(fill_figures(pattern.sub(lambda _: block, text, count=1), results))

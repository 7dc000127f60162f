"""Runs scenarios: setup, then candidate and baseline alternately for each round, teardown.

The order flips every round (candidate first, then baseline first), so a drift of the machine
during the run (thermal, page cache, a noisy neighbour) weighs on both sides alike.
"""

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from tests.bench.core import BenchContext, Metric, Observations, Scenario

log = logging.getLogger("bench")

Side = Literal["candidate", "baseline"]


@dataclass
class MetricResult:
    metric: Metric
    candidate: float | None
    baseline: float | None

    @property
    def ratio(self) -> float | None:
        if self.candidate is None or not self.baseline:
            return None
        return self.candidate / self.baseline

    @property
    def met(self) -> bool | None:
        """Whether the target is met; None when there is no target or it does not apply."""
        target = self.metric.target
        if target is None or not target.applies:
            return None
        value = self.ratio if target.on == "ratio" else self.candidate
        if value is None:
            return None
        return value <= target.limit if self.metric.lower_is_better else value >= target.limit


@dataclass
class ScenarioResult:
    scenario: Scenario
    rounds: int
    seconds: float
    # Per side, the observations of each measurement in order ("setup" ones first).
    observations: dict[Side, list[Observations]] = field(default_factory=dict)

    def pooled(self, side: Side, series: str) -> list[float]:
        return [v for observed in self.observations.get(side, []) for v in observed.get(series, [])]

    def results(self) -> list[MetricResult]:
        out = []
        for metric in self.scenario.metrics():
            candidate = percentile(self.pooled("candidate", metric.series), metric.percentile)
            baseline = percentile(self.pooled("baseline", metric.series), metric.percentile)
            out.append(MetricResult(metric, candidate, baseline))
        return out


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Linear interpolation between the closest ranks (the median of two values is their mean)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


async def run_scenario(scenario: Scenario, ctx: BenchContext, rounds: int) -> ScenarioResult:
    started = time.monotonic()
    result = ScenarioResult(scenario, rounds, 0.0, {"candidate": [], "baseline": []})
    log.info("%s: setting up", scenario.name)
    try:
        initial = await scenario.setup(ctx)
        if initial:
            result.observations["candidate"].append(initial)
        for index in range(rounds):
            sides: list[Side] = ["candidate"]
            if scenario.baseline is not None:
                sides = ["candidate", "baseline"] if index % 2 == 0 else ["baseline", "candidate"]
            for side in sides:
                measure = (
                    scenario.measure_candidate if side == "candidate" else scenario.measure_baseline
                )
                observed = await measure()
                result.observations[side].append(observed)
                log.info(
                    "%s: round %d/%d %s: %s",
                    scenario.name,
                    index + 1,
                    rounds,
                    side,
                    _brief(observed),
                )
    finally:
        await scenario.teardown()
    result.seconds = time.monotonic() - started
    return result


def _brief(observed: Observations) -> str:
    parts = []
    for series, values in observed.items():
        shown = f"{values[0]:.4g}" if len(values) == 1 else f"{len(values)} values"
        parts.append(f"{series}={shown}")
    return ", ".join(parts)

"""What every scenario shares: metrics, targets, the context, and the scenario interface."""

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tests.integration.harness import ProcessGroup

# Observations of one measurement: series name -> values (in the unit of the metrics that read
# the series). Rounds are pooled, so a series may hold one value per round (requests/s) or one
# per event (the propagation time of each write).
Observations = dict[str, list[float]]


@dataclass(frozen=True)
class Target:
    """A limit the median (or the ratio to the baseline) must not cross.

    Its direction follows the metric: at most `limit` when lower is better, at least otherwise.
    `applies` is False when this run measures a smaller case than the target is stated for
    (smoke mode): the value is shown, but not judged.
    """

    limit: float
    on: Literal["value", "ratio"] = "value"
    applies: bool = True


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    lower_is_better: bool = True
    # The observation series this metric summarizes (default: its key), and which percentile of
    # all observations pooled over the rounds it reports (50: the median).
    source: str = ""
    percentile: float = 50.0
    target: Target | None = None

    @property
    def series(self) -> str:
        return self.source or self.key


@dataclass
class BenchContext:
    """What the runner hands every scenario."""

    smoke: bool
    # Scratch space for this run: configs, databases, logs of every process started.
    workdir: Path
    processes: ProcessGroup
    # Things more than one scenario builds once per run (e.g. database templates), by name.
    cache: dict[str, object] = field(default_factory=dict)


class Scenario(abc.ABC):
    """One thing measured, with its baseline.

    `setup` starts what the scenario needs (it may already observe something that can only be
    seen once, e.g. memory of a fresh process: those observations count as the candidate's).
    The runner then calls `measure_candidate` and `measure_baseline` alternately for each
    round, and `teardown` at the end, also after a failure. A scenario whose baseline is a fixed
    target rather than something measured sets `baseline` to None and only measures itself.
    """

    name: str
    title: str
    # What the candidate is compared with, in words; None: judged against targets only.
    baseline: str | None = None

    @abc.abstractmethod
    def metrics(self) -> Sequence[Metric]: ...

    def settings(self) -> Mapping[str, object]:
        """How it was measured (load, sizes, pinning), reported with the results."""
        return {}

    async def setup(self, ctx: BenchContext) -> Observations:
        return {}

    @abc.abstractmethod
    async def measure_candidate(self) -> Observations: ...

    async def measure_baseline(self) -> Observations:
        raise NotImplementedError(f"{self.name} has no measured baseline")

    async def teardown(self) -> None:
        return None

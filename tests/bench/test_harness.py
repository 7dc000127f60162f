"""The benchmark harness's own logic, fast and without processes: `make check` keeps it honest.

The harness as a whole runs in CI as `make bench-smoke`.
"""

import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
from envoy.service.auth.v3 import external_auth_pb2
from envoy.service.ratelimit.v3 import rls_pb2

from controlplane.translator import translate
from tests.bench import noop_service, report, system
from tests.bench.core import BenchContext, Metric, Observations, Scenario, Target
from tests.bench.h2load import RateSettings, parse_log, run_rate
from tests.bench.runner import MetricResult, percentile, run_scenario
from tests.bench.scenarios import scenarios
from tests.bench.states import gateway_state, route_spec
from tests.bench.system import cpu_seconds, rss_bytes
from tests.bench.wrk import LoadError, parse_report
from tests.integration.harness import ProcessGroup


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([1.0, 2.0], 50) == 1.5
    assert percentile([float(v) for v in range(1, 101)], 99) == pytest.approx(99.01)
    assert percentile([], 50) is None


@pytest.mark.parametrize(
    ("metric", "candidate", "baseline", "met"),
    [
        (Metric("rps", "", "", lower_is_better=False, target=Target(0.97, "ratio")), 97, 100, True),
        (
            Metric("rps", "", "", lower_is_better=False, target=Target(0.97, "ratio")),
            96,
            100,
            False,
        ),
        (Metric("p99", "", "", target=Target(1.05, "ratio")), 10.6, 10, False),
        (Metric("s", "", "", target=Target(0.5)), 0.5, None, True),
        (Metric("s", "", "", target=Target(0.5, applies=False)), 9.0, None, None),
        (Metric("s", "", ""), 9.0, None, None),
    ],
)
def test_targets_follow_the_metric_direction(
    metric: Metric, candidate: float, baseline: float | None, met: bool | None
) -> None:
    assert MetricResult(metric, candidate, baseline).met is met


class _Recorder(Scenario):
    name = "recorder"
    title = "records the order of calls"
    baseline = "itself"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def metrics(self) -> Sequence[Metric]:
        return [Metric("x", "x", "", percentile=50)]

    async def setup(self, ctx: BenchContext) -> Observations:
        self.calls.append("setup")
        return {"x": [100.0]}

    async def measure_candidate(self) -> Observations:
        self.calls.append("C")
        return {"x": [float(len(self.calls))]}

    async def measure_baseline(self) -> Observations:
        self.calls.append("B")
        return {"x": [1.0]}

    async def teardown(self) -> None:
        self.calls.append("teardown")


async def test_runner_alternates_sides_and_pools_rounds(tmp_path: Path) -> None:
    scenario = _Recorder()
    ctx = BenchContext(smoke=True, workdir=tmp_path, processes=ProcessGroup(tmp_path))
    result = await run_scenario(scenario, ctx, rounds=3)
    assert scenario.calls == ["setup", "C", "B", "B", "C", "C", "B", "teardown"]
    # Candidate: setup's 100 plus rounds 2, 5, 6 -> median of [100, 2, 5, 6] = 5.5.
    (x,) = result.results()
    assert (x.candidate, x.baseline, x.ratio) == (5.5, 1.0, 5.5)


def test_readme_block_is_replaced_between_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{report.README_START}\nold\n{report.README_END}\noutro\n")
    block = f"{report.README_START}\nnew\n{report.README_END}"
    report.update_readme(readme, block, RECORDED)
    assert readme.read_text() == f"intro\n{block}\noutro\n"
    readme.write_text("no markers")
    with pytest.raises(RuntimeError, match="bench:start"):
        report.update_readme(readme, block, RECORDED)


RECORDED = {
    "scenarios": [
        {
            "name": "routed",
            "metrics": [
                {
                    "key": "rps",
                    "unit": "req/s",
                    "candidate": 21966.6,
                    "baseline": 21563.9,
                    "ratio": 1.01867,
                    "met": True,
                },
                {
                    "key": "p99 steady",
                    "unit": "ms",
                    "candidate": 10.9954,
                    "baseline": None,
                    "ratio": None,
                    "met": False,
                },
            ],
        }
    ]
}


def test_prose_figures_are_rewritten_from_the_results(tmp_path: Path) -> None:
    def marker(name: str, value: str) -> str:
        return f"<!-- bench:routed/{name} -->{value}<!-- /bench -->"

    readme = tmp_path / "README.md"
    block = f"{report.README_START}\ntable\n{report.README_END}"
    readme.write_text(
        f"{block}\nRouted: {marker('rps/candidate', '1')} vs {marker('rps/baseline', '')} req/s "
        f"({marker('rps/ratio', 'old')}x, {marker('rps/met', 'not met')}); "
        f"{marker('p99 steady/candidate', '3')} ms, {marker('p99 steady/met', 'met')}.\n"
    )

    report.update_readme(readme, block, RECORDED)

    assert readme.read_text() == (
        f"{block}\nRouted: {marker('rps/candidate', '21,967')} vs "
        f"{marker('rps/baseline', '21,564')} req/s ({marker('rps/ratio', '1.02')}x, "
        f"{marker('rps/met', 'met')}); {marker('p99 steady/candidate', '11')} ms, "
        f"{marker('p99 steady/met', 'not met')}.\n"
    )
    for unknown in ("rps/median", "p42/candidate"):
        with pytest.raises(report.UnknownFigure, match=unknown):
            report.fill_figures(marker(unknown, "1"), RECORDED)


def test_readme_quotes_the_figures_of_the_recorded_run() -> None:
    repo = Path(__file__).resolve().parents[2]
    readme = (repo / "README.md").read_text()
    recorded = json.loads((Path(__file__).parent / "results" / "latest.json").read_text())

    assert report.FIGURE.search(readme), "README quotes no figure of the recorded run"
    assert report.fill_figures(readme, recorded) == readme


def test_wrk_report_line_is_parsed() -> None:
    output = 'Running 2s test\nWRK_RESULT {"requests": 10, "p99_us": 1500}\n'
    assert parse_report(output) == {"requests": 10, "p99_us": 1500}
    with pytest.raises(LoadError):
        parse_report("wrk: connection refused")


def test_proc_readings_of_this_process() -> None:
    assert cpu_seconds(os.getpid()) > 0
    assert rss_bytes(os.getpid()) > 1024 * 1024


def test_generated_states_compile_and_writes_change_them() -> None:
    groups = translate(gateway_state(50, 10))
    assert list(groups) == ["default"]
    assert len(groups["default"].clusters) == 10
    assert len(groups["default"].routes) == 1
    assert route_spec(7, 10, variant=1) != route_spec(7, 10)
    assert route_spec(7, 10, variant=1).services() == route_spec(7, 10).services()


def test_h2load_log_gives_latencies_of_answered_requests_and_counts_the_others() -> None:
    log = "1700000000000000\t200\t1500\n1700000000000100\t-1\t0\n1700000000000200\t503\t900\n\n"
    assert parse_log(log + "1700000000000300\t204\t2500\n") == ([1.5, 2.5], 2)


async def test_constant_rate_load_refuses_other_hosts_and_unbounded_runs() -> None:
    settings = RateSettings(duration_seconds=1, warmup_seconds=0)
    with pytest.raises(LoadError, match="loopback"):
        await run_rate("http://192.0.2.1:80/", 10.0, settings)
    with pytest.raises(LoadError, match="bounds"):
        await run_rate("http://127.0.0.1:80/", 10.0, RateSettings(3600, 0))
    with pytest.raises(LoadError, match="bounds"):
        await run_rate("http://127.0.0.1:80/", 0.0, settings)


def test_do_nothing_services_answer_ok_whatever_they_are_asked() -> None:
    ratelimit = rls_pb2.RateLimitResponse.FromString(noop_service.SERVICES["ratelimit"][2])
    assert ratelimit.overall_code == rls_pb2.RateLimitResponse.OK
    check = external_auth_pb2.CheckResponse.FromString(noop_service.SERVICES["extauthz"][2])
    assert check.status.code == 0
    assert check.HasField("ok_response")


@pytest.mark.parametrize("smoke", [True, False])
def test_scenario_names_are_unique(smoke: bool) -> None:
    names = [scenario.name for scenario in scenarios(smoke)]
    assert len(names) == len(set(names))


def test_uncommitted_changes_are_listed_for_every_measured_path(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
        )

    (tmp_path / "pyproject.toml").write_text(
        "[tool.setuptools.packages.find]\n"
        'include = ["controlplane*", "extauthz*", "sessionstore*"]\n'
    )
    for path in (
        "controlplane/a.py",
        "extauthz/b.py",
        "sessionstore/c.py",
        "tests/bench/d.py",
        "tests/bench/results/latest.json",
        "docs/notes.md",
    ):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("1\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "measured")
    assert system.git_state(tmp_path)["uncommitted_files"] == []

    for path in (
        "extauthz/b.py",
        "sessionstore/c.py",
        "tests/bench/d.py",
        "tests/bench/results/latest.json",
        "docs/notes.md",
    ):
        (tmp_path / path).write_text("2\n")
    (tmp_path / "controlplane/new.py").write_text("new\n")

    state = system.git_state(tmp_path)
    assert state["uncommitted_files"] == [
        "controlplane/new.py",
        "extauthz/b.py",
        "sessionstore/c.py",
        "tests/bench/d.py",
    ]
    assert state["code_changes_uncommitted"] is True
    assert report.uncommitted_text(["a.py"]) == " plus uncommitted changes to `a.py`"
    assert report.uncommitted_text([f"{n}.py" for n in range(7)]).endswith("`4.py` and 2 more")

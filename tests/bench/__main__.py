"""`python -m tests.bench [--smoke] [--only NAME ...]`: run the benchmarks, write the results.

A full run of every scenario writes tests/bench/results/latest.{json,md} and the README table;
a smoke run, or one of selected scenarios, writes under tests/bench/results/tmp/ (untracked)
and touches nothing else. The exit status says whether the harness worked, never whether a
number met its target.
"""

import argparse
import asyncio
import json
import logging
import shutil
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.bench import report, system
from tests.bench.core import BenchContext, Scenario
from tests.bench.runner import ScenarioResult, run_scenario
from tests.bench.scenarios import scenarios
from tests.integration.harness import ProcessGroup

REPO = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).parent / "results"
log = logging.getLogger("bench")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="short run: 1 round, small sizes")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default: 3, smoke 1)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run these scenarios only")
    args = parser.parse_args(argv)
    # The bench says what it does; the control-plane code it runs in process only warns.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    log.setLevel(logging.INFO)
    rounds = args.rounds or (1 if args.smoke else 3)
    if rounds < 1:
        parser.error("--rounds must be at least 1")
    chosen = scenarios(args.smoke)
    if args.only:
        unknown = set(args.only) - {s.name for s in chosen}
        if unknown:
            parser.error(
                f"unknown scenario(s) {sorted(unknown)}; known: {[s.name for s in chosen]}"
            )
        chosen = [s for s in chosen if s.name in args.only]
    # Only a complete, full run is the project's reference result.
    official = not args.smoke and not args.only
    out = RESULTS if official else RESULTS / "tmp"

    workdir = Path(tempfile.mkdtemp(prefix="chaosgw-bench-"))
    processes = ProcessGroup(workdir)
    ctx = BenchContext(smoke=args.smoke, workdir=workdir, processes=processes)
    started_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    started = time.monotonic()
    load_before = system.load_average()
    # The code as it is when the run starts is what gets measured.
    git = system.git_state(REPO)
    results: list[ScenarioResult] = []
    try:
        asyncio.run(_run_all(chosen, ctx, rounds, results))
    except BaseException:
        for process in processes.processes:
            log.error("last lines of %s:\n%s", process.name, process.log_tail(40))
        log.error("benchmark harness failed; logs kept in %s", workdir)
        raise
    finally:
        processes.stop_all()
    shutil.rmtree(workdir, ignore_errors=True)

    header = {
        "schema": 1,
        "mode": "smoke" if args.smoke else "full",
        "started_at": started_at,
        "seconds": round(time.monotonic() - started, 1),
        "git": git,
        "machine": system.machine(),
        # Anything else running meanwhile skews every number: say how busy the machine was.
        "load_average_1min": {"before": load_before, "after": system.load_average()},
    }
    out.mkdir(parents=True, exist_ok=True)
    recorded = report.to_json(header, results)
    (out / "latest.json").write_text(json.dumps(recorded, indent=2, ensure_ascii=False) + "\n")
    (out / "latest.md").write_text(report.to_markdown(header, results))
    if official:
        report.update_readme(REPO / "README.md", report.readme_block(header, results), recorded)
    print(report.summary_table(results))
    print(f"\nresults: {out / 'latest.md'}")
    return 0


async def _run_all(
    chosen: list[Scenario], ctx: BenchContext, rounds: int, results: list[ScenarioResult]
) -> None:
    # SIGTERM (CI's timeout, a user's kill) unwinds like Ctrl-C: every process gets stopped.
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    for scenario in chosen:
        results.append(await run_scenario(scenario, ctx, rounds))


if __name__ == "__main__":
    sys.exit(main())

"""HTTP load with wrk: bounded in time, to 127.0.0.1 only, results parsed from a Lua report."""

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

REPORT_SCRIPT = Path(__file__).with_name("wrk-report.lua")
_MARK = "WRK_RESULT "


class LoadError(RuntimeError):
    """wrk could not run, or its requests failed: the measurement means nothing."""


@dataclass(frozen=True)
class WrkSettings:
    threads: int
    connections: int
    duration_seconds: int  # wrk takes whole seconds only
    # CPUs wrk is bound to (empty: wherever the scheduler puts it).
    cpus: tuple[int, ...] = ()


@dataclass(frozen=True)
class WrkResult:
    requests: int
    duration_seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int
    cpu_seconds: float  # wrk's own user + system time

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.duration_seconds


def tool_path(name: str, package: str) -> str:
    """Where the load generator `name` is; a LoadError naming its Debian package if nowhere."""
    found = shutil.which(name)
    if found is None:
        raise LoadError(f"{name} is not installed: `make bench` installs it ({package})")
    return found


def parse_report(output: str) -> dict[str, int]:
    for line in output.splitlines():
        if line.startswith(_MARK):
            parsed: dict[str, int] = json.loads(line[len(_MARK) :])
            return parsed
    raise LoadError(f"wrk printed no report; its output:\n{output[-2000:]}")


async def run_wrk(
    url: str, settings: WrkSettings, headers: Mapping[str, str] | None = None
) -> WrkResult:
    loopback_only(url)
    argv = [
        tool_path("wrk", "apt-get install wrk"),
        f"--threads={settings.threads}",
        f"--connections={settings.connections}",
        f"--duration={settings.duration_seconds}s",
        "--timeout=5s",
        f"--script={REPORT_SCRIPT}",
        *(f"--header={name}: {value}" for name, value in (headers or {}).items()),
        url,
    ]
    output, status, cpu = await asyncio.to_thread(run_measured, pinned(argv, settings.cpus))
    if status != 0:
        raise LoadError(f"wrk exited with {status}: {output[-2000:]}")
    report = parse_report(output)
    errors = sum(report[k] for k in ("connect_errors", "read_errors", "write_errors"))
    if report["status_errors"] or report["connect_errors"] or not report["requests"]:
        raise LoadError(f"requests failed under load ({report}); wrk said:\n{output[-2000:]}")
    return WrkResult(
        requests=report["requests"],
        duration_seconds=report["duration_us"] / 1e6,
        p50_ms=report["p50_us"] / 1000,
        p90_ms=report["p90_us"] / 1000,
        p99_ms=report["p99_us"] / 1000,
        errors=errors + report["timeouts"],
        cpu_seconds=cpu,
    )


def loopback_only(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if not host.startswith("127."):
        raise LoadError(f"load goes to loopback addresses only, not {url}")


def pinned(argv: list[str], cpus: tuple[int, ...]) -> list[str]:
    """`argv` bound to `cpus` by taskset (as it is when there are none, or no taskset)."""
    if cpus and shutil.which("taskset"):
        return ["taskset", "--cpu-list", ",".join(map(str, cpus)), *argv]
    return argv


def run_measured(argv: list[str]) -> tuple[str, int, float]:
    """Run to completion; return its output, exit status and CPU time (from wait4's rusage).

    wait4 on this very child gives its resource usage exactly, which `subprocess` cannot.
    """
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            process.kill()
            process.wait()
            raise
        # Tell Popen the child is reaped, so it neither waits again nor warns.
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read().decode(errors="replace")
    return output, process.returncode, usage.ru_utime + usage.ru_stime

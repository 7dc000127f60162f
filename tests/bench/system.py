"""The machine, and what the kernel says about a process: CPU time, resident memory, CPUs."""

import os
import platform
import subprocess
import tomllib
from collections.abc import Collection, Iterable
from contextlib import suppress
from pathlib import Path

from controlplane.launcher import envoy_binary

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far, from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may hold spaces and parentheses: count fields after its end.
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def usable_cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def pin(pid: int, cpus: Collection[int]) -> None:
    """Bind every thread of a running process to `cpus`.

    Affinity is per thread, and threads created later inherit it from their creator, so pin a
    process once it has started all its workers (Envoy: once it serves).
    """
    for task in Path(f"/proc/{pid}/task").iterdir():
        with suppress(ProcessLookupError):  # a thread that just ended
            os.sched_setaffinity(int(task.name), set(cpus))


def load_average() -> float:
    return os.getloadavg()[0]


def cpu_model() -> str:
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def memory_mib() -> int:
    with suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return 0


def envoy_version() -> str:
    result = subprocess.run(
        [str(envoy_binary()), "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    # "envoy  version: <sha>/1.40.0/Distribution/RELEASE/BoringSSL" -> 1.40.0
    for part in result.stdout.split("/"):
        if part and part[0].isdigit() and part.count(".") == 2:
            return part
    return result.stdout.strip() or "unknown"


def tool_version(argv: Iterable[str]) -> str:
    try:
        result = subprocess.run(list(argv), capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return "not installed"
    lines = (result.stdout + result.stderr).strip().splitlines()
    return lines[0].strip() if lines else "unknown"


# What the benchmarks run besides the installed packages: the Envoy configs and bootstraps, the
# proto definitions, the harness itself and the test code it starts processes with. Its results
# are written under tests/bench/results and do not count.
MEASURED_PATHS = (
    "envoy",
    "proto",
    "pyproject.toml",
    "tests/bench",
    "tests/integration",
    "tests/support",
)
RESULTS_PATH = "tests/bench/results"


def measured_paths(repo: Path) -> list[str]:
    """Every path whose changes change what a scenario measures: each package pyproject.toml
    installs, and MEASURED_PATHS."""
    found = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    packages = [pattern.rstrip("*") for pattern in found["find"]["include"]]
    return sorted({*(p for p in packages if (repo / p).is_dir()), *MEASURED_PATHS})


def git_state(repo: Path) -> dict[str, object]:
    """The commit measured, and the files under measured paths that differ from it."""

    def git(*args: str) -> str:
        result = subprocess.run(
            ["git", *args], cwd=repo, capture_output=True, text=True, timeout=30, check=True
        )
        return result.stdout

    status = git(
        "status",
        "--porcelain",
        "--untracked-files=all",
        "--",
        *measured_paths(repo),
        f":(exclude){RESULTS_PATH}",
    )
    # Each line: two status letters, a space, the path (a rename: "old -> new").
    changed = sorted(line[3:] for line in status.splitlines() if line.strip())
    return {
        "commit": git("rev-parse", "HEAD").strip(),
        "code_changes_uncommitted": bool(changed),
        "uncommitted_files": changed,
    }


def machine() -> dict[str, object]:
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count() or 0,
        "usable_cpus": len(usable_cpus()),
        "memory_mib": memory_mib(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "envoy": envoy_version(),
    }

"""How many CPUs this process may use: the container's CPU limit, not the host's core count."""

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_SELF_CGROUP = Path("/proc/self/cgroup")


def available_cpus(
    cgroup_root: Path = CGROUP_ROOT, proc_self_cgroup: Path = PROC_SELF_CGROUP
) -> int:
    """The CPU limit of this process's cgroup rounded up, or the usable cores when unlimited.

    A pod limited to 2 CPUs on a 64-core node must run 2 service processes, not 64: the
    others would only share the same CPU quota and be throttled together.
    """
    cores = _usable_cores()
    quota = _cgroup_v2_limit(cgroup_root, _cgroup_v2_path(proc_self_cgroup))
    if quota is None:
        quota = _cgroup_v1_limit(cgroup_root)
    if quota is None:
        return cores
    return max(1, min(cores, math.ceil(quota)))


def _usable_cores() -> int:
    # The affinity mask (taskset, cpuset) is what the scheduler may use; cpu_count ignores it.
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _cgroup_v2_path(proc_self_cgroup: Path) -> str:
    """This process's cgroup v2 path ("0::/path"); "/" inside a container's cgroup namespace."""
    for line in _read(proc_self_cgroup).splitlines():
        if line.startswith("0::"):
            return line[3:]
    return "/"


def _cgroup_v2_limit(root: Path, path: str) -> float | None:
    """The smallest `cpu.max` from this process's cgroup up to the root: a parent's limit
    caps its children. Each holds "<quota> <period>" in microseconds, or "max <period>"."""
    limits: list[float] = []
    directory = root / path.strip("/")
    while True:
        fields = _read(directory / "cpu.max").split()
        if len(fields) == 2 and fields[0] != "max":
            limit = _ratio(fields[0], fields[1])
            if limit is not None:
                limits.append(limit)
        if directory == root or root not in directory.parents:
            break
        directory = directory.parent
    return min(limits, default=None)


def _cgroup_v1_limit(root: Path) -> float | None:
    """cgroup v1: cfs_quota_us is -1 when unlimited."""
    for directory in (root / "cpu,cpuacct", root / "cpu"):
        quota = _read(directory / "cpu.cfs_quota_us")
        if quota:
            return _ratio(quota, _read(directory / "cpu.cfs_period_us"))
    return None


def _ratio(quota: str, period: str) -> float | None:
    try:
        cpus = int(quota) / int(period)
    except (ValueError, ZeroDivisionError):
        return None
    return cpus if cpus > 0 else None


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""

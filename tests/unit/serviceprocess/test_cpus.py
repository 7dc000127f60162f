"""The default process count follows the container's CPU limit, read from fake cgroup files."""

import os
from pathlib import Path

import pytest

from serviceprocess.cpus import available_cpus


@pytest.fixture
def cores(monkeypatch: pytest.MonkeyPatch) -> int:
    """Pretend the machine has 16 usable cores, whatever this one has."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))
    return 16


def cgroup(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content + "\n")
    return root


def self_cgroup(tmp_path: Path, line: str = "0::/") -> Path:
    path = tmp_path / "self-cgroup"
    path.write_text(line + "\n")
    return path


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [("200000 100000", 2), ("150000 100000", 2), ("50000 100000", 1), ("max 100000", 16)],
)
def test_cgroup_v2_cpu_max_rounds_the_limit_up(
    tmp_path: Path, cores: int, cpu_max: str, expected: int
) -> None:
    root = cgroup(tmp_path / "fs", {"cpu.max": cpu_max})
    assert available_cpus(root, self_cgroup(tmp_path)) == expected


def test_cgroup_v2_a_parent_limit_caps_the_process_cgroup(tmp_path: Path, cores: int) -> None:
    root = cgroup(
        tmp_path / "fs",
        {"kubepods/cpu.max": "300000 100000", "kubepods/pod1/app/cpu.max": "max 100000"},
    )
    assert available_cpus(root, self_cgroup(tmp_path, "0::/kubepods/pod1/app")) == 3


def test_a_limit_above_the_cores_gives_the_cores(tmp_path: Path, cores: int) -> None:
    root = cgroup(tmp_path / "fs", {"cpu.max": "6400000 100000"})
    assert available_cpus(root, self_cgroup(tmp_path)) == cores


@pytest.mark.parametrize(("quota", "expected"), [("250000", 3), ("-1", 16)])
def test_cgroup_v1_cfs_quota(tmp_path: Path, cores: int, quota: str, expected: int) -> None:
    root = cgroup(
        tmp_path / "fs",
        {"cpu,cpuacct/cpu.cfs_quota_us": quota, "cpu,cpuacct/cpu.cfs_period_us": "100000"},
    )
    assert available_cpus(root, self_cgroup(tmp_path, "")) == expected


def test_no_cgroup_files_gives_the_cores(tmp_path: Path, cores: int) -> None:
    assert available_cpus(tmp_path / "missing", tmp_path / "missing-self") == cores


def test_the_service_settings_default_to_the_cpu_limit(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from ratelimit.settings import Settings

    monkeypatch.setattr("serviceprocess.settings.available_cpus", lambda: 3)
    monkeypatch.delenv("CHAOSGW_RATELIMIT_PROCESSES", raising=False)
    assert Settings().processes == 3


def test_envoy_runs_one_worker_per_cpu_of_the_limit_unless_told(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from controlplane.launcher import envoy_argv

    def concurrency(argv: list[str]) -> str:
        return argv[argv.index("--concurrency") + 1]

    monkeypatch.setattr("controlplane.launcher.available_cpus", lambda: 3)
    assert concurrency(envoy_argv(tmp_path / "bootstrap.yaml")) == "3"
    assert concurrency(envoy_argv(tmp_path / "bootstrap.yaml", concurrency=1)) == "1"

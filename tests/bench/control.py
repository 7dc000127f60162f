"""The control plane as a real subprocess, for the scenarios that measure it from outside."""

import httpx

from tests.integration.harness import ControlPlane, ProcessGroup, wait_until

TRANSLATIONS = "chaosgw_translation_seconds_count"
# The control plane compiles the state twice at start: once before serving, so that the first
# Envoys get the real config, and once more in the first round of the publisher's loop.
START_TRANSLATIONS = 2


def metric(control_plane: ControlPlane, name: str) -> float:
    """One sample of the Prometheus text at /metrics (summed over its labels); 0 if absent."""
    text = httpx.get(f"{control_plane.admin_url}/metrics", timeout=5.0).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name) : len(name) + 1] in (" ", "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def start_control_plane(
    processes: ProcessGroup, database_url: str, timeout: float = 180.0
) -> ControlPlane:
    """Start it on `database_url` and wait until it is ready and idle.

    Idle matters to memory readings: they are taken once the start-up compilations are over,
    not while one of them holds a second copy of the state.
    """
    control_plane = ControlPlane(processes, database_url).start(timeout=timeout)
    assert control_plane.process is not None
    wait_until(
        lambda: metric(control_plane, TRANSLATIONS) >= START_TRANSLATIONS,
        timeout=timeout,
        description=f"the control plane's {START_TRANSLATIONS} start-up compilations",
        interval=0.1,
        alive=[control_plane.process],
    )
    return control_plane

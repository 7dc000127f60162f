"""Runs one service process per core, each on its own gRPC port (and HTTP port).

Envoy multiplexes its requests over a few HTTP/2 connections per cluster, and SO_REUSEPORT
spreads connections, not requests: with one shared port most requests could land on one
process. Separate ports, listed by the control plane as separate endpoints of the service's
cluster, let Envoy's load balancer spread requests over every process.

A process that exits is started again after a short, growing pause; one that keeps dying right
after its start (a taken port, bad settings) makes the launcher stop everything and exit 1,
rather than hide a broken service behind restarts.
"""

import logging
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from types import FrameType

from controlplane.logging import configure_logging
from serviceprocess.settings import ServiceSettings

log = logging.getLogger(__name__)

# A process that exits within this long of its start has crashed at start.
_EARLY_EXIT_SECONDS = 5.0
_MAX_EARLY_EXITS = 3
_MAX_PAUSE_SECONDS = 5.0


@dataclass
class _Worker:
    index: int
    process: subprocess.Popen[bytes]
    started: float
    early_exits: int = 0


def run(name: str, settings: ServiceSettings) -> int:
    """Runs `python -m <name>.worker <index>` for every index, until SIGTERM or SIGINT."""
    configure_logging(settings.log_level)
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    def spawn(index: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", f"{name}.worker", str(index)])

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    workers = [_Worker(i, spawn(i), time.monotonic()) for i in range(settings.processes)]
    log.info(
        f"{name} launcher started",
        extra={
            "processes": settings.processes,
            "grpc_ports": [settings.grpc_port_of(w.index) for w in workers],
        },
    )
    status = 0
    while not stopping:
        time.sleep(0.1)
        for worker in workers:
            code = worker.process.poll()
            if code is None or stopping:
                continue
            early = time.monotonic() - worker.started < _EARLY_EXIT_SECONDS
            worker.early_exits = worker.early_exits + 1 if early else 0
            if worker.early_exits >= _MAX_EARLY_EXITS:
                log.error(
                    f"{name} process keeps dying at start: stopping",
                    extra={"index": worker.index, "exit_code": code},
                )
                stopping, status = True, 1
                break
            pause = min(0.2 * 2**worker.early_exits, _MAX_PAUSE_SECONDS)
            log.error(
                f"{name} process exited: restarting",
                extra={"index": worker.index, "exit_code": code, "pause_seconds": pause},
            )
            time.sleep(pause)
            worker.process, worker.started = spawn(worker.index), time.monotonic()
    for worker in workers:
        if worker.process.poll() is None:
            worker.process.terminate()
    for worker in workers:
        try:
            worker.process.wait(10)
        except subprocess.TimeoutExpired:
            worker.process.kill()
    log.info(f"{name} launcher stopped", extra={"status": status})
    return status

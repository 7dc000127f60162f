"""HTTP load at a constant rate with h2load (nghttp2-client): latency at a given share of
saturation, which wrk (closed loop: a new request only when an answer came) cannot measure.

Why h2load, and this way: it is already one of the harness's tools (C, a few µs of CPU per
request, so it takes little from the CPU it shares with the service under test), and
`--rps` sends at a fixed rate per client. It runs ONE client on one HTTP/2 connection (h2c)
with up to `MAX_STREAMS` requests in flight:
- one client, because the clients' timers all start together: 50 of them at rate/50 each
  would send in bursts of 50 every tick, a load no real population of players makes;
- HTTP/2 with many streams, because h2load times a request from when it is sent, not from
  when it was due: over HTTP/1.1 (one request in flight per connection) a slow answer delays
  the next sends and hides the wait (coordinated omission). With room for `MAX_STREAMS` in
  flight every request goes when it is due; the achieved rate is reported, and falls short of
  the offered one only if the room ran out.
Latencies come from h2load's per-request log (`--log-file`), not its summary (which has no
percentiles): exact percentiles over every request of the measured period.
"""

import asyncio
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.bench.runner import percentile
from tests.bench.wrk import LoadError, loopback_only, pinned, run_measured, tool_path

MAX_STREAMS = 256
# Bounds: no more than this per second, for no longer than this.
MAX_RATE = 50_000
MAX_SECONDS = 60


@dataclass(frozen=True)
class RateSettings:
    duration_seconds: int
    warmup_seconds: int
    # CPUs h2load is bound to (empty: wherever the scheduler puts it).
    cpus: tuple[int, ...] = ()


@dataclass(frozen=True)
class RateResult:
    offered_per_second: float
    requests: int
    duration_seconds: float
    p50_ms: float
    p99_ms: float
    cpu_seconds: float  # h2load's own user + system time

    @property
    def achieved_per_second(self) -> float:
        return self.requests / self.duration_seconds


def parse_log(text: str) -> tuple[list[float], int]:
    """Latencies (ms) of the requests answered 2xx, and how many others there were.

    A line: start time (µs since the epoch), status (-1: failed), duration (µs), tab-separated.
    """
    latencies, failed = [], 0
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) != 3:
            continue
        status, duration_us = int(fields[1]), int(fields[2])
        if 200 <= status < 300:
            latencies.append(duration_us / 1000)
        else:
            failed += 1
    return latencies, failed


async def run_rate(
    url: str, rate: float, settings: RateSettings, headers: Mapping[str, str] | None = None
) -> RateResult:
    """`rate` GET requests a second to `url` for the duration (after a warm-up)."""
    loopback_only(url)
    if (
        not 0 < rate <= MAX_RATE
        or settings.duration_seconds + settings.warmup_seconds > MAX_SECONDS
    ):
        raise LoadError(f"refusing {rate:.0f} req/s for {settings}: beyond the bounds")
    with tempfile.TemporaryDirectory(prefix="h2load-") as tmp:
        log = Path(tmp) / "requests.log"
        argv = [
            tool_path("h2load", "apt-get install nghttp2-client"),
            "--threads=1",
            "--clients=1",
            f"--max-concurrent-streams={MAX_STREAMS}",
            f"--rps={rate:.1f}",
            f"--duration={settings.duration_seconds}",
            f"--warm-up-time={settings.warmup_seconds}",
            "--connection-inactivity-timeout=5",
            f"--log-file={log}",
            *(f"--header={name}: {value}" for name, value in (headers or {}).items()),
            url,
        ]
        output, status, cpu = await asyncio.to_thread(run_measured, pinned(argv, settings.cpus))
        if status != 0:
            raise LoadError(f"h2load exited with {status}: {output[-2000:]}")
        latencies, failed = parse_log(log.read_text())
    if failed or not latencies:
        raise LoadError(
            f"{failed} of {failed + len(latencies)} requests failed at a constant rate; "
            f"h2load said:\n{output[-2000:]}"
        )
    p50, p99 = (percentile(latencies, pct) or 0.0 for pct in (50, 99))
    return RateResult(rate, len(latencies), settings.duration_seconds, p50, p99, cpu)

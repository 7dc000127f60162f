"""propagation: from an admin API write until every one of N simulated nodes has ACKed it.

The control plane runs as a real subprocess on a store holding 1k routes over 200 services;
N Envoy-like ADS clients (tests/support/ads_client.py, sharing a few gRPC channels) run in the
bench process and ACK like Envoy. Each write changes one route's path; the time runs from just
before the PUT is sent until the last node received the new route version (a client ACKs the
moment a response arrives). The same setup gives the control plane's memory per connected node:
its RSS with the N nodes synced, minus its RSS before they connected, over N.
"""

import asyncio
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

import grpc
import httpx

from tests.bench.control import start_control_plane
from tests.bench.core import BenchContext, Metric, Observations, Scenario, Target
from tests.bench.states import GROUP, database_copy, route_spec
from tests.bench.system import cpu_seconds, rss_bytes
from tests.integration.harness import ControlPlane
from tests.support.ads_client import CHANNEL_OPTIONS, CLUSTER, ENDPOINT, LISTENER, ROUTE, AdsClient

ROUTES, SERVICES = 1_000, 200
TARGET_NODES = 1_000
TARGET_P99_SECONDS = 2.0
TARGET_KB = 100.0
CLIENTS_PER_CHANNEL = 100
SYNC_TIMEOUT = 300.0
WRITE_TIMEOUT = 60.0
TYPES = (CLUSTER, ENDPOINT, LISTENER, ROUTE)


@dataclass
class _Running:
    control_plane: ControlPlane
    pid: int
    http: httpx.AsyncClient
    channels: list[grpc.aio.Channel] = field(default_factory=list)
    clients: list[AdsClient] = field(default_factory=list)

    async def stop(self) -> None:
        await asyncio.gather(*(client.close() for client in self.clients))
        for channel in self.channels:
            await channel.close(None)
        await self.http.aclose()
        self.control_plane.stop()
        self.control_plane.close()

    def route_version(self) -> str:
        """The route version every node holds (they must agree)."""
        versions = {client.acked.get(ROUTE, "") for client in self.clients}
        if len(versions) != 1:
            raise RuntimeError(f"nodes disagree on the route version: {sorted(versions)}")
        return versions.pop()

    async def wait_all(self, done: Callable[[AdsClient], bool], seconds: float, what: str) -> None:
        """Until `done(client)` holds for every client; each wait has the same deadline."""
        await asyncio.gather(
            *(client.wait_until(partial(done, client), seconds, what) for client in self.clients)
        )


class Propagation(Scenario):
    baseline = None

    def __init__(self, nodes: int, writes: int) -> None:
        self.nodes, self.writes = nodes, writes
        self.name = f"propagation-{nodes}"
        self.title = f"admin write until all {nodes:,} simulated nodes ACKed; memory per node"
        self._running: _Running | None = None
        self._written = 0

    def metrics(self) -> Sequence[Metric]:
        target = Target(TARGET_P99_SECONDS) if self.nodes == TARGET_NODES else None
        return [
            Metric("p50", "write → all ACKed, p50", "s", source="propagation"),
            Metric(
                "p99",
                "write → all ACKed, p99",
                "s",
                source="propagation",
                percentile=99,
                target=target,
            ),
            Metric("cpu", "control plane CPU per write", "s"),
            # The simulated nodes share the machine: if they were the bottleneck, this says so.
            Metric("client cpu", "simulated nodes' CPU per write", "s"),
            Metric("sync", "initial sync of all nodes", "s"),
            Metric("memory", "control plane memory per node", "KB", target=Target(TARGET_KB)),
        ]

    def settings(self) -> Mapping[str, object]:
        return {
            "state": f"1 listener, {ROUTES:,} routes, {SERVICES} services (one node group)",
            "nodes": f"{self.nodes:,} AdsClient streams over {self._channel_count()} gRPC "
            "channel(s), in the bench process",
            "writes per round": f"{self.writes} (PUT of one route's path, one after another)",
            "percentiles": "over every write of every round",
            "memory": "RSS with the nodes synced minus RSS before they connected, once, at setup",
        }

    async def setup(self, ctx: BenchContext) -> Observations:
        path = database_copy(ctx.cache, ctx.workdir, ROUTES, SERVICES)
        control_plane = start_control_plane(ctx.processes, f"sqlite:///{path}")
        assert control_plane.process is not None
        self._running = running = _Running(
            control_plane,
            control_plane.process.pid,
            httpx.AsyncClient(
                base_url=control_plane.admin_url,
                headers={"Authorization": f"Bearer {control_plane.token}"},
                timeout=30.0,
            ),
        )
        alone = rss_bytes(running.pid)
        running.channels = [
            grpc.aio.insecure_channel(control_plane.xds_address, options=CHANNEL_OPTIONS)
            for _ in range(self._channel_count())
        ]
        running.clients = [
            AdsClient(running.channels[i // CLIENTS_PER_CHANNEL], f"bench-node-{i:04d}", GROUP)
            for i in range(self.nodes)
        ]
        started = time.monotonic()
        await asyncio.gather(*(client.connect() for client in running.clients))
        await running.wait_all(_synced, SYNC_TIMEOUT, "the initial sync of every type")
        synced = time.monotonic() - started
        running.route_version()
        with_nodes = rss_bytes(running.pid)
        return {"sync": [synced], "memory": [(with_nodes - alone) / self.nodes / 1024]}

    async def measure_candidate(self) -> Observations:
        running = self._up()
        observed: Observations = {"propagation": [], "cpu": [], "client cpu": []}
        for _ in range(self.writes):
            server, clients = cpu_seconds(running.pid), cpu_seconds(os.getpid())
            observed["propagation"].append(await self._write_and_wait(running))
            observed["cpu"].append(cpu_seconds(running.pid) - server)
            observed["client cpu"].append(cpu_seconds(os.getpid()) - clients)
        return observed

    async def teardown(self) -> None:
        if self._running is not None:
            await self._running.stop()

    def _up(self) -> _Running:
        if self._running is None:
            raise RuntimeError(f"{self.name}: measured before setup")
        return self._running

    def _channel_count(self) -> int:
        return math.ceil(self.nodes / CLIENTS_PER_CHANNEL)

    async def _write_and_wait(self, running: _Running) -> float:
        self._written += 1
        index = (self._written * 7919) % ROUTES  # a different route each time
        spec = route_spec(index, SERVICES, variant=self._written)
        path = f"/api/v1/routes/{spec.name}"
        current = await running.http.get(path)
        current.raise_for_status()
        before = running.route_version()
        started = time.monotonic()
        response = await running.http.put(
            path,
            content=spec.model_dump_json(),
            headers={"If-Match": current.headers["etag"], "content-type": "application/json"},
        )
        response.raise_for_status()
        await running.wait_all(
            lambda client: client.acked.get(ROUTE) != before,
            WRITE_TIMEOUT,
            f"a route version after {before}",
        )
        after = running.route_version()
        # When the last node got it: a client ACKs the moment a response arrives.
        arrivals = []
        for client in running.clients:
            latest = client.latest(ROUTE)
            if latest is None or latest.version != after:
                raise RuntimeError(f"{client.node_id} ACKed {after} but last got {latest}")
            arrivals.append(latest.at)
        return max(arrivals) - started


def _synced(client: AdsClient) -> bool:
    return all(type_url in client.acked for type_url in TYPES)

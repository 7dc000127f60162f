"""A Redis Cluster of 3 masters and 3 replicas, formed by hand from disposable servers.

Slots are assigned with CLUSTER ADDSLOTS, nodes introduced with CLUSTER MEET, replicas attached
with CLUSTER REPLICATE; ready when every node reports cluster_state:ok and every master has a
replica. A short node timeout keeps failovers quick.

The probes (`master_of`, `replicated`, `promoted`) answer at once, for async tests to wait on.
"""

import socket
from pathlib import Path
from typing import Any

from redis.crc import key_slot

from tests.integration.harness import LOCALHOST, free_port, wait_until
from tests.support.redis_server import RedisServer

SLOTS = 16384
MASTERS = 3
_NODE_TIMEOUT_MS = 1000
# Redis 6 puts a node's cluster bus on its port + 10000, with no option to move it.
_BUS_OFFSET = 10000


class RedisCluster:
    def __init__(self, directory: Path) -> None:
        self.nodes = [
            RedisServer(
                directory / f"node-{n}",
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                str(_NODE_TIMEOUT_MS),
                name=f"cluster-node-{n}",
                port=_port_with_bus(),
            )
            for n in range(2 * MASTERS)
        ]

    @property
    def url(self) -> str:
        return self.nodes[0].url

    def start(self) -> "RedisCluster":
        for node in self.nodes:
            node.start()
        masters, replicas = self.nodes[:MASTERS], self.nodes[MASTERS:]
        share = SLOTS // MASTERS
        for n, master in enumerate(masters):
            last = SLOTS if n == MASTERS - 1 else (n + 1) * share
            master.command("CLUSTER ADDSLOTS", *range(n * share, last))
        for node in self.nodes[1:]:
            node.command("CLUSTER MEET", LOCALHOST, self.nodes[0].port)
        wait_until(
            lambda: all(len(self._known(node)) == len(self.nodes) for node in self.nodes),
            timeout=10.0,
            description="every cluster node to know the others",
        )
        for master, replica in zip(masters, replicas, strict=True):
            replica.command("CLUSTER REPLICATE", self.node_id(master))
        self.wait_ok()
        return self

    def wait_ok(self, timeout: float = 10.0) -> None:
        def ok() -> bool:
            states = [node.command("CLUSTER INFO") for node in self.nodes if node.process.running]
            return all(state["cluster_state"] == "ok" for state in states) and all(
                len(self.replicas_of(master)) >= 1 for master in self.masters()
            )

        wait_until(ok, timeout=timeout, description="cluster_state:ok with a replica per master")

    def node_id(self, node: RedisServer) -> str:
        node_id: str = node.command("CLUSTER MYID").decode()
        return node_id

    def masters(self) -> list[RedisServer]:
        return [n for n in self.nodes if n.process.running and self._role(n) == "master"]

    def replicas_of(self, master: RedisServer) -> list[RedisServer]:
        master_id = self.node_id(master)
        return [
            node
            for node in self.nodes
            if node.process.running and self._myself(node).get("master_id") == master_id
        ]

    def master_of(self, key: str) -> RedisServer:
        """The master serving the key's slot, as that master itself says."""
        slot = key_slot(key.encode())
        for master in self.masters():
            for first, *last in self._myself(master)["slots"]:
                if int(first) <= slot <= int(last[0] if last else first):
                    return master
        raise AssertionError(f"no master serves slot {slot}")

    def replicated(self, master: RedisServer) -> bool:
        """Whether every replica of the master has received all its writes."""
        info = master.command("INFO", "replication")
        offsets = [info[f"slave{n}"]["offset"] for n in range(info["connected_slaves"])]
        return bool(offsets) and all(o == info["master_repl_offset"] for o in offsets)

    def promoted(self, replica: RedisServer) -> bool:
        """Whether the replica is a master now, and the cluster (its running part) agrees."""
        if self._role(replica) != "master":
            return False
        states = [node.command("CLUSTER INFO") for node in self.nodes if node.process.running]
        return all(state["cluster_state"] == "ok" for state in states)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def _known(self, node: RedisServer) -> dict[str, Any]:
        known: dict[str, Any] = node.command("CLUSTER NODES")
        return known

    def _myself(self, node: RedisServer) -> dict[str, Any]:
        for info in self._known(node).values():
            if "myself" in info["flags"]:
                found: dict[str, Any] = info
                return found
        return {}

    def _role(self, node: RedisServer) -> str:
        role: str = node.command("ROLE")[0].decode()
        return role


def _port_with_bus() -> int:
    """A free port whose cluster bus port is free too."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind((LOCALHOST, port + _BUS_OFFSET))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port with a free cluster bus port")

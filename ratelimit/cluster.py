"""Which Redis Cluster master serves which slot, kept up to date off the hot path.

The store sends each slot group's script straight to the master serving the slot, through one
plain client per node. redis-py's RedisCluster was set aside: after a connection error it
rebuilds its map inline, in the next command, and every rebuild also reads COMMAND again
(thousands of reply lines parsed in Python), 10-40 ms of CPU on a busy 2-core machine. While a
master was down every other decision paid it, and decisions overran their 50 ms budget
(measured up to 130 ms).

Here a decision only looks its slot up. A MOVED answer fixes its slot at once (the store follows
it in the same decision); any other failure starts one background refresh from CLUSTER SLOTS
(at most one per REFRESH_INTERVAL), and decisions get the policy's failure mode meanwhile, as
with a single Redis that is down. So a failover heals within one refresh of the replica's
promotion, with no restart.
"""

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from ratelimit.resp import ScriptClient

SLOTS = 16384
REFRESH_INTERVAL = 0.05
Address = tuple[str, int]


class SlotMap:
    def __init__(self, url: str, timeout: float, options: dict[str, Any]) -> None:
        self._url = urlsplit(url)
        self._seed: Address = (self._url.hostname or "localhost", self._url.port or 6379)
        self._timeout = timeout
        self._options = options
        self._nodes: dict[Address, Redis] = {}  # redis-py, for CLUSTER SLOTS
        self._scripts: dict[Address, ScriptClient] = {}  # the hot path's, for script calls
        self._owners: list[Address | None] = [None] * SLOTS
        self._read = False
        self._refreshing: asyncio.Task[bool] | None = None
        self._last_refresh = -REFRESH_INTERVAL

    async def client(self, slot: int) -> ScriptClient:
        """The script client of the slot's master; a process's first call reads the map."""
        if not self._read:
            await self.refresh()
        owner = self._owners[slot]
        if owner is None:
            raise RedisConnectionError(f"no master known for slot {slot}")
        client = self._scripts.get(owner)
        if client is None:
            client = self._scripts[owner] = ScriptClient(
                self._url_of(owner), connect_timeout=self._timeout
            )
        return client

    def moved(self, slot: int, address: Address) -> None:
        """A node said MOVED: the slot is served elsewhere now, and others may have moved too."""
        self._owners[slot] = address
        self.stale()

    def stale(self) -> None:
        """Something failed: read the map again, in the background."""
        running = self._refreshing is not None and not self._refreshing.done()
        if not running and time.monotonic() - self._last_refresh >= REFRESH_INTERVAL:
            self._refreshing = asyncio.create_task(self.refresh())

    async def refresh(self) -> bool:
        """Read the map from the first node that answers; whether one did and every slot has a
        master."""
        self._last_refresh = time.monotonic()
        for address in dict.fromkeys([self._seed, *self._nodes]):
            try:
                async with asyncio.timeout(self._timeout * 4):
                    node = self._node(address)
                    ranges = await node.execute_command("CLUSTER SLOTS")  # type: ignore[no-untyped-call]
            except (RedisError, TimeoutError, OSError):
                continue
            owners: list[Address | None] = [None] * SLOTS
            for first, last, master, *_ in ranges:
                # An empty host means the node that answered.
                host = master[0].decode() or address[0]
                owners[first : last + 1] = [(host, int(master[1]))] * (last - first + 1)
            self._owners, self._read = owners, True
            return None not in owners
        return False

    async def close(self) -> None:
        if self._refreshing is not None:
            self._refreshing.cancel()
        for node in self._nodes.values():
            await node.aclose()
        for client in self._scripts.values():
            await client.close()

    def _node(self, address: Address) -> Redis:
        node = self._nodes.get(address)
        if node is None:
            node = self._nodes[address] = Redis.from_url(self._url_of(address), **self._options)
        return node

    def _url_of(self, address: Address) -> str:
        """The seed's URL with another host and port: same credentials, TLS and database."""
        credentials = self._url.netloc.rpartition("@")[0]
        netloc = f"{credentials}@" if credentials else ""
        host = f"[{address[0]}]" if ":" in address[0] else address[0]  # IPv6
        return self._url._replace(netloc=f"{netloc}{host}:{address[1]}").geturl()

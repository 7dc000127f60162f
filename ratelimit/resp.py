"""A small pipelined Redis client for the hot path: one connection per node, script calls only.

Why not redis-py for the script call: each of its calls checks a connection out of a pool,
probes it for unread data (`can_read_destructive`, a zero timeout and a read attempt), encodes
every argument through `repr` and joins a growing buffer, runs its own timeouts, and wakes the
event loop several times; in a profile of the service under load that was most of the CPU of a
decision beyond gRPC's own. Here a call writes one pre-built RESP command on a shared
connection (calls are pipelined: no checkout, no second connection under concurrency), and the
replies, parsed by hiredis's C reader, resolve the callers' futures in order.

Errors keep redis-py's exception types, so the store treats both alike: a lost connection,
a refused connect or a protocol error is a `ConnectionError` for every call waiting on it (the
next call connects again); an error reply is a `ResponseError`, `NoScriptError` for NOSCRIPT,
`MovedError` for a Cluster's MOVED. Timeouts are the caller's (`asyncio.timeout` around the
call): a call given up on still gets its reply, which is dropped, as replies are matched to
calls by position; `reset()` drops the connection, for a node that stopped answering.
Supported URLs: redis:// and rediss:// with an optional user, password and database number.
"""

import asyncio
import ssl
from collections import deque
from typing import Any
from urllib.parse import unquote, urlsplit

import hiredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MovedError, NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

Arg = bytes | str | int


def pack(args: tuple[Arg, ...] | list[Arg]) -> bytes:
    """One RESP command (an array of bulk strings)."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            data = arg.encode()
        elif isinstance(arg, int):
            data = b"%d" % arg
        else:
            data = arg
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def _error(reply: hiredis.ReplyError) -> ResponseError:
    message = str(reply)
    if message.startswith("NOSCRIPT"):
        return NoScriptError(message)
    if message.startswith("MOVED "):
        return MovedError(message.removeprefix("MOVED "))
    return ResponseError(message)


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self.lost = False
        self._reader = hiredis.Reader()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while True:
            try:
                reply = self._reader.gets()
            except hiredis.ProtocolError as error:
                self.close(RedisConnectionError(f"Redis protocol error: {error}"))
                return
            if reply is False:
                return
            if not self.waiting:  # never, unless the server is not Redis
                self.close(RedisConnectionError("a reply nobody asked for"))
                return
            future = self.waiting.popleft()
            if future.done():
                continue  # its caller gave up (timeout, cancellation)
            if isinstance(reply, hiredis.ReplyError):
                future.set_exception(_error(reply))
            else:
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.close(RedisConnectionError(f"connection to Redis lost: {exc or 'closed'}"))

    def send(self, command: bytes) -> "asyncio.Future[Any]":
        if self.lost or self.transport is None:
            raise RedisConnectionError("connection to Redis closed")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiting.append(future)
        self.transport.write(command)
        return future

    def close(self, error: Exception) -> None:
        self.lost = True
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(error)
        if self.transport is not None:
            self.transport.close()


class ScriptClient:
    """Script calls to one Redis node over one pipelined connection, opened on first use."""

    def __init__(self, url: str, *, connect_timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss"):
            raise ValueError(f"not a redis:// or rediss:// URL: {parts.scheme}://")
        self._host = parts.hostname or "localhost"
        self._port = parts.port or 6379
        self._ssl = ssl.create_default_context() if parts.scheme == "rediss" else None
        self._auth: list[Arg] = []
        if parts.password is not None:
            self._auth = ["AUTH", unquote(parts.password)]
            if parts.username:
                self._auth.insert(1, unquote(parts.username))
        path = parts.path.strip("/")
        self._db = int(path) if path else 0
        self._connect_timeout = connect_timeout
        self._connection: _Connection | None = None
        self._connecting: asyncio.Task[_Connection] | None = None

    async def call(self, command: bytes) -> Any:
        """Sends one packed command (see `pack`), answers its reply or raises its error."""
        connection = self._connection
        if connection is None or connection.lost:
            connection = await self._connect()
        return await connection.send(command)

    async def evalsha(self, sha: str, numkeys: int, *args: Arg) -> Any:
        return await self.call(pack(("EVALSHA", sha, numkeys, *args)))

    async def eval(self, source: str, numkeys: int, *args: Arg) -> Any:
        return await self.call(pack(("EVAL", source, numkeys, *args)))

    async def ping(self) -> bool:
        return bool(await self.call(pack(("PING",))) == b"PONG")

    def reset(self) -> None:
        """Drops the connection (its waiting calls fail); the next call connects again."""
        if self._connection is not None:
            self._connection.close(RedisConnectionError("connection to Redis reset"))
            self._connection = None

    async def close(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
        self.reset()

    async def _connect(self) -> _Connection:
        # One connect for all callers at once; shielded, so that one caller's timeout does
        # not cancel it for the others.
        if self._connecting is None or self._connecting.done():
            self._connecting = asyncio.create_task(self._open())
        return await asyncio.shield(self._connecting)

    async def _open(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_timeout):
                _, connection = await loop.create_connection(
                    _Connection, self._host, self._port, ssl=self._ssl
                )
                setup = []
                if self._auth:
                    setup.append(connection.send(pack(self._auth)))
                if self._db:
                    setup.append(connection.send(pack(("SELECT", self._db))))
                await asyncio.gather(*setup)
        except TimeoutError:
            raise RedisTimeoutError(f"connecting to Redis {self._host}:{self._port}") from None
        except OSError as error:
            raise RedisConnectionError(f"Redis {self._host}:{self._port}: {error}") from None
        self._connection = connection
        return connection

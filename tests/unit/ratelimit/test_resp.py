"""The pipelined script client against a scripted fake Redis on a loopback port."""

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MovedError, NoScriptError, ResponseError

from ratelimit.resp import ScriptClient, pack

# Per command received (its first word), the raw reply to send; None: close the connection.
Replies = Callable[[list[bytes]], bytes | None]


class FakeRedis:
    def __init__(self, replies: Replies) -> None:
        self.replies = replies
        self.commands: list[list[bytes]] = []
        self.connections = 0
        self.hold = asyncio.Event()  # cleared: replies wait for it
        self.hold.set()
        self.port = 0

    async def start(self) -> asyncio.Server:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        return server

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                count = int(line[1:])
                args = []
                for _ in range(count):
                    size = int((await reader.readline())[1:])
                    args.append((await reader.readexactly(size + 2))[:-2])
                self.commands.append(args)
                await self.hold.wait()
                reply = self.replies(args)
                if reply is None:
                    return
                writer.write(reply)
                await writer.drain()
        finally:
            writer.close()


def echo_first(args: list[bytes]) -> bytes | None:
    """EVALSHA answers `[[n]]` with n its first key (an integer); errors by key name."""
    if args[0] != b"EVALSHA":
        return b"+OK\r\n"
    key = args[3]
    if key == b"noscript":
        return b"-NOSCRIPT No matching script. Please use EVAL.\r\n"
    if key == b"moved":
        return b"-MOVED 3999 127.0.0.1:6381\r\n"
    if key == b"wrong":
        return b"-ERR something else\r\n"
    if key == b"close":
        return None
    return b"*1\r\n*1\r\n:%s\r\n" % key


@pytest.fixture
async def fake() -> AsyncIterator[FakeRedis]:
    redis = FakeRedis(echo_first)
    server = await redis.start()
    try:
        yield redis
    finally:
        server.close()


def test_pack_builds_resp_bulk_strings() -> None:
    assert pack(("EVALSHA", "ab", 1, b"k\r\n")) == (
        b"*4\r\n$7\r\nEVALSHA\r\n$2\r\nab\r\n$1\r\n1\r\n$3\r\nk\r\n\r\n"
    )


async def test_pipelined_calls_get_their_own_replies(fake: FakeRedis) -> None:
    client = ScriptClient(f"redis://127.0.0.1:{fake.port}", connect_timeout=1.0)
    answers = await asyncio.gather(*(client.evalsha("sha", 1, str(i)) for i in range(20)))
    assert answers == [[[i]] for i in range(20)]
    assert fake.connections == 1
    await client.close()


async def test_error_replies_raise_redis_py_errors(fake: FakeRedis) -> None:
    client = ScriptClient(f"redis://127.0.0.1:{fake.port}", connect_timeout=1.0)
    with pytest.raises(NoScriptError):
        await client.evalsha("sha", 1, "noscript")
    with pytest.raises(MovedError) as moved:
        await client.evalsha("sha", 1, "moved")
    assert (moved.value.slot_id, moved.value.node_addr) == (3999, ("127.0.0.1", 6381))
    with pytest.raises(ResponseError):
        await client.evalsha("sha", 1, "wrong")
    assert await client.evalsha("sha", 1, "7") == [[7]]  # the connection is still good
    await client.close()


async def test_a_reply_given_up_on_is_dropped(fake: FakeRedis) -> None:
    client = ScriptClient(f"redis://127.0.0.1:{fake.port}", connect_timeout=1.0)
    assert await client.evalsha("sha", 1, "0") == [[0]]  # connected
    fake.hold.clear()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await client.evalsha("sha", 1, "1")
    later = asyncio.ensure_future(client.evalsha("sha", 1, "2"))
    fake.hold.set()
    assert await later == [[2]]
    await client.close()


async def test_a_lost_connection_fails_its_calls_and_the_next_call_reconnects(
    fake: FakeRedis,
) -> None:
    client = ScriptClient(f"redis://127.0.0.1:{fake.port}", connect_timeout=1.0)
    with pytest.raises(RedisConnectionError):
        await client.evalsha("sha", 1, "close")
    assert await client.evalsha("sha", 1, "3") == [[3]]
    assert fake.connections == 2
    await client.close()


async def test_a_refused_connect_is_a_connection_error(fake: FakeRedis) -> None:
    client = ScriptClient("redis://127.0.0.1:1", connect_timeout=1.0)
    with pytest.raises(RedisConnectionError):
        await client.evalsha("sha", 1, "3")


async def test_credentials_and_database_come_from_the_url(fake: FakeRedis) -> None:
    client = ScriptClient(f"redis://user:p%40ss@127.0.0.1:{fake.port}/3", connect_timeout=1.0)
    assert await client.evalsha("sha", 1, "4") == [[4]]
    assert fake.commands[:2] == [[b"AUTH", b"user", b"p@ss"], [b"SELECT", b"3"]]
    await client.close()

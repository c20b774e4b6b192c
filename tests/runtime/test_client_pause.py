"""CLIENT PAUSE and UNPAUSE: this replica's clients wait, all of them or those that write.

What Redis 7.0.15 does, seen against redis-server: WRITE holds writes, scripts,
PUBLISH and an EXEC with a write queued while reads go on; ALL holds every
command, CLIENT UNPAUSE included, so only the timeout ends it; a command held
runs once the pause ends, and its reply comes in its place; the errors name
the mode first, then the timeout. (Held means not answered while every task
of the server is blocked: nothing here times the server.)
"""

from __future__ import annotations

import trio
import trio.testing

from protocol.resp import encode_request
from tests.runtime.fakes import RawClient, running_server

IO_TIMEOUT_S = 10.0


async def nothing_received(client: RawClient) -> bool:
    """Whether the server has sent ``client`` nothing yet, once everything settled."""
    await trio.testing.wait_all_tasks_blocked(cushion=0.02)
    with trio.move_on_after(0.05):
        client.received += await client.stream.receive_some(65536)
    return client.received == b""


async def test_a_write_pause_holds_writes_and_lets_reads_through_until_unpaused() -> None:
    async with running_server() as server:
        admin, writer, reader = [await RawClient.connect(server.port) for _ in range(3)]
        assert await reader.call("SET", "k", "old") == b"+OK\r\n"
        assert await admin.call("CLIENT", "PAUSE", "60000", "WRITE") == b"+OK\r\n"
        await writer.send(encode_request(["SET", "k", "new"]))
        assert await nothing_received(writer)
        assert await reader.call("GET", "k") == b"$3\r\nold\r\n"
        assert await reader.call("EXISTS", "k") == b":1\r\n"
        for held in (["INCR", "n"], ["PUBLISH", "ch", "x"], ["EVAL", "return 1", "0"]):
            other = await RawClient.connect(server.port)
            await other.send(encode_request(held))
            assert await nothing_received(other), held
        multi = await RawClient.connect(server.port)
        assert await multi.call("MULTI") == b"+OK\r\n"
        assert await multi.call("GET", "k") == b"+QUEUED\r\n"  # a read queues at once
        await multi.send(encode_request(["SET", "k", "multi"]))
        assert await nothing_received(multi)  # queuing a write waits, as in Redis
        assert await admin.call("CLIENT", "UNPAUSE") == b"+OK\r\n"
        assert await writer.replies(1) == b"+OK\r\n"
        assert await multi.replies(1) == b"+QUEUED\r\n"
        assert await multi.call("EXEC") == b"*2\r\n$3\r\nnew\r\n+OK\r\n"
        assert await reader.call("GET", "k") == b"$5\r\nmulti\r\n"


async def test_a_pause_of_all_holds_every_command_unpause_too_until_it_ends() -> None:
    async with running_server() as server:
        admin, pinger, unpauser = [await RawClient.connect(server.port) for _ in range(3)]
        assert await admin.call("CLIENT", "PAUSE", "300", "ALL") == b"+OK\r\n"
        await pinger.send(encode_request(["PING"]))
        await unpauser.send(encode_request(["CLIENT", "UNPAUSE"]))
        assert await nothing_received(pinger)
        assert await nothing_received(unpauser)
        with trio.fail_after(IO_TIMEOUT_S):
            assert await pinger.replies(1) == b"+PONG\r\n"
            assert await unpauser.replies(1) == b"+OK\r\n"
        assert not server.registry.pause.active


async def test_a_second_pause_takes_its_mode_and_keeps_the_later_end() -> None:
    async with running_server() as server:
        admin = await RawClient.connect(server.port)
        assert await admin.call("CLIENT", "PAUSE", "60000", "WRITE") == b"+OK\r\n"
        first = server.registry.pause.until
        assert await admin.call("CLIENT", "PAUSE", "10", "ALL") == b"+OK\r\n"
        assert server.registry.pause.until == first
        assert not server.registry.pause.writes_only
        server.registry.unpause()
        assert await admin.call("PING") == b"+PONG\r\n"


async def test_pause_arguments_are_refused_with_redis_texts() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        for args, reply in [
            (["CLIENT", "PAUSE", "abc"], b"-ERR timeout is not an integer or out of range\r\n"),
            (["CLIENT", "PAUSE", "-1"], b"-ERR timeout is negative\r\n"),
            (["CLIENT", "PAUSE", "abc", "FOO"], b"-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n"),
            (
                ["CLIENT", "PAUSE", "1", "WRITE", "x"],
                b"-ERR unknown subcommand or wrong number of arguments for 'PAUSE'."
                b" Try CLIENT HELP.\r\n",
            ),
            (
                ["CLIENT", "UNPAUSE", "x"],
                b"-ERR wrong number of arguments for 'client|unpause' command\r\n",
            ),
        ]:
            assert await client.call(*args) == reply, args
        assert not server.registry.pause.active

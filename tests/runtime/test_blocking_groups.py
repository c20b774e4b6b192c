"""XREADGROUP BLOCK: a consumer waits at its replica until its group has news.

The front end over a ``FakeBackend``, as for BLPOP and XREAD BLOCK. Each attempt is a
plain XREADGROUP, which takes what it reads (the entries become the consumer's and the
group moves past them), so like a pop one write wakes one waiter, and its attempt
writes the stream in turn, which wakes the next. Expected bytes are Redis 7.0.15's,
including what it answers a blocked consumer whose stream or group goes away.
"""

from __future__ import annotations

import trio
import trio.testing

from epaxosdb.commands.groups import RETRY
from protocol.resp import encode_request
from tests.runtime.fakes import RawClient, running_server, until_blocked


def entry(entry_id: str, field: str, value: str) -> bytes:
    raw = [entry_id.encode(), field.encode(), value.encode()]
    return b"*2\r\n$%d\r\n%s\r\n*2\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (
        len(raw[0]), raw[0], len(raw[1]), raw[1], len(raw[2]), raw[2],
    )  # fmt: skip


def read_reply(*entries: bytes, key: bytes = b"s") -> bytes:
    return b"*1\r\n*2\r\n$%d\r\n%s\r\n*%d\r\n" % (len(key), key, len(entries)) + b"".join(entries)


def xreadgroup(consumer: str, *options: str, key: str = "s", group: str = "g") -> bytes:
    return encode_request(
        ["XREADGROUP", "GROUP", group, consumer, *options, "STREAMS", key, ">"]
    )


async def test_an_xadd_from_another_client_wakes_a_blocked_consumer() -> None:
    async with running_server() as server:
        consumer = await RawClient.connect(server.port)
        writer = await RawClient.connect(server.port)
        assert await writer.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM") == b"+OK\r\n"
        await consumer.send(xreadgroup("alice", "BLOCK", "0"))
        await until_blocked(server, 1)
        assert await writer.call("XADD", "s", "5-1", "f", "v") == b"$3\r\n5-1\r\n"
        assert await consumer.replies(1) == read_reply(entry("5-1", "f", "v"))
        assert len(server.registry.blocked) == 0
        pending = await writer.call("XPENDING", "s", "g")
        assert pending == (
            b"*4\r\n:1\r\n$3\r\n5-1\r\n$3\r\n5-1\r\n*1\r\n*2\r\n$5\r\nalice\r\n$1\r\n1\r\n"
        )


async def test_two_consumers_of_one_group_get_different_entries() -> None:
    async with running_server() as server:
        alice, bob = await RawClient.connect(server.port), await RawClient.connect(server.port)
        writer = await RawClient.connect(server.port)
        await writer.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        await alice.send(xreadgroup("alice", "COUNT", "1", "BLOCK", "0"))
        await until_blocked(server, 1)
        await bob.send(xreadgroup("bob", "COUNT", "1", "BLOCK", "0"))
        await until_blocked(server, 2)
        await writer.call("XADD", "s", "1-1", "n", "1")
        assert await alice.replies(1) == read_reply(entry("1-1", "n", "1"))
        assert len(server.registry.blocked) == 1  # bob: nothing left for the group
        await writer.call("XADD", "s", "2-1", "n", "2")
        assert await bob.replies(1) == read_reply(entry("2-1", "n", "2"))
        assert len(server.registry.blocked) == 0
        summary = await writer.call("XPENDING", "s", "g")
        assert summary == (
            b"*4\r\n:2\r\n$3\r\n1-1\r\n$3\r\n2-1\r\n*2\r\n*2\r\n$5\r\nalice\r\n$1\r\n1\r\n"
            b"*2\r\n$3\r\nbob\r\n$1\r\n1\r\n"
        )


async def test_one_xadd_serves_a_consumer_of_each_group() -> None:
    """The first consumer's attempt writes the stream, which wakes the next waiter: one of
    another group, who gets the same entry."""
    async with running_server() as server:
        first, second = await RawClient.connect(server.port), await RawClient.connect(server.port)
        writer = await RawClient.connect(server.port)
        await writer.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        await writer.call("XGROUP", "CREATE", "s", "h", "$")
        await first.send(xreadgroup("c", "BLOCK", "0"))
        await second.send(xreadgroup("c", "BLOCK", "0", group="h"))
        await until_blocked(server, 2)
        await writer.call("XADD", "s", "1-1", "f", "v")
        assert await first.replies(1) == read_reply(entry("1-1", "f", "v"))
        assert await second.replies(1) == read_reply(entry("1-1", "f", "v"))
        assert len(server.registry.blocked) == 0


async def test_it_times_out_with_the_null_array_and_creates_no_consumer() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        await client.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        start = trio.current_time()
        await client.send(xreadgroup("alice", "BLOCK", "20"))
        assert await client.replies(1) == b"*-1\r\n"
        assert trio.current_time() - start >= 0.015  # it waited (timer slack)
        await client.call("HELLO", "3")
        await client.send(xreadgroup("alice", "BLOCK", "10"))
        assert await client.replies(1) == b"_\r\n"
        assert await client.call("XINFO", "CONSUMERS", "s", "g") == b"*0\r\n"  # as Redis 7.0
        assert len(server.registry.blocked) == 0


async def test_history_and_errors_answer_at_once() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        await client.call("XADD", "s", "1-1", "f", "v")
        await client.call("XGROUP", "CREATE", "s", "g", "0")
        assert await client.call(
            "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"
        ) == read_reply(entry("1-1", "f", "v"))
        history = ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", "0"]
        assert await client.call(*history) == read_reply(entry("1-1", "f", "v"))
        nogroup = ["XREADGROUP", "GROUP", "x", "c", "BLOCK", "0", "STREAMS", "s", ">"]
        assert await client.call(*nogroup) == (
            b"-NOGROUP No such key 's' or consumer group 'x' in XREADGROUP with GROUP option\r\n"
        )
        retry = [RETRY.decode(), "GROUP", "g", "c", "STREAMS", "s", ">"]
        assert (await client.call(*retry)).startswith(b"-ERR unknown command")  # internal
        assert len(server.registry.blocked) == 0


async def test_a_destroyed_group_or_a_deleted_stream_ends_every_wait_as_redis_does() -> None:
    async with running_server() as server:
        clients = [await RawClient.connect(server.port) for _ in range(3)]
        writer = await RawClient.connect(server.port)
        await writer.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        await writer.call("XGROUP", "CREATE", "s", "h", "$")
        for count, client in enumerate(clients, 1):
            await client.send(xreadgroup(f"c{count}", "BLOCK", "0", group="gh"[count // 3]))
            await until_blocked(server, count)
        assert await writer.call("XGROUP", "DESTROY", "s", "g") == b":1\r\n"
        gone = b"-NOGROUP the consumer group this client was blocked on no longer exists\r\n"
        assert await clients[0].replies(1) == gone
        assert await clients[1].replies(1) == gone
        assert len(server.registry.blocked) == 1  # group h is still there
        assert await writer.call("DEL", "s") == b":1\r\n"
        assert await clients[2].replies(1) == b"-UNBLOCKED the stream key no longer exists\r\n"
        assert len(server.registry.blocked) == 0


async def test_a_write_that_delivers_nothing_keeps_the_consumer_waiting() -> None:
    async with running_server() as server:
        consumer = await RawClient.connect(server.port)
        writer = await RawClient.connect(server.port)
        await writer.call("XADD", "s", "1-1", "f", "v")
        await writer.call("XGROUP", "CREATE", "s", "g", "$")
        await consumer.send(xreadgroup("alice", "BLOCK", "0"))
        await until_blocked(server, 1)
        attempts = len(server.backend.submitted)
        await writer.call("XDEL", "s", "1-1")  # a write to the stream, nothing new for g
        await trio.testing.wait_all_tasks_blocked(cushion=0.01)
        assert len(server.backend.submitted) == attempts + 2  # XDEL, one attempt
        assert server.backend.submitted[-1].ops[0][0] == RETRY
        assert len(server.registry.blocked) == 1
        await writer.call("XADD", "s", "2-1", "f", "w")
        assert await consumer.replies(1) == read_reply(entry("2-1", "f", "w"))

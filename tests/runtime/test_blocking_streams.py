"""XREAD BLOCK: a client waits at its replica until a stream it reads gains an entry.

The front end over a ``FakeBackend``, as for BLPOP (tests/runtime/test_blocking_pops.py).
Each attempt is a plain XREAD; a write to one of its streams makes the next one. Unlike
a pop, a read takes nothing, so one XADD wakes every client reading that stream. Expected
bytes are Redis 7.0's: an array of ``[stream, entries]`` in RESP2, a map in RESP3, and
the null array when the time is up.
"""

from __future__ import annotations

import trio
import trio.testing

from epaxosdb.commands.streams import DOLLAR_WITH_BLOCK
from protocol.resp import encode_reply, encode_request
from tests.runtime.fakes import RawClient, running_server, until_blocked

ENTRY_5_1 = b"*2\r\n$3\r\n5-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
READ_S_5_1 = b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n" + ENTRY_5_1


async def test_an_xadd_from_another_client_wakes_a_blocked_xread() -> None:
    async with running_server() as server:
        reader, writer = await RawClient.connect(server.port), await RawClient.connect(server.port)
        await reader.send(encode_request(["XREAD", "BLOCK", "0", "STREAMS", "s", "0-0"]))
        await until_blocked(server, 1)
        assert await writer.call("XADD", "s", "5-1", "f", "v") == b"$3\r\n5-1\r\n"
        assert await reader.replies(1) == READ_S_5_1
        assert len(server.registry.blocked) == 0
        assert await reader.call("XLEN", "s") == b":1\r\n"  # reading took nothing


async def test_a_woken_xread_answers_a_resp3_map_with_only_the_newer_entries() -> None:
    async with running_server() as server:
        reader, writer = await RawClient.connect(server.port), await RawClient.connect(server.port)
        await writer.call("XADD", "s", "1-1", "old", "x")
        await reader.call("HELLO", "3")
        request = ["XREAD", "COUNT", "1", "BLOCK", "0", "STREAMS", "s", "1-1"]
        await reader.send(encode_request(request))
        await until_blocked(server, 1)
        await writer.call("XADD", "s", "5-1", "f", "v")
        assert await reader.replies(1) == b"%1\r\n$1\r\ns\r\n*1\r\n" + ENTRY_5_1


async def test_one_xadd_wakes_every_client_reading_the_stream() -> None:
    async with running_server() as server:
        readers = [await RawClient.connect(server.port) for _ in range(3)]
        writer = await RawClient.connect(server.port)
        for count, reader in enumerate(readers, 1):
            await reader.send(encode_request(["XREAD", "BLOCK", "0", "STREAMS", "s", "0"]))
            await until_blocked(server, count)
        await writer.call("XADD", "s", "5-1", "f", "v")
        for reader in readers:
            assert await reader.replies(1) == READ_S_5_1
        assert len(server.registry.blocked) == 0


async def test_a_reader_and_a_popper_on_one_key_are_both_served() -> None:
    """A read does not use up the wake-up a pop waiting on the same key needs."""
    async with running_server() as server:
        reader, popper = await RawClient.connect(server.port), await RawClient.connect(server.port)
        writer = await RawClient.connect(server.port)
        await popper.send(encode_request(["BLPOP", "q", "0"]))
        await reader.send(encode_request(["XREAD", "BLOCK", "0", "STREAMS", "s", "0"]))
        await until_blocked(server, 2)
        await writer.call("XADD", "s", "5-1", "f", "v")
        assert await reader.replies(1) == READ_S_5_1
        await writer.call("RPUSH", "q", "e")
        assert await popper.replies(1) == b"*2\r\n$1\r\nq\r\n$1\r\ne\r\n"


async def test_a_write_that_adds_nothing_newer_keeps_the_reader_waiting() -> None:
    async with running_server() as server:
        reader, writer = await RawClient.connect(server.port), await RawClient.connect(server.port)
        await writer.call("XADD", "s", "1-1", "f", "v")
        await writer.call("XADD", "s", "2-1", "f", "v")
        request = ["XREAD", "BLOCK", "0", "STREAMS", "s", "other", "2-1", "0"]
        await reader.send(encode_request(request))
        await until_blocked(server, 1)
        attempts = len(server.backend.submitted)
        await writer.call("XDEL", "s", "1-1")  # a write to the stream, nothing new in it
        await writer.call("SET", "unrelated", "x")
        await trio.testing.wait_all_tasks_blocked(cushion=0.01)
        assert len(server.backend.submitted) == attempts + 3  # XDEL, one attempt, SET
        assert len(server.registry.blocked) == 1
        await writer.call("XADD", "other", "5-1", "f", "v")
        assert await reader.replies(1) == b"*1\r\n*2\r\n$5\r\nother\r\n*1\r\n" + ENTRY_5_1


async def test_it_times_out_with_the_null_array_in_resp2_and_resp3() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        request = ["XREAD", "BLOCK", "20", "STREAMS", "s", "t", "0", "0"]
        start = trio.current_time()
        assert await client.call(*request) == b"*-1\r\n"
        assert trio.current_time() - start >= 0.015  # it waited (timer slack)
        await client.call("HELLO", "3")
        assert await client.call(*request) == b"_\r\n"
        assert len(server.registry.blocked) == 0


async def test_what_can_be_served_is_served_at_once() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        await client.call("XADD", "s", "5-1", "f", "v")
        assert await client.call("XREAD", "BLOCK", "0", "STREAMS", "s", "0") == READ_S_5_1
        assert await client.call("SET", "str", "x") == b"+OK\r\n"
        assert await client.call("XREAD", "BLOCK", "0", "STREAMS", "str", "0") == (
            b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
        )
        assert await client.call("XREAD", "BLOCK", "0", "STREAMS", "s", "bad") == (
            b"-ERR Invalid stream ID specified as stream command argument\r\n"
        )
        assert await client.call("XREAD", "BLOCK", "-1", "STREAMS", "s", "0") == (
            b"-ERR timeout is negative\r\n"
        )
        assert len(server.registry.blocked) == 0


async def test_dollar_with_block_is_refused_and_without_block_reads_nothing_newer() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        await client.call("XADD", "s", "5-1", "f", "v")
        refused = encode_reply(DOLLAR_WITH_BLOCK)
        assert refused.startswith(b"-ERR ") and b"not supported" in refused
        assert await client.call("XREAD", "BLOCK", "0", "STREAMS", "s", "$") == refused
        assert await client.call("XREAD", "BLOCK", "10", "STREAMS", "t", "s", "0", "$") == refused
        assert await client.call("XREAD", "STREAMS", "s", "$") == b"*-1\r\n"
        assert len(server.registry.blocked) == 0


async def test_xread_without_block_never_waits_and_keeps_pipeline_order() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        await client.send(
            encode_request(["XREAD", "STREAMS", "s", "0"])
            + encode_request(["XADD", "s", "5-1", "f", "v"])
            + encode_request(["XREAD", "COUNT", "1", "STREAMS", "s", "0"])
        )
        assert await client.replies(3) == b"*-1\r\n$3\r\n5-1\r\n" + READ_S_5_1
        assert len(server.registry.blocked) == 0


async def test_a_stream_named_twice_is_waited_on_once_and_forgotten_cleanly() -> None:
    """``XREAD STREAMS s s 0 0`` (and ``BLPOP k k 0``): a key named twice once crashed the
    bookkeeping when the client was served (``KeyError`` in ``BlockedClients.remove``)."""
    async with running_server() as server:
        reader, popper = await RawClient.connect(server.port), await RawClient.connect(server.port)
        writer = await RawClient.connect(server.port)
        await reader.send(encode_request(["XREAD", "BLOCK", "0", "STREAMS", "s", "s", "0", "0"]))
        await popper.send(encode_request(["BLPOP", "k", "k", "0"]))
        await until_blocked(server, 2)
        await writer.call("XADD", "s", "5-1", "f", "v")
        assert await reader.replies(1) == (
            b"*2\r\n*2\r\n$1\r\ns\r\n*1\r\n" + ENTRY_5_1 + b"*2\r\n$1\r\ns\r\n*1\r\n" + ENTRY_5_1
        )
        assert await writer.call("RPUSH", "k", "x") == b":1\r\n"
        assert await popper.replies(1) == b"*2\r\n$1\r\nk\r\n$1\r\nx\r\n"
        assert len(server.registry.blocked) == 0
        assert await writer.call("PING") == b"+PONG\r\n"


async def test_a_client_gone_while_reading_leaves_nothing_waiting() -> None:
    async with running_server() as server:
        reader, writer = await RawClient.connect(server.port), await RawClient.connect(server.port)
        await reader.send(encode_request(["XREAD", "BLOCK", "0", "STREAMS", "s", "0"]))
        await until_blocked(server, 1)
        await reader.aclose()
        with trio.fail_after(5):
            while len(server.registry.blocked):
                await trio.testing.wait_all_tasks_blocked(cushion=0.001)
        assert await writer.call("XADD", "s", "5-1", "f", "v") == b"$3\r\n5-1\r\n"

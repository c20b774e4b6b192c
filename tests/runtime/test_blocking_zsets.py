"""BZPOPMIN, BZPOPMAX, BZMPOP and BLMPOP: a client waits at its replica for a write.

The front end over a ``FakeBackend`` (see tests/runtime/test_blocking_pops.py
for BLPOP and the waiting machinery itself). Expected bytes are Redis 7.0's:
BZPOPMIN answers one flat ``[key, member, score]`` with the score a RESP3
double; BZMPOP nests ``[member, score]`` pairs in RESP2 too; every one of
the four answers the null array (``*-1``, RESP3 ``_``) when it times out.
"""

from __future__ import annotations

import trio
import trio.testing

from protocol.resp import encode_request
from tests.runtime.fakes import RawClient, running_server, until_blocked


async def test_a_zadd_from_another_client_wakes_a_bzpopmin_with_the_lowest_member() -> None:
    async with running_server() as server:
        waiter, adder = await RawClient.connect(server.port), await RawClient.connect(server.port)
        await waiter.send(encode_request(["BZPOPMIN", "empty", "scores", "0"]))
        await until_blocked(server, 1)
        assert await adder.call("ZADD", "scores", "2", "b", "1.5", "a") == b":2\r\n"
        assert await waiter.replies(1) == b"*3\r\n$6\r\nscores\r\n$1\r\na\r\n$3\r\n1.5\r\n"
        assert await adder.call("ZRANGE", "scores", "0", "-1") == b"*1\r\n$1\r\nb\r\n"
        assert len(server.registry.blocked) == 0


async def test_a_woken_bzpopmax_answers_a_resp3_double() -> None:
    async with running_server() as server:
        waiter, adder = await RawClient.connect(server.port), await RawClient.connect(server.port)
        await waiter.call("HELLO", "3")
        await waiter.send(encode_request(["BZPOPMAX", "z", "0"]))
        await until_blocked(server, 1)
        await adder.call("ZADD", "z", "1", "low", "2.5", "high")
        assert await waiter.replies(1) == b"*3\r\n$1\r\nz\r\n$4\r\nhigh\r\n,2.5\r\n"


async def test_a_sorted_set_that_has_members_answers_at_once() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        await client.call("ZADD", "b", "1", "x", "2", "y")
        assert await client.call("BZPOPMAX", "a", "b", "0") == (
            b"*3\r\n$1\r\nb\r\n$1\r\ny\r\n$1\r\n2\r\n"
        )
        assert await client.call("BZMPOP", "0", "2", "a", "b", "MIN", "COUNT", "9") == (
            b"*2\r\n$1\r\nb\r\n*1\r\n*2\r\n$1\r\nx\r\n$1\r\n1\r\n"
        )
        assert await client.call("EXISTS", "b") == b":0\r\n"
        assert len(server.registry.blocked) == 0


async def test_each_times_out_with_the_null_array_in_resp2_and_resp3() -> None:
    requests = [
        ["BZPOPMIN", "none", "0.02"],
        ["BZPOPMAX", "none", "other", "0.02"],
        ["BZMPOP", "0.02", "2", "none", "other", "MIN"],
        ["BLMPOP", "0.02", "1", "none", "LEFT", "COUNT", "3"],
    ]
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        for request in requests:
            start = trio.current_time()
            assert await client.call(*request) == b"*-1\r\n", request
            assert trio.current_time() - start >= 0.015, request  # it waited (timer slack)
        await client.call("HELLO", "3")
        for request in requests:
            assert await client.call(*request) == b"_\r\n", request
        assert len(server.registry.blocked) == 0


async def test_a_woken_bzmpop_pops_count_members_from_the_key_that_gained_them() -> None:
    async with running_server() as server:
        waiter, adder = await RawClient.connect(server.port), await RawClient.connect(server.port)
        await waiter.send(encode_request(["BZMPOP", "0", "2", "a", "b", "MAX", "COUNT", "2"]))
        await until_blocked(server, 1)
        await adder.call("ZADD", "b", "1", "x", "2", "y", "3", "z")
        assert await waiter.replies(1) == (
            b"*2\r\n$1\r\nb\r\n*2\r\n*2\r\n$1\r\nz\r\n$1\r\n3\r\n*2\r\n$1\r\ny\r\n$1\r\n2\r\n"
        )
        assert await adder.call("ZRANGE", "b", "0", "-1") == b"*1\r\n$1\r\nx\r\n"


async def test_a_woken_blmpop_pops_count_and_the_rest_wakes_the_next_client() -> None:
    async with running_server() as server:
        first, second = await RawClient.connect(server.port), await RawClient.connect(server.port)
        pusher = await RawClient.connect(server.port)
        await first.send(encode_request(["BLMPOP", "0", "2", "a", "q", "LEFT", "COUNT", "2"]))
        await until_blocked(server, 1)
        await second.send(encode_request(["BLMPOP", "0", "1", "q", "RIGHT", "COUNT", "5"]))
        await until_blocked(server, 2)
        await pusher.call("RPUSH", "q", "e1", "e2", "e3")
        assert await first.replies(1) == b"*2\r\n$1\r\nq\r\n*2\r\n$2\r\ne1\r\n$2\r\ne2\r\n"
        assert await second.replies(1) == b"*2\r\n$1\r\nq\r\n*1\r\n$2\r\ne3\r\n"
        assert await pusher.call("EXISTS", "q") == b":0\r\n"
        assert len(server.registry.blocked) == 0


async def test_a_write_to_a_key_a_bzmpop_did_not_count_does_not_wake_it() -> None:
    """Only the counted keys are waited on: ``MIN`` after them is an option, not a key."""
    async with running_server() as server:
        waiter, adder = await RawClient.connect(server.port), await RawClient.connect(server.port)
        await waiter.send(encode_request(["BZMPOP", "0", "1", "k", "MIN"]))
        await until_blocked(server, 1)
        attempts = len(server.backend.submitted)
        await adder.call("ZADD", "MIN", "1", "m")
        await trio.testing.wait_all_tasks_blocked(cushion=0.01)
        assert len(server.backend.submitted) == attempts + 1  # the ZADD, and no attempt
        assert len(server.registry.blocked) == 1
        await adder.call("ZADD", "k", "5", "n")
        assert await waiter.replies(1) == b"*2\r\n$1\r\nk\r\n*1\r\n*2\r\n$1\r\nn\r\n$1\r\n5\r\n"


async def test_bad_arguments_and_wrong_types_answer_at_once_in_redis_order() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        await client.call("SET", "s", "x")
        assert await client.call("BZPOPMIN", "z", "-1") == b"-ERR timeout is negative\r\n"
        assert await client.call("BZMPOP", "x", "0", "z", "MIN") == (
            b"-ERR numkeys should be greater than 0\r\n"
        )
        assert await client.call("BLMPOP", "x", "1", "l", "UP") == b"-ERR syntax error\r\n"
        assert await client.call("BLMPOP", "x", "1", "l", "LEFT") == (
            b"-ERR timeout is not a float or out of range\r\n"
        )
        wrong_type = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
        assert await client.call("BZPOPMAX", "empty", "s", "0") == wrong_type
        assert await client.call("BZMPOP", "0", "2", "empty", "s", "MAX") == wrong_type
        assert await client.call("BLMPOP", "0", "1", "s", "RIGHT") == wrong_type
        assert len(server.registry.blocked) == 0


async def test_inside_multi_they_do_not_block() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        await client.call("MULTI")
        for request in (
            ["BZPOPMIN", "z", "0"],
            ["BZPOPMAX", "z", "0"],
            ["BZMPOP", "0", "1", "z", "MIN"],
            ["BLMPOP", "0", "1", "l", "LEFT"],
        ):
            assert await client.call(*request) == b"+QUEUED\r\n"
        assert await client.call("EXEC") == b"*4\r\n*-1\r\n*-1\r\n*-1\r\n*-1\r\n"
        assert len(server.registry.blocked) == 0

"""MULTI/EXEC at the front end: one replicated command per transaction.

Queue-time errors (unknown command, wrong arity, NOAUTH) abort EXEC with
EXECABORT; argument errors found when the command is prepared are that
item's reply, as Redis reports run-time errors; connection commands queued
in a transaction are answered by the front end and merged in order.
"""

from __future__ import annotations

import pytest

from epaxosdb.runtime import connection
from epaxosdb.runtime.clients import ClientSettings
from protocol.resp import encode_request
from tests.runtime.fakes import FakeBackend, RawClient, running_server

EXECABORT = b"-EXECABORT Transaction discarded because of previous errors.\r\n"


async def test_exec_submits_the_queued_commands_as_one_multi_command() -> None:
    backend = FakeBackend()
    async with running_server(backend) as server:
        client = await RawClient.connect(server.port)
        assert await client.call("MULTI") == b"+OK\r\n"
        assert await client.call("SET", "a", "1") == b"+QUEUED\r\n"
        assert await client.call("INCR", "a") == b"+QUEUED\r\n"
        assert await client.call("GET", "a") == b"+QUEUED\r\n"
        before = len(backend.submitted)
        assert await client.call("EXEC") == b"*3\r\n+OK\r\n:2\r\n$1\r\n2\r\n"
        (cmd,) = backend.submitted[before:]
        assert cmd.multi
        assert cmd.ops == ((b"SET", b"a", b"1"), (b"INCR", b"a"), (b"GET", b"a"))


async def test_queue_time_errors_abort_the_transaction() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        await client.send(
            encode_request(["MULTI"])
            + encode_request(["SET", "a", "1"])
            + encode_request(["FOO"])
            + encode_request(["SET", "b"])
            + encode_request(["EXEC"])
            + encode_request(["GET", "a"])
        )
        assert await client.replies(6) == (
            b"+OK\r\n+QUEUED\r\n"
            b"-ERR unknown command 'FOO', with args beginning with: \r\n"
            b"-ERR wrong number of arguments for 'set' command\r\n" + EXECABORT + b"$-1\r\n"
        )


async def test_run_time_errors_are_per_item_and_the_rest_runs() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        await client.send(
            encode_request(["MULTI"])
            + encode_request(["SET", "s", "text"])
            + encode_request(["INCR", "s"])
            + encode_request(["SET", "k", "v", "EX", "0"])
            + encode_request(["SET", "t", "1"])
            + encode_request(["EXEC"])
        )
        replies = await client.replies(6)
        assert replies == (
            b"+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*4\r\n+OK\r\n"
            b"-ERR value is not an integer or out of range\r\n"
            b"-ERR invalid expire time in 'set' command\r\n+OK\r\n"
        )


async def test_connection_commands_in_a_transaction_are_answered_in_place() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        await client.send(
            encode_request(["MULTI"])
            + encode_request(["PING"])
            + encode_request(["SET", "a", "1"])
            + encode_request(["ECHO", "x"])
            + encode_request(["GET", "a"])
            + encode_request(["EXEC"])
        )
        assert await client.replies(6) == (
            b"+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n"
            b"*4\r\n+PONG\r\n+OK\r\n$1\r\nx\r\n$1\r\n1\r\n"
        )


async def test_a_transaction_of_only_connection_commands_needs_no_backend() -> None:
    backend = FakeBackend()
    async with running_server(backend) as server:
        client = await RawClient.connect(server.port)
        await client.send(b"MULTI\r\nPING\r\nECHO hi\r\nEXEC\r\nMULTI\r\nEXEC\r\n")
        assert await client.replies(6) == (
            b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+PONG\r\n$2\r\nhi\r\n+OK\r\n*0\r\n"
        )
        assert backend.submitted == []


async def test_multi_exec_discard_and_watch_misuse_texts() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        await client.send(
            b"MULTI\r\nMULTI\r\nWATCH a\r\nSET a 1\r\nDISCARD\r\nEXEC\r\nDISCARD\r\nGET a\r\n"
        )
        assert await client.replies(8) == (
            b"+OK\r\n-ERR MULTI calls can not be nested\r\n"
            b"-ERR WATCH inside MULTI is not allowed\r\n+QUEUED\r\n+OK\r\n"
            b"-ERR EXEC without MULTI\r\n-ERR DISCARD without MULTI\r\n$-1\r\n"
        )


async def test_nested_multi_and_watch_errors_do_not_abort_the_transaction() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        await client.send(b"MULTI\r\nMULTI\r\nWATCH a\r\nSET a 1\r\nEXEC\r\n")
        replies = await client.replies(5)
        assert replies.endswith(b"*1\r\n+OK\r\n")


async def test_quit_and_reset_run_at_once_inside_multi() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        await client.send(b"MULTI\r\nSET a 1\r\nRESET\r\nEXEC\r\n")
        assert await client.replies(4) == (
            b"+OK\r\n+QUEUED\r\n+RESET\r\n-ERR EXEC without MULTI\r\n"
        )
        await client.send(b"MULTI\r\nSET a 1\r\nQUIT\r\n")
        assert await client.until_closed() == b"+OK\r\n+QUEUED\r\n+OK\r\n"


async def test_multi_before_auth_gets_noauth() -> None:
    async with running_server(settings=ClientSettings(requirepass="pw")) as server:
        client = await RawClient.connect(server.port)
        await client.send(b"MULTI\r\nAUTH pw\r\nEXEC\r\n")
        replies = await client.replies(3)
        assert replies == b"-NOAUTH Authentication required.\r\n+OK\r\n-ERR EXEC without MULTI\r\n"


async def test_watch_is_accepted_and_cleared_by_exec_discard_and_unwatch() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        assert await client.call("WATCH", "a", "b") == b"+OK\r\n"
        (connection,) = server.registry.clients.values()
        assert connection.watched == {b"a", b"b"}
        assert await client.call("UNWATCH") == b"+OK\r\n"
        assert connection.watched == set()
        await client.call("WATCH", "a")
        await client.call("MULTI")
        await client.call("EXEC")
        assert connection.watched == set()


async def test_exec_reply_waits_for_the_backend_and_keeps_order() -> None:
    backend = FakeBackend(hold=True)
    async with running_server(backend) as server:
        client = await RawClient.connect(server.port)
        await client.send(
            encode_request(["SET", "x", "1"])
            + b"MULTI\r\nINCR x\r\nPING\r\nEXEC\r\n"
            + encode_request(["GET", "x"])
        )
        await backend.wait_held(3)
        backend.release(reverse=True)
        assert await client.replies(6) == (
            b"+OK\r\n+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:2\r\n+PONG\r\n$1\r\n2\r\n"
        )


async def test_a_transaction_larger_than_one_replicated_command_may_be_is_refused_at_queue_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """EXEC replicates the queue as one command, which must fit in a peer frame: a QA
    run's 3 x 360 MB MULTI was refused by every peer, again and again, and wedged its
    replica until a restart. Each request counts its bytes and 6 per argument."""
    monkeypatch.setattr(connection, "COMMAND_BYTES_MAX", 100)
    backend = FakeBackend()
    async with running_server(backend) as server:
        client = await RawClient.connect(server.port)
        assert await client.call("MULTI") == b"+OK\r\n"
        assert await client.call("SET", "a", "x" * 20) == b"+QUEUED\r\n"  # 24 + 18 = 42
        assert await client.call("SET", "b", "y" * 20) == b"+QUEUED\r\n"  # 84
        refused = await client.call("SET", "c", "z")  # 84 + 5 + 18 = 107 > 100
        assert refused.startswith(b"-ERR transaction too large")
        before = len(backend.submitted)
        assert await client.call("EXEC") == EXECABORT
        assert len(backend.submitted) == before
        assert await client.call("MULTI") == b"+OK\r\n"  # a new transaction starts afresh
        assert await client.call("SET", "a", "x" * 20) == b"+QUEUED\r\n"
        assert await client.call("EXEC") == b"*1\r\n+OK\r\n"

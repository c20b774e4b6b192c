"""WATCH at the front end: a replicated read, then EXEC guarded by a replicated check.

The FakeBackend runs the real command handlers on a MemoryStore, so these
tests exercise the whole path a replica takes, minus consensus: the WATCH
read's digests, the ``WATCHCHECK`` op EXEC puts in front of the queued ops,
and the null array when a watched key changed. Where epaxosdb behaves as
Redis does, the same requests go to a real redis-server and the reply bytes
must be identical, in RESP2 and RESP3.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pytest

from epaxosdb.commands.watch import WATCHCHECK, WATCHREAD
from epaxosdb.runtime.backend import Client, OnReply
from protocol.messages import Command
from protocol.replies import Error
from protocol.resp import encode_request
from tests.redis_server import RedisServer
from tests.runtime.fakes import FakeBackend, RawClient, running_server

Request = Sequence[str]

UNCERTAIN = Error("UNCERTAIN outcome unknown: the command was proposed but did not execute")


@pytest.fixture(scope="module")
def reference() -> Iterator[RedisServer]:
    """redis-server with one database, as epaxosdb has."""
    server = RedisServer.start("--databases", "1")
    try:
        yield server
    finally:
        server.stop()


async def connect(port: int, proto: int) -> RawClient:
    client = await RawClient.connect(port)
    if proto == 3:
        await client.call("HELLO", "3")  # its reply names the server: not compared
    return client


async def pipeline(client: RawClient, *requests: Request) -> bytes:
    """Send ``requests`` in one write; return exactly their replies."""
    await client.send(b"".join(encode_request(list(r)) for r in requests))
    return await client.replies(len(requests))


# --- byte for byte like Redis -------------------------------------------------------

PIPELINES: dict[str, list[Request]] = {
    "unchanged-runs": [
        ("SET", "k", "1"),
        ("WATCH", "k"),
        ("GET", "k"),
        ("MULTI",),
        ("INCR", "k"),
        ("EXEC",),
        ("GET", "k"),
    ],
    "own-write-aborts": [
        ("WATCH", "k", "other"),
        ("SET", "k", "5"),
        ("MULTI",),
        ("INCR", "k"),
        ("SET", "x", "1"),
        ("EXEC",),
        ("MGET", "k", "x"),
    ],
    "aborted-with-connection-commands": [
        ("WATCH", "k"),
        ("SET", "k", "1"),
        ("MULTI",),
        ("PING",),
        ("ECHO", "e"),
        ("EXEC",),
    ],
    "empty-transaction": [("WATCH", "k"), ("MULTI",), ("EXEC",)],
    "empty-transaction-aborted": [
        ("WATCH", "k"),
        ("DEL", "k"),
        ("SET", "k", "1"),
        ("MULTI",),
        ("EXEC",),
    ],
    "first-watch-counts": [
        ("WATCH", "k"),
        ("SET", "k", "1"),
        ("WATCH", "k"),
        ("MULTI",),
        ("SET", "k", "2"),
        ("EXEC",),
        ("GET", "k"),
    ],
    "unwatch-clears": [
        ("WATCH", "k"),
        ("SET", "k", "1"),
        ("UNWATCH",),
        ("MULTI",),
        ("SET", "k", "2"),
        ("EXEC",),
    ],
    "discard-clears": [
        ("WATCH", "k"),
        ("MULTI",),
        ("DISCARD",),
        ("SET", "k", "3"),
        ("MULTI",),
        ("SET", "k", "4"),
        ("EXEC",),
    ],
    "exec-clears": [
        ("WATCH", "k"),
        ("MULTI",),
        ("EXEC",),
        ("SET", "k", "1"),
        ("MULTI",),
        ("SET", "k", "2"),
        ("EXEC",),
    ],
    "reset-clears": [
        ("WATCH", "k"),
        ("RESET",),
        ("SET", "k", "3"),
        ("MULTI",),
        ("SET", "k", "4"),
        ("EXEC",),
    ],
    "execabort-wins-over-a-changed-key": [
        ("WATCH", "k"),
        ("SET", "k", "1"),
        ("MULTI",),
        ("FOO",),
        ("EXEC",),
        ("GET", "k"),
    ],
    "watch-inside-multi": [
        ("MULTI",),
        ("WATCH", "k"),
        ("SET", "k", "1"),
        ("EXEC",),
        ("GET", "k"),
    ],
    "expiry-change-aborts": [
        ("SET", "k", "1"),
        ("WATCH", "k"),
        ("EXPIRE", "k", "100"),
        ("MULTI",),
        ("SET", "k", "2"),
        ("EXEC",),
        ("GET", "k"),
    ],
}


async def run_pipeline(port: int, proto: int, requests: list[Request]) -> bytes:
    client = await connect(port, proto)
    try:
        await client.call("FLUSHALL")
        return await pipeline(client, *requests)
    finally:
        await client.aclose()


@pytest.mark.parametrize("proto", [2, 3], ids=["RESP2", "RESP3"])
@pytest.mark.parametrize("name", list(PIPELINES))
async def test_pipelined_watch_transactions_answer_byte_for_byte_like_redis(
    name: str, proto: int, reference: RedisServer
) -> None:
    async with running_server() as server:
        ours = await run_pipeline(server.port, proto, PIPELINES[name])
    theirs = await run_pipeline(reference.port, proto, PIPELINES[name])
    assert ours == theirs


async def other_client_changes_k(
    port: int, proto: int, before: list[Request], *after: list[Request]
) -> bytes:
    """``before`` pipelined on one connection, a SET of k on another, then each of
    ``after`` pipelined on the first."""
    watcher, other = await connect(port, proto), await connect(port, proto)
    try:
        await watcher.call("FLUSHALL")
        await watcher.call("SET", "k", "0")
        out = await pipeline(watcher, *before)
        out += await other.call("SET", "k", "changed")
        for requests in after:
            out += await pipeline(watcher, *requests)
        return out
    finally:
        await watcher.aclose()
        await other.aclose()


async def like_redis(
    reference: RedisServer, proto: int, before: list[Request], *after: list[Request]
) -> bytes:
    """Our replies to ``other_client_changes_k``, once they equal Redis's byte for byte."""
    async with running_server() as server:
        ours = await other_client_changes_k(server.port, proto, before, *after)
    assert ours == await other_client_changes_k(reference.port, proto, before, *after)
    return ours


@pytest.mark.parametrize("proto", [2, 3], ids=["RESP2", "RESP3"])
async def test_exec_after_another_client_changed_a_watched_key_is_null_like_redis(
    proto: int, reference: RedisServer
) -> None:
    ours = await like_redis(
        reference,
        proto,
        [("WATCH", "k"), ("GET", "k")],
        [("MULTI",), ("SET", "k", "mine"), ("EXEC",), ("GET", "k")],
    )
    null = b"*-1\r\n" if proto == 2 else b"_\r\n"
    assert ours.endswith(b"+QUEUED\r\n" + null + b"$7\r\nchanged\r\n")


@pytest.mark.parametrize("proto", [2, 3], ids=["RESP2", "RESP3"])
async def test_an_aborted_exec_leaves_the_connection_as_it_was_like_redis(
    proto: int, reference: RedisServer
) -> None:
    """An aborted EXEC queued CLIENT SETNAME, SUBSCRIBE and HELLO: none of them may take
    effect (a QA run found the client renamed, subscribed, and switched protocol)."""
    ours = await like_redis(
        reference,
        proto,
        [("WATCH", "k")],
        [
            ("MULTI",),
            ("CLIENT", "SETNAME", "aborted"),
            ("SUBSCRIBE", "chan"),
            ("HELLO", "3" if proto == 2 else "2"),
            ("EXEC",),
            ("CLIENT", "GETNAME"),
            ("GET", "k"),
        ],
        [("WATCH", "k"), ("MULTI",)],
        [("CLIENT", "SETNAME", "kept"), ("PING",), ("EXEC",)],
        [("CLIENT", "GETNAME")],
    )
    null = b"*-1\r\n" if proto == 2 else b"_\r\n"
    assert null + (b"$-1\r\n" if proto == 2 else b"_\r\n") + b"$7\r\nchanged\r\n" in ours
    assert ours.endswith(b"$4\r\nkept\r\n")


# --- what is replicated -------------------------------------------------------------


async def test_watch_submits_a_read_and_exec_a_check_in_front_of_the_queued_ops() -> None:
    backend = FakeBackend()
    async with running_server(backend) as server:
        client = await RawClient.connect(server.port)
        await client.call("SET", "k", "v")
        assert await client.call("WATCH", "k", "missing") == b"+OK\r\n"
        read = backend.submitted[-1]
        assert read.ops == ((WATCHREAD, b"k", b"missing"),) and not read.multi
        digests = backend.execute(read)
        assert isinstance(digests, list)
        assert await pipeline(client, ("MULTI",), ("GET", "k"), ("EXEC",)) == (
            b"+OK\r\n+QUEUED\r\n*1\r\n$1\r\nv\r\n"
        )
        exec_cmd = backend.submitted[-1]
        assert exec_cmd.multi
        assert exec_cmd.ops == (
            (WATCHCHECK, b"k", digests[0], b"missing", digests[1]),
            (b"GET", b"k"),
        )


async def test_a_watched_key_restored_to_its_value_lets_exec_run() -> None:
    """The documented ABA difference: Redis would answer null here; the check compares values."""
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        replies = await pipeline(
            client,
            ("SET", "k", "1"),
            ("WATCH", "k"),
            ("SET", "k", "2"),
            ("SET", "k", "1"),
            ("MULTI",),
            ("INCR", "k"),
            ("EXEC",),
        )
        assert replies.endswith(b"+QUEUED\r\n*1\r\n:2\r\n")


# --- failures of the WATCH read ---------------------------------------------------------


@dataclass
class FailingWatchBackend(FakeBackend):
    """Answers every WATCH read with ``failure``; other commands run normally."""

    failure: Error = UNCERTAIN

    def submit(
        self,
        cmd: Command,
        on_done: OnReply,
        on_late: OnReply | None = None,
        client: Client | None = None,
    ) -> None:
        if cmd.ops[0][0] == WATCHREAD:
            self.submitted.append(cmd)
            on_done(self.failure)
        else:
            super().submit(cmd, on_done)


async def test_a_watch_whose_read_fails_answers_the_error_and_watches_nothing() -> None:
    backend = FailingWatchBackend()
    async with running_server(backend) as server:
        client, other = await RawClient.connect(server.port), await RawClient.connect(server.port)
        assert await client.call("WATCH", "k") == b"-" + UNCERTAIN.text.encode() + b"\r\n"
        connection = server.registry.clients[min(server.registry.clients)]
        assert list(connection.watched) == []
        await other.call("SET", "k", "changed")
        replies = await pipeline(client, ("MULTI",), ("SET", "k", "mine"), ("EXEC",))
        assert replies == b"+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n"
        assert backend.submitted[-1].ops == ((b"SET", b"k", b"mine"),)  # no check op


async def test_a_watch_while_loading_answers_loading_and_watches_nothing() -> None:
    backend = FakeBackend(loading=True)
    async with running_server(backend) as server:
        client = await RawClient.connect(server.port)
        assert await client.call("WATCH", "k") == (
            b"-LOADING Redis is loading the dataset in memory\r\n"
        )
        backend.loading = False
        await client.call("SET", "k", "changed")
        replies = await pipeline(client, ("MULTI",), ("SET", "k", "mine"), ("EXEC",))
        assert replies == b"+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n"


# --- order: EXEC waits for the digests of the WATCHes before it ----------------------------


async def test_exec_waits_for_the_watch_read_and_later_requests_wait_behind_it() -> None:
    backend = FakeBackend(hold=True)
    async with running_server(backend) as server:
        client, other = await RawClient.connect(server.port), await RawClient.connect(server.port)
        await client.send(
            b"".join(
                encode_request(list(r))
                for r in [("WATCH", "x"), ("MULTI",), ("INCR", "x"), ("EXEC",), ("GET", "x")]
            )
        )
        await backend.wait_held(1)
        await other.send(encode_request(["SET", "x", "9"]))
        await backend.wait_held(2)
        # Held: the WATCH read, then the other client's SET. Neither EXEC nor the
        # GET behind it may have been submitted: they need the read's digests.
        assert [cmd.ops[0][0] for cmd, _ in backend.held] == [WATCHREAD, b"SET"]
        assert len(backend.submitted) == 2
        backend.release(reverse=True)
        assert await other.replies(1) == b"+OK\r\n"
        await backend.wait_held(2)  # EXEC (checked after the SET) and the GET
        backend.release(reverse=True)
        assert await client.replies(5) == b"+OK\r\n+OK\r\n+QUEUED\r\n*-1\r\n$1\r\n9\r\n"


async def test_a_watch_read_completing_after_unwatch_watches_nothing() -> None:
    backend = FakeBackend(hold=True)
    async with running_server(backend) as server:
        client, other = await RawClient.connect(server.port), await RawClient.connect(server.port)
        await client.send(
            b"".join(
                encode_request(list(r))
                for r in [("WATCH", "x"), ("UNWATCH",), ("MULTI",), ("SET", "x", "1"), ("EXEC",)]
            )
        )
        await backend.wait_held(1)
        await other.send(encode_request(["SET", "x", "9"]))
        await backend.wait_held(2)
        backend.release()
        await backend.wait_held(1)  # the EXEC, released by the read's completion
        exec_cmd = backend.held[0][0]
        assert exec_cmd.ops == ((b"SET", b"x", b"1"),)  # UNWATCH came first: no check
        backend.release()
        assert await client.replies(5) == b"+OK\r\n+OK\r\n+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n"

"""BLPOP, BRPOP, BLMOVE and BRPOPLPUSH: a client waits at its replica for a push.

The front end over a ``FakeBackend``, which, like the consensus loop, tells
the blocked clients which keys each executed command wrote. Expected bytes
are Redis 7.0's (the null array of a timed-out BLPOP, and of a
timed-out BLMOVE too).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable

import pytest
import trio
import trio.lowlevel

from epaxosdb import commands
from epaxosdb.commands.lists import encode_list
from epaxosdb.core.config import ReplicaConfig
from epaxosdb.core.replica import Replica
from epaxosdb.runtime.blocking import BlockedClients, BlockedPop
from epaxosdb.runtime.clients import ClientRegistry
from epaxosdb.runtime.connection import Connection
from epaxosdb.runtime.loop import ConsensusLoop, no_quorum
from protocol.replies import NULL_ARRAY, Error, Reply
from protocol.resp import encode_request
from storage.interface import Value, ValueType
from storage.memory import MemoryStore
from tests.runtime.fakes import FakeBackend, RawClient, running_server, until_blocked

WAIT_S = 10.0


async def test_a_push_from_another_client_wakes_a_blpop_with_the_element() -> None:
    async with running_server() as server:
        waiter, pusher = await RawClient.connect(server.port), await RawClient.connect(server.port)
        await waiter.send(encode_request(["BLPOP", "empty", "jobs", "0"]))
        await until_blocked(server, 1)
        assert await pusher.call("RPUSH", "jobs", "j1", "j2") == b":2\r\n"
        assert await waiter.replies(1) == b"*2\r\n$4\r\njobs\r\n$2\r\nj1\r\n"
        assert await pusher.call("LRANGE", "jobs", "0", "-1") == b"*1\r\n$2\r\nj2\r\n"
        assert len(server.registry.blocked) == 0


async def test_a_list_that_has_elements_answers_at_once_from_the_first_such_key() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        await client.call("RPUSH", "b", "1", "2")
        await client.call("RPUSH", "c", "x")
        assert await client.call("BRPOP", "a", "b", "c", "0") == b"*2\r\n$1\r\nb\r\n$1\r\n2\r\n"


async def test_the_timeout_answers_the_null_array() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        start = trio.current_time()
        assert await client.call("BLPOP", "none", "0.05") == b"*-1\r\n"
        assert await client.call("BLMOVE", "none", "d", "LEFT", "RIGHT", "0.05") == b"*-1\r\n"
        assert await client.call("BRPOPLPUSH", "none", "d", "0.05") == b"*-1\r\n"
        assert trio.current_time() - start >= 0.15
        await client.call("HELLO", "3")
        assert await client.call("BRPOP", "none", "0.01") == b"_\r\n"


async def test_blocked_clients_are_served_first_come_first_served() -> None:
    async with running_server() as server:
        first, second = await RawClient.connect(server.port), await RawClient.connect(server.port)
        pusher = await RawClient.connect(server.port)
        await first.send(encode_request(["BLPOP", "q", "0"]))
        await until_blocked(server, 1)
        await second.send(encode_request(["BLPOP", "q", "0"]))
        await until_blocked(server, 2)
        await pusher.call("RPUSH", "q", "one")
        assert await first.replies(1) == b"*2\r\n$1\r\nq\r\n$3\r\none\r\n"
        await until_blocked(server, 1)
        await pusher.call("RPUSH", "q", "two")
        assert await second.replies(1) == b"*2\r\n$1\r\nq\r\n$3\r\ntwo\r\n"


async def test_blmove_waits_then_moves_the_element() -> None:
    async with running_server() as server:
        waiter, pusher = await RawClient.connect(server.port), await RawClient.connect(server.port)
        await waiter.send(encode_request(["BLMOVE", "src", "dst", "RIGHT", "LEFT", "0"]))
        await until_blocked(server, 1)
        await pusher.call("LPUSH", "src", "e")
        assert await waiter.replies(1) == b"$1\r\ne\r\n"
        assert await pusher.call("LRANGE", "dst", "0", "-1") == b"*1\r\n$1\r\ne\r\n"
        assert await pusher.call("EXISTS", "src") == b":0\r\n"


async def test_requests_pipelined_behind_a_blocked_command_wait_for_it() -> None:
    async with running_server() as server:
        waiter, pusher = await RawClient.connect(server.port), await RawClient.connect(server.port)
        await waiter.send(
            encode_request(["BLPOP", "q", "0"])
            + encode_request(["PING"])
            + encode_request(["LLEN", "q"])
        )
        await until_blocked(server, 1)
        await pusher.call("RPUSH", "q", "a", "b")
        assert await waiter.replies(3) == b"*2\r\n$1\r\nq\r\n$1\r\na\r\n+PONG\r\n:1\r\n"


async def test_a_client_that_goes_away_while_blocked_pops_nothing() -> None:
    async with running_server() as server:
        waiter, pusher = await RawClient.connect(server.port), await RawClient.connect(server.port)
        await waiter.send(encode_request(["BLPOP", "q", "0"]))
        await until_blocked(server, 1)
        await waiter.aclose()
        await until_blocked(server, 0)
        await pusher.call("RPUSH", "q", "kept")
        assert await pusher.call("LRANGE", "q", "0", "-1") == b"*1\r\n$4\r\nkept\r\n"


async def test_an_attempt_in_flight_when_the_timeout_passes_still_delivers_its_element() -> None:
    backend = FakeBackend(hold=True)
    async with running_server(backend) as server:
        waiter = await RawClient.connect(server.port)
        await waiter.send(encode_request(["BLPOP", "q", "0.05"]))
        with trio.fail_after(WAIT_S):
            await backend.wait_held(1)  # the first attempt, not yet executed
        await trio.sleep(0.1)  # the timeout passes while it is in flight
        backend.store.write(lambda txn: txn.put(b"q", _list_of(b"late")))
        assert backend.release() == 1
        assert await waiter.replies(1) == b"*2\r\n$1\r\nq\r\n$4\r\nlate\r\n"


async def test_inside_multi_a_blocking_pop_does_not_block() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        await client.call("MULTI")
        assert await client.call("BLPOP", "q", "0") == b"+QUEUED\r\n"
        assert await client.call("BLMOVE", "q", "d", "LEFT", "LEFT", "0") == b"+QUEUED\r\n"
        assert await client.call("EXEC") == b"*2\r\n*-1\r\n$-1\r\n"
        assert len(server.registry.blocked) == 0


async def test_bad_timeouts_and_wrong_types_answer_at_once() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        await client.call("SET", "s", "x")
        assert await client.call("BLPOP", "q", "-1") == b"-ERR timeout is negative\r\n"
        assert await client.call("BLPOP", "q", "x") == (
            b"-ERR timeout is not a float or out of range\r\n"
        )
        assert await client.call("BLPOP", "q", "s", "0") == (
            b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
        )
        assert len(server.registry.blocked) == 0


async def test_a_key_that_turns_into_another_type_keeps_the_client_waiting() -> None:
    """Redis 7.0: only the first attempt answers WRONGTYPE; a waiting client whose key
    becomes a string waits on, and pops once the key is a list again."""
    async with running_server() as server:
        waiter, other = await RawClient.connect(server.port), await RawClient.connect(server.port)
        await waiter.send(encode_request(["BLPOP", "q", "0"]))
        await until_blocked(server, 1)
        assert await other.call("SET", "q", "text") == b"+OK\r\n"
        # The SET wakes it and its attempt meets the string: no reply comes.
        with trio.move_on_after(0.5) as waited:
            await waiter.replies(1)
        assert waited.cancelled_caught and len(server.registry.blocked) == 1
        await other.call("DEL", "q")
        await other.call("RPUSH", "q", "x")
        assert await waiter.replies(1) == b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n"


async def test_a_waiting_client_is_served_from_another_key_when_one_turned_into_a_string() -> None:
    """The key that changed type is passed over, not answered with WRONGTYPE: a push to
    another of the client's keys serves it (Redis serves the key that got the push)."""
    async with running_server() as server:
        waiter, other = await RawClient.connect(server.port), await RawClient.connect(server.port)
        await waiter.send(encode_request(["BLPOP", "k1", "k2", "0"]))
        await until_blocked(server, 1)
        assert await other.call("SET", "k1", "text") == b"+OK\r\n"
        assert await other.call("RPUSH", "k2", "x") == b":1\r\n"
        with trio.fail_after(WAIT_S):
            assert await waiter.replies(1) == b"*2\r\n$2\r\nk2\r\n$1\r\nx\r\n"
        assert await other.call("GET", "k1") == b"$4\r\ntext\r\n"


async def test_a_sorted_set_and_a_stream_waiter_pass_over_a_key_of_another_type() -> None:
    async with running_server() as server:
        zwaiter, xwaiter, other = [await RawClient.connect(server.port) for _ in range(3)]
        await zwaiter.send(encode_request(["BZPOPMIN", "z1", "z2", "0"]))
        await xwaiter.send(encode_request(["XREAD", "BLOCK", "0", "STREAMS", "s1", "s2", "0", "0"]))
        await until_blocked(server, 2)
        await other.call("SET", "z1", "text")
        await other.call("SET", "s1", "text")
        await other.call("ZADD", "z2", "1", "m")
        await other.call("XADD", "s2", "1-1", "f", "v")
        with trio.fail_after(WAIT_S):
            assert await zwaiter.replies(1) == b"*3\r\n$2\r\nz2\r\n$1\r\nm\r\n$1\r\n1\r\n"
            assert await xwaiter.replies(1) == (
                b"*1\r\n*2\r\n$2\r\ns2\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
            )


async def test_blmove_to_a_destination_of_another_type_ends_the_wait_with_wrongtype() -> None:
    """Redis answers the blocked client WRONGTYPE once the source has an element, and
    puts the element back: nothing is lost."""
    async with running_server() as server:
        waiter, other = await RawClient.connect(server.port), await RawClient.connect(server.port)
        await other.call("SET", "dst", "text")
        blmove = ["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"]
        for request in (blmove, ["BRPOPLPUSH", "src", "dst", "0"]):
            await waiter.send(encode_request(request))
            await until_blocked(server, 1)
            await other.call("RPUSH", "src", "x")
            with trio.fail_after(WAIT_S):
                assert await waiter.replies(1) == (
                    b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
                )
            assert await other.call("LRANGE", "src", "0", "-1") == b"*1\r\n$1\r\nx\r\n"
            await other.call("DEL", "src")
            await until_blocked(server, 0)


async def test_blmove_to_another_type_is_refused_though_a_later_pop_takes_the_element() -> None:
    """Redis serves a blocked client right after the push, before the next client's
    command: the waiter gets WRONGTYPE and the element stays for the LPOP that comes
    next. Here the waiter's next attempt would run after that LPOP and find nothing;
    it is answered from the state right after the push instead of waiting on."""
    backend = FakeBackend()
    async with running_server(backend) as server:
        waiter, pusher, popper = [await RawClient.connect(server.port) for _ in range(3)]
        await pusher.call("SET", "dst", "text")
        for request in (
            ["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"],
            ["BRPOPLPUSH", "src", "dst", "0"],
        ):
            await waiter.send(encode_request(request))
            await until_blocked(server, 1)
            backend.hold = True
            await pusher.send(encode_request(["RPUSH", "src", "x"]))
            await popper.send(encode_request(["LPOP", "src"]))
            with trio.fail_after(WAIT_S):
                await backend.wait_held(2)
            assert backend.release() == 2  # the push, then the pop: no attempt between
            backend.hold = False
            with trio.fail_after(WAIT_S):
                assert await waiter.replies(1) == (
                    b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
                )
                assert await pusher.replies(1) == b":1\r\n"
                assert await popper.replies(1) == b"$1\r\nx\r\n"
            await until_blocked(server, 0)
            assert backend.held == []  # the waiter proposed no attempt after the push


async def test_a_timeout_below_a_millisecond_times_out_instead_of_waiting_for_ever() -> None:
    """Redis rounds the timeout up to whole milliseconds: 0.0001 s is 1 ms, not 0 (for ever)."""
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        with trio.fail_after(WAIT_S):
            for timeout in ("0.001", "0.0009", "0.0001"):
                assert await client.call("BLPOP", "none", timeout) == b"*-1\r\n"
                assert await client.call("BZPOPMIN", "none", timeout) == b"*-1\r\n"
                assert await client.call("BRPOPLPUSH", "none", "d", timeout) == b"*-1\r\n"


async def test_info_and_client_list_show_a_blocked_client() -> None:
    async with running_server() as server:
        waiter, other = await RawClient.connect(server.port), await RawClient.connect(server.port)
        await waiter.send(encode_request(["BLPOP", "q", "0"]))
        await until_blocked(server, 1)
        assert b"blocked_clients:1\r\n" in await other.call("INFO", "clients")
        listing = await other.call("CLIENT", "LIST")
        assert b" flags=b " in listing and b"cmd=blpop" in listing
        await other.call("RPUSH", "q", "x")
        await waiter.replies(1)
        assert b"blocked_clients:0\r\n" in await other.call("INFO", "clients")


async def test_info_counts_in_the_timeout_table_only_clients_that_wait_with_a_timeout() -> None:
    """Redis's ``clients_in_timeout_table``: BLPOP with 0 waits for good, outside it."""
    async with running_server() as server:
        forever, timed, other = [await RawClient.connect(server.port) for _ in range(3)]
        await forever.send(encode_request(["BLPOP", "q", "0"]))
        await until_blocked(server, 1)
        clients = await other.call("INFO", "clients")
        assert b"blocked_clients:1\r\n" in clients
        assert b"clients_in_timeout_table:0\r\n" in clients
        await timed.send(encode_request(["BZPOPMIN", "z", "300"]))
        await until_blocked(server, 2)
        clients = await other.call("INFO", "clients")
        assert b"blocked_clients:2\r\n" in clients
        assert b"clients_in_timeout_table:1\r\n" in clients
        await other.call("ZADD", "z", "1", "m")
        await timed.replies(1)
        await other.call("RPUSH", "q", "x")
        await forever.replies(1)
        clients = await other.call("INFO", "clients")
        assert b"blocked_clients:0\r\n" in clients
        assert b"clients_in_timeout_table:0\r\n" in clients


async def test_client_unblock_ends_a_wait_with_the_timeout_reply_or_an_error() -> None:
    async with running_server() as server:
        waiter, admin = await RawClient.connect(server.port), await RawClient.connect(server.port)
        waiter_id = int((await waiter.call("CLIENT", "ID"))[1:-2])
        assert await admin.call("CLIENT", "UNBLOCK", str(waiter_id)) == b":0\r\n"
        await waiter.send(encode_request(["BLPOP", "q", "0"]))
        await until_blocked(server, 1)
        assert await admin.call("CLIENT", "UNBLOCK", str(waiter_id)) == b":1\r\n"
        assert await waiter.replies(1) == b"*-1\r\n"
        await waiter.send(encode_request(["BLMOVE", "q", "d", "LEFT", "LEFT", "0"]))
        await until_blocked(server, 1)
        assert await admin.call("CLIENT", "UNBLOCK", str(waiter_id), "error") == b":1\r\n"
        assert await waiter.replies(1) == b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
        assert await admin.call("CLIENT", "UNBLOCK", "1", "FOO") == (
            b"-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n"
        )
        assert await admin.call("CLIENT", "UNBLOCK", "x") == (
            b"-ERR value is not an integer or out of range\r\n"
        )
        assert await admin.call("CLIENT", "UNBLOCK", "999") == b":0\r\n"


def _list_of(*elements: bytes) -> Value:
    return Value(ValueType.LIST, 0, encode_list(elements))


async def test_many_blocked_clients_each_get_one_element_and_none_is_lost() -> None:
    async with running_server() as server:
        waiters = [await RawClient.connect(server.port) for _ in range(8)]
        pusher = await RawClient.connect(server.port)
        for waiter in waiters:
            await waiter.send(encode_request(["BRPOP", "q", "0"]))
        await until_blocked(server, len(waiters))
        await pusher.call("LPUSH", "q", *(f"e{i}" for i in range(10)))
        got = []
        for waiter in waiters:
            reply = await waiter.replies(1)
            got.append(reply.rsplit(b"\r\n", 2)[-2])
        assert len(set(got)) == len(waiters)
        assert await pusher.call("LLEN", "q") == b":2\r\n"


class _Recorder(BlockedClients):
    """Stands for the front end's blocked clients: records what the loop reports."""

    def __init__(self) -> None:
        super().__init__()
        self.changes: list[set[bytes] | None] = []

    def __len__(self) -> int:
        return 1  # someone is always waiting, so the loop always reports

    def changed(self, keys: Iterable[bytes]) -> None:
        self.changes.append(set(keys))

    def changed_all(self) -> None:
        self.changes.append(None)


async def test_the_consensus_loop_reports_the_keys_each_turn_wrote() -> None:
    recorder = _Recorder()
    core = Replica(ReplicaConfig(1, (1,)), rng=random.Random(1), access=commands.command_access)
    loop = ConsensusLoop(
        core, MemoryStore(), incarnation=1, send=lambda dst, msg: None, tick_interval_s=0.01,
        blocked=recorder,
    )

    async def call(*op: bytes) -> None:
        done = trio.Event()
        loop.submit(loop.stamp((op,), 1_700_000_000_000), lambda reply: done.set())
        with trio.fail_after(WAIT_S):
            await done.wait()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(loop.run)
        await call(b"LPUSH", b"q", b"a")
        await call(b"GET", b"x")
        await call(b"BLPOP", b"empty", b"0")  # finds nothing: writes nothing
        await call(b"DBSIZE")  # runs in a transaction: what changed is not tracked
        nursery.cancel_scope.cancel()
    assert recorder.changes == [{b"q"}, None]


class _Attempts:
    """Blocked pops whose attempts the test answers by hand, in one ``BlockedClients``."""

    def __init__(self) -> None:
        self.clients = BlockedClients()
        self.pending: list[tuple[str, Callable[[Reply], None]]] = []
        self.replies: dict[str, Reply] = {}

    def block(self, name: str, *keys: bytes) -> BlockedPop:
        def finish(reply: Reply) -> None:
            self.replies[name] = reply
            self.clients.remove(blocked)

        blocked = BlockedPop(
            keys, lambda on_done: self.pending.append((name, on_done)), finish,
            NULL_ARRAY, NULL_ARRAY, math.inf,
        )
        self.clients.add(blocked)
        blocked.start()
        return blocked

    def answer(self, reply: Reply = NULL_ARRAY) -> str:
        """Answer the oldest attempt in flight; whose it was."""
        name, on_done = self.pending.pop(0)
        on_done(reply)
        return name


async def test_a_client_that_leaves_owing_a_wake_up_passes_it_to_the_next() -> None:
    attempts = _Attempts()
    first = attempts.block("first", b"k")
    attempts.block("second", b"k")
    assert [attempts.answer(), attempts.answer()] == ["first", "second"]  # both found nothing
    attempts.clients.changed([b"k"])  # a push: the first in line attempts
    attempts.clients.changed([b"k"])  # another, while that attempt is in flight
    first.stop()  # the first client goes away before its attempt comes back
    assert attempts.answer() == "first"  # empty: the first push went to another replica
    assert attempts.replies == {"first": NULL_ARRAY}
    assert [name for name, _ in attempts.pending] == ["second"]  # the second push is not lost


async def test_a_client_that_owes_nothing_wakes_no_one_when_it_leaves() -> None:
    attempts = _Attempts()
    first = attempts.block("first", b"k")
    attempts.block("second", b"k")
    attempts.answer(), attempts.answer()
    first.stop()  # a timeout, with no change reported
    assert attempts.replies == {"first": NULL_ARRAY}
    assert attempts.pending == []  # no attempt, so no replicated write, for nothing


async def test_a_pop_from_one_of_several_keys_wakes_the_next_client_on_the_others() -> None:
    async with running_server() as server:
        both, second = await RawClient.connect(server.port), await RawClient.connect(server.port)
        pusher = await RawClient.connect(server.port)
        await both.send(encode_request(["BLPOP", "k1", "k2", "0"]))
        await until_blocked(server, 1)
        await second.send(encode_request(["BLPOP", "k2", "0"]))
        await until_blocked(server, 2)
        await pusher.send(
            encode_request(["MULTI"])
            + encode_request(["RPUSH", "k2", "b"])
            + encode_request(["RPUSH", "k1", "a"])
            + encode_request(["EXEC"])
        )
        assert await both.replies(1) == b"*2\r\n$2\r\nk1\r\n$1\r\na\r\n"
        assert await second.replies(1) == b"*2\r\n$2\r\nk2\r\n$1\r\nb\r\n"


class _ClientThatHangsUp:
    """A client connection that sends one blocking pop, then hangs up once the pop's first
    attempt is on its way through consensus (held by the backend) — or, with
    ``answered_first``, just as that attempt pops: the answer then lands while the read
    that saw the end of input is on its way back."""

    def __init__(
        self, backend: FakeBackend, request: list[str], *, answered_first: bool = False
    ) -> None:
        self._backend = backend
        self._requests = [encode_request(request)]
        self._answered_first = answered_first
        self.sent = bytearray()

    async def receive(self, max_bytes: int) -> bytes:
        await trio.lowlevel.checkpoint()
        if self._requests:
            return self._requests.pop()
        with trio.fail_after(WAIT_S):
            await self._backend.wait_held(1)  # the first attempt
        if self._answered_first:
            self._backend.store.write(lambda txn: txn.put(b"q", _list_of(b"x")))
            self._backend.release()  # it pops: the wait ends before this read returns
        return b""

    async def send_all(self, data: bytes | bytearray) -> None:
        self.sent += data

    def try_send(self, data: bytes | bytearray) -> int:
        self.sent += data
        return len(data)

    def hung_up(self) -> bool:
        return False  # only the reader finds out, here

    def close(self) -> None:
        pass


class _ClientGoneUnread(_ClientThatHangsUp):
    """A client that sends one blocking pop and leaves, but whose end of input the reader
    has not seen yet: only a look at the socket (``hung_up``) tells."""

    async def receive(self, max_bytes: int) -> bytes:
        await trio.lowlevel.checkpoint()
        if self._requests:
            return self._requests.pop()
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    def hung_up(self) -> bool:
        return not self._requests


async def test_a_client_that_hangs_up_as_its_wait_is_answered_only_ends_its_connection() -> None:
    """The end of input came with no wait left to stop: the replica process used to die
    of it (an AttributeError in the reader; found by a QA run with redis-py asyncio
    consumers cancelling BLPOP in ``wait_for``)."""
    backend = FakeBackend(hold=True)
    io = _ClientThatHangsUp(backend, ["BLPOP", "q", "0"], answered_first=True)
    registry = ClientRegistry()
    backend.blocked = registry.blocked
    with trio.fail_after(WAIT_S):
        await Connection(io, registry, backend).run()
    assert bytes(io.sent) == b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n"
    assert len(registry.blocked) == 0 and not registry.clients


@pytest.mark.parametrize(
    ("setup", "request_", "check", "expected"),
    [
        (["RPUSH", "q", "a", "b", "c"], ["BLPOP", "q", "0"], ["LRANGE", "q", "0", "-1"],
         [b"a", b"b", b"c"]),
        (["RPUSH", "q", "a", "b", "c"], ["BRPOP", "q", "0"], ["LRANGE", "q", "0", "-1"],
         [b"a", b"b", b"c"]),
        (["RPUSH", "q", "a", "b", "c"], ["BLMPOP", "0", "1", "q", "RIGHT", "COUNT", "2"],
         ["LRANGE", "q", "0", "-1"], [b"a", b"b", b"c"]),
        (["ZADD", "z", "1.5", "m", "2", "n"], ["BZPOPMIN", "z", "0"],
         ["ZMSCORE", "z", "m", "n"], [1.5, 2.0]),
        (["ZADD", "z", "1.5", "m", "2", "n"], ["BZMPOP", "0", "1", "z", "MAX", "COUNT", "2"],
         ["ZMSCORE", "z", "m", "n"], [1.5, 2.0]),
    ],
)  # fmt: skip
async def test_what_an_attempt_pops_for_a_client_that_hung_up_is_put_back(
    setup: list[str], request_: list[str], check: list[str], expected: list[bytes | float]
) -> None:
    """The client never got it, so it takes nothing with it (a QA run lost elements to
    consumers that cancel their BLPOP on a client-side timeout)."""
    backend = FakeBackend(hold=True)
    registry = ClientRegistry()
    backend.blocked = registry.blocked

    def run(words: list[str]) -> Reply:
        op = tuple(w.encode() for w in words)
        return backend.execute(backend.stamp((op,), 1_700_000_000_000))

    io = _ClientThatHangsUp(backend, request_)
    with trio.fail_after(WAIT_S):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(Connection(io, registry, backend).run)
            await backend.wait_held(1)
            await trio.testing.wait_all_tasks_blocked()  # the reader has seen the hang-up
            run(setup)
            assert backend.release() == 1  # the attempt pops for nobody
            await backend.wait_held(1)  # what puts it back
            backend.hold = False
            assert backend.release() == 1
    assert run(check) == expected
    assert bytes(io.sent) == b"", "nothing was sent to a client that hung up"


async def test_a_pop_for_a_client_gone_before_its_reader_noticed_is_put_back() -> None:
    """The end of input can arrive in the same scheduler pass as the pop's reply: the
    reply would go to a closed socket (a QA run lost 20 elements in 150 such hang-ups)."""
    backend = FakeBackend(hold=True)
    registry = ClientRegistry()
    backend.blocked = registry.blocked
    io = _ClientGoneUnread(backend, ["BLPOP", "q", "0"])
    with trio.fail_after(WAIT_S):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(Connection(io, registry, backend).run)
            await backend.wait_held(1)
            backend.store.write(lambda txn: txn.put(b"q", _list_of(b"x")))
            assert backend.release() == 1  # the attempt pops; the client is gone
            await backend.wait_held(1)  # what puts it back
            backend.hold = False
            assert backend.release() == 1
            nursery.cancel_scope.cancel()
    assert backend.execute(backend.stamp(((b"LRANGE", b"q", b"0", b"-1"),), 1)) == [b"x"]
    assert bytes(io.sent) == b""


async def test_a_pop_whose_client_was_told_its_outcome_is_unknown_is_put_back() -> None:
    """Quorum lost: the attempt's client gets UNCERTAIN and stops waiting; when quorum
    returns the attempt executes after all, and what it pops was given to nobody."""
    uncertain = Error("UNCERTAIN outcome unknown")
    backend = FakeBackend(hold=True)
    async with running_server(backend) as server:
        client = await RawClient.connect(server.port)
        await client.send(encode_request(["BLPOP", "q", "0"]))
        with trio.fail_after(WAIT_S):
            await backend.wait_held(1)
            backend.store.write(lambda txn: txn.put(b"q", _list_of(b"x")))
            assert backend.release_uncertain(uncertain) == 1
            assert await client.replies(1) == b"-UNCERTAIN outcome unknown\r\n"
            await backend.wait_held(1)  # what puts it back
        backend.hold = False
        assert backend.release() == 1
        assert await client.call("LRANGE", "q", "0", "-1") == b"*1\r\n$1\r\nx\r\n"


@pytest.mark.parametrize("refusal", ["LOADING", "NOQUORUM"])
async def test_a_blocked_client_keeps_waiting_while_its_replica_proposes_nothing(
    refusal: str,
) -> None:
    """A replica stopped for long loads again before serving (``catch_up_again``), and one
    that hears from no majority refuses commands (``loop.quorum_silence``): an attempt it
    answers -LOADING or -NOQUORUM proposed nothing, so the client stays blocked, with no
    error, and is served by the first push once the replica serves again."""

    def refuse(backend: FakeBackend, on: bool) -> None:
        if refusal == "LOADING":
            backend.loading = on
        else:
            backend.refusal = no_quorum(2.5, 0, 1) if on else None

    async with running_server() as server:
        waiter, pusher = await RawClient.connect(server.port), await RawClient.connect(server.port)
        await waiter.send(encode_request(["BLPOP", "jobs", "0"]))
        await until_blocked(server, 1)
        refuse(server.backend, True)
        attempts = len(server.backend.submitted)
        server.registry.blocked.changed_all()  # a retry falls due meanwhile
        assert len(server.backend.submitted) == attempts + 1, "it was attempted..."
        assert len(server.registry.blocked) == 1, "...and the client still waits, no error"
        refuse(server.backend, False)
        assert await pusher.call("RPUSH", "jobs", "j1") == b":1\r\n"
        with trio.fail_after(WAIT_S):
            assert await waiter.replies(1) == b"*2\r\n$4\r\njobs\r\n$2\r\nj1\r\n"
        assert await pusher.call("LLEN", "jobs") == b":0\r\n"

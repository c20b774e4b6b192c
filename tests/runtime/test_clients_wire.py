"""The front end on the wire: exact bytes in, exact bytes out, over real sockets.

Expected replies were observed on redis-server 7.0.15 (ecosystem.md §1, §3).
"""

from __future__ import annotations

import os
import time

import pytest
import trio

from epaxosdb.runtime.backend import Client, OnReply
from epaxosdb.runtime.clients import ClientSettings
from epaxosdb.runtime.connection import Connection
from protocol.messages import Command
from protocol.replies import Error
from protocol.resp import encode_request
from tests.runtime.fakes import FakeBackend, RawClient, running_server

HELLO3 = (
    b"%%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n"
    b":3\r\n$2\r\nid\r\n:%d\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\n"
    b"master\r\n$7\r\nmodules\r\n*0\r\n"
)
HELLO2 = HELLO3.replace(b"%%7\r\n", b"*14\r\n").replace(b":3\r\n", b":2\r\n")


async def test_hello_replies_are_byte_exact_and_switch_the_protocol() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        client_id = int((await client.call("CLIENT", "ID"))[1:-2])
        assert await client.call("HELLO") == HELLO2 % client_id
        assert await client.call("HELLO", "3") == HELLO3 % client_id
        assert await client.call("GET", "missing") == b"_\r\n"
        assert await client.call("HELLO") == HELLO3 % client_id
        assert await client.call("HELLO", "2") == HELLO2 % client_id
        assert await client.call("GET", "missing") == b"$-1\r\n"


@pytest.mark.parametrize(
    ("args", "reply"),
    [
        (["HELLO", "4"], b"-NOPROTO unsupported protocol version\r\n"),
        (["HELLO", "1"], b"-NOPROTO unsupported protocol version\r\n"),
        (["HELLO", "x"], b"-ERR Protocol version is not an integer or out of range\r\n"),
        (["HELLO", "3", "FOO"], b"-ERR Syntax error in HELLO option 'FOO'\r\n"),
        (["HELLO", "3", "AUTH", "default"], b"-ERR Syntax error in HELLO option 'AUTH'\r\n"),
        (
            ["HELLO", "3", "SETNAME", "a b"],
            b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
        ),
        (["PING", "a", "b"], b"-ERR wrong number of arguments for 'ping' command\r\n"),
        (["SELECT", "1"], b"-ERR DB index is out of range\r\n"),
        (["SELECT", "x"], b"-ERR value is not an integer or out of range\r\n"),
        (["EXEC"], b"-ERR EXEC without MULTI\r\n"),
        (["DISCARD"], b"-ERR DISCARD without MULTI\r\n"),
        (
            ["AUTH", "x"],
            b"-ERR AUTH <password> called without any password configured for the default"
            b" user. Are you sure your configuration is correct?\r\n",
        ),
        (
            ["AUTH", "nobody", "x"],
            b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
        ),
        (["AUTH", "a", "b", "c"], b"-ERR syntax error\r\n"),
        (["CLIENT", "FOO"], b"-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n"),
        (["CLIENT", "ID", "x"], b"-ERR wrong number of arguments for 'client|id' command\r\n"),
        (
            ["FOO", "bar", "baz"],
            b"-ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' \r\n",
        ),
        (["SET", "k"], b"-ERR wrong number of arguments for 'set' command\r\n"),
    ],
)
async def test_connection_commands_answer_with_redis_error_texts(
    args: list[str], reply: bytes
) -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        assert await client.call(*args) == reply


async def test_ping_echo_select_and_inline_ping() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        assert await client.call("PING") == b"+PONG\r\n"
        assert await client.call("PING", "hi") == b"$2\r\nhi\r\n"
        assert await client.call("ECHO", b"\x00\xff") == b"$2\r\n\x00\xff\r\n"
        assert await client.call("SELECT", "0") == b"+OK\r\n"
        await client.send(b"PING\r\n")
        assert await client.replies(1) == b"+PONG\r\n"


async def test_pipelined_replies_come_back_in_request_order() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        requests = b"".join(encode_request(["INCR", "n"]) for _ in range(200))
        await client.send(requests + encode_request(["PING"]) + encode_request(["GET", "n"]))
        expected = b"".join(b":%d\r\n" % i for i in range(1, 201)) + b"+PONG\r\n$3\r\n200\r\n"
        assert await client.replies(202) == expected


async def test_a_pipelined_run_of_data_commands_is_one_command_with_a_reply_per_request() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        for warm_up in (["SET", "w", "0"], ["INCR", "w"], ["LPUSH", "l", "x"], ["GET", "w"]):
            await client.call(*warm_up)  # the first use of a command name takes the long way
        server.backend.submitted.clear()
        await client.send(
            encode_request(["SET", "a", "1"])
            + encode_request(["INCR", "a"])
            + encode_request(["SET", "b", "v", "EX", "0"])  # refused before proposal
            + encode_request(["LPUSH", "a", "x"])  # WRONGTYPE when it runs
            + encode_request(["GET", "a"])
            + encode_request(["PING"])
            + encode_request(["GET", "a"])
        )
        assert await client.replies(7) == (
            b"+OK\r\n:2\r\n-ERR invalid expire time in 'set' command\r\n"
            b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
            b"$1\r\n2\r\n+PONG\r\n$1\r\n2\r\n"
        )
        # A refused request or a connection command ends a run.
        assert [cmd.ops for cmd in server.backend.submitted] == [
            ((b"SET", b"a", b"1"), (b"INCR", b"a")),
            ((b"LPUSH", b"a", b"x"), (b"GET", b"a")),
            ((b"GET", b"a"),),
        ]
        assert [cmd.multi for cmd in server.backend.submitted] == [True, True, False]


async def test_one_error_for_a_pipelined_run_answers_every_request_of_it() -> None:
    uncertain = Error("UNCERTAIN outcome unknown")

    class Undecided(FakeBackend):
        def submit(
            self,
            cmd: Command,
            on_done: OnReply,
            on_late: OnReply | None = None,
            client: Client | None = None,
        ) -> None:
            self.submitted.append(cmd)
            on_done(uncertain)

    async with running_server(Undecided()) as server:
        client = await RawClient.connect(server.port)
        assert await client.call("INCR", "n") == b"-UNCERTAIN outcome unknown\r\n"
        server.backend.submitted.clear()
        await client.send(b"".join(encode_request(["INCR", "n"]) for _ in range(3)))
        assert await client.replies(3) == b"-UNCERTAIN outcome unknown\r\n" * 3
        assert len(server.backend.submitted) == 1


async def test_a_clock_step_back_does_not_give_a_later_command_an_earlier_timestamp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wall_ns = [5_000 * 10**6]
    monkeypatch.setattr(time, "time_ns", lambda: wall_ns[0])
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        for wall_ms in (5_000, 4_000, 6_000):
            wall_ns[0] = wall_ms * 10**6
            assert await client.call("INCR", "n") in (b":1\r\n", b":2\r\n", b":3\r\n")
        assert [cmd.time_ms for cmd in server.backend.submitted] == [5_000, 5_000, 6_000]


async def test_replies_keep_request_order_when_completions_arrive_reversed() -> None:
    backend = FakeBackend(hold=True)
    async with running_server(backend) as server:
        client = await RawClient.connect(server.port)
        await client.send(
            encode_request(["SET", "a", "1"])
            + encode_request(["PING"])
            + encode_request(["INCR", "a"])
            + encode_request(["ECHO", "x"])
            + encode_request(["GET", "a"])
        )
        with trio.fail_after(10):
            await backend.wait_held(3)
        assert backend.release(reverse=True) == 3
        assert await client.replies(5) == b"+OK\r\n+PONG\r\n:2\r\n$1\r\nx\r\n$1\r\n2\r\n"


async def test_a_hello_3_pipelined_behind_a_get_does_not_change_the_get_reply() -> None:
    backend = FakeBackend(hold=True)
    async with running_server(backend) as server:
        client = await RawClient.connect(server.port)
        await client.send(encode_request(["GET", "missing"]) + encode_request(["HELLO", "3"]))
        with trio.fail_after(10):
            await backend.wait_held(1)
        backend.release()
        replies = await client.replies(2)
        assert replies.startswith(b"$-1\r\n%7\r\n")


MALFORMED = [
    (b"*abc\r\n", b"invalid multibulk length"),
    (b"*2147483648\r\n", b"invalid multibulk length"),
    (b"*1\r\n$abc\r\n", b"invalid bulk length"),
    (b"*1\r\n$-5\r\n", b"invalid bulk length"),
    (b"*1\r\n$536870913\r\n", b"invalid bulk length"),
    (b"*1\r\n:5\r\n", b"expected '$', got ':'"),
    (b"x" * (64 * 1024 + 10), b"too big inline request"),
    (b"*" + b"1" * (64 * 1024 + 10), b"too big mbulk count string"),
    (b"*1\r\n$" + b"1" * (64 * 1024 + 10), b"too big bulk count string"),
    (b'SET "a b\r\n', b"unbalanced quotes in request"),
]


@pytest.mark.parametrize(("data", "text"), MALFORMED, ids=[t.decode() for _, t in MALFORMED])
async def test_malformed_input_gets_the_error_and_a_closed_connection_while_others_are_served(
    data: bytes, text: bytes
) -> None:
    async with running_server() as server:
        bystander = await RawClient.connect(server.port)
        assert await bystander.call("SET", "k", "v") == b"+OK\r\n"
        offender = await RawClient.connect(server.port)
        await offender.send(encode_request(["PING"]) + data)
        assert await offender.until_closed() == b"+PONG\r\n-ERR Protocol error: " + text + b"\r\n"
        assert await bystander.call("GET", "k") == b"$1\r\nv\r\n"


@pytest.mark.parametrize("data", [b"POST / HTTP/1.1\r\nHost: x\r\n\r\n", b"Host: example.com\r\n"])
async def test_http_requests_are_dropped_without_a_reply(data: bytes) -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        await client.send(data)
        assert await client.until_closed() == b""
        assert server.registry.statistics().connected_clients == 0


async def test_ignored_input_gets_no_reply() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        await client.send(b"\r\n*0\r\n*-1\r\n \r\n")
        assert await client.call("PING") == b"+PONG\r\n"


async def test_quit_replies_ok_then_closes_after_earlier_replies() -> None:
    async with running_server(FakeBackend()) as server:
        client = await RawClient.connect(server.port)
        await client.send(
            encode_request(["SET", "a", "1"]) + encode_request(["QUIT"]) + b"PING\r\n"
        )
        assert await client.until_closed() == b"+OK\r\n+OK\r\n"


async def test_end_of_input_still_gets_the_replies_already_requested() -> None:
    backend = FakeBackend(hold=True)
    async with running_server(backend) as server:
        client = await RawClient.connect(server.port)
        await client.send(encode_request(["SET", "a", "1"]))
        await client.stream.send_eof()
        with trio.fail_after(10):
            await backend.wait_held(1)
        backend.release()
        assert await client.until_closed() == b"+OK\r\n"


async def test_max_number_of_clients_reached() -> None:
    async with running_server(settings=ClientSettings(maxclients=2)) as server:
        first = await RawClient.connect(server.port)
        second = await RawClient.connect(server.port)
        assert await first.call("PING") == b"+PONG\r\n"
        assert await second.call("PING") == b"+PONG\r\n"
        third = await RawClient.connect(server.port)
        assert await third.until_closed() == b"-ERR max number of clients reached\r\n"
        assert server.registry.statistics().rejected_connections == 1
        await first.send(b"QUIT\r\n")
        assert await first.until_closed() == b"+OK\r\n"
        assert server.registry.statistics().connected_clients == 1
        fourth = await RawClient.connect(server.port)
        assert await fourth.call("PING") == b"+PONG\r\n"


async def test_loading_refuses_data_commands_but_answers_info() -> None:
    backend = FakeBackend(loading=True)
    async with running_server(backend) as server:
        client = await RawClient.connect(server.port)
        loading = b"-LOADING Redis is loading the dataset in memory\r\n"
        assert await client.call("GET", "k") == loading
        assert await client.call("PING") == loading  # PING is not allowed while loading
        assert b"loading:1\r\n" in await client.call("INFO", "persistence")
        backend.loading = False
        assert await client.call("GET", "k") == b"$-1\r\n"
        assert b"loading:0\r\n" in await client.call("INFO", "persistence")


async def test_client_reply_off_and_skip_silence_replies() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        await client.send(
            encode_request(["CLIENT", "REPLY", "OFF"])
            + encode_request(["SET", "a", "1"])
            + encode_request(["PING"])
            + encode_request(["CLIENT", "REPLY", "ON"])
            + encode_request(["CLIENT", "REPLY", "SKIP"])
            + encode_request(["PING"])
            + encode_request(["GET", "a"])
        )
        assert await client.replies(2) == b"+OK\r\n$1\r\n1\r\n"


async def test_reset_returns_the_connection_to_its_initial_state() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        await client.call("HELLO", "3", "SETNAME", "me")
        await client.call("MULTI")
        assert await client.call("RESET") == b"+RESET\r\n"
        assert await client.call("CLIENT", "GETNAME") == b"$-1\r\n"
        assert await client.call("EXEC") == b"-ERR EXEC without MULTI\r\n"
        assert await client.call("GET", "missing") == b"$-1\r\n"  # RESP2 again


NOAUTH = b"-NOAUTH Authentication required.\r\n"


async def test_a_password_is_required_before_commands_run() -> None:
    async with running_server(settings=ClientSettings(requirepass="s3cret")) as server:
        client = await RawClient.connect(server.port)
        assert await client.call("GET", "k") == NOAUTH
        assert await client.call("PING") == NOAUTH
        assert await client.call("FOO") == (
            b"-ERR unknown command 'FOO', with args beginning with: \r\n"
        )
        assert (await client.call("HELLO", "3")).startswith(b"-NOAUTH HELLO must be called")
        wrong = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
        assert await client.call("AUTH", "nope") == wrong
        assert await client.call("AUTH", "default", "nope") == wrong
        assert await client.call("AUTH", "s3cret") == b"+OK\r\n"
        assert await client.call("GET", "k") == b"$-1\r\n"
        assert await client.call("RESET") == b"+RESET\r\n"
        assert await client.call("GET", "k") == NOAUTH


async def test_hello_auth_authenticates_and_switches_protocol_at_once() -> None:
    async with running_server(settings=ClientSettings(requirepass="pw")) as server:
        client = await RawClient.connect(server.port)
        reply = await client.call("HELLO", "3", "AUTH", "default", "pw", "SETNAME", "app")
        assert reply.startswith(b"%7\r\n")
        assert await client.call("CLIENT", "GETNAME") == b"$3\r\napp\r\n"


async def test_unauthenticated_clients_meet_the_stricter_input_limits() -> None:
    async with running_server(settings=ClientSettings(requirepass="pw")) as server:
        client = await RawClient.connect(server.port)
        await client.send(b"*11\r\n")
        assert await client.until_closed() == (
            b"-ERR Protocol error: unauthenticated multibulk length\r\n"
        )
        client = await RawClient.connect(server.port)
        await client.send(b"*1\r\n$16385\r\n")
        assert await client.until_closed() == (
            b"-ERR Protocol error: unauthenticated bulk length\r\n"
        )
        client = await RawClient.connect(server.port)
        assert await client.call("AUTH", "pw") == b"+OK\r\n"
        assert await client.call("ECHO", "x" * 20000) == b"$20000\r\n" + b"x" * 20000 + b"\r\n"


async def test_config_set_requirepass_applies_to_new_connections() -> None:
    async with running_server() as server:
        admin = await RawClient.connect(server.port)
        assert await admin.call("CONFIG", "SET", "requirepass", "pw") == b"+OK\r\n"
        assert await admin.call("PING") == b"+PONG\r\n"  # already authenticated
        newcomer = await RawClient.connect(server.port)
        assert await newcomer.call("PING") == NOAUTH
        assert await admin.call("CONFIG", "SET", "requirepass", "") == b"+OK\r\n"
        assert await newcomer.call("PING") == b"+PONG\r\n"


async def test_closed_connections_leave_no_file_descriptors_behind() -> None:
    async with running_server() as server:
        warm = await RawClient.connect(server.port)
        assert await warm.call("PING") == b"+PONG\r\n"
        await warm.send(b"QUIT\r\n")
        await warm.until_closed()
        await warm.aclose()
        before = len(os.listdir("/proc/self/fd"))
        for _ in range(20):
            client = await RawClient.connect(server.port)
            assert await client.call("PING") == b"+PONG\r\n"
            await client.send(b"QUIT\r\n")
            assert await client.until_closed() == b"+OK\r\n"
            await client.aclose()
        assert len(os.listdir("/proc/self/fd")) == before
        assert server.registry.statistics().connected_clients == 0


class _FaultyBackend(FakeBackend):
    """Raises on ``GET boom`` and replies a value RESP cannot carry on ``GET odd``."""

    def submit(
        self,
        cmd: Command,
        on_done: OnReply,
        on_late: OnReply | None = None,
        client: Client | None = None,
    ) -> None:
        key = cmd.ops[0][1] if len(cmd.ops[0]) > 1 else b""
        if key == b"boom":
            raise RuntimeError("backend bug")
        if key == b"odd":
            on_done({"not": "a reply"})  # type: ignore[arg-type]
            return
        super().submit(cmd, on_done)


async def test_a_backend_bug_closes_that_connection_and_the_server_keeps_serving() -> None:
    async with running_server(_FaultyBackend()) as server:
        bystander = await RawClient.connect(server.port)
        victim = await RawClient.connect(server.port)
        await victim.send(encode_request(["GET", "boom"]))
        assert await victim.until_closed() == b""
        assert await bystander.call("PING") == b"+PONG\r\n"
        fresh = await RawClient.connect(server.port)
        assert await fresh.call("SET", "k", "v") == b"+OK\r\n"


async def test_an_unencodable_reply_becomes_an_error_reply() -> None:
    async with running_server(_FaultyBackend()) as server:
        client = await RawClient.connect(server.port)
        reply = await client.call("GET", "odd")
        assert reply.startswith(b"-ERR internal error")
        assert await client.call("PING") == b"+PONG\r\n"


async def test_a_bug_in_one_connection_closes_that_connection_not_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whatever escapes a connection's tasks is logged and ends that connection only."""
    original = Connection._write_loop

    async def broken_writer(self: Connection) -> None:
        raise RuntimeError("a planted bug")

    async with running_server() as server:
        monkeypatch.setattr(Connection, "_write_loop", broken_writer)
        doomed = await RawClient.connect(server.port)
        assert await doomed.until_closed() == b""
        monkeypatch.setattr(Connection, "_write_loop", original)
        client = await RawClient.connect(server.port)
        assert await client.call("PING") == b"+PONG\r\n"


async def test_a_storm_of_refused_clients_logs_a_few_lines_not_one_each(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """QA: 332 refused connections wrote 332 warnings."""
    async with running_server(settings=ClientSettings(maxclients=1)) as server:
        first = await RawClient.connect(server.port)
        assert await first.call("PING") == b"+PONG\r\n"
        for _ in range(25):
            extra = await RawClient.connect(server.port)
            assert await extra.until_closed() == b"-ERR max number of clients reached\r\n"
        assert server.registry.statistics().rejected_connections == 25
    lines = [r for r in caplog.records if "max number of clients" in r.getMessage()]
    assert len(lines) == 10

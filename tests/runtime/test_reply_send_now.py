"""Replies released in a batch (a consensus loop turn) go out from the releasing task.

The loop releases a turn's replies inside ``ClientRegistry.reply_batch``; at
its end each connection's new replies are handed to its socket in one
non-blocking send if the socket takes them all. Only what it does not take,
an error, or a connection that is closing wakes the connection's writer
task. These tests hold replies in the fake backend and release them from
the test task inside a batch, as the loop does, and check what the client
receives and which path the bytes took.
"""

from __future__ import annotations

import socket

import pytest
import trio
import trio.testing

from epaxosdb.runtime.clients import ClientSettings, SocketIO
from protocol.resp import encode_request
from tests.runtime.fakes import IO_TIMEOUT_S, RawClient, Server, running_server


class SendSpy:
    """Counts what ``SocketIO.try_send`` sent, to show which path the bytes took."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self.sent = 0
        original = SocketIO.try_send

        def spy(io: SocketIO, data: bytes | bytearray) -> int:
            n = original(io, data)
            self.calls += 1
            self.sent += n
            return n

        monkeypatch.setattr(SocketIO, "try_send", spy)


async def held(server: Server, client: RawClient, *requests: list[bytes | str]) -> None:
    server.backend.hold = True
    await client.send(b"".join(encode_request(r) for r in requests))
    with trio.fail_after(IO_TIMEOUT_S):
        await server.backend.wait_held(len(requests))


def release_as_the_loop_does(server: Server) -> None:
    with server.registry.reply_batch():
        server.backend.release()


async def test_a_batch_of_replies_goes_out_in_one_send_without_the_writer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spy = SendSpy(monkeypatch)
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        assert await client.call("SET", "k", "v") == b"+OK\r\n"
        await held(server, client, ["GET", "k"], ["INCR", "n"], ["GET", "missing"])
        calls, sent = spy.calls, spy.sent  # the SET's reply went from the reader
        release_as_the_loop_does(server)
        assert await client.replies(3) == b"$1\r\nv\r\n:1\r\n$-1\r\n"
    assert spy.calls - calls == 1 and spy.sent - sent == len(b"$1\r\nv\r\n:1\r\n$-1\r\n")


async def test_a_reply_larger_than_the_socket_takes_is_finished_by_the_writer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spy = SendSpy(monkeypatch)
    value = bytes(range(256)) * 12288  # 3 MiB: two are more than the socket buffers hold
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        assert await client.call("SET", "big", value) == b"+OK\r\n"
        await held(server, client, ["GET", "big"], ["GET", "big"])
        release_as_the_loop_does(server)  # the client reads nothing: the socket fills up
        expected = (b"$%d\r\n" % len(value) + value + b"\r\n") * 2
        assert await client.replies(2) == expected
    assert 0 < spy.sent < len(expected)  # part went at once, the writer sent the rest


async def test_a_connection_closing_after_quit_still_gets_its_held_reply_then_closes() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        await held(server, client, ["INCR", "n"])
        await client.send(encode_request(["QUIT"]))
        with trio.fail_after(IO_TIMEOUT_S):
            await trio.testing.wait_all_tasks_blocked()
        release_as_the_loop_does(server)
        assert await client.until_closed() == b":1\r\n+OK\r\n"


async def test_replies_released_after_the_client_left_are_dropped_quietly() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        await held(server, client, ["INCR", "n"], ["INCR", "n"])
        client.stream.socket.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
        )
        await client.aclose()  # a reset, not a clean close
        release_as_the_loop_does(server)  # must not raise into the releasing task
        other = await RawClient.connect(server.port)
        server.backend.hold = False
        assert await other.call("GET", "n") == b"$1\r\n2\r\n"


async def test_replies_completed_outside_a_batch_are_sent_by_the_writer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spy = SendSpy(monkeypatch)
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        await held(server, client, ["INCR", "n"], ["INCR", "n"])
        server.backend.release()
        assert await client.replies(2) == b":1\r\n:2\r\n"
    assert spy.calls == 0


async def test_a_reader_paused_on_pending_replies_resumes_when_a_batch_completes_them() -> None:
    """With CLIENT REPLY OFF the completed replies write nothing, so no send can be
    what wakes the reader: the completion itself must."""
    settings = ClientSettings(replies_pending_max=4)
    async with running_server(settings=settings) as server:
        client = await RawClient.connect(server.port)
        server.backend.hold = True
        off = encode_request(["CLIENT", "REPLY", "OFF"])
        await client.send(off + encode_request(["INCR", "n"]) * 10)
        released = 0
        with trio.fail_after(IO_TIMEOUT_S):
            while released < 10:
                await server.backend.wait_held(1)
                with server.registry.reply_batch():
                    released += server.backend.release()
        server.backend.hold = False
        await client.send(encode_request(["CLIENT", "REPLY", "ON"]))
        assert await client.replies(1) == b"+OK\r\n"
        assert await client.call("GET", "n") == b"$2\r\n10\r\n"

"""Slow and greedy clients only ever hurt themselves.

Each connection has its own reader and writer; a client that trickles its
request, or that sends without ever reading replies, costs those two tasks
and nothing else. The second case also shows the memory bound: past the
output buffer limit the client is closed instead of its replies queueing
without limit — while a client that reads only once it has sent everything
(redis-py's pipelines) is served in full.
"""

from __future__ import annotations

import contextlib
import socket

import trio
import trio.testing

from epaxosdb.runtime.clients import ClientRegistry, ClientSettings, handle_client
from protocol.resp import encode_request
from tests.runtime.fakes import FakeBackend, RawClient, running_server


async def test_a_client_sending_one_byte_at_a_time_does_not_stall_others() -> None:
    async with running_server() as server:
        slow = await RawClient.connect(server.port)
        fast = await RawClient.connect(server.port)
        request = encode_request(["SET", "slow", "done"])
        for position, byte in enumerate(request):
            await slow.send(bytes([byte]))
            assert await fast.call("INCR", "fast") == b":%d\r\n" % (position + 1)
        assert await slow.replies(1) == b"+OK\r\n"
        assert await fast.call("GET", "slow") == b"$4\r\ndone\r\n"


async def test_a_client_that_never_reads_is_closed_past_the_output_limit_and_others_are_served(
) -> None:  # fmt: skip
    settings = ClientSettings(output_buffer_max=256 * 1024, replies_pending_max=64)
    value = b"v" * 10_000
    async with running_server(settings=settings) as server:
        greedy = await RawClient.connect(server.port)
        polite = await RawClient.connect(server.port)
        assert await polite.call("SET", "big", value) == b"+OK\r\n"
        address = f"127.0.0.1:{greedy.stream.socket.getsockname()[1]}"
        flood = encode_request(["GET", "big"]) * 20_000  # about 200 MB of replies

        async with trio.open_nursery() as nursery:
            nursery.start_soon(_send_ignoring_close, greedy, flood)
            with trio.fail_after(20):
                while any(c.addr == address for c in server.registry.clients.values()):
                    for (connection,) in [
                        [c for c in server.registry.clients.values() if c.addr == address]
                    ]:
                        stats = connection.statistics()
                        assert stats.replies_pending <= settings.replies_pending_max
                        assert stats.input_buffered <= settings.receive_size
                    await trio.sleep(0.01)
            for number in range(1, 20):
                assert await polite.call("INCR", "polite") == b":%d\r\n" % number
            nursery.cancel_scope.cancel()


async def _send_ignoring_close(client: RawClient, data: bytes) -> None:
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        await client.stream.send_all(data)


async def test_a_client_that_sends_its_whole_pipeline_before_reading_gets_every_reply() -> None:
    """redis-py sends a pipeline in full, then reads. Pausing the reader while replies
    waited to be sent deadlocked it (a QA run: 150,000 commands in MULTI hung for good):
    the client waited to finish sending, the server waited for it to read."""
    count = 400_000
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):  # small buffers: no slack
            client.stream.setsockopt(socket.SOL_SOCKET, option, 64 * 1024)
        assert await client.call("SET", "v", "x" * 100) == b"+OK\r\n"
        reply = b"$100\r\n" + b"x" * 100 + b"\r\n"
        received = bytearray()
        with trio.fail_after(60):
            await client.stream.send_all(encode_request(["GET", "v"]) * count)
            while len(received) < count * len(reply):
                chunk = await client.stream.receive_some(1 << 20)
                assert chunk, "closed early"
                received += chunk
        assert received == reply * count


async def test_the_query_buffer_limit_closes_the_connection_without_a_reply() -> None:
    settings = ClientSettings(client_query_buffer_limit=1024 * 1024)
    async with running_server(settings=settings) as server:
        bystander = await RawClient.connect(server.port)
        greedy = await RawClient.connect(server.port)
        await greedy.send(b"*2\r\n$4\r\nECHO\r\n$2000000\r\n")
        with contextlib.suppress(trio.BrokenResourceError):  # it may close before the end
            await greedy.send(b"x" * (1024 * 1024 + 1))
        assert await greedy.until_closed() == b""
        assert await bystander.call("PING") == b"+PONG\r\n"


async def test_an_idle_client_is_closed_after_the_timeout(autojump_clock: trio.abc.Clock) -> None:
    registry = ClientRegistry(ClientSettings(timeout=30))
    client, server_side = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(handle_client, server_side, registry, FakeBackend())
        await client.send_all(encode_request(["PING"]))
        assert await client.receive_some(100) == b"+PONG\r\n"
        start = trio.current_time()
        assert await client.receive_some(100) == b""  # closed, with no reply
        assert trio.current_time() - start >= 30


async def test_a_client_waiting_for_a_reply_is_not_idle(autojump_clock: trio.abc.Clock) -> None:
    registry = ClientRegistry(ClientSettings(timeout=30))
    backend = FakeBackend(hold=True)
    client, server_side = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(handle_client, server_side, registry, backend)
        await client.send_all(encode_request(["SET", "k", "v"]))
        await backend.wait_held(1)
        await trio.sleep(120)
        backend.release()
        assert await client.receive_some(100) == b"+OK\r\n"
        nursery.cancel_scope.cancel()

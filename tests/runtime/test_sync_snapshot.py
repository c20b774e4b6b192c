"""SYNC's snapshot is streamed from a scratch file, not built in memory, and holds the
function libraries beside the keys.

The RDB a client gets from SYNC (``redis-cli --rdb``) is written to a
temporary file and sent from it a chunk at a time, so its size is bounded by
the disk, not by memory nor by the output buffer limit that caps a client's
unread replies: a snapshot many times that limit arrives whole, after
``$<size>``, and the connection closes once it is sent, the file with it.
"""

from __future__ import annotations

import os

import trio

from epaxosdb import rdb_file
from epaxosdb.commands.functions import encode_registry
from epaxosdb.runtime.clients import ClientSettings
from protocol.resp import encode_request
from tests.runtime.fakes import FakeBackend, RawClient, running_server

OUTPUT_LIMIT = 256 * 1024


async def _read_until_closed(client: RawClient) -> bytes:
    data = bytearray()
    with trio.fail_after(30):
        while chunk := await client.stream.receive_some(1 << 16):
            data += chunk
    return bytes(data)


async def test_a_snapshot_larger_than_the_output_limit_arrives_whole_and_then_the_connection_closes(
) -> None:  # fmt: skip
    backend = FakeBackend()
    settings = ClientSettings(output_buffer_max=OUTPUT_LIMIT)
    values = {b"key:%d" % i: os.urandom(10_000) for i in range(200)}  # 2 MB, random: no LZF
    async with running_server(backend, settings) as server:
        writer = await RawClient.connect(server.port)
        for key, value in values.items():
            assert await writer.call(b"SET", key, value) == b"+OK\r\n"
        syncer = await RawClient.connect(server.port)
        await syncer.send(
            encode_request([b"REPLCONF", b"rdb-only", b"1"])
            + encode_request([b"SYNC"])
            + encode_request([b"PING"])  # after SYNC: never read, as in Redis
        )
        data = await _read_until_closed(syncer)
        assert await writer.call(b"PING") == b"+PONG\r\n"  # the others go on
    assert data.startswith(b"+OK\r\n$")
    header_end = data.index(b"\r\n", 5)
    size = int(data[6:header_end])
    payload = data[header_end + 2 :]
    assert size == len(payload) > 4 * OUTPUT_LIMIT
    got = {entry.key for entry in rdb_file.read(payload, now_ms=0)}
    assert got == set(values)
    assert backend.scratch_files and all(f.closed for f in backend.scratch_files)


async def test_a_client_gone_before_its_snapshot_is_sent_leaves_no_file_open() -> None:
    backend = FakeBackend()
    async with running_server(backend) as server:
        writer = await RawClient.connect(server.port)
        assert await writer.call(b"SET", b"k", os.urandom(100_000)) == b"+OK\r\n"
        syncer = await RawClient.connect(server.port)
        await syncer.send(
            encode_request([b"REPLCONF", b"rdb-only", b"1"]) + encode_request([b"SYNC"])
        )
        await syncer.stream.aclose()
        with trio.fail_after(10):
            while not (backend.scratch_files and all(f.closed for f in backend.scratch_files)):  # noqa: ASYNC110 (a worker thread closes it: no event)
                await trio.sleep(0.01)
        assert await writer.call(b"PING") == b"+PONG\r\n"


async def test_a_snapshot_holds_the_function_libraries_before_the_keys() -> None:
    backend = FakeBackend()
    code = b"#!lua name=mylib\nredis.register_function('f', function(keys, args) return 1 end)"
    backend.store.write(lambda txn: txn.set_functions(encode_registry({b"mylib": code})))
    async with running_server(backend) as server:
        writer = await RawClient.connect(server.port)
        assert await writer.call(b"SET", b"k", b"v") == b"+OK\r\n"
        syncer = await RawClient.connect(server.port)
        await syncer.send(
            encode_request([b"REPLCONF", b"rdb-only", b"1"]) + encode_request([b"SYNC"])
        )
        data = await _read_until_closed(syncer)
    payload = data[data.index(b"\r\n", 5) + 2 :]
    items = list(rdb_file.read(payload, now_ms=0))
    assert items[0] == rdb_file.Library(code)
    assert [item.key for item in items[1:] if isinstance(item, rdb_file.Entry)] == [b"k"]

"""``SocketIO.hung_up``: whether a client has left, asked of the socket without reading.

A blocking pop's reply uses it to tell a client that hung up in the same
scheduler pass from one that is still there (``Connection._hung_up_on``).
"""

from __future__ import annotations

import socket

import trio

from epaxosdb.runtime.clients import SocketIO


async def _pair() -> tuple[SocketIO, socket.socket, trio.SocketStream]:
    ours, theirs = trio.socket.socketpair()
    stream = trio.SocketStream(ours)
    peer = socket.socket(fileno=theirs.detach())
    return SocketIO(stream), peer, stream


async def test_a_connected_client_has_not_hung_up_and_what_it_sent_stays_readable() -> None:
    io, peer, stream = await _pair()
    try:
        assert not io.hung_up()
        peer.sendall(b"PING\r\n")
        assert not io.hung_up()
        with trio.fail_after(5):
            assert await io.receive(100) == b"PING\r\n"
    finally:
        io.close()
        await stream.aclose()
        peer.close()


async def test_a_client_that_closed_or_shut_its_side_has_hung_up() -> None:
    for leave in (socket.socket.close, lambda s: s.shutdown(socket.SHUT_WR)):
        io, peer, stream = await _pair()
        try:
            leave(peer)
            assert io.hung_up()
        finally:
            io.close()
            await stream.aclose()
            peer.close()

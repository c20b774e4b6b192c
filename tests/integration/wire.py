"""What the wire tests that send the same requests to redis-server and to a replica share."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from tests.redis_server import Parsed, RawConnection, parse_reply


def request_id(request: tuple[bytes, ...]) -> str:
    """A parametrized test's id: the request as typed."""
    return " ".join(arg.decode() for arg in request)


def plain(reply: Parsed) -> object:
    """A parsed reply as Python values: lists, ints and bytes."""
    if isinstance(reply.value, list):
        return [plain(item) for item in reply.value]
    if reply.kind == ":":
        assert isinstance(reply.value, bytes)
        return int(reply.value)
    return reply.value


def config_map(conn: RawConnection, pattern: bytes) -> dict[object, object]:
    """CONFIG GET as a map: Redis lists parameters in its dict's order."""
    reply = plain(parse_reply(conn.call(b"CONFIG", b"GET", pattern))[0])
    assert isinstance(reply, list)
    return dict(zip(reply[::2], reply[1::2], strict=True))


@contextmanager
def redis_and_replica(
    redis_port: int, replica_port: int, restore: Sequence[tuple[bytes, ...]]
) -> Iterator[list[RawConnection]]:
    """A connection to each, both sent ``restore`` afterwards (settings a test changed)."""
    conns = [RawConnection(redis_port), RawConnection(replica_port, timeout_s=15.0)]
    try:
        yield conns
    finally:
        for conn in conns:
            for request in restore:
                conn.call(*request)
            conn.close()


def read_until(sock: socket.socket, ending: bytes) -> bytes:
    """Raw bytes from ``sock`` until they end with ``ending`` (10 s at most; a close
    before that fails)."""
    data = b""
    deadline = time.monotonic() + 10
    while not data.endswith(ending):
        assert time.monotonic() < deadline, data
        chunk = sock.recv(65536)
        assert chunk, f"closed after {data!r}"
        data += chunk
    return data

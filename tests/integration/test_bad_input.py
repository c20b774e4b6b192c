"""Whatever a client sends over a real socket, the replica answers like Redis and keeps serving.

Each malformed request of ecosystem.md §3 is sent to a real replica and to
a real redis-server; the bytes that come back and whether the connection
is then closed must be the same (Redis replies, then closes, on every
protocol error). Headers that announce huge requests must not make the
replica allocate (its RSS, read from /proc, stays small); a client that
dribbles a byte a second must not hold up anyone else; and a bystander
client doing SET/GET in a thread for the whole module must never see an
error. A second ``serve`` on the replica's data dir must be refused (exit
code 2, a message naming the holder) while the first keeps serving.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
import redis

from tests.integration.cluster import ProcessCluster, wait_until
from tests.redis_server import RedisServer

READ_TIMEOUT_S = 5.0
BIG = 70_000
"""Beyond Redis's 64 KB PROTO_INLINE_MAX_SIZE for a line without a newline."""

CLOSING: dict[str, bytes] = {
    "multibulk length not a number": b"*abc\r\n",
    "multibulk length over INT_MAX": b"*2147483648\r\n",
    "bulk length not a number": b"*1\r\n$abc\r\n",
    "negative bulk length": b"*1\r\n$-5\r\n",
    "bulk length over proto-max-bulk-len": b"*1\r\n$2147483648\r\n",
    "integer where a bulk is expected": b"*1\r\n:5\r\n",
    "inline request without newline": b"a" * BIG,
    "multibulk count without newline": b"*" + b"1" * BIG,
    "bulk count without newline": b"*1\r\n$" + b"1" * BIG,
    "unbalanced quotes inline": b'SET "a b\r\n',
    "HTTP POST (cross-protocol)": b"POST / HTTP/1.1\r\n",
    "HTTP Host header (cross-protocol)": b"Host: example.com\r\n",
    "good request then a bad one": b"PING\r\n*1\r\n:5\r\nPING\r\n",
}
"""Requests after which Redis closes the connection (after an error reply, or silently)."""

TOLERATED: dict[str, bytes] = {
    "empty and null multibulks, empty lines": b"*0\r\n*-1\r\n\r\n\r\nPING\r\n",
    "inline quoting": b'SET "a b" "c d"\r\nGET "a b"\r\nDEL "a b"\r\n',
    "binary-safe bulk strings": b"*3\r\n$3\r\nSET\r\n$3\r\nb\x00\xff\r\n$4\r\n\x00\r\n\xff\r\n"
    b"*2\r\n$3\r\nGET\r\n$3\r\nb\x00\xff\r\n*2\r\n$3\r\nDEL\r\n$3\r\nb\x00\xff\r\n",
}
"""Requests Redis serves or ignores; a QUIT is appended so both servers close afterwards."""


def exchange(port: int, data: bytes) -> tuple[bytes, str]:
    """Send ``data``; return everything received and how the connection ended."""
    with socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT_S) as s:
        try:
            s.sendall(data)
        except OSError as exc:
            return b"", f"send failed: {exc!r}"
        received = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return received, "closed"
                received += chunk
        except TimeoutError:
            return received, "still open"
        except ConnectionResetError:
            return received, "closed"


class Bystander:
    """A well-behaved client doing SET/GET in a thread; every reply must be right."""

    def __init__(self, cluster: ProcessCluster) -> None:
        self.client = cluster.client(1, socket_timeout=10.0)
        self.done = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._seen = 0

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            try:
                self.client.set("bystander", i)
                value = self.client.get("bystander")
                if value != str(i).encode():
                    self.errors.append(f"GET after SET {i} returned {value!r}")
            except redis.RedisError as exc:
                self.errors.append(repr(exc))
                time.sleep(0.1)
            self.done += 1
            i += 1

    def check_progress(self, at_least: int = 20) -> None:
        """The bystander completed ``at_least`` more round trips, all correct (bounded wait)."""
        target = self._seen + at_least
        wait_until(lambda: self.done >= target or bool(self.errors), 30, "bystander progress")
        assert not self.errors, self.errors[:5]
        self._seen = self.done

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
        assert not self._thread.is_alive()


@pytest.fixture(scope="module")
def bystander(cluster1: ProcessCluster) -> Iterator[Bystander]:
    b = Bystander(cluster1)
    try:
        yield b
    finally:
        b.stop()
    assert not b.errors, b.errors[:5]


@pytest.mark.parametrize("name", sorted(CLOSING))
def test_malformed_requests_get_redis_error_and_a_closed_connection(
    cluster1: ProcessCluster, redis_server: RedisServer, bystander: Bystander, name: str
) -> None:
    theirs = exchange(redis_server.port, CLOSING[name])
    ours = exchange(cluster1.port(1), CLOSING[name])
    assert theirs[1] == "closed", f"redis-server did not close after {name}: {theirs}"
    assert ours == theirs
    bystander.check_progress()


@pytest.mark.parametrize("name", sorted(TOLERATED))
def test_tolerated_inputs_are_served_like_redis(
    cluster1: ProcessCluster, redis_server: RedisServer, bystander: Bystander, name: str
) -> None:
    data = TOLERATED[name] + b"QUIT\r\n"
    theirs = exchange(redis_server.port, data)
    ours = exchange(cluster1.port(1), data)
    assert theirs[0].endswith(b"+OK\r\n") and theirs[1] == "closed", theirs
    assert ours == theirs
    bystander.check_progress()


@pytest.mark.parametrize(
    "header",
    [b"*100000000\r\n", b"*1\r\n$2147483648\r\n", b"*2\r\n$3\r\nGET\r\n$536870912\r\nabc"],
    ids=["100M-element multibulk", "2 GB bulk (refused)", "512 MB bulk (allowed), 3 bytes sent"],
)
def test_headers_announcing_huge_requests_do_not_make_the_replica_allocate(
    cluster1: ProcessCluster, bystander: Bystander, header: bytes
) -> None:
    connections = 20
    rss_before = cluster1.rss_kb(1)
    sockets = [
        socket.create_connection(("127.0.0.1", cluster1.port(1))) for _ in range(connections)
    ]
    try:
        for s in sockets:
            s.sendall(header)
        bystander.check_progress()  # the replica has since read and parsed what we sent
        rss_peak = max(rss_before, cluster1.rss_kb(1))
        for _ in range(10):
            rss_peak = max(rss_peak, cluster1.rss_kb(1))
            time.sleep(0.05)
    finally:
        for s in sockets:
            s.close()
    grown_mb = (rss_peak - rss_before) / 1024
    assert grown_mb < 50, (
        f"{connections} connections sending {header[:40]!r} grew RSS {grown_mb:.0f} MB"
    )
    bystander.check_progress()


def test_a_client_sending_one_byte_a_second_does_not_stall_others(
    cluster1: ProcessCluster, bystander: Bystander
) -> None:
    request = b"*3\r\n$3\r\nSET\r\n$4\r\nslow\r\n$5\r\nvalue\r\n"
    dribbled = 6
    other = cluster1.client(1)
    with socket.create_connection(("127.0.0.1", cluster1.port(1)), timeout=15) as slow:
        before = bystander.done
        served_meanwhile = 0
        for byte in request[:dribbled]:
            slow.sendall(bytes([byte]))
            started = time.monotonic()
            while time.monotonic() - started < 1.0:
                assert other.incr("while-slow") > 0
                served_meanwhile += 1
        slow.sendall(request[dribbled:])
        assert slow.recv(64) == b"+OK\r\n"
    assert other.get("slow") == b"value"
    assert served_meanwhile >= 10 * dribbled, served_meanwhile
    assert bystander.done - before >= 10 * dribbled
    bystander.check_progress()


def test_a_second_serve_on_the_same_data_dir_is_refused_while_the_first_serves(
    cluster1: ProcessCluster, bystander: Bystander
) -> None:
    first_pid = cluster1.replicas[1].pid
    second = subprocess.run(cluster1.serve_command(1), capture_output=True, timeout=60, check=False)
    assert second.returncode == 2, second
    message = second.stderr.decode()
    assert "another epaxosdb process is using data dir" in message, message
    assert f"pid {first_pid}" in message, message
    assert cluster1.replicas[1].running
    assert cluster1.client(1).ping() is True
    bystander.check_progress()

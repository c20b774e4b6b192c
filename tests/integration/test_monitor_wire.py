"""MONITOR over the wire: a running replica against redis-server.

One client runs the same commands on both servers while another monitors;
the monitor's lines must be the same once each line's timestamp and client
address (each server's own) are cut off: which commands show, in what order,
quoted and redacted the same way.
"""

from __future__ import annotations

import re
import socket
import time

import pytest

from epaxosdb.runtime.monitor import quoted
from tests.integration.cluster import ProcessCluster
from tests.redis_server import RawConnection, RedisServer

LINE = re.compile(rb"^\+(\d+\.\d{6}) \[0 127\.0\.0\.1:\d+\] (.*)$")
SCRIPT: list[tuple[bytes, ...]] = [
    (b"SET", b"mon a", b'x"y\n\x01\xff'),
    (b"MULTI",),
    (b"SET", b"mon:n", b"1"),
    (b"INCR", b"mon:n"),
    (b"EXEC",),
    (b"CONFIG", b"GET", b"maxclients"),  # admin: not shown
    (b"CLIENT", b"LIST"),  # admin: not shown
    (b"CLIENT", b"SETNAME", b"watched"),
    (b"HELLO", b"2", b"AUTH", b"default", b"secret"),  # passwords redacted
    (b"AUTH", b"secret"),
    (b"PING",),
    (b"EVALSHA", b"abc", b"0"),
    (b"GET", b"mon a"),
    (b"NOSUCH", b"x"),  # never runs: not shown
]


def monitored_lines(port: int) -> list[bytes]:
    watcher = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        watcher.sendall(b"MONITOR\r\n")
        assert watcher.recv(5) == b"+OK\r\n"
        client = RawConnection(port, timeout_s=15.0)
        for request in SCRIPT:
            client.call(*request)
        client.close()
        watcher.sendall(b"PING\r\n")  # its own PING is shown after all of the above
        data = b""
        deadline = time.monotonic() + 10
        # Redis shows a command once it ran, so its PONG comes first; a replica shows
        # it as it is dispatched, so the line comes first: either way, wait for both
        # (the client's PING is the first "PING" line, the watcher's the second).
        while data.count(b'"PING"\r\n') < 2 or b"+PONG\r\n" not in data:
            assert time.monotonic() < deadline, data
            data += watcher.recv(65536)
        watcher.sendall(b"GET x\r\n")
        refused = watcher.recv(100)
        assert refused == b"-ERR Replica can't interact with the keyspace\r\n"
    finally:
        watcher.close()
    lines = [ln for ln in data.split(b"\r\n") if ln and ln != b"+PONG"]
    out = []
    for ln in lines:
        match = LINE.match(ln)
        assert match is not None, ln
        out.append(match.group(2))
    return out


def test_monitor_shows_what_redis_shows(
    redis_server: RedisServer, cluster1: ProcessCluster
) -> None:
    theirs = monitored_lines(redis_server.port)
    ours = monitored_lines(cluster1.port(1))
    assert ours == theirs
    assert theirs[0] == b'"SET" "mon a" "x\\"y\\n\\x01\\xff"'
    assert b'"HELLO" "2" "AUTH" "(redacted)" "(redacted)"' in theirs
    assert theirs[-1] == b'"PING"'


@pytest.mark.parametrize(
    ("arg", "text"),
    [
        (b"plain", b'"plain"'),
        (b'a"b\\c', b'"a\\"b\\\\c"'),
        (b"\t\r\n\x07\x08\x7f", b'"\\t\\r\\n\\a\\b\\x7f"'),
    ],
)
def test_arguments_are_quoted_as_redis_quotes_them(arg: bytes, text: bytes) -> None:
    assert quoted(arg) == text

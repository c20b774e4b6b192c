"""Subscribers over the wire, against redis-server: what Redis exempts them from.

A subscriber (RESP2 or RESP3) and a monitor are never closed for idleness by
``timeout``; a subscription's confirmation is sent even with CLIENT REPLY OFF
(both found by running Redis's own test suite against a replica).
"""

from __future__ import annotations

import socket
import time

import pytest

from tests.integration.cluster import ProcessCluster
from tests.integration.wire import read_until
from tests.redis_server import RawConnection, RedisServer

IDLE_S = 2.5


def set_timeout(ports: tuple[int, ...], seconds: bytes) -> None:
    for port in ports:
        conn = RawConnection(port, timeout_s=15.0)
        try:
            assert conn.call(b"CONFIG", b"SET", b"timeout", seconds) == b"+OK\r\n"
        finally:
            conn.close()


@pytest.mark.parametrize(
    "opening", [b"SUBSCRIBE ch\r\n", b"HELLO 3\r\nSUBSCRIBE ch\r\n", b"MONITOR\r\n"]
)
def test_subscribers_and_monitors_outlive_the_idle_timeout(
    redis_server: RedisServer, cluster1: ProcessCluster, opening: bytes
) -> None:
    ports = (redis_server.port, cluster1.port(1))
    set_timeout(ports, b"1")
    watchers = [socket.create_connection(("127.0.0.1", port), timeout=10) for port in ports]
    try:
        for watcher in watchers:
            watcher.sendall(opening)
            read_until(watcher, b"\r\n:1\r\n" if b"SUBSCRIBE" in opening else b"+OK\r\n")
        time.sleep(IDLE_S)  # past the timeout, twice over
        for watcher in watchers:
            watcher.sendall(b"PING\r\n")
            data = read_until(watcher, b"\r\n")
            assert b"pong" in data.lower(), data
    finally:
        set_timeout(ports, b"0")  # new connections: the old ones may have timed out
        for watcher in watchers:
            watcher.close()


@pytest.mark.parametrize("hello", [b"", b"HELLO 3\r\n"])
def test_subscription_confirmations_are_sent_with_client_reply_off(
    redis_server: RedisServer, cluster1: ProcessCluster, hello: bytes
) -> None:
    confirmations = []
    for port in (redis_server.port, cluster1.port(1)):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            if hello:
                sock.sendall(hello)
                read_until(sock, b"modules\r\n*0\r\n")  # the end of HELLO's map
            sock.sendall(b"CLIENT REPLY OFF\r\nSUBSCRIBE a b\r\nUNSUBSCRIBE a\r\n")
            confirmations.append(read_until(sock, b"$1\r\na\r\n:1\r\n"))
    theirs, ours = confirmations
    assert ours == theirs
    assert theirs.count(b"subscribe") == 3

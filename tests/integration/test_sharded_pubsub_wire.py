"""Sharded pub/sub over the wire, against redis-server 7.0.15: the same bytes, RESP2 and RESP3.

Each scenario is a transcript of two connections to one server, a subscriber
and a publisher: the same requests go to redis-server and to a replica, and
every reply, confirmation and message must be byte for byte the same. Channel
names differ per scenario and protocol, so that a connection of an earlier
test that the replica has not yet forgotten cannot show in PUBSUB's answers.
A scenario lists at most one shard channel where Redis answers in its hash
table's order (SUNSUBSCRIBE of every channel, PUBSUB SHARDCHANNELS): ours is
subscription order.
"""

from __future__ import annotations

import socket
import time

import pytest

from tests.integration.cluster import ProcessCluster
from tests.integration.wire import read_until
from tests.redis_server import RawConnection, RedisServer, encode_request

Step = tuple[str, tuple[bytes, ...], int]
"""Who sends (``sub`` or ``pub``), the request (empty: only read), how many replies follow."""


def transcript(port: int, protocol: int, steps: list[Step]) -> list[bytes]:
    """What each step read back, on fresh connections to the server on ``port``."""
    conns = {who: RawConnection(port, timeout_s=15.0) for who in ("sub", "pub")}
    try:
        if protocol == 3:
            for conn in conns.values():
                conn.hello(3)
        read: list[bytes] = []
        for who, request, count in steps:
            conn = conns[who]
            if request:
                conn.sock.sendall(encode_request(request))
            read.append(b"".join(conn.read_raw() for _ in range(count)))
        return read
    finally:
        for conn in conns.values():
            conn.close()


def same_as_redis(
    redis_server: RedisServer, cluster1: ProcessCluster, protocol: int, steps: list[Step]
) -> list[bytes]:
    theirs = transcript(redis_server.port, protocol, steps)
    ours = transcript(cluster1.port(1), protocol, steps)
    for step, their_bytes, our_bytes in zip(steps, theirs, ours, strict=True):
        assert our_bytes == their_bytes, step
    return theirs


def _names(protocol: int, scenario: str) -> tuple[bytes, bytes]:
    return f"{scenario}{protocol}".encode(), f"{scenario}{protocol}-other".encode()


@pytest.mark.parametrize("protocol", [2, 3])
def test_confirmations_and_messages_match_redis(
    redis_server: RedisServer, cluster1: ProcessCluster, protocol: int
) -> None:
    ch, other = _names(protocol, "shard-msgs")
    steps: list[Step] = [
        ("sub", (b"SUNSUBSCRIBE",), 1),
        ("sub", (b"SUNSUBSCRIBE", ch, other), 2),
        ("sub", (b"SSUBSCRIBE", ch, ch), 2),
        ("sub", (b"SUBSCRIBE", ch), 1),
        ("sub", (b"PSUBSCRIBE", ch + b"*"), 1),
        ("sub", (b"PING",), 1),
        ("sub", (b"PING", b"hi"), 1),
        ("sub", (b"GET", b"shard-wire-none"), 1),
        ("sub", (b"SPUBLISH", ch, b"from-a-subscriber"), 1),
        ("pub", (b"SPUBLISH", ch, b"sharded"), 1),
        ("pub", (b"PUBLISH", ch, b"plain"), 1),
        ("pub", (b"SPUBLISH", other, b"nobody"), 1),
        ("sub", (), 3),
        ("pub", (b"PUBSUB", b"SHARDCHANNELS", ch[:6] + b"*"), 1),
        ("pub", (b"PUBSUB", b"SHARDNUMSUB", ch, other), 1),
        ("pub", (b"PUBSUB", b"SHARDNUMSUB"), 1),
        ("pub", (b"PUBSUB", b"NUMSUB", ch), 1),
        ("sub", (b"UNSUBSCRIBE",), 1),
        ("sub", (b"PUNSUBSCRIBE",), 1),
        ("sub", (b"GET", b"shard-wire-none"), 1),
        ("sub", (b"SUNSUBSCRIBE",), 1),
        ("sub", (b"GET", b"shard-wire-none"), 1),
        ("pub", (b"PUBSUB", b"SHARDCHANNELS", ch[:6] + b"*"), 1),
    ]
    replies = same_as_redis(redis_server, cluster1, protocol, steps)
    assert replies[2].count(b"ssubscribe") == 2
    assert b"smessage" in replies[12] and b"nobody" not in replies[12]
    if protocol == 2:
        assert replies[7].startswith(b"-ERR Can't execute 'get'")


@pytest.mark.parametrize("protocol", [2, 3])
@pytest.mark.parametrize("watch", [False, True])
def test_a_transaction_refuses_ssubscribe_and_runs_spublish_as_redis_does(
    redis_server: RedisServer, cluster1: ProcessCluster, protocol: int, watch: bool
) -> None:
    ch, _ = _names(protocol, f"shard-multi-{watch}")
    steps: list[Step] = [
        *([("sub", (b"WATCH", b"shard-wire-watched"), 1)] if watch else []),
        ("sub", (b"MULTI",), 1),
        ("sub", (b"SSUBSCRIBE", ch), 1),
        ("sub", (b"SPUBLISH", ch, b"x"), 1),
        ("sub", (b"SUNSUBSCRIBE", ch), 1),
        ("sub", (b"SUNSUBSCRIBE",), 1),
        ("sub", (b"EXEC",), 1),
        ("sub", (b"GET", b"shard-wire-none"), 1),
    ]
    replies = same_as_redis(redis_server, cluster1, protocol, steps)
    assert b"DENY BLOCKING" in replies[-2]


@pytest.mark.parametrize("protocol", [2, 3])
def test_client_reply_off_reset_and_client_list_as_redis_does(
    redis_server: RedisServer, cluster1: ProcessCluster, protocol: int
) -> None:
    ch, other = _names(protocol, "shard-off")
    steps: list[Step] = [
        ("sub", (b"CLIENT", b"REPLY", b"OFF"), 0),
        ("sub", (b"SSUBSCRIBE", ch, other), 2),
        ("sub", (b"SUNSUBSCRIBE", ch), 1),
        ("sub", (b"SUNSUBSCRIBE",), 1),  # RESP2: CLIENT REPLY ON is refused while subscribed
        ("sub", (b"PING",), 0),
        ("sub", (b"CLIENT", b"REPLY", b"ON"), 1),
        ("sub", (b"SSUBSCRIBE", ch), 1),
        ("sub", (b"RESET",), 1),
        ("sub", (b"GET", b"shard-wire-none"), 1),
        ("pub", (b"SPUBLISH", ch, b"after-reset"), 1),
        ("pub", (b"PUBSUB", b"SHARDNUMSUB", ch, other), 1),
    ]
    replies = same_as_redis(redis_server, cluster1, protocol, steps)
    assert replies[-2] == b":0\r\n"
    for port in (redis_server.port, cluster1.port(1)):
        with RawConnection(port, timeout_s=15.0) as sub, RawConnection(port) as admin:
            sub.call_many([(b"SSUBSCRIBE", ch), (b"SSUBSCRIBE", other)])
            listing = admin.call(b"CLIENT", b"LIST", b"TYPE", b"pubsub")
            assert b" flags=P" in listing and b" sub=0 psub=0 ssub=2 " in listing


def test_shard_subscribers_outlive_the_idle_timeout(
    redis_server: RedisServer, cluster1: ProcessCluster
) -> None:
    ports = (redis_server.port, cluster1.port(1))
    for port in ports:
        with RawConnection(port, timeout_s=15.0) as conn:
            assert conn.call(b"CONFIG", b"SET", b"timeout", b"1") == b"+OK\r\n"
    watchers = [socket.create_connection(("127.0.0.1", port), timeout=10) for port in ports]
    try:
        for watcher in watchers:
            watcher.sendall(b"SSUBSCRIBE shard-idle\r\n")
            read_until(watcher, b"\r\n:1\r\n")
        time.sleep(2.5)  # past the timeout, twice over
        for watcher in watchers:
            watcher.sendall(b"PING\r\n")
            assert read_until(watcher, b"\r\n\r\n") == b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"
    finally:
        for port in ports:  # new connections: the old ones may have timed out
            with RawConnection(port, timeout_s=15.0) as conn:
                conn.call(b"CONFIG", b"SET", b"timeout", b"0")
        for watcher in watchers:
            watcher.close()

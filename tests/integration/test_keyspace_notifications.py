"""Keyspace notifications of the generic and expired classes, compared with redis-server.

The same commands go to one epaxosdb replica and to a real Redis, each with
``notify-keyspace-events`` set to ``KEgx`` and a client subscribed to every
keyspace and keyevent channel: the two must deliver the same messages in the
same order (a PUBLISH to a channel of the test's own marks the end). The
classes epaxosdb does not deliver are refused by CONFIG SET, not accepted
silently.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import redis

from tests.integration.cluster import ProcessCluster
from tests.redis_server import RedisServer
from tests.redis_server import redis_server as redis_server

END = "end-of-commands"


def _commands(client: redis.Redis) -> None:
    """Commands that cause generic and expired events, and some that cause none."""
    run = client.execute_command
    for args in (
        ("SET", "a", "1"),
        ("DEL", "a", "missing", "a"),
        ("SET", "a", "1", "EX", "100"),
        ("SETEX", "b", "100", "v"),
        ("EXPIRE", "a", "200"),
        ("EXPIRE", "a", "300", "NX"),
        ("PEXPIREAT", "missing", "1"),
        ("PERSIST", "b"),
        ("PERSIST", "b"),
        ("EXPIRE", "a", "0"),
        ("RENAME", "b", "c"),
        ("RENAMENX", "c", "c"),
        ("COPY", "c", "d"),
        ("GETDEL", "d"),
        ("GETEX", "c", "EX", "100"),
        ("GETEX", "c", "PERSIST"),
        ("GETEX", "c", "PERSIST"),
        ("SET", "f", "v", "NX", "EX", "10"),
        ("SET", "f", "v", "NX", "EX", "10"),
        ("SET", "f", "w", "XX", "PX", "10000"),
        ("SET", "f", "x", "KEEPTTL"),
        ("RPUSH", "l", "x", "y"),
        ("LPOP", "l", "2"),
        ("SADD", "s", "m"),
        ("SPOP", "s"),
        ("HSET", "h", "f", "v"),
        ("HDEL", "h", "f"),
        ("ZADD", "z", "1", "m"),
        ("ZPOPMIN", "z"),
        ("SADD", "t", "m"),
        ("SINTERSTORE", "t", "nothing", "t"),
        ("SET", "e", "1", "PX", "30"),
    ):
        run(*args)
    time.sleep(0.3)
    run("EXISTS", "e")  # expired by now (by this, or by the expiry sweep before it)
    dumped = client.dump("c")
    run("RESTORE", "r", "0", dumped)
    run("RESTORE", "r", "0", dumped, "REPLACE")
    pipe = client.pipeline(transaction=True)
    pipe.delete("r")
    pipe.execute_command("SET", "m", "1", "EX", "50")
    pipe.execute_command("EXPIRE", "m", "-1")
    pipe.execute()
    run("SET", "x", "1", "PX", "30")
    time.sleep(0.3)
    run("SET", "x", "2")  # overwrites an expired key: Redis first says it expired
    client.publish(END, "")


class _Listener:
    """A client subscribed to every keyspace and keyevent channel and to ``END``."""

    def __init__(self, client: redis.Redis) -> None:
        self._pubsub = client.pubsub()
        self._pubsub.psubscribe("__key*__:*")
        self._pubsub.subscribe(END)
        for _ in range(2):
            assert self._pubsub.get_message(timeout=5.0) is not None  # the subscriptions

    def until_end(self) -> list[tuple[bytes, bytes]]:
        """``(channel, message)`` of every event delivered before ``END``."""
        messages: list[tuple[bytes, bytes]] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            message = self._pubsub.get_message(timeout=1.0)
            if message is None:
                continue
            if message["channel"] == END.encode():
                self._pubsub.close()
                return messages
            messages.append((message["channel"], message["data"]))
        pytest.fail("the end-of-commands message never came")


def _events(client: redis.Redis) -> list[tuple[bytes, bytes]]:
    assert client.config_set("notify-keyspace-events", "KEgx")
    assert client.config_get("notify-keyspace-events") == {"notify-keyspace-events": "gxKE"}
    listener = _Listener(client)
    _commands(client)
    messages = listener.until_end()
    client.config_set("notify-keyspace-events", "")
    return messages


def test_generic_and_expired_events_are_redis_s(
    cluster1: ProcessCluster, redis_server: RedisServer
) -> None:
    ours = _events(cluster1.client(1, socket_timeout=30))
    theirs = _events(redis.Redis(port=redis_server.port, socket_timeout=30))
    assert ours == theirs
    assert (b"__keyevent@0__:expired", b"e") in ours
    assert (b"__keyevent@0__:rename_from", b"b") in ours


def test_classes_that_are_not_delivered_are_refused(cluster1: ProcessCluster) -> None:
    client = cluster1.client(1)
    for flags in ("KEA", "K$", "El", "Kn"):
        with pytest.raises(redis.ResponseError, match="not supported"):
            client.config_set("notify-keyspace-events", flags)
    with pytest.raises(redis.ResponseError, match="Invalid event class character"):
        client.config_set("notify-keyspace-events", "KEq")
    assert client.config_get("notify-keyspace-events") == {"notify-keyspace-events": ""}


def test_every_replica_delivers_the_same_events_in_the_same_order(
    make_cluster: Callable[[int], ProcessCluster],
) -> None:
    """Events are caused where commands execute: on every replica, in the one order of
    execution, whichever replica the commands went through."""
    cluster = make_cluster(3)
    listeners = []
    for i in (1, 3):
        client = cluster.client(i, socket_timeout=30)
        assert client.config_set("notify-keyspace-events", "Egx")
        listeners.append(_Listener(client))
    writer = cluster.client(2, socket_timeout=30)
    for n in range(20):
        writer.set(f"k{n}", "v", px=50 if n % 2 else None)
        writer.delete(f"k{n - 1}")
    time.sleep(0.2)
    # The last key has expired: a read through replica 2 finds it so on every replica
    # (its handler runs there only; the others settle what it names).
    assert writer.exists("k19") == 0
    writer.publish(END, "")
    seen = [listener.until_end() for listener in listeners]
    assert seen[0] == seen[1]
    events = [channel.rsplit(b":", 1)[1] for channel, _ in seen[0]]
    assert events.count(b"del") == 19 and events.count(b"expire") == 10
    assert seen[0][-1] == (b"__keyevent@0__:expired", b"k19")


def test_a_key_nobody_reads_is_heard_expired_when_the_sweep_deletes_it(
    cluster1: ProcessCluster,
) -> None:
    client = cluster1.client(1, socket_timeout=30)
    assert client.config_set("notify-keyspace-events", "Ex")
    pubsub = client.pubsub()
    pubsub.subscribe("__keyevent@0__:expired")
    assert pubsub.get_message(timeout=5.0) is not None
    client.set("unread", "v", px=100)
    deadline = time.monotonic() + 10
    message = None
    while message is None and time.monotonic() < deadline:
        message = pubsub.get_message(timeout=1.0)
    pubsub.close()
    client.config_set("notify-keyspace-events", "")
    assert message is not None and message["data"] == b"unread"

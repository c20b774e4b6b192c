"""Sharded pub/sub across replicas: SPUBLISH through one replica reaches SSUBSCRIBE-rs on all.

SPUBLISH is replicated like PUBLISH and every replica delivers it to its own
shard subscribers as it executes it; SPUBLISHes to one channel interfere, so
every replica delivers them in one order. Two publishers race on one shard
channel, through replicas 1 and 3; SSUBSCRIBE-rs on replicas 2 and 3 (and 1)
must receive every message, all in the same sequence, and a SUBSCRIBE-r and a
PSUBSCRIBE-r of the same name none of them (a separate namespace, as in a
standalone Redis).
"""

from __future__ import annotations

import threading
import time

import redis

from tests.integration.cluster import ProcessCluster

MESSAGES_PER_PUBLISHER = 200
RECEIVE_S = 60.0


def _spublish(client: redis.Redis, name: str, errors: list[BaseException]) -> None:
    try:
        for i in range(MESSAGES_PER_PUBLISHER):
            client.spublish("shard-race", f"{name}:{i}")
    except BaseException as exc:  # handed to the test thread, which fails on it
        errors.append(exc)


def _subscribed(pubsub: redis.client.PubSub, kind: str) -> redis.client.PubSub:
    message = pubsub.get_message(timeout=5.0)
    assert message is not None and message["type"] == kind, message
    return pubsub


def test_spublish_through_one_replica_reaches_shard_subscribers_everywhere_in_one_order(
    cluster3: ProcessCluster,
) -> None:
    shard_subscribers = []
    for i in (1, 2, 3):
        pubsub = cluster3.client(i, socket_timeout=None).pubsub()
        pubsub.ssubscribe("shard-race")
        shard_subscribers.append(_subscribed(pubsub, "ssubscribe"))
    plain = cluster3.client(2, socket_timeout=None).pubsub()
    plain.subscribe("shard-race")
    _subscribed(plain, "subscribe")
    plain.psubscribe("shard-*")
    _subscribed(plain, "psubscribe")

    errors: list[BaseException] = []
    publishers = [
        threading.Thread(target=_spublish, args=(cluster3.client(i), f"p{i}", errors))
        for i in (1, 3)
    ]
    for thread in publishers:
        thread.start()
    for thread in publishers:
        thread.join(timeout=120)
    assert not errors, errors
    assert cluster3.client(1).publish("shard-race", "plain") == 0  # replica 2's, not 1's
    assert cluster3.client(2).spublish("shard-race", "last") == 1  # replica 2's shard one

    total = 2 * MESSAGES_PER_PUBLISHER + 1
    received = [_messages(pubsub, "smessage", total) for pubsub in shard_subscribers]
    for got in received:
        assert sorted(got) == sorted(
            [f"p{i}:{n}".encode() for i in (1, 3) for n in range(MESSAGES_PER_PUBLISHER)]
            + [b"last"]
        )
        # Each publisher's own messages keep the order it sent them in.
        for i in (1, 3):
            mine = [m for m in got if m.startswith(f"p{i}:".encode())]
            assert mine == [f"p{i}:{n}".encode() for n in range(MESSAGES_PER_PUBLISHER)]
        assert got[-1] == b"last"
    assert received[0] == received[1] == received[2]
    # The SUBSCRIBE-r and the PSUBSCRIBE-r got PUBLISH's message, and nothing before it.
    assert [(m["type"], m["data"]) for m in _all(plain, 2)] == [
        ("message", b"plain"), ("pmessage", b"plain")
    ]
    for pubsub in (*shard_subscribers, plain):
        pubsub.close()


def _all(pubsub: redis.client.PubSub, count: int) -> list[dict[str, object]]:
    """The next ``count`` messages of any type (fewer if they do not come in time)."""
    got: list[dict[str, object]] = []
    deadline = time.monotonic() + RECEIVE_S
    while len(got) < count and time.monotonic() < deadline:
        item = pubsub.get_message(timeout=1.0)
        if item is not None:
            got.append(item)
    return got


def _messages(pubsub: redis.client.PubSub, kind: str, count: int) -> list[bytes]:
    """The bodies of the next ``count`` messages, each of type ``kind``."""
    bodies: list[bytes] = []
    for item in _all(pubsub, count):
        assert item["type"] == kind, item
        data = item["data"]
        assert isinstance(data, bytes), item
        bodies.append(data)
    return bodies

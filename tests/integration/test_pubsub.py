"""Pub/sub across replicas: subscribers anywhere get what is published anywhere, in one order.

PUBLISH goes through the log and every replica delivers it to its own
subscribers as it executes; PUBLISHes to one channel interfere, so every
replica executes — and delivers — them in the same order. Two publishers on
two replicas race on one channel; a subscriber on each of the three replicas
must receive every message, and all three the same sequence.
"""

from __future__ import annotations

import threading
import time

import redis

from tests.integration.cluster import ProcessCluster

MESSAGES_PER_PUBLISHER = 200
RECEIVE_S = 60.0


def _publish(client: redis.Redis, name: str, errors: list[BaseException]) -> None:
    try:
        for i in range(MESSAGES_PER_PUBLISHER):
            client.publish("race", f"{name}:{i}")
    except BaseException as exc:  # handed to the test thread, which fails on it
        errors.append(exc)


def test_subscribers_on_every_replica_receive_one_channel_in_one_order(
    cluster3: ProcessCluster,
) -> None:
    subscribers = []
    for i in cluster3:
        pubsub = cluster3.client(i, socket_timeout=None).pubsub()
        pubsub.subscribe("race")
        assert pubsub.get_message(timeout=5.0)["type"] == "subscribe"
        subscribers.append(pubsub)
    errors: list[BaseException] = []
    publishers = [
        threading.Thread(target=_publish, args=(cluster3.client(i), f"p{i}", errors))
        for i in (2, 3)
    ]
    for thread in publishers:
        thread.start()
    for thread in publishers:
        thread.join(timeout=120)
    assert not errors, errors
    total = 2 * MESSAGES_PER_PUBLISHER
    received = [_messages(pubsub, total) for pubsub in subscribers]
    for got in received:
        assert sorted(got) == sorted(
            f"p{i}:{n}".encode() for i in (2, 3) for n in range(MESSAGES_PER_PUBLISHER)
        )
        # Each publisher's own messages keep the order it sent them in.
        for i in (2, 3):
            mine = [m for m in got if m.startswith(f"p{i}:".encode())]
            assert mine == [f"p{i}:{n}".encode() for n in range(MESSAGES_PER_PUBLISHER)]
    assert received[0] == received[1] == received[2]
    for pubsub in subscribers:
        pubsub.close()


def test_publish_counts_the_subscribers_of_the_replica_it_went_through(
    cluster3: ProcessCluster,
) -> None:
    here = cluster3.client(1, socket_timeout=None).pubsub()
    here.psubscribe("count*")
    assert here.get_message(timeout=5.0)["type"] == "psubscribe"
    elsewhere = cluster3.client(2, socket_timeout=None).pubsub()
    elsewhere.subscribe("counted")
    assert elsewhere.get_message(timeout=5.0)["type"] == "subscribe"
    assert cluster3.client(1).publish("counted", "x") == 1
    assert cluster3.client(2).publish("counted", "y") == 1
    assert cluster3.client(3).publish("counted", "z") == 0
    assert _messages(here, 3) == [b"x", b"y", b"z"]
    assert _messages(elsewhere, 3) == [b"x", b"y", b"z"]
    here.close()
    elsewhere.close()


def _messages(pubsub: redis.client.PubSub, count: int) -> list[bytes]:
    """The bodies of the next ``count`` messages (fewer if they do not come in time)."""
    got: list[bytes] = []
    deadline = time.monotonic() + RECEIVE_S
    while len(got) < count and time.monotonic() < deadline:
        item = pubsub.get_message(timeout=1.0)
        if item is not None and item["type"] in ("message", "pmessage"):
            got.append(item["data"])
    return got


"""Keyspace notifications of seeded random command sequences, compared with redis-server.

The random command generator of the differential tests (strings, lists,
sets, hashes, sorted sets, expiries, renames, copies, wrong types, bad
arguments) drives one epaxosdb replica and a real Redis, each with every
event class on and a client subscribed to every keyspace and keyevent
channel: both must deliver the same messages in the same order, step by
step (a PUBLISH to a channel of the test's own follows each command). Where
README's keyspace-notifications row says they differ, the sequence avoids
it: absolute deadlines are never in the past (a SET or GETEX whose deadline
has passed is heard ``expired`` at once here, only when next found in
Redis). A command answered WRONGTYPE is heard too: the ``keymiss`` events of
the keys it looked up before the one of the wrong type, and of none after
it. Rerun one seed with ``EPAXOSDB_NOTIFY_SEED=<seed>``.
"""

from __future__ import annotations

import os
import time

import pytest
import redis

from storage.interface import ValueType
from tests.commands.differential import NON_STRING_SETUP
from tests.commands.test_differential_random import Generator
from tests.integration.cluster import ProcessCluster
from tests.redis_server import RedisServer
from tests.redis_server import redis_server as redis_server

SEEDS = [int(s) for s in os.environ.get("EPAXOSDB_NOTIFY_SEED", "1 2").split()]
STEPS = 800
FLAGS = "KEAmn"


class FutureDeadlines(Generator):
    """The generator, with every absolute deadline in the future (see the docstring)."""

    def absolute_seconds(self, past_allowed: bool) -> bytes:
        return super().absolute_seconds(False)

    def absolute_ms(self, past_allowed: bool) -> bytes:
        return super().absolute_ms(False)


STEP = "end-of-step"
Events = list[tuple[bytes, bytes]]


def _listen(client: redis.Redis) -> redis.client.PubSub:
    pubsub = client.pubsub()
    pubsub.psubscribe("__key*__:*")
    pubsub.subscribe(STEP)
    for _ in range(2):
        assert pubsub.get_message(timeout=5.0) is not None  # the subscriptions
    return pubsub


def _events_by_step(pubsub: redis.client.PubSub) -> list[Events]:
    """Every step's ``(channel, message)`` events, up to its ``STEP`` message."""
    steps: list[Events] = [[]]
    deadline = time.monotonic() + 60
    while len(steps) <= STEPS:
        assert time.monotonic() < deadline, f"only {len(steps) - 1} steps were heard"
        message = pubsub.get_message(timeout=1.0)
        if message is None:
            continue
        if message["channel"] == STEP.encode():
            steps.append([])
        else:
            steps[-1].append((message["channel"], message["data"]))
    pubsub.close()
    return steps[:STEPS]


def _run(client: redis.Redis, seed: int) -> tuple[list[Events], list[object]]:
    """The events of each step of ``seed``'s sequence, and its replies (errors as their
    code)."""
    client.flushall()
    assert client.config_set("notify-keyspace-events", FLAGS)
    pubsub = _listen(client)
    generator = FutureDeadlines(seed)
    replies: list[object] = []
    for _ in range(STEPS):
        mode, args = generator.request()
        if mode == "inject":
            key, kind = args[1], ValueType(int(args[2]))
            client.delete(key)
            args = [key if part == b"<key>" else part for part in NON_STRING_SETUP[kind]]
        try:
            reply: object = client.execute_command(*args)
            replies.append(reply if mode == "exact" else mode)  # others: order-free
        except redis.ResponseError as error:
            replies.append(str(error).split(" ", 1)[0])
        client.publish(STEP, "")
    events = _events_by_step(pubsub)
    client.config_set("notify-keyspace-events", "")
    return events, replies


@pytest.mark.parametrize("seed", SEEDS)
def test_random_sequences_are_heard_as_redis_says_them(
    cluster1: ProcessCluster, redis_server: RedisServer, seed: int
) -> None:
    ours, our_replies = _run(cluster1.client(1, socket_timeout=30), seed)
    theirs, their_replies = _run(redis.Redis(port=redis_server.port, socket_timeout=30), seed)
    for step, (a, b) in enumerate(zip(our_replies, their_replies, strict=True)):
        assert a == b, f"seed {seed} step {step + 1}: replies differ ({a!r}, Redis {b!r})"
    for step, (mine, redis_s, reply) in enumerate(zip(ours, theirs, our_replies, strict=True)):
        assert mine == redis_s, (
            f"seed {seed} step {step + 1} ({reply!r}): heard {mine!r}, Redis says {redis_s!r}"
        )
    assert sum(map(len, ours)) > STEPS // 2  # the sequence does cause events

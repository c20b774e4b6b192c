"""Blocking pops across replicas: a job queue whose workers sit on different replicas.

Consumers block in BRPOP (no timeout) on all three replicas while producers
push through all three. Each pop is an attempt decided by the replicated
log, so every element must reach exactly one consumer — none twice (two
replicas both handing out one element), none lost, none left behind — and a
consumer woken on one replica by a push made through another is what the
consensus loop's report of written keys is for.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

import redis

from tests.integration.cluster import ProcessCluster

CONSUMERS_PER_REPLICA = 3
JOBS = 300
JOIN_S = 120.0
STOP = b"stop"


def _consume(client: redis.Redis, got: list[bytes], errors: list[BaseException]) -> None:
    try:
        while True:
            reply = client.brpop(["jobs"], timeout=0)
            assert reply is not None and reply[0] == b"jobs", reply
            if reply[1] == STOP:
                return
            got.append(reply[1])
    except BaseException as exc:  # handed to the test thread, which fails on it
        errors.append(exc)


def test_every_pushed_element_reaches_exactly_one_blocked_consumer(
    cluster3: ProcessCluster,
) -> None:
    # No socket timeout: a consumer waits as long as the queue is empty.
    consumers = [
        cluster3.client(i, socket_timeout=None)
        for i in cluster3
        for _ in range(CONSUMERS_PER_REPLICA)
    ]
    got: list[list[bytes]] = [[] for _ in consumers]
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=_consume, args=(client, mine, errors))
        for client, mine in zip(consumers, got, strict=True)
    ]
    for thread in threads:
        thread.start()
    producers = [cluster3.client(i) for i in cluster3]
    for n in range(JOBS):
        producers[n % len(producers)].lpush("jobs", f"job{n}")
    for n in range(len(consumers)):
        producers[n % len(producers)].lpush("jobs", STOP)
    for thread in threads:
        thread.join(timeout=JOIN_S)
    assert not any(thread.is_alive() for thread in threads), "a consumer never got its stop"
    assert not errors, errors
    delivered = [job for mine in got for job in mine]
    assert sorted(delivered) == sorted(f"job{n}".encode() for n in range(JOBS))
    assert all(client.llen("jobs") == 0 for client in producers)
    assert sum(1 for mine in got if mine) > 1, "one consumer took everything"


def test_a_consumer_that_disconnects_while_blocked_takes_nothing_with_it(
    cluster3: ProcessCluster,
) -> None:
    waiting = cluster3.client(1, socket_timeout=None)
    ready = threading.Event()

    def block() -> None:
        ready.set()
        with contextlib.suppress(redis.ConnectionError):  # closed under it by the test
            waiting.blpop(["gone"], timeout=0)

    thread = threading.Thread(target=block)
    thread.start()
    ready.wait(10)
    probe = cluster3.client(1)
    _until(lambda: probe.info("clients")["blocked_clients"] == 1)
    waiting.connection_pool.disconnect()
    thread.join(timeout=10)
    _until(lambda: probe.info("clients")["blocked_clients"] == 0)
    cluster3.client(2).rpush("gone", "kept")
    assert probe.blpop(["gone"], timeout=1) == (b"gone", b"kept")


def _until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)

"""Lists used as queues under faults: Jepsen's total-queue workload and check.

Producer threads RPUSH unique items onto two lists and consumer threads LPOP
them (one to three at a time), each through its own replica with retries off,
while the nemesis runs (``test_linearizability_faults`` runs this workload
beside its own); then every list is drained through each replica in turn.
The check allows indeterminate operations either outcome (``faults``):

* every item popped was pushed (acknowledged or not), and popped once;
* every acknowledged push was popped, except as many items as the
  indeterminate pops could have taken unseen (each up to its count).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import partial

from tests.integration.cluster import ProcessCluster
from tests.integration.faults import (
    CLIENT_TIMEOUT_S,
    SEED,
    SERVE_AGAIN_S,
    attempt,
    worker_threads,
)

QUEUES = [b"queue:0", b"queue:1"]
PRODUCERS = 2
CONSUMERS = 2
DRAIN_BATCH = 100


@dataclass
class QueueRun:
    """What the producers and consumers saw."""

    acked: set[bytes] = field(default_factory=set)
    unsure_pushes: set[bytes] = field(default_factory=set)
    popped: Counter[bytes] = field(default_factory=Counter)
    unsure_pop_items: int = 0
    """How many items the indeterminate pops could have taken (their counts summed)."""
    outcomes: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def producer(cluster: ProcessCluster, run: QueueRun, who: int, stop: threading.Event) -> None:
    rng = random.Random(SEED * 10 + who)
    client = cluster.client(1 + who % 3, socket_timeout=CLIENT_TIMEOUT_S)
    n = 0
    while not stop.is_set():
        n += 1
        item = b"p%d-%d" % (who, n)
        outcome, _ = attempt(partial(client.rpush, rng.choice(QUEUES), item))
        with run.lock:
            run.outcomes[f"push {outcome}"] += 1
            if outcome == "ok":
                run.acked.add(item)
            elif outcome == "unsure":
                run.unsure_pushes.add(item)
        if outcome != "ok":
            stop.wait(0.05)


def consumer(cluster: ProcessCluster, run: QueueRun, who: int, stop: threading.Event) -> None:
    rng = random.Random(SEED * 10 + 5 + who)
    client = cluster.client(1 + (who + 1) % 3, socket_timeout=CLIENT_TIMEOUT_S)
    while not stop.is_set():
        count = rng.randint(1, 3)
        outcome, reply = attempt(partial(client.lpop, rng.choice(QUEUES), count))
        record(run, outcome, reply, count)
        if outcome != "ok" or not reply:
            stop.wait(0.02)


def record(run: QueueRun, outcome: str, reply: object, count: int) -> None:
    with run.lock:
        run.outcomes[f"pop {outcome}"] += 1
        if outcome == "unsure":
            run.unsure_pop_items += count
        elif outcome == "ok" and reply:
            assert isinstance(reply, list), reply
            run.popped.update(reply)


def drain(cluster: ProcessCluster, run: QueueRun) -> None:
    """Pop what is left, through each replica in turn, until every list is empty."""
    for i in cluster:
        cluster.wait_serving(i, SERVE_AGAIN_S)
    clients = [cluster.client(i, socket_timeout=CLIENT_TIMEOUT_S) for i in cluster]
    deadline = time.monotonic() + SERVE_AGAIN_S
    for queue in QUEUES:
        turn = 0
        while True:
            assert time.monotonic() < deadline, "the lists did not drain"
            client = clients[turn % len(clients)]
            turn += 1
            outcome, reply = attempt(partial(client.lpop, queue, DRAIN_BATCH))
            record(run, outcome, reply, DRAIN_BATCH)
            if outcome == "ok" and not reply:
                break
    for client in clients:
        for queue in QUEUES:
            assert client.llen(queue) == 0, queue


def violations(run: QueueRun) -> list[str]:
    """What the total-queue check finds wrong with ``run`` (nothing: an empty list)."""
    found = []
    twice = sorted(item for item, times in run.popped.items() if times > 1)
    if twice:
        found.append(f"delivered more than once: {twice[:10]}")
    phantoms = sorted(set(run.popped) - run.acked - run.unsure_pushes)
    if phantoms:
        found.append(f"popped but never pushed: {phantoms[:10]}")
    lost = sorted(run.acked - set(run.popped))
    if len(lost) > run.unsure_pop_items:
        found.append(
            f"{len(lost)} acknowledged pushes never popped, more than the "
            f"{run.unsure_pop_items} items indeterminate pops could have taken: {lost[:10]}"
        )
    return found


def workers(
    cluster: ProcessCluster, run: QueueRun, stop: threading.Event
) -> list[threading.Thread]:
    """The producer and consumer threads, not started, that run until ``stop``."""
    return worker_threads(cluster, run, stop, (producer, PRODUCERS), (consumer, CONSUMERS))

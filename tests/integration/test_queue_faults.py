"""Lists used as queues on a real 3-replica cluster under faults: nothing acknowledged is
lost, nothing is delivered twice, nothing appears that was never pushed.

Producer threads RPUSH unique items onto two lists and consumer threads LPOP
them (one to three at a time), each through its own replica with retries off,
while the nemesis of ``test_linearizability_faults`` kills and restarts,
stops and continues, or wipes and rebuilds one replica at a time. Then every
list is drained through each replica in turn. The check is Jepsen's total
queue, with indeterminate operations (a broken connection, a timeout,
``-UNCERTAIN``) allowed either outcome:

* every item popped was pushed (acknowledged or not), and popped once;
* every acknowledged push was popped, except as many items as the
  indeterminate pops could have taken unseen (each up to its count).

A second test shows the check can fail: a duplicated delivery and a lost
item spliced into the recorded run are both reported.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import pytest
import redis

from tests.integration.cluster import ProcessCluster
from tests.integration.test_linearizability_faults import (
    CLIENT_TIMEOUT_S,
    DEFINITE_FAILURES,
    SEED,
    SERVE_AGAIN_S,
    _refused,
    nemesis,
)
from tests.integration.test_linearizability_faults import cluster3 as cluster3

QUEUES = [b"queue:0", b"queue:1"]
PRODUCERS = 3
CONSUMERS = 3
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


def _attempt(action: Callable[[], object]) -> tuple[str, object]:
    """Run one command: ``("ok", reply)``, ``("failed", None)`` when it certainly did not
    happen, ``("unsure", None)`` when it may have."""
    try:
        return "ok", action()
    except redis.BusyLoadingError:
        return "failed", None
    except redis.ResponseError as exc:
        if str(exc).startswith(DEFINITE_FAILURES):
            return "failed", None
        if str(exc).startswith("UNCERTAIN"):
            return "unsure", None
        raise
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        return ("failed" if _refused(exc) else "unsure"), None


def producer(cluster: ProcessCluster, run: QueueRun, who: int, stop: threading.Event) -> None:
    rng = random.Random(SEED * 10 + who)
    client = cluster.client(1 + who % 3, socket_timeout=CLIENT_TIMEOUT_S)
    n = 0
    while not stop.is_set():
        n += 1
        item = b"p%d-%d" % (who, n)
        outcome, _ = _attempt(partial(client.rpush, rng.choice(QUEUES), item))
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
        outcome, reply = _attempt(partial(client.lpop, rng.choice(QUEUES), count))
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
            outcome, reply = _attempt(partial(client.lpop, queue, DRAIN_BATCH))
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


@pytest.fixture(scope="module")
def queue_run(cluster3: ProcessCluster) -> tuple[QueueRun, list[str]]:
    run = QueueRun()
    faults: list[str] = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=producer, args=(cluster3, run, who, stop), daemon=True)
        for who in range(PRODUCERS)
    ] + [
        threading.Thread(target=consumer, args=(cluster3, run, who, stop), daemon=True)
        for who in range(CONSUMERS)
    ]
    for t in threads:
        t.start()
    try:
        nemesis(cluster3, faults)
    finally:
        stop.set()
        for t in threads:
            t.join(CLIENT_TIMEOUT_S + 10)
    assert not any(t.is_alive() for t in threads), "a client thread did not stop"
    drain(cluster3, run)
    return run, faults


def test_queues_under_kills_and_pauses_lose_and_repeat_nothing(
    queue_run: tuple[QueueRun, list[str]],
) -> None:
    run, faults = queue_run
    context = f"seed {SEED} (EPAXOSDB_NEMESIS_SEED), faults {faults}, outcomes {run.outcomes}"
    assert len(run.acked) > 200 and len(run.popped) > 200, context
    assert violations(run) == [], context
    print(context)


def test_the_queue_check_reports_a_duplicate_and_a_loss(
    queue_run: tuple[QueueRun, list[str]],
) -> None:
    run, _ = queue_run
    item = next(iter(run.popped))
    twice = QueueRun(set(run.acked), set(run.unsure_pushes), run.popped + Counter([item]))
    assert any("more than once" in v for v in violations(twice))
    unpopped = run.popped.copy()
    missing = len(run.acked - set(run.popped))
    for lost in sorted(run.acked & set(run.popped))[: run.unsure_pop_items + 1 - missing]:
        del unpopped[lost]
    loss = QueueRun(set(run.acked), set(run.unsure_pushes), unpopped, run.unsure_pop_items)
    assert any("never popped" in v for v in violations(loss))
    phantom = QueueRun(set(run.acked), set(run.unsure_pushes), run.popped + Counter([b"ghost"]))
    assert any("never pushed" in v for v in violations(phantom))

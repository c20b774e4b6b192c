"""redis-py's ``transaction()`` against real replica processes: WATCH loses no update.

``transaction(fn, "counter")`` is the check-and-set loop clients build on
WATCH: WATCH the key, GET it, MULTI, SET it to the value plus one, EXEC, and
start again when EXEC answers null. Three such loops, one per replica of a
3-replica cluster, race a plain INCR loop on the same key. If any EXEC ran
after another write to the key slipped in between its GET and itself, an
increment would be lost and the final count would be short.

A barrier makes the race certain rather than likely: each loop's first
attempt reads the key before any of them writes, so all three read the same
value, and at most one of those attempts can commit; the test asserts that
the others were retried.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from redis.client import Pipeline

from tests.integration.cluster import ProcessCluster

REPLICAS = 3
TRANSACTIONS_PER_CLIENT = 40
INCREMENTS = 100
JOIN_TIMEOUT_S = 180.0
BARRIER_TIMEOUT_S = 60.0
SAME_DATA_TIMEOUT_S = 30.0


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[ProcessCluster]:
    """A private 3-replica cluster, stopped (by PID) when the test ends."""
    started = ProcessCluster.start(REPLICAS, tmp_path, cluster_settings={"secret": "watch-tests"})
    try:
        yield started
    except BaseException:
        print(started.logs())  # shown by pytest with the failure
        raise
    finally:
        started.close()


def run_threads(targets: list[Callable[[], None]]) -> list[BaseException]:
    """Run the callables in threads, join them (bounded) and return what they raised."""
    errors: list[BaseException] = []

    def wrap(target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except BaseException as exc:  # reported by the test
                errors.append(exc)

        return run

    threads = [threading.Thread(target=wrap(t), daemon=True) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT_S)
        assert not t.is_alive(), "a client thread did not finish in time"
    return errors


def test_transaction_loops_racing_an_incrementer_lose_no_update(
    cluster: ProcessCluster,
) -> None:
    key = "counter"
    assert cluster.client(1).set(key, 0) is True
    barrier = threading.Barrier(REPLICAS + 1)
    attempts = [0] * REPLICAS

    def transaction_loop(index: int) -> Callable[[], None]:
        r = cluster.client(index + 1, protocol=3 if index == 0 else 2)

        def increment(pipe: Pipeline) -> None:
            attempts[index] += 1
            value = int(pipe.get(key))  # type: ignore[arg-type]  # immediate after WATCH
            if attempts[index] == 1:
                barrier.wait(BARRIER_TIMEOUT_S)
            pipe.multi()
            pipe.set(key, value + 1)

        def run() -> None:
            for _ in range(TRANSACTIONS_PER_CLIENT):
                assert r.transaction(increment, key) == [True]

        return run

    def incrementer() -> None:
        r = cluster.client(2)
        barrier.wait(BARRIER_TIMEOUT_S)
        for _ in range(INCREMENTS):
            r.incr(key)

    errors = run_threads([*(transaction_loop(i) for i in range(REPLICAS)), incrementer])
    assert errors == []
    expected = REPLICAS * TRANSACTIONS_PER_CLIENT + INCREMENTS
    for i in cluster:
        assert cluster.client(i).get(key) == str(expected).encode()
    retries = sum(attempts) - REPLICAS * TRANSACTIONS_PER_CLIENT
    assert retries >= REPLICAS - 1, attempts  # the barrier made the first attempts collide
    cluster.wait_same_data(SAME_DATA_TIMEOUT_S)


def test_exec_on_one_replica_sees_a_write_made_through_another(
    cluster: ProcessCluster,
) -> None:
    """The check runs in the agreed order, not against the watching replica's local view."""
    watcher, other = cluster.client(1), cluster.client(3)
    watcher.set("cross", "0")
    with watcher.pipeline(transaction=True) as pipe:
        pipe.watch("cross")
        assert pipe.get("cross") == b"0"
        other.set("cross", "from replica 3")
        pipe.multi()
        pipe.set("cross", "from replica 1")
        with pytest.raises(redis.WatchError):
            pipe.execute()
    for i in cluster:
        assert cluster.client(i).get("cross") == b"from replica 3"

"""redis-py against a real replica: both protocols, a shared pool, pipelines, transactions, SCAN.

redis-py 8 opens every connection with ``HELLO 3``; older code and many
deployments force ``protocol=2``. Both are exercised on the same replica
(``cluster1``), with client retries off so that every failure is seen.
The transaction tests check what MULTI/EXEC promises — the queued commands
run as one atomic step — by racing readers against writers, and what WATCH
promises to redis-py's ``transaction()`` helper: EXEC aborts when a watched
key changed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.integration.cluster import CLIENT_TIMEOUT_S, ProcessCluster

THREADS = 8
INCREMENTS_PER_THREAD = 150
TRANSACTIONS = 300
SCAN_KEYS = 700
JOIN_TIMEOUT_S = 120.0


def run_threads(targets: list[Callable[[], None]]) -> list[BaseException]:
    """Run the callables in threads, join them (bounded) and return what they raised."""
    errors: list[BaseException] = []

    def wrap(target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except BaseException as exc:
                errors.append(exc)

        return run

    threads = [threading.Thread(target=wrap(t), daemon=True) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT_S)
        assert not t.is_alive(), "a client thread did not finish in time"
    return errors


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_speaks_resp2_and_resp3_with_the_same_results(
    cluster1: ProcessCluster, protocol: int
) -> None:
    r = cluster1.client(1, protocol=protocol)
    assert r.client_info()["resp"] == str(protocol)
    key = f"proto{protocol}"
    assert r.set(key, "v", ex=100) is True
    assert r.get(key) == b"v"
    assert 99 <= r.ttl(key) <= 100
    assert r.get(f"{key}:missing") is None
    assert r.mget(key, f"{key}:missing") == [b"v", None]
    assert r.incr(f"{key}:n") == 1
    assert r.incrbyfloat(f"{key}:f", 1.5) == 1.5
    assert r.exists(key, f"{key}:missing") == 1
    assert r.set(key, "w", nx=True) is None
    assert r.set(key, "w", get=True) == b"v"
    assert r.delete(key, f"{key}:n", f"{key}:f") == 3
    assert r.info("server")["redis_version"].startswith("7.")
    assert r.set(f"{key}:text", "abc") is True
    with pytest.raises(redis.ResponseError, match="value is not an integer"):
        r.incr(f"{key}:text")


def test_a_connection_pool_shared_by_threads_loses_no_increment(cluster1: ProcessCluster) -> None:
    pool = redis.ConnectionPool(
        host="127.0.0.1",
        port=cluster1.port(1),
        max_connections=THREADS,
        retry=Retry(NoBackoff(), 0),
        socket_timeout=CLIENT_TIMEOUT_S,
    )
    r = redis.Redis(connection_pool=pool)
    r.delete("pool:counter")

    def worker(n: int) -> Callable[[], None]:
        def run() -> None:
            for i in range(INCREMENTS_PER_THREAD):
                r.incr("pool:counter")
                r.set(f"pool:{n}:{i}", i)
                assert r.get(f"pool:{n}:{i}") == str(i).encode()

        return run

    try:
        assert run_threads([worker(n) for n in range(THREADS)]) == []
        assert int(r.get("pool:counter") or 0) == THREADS * INCREMENTS_PER_THREAD
        # The threads really shared the pool: several connections, never more than allowed.
        assert 1 < pool._created_connections <= THREADS
    finally:
        pool.disconnect()


def test_a_plain_pipeline_returns_every_reply_in_order(cluster1: ProcessCluster) -> None:
    r = cluster1.client(1)
    with r.pipeline(transaction=False) as pipe:
        for i in range(1000):
            pipe.set(f"pipe:{i}", i)
            pipe.incr(f"pipe:{i}")
        replies = pipe.execute()
    assert replies == [x for i in range(1000) for x in (True, i + 1)]


def test_a_transaction_pipeline_runs_its_commands_atomically(cluster1: ProcessCluster) -> None:
    """Writers set two keys to the same value in MULTI/EXEC; readers never see them differ."""
    writer = cluster1.client(1)
    writer.mset({"tx:a": 0, "tx:b": 0})
    seen: list[tuple[object, object]] = []
    stop = threading.Event()

    def write() -> None:
        try:
            for i in range(1, TRANSACTIONS + 1):
                with writer.pipeline(transaction=True) as pipe:
                    pipe.set("tx:a", i)
                    pipe.incr("tx:b")
                    pipe.get("tx:a")
                    assert pipe.execute() == [True, i, str(i).encode()]
        finally:
            stop.set()

    def read() -> None:
        reader = cluster1.client(1)
        while not stop.is_set():
            a, b = reader.mget("tx:a", "tx:b")
            seen.append((a, b))

    assert run_threads([write, read, read]) == []
    torn = [pair for pair in seen if pair[0] != pair[1]]
    assert seen and not torn, f"{len(torn)} of {len(seen)} reads saw half a transaction: {torn[:5]}"
    assert writer.mget("tx:a", "tx:b") == [str(TRANSACTIONS).encode()] * 2


def test_a_transaction_with_a_queue_time_error_is_discarded(cluster1: ProcessCluster) -> None:
    r = cluster1.client(1)
    r.set("txerr", "before")
    with r.pipeline(transaction=True) as pipe:
        pipe.set("txerr", "after")
        pipe.execute_command("GET")  # wrong arity: refused when queued
        # redis-py reports the queue-time error that made EXEC answer EXECABORT.
        with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'get'"):
            pipe.execute()
    assert r.get("txerr") == b"before"


def test_exec_after_a_watched_key_changed_runs_nothing(cluster1: ProcessCluster) -> None:
    """WATCH is optimistic locking: redis-py's ``transaction()`` and check-and-set rely on it."""
    r, other = cluster1.client(1), cluster1.client(1)
    r.set("watched", "0")
    with r.pipeline(transaction=True) as pipe:
        pipe.watch("watched")
        assert pipe.get("watched") == b"0"
        other.set("watched", "changed by another client")
        pipe.multi()
        pipe.set("watched", "written by the transaction")
        with pytest.raises(redis.WatchError):
            pipe.execute()
    assert r.get("watched") == b"changed by another client"


@pytest.mark.parametrize("protocol", [2, 3])
def test_scan_iter_yields_every_matching_key_once(cluster1: ProcessCluster, protocol: int) -> None:
    r = cluster1.client(1, protocol=protocol)
    prefix = f"scan{protocol}"
    with r.pipeline(transaction=False) as pipe:
        for i in range(SCAN_KEYS):
            pipe.set(f"{prefix}:{i}", i)
        pipe.set(f"other{protocol}", 1)
        pipe.execute()
    found = list(r.scan_iter(match=f"{prefix}:*", count=50))
    assert len(found) == len(set(found)) == SCAN_KEYS
    assert set(found) == {f"{prefix}:{i}".encode() for i in range(SCAN_KEYS)}

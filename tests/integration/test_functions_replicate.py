"""Function libraries are replicated data: loaded through one replica, called through any.

FUNCTION LOAD, DELETE, FLUSH and RESTORE go through consensus ordered against every
other command, so a library loaded through replica 1 is there for an FCALL sent to
replica 2 the moment the load was acknowledged (no waiting: that is linearizability,
not convergence), a library deleted through replica 3 is gone for the next FCALL
anywhere, and FCALLs from every replica at once are atomic and totally ordered. The
libraries are on disk with the keys: they outlive ``kill -9`` of every replica.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import redis

from tests.integration.cluster import ProcessCluster

LIBRARY = """#!lua name=counters
local function bump(keys, args)
  local n = redis.call('INCR', keys[1])
  redis.call('RPUSH', keys[2], args[1] .. ':' .. n)
  return n
end
redis.register_function('bump', bump)
redis.register_function{function_name='peek', flags={'no-writes'},
  callback=function(keys) return redis.call('GET', keys[1]) end}
"""
REPLACED = """#!lua name=counters
redis.register_function('bump', function(keys) return redis.call('INCRBY', keys[1], 100) end)
"""
CALLERS_PER_REPLICA = 2
CALLS_PER_CALLER = 30
CALLERS_S = 60.0
SAME_DATA_S = 30.0
SERVING_S = 30.0


def _caller(
    client: redis.Redis, name: str, returned: list[int], errors: list[BaseException]
) -> None:
    try:
        for n in range(CALLS_PER_CALLER):
            returned.append(int(client.fcall("bump", 2, "count", "log", f"{name}.{n}")))
    except BaseException as exc:  # handed to the test thread, which fails on it
        errors.append(exc)


def test_a_library_loaded_through_one_replica_is_called_through_every_replica(
    make_cluster: Callable[[int], ProcessCluster],
) -> None:
    cluster = make_cluster(3)
    clients = {i: cluster.client(i) for i in cluster}
    assert clients[1].function_load(LIBRARY) == b"counters"
    # Acknowledged, so every later FCALL, through any replica, is ordered after it.
    assert clients[2].fcall("bump", 2, "count", "log", "first") == 1
    assert clients[3].fcall_ro("peek", 1, "count") == b"1"
    # Replica 2 ran the call, so it had executed the load before: INFO counts it.
    memory = clients[2].info("memory")
    assert (memory["number_of_libraries"], memory["number_of_functions"]) == (1, 2)
    with pytest.raises(redis.ResponseError, match="already exists"):
        clients[3].function_load(LIBRARY)

    returned: list[int] = []
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=_caller, args=(cluster.client(i), f"r{i}c{k}", returned, errors))
        for i in cluster
        for k in range(CALLERS_PER_REPLICA)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + CALLERS_S
    for thread in threads:
        thread.join(timeout=max(0.1, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads), "a caller did not finish"
    assert not errors, errors
    total = 1 + len(threads) * CALLS_PER_CALLER
    # Atomic and totally ordered: each call saw the counter one higher than the last.
    assert sorted(returned) == list(range(2, total + 1))
    cluster.wait_same_data(SAME_DATA_S)
    listings = {i: clients[i].function_list(withcode=True) for i in cluster}
    assert listings[1] == listings[2] == listings[3]
    assert len(listings[1]) == 1

    assert clients[2].function_load(REPLACED, replace=True) == b"counters"
    assert clients[1].fcall("bump", 1, "count") == total + 100
    with pytest.raises(redis.ResponseError, match="Function not found"):
        clients[3].fcall_ro("peek", 1, "count")
    assert clients[3].function_delete("counters") is True
    with pytest.raises(redis.ResponseError, match="Function not found"):
        clients[1].fcall("bump", 1, "count")
    assert clients[2].function_list() == []


def test_libraries_outlive_kill9_of_every_replica(
    make_cluster: Callable[[int], ProcessCluster],
) -> None:
    cluster = make_cluster(3)
    with cluster.client(1) as c:
        c.function_load(LIBRARY)
        assert c.fcall("bump", 2, "count", "log", "before") == 1
        payload = c.function_dump()
    for i in cluster:
        cluster.kill9(i)
    for i in cluster:
        cluster.restart(i)
    for i in cluster:
        cluster.wait_serving(i, SERVING_S)
        with cluster.client(i) as c:
            assert c.function_dump() == payload
    with cluster.client(3) as c:
        assert c.fcall("bump", 2, "count", "log", "after") == 2
        # DUMP and RESTORE FLUSH put the same libraries back after a flush.
        assert c.function_flush() is True
        assert c.function_list() == []
        assert c.function_restore(payload, "FLUSH") is True
    with cluster.client(2) as c:
        assert c.fcall("bump", 2, "count", "log", "restored") == 3
        assert c.lrange("log", 0, -1) == [b"before:1", b"after:2", b"restored:3"]

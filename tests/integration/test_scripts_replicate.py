"""Lua scripts are replicated as scripts: every replica runs each one and ends the same.

epaxosdb proposes EVAL itself (EVALSHA is expanded to it by the replica the
client talks to), and every replica executes the script against its own
copy of the data. So the scripts must be atomic and ordered the same way on
every replica, and whatever a script computes — ``math.random``,
``redis.call('TIME')``, how far it got before an error or its instruction
budget stopped it — must come out the same everywhere. Clients on all three
replicas run scripts concurrently, some as EVAL and some through redis-py's
``Script`` objects (EVALSHA, loaded on NOSCRIPT into each replica's own
cache); then every replica is read, each within a bounded wait for it to
have executed everything.

Every script executed on a replica reads through a snapshot of its store; a
replica that kept those alive (each LMDB read transaction holds one of its 126
reader slots) stopped at the 127th script, which the last test pins.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar, cast

import pytest
import redis

from tests.integration.cluster import ProcessCluster

T = TypeVar("T")

COUNT_AND_APPEND = "redis.call('INCR', KEYS[1]); return redis.call('RPUSH', KEYS[2], ARGV[1])"
COUNTER, LOG = "script:counter", "script:log"
CLIENTS_PER_REPLICA = 2
SCRIPTS_PER_CLIENT = 40
"""6 clients x 40 = 240 scripts: more than LMDB's 126 reader slots."""
SEQUENTIAL_SCRIPTS = 200
"""More scripts than LMDB has reader slots (126), one at a time (one snapshot each)."""
WRITERS_S = 60.0
"""Bound on the writers' threads (they take a few seconds)."""
CAUGHT_UP_S = 30.0
"""How long a replica may take to have executed every acknowledged script."""

DRAWS = """
local t = redis.call('TIME')
local value = table.concat({
  tostring(math.random()), tostring(math.random(1000000000)), tostring(math.random(5, 9)),
  t[1], t[2], tostring({}), redis.sha1hex(ARGV[1]),
}, '|')
redis.call('SET', KEYS[1], value)
return value
"""
RESEEDED = """
math.randomseed(tonumber(ARGV[1]))
local a = math.random(1000000)
redis.call('RPUSH', KEYS[1], a, math.random(1000000))
return a
"""
PARTIAL_THEN_ERROR = "redis.call('INCR', KEYS[1]); redis.call('INCR', KEYS[1]); error('stop here')"
PARTIAL_THEN_BUDGET = "redis.call('SET', KEYS[1], 'before the loop'); while true do end"


def _eventually(read: Callable[[], T], done: Callable[[T], bool], what: str) -> T:
    """``read()`` until ``done`` accepts it (bounded by ``CAUGHT_UP_S``); the last value."""
    deadline = time.monotonic() + CAUGHT_UP_S
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still {value!r} after {CAUGHT_UP_S:.0f}s")
        time.sleep(0.1)


def _present(value: object) -> bool:
    return value is not None


def _list(c: redis.Redis, key: str) -> list[bytes]:
    return [cast(bytes, item) for item in c.lrange(key, 0, -1)]


def _two_runs(items: list[bytes]) -> bool:
    return len(items) == 4


def _counter_and_length(c: redis.Redis) -> tuple[Any, int]:
    return c.get(COUNTER), int(c.llen(LOG))


def _writer(
    client: redis.Redis,
    name: str,
    by_sha: bool,
    acknowledged: list[tuple[str, int]],
    errors: list[BaseException],
) -> None:
    script = client.register_script(COUNT_AND_APPEND)
    try:
        for n in range(SCRIPTS_PER_CLIENT):
            item = f"{name}:{n}"
            if by_sha:
                length = script(keys=[COUNTER, LOG], args=[item])
            else:
                length = client.eval(COUNT_AND_APPEND, 2, COUNTER, LOG, item)
            acknowledged.append((item, int(length)))
    except BaseException as exc:  # handed to the test thread, which fails on it
        errors.append(exc)


def test_scripts_run_concurrently_through_every_replica_end_the_same_on_all(
    make_cluster: Callable[[int], ProcessCluster],
) -> None:
    cluster3 = make_cluster(3)
    acknowledged: list[tuple[str, int]] = []
    errors: list[BaseException] = []
    threads = []
    for i in cluster3:
        for k in range(CLIENTS_PER_REPLICA):
            name = f"r{i}c{k}"
            threads.append(
                threading.Thread(
                    target=_writer,
                    args=(cluster3.client(i), name, k % 2 == 1, acknowledged, errors),
                )
            )
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + WRITERS_S
    for thread in threads:
        thread.join(timeout=max(0.1, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads), "a writer did not finish"
    assert not errors, errors
    total = len(threads) * SCRIPTS_PER_CLIENT
    assert len(acknowledged) == total

    # Scripts are atomic and totally ordered: each saw a list one longer than the
    # script before it, so the lengths they returned are exactly 1..total.
    assert sorted(length for _, length in acknowledged) == list(range(1, total + 1))
    expected = [""] * total
    for item, length in acknowledged:
        expected[length - 1] = item

    digests = set()
    for i in cluster3:
        c = cluster3.client(i)
        want = (b"%d" % total, total)
        _eventually(
            partial(_counter_and_length, c),
            want.__eq__,
            f"replica {i}'s counter and list length",
        )
        items = [cast(bytes, item).decode() for item in c.lrange(LOG, 0, -1)]
        # Every replica has the list in the order the acknowledged replies describe...
        assert items == expected, f"replica {i}'s list differs from the replies' order"
        digests.add(hashlib.sha256("\n".join(items).encode()).hexdigest())
        # ...and each client's scripts in the order it sent them.
        for name in {item.rsplit(":", 1)[0] for item in items}:
            mine = [int(item.rsplit(":", 1)[1]) for item in items if item.startswith(name + ":")]
            assert mine == list(range(SCRIPTS_PER_CLIENT)), (i, name)
    assert len(digests) == 1, digests


def test_random_time_and_aborted_scripts_write_the_same_on_every_replica(
    make_cluster: Callable[[int], ProcessCluster],
) -> None:
    cluster3 = make_cluster(3)
    clients = {i: cluster3.client(i) for i in cluster3}
    returned: dict[str, bytes] = {}
    for i, c in clients.items():
        for n in range(3):
            key = f"draws:{i}:{n}"
            returned[key] = c.eval(DRAWS, 1, key, f"argument {n}")
    # Each command has its own seed, so the draws differ from one script to the next.
    assert len({value.split(b"|")[1] for value in returned.values()}) == len(returned)
    assert all(value.split(b"|")[5] == b"table" for value in returned.values())

    reseeded = clients[1].eval(RESEEDED, 1, "reseeded", 42)
    assert clients[2].eval(RESEEDED, 1, "reseeded", 42) == reseeded  # seeded by the script

    with pytest.raises(redis.ResponseError, match=re.escape("stop here script: ")):
        clients[2].eval(PARTIAL_THEN_ERROR, 1, "partial")
    budget_error = r"^Script exceeded the limit of \d+ Lua instructions"
    with pytest.raises(redis.ResponseError, match=budget_error):
        clients[3].eval(PARTIAL_THEN_BUDGET, 1, "budget")

    pair = [b"%d" % reseeded]
    for i, c in clients.items():
        for key, value in returned.items():
            # Written once: as soon as a replica has the key, it must hold what the
            # replica that answered the client computed.
            seen = _eventually(partial(c.get, key), _present, f"replica {i}'s {key}")
            assert seen == value, f"replica {i} computed {seen!r} for {key}, not {value!r}"
        draws = _eventually(partial(_list, c, "reseeded"), _two_runs, f"replica {i}")
        assert draws[:2] == draws[2:] and draws[:1] == pair, (i, draws)
        # What ran before the error or the budget stayed, the same on every replica.
        assert _eventually(partial(c.get, "partial"), _present, f"replica {i}") == b"2"
        assert _eventually(partial(c.get, "budget"), _present, f"replica {i}") == (
            b"before the loop"
        )
    cluster3.wait_same_data(CAUGHT_UP_S)


def test_a_replica_runs_more_scripts_one_by_one_than_lmdb_has_reader_slots(
    make_cluster: Callable[[int], ProcessCluster],
) -> None:
    cluster = make_cluster(1)
    c = cluster.client(1)
    for n in range(1, SEQUENTIAL_SCRIPTS + 1):
        assert c.eval("return redis.call('INCR', KEYS[1])", 1, "one-by-one") == n
    assert cast(bytes, c.get("one-by-one")) == b"%d" % SEQUENTIAL_SCRIPTS
    assert c.ping() is True

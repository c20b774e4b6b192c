"""Concurrent clients on a real 3-replica cluster under faults, checked for linearizability.

Client threads, each with its own connection to one replica (retries off),
run GET / SET (unique values) / INCR on a few keys while a nemesis kills
and restarts, stops and continues, or kills and restarts on an empty data
directory (it rebuilds from a peer) one replica at a time (always a
minority, always restored before the next fault). The cluster leaves a
replica silent for ``LEAVE_BEHIND_MS`` behind (``core.laggards``), shorter
than a fault, so a victim often comes back to find the log it missed
deleted, and rebuilds from a snapshot while the clients go on. Every operation is
recorded Jepsen-style and checked with ``epaxosdb.sim.linearizability``:

* a reply is a completed operation over [call, return];
* a broken connection, a timeout or ``-UNCERTAIN`` is *indeterminate*: it
  may have taken effect at any time after its call, or never;
* ``-LOADING``, a refused connection and other errors returned before the
  command was proposed are definite failures, left out of the history.

A second test proves the check can fail: a stale read spliced into a
recorded history (a GET, issued after a SET completed, that returns the
value the SET overwrote) must be found NOT_LINEARIZABLE.
"""

from __future__ import annotations

import os
import random
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import redis

from epaxosdb.sim.linearizability import UNKNOWN, Operation, Verdict, check
from protocol.replies import OK
from tests.integration.cluster import ProcessCluster
from tests.integration.conftest import module_cluster

SEED = int(os.environ.get("EPAXOSDB_NEMESIS_SEED", "0")) or random.randrange(1, 1 << 30)
CLIENTS = 6
REGISTERS = [b"reg:0", b"reg:1", b"reg:2"]
COUNTERS = [b"ctr:0", b"ctr:1"]
FAULT_ROUNDS = 4
FAULT_S = 2.5
"""How long a replica stays dead or stopped."""
HEALTHY_S = 1.5
"""How long the cluster runs with all replicas between faults."""
CLIENT_TIMEOUT_S = 12.0
"""Longer than the replica's 10 s deadline, so its UNCERTAIN reply can be seen."""
SERVE_AGAIN_S = 60.0
LEAVE_BEHIND_MS = 1500
CHECK_STEPS_MAX_PER_KEY = 2_000_000

DEFINITE_FAILURES = ("LOADING", "NOQUORUM")
"""Error replies sent before a command is proposed: it certainly did not take effect."""


@dataclass
class History:
    ops: list[Operation] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, op: Operation | None, outcome: str) -> None:
        with self.lock:
            if op is not None:
                self.ops.append(op)
            self.outcomes[outcome] += 1


def _refused(exc: BaseException) -> bool:
    """The connection was never made, so the command was never sent."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError) or "Connection refused" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def run_operation(
    client: redis.Redis, history: History, who: int, key: bytes, kind: str, args: tuple[bytes, ...]
) -> str:
    """Run one operation, record it in ``history``, and return how it ended."""
    call = time.monotonic()
    try:
        if kind == "GET":
            result: object = client.get(key)
        elif kind == "SET":
            reply = client.set(key, args[0])
            assert reply is True, reply
            result = OK
        else:
            result = client.incr(key)
    except redis.BusyLoadingError:  # -LOADING (redis-py files it under ConnectionError)
        outcome, op = "LOADING", None
    except redis.ResponseError as exc:
        text = str(exc)
        if text.startswith(DEFINITE_FAILURES):
            outcome, op = text.split()[0], None
        elif text.startswith("UNCERTAIN"):
            outcome, op = "UNCERTAIN", Operation(who, key, kind, args, UNKNOWN, call, None)
        else:
            outcome, op = "error", Operation(who, key, kind, args, exc, call, time.monotonic())
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        if _refused(exc):
            outcome, op = "refused", None
        else:
            outcome = type(exc).__name__
            op = Operation(who, key, kind, args, UNKNOWN, call, None)
    else:
        outcome, op = "ok", Operation(who, key, kind, args, result, call, time.monotonic())
    history.add(op, outcome)
    return outcome


def client_loop(cluster: ProcessCluster, history: History, who: int, stop: threading.Event) -> None:
    rng = random.Random(SEED * 100 + who)
    client = cluster.client(1 + who % 3, socket_timeout=CLIENT_TIMEOUT_S)
    n = 0
    while not stop.is_set():
        n += 1
        if rng.random() < 0.6:
            key = rng.choice(REGISTERS)
            if rng.random() < 0.5:
                outcome = run_operation(client, history, who, key, "GET", ())
            else:
                value = b"c%d-%d" % (who, n)  # unique: a read names its write
                outcome = run_operation(client, history, who, key, "SET", (value,))
        else:
            key = rng.choice(COUNTERS)
            outcome = run_operation(client, history, who, key, rng.choice(["GET", "INCR"]), ())
        if outcome != "ok":
            stop.wait(0.05)  # don't spin on a dead or loading replica


def nemesis(cluster: ProcessCluster, log: list[str]) -> None:
    rng = random.Random(SEED)
    for round_ in range(FAULT_ROUNDS):
        time.sleep(HEALTHY_S)
        victim = rng.choice(list(cluster))
        if round_ % 3 == 2:
            log.append(f"kill -9 replica {victim} and delete its data directory")
            cluster.kill9(victim)
            shutil.rmtree(cluster.replicas[victim].data_dir)
            time.sleep(FAULT_S)
            cluster.restart(victim)  # it joins again from a peer's snapshot
        elif round_ % 3 == 0:
            log.append(f"kill -9 replica {victim}")
            cluster.kill9(victim)
            time.sleep(FAULT_S)
            cluster.restart(victim)
        else:
            log.append(f"SIGSTOP replica {victim}")
            cluster.stop(victim)
            time.sleep(FAULT_S)
            cluster.cont(victim)
        cluster.wait_serving(victim, SERVE_AGAIN_S)
    time.sleep(HEALTHY_S)


@pytest.fixture(scope="module")
def cluster3(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProcessCluster]:
    """This module's three replicas: quick to leave a silent one behind."""
    yield from module_cluster(
        request, tmp_path_factory, 3, leave_behind_ms=LEAVE_BEHIND_MS, leave_behind_instances=0
    )


def rebuilds(cluster: ProcessCluster) -> int:
    """How often a replica found itself left behind and rebuilt (from the logs)."""
    return sum(cluster.log_count(i, "left behind: every peer deleted") for i in cluster)


@pytest.fixture(scope="module")
def faulty_history(cluster3: ProcessCluster) -> tuple[History, list[str]]:
    """The history of one nemesis run (shared by the check and the stale-read test)."""
    history = History()
    faults: list[str] = []
    stop = threading.Event()
    clients = [
        threading.Thread(target=client_loop, args=(cluster3, history, who, stop), daemon=True)
        for who in range(CLIENTS)
    ]
    for t in clients:
        t.start()
    try:
        nemesis(cluster3, faults)
    finally:
        stop.set()
        for t in clients:
            t.join(CLIENT_TIMEOUT_S + 10)
    assert not any(t.is_alive() for t in clients), "a client thread did not stop"
    # Final reads through every replica, once all are serving, close the history.
    for i in cluster3:
        cluster3.wait_serving(i, SERVE_AGAIN_S)
        reader = cluster3.client(i, socket_timeout=CLIENT_TIMEOUT_S)
        for key in REGISTERS + COUNTERS:
            run_operation(reader, history, 100 + i, key, "GET", ())
    faults.append(f"{rebuilds(cluster3)} rebuilds of a replica left behind")
    return history, faults


def test_concurrent_clients_under_kills_and_pauses_see_a_linearizable_history(
    faulty_history: tuple[History, list[str]],
) -> None:
    history, faults = faulty_history
    context = f"seed {SEED} (EPAXOSDB_NEMESIS_SEED), faults {faults}, outcomes {history.outcomes}"
    assert history.outcomes["ok"] > 200, context
    result = check(history.ops, steps_max_per_key=CHECK_STEPS_MAX_PER_KEY)
    assert result.verdict is Verdict.LINEARIZABLE, f"{context}\n{result.render()}"
    print(context)


def test_the_checker_rejects_a_stale_read_spliced_into_the_recorded_history(
    faulty_history: tuple[History, list[str]],
) -> None:
    history, _ = faulty_history
    ops = history.ops
    completed_sets = sorted(
        (op for op in ops if op.kind == "SET" and op.result is OK and op.ret is not None),
        key=lambda op: op.call,
    )
    pair = next(
        (
            (old, new)
            for old in completed_sets
            for new in completed_sets
            if old.key == new.key and old.ret is not None and old.ret < new.call
        ),
        None,
    )
    assert pair is not None, "the run recorded no two sequential SETs on one key"
    old, new = pair
    assert new.ret is not None
    same_key = [op for op in ops if op.key == old.key]
    assert check(same_key, steps_max_per_key=CHECK_STEPS_MAX_PER_KEY).ok, "the key before splicing"
    stale = Operation(999, old.key, "GET", (), old.args[0], new.ret + 1e-6, new.ret + 2e-6)
    spliced = check([*ops, stale], steps_max_per_key=CHECK_STEPS_MAX_PER_KEY)
    assert spliced.verdict is Verdict.NOT_LINEARIZABLE, spliced.render()
    assert spliced.key == old.key

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

Beside the registers, through the same faults, lists serve as queues
(``queue_workload``: nothing acknowledged lost, nothing delivered twice) and
a stream is read by a consumer group (``stream_group_workload``: every
acknowledged entry delivered under its ID, the group's cursor never going
back); each check is also shown to catch what it looks for.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import pytest
import redis

from epaxosdb.sim.linearizability import UNKNOWN, Operation, Verdict, check
from protocol.replies import OK
from tests.integration import queue_workload, stream_group_workload
from tests.integration.cluster import ProcessCluster
from tests.integration.conftest import module_cluster
from tests.integration.faults import (
    CLIENT_TIMEOUT_S,
    DEFINITE_FAILURES,
    LEAVE_BEHIND_MS,
    SEED,
    SERVE_AGAIN_S,
    nemesis,
    rebuilds,
    refused,
)
from tests.integration.queue_workload import QueueRun
from tests.integration.stream_group_workload import GroupRun, Read

CLIENTS = 6
REGISTERS = [b"reg:0", b"reg:1", b"reg:2"]
COUNTERS = [b"ctr:0", b"ctr:1"]
CHECK_STEPS_MAX_PER_KEY = 2_000_000


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
        if refused(exc):
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


@pytest.fixture(scope="module")
def cluster3(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProcessCluster]:
    """This module's three replicas: quick to leave a silent one behind."""
    yield from module_cluster(
        request, tmp_path_factory, 3, leave_behind_ms=LEAVE_BEHIND_MS, leave_behind_instances=0
    )


@dataclass
class FaultyRun:
    """What one nemesis run recorded, for every check of this module."""

    history: History
    queues: QueueRun
    group: GroupRun
    faults: list[str]


@pytest.fixture(scope="module")
def faulty_run(cluster3: ProcessCluster) -> FaultyRun:
    """One nemesis run with every workload at once (shared by this module's tests)."""
    history = History()
    queues, group = QueueRun(), GroupRun()
    faults: list[str] = []
    stop = threading.Event()
    clients = [
        threading.Thread(target=client_loop, args=(cluster3, history, who, stop), daemon=True)
        for who in range(CLIENTS)
    ]
    clients += queue_workload.workers(cluster3, queues, stop)
    clients += stream_group_workload.workers(cluster3, group, stop)
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
    queue_workload.drain(cluster3, queues)
    stream_group_workload.finish(cluster3, group)
    faults.append(f"{rebuilds(cluster3)} rebuilds of a replica left behind")
    return FaultyRun(history, queues, group, faults)


@pytest.fixture(scope="module")
def faulty_history(faulty_run: FaultyRun) -> tuple[History, list[str]]:
    return faulty_run.history, faulty_run.faults


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


def _context(run: FaultyRun, outcomes: object) -> str:
    return f"seed {SEED} (EPAXOSDB_NEMESIS_SEED), faults {run.faults}, outcomes {outcomes}"


def test_queues_under_kills_and_pauses_lose_and_repeat_nothing(faulty_run: FaultyRun) -> None:
    run = faulty_run.queues
    context = _context(faulty_run, run.outcomes)
    assert len(run.acked) > 100 and len(run.popped) > 100, context
    assert queue_workload.violations(run) == [], context


def test_the_queue_check_reports_a_duplicate_a_loss_and_a_phantom(
    faulty_run: FaultyRun,
) -> None:
    run = faulty_run.queues
    violations = queue_workload.violations
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


def test_a_consumer_group_under_kills_and_pauses_loses_nothing_and_never_goes_back(
    faulty_run: FaultyRun,
) -> None:
    run = faulty_run.group
    context = _context(faulty_run, run.outcomes)
    assert len(run.added) > 100 and len(run.reads) > 50, context
    assert stream_group_workload.violations(run) == [], context


def test_the_group_check_reports_a_loss_a_moved_entry_and_a_read_going_back(
    faulty_run: FaultyRun,
) -> None:
    run = faulty_run.group
    violations = stream_group_workload.violations
    item = next(iter(run.added))
    lost = replace(run, delivered={k: v for k, v in run.delivered.items() if k != item})
    assert any("never delivered" in v for v in violations(lost))
    moved = replace(run, delivered={**run.delivered, item: {b"1-1"}})
    assert any("another ID" in v for v in violations(moved))
    first = min(run.reads, key=lambda r: r.call)
    end = max(r.ret for r in run.reads)
    late = Read(end + 1, end + 2, first.ids)
    assert any("older ID" in v for v in violations(replace(run, reads=[*run.reads, late])))

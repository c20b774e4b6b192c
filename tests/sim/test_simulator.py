"""The deterministic simulator, run the way CI runs it.

* 200 seeds × 2,000 steps for N=3 and for N=5, every invariant checked after
  every step, a liveness phase after each (issue acceptance);
* 12 seeds × 2,000 steps for N=7, the largest cluster the core supports;
* 10 seeds each for N=3 and N=5 with byte budgets that split nearly every batch;
* every pinned seed (``pinned_seeds.txt``), forever;
* a run replays exactly: same seed, same history.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from epaxosdb.sim.batch import run_many
from epaxosdb.sim.run import profile_for, run

PINNED = Path(__file__).with_name("pinned_seeds.txt")


def pinned() -> list[tuple[int, int, int, bool]]:
    """``(seed, replicas, steps, wipes)`` for every line of ``pinned_seeds.txt``."""
    out = []
    for line in PINNED.read_text().splitlines():
        fields = line.split("#", 1)[0].split()
        if fields:
            seed, replicas, steps = (int(x) for x in fields[:3])
            out.append((seed, replicas, steps, fields[3:] != ["no-wipes"]))
    return out


def test_two_hundred_seeds_of_two_thousand_steps_run_clean_for_three_and_five_replicas() -> None:
    lines: list[str] = []
    failures = run_many(list(range(200)), [3, 5], 2000, jobs=2, echo=lines.append)
    assert not failures, "\n".join(lines)


def test_seeds_with_keys_expiring_mid_run_leave_every_replica_equal() -> None:
    """TTL traffic of a few ticks (``Workload._expiring``): every replica must delete
    exactly the keys that some command in the agreed order found expired."""
    lines: list[str] = []
    failures = run_many(list(range(25)), [3, 5], 2000, jobs=2, echo=lines.append,
                        expiring_keys=3)
    assert not failures, "\n".join(lines)


def test_seeds_with_list_traffic_leave_every_replica_equal() -> None:
    """List commands on lists that grow past the sizes where their stored form changes,
    moved between lists, trimmed and expired (``workload.list_command``): every replica
    must hold the same lists, byte for byte, whatever the faults."""
    lines: list[str] = []
    failures = run_many(list(range(25)), [3, 5], 2000, jobs=2, echo=lines.append, list_keys=3)
    assert not failures, "\n".join(lines)


def test_seeds_with_collection_traffic_leave_every_replica_equal() -> None:
    """Hashes, sets and sorted sets changed by several commands in flight at once
    (``workload.collection_command``), which each replica keeps decoded from loop turn to
    turn until its deferred writes go to its store, whatever its crashes lose of them:
    every replica must hold the same collections, byte for byte."""
    lines: list[str] = []
    failures = run_many(list(range(12)), [3, 5], 2000, jobs=2, echo=lines.append,
                        collection_keys=3)
    assert not failures, "\n".join(lines)


def test_seeds_with_function_traffic_leave_every_replica_equal() -> None:
    """A library loaded, replaced and deleted while its functions are called on a few keys
    (``workload.function_command``), through loads that run inside write transactions and
    calls that run on buffered views, crashes and all: every replica must hold the same
    libraries and the same values."""
    lines: list[str] = []
    failures = run_many(list(range(12)), [3, 5], 2000, jobs=2, echo=lines.append,
                        function_keys=3)
    assert not failures, "\n".join(lines)


def test_seven_replicas_run_clean() -> None:
    lines: list[str] = []
    failures = run_many(list(range(12)), [7], 2000, jobs=2, echo=lines.append)
    assert not failures, "\n".join(lines)


def test_byte_budgets_that_split_every_batch_and_sync_reply_run_clean() -> None:
    """Values in the simulation are a few bytes; budgets of the same size make the
    batching and catch-up paths split at almost every command, under every fault."""
    for replicas in (3, 5):
        for seed in range(10):
            profile = profile_for(seed, replicas)
            core = replace(profile.core, batch_bytes_max=20, sync_bytes_max=30)
            result = run(seed, replicas=replicas, steps=1500, profile=replace(profile, core=core))
            assert result.ok, f"{result.summary()} (byte budgets 20 / 30)"


def test_every_pinned_seed_runs_clean() -> None:
    assert pinned(), "the pinned seeds file is empty"
    for seed, replicas, steps, wipes in pinned():
        profile = profile_for(seed, replicas)
        if not wipes:
            profile = replace(profile, faults=replace(profile.faults, wipe_share=0.0))
        result = run(seed, replicas=replicas, steps=steps, profile=profile)
        assert result.ok, f"{result.summary()}\n  replay: {result.replay}"


def test_a_seed_replays_exactly() -> None:
    a = run(11, replicas=3, steps=600)
    b = run(11, replicas=3, steps=600)
    assert a.ok and b.ok
    assert a.counters == b.counters
    assert a.operations == b.operations and a.liveness_ticks == b.liveness_ticks


def test_a_failing_run_reports_its_replay_line() -> None:
    result = run(3, replicas=3, steps=300, liveness_ticks=1)
    assert not result.ok and result.invariant == "liveness"
    assert result.replay == "epaxosdb simulate --seed 3 --replicas 3 --steps 300"

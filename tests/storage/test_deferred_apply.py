"""Deferring key-value effects (what the runtime loop does) is safe across a crash.

The loop commits each turn's instance records at once but writes the
key-value effects of the commands it executed later, in bulk, together with
the marks saying those instances ran (``epaxosdb/runtime/loop.py``). These
tests drive a real single-replica core over both stores the same way, then
"crash" — lose everything not committed — and restart from the store alone:
the replica must end in exactly the state, and have given exactly the
replies, of a replica that applied every turn in one transaction.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from epaxosdb import commands
from epaxosdb.commands.tally import Tally
from epaxosdb.core.config import ReplicaConfig
from epaxosdb.core.ready import Executed, Ready
from epaxosdb.core.replica import Replica
from epaxosdb.node import (
    DeferredApply,
    Effects,
    FlushPolicy,
    Outbox,
    apply_in_transaction,
    apply_ready,
    commit,
    prepare_ready,
)
from protocol.messages import Command, InstanceId
from protocol.replies import OK, Reply
from storage.interface import Store, Value, ValueType
from storage.memory import MemoryStore
from tests.storage.conftest import CheckedStore, FreshStore, Opened

CONFIG = ReplicaConfig(1, (1,))
KEYS = [b"a", b"b", b"counter"]


def new_core() -> Replica:
    return Replica(CONFIG, rng=random.Random(3), access=commands.command_access)


def restored(store: CheckedStore) -> Replica:
    loaded = store.load()
    return Replica.restore(
        CONFIG, loaded.records, loaded.meta, rng=random.Random(4), access=commands.command_access
    )


def turns(seed: int, count: int) -> list[list[tuple[bytes, ...]]]:
    """Batches of ops whose results depend on order (INCR, APPEND, SET, DEL, GETSET, GET)."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        batch: list[tuple[bytes, ...]] = []
        for _ in range(rng.randint(1, 6)):
            key = rng.choice(KEYS)
            batch.append(
                rng.choice(
                    [
                        (b"INCR", b"counter"),
                        (b"APPEND", key, b"%d" % rng.randrange(10)),
                        (b"SET", key, b"v%d" % rng.randrange(10)),
                        (b"DEL", key),
                        (b"GETSET", key, b"g"),
                        (b"GET", key),
                    ]
                )
            )
        out.append(batch)
    return out


class Driver:
    """Proposes batches to a core and collects the replies, like the loop."""

    def __init__(self, store: CheckedStore, core: Replica) -> None:
        self.store = store
        self.core = core
        self.next_id = 0
        self.replies: list[Reply] = []

    def propose(self, ops: list[tuple[bytes, ...]]) -> None:
        cmds = []
        for op in ops:
            self.next_id += 1
            cmds.append(Command(1, self.next_id, 1_700_000_000_000, (op,), False))
        self.core.propose(cmds)


def reference(store: CheckedStore, batches: list[list[tuple[bytes, ...]]]) -> list[Reply]:
    driver = Driver(store, new_core())
    for ops in batches:
        driver.propose(ops)
        ready = driver.core.ready()
        out = apply_ready(store, ready, 1)
        driver.core.advance(ready)
        driver.replies += [reply for _, reply in out.replies]
    return driver.replies


@pytest.mark.parametrize("seed", range(8))
def test_a_crash_with_effects_deferred_restarts_into_the_same_state(
    fresh_store: FreshStore, seed: int
) -> None:
    batches = turns(seed, 12)
    flush_after = random.Random(seed).randrange(len(batches))
    with fresh_store() as expected_store, fresh_store() as store:
        expected_replies = reference(expected_store, batches)
        driver = Driver(store, new_core())
        unflushed = Effects()
        for i, ops in enumerate(batches):
            driver.propose(ops)
            ready = driver.core.ready()
            prepared = prepare_ready(store, ready, 1, (unflushed.writes,))
            assert prepared is not None
            unflushed.add(prepared)
            flush = None
            if i == flush_after:
                flush, unflushed = unflushed, Effects()
            commit(store, ready, flush)  # records now; effects only when flushed
            driver.core.advance(ready)
            driver.replies += [reply for _, reply in prepared.outbox.replies]
        assert driver.replies == expected_replies
        # Crash: the core and the unflushed effects are gone; the store is all there is.
        core = restored(store)
        ready = core.ready()
        replayed = {ex.inst.index for ex in ready.to_execute}
        assert replayed == set(range(flush_after + 1, len(batches)))
        apply_ready(store, ready, 1)
        core.advance(ready)
        assert store.kv_items() == expected_store.kv_items()
        assert restored(store).ready().to_execute == []


def test_a_keyspace_wide_command_runs_in_its_transaction_after_the_deferred_effects(
    opened: Opened,
) -> None:
    store = opened.store
    driver = Driver(store, new_core())
    unflushed = Effects()
    driver.propose([(b"SET", b"a", b"1"), (b"SET", b"b", b"2")])
    ready = driver.core.ready()
    prepared = prepare_ready(store, ready, 1, (unflushed.writes,))
    assert prepared is not None
    unflushed.add(prepared)
    commit(store, ready, None)
    driver.core.advance(ready)
    assert store.read(lambda v: v.count()) == 0  # deferred: not in the store yet
    driver.propose([(b"DEL", b"a"), (b"DBSIZE",), (b"SET", b"c", b"3")])
    ready = driver.core.ready()
    assert prepare_ready(store, ready, 1, (unflushed.writes,)) is None
    out = apply_in_transaction(store, ready, 1, unflushed)
    assert [reply for _, reply in out.replies] == [1, 1, OK]
    assert {key for key, _ in store.kv_items()} == {b"b", b"c"}
    assert restored(store).ready().to_execute == []


@pytest.mark.parametrize("apply", [apply_ready, apply_in_transaction])
@pytest.mark.parametrize(
    "op", [(b"GET", b"a"), (b"MGET", b"a", b"b"), (b"TTL", b"a"), (b"DBSIZE",)]
)
def test_a_read_another_replica_proposed_deletes_what_it_found_expired_here_too(
    fresh_store: FreshStore, apply: Callable[[Store, Ready, int], object], op: tuple[bytes, ...]
) -> None:
    """Only the proposer runs a read's handler, but the key it found expired must be
    gone at every replica, or a later command stamped before the deadline would find
    it alive at some replicas and not at others."""
    now = 1_700_000_000_000
    read = Command(1, 1, now, (op,), False)
    ready = Ready(to_execute=[Executed(InstanceId(1, 1), (read,))])
    states = []
    for me in (1, 2):
        with fresh_store() as store:
            store.write(lambda txn: txn.put(b"a", Value(ValueType.STRING, now - 1, b"old")))
            store.write(lambda txn: txn.put(b"b", Value(ValueType.STRING, now + 1, b"new")))
            apply(store, ready, me)
            states.append(store.kv_items())
    assert states[0] == states[1] == [(b"b", Value(ValueType.STRING, now + 1, b"new"))]


@pytest.mark.parametrize("apply", [apply_ready, apply_in_transaction])
def test_a_step_counts_expired_keys_at_every_replica_and_lookups_at_the_proposer(
    fresh_store: FreshStore, apply: Callable[[Store, Ready, int], Outbox]
) -> None:
    """INFO's counters (``Outbox.tally``). DBSIZE makes the step run in a transaction
    after its buffered attempt was abandoned: what that attempt counted is not kept."""
    now = 1_700_000_000_000
    cmds = (
        Command(1, 1, now, ((b"GET", b"a"),), False),
        Command(1, 2, now, ((b"HGET", b"nope", b"f"),), False),
        Command(1, 3, now, ((b"MGET", b"b", b"b"),), False),
        Command(1, 4, now, ((b"SET", b"c", b"v"),), False),
        Command(1, 5, now, ((b"DBSIZE",),), False),
    )
    ready = Ready(to_execute=[Executed(InstanceId(1, 1), cmds)])
    tallies = []
    for me in (1, 2):
        with fresh_store() as store:
            store.write(lambda txn: txn.put(b"a", Value(ValueType.STRING, now - 1, b"old")))
            store.write(lambda txn: txn.put(b"b", Value(ValueType.STRING, now + 1, b"new")))
            store.write(lambda txn: txn.put(b"c", Value(ValueType.STRING, now - 1, b"old")))
            tallies.append(apply(store, ready, me).tally)
    assert tallies[0] == Tally(expired=2, hits=2, misses=2)
    assert tallies[1] == Tally(expired=2)


def collection_turns(seed: int, count: int) -> list[list[tuple[bytes, ...]]]:
    """Batches that keep changing a few collections (unique fields and members, counters),
    with raw reads (DUMP), deletes and keyspace-wide reads (DBSIZE: the turn runs in a
    transaction) now and then."""
    rng = random.Random(seed)
    out = []
    n = 0
    for _ in range(count):
        batch: list[tuple[bytes, ...]] = []
        for _ in range(rng.randint(1, 5)):
            n += 1
            batch.append(
                rng.choice(
                    [
                        (b"HSET", b"h", b"f%d" % n, b"%d" % n),
                        (b"HINCRBY", b"h", b"count", b"1"),
                        (b"SADD", b"s", b"m%d" % n),
                        (b"ZADD", b"z", b"%d" % n, b"m%d" % n),
                        (b"HLEN", b"h"),
                        (b"SCARD", b"s"),
                    ]
                    * 4
                    + [(b"DUMP", b"h"), (b"DBSIZE",), (b"DEL", b"s"), (b"RENAME", b"z", b"z2")]
                )
            )
        out.append(batch)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_a_crash_with_collections_carried_restarts_into_the_same_state(
    opened: Opened, seed: int
) -> None:
    """Collections changed turn after turn stay decoded in the deferred effects
    (``storage.buffered``); a crash loses them with the rest of what was deferred, and the
    replica restarted from its store alone must execute its way to the state, and have
    given the replies, of a replica that applied every turn in one transaction."""
    rng = random.Random(seed)
    batches = collection_turns(seed, 40)
    crashes = sorted(rng.sample(range(1, len(batches)), 2))
    policy = FlushPolicy(instances_max=rng.choice([3, 7, 256]))
    expected_store = MemoryStore()
    expected_replies = reference(expected_store, batches)
    store = opened.store
    driver = Driver(store, new_core())
    apply = DeferredApply(store, 1, policy)
    for i, ops in enumerate(batches):
        if i in crashes:
            opened.reopen()  # what was deferred is gone; the store is all there is
            store = driver.store = opened.store
            driver.core = restored(store)
            apply = DeferredApply(store, 1, policy)
            ready = driver.core.ready()
            apply.apply(ready)  # the replay: its replies went out before the crash
            driver.core.advance(ready)
        driver.propose(ops)
        ready = driver.core.ready()
        outbox, _, _ = apply.apply(ready)
        driver.core.advance(ready)
        driver.replies += [reply for _, reply in outbox.replies]
    apply.flush()
    assert driver.replies == expected_replies
    assert store.kv_items() == expected_store.kv_items()

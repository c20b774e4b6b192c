"""What the simulator relies on from MemoryStore beyond the shared contract."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from protocol.messages import Ballot, InstanceId, InstanceRecord, Status
from storage.interface import StorageError, Txn, Value, ValueType, key_hash
from storage.memory import MemoryStore

REPO = Path(__file__).resolve().parents[2]


def string(payload: bytes, expire_ms: int = 0) -> Value:
    return Value(ValueType.STRING, expire_ms, payload)


def test_a_clone_does_not_see_later_writes_and_the_original_does_not_see_its_writes() -> None:
    store = MemoryStore()
    store.write(lambda txn: txn.put(b"shared", string(b"1", 10)))
    twin = store.clone()
    store.write(lambda txn: txn.put(b"only-original", string(b"2", 20)))
    twin.write(lambda txn: txn.delete(b"shared"))
    twin.write(lambda txn: txn.set_meta("twin", b"yes"))
    assert [k for k, _ in store.kv_items()] == sorted(
        [b"shared", b"only-original"], key=lambda k: (key_hash(k), k)
    )
    assert store.read(lambda view: view.expiring(100, 10)) == [b"shared", b"only-original"]
    assert twin.kv_items() == []
    assert twin.read(lambda view: view.expiring(100, 10)) == []
    assert store.get_meta("twin") is None


def test_clone_inside_a_write_is_refused() -> None:
    store = MemoryStore()

    def clone_mid_write(txn: Txn) -> None:
        txn.put(b"uncommitted", string(b""))
        store.clone()

    with pytest.raises(StorageError, match="uncommitted"):
        store.write(clone_mid_write)
    assert store.kv_items() == []


def test_reopen_sees_exactly_the_committed_state_and_retires_the_old_handle() -> None:
    store = MemoryStore()
    executed = InstanceRecord(
        InstanceId(1, 0), Status.COMMITTED, (), 0, (-1,), Ballot(0, 0, 1), Ballot(0, 0, 1)
    )

    def commit(txn: Txn) -> None:
        txn.put(b"k", string(b"v"))
        txn.put_instances([executed])
        txn.mark_executed([executed.id])

    store.write(commit)

    def fail_half_way(txn: Txn) -> None:
        txn.put(b"lost", string(b""))
        raise RuntimeError("fn failed half-way")

    with pytest.raises(RuntimeError):
        store.write(fail_half_way)
    restarted = store.reopen()
    assert restarted.kv_items() == [(b"k", string(b"v"))]
    assert [r.status for r in restarted.load().records] == [Status.EXECUTED]
    with pytest.raises(StorageError, match="closed"):
        store.read(lambda view: view.count())


WORKLOAD = """
import random
from storage.interface import Value, ValueType
from storage.memory import MemoryStore

rng = random.Random(7)
store = MemoryStore()
for step in range(400):
    key = b"k%d" % rng.randrange(60)
    def change(txn, key=key, roll=rng.random(), expire=rng.randrange(0, 50)):
        if roll < 0.6:
            txn.put(key, Value(ValueType.STRING, expire, key))
        elif roll < 0.95:
            txn.delete(key)
        else:
            txn.clear()
    store.write(change)
pages, cursor = [], 0
for _ in range(100):
    cursor, keys = store.read(lambda v, c=cursor: v.scan(c, 3))
    pages.append(keys)
    if cursor == 0:
        break
print(store.kv_items())
print(pages)
print([store.read(lambda v, s=s: v.random_key(s)) for s in range(40)])
print(store.read(lambda v: v.expiring(25, 20)))
"""


def test_the_same_writes_give_the_same_state_whatever_the_hash_seed() -> None:
    """The simulator replays a seed exactly, so nothing may depend on Python's hash order."""
    outputs = []
    for hash_seed in ("0", "1", "4242"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        run = subprocess.run(
            [sys.executable, "-c", WORKLOAD],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO,
            env=env,
        )
        assert run.returncode == 0, run.stderr
        outputs.append(run.stdout)
    assert outputs[0] == outputs[1] == outputs[2]
    assert outputs[0].count("\n") == 4 and "b'k" in outputs[0]

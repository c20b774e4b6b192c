"""Commands behave identically over MemoryStore and LmdbStore.

Replicas in the simulator run on MemoryStore and in production on LmdbStore;
a reply or a state that differed between them would split replicas. Both
run the same generated commands (SCAN pages, RANDOMKEY picks and the expiry
sweep included) and must agree on every reply and on the final state.
"""

from __future__ import annotations

from pathlib import Path

from epaxosdb.commands import expired_sweep_op, prepare
from protocol.messages import Command
from protocol.replies import Error
from storage.interface import Store, Value, ValueType
from storage.lmdb_store import LmdbStore
from storage.memory import MemoryStore
from tests.commands.differential import execute_like_a_replica as run
from tests.commands.differential import injected_value
from tests.commands.test_differential_random import Generator

T0 = 1_700_000_000_000




def _put(store: Store, key: bytes, value: Value) -> None:
    store.write(lambda txn: txn.put(key, value))


def _sweep_op(store: Store, now: int) -> tuple[bytes, ...] | None:
    return store.read(lambda kv: expired_sweep_op(kv, now, 100))


def test_memory_and_lmdb_stores_give_the_same_replies_and_state(tmp_path: Path) -> None:
    memory = MemoryStore()
    lmdb = LmdbStore.open(tmp_path / "data", replica_id=1, cluster_id=b"test")
    try:
        generator = Generator(seed=5)
        swept = 0
        for step in range(1200):
            now = T0 + step * 20_000  # 20 s a step: TTLs of 100 s and up run out
            mode, args = generator.request()
            if mode == "inject":
                for store in (memory, lmdb):
                    _put(store, args[1], injected_value(ValueType(int(args[2]))))
                continue
            if step % 3 == 0:
                sweep = _sweep_op(memory, now)
                assert sweep == _sweep_op(lmdb, now)
                if sweep is None:
                    continue
                swept += len(sweep) - 1
                op: tuple[bytes, ...] | Error = sweep
            else:
                op = prepare(args, now)
            if isinstance(op, Error):
                continue
            cmd = Command(origin=2, id=step, time_ms=now, ops=(op,))
            assert run(memory, cmd) == run(lmdb, cmd), (step, op)
        assert memory.kv_items() == lmdb.kv_items()
        assert swept > 0
    finally:
        lmdb.close()

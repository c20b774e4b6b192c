"""Installing a peer's snapshot into a joining replica's store (``epaxosdb.snapshot``)."""

from __future__ import annotations

from epaxosdb import snapshot
from epaxosdb.commands.functions import encode_registry
from epaxosdb.core.state import META_GC_WATERMARK, META_JOIN_BOUND, META_NEXT_INSTANCE
from protocol.messages import Ballot, Command, InstanceId, InstanceRecord, Status
from storage.interface import Store, Txn, Value, ValueType
from storage.memory import MemoryStore
from tests.storage.conftest import Opened

B0 = Ballot(0, 0, 1)
LIBRARIES = encode_registry({
    b"mylib": b"#!lua name=mylib\nredis.register_function('f', function(keys, args) return 1 end)",
})  # fmt: skip


def libraries(store: Store) -> bytes:
    return store.read(lambda view: view.functions())


def record(replica: int, index: int, status: Status) -> InstanceRecord:
    cmd = Command(replica, index + 1, 0, ((b"SET", b"k", b"v"),))
    return InstanceRecord(InstanceId(replica, index), status, (cmd,), 1, (-1, -1, -1), B0, B0, True)


def fill_source(opened: Opened) -> None:
    def write(txn: Txn) -> None:
        for n in range(25):
            txn.put(b"key:%d" % n, Value(ValueType.STRING, 0, b"%d" % n))
        txn.put(b"ttl", Value(ValueType.STRING, 1_900_000_000_000, b"x"))
        txn.put_instances([
            record(1, 5, Status.COMMITTED), record(1, 6, Status.COMMITTED),
            record(2, 3, Status.PREACCEPTED), record(3, 0, Status.ACCEPTED),
        ])  # fmt: skip
        txn.mark_executed([InstanceId(1, 5)])
        txn.set_meta(META_GC_WATERMARK, b"4,2,-1")
        txn.set_meta(META_NEXT_INSTANCE, b"7")
        txn.set_functions(LIBRARIES)

    opened.store.write(write)


def test_a_snapshot_carries_state_committed_instances_and_the_gc_watermark_only(
    opened: Opened,
) -> None:
    fill_source(opened)
    target = MemoryStore()
    target.write(lambda txn: txn.put(b"stale", Value(ValueType.STRING, 0, b"old")))
    target.write(lambda txn: txn.set_functions(encode_registry({b"stale": b"old code"})))
    snapshot.install(target, snapshot.snapshot_of(opened.store), (6, 3, 9), 2)
    assert target.kv_items() == opened.store.kv_items()
    assert libraries(target) == LIBRARIES
    loaded = target.load()
    assert {r.id: r.status for r in loaded.records} == {
        InstanceId(1, 5): Status.EXECUTED,
        InstanceId(1, 6): Status.COMMITTED,
    }  # votes (PREACCEPTED, ACCEPTED) are the source's, not the joiner's
    assert loaded.meta[META_GC_WATERMARK] == b"4,2,-1"
    assert loaded.meta[META_NEXT_INSTANCE] == b"10"  # its own row continues above the bound
    assert loaded.meta[META_JOIN_BOUND] == b"6,3,9"
    assert not snapshot.discard_incomplete(target)


def test_an_interrupted_install_is_discarded_on_start(opened: Opened) -> None:
    fill_source(opened)
    opened.store.write(lambda txn: txn.set_meta(snapshot.META_SNAPSHOT_INCOMPLETE, b"1"))
    opened.reopen()
    assert snapshot.discard_incomplete(opened.store)
    loaded = opened.store.load()
    assert loaded.records == []
    assert opened.store.kv_items() == []
    assert libraries(opened.store) == b""  # a discarded state keeps no libraries either
    assert not any(loaded.meta.get(m) for m in (META_GC_WATERMARK, META_NEXT_INSTANCE))
    assert not snapshot.discard_incomplete(opened.store)


def test_a_snapshot_without_libraries_leaves_the_joiner_without_its_old_ones(
    opened: Opened,
) -> None:
    opened.store.write(lambda txn: txn.put(b"k", Value(ValueType.STRING, 0, b"v")))
    taken = snapshot.snapshot_of(opened.store)
    assert taken.functions == b""
    target = MemoryStore()
    target.write(lambda txn: txn.set_functions(LIBRARIES))
    snapshot.install(target, taken, (0, 0, 0), 0)
    assert libraries(target) == b""
    assert target.kv_items() == opened.store.kv_items()

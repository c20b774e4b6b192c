"""Lists changed step after step (``ListContents``, carried like hashes).

A list being changed keeps the stored records it has not touched where they
are; the consensus loop carries it from step to step and writes it back once
per flush of the deferred writes, copying those records once. What must hold:
a queue pushed onto step after step packs each pushed element once and
decodes none of the backlog, and is encoded once per flush; under light load
(a flush after every step, on LMDB) each push still packs only itself;
readers of a carried list read it as carried, without encoding it; and the
state ends as the same commands run one by one on a store
(``test_carried_collections`` compares that for every list command).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from epaxosdb.commands import packed_list, workspace
from epaxosdb.commands.lists import LISTS, decode_list
from epaxosdb.core.ready import Executed, Ready
from epaxosdb.node import DeferredApply, FlushPolicy
from protocol.messages import Command, InstanceId
from storage.interface import Store
from storage.lmdb_store import LmdbStore
from storage.memory import MemoryStore
from tests.commands.test_carried_collections import _execute_plainly
from tests.commands.test_workspace import T0


def _rpush_steps(count: int, elements: int) -> list[Ready]:
    """One RPUSH per step onto a list of ``elements`` 16-byte elements (the first step)."""
    fill = (b"RPUSH", b"q", *[b"%016d" % i for i in range(elements)])
    cmds = [Command(1, 1, T0, (fill,))] + [
        Command(1, i, T0 + i, ((b"RPUSH", b"q", b"%016d" % -i),)) for i in range(2, count + 2)
    ]
    return [Ready(to_execute=[Executed(InstanceId(1, cmd.id), (cmd,))]) for cmd in cmds]


class _Work:
    """What lists cost, counted: encodings, elements packed, stored records decoded."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.encodes = self.packed = self.decoded = 0
        encode, records, decode = LISTS.encode, packed_list._records, packed_list.decode_records

        def counting_encode(contents: object) -> bytes:
            self.encodes += 1
            return encode(contents)  # type: ignore[arg-type]

        def counting_records(elements: list[bytes]) -> memoryview:
            self.packed += len(elements)
            return records(elements)

        def counting_decode(packed: packed_list.Packed, start: int, stop: int, *at: int) -> object:
            self.decoded += stop - start
            return decode(packed, start, stop, *at)

        monkeypatch.setattr(LISTS, "encode", counting_encode)
        monkeypatch.setattr(packed_list, "_records", counting_records)
        monkeypatch.setattr(packed_list, "decode_records", counting_decode)
        monkeypatch.setattr(workspace, "AUDIT", False)  # the audit encodes to compare


def _stored_list(store: Store) -> list[bytes]:
    stored = store.read(lambda kv: kv.get(b"q"))
    assert stored is not None
    return decode_list(stored.payload)


def test_a_queue_pushed_onto_step_after_step_packs_each_element_once_per_flush(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    work = _Work(monkeypatch)
    store = MemoryStore()
    apply = DeferredApply(store, 1, FlushPolicy(instances_max=100))
    for ready in _rpush_steps(249, 1000):
        apply.apply(ready)
    apply.flush()
    # The flushes after the 100th step, the 200th and the last; between them the
    # list is carried, and each element pushed is packed in the flush after its push.
    assert (work.encodes, work.packed, work.decoded) == (3, 1000 + 249, 0)
    plain = MemoryStore()
    for ready in _rpush_steps(249, 1000):
        _execute_plainly(plain, ready)
    assert _stored_list(store) == _stored_list(plain)
    assert len(_stored_list(store)) == 1249


def test_a_list_changed_once_between_flushes_packs_only_what_each_change_adds(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Flushed after every step (a replica under light load), on LMDB, where every read
    of the list is a new copy of its bytes: each push is one encoding that packs the
    pushed element and copies the rest."""
    work = _Work(monkeypatch)
    store = LmdbStore.open(tmp_path, replica_id=1, cluster_id=b"\x01" * 16)
    try:
        apply = DeferredApply(store, 1, FlushPolicy(instances_max=1))
        for ready in _rpush_steps(100, 1000):
            apply.apply(ready)
        apply.flush()
        assert (work.encodes, work.packed, work.decoded) == (101, 1100, 0)
        assert len(_stored_list(store)) == 1100
    finally:
        store.close()


def test_a_reader_of_a_carried_list_reads_it_without_encoding_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """LLEN, LINDEX and LRANGE of a list the steps carry read the carried contents: the
    records they name, the pushed elements, nothing encoded."""
    work = _Work(monkeypatch)
    store = MemoryStore()
    apply = DeferredApply(store, 1)
    fill, *pushes = _rpush_steps(3, 1000)
    apply.apply(fill)
    apply.flush()
    for ready in pushes:
        apply.apply(ready)
    assert isinstance(apply.unflushed.carried.get(b"q"), workspace.Held)
    reads = (
        (b"LLEN", b"q"),
        (b"LINDEX", b"q", b"-1"),
        (b"LRANGE", b"q", b"998", b"1001"),
        (b"LRANGE", b"q", b"0", b"1"),
    )
    cmd = Command(1, 1000, T0 + 1000, reads, multi=True)
    work.encodes = work.decoded = 0
    outbox, _, _ = apply.apply(Ready(to_execute=[Executed(InstanceId(1, 1000), (cmd,))]))
    assert outbox.replies[0][1] == [
        1003,
        b"%016d" % -4,
        [b"%016d" % 998, b"%016d" % 999, b"%016d" % -2, b"%016d" % -3],
        [b"%016d" % 0, b"%016d" % 1],
    ]
    assert work.encodes == 0
    assert work.decoded == 4  # records 998, 999, 0 and 1 of the 1,000 stored

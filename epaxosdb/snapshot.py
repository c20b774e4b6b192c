"""Snapshots: copying a member's state into a joining replica's store.

A replica started on an empty data directory in a cluster that holds data
(``epaxosdb.core.joining``) cannot learn its state from the log alone: log GC
deleted what every replica had executed. It takes a *snapshot* of one peer
instead — the peer's key-value state and function libraries, its committed
instances (marked where that state includes them) and its GC watermark, all
read from one consistent view of the peer's store — and restarts from it with its join bound.

Both drivers use this module: the simulator copies a peer's ``MemoryStore``
directly, the trio runtime transfers a copy of the peer's LMDB file
(``runtime.snapshots``) and reads it here. Instances not committed at the peer
are not copied: they are the peer's votes, not this replica's, and counting
them twice could make a recovery believe a fast quorum had formed.

The install takes several transactions (a large keyspace does not fit one
comfortably), so the store says it is incomplete until the last one; a replica
that finds that mark on start discards the partial copy and joins again.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from itertools import islice
from typing import TypeVar

from epaxosdb.core.state import (
    META_GC_FLOOR,
    META_GC_WATERMARK,
    META_JOIN_BOUND,
    META_JOINING,
    META_NEXT_INSTANCE,
    encode_rows,
)
from protocol.messages import Deps, InstanceRecord, Status
from storage.interface import KeyValueView, Store, Txn, Value

META_SNAPSHOT_INCOMPLETE = "snapshot_incomplete"
INSTALL_BATCH = 10_000
"""Keys, or instances, per install transaction."""

_T = TypeVar("_T")
_CONSENSUS_META = (META_NEXT_INSTANCE, META_GC_WATERMARK, META_JOIN_BOUND, META_GC_FLOOR)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A member's state as a joiner takes it (see the module docstring)."""

    records: list[InstanceRecord]
    """Committed instances only; EXECUTED where the key-value state includes them."""
    kv: Iterable[tuple[bytes, Value]]
    gc_watermark: bytes
    gc_floor: bytes = b""
    """The source's GC floor (``core.laggards``): a peer it left behind may still lack
    what it deleted, so the joiner's attributes must reach the floor as its own do."""
    functions: bytes = b""
    """The source's function libraries (``KeyValueView.functions``): replicated state as
    its keys are, which no instance the joiner executes later would bring back."""


def snapshot_of(store: Store) -> Snapshot:
    """The snapshot of ``store``; its keys are read lazily, a batch per transaction.

    The caller guarantees that nothing writes ``store`` meanwhile (the
    simulator between steps; the runtime reads a private copy of the file), so
    the libraries, read now, and the keys, read later, are of one state."""
    recovered = store.load()
    records = [r for r in recovered.records if r.status >= Status.COMMITTED]
    meta = recovered.meta
    return Snapshot(
        records,
        _items(store),
        meta.get(META_GC_WATERMARK) or b"",
        meta.get(META_GC_FLOOR) or b"",
        store.read(lambda view: view.functions()),
    )


def _items(store: Store) -> Iterator[tuple[bytes, Value]]:
    def batch(view: KeyValueView, cursor: int) -> tuple[int, list[tuple[bytes, Value]]]:
        cursor, keys = view.scan(cursor, INSTALL_BATCH)
        out = []
        for key in keys:
            value = view.get(key)
            if value is not None:
                out.append((key, value))
        return cursor, out

    cursor = 0
    while True:
        cursor, items = store.read(functools.partial(batch, cursor=cursor))
        yield from items
        if cursor == 0:
            return


def _batches(items: Iterable[_T], size: int) -> Iterator[list[_T]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def install(store: Store, snapshot: Snapshot, bound: Deps, own_position: int) -> None:
    """Replace everything the store holds with ``snapshot``, joining with ``bound``."""
    discard(store, incomplete=True)

    def put_keys(batch: list[tuple[bytes, Value]]) -> None:
        def write(txn: Txn) -> None:
            for key, value in batch:
                txn.put(key, value)

        store.write(write)

    for keys in _batches(snapshot.kv, INSTALL_BATCH):
        put_keys(keys)

    def put_records(records: list[InstanceRecord]) -> None:
        def write(txn: Txn) -> None:
            txn.put_instances(
                replace(r, status=Status.COMMITTED) if r.status == Status.EXECUTED else r
                for r in records
            )
            txn.mark_executed(r.id for r in records if r.status == Status.EXECUTED)

        store.write(write)

    for records in _batches(snapshot.records, INSTALL_BATCH):
        put_records(records)

    def finish(txn: Txn) -> None:
        txn.set_functions(snapshot.functions)
        # The snapshot holds no instance of this replica's row above the bound: the
        # bound is the highest one any peer, the snapshot's source included, knew.
        txn.set_meta(META_GC_WATERMARK, snapshot.gc_watermark)
        txn.set_meta(META_GC_FLOOR, snapshot.gc_floor)
        txn.set_meta(META_NEXT_INSTANCE, str(bound[own_position] + 1).encode())
        txn.set_meta(META_JOIN_BOUND, encode_rows(bound))
        txn.set_meta(META_SNAPSHOT_INCOMPLETE, b"")

    store.write(finish)


def discard(store: Store, *, incomplete: bool) -> None:
    """Empty the store of state (keys and function libraries) and instances;
    ``incomplete``: an install follows, and a start that finds the mark discards
    again. Either way the directory is new again (``META_JOINING``) until the
    replica has joined."""
    ids = [r.id for r in store.load().records]

    def wipe(txn: Txn) -> None:
        txn.set_meta(META_SNAPSHOT_INCOMPLETE, b"1" if incomplete else b"")
        txn.set_meta(META_JOINING, b"1")  # nothing left to vote with: join again
        txn.clear()
        txn.set_functions(b"")  # ``clear`` keeps them, as FLUSHALL must; a wipe does not
        txn.delete_instances(ids)
        for name in _CONSENSUS_META:
            txn.set_meta(name, b"")

    store.write(wipe)


def discard_incomplete(store: Store) -> bool:
    """On start: throw away a half-installed snapshot (then the replica joins again)."""
    if not store.get_meta(META_SNAPSHOT_INCOMPLETE):
        return False
    discard(store, incomplete=False)
    return True

"""MemoryStore: the storage contract on plain Python containers.

The simulator runs every replica on one of these, "crashes" a replica by
throwing away everything except its store, and restarts it from ``load()``.
So the store must hold exactly what committed writes left, and must be
deterministic: no I/O, no clock, and no iteration over sets or hash order
(``PYTHONHASHSEED`` varies bytes hashing between runs). Ordered views come
from sorted lists kept up to date with ``bisect``; that costs O(n) per new
key, which is fine for simulated keyspaces.

Atomicity works by journaling: a write transaction changes the live state
and records how to undo each change; if ``fn`` raises, the journal is played
backwards. Nothing else can observe the intermediate state because the
simulator is single-threaded and ``write`` refuses to nest.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TypeVar

from protocol.messages import InstanceId, InstanceRecord, Status
from storage import keyspace
from storage.buffered import counts_with
from storage.interface import (
    NO_EXPIRY,
    KeyValueView,
    Reader,
    Recovered,
    StorageError,
    Txn,
    Value,
    ValueHeader,
    header_of,
    key_hash,
)
from storage.keys import check_meta_name, instance_key
from storage.values import check_key, check_value

T = TypeVar("T")

_Undo = Callable[[], None]
_Entry = TypeVar("_Entry", tuple[int, bytes], tuple[int, int, bytes])
_Name = TypeVar("_Name", InstanceId, str)
_Item = TypeVar("_Item", InstanceRecord, bytes, None)


@dataclasses.dataclass
class _State:
    """Everything a MemoryStore keeps; ``clone`` copies the containers, not the values."""

    kv: dict[bytes, Value] = dataclasses.field(default_factory=dict)
    order: list[tuple[int, bytes]] = dataclasses.field(default_factory=list)
    expiry: list[tuple[int, int, bytes]] = dataclasses.field(default_factory=list)
    instances: dict[InstanceId, InstanceRecord] = dataclasses.field(default_factory=dict)
    executed: dict[InstanceId, None] = dataclasses.field(default_factory=dict)
    meta: dict[str, bytes] = dataclasses.field(default_factory=dict)
    functions: bytes = b""
    """The function registry's blob (``KeyValueView.functions``); ``b""``: no libraries."""

    def copy(self) -> _State:
        return _State(
            kv=dict(self.kv),
            order=list(self.order),
            expiry=list(self.expiry),
            instances=dict(self.instances),
            executed=dict(self.executed),
            meta=dict(self.meta),
            functions=self.functions,
        )

    def set_key(self, key: bytes, value: Value | None) -> None:
        """Make ``key`` hold ``value`` (``None``: absent), keeping both indexes in step."""
        old = self.kv.get(key)
        h = key_hash(key)
        if old is not None and old.expire_ms:
            _remove_sorted(self.expiry, (old.expire_ms, h, key))
        if value is None:
            if old is not None:
                del self.kv[key]
                _remove_sorted(self.order, (h, key))
            return
        if old is None:
            bisect.insort(self.order, (h, key))
        self.kv[key] = value
        if value.expire_ms:
            bisect.insort(self.expiry, (value.expire_ms, h, key))


def _remove_sorted(items: list[_Entry], item: _Entry) -> None:
    i = bisect.bisect_left(items, item)
    if i == len(items) or items[i] != item:
        raise AssertionError(f"index out of step with the key-value map: {item!r} missing")
    del items[i]


class _MemoryView:
    """The KeyValueView (and, when writable, the Txn) over a MemoryStore's state.

    A finished transaction refuses every call, as an LMDB one does, so code
    that leaks a txn out of ``write`` fails in the simulator too.
    """

    def __init__(self, state: _State, *, writable: bool) -> None:
        self._state = state
        self._writable = writable
        self._open = True
        self._journal: list[_Undo] = []

    # --- lifecycle -----------------------------------------------------------

    def _finish(self) -> None:
        self._open = False
        self._journal = []

    def _rollback(self) -> None:
        for undo in reversed(self._journal):
            undo()
        self._finish()

    def _check_open(self) -> _State:
        if not self._open:
            raise StorageError("this transaction has finished; use the txn only inside fn")
        return self._state

    def _check_writable(self) -> _State:
        state = self._check_open()
        if not self._writable:
            raise StorageError("read() gives a read-only view; change state with write()")
        return state

    # --- key-value state -----------------------------------------------------

    def get(self, key: bytes) -> Value | None:
        check_key(key)
        return self._check_open().kv.get(key)

    def header(self, key: bytes) -> ValueHeader | None:
        value = self.get(key)
        return None if value is None else header_of(value)

    def read_in_place(self, key: bytes, reader: Reader[T]) -> T | None:
        value = self.get(key)
        return None if value is None else reader(header_of(value), value.payload)

    def put(self, key: bytes, value: Value) -> None:
        check_key(key)
        check_value(value)
        state = self._check_writable()
        old = state.kv.get(key)
        state.set_key(key, value)
        self._journal.append(lambda: state.set_key(key, old))

    def delete(self, key: bytes) -> bool:
        check_key(key)
        state = self._check_writable()
        old = state.kv.get(key)
        if old is None:
            return False
        state.set_key(key, None)
        self._journal.append(lambda: state.set_key(key, old))
        return True

    def apply_writes(self, writes: Mapping[bytes, Value | None]) -> None:
        for key, value in writes.items():
            if value is None:
                self.delete(key)
            else:
                self.put(key, value)

    def count(self) -> int:
        return len(self._check_open().kv)

    def scan(self, cursor: int, count: int) -> tuple[int, list[bytes]]:
        self._check_open()
        return keyspace.scan(self._groups_from, cursor, count)

    def iter_keys(self) -> Iterator[bytes]:
        self._check_open()
        return keyspace.iter_keys(self.scan)

    def random_key(self, seed: int) -> bytes | None:
        self._check_open()
        return keyspace.random_key(self._groups_from, seed)

    def expiring(self, before_ms: int, limit: int) -> list[bytes]:
        keyspace.check_limit(limit)
        state = self._check_open()
        keys: list[bytes] = []
        for expire_ms, _, key in state.expiry:
            if expire_ms > before_ms or len(keys) >= limit:
                break
            keys.append(key)
        return keys

    def expiry_floor(self) -> int:
        expiry = self._check_open().expiry
        return expiry[0][0] if expiry else NO_EXPIRY

    def clear(self) -> None:
        state = self._check_writable()
        kv, order, expiry = state.kv, state.order, state.expiry
        state.kv, state.order, state.expiry = {}, [], []

        def undo() -> None:
            state.kv, state.order, state.expiry = kv, order, expiry

        self._journal.append(undo)

    def functions(self) -> bytes:
        return self._check_open().functions

    def set_functions(self, blob: bytes) -> None:
        if type(blob) is not bytes:
            raise TypeError(f"the function registry is bytes, got {type(blob).__name__}")
        state = self._check_writable()
        old = state.functions
        state.functions = blob

        def undo() -> None:
            state.functions = old

        self._journal.append(undo)

    def _groups_from(self, position: int) -> Iterator[keyspace.Group]:
        order = self._state.order
        i = bisect.bisect_left(order, (position, b""))
        while i < len(order):
            group_hash = order[i][0]
            keys: list[bytes] = []
            while i < len(order) and order[i][0] == group_hash:
                keys.append(order[i][1])
                i += 1
            yield group_hash, keys

    # --- consensus records ---------------------------------------------------

    def put_instances(self, records: Iterable[InstanceRecord]) -> None:
        state = self._check_writable()
        for record in records:
            if not isinstance(record, InstanceRecord):
                raise TypeError(f"expected an InstanceRecord, got {type(record).__name__}")
            instance_key(record.id)  # the same range check as on disk
            self._remember(state.instances, record.id)
            state.instances[record.id] = record

    def mark_executed(self, ids: Iterable[InstanceId]) -> None:
        state = self._check_writable()
        for inst in ids:
            instance_key(inst)
            self._remember(state.executed, inst)
            state.executed[inst] = None

    def delete_instances(self, ids: Iterable[InstanceId]) -> None:
        state = self._check_writable()
        for inst in ids:
            instance_key(inst)
            self._remember(state.instances, inst)
            self._remember(state.executed, inst)
            state.instances.pop(inst, None)
            state.executed.pop(inst, None)

    def set_meta(self, name: str, value: bytes) -> None:
        check_meta_name(name)
        if type(value) is not bytes:
            raise TypeError(f"metadata values are bytes, got {type(value).__name__}")
        state = self._check_writable()
        self._remember(state.meta, name)
        state.meta[name] = value

    def get_meta(self, name: str) -> bytes | None:
        check_meta_name(name, internal=True)
        return self._check_open().meta.get(name)

    def _remember(self, table: dict[_Name, _Item], name: _Name) -> None:
        """Journal the current entry of ``table[name]`` (or its absence)."""
        if name in table:
            old = table[name]

            def restore() -> None:
                table[name] = old

            self._journal.append(restore)
        else:

            def forget() -> None:
                table.pop(name, None)

            self._journal.append(forget)


class MemoryStore:
    """A Store on dicts and sorted lists: deterministic, no I/O, for the simulator and tests."""

    def __init__(self) -> None:
        self._state = _State()
        self._writing = False
        self._closed = False

    def write(self, fn: Callable[[Txn], T]) -> T:
        """Run ``fn`` on the live state; if it raises, undo every change it made."""
        self._check_usable()
        if self._writing:
            raise StorageError("write() called inside another write(); use the txn you were given")
        txn = _MemoryView(self._state, writable=True)
        self._writing = True
        try:
            result = fn(txn)
        except BaseException:
            txn._rollback()
            raise
        finally:
            self._writing = False
        txn._finish()
        return result

    def read(self, fn: Callable[[KeyValueView], T]) -> T:
        self._check_reading()
        view = _MemoryView(self._state, writable=False)
        try:
            return fn(view)
        finally:
            view._finish()

    def load(self) -> Recovered:
        """Every stored instance (EXECUTED where marked) in id order, and the metadata."""
        self._check_reading()
        state = self._state
        records = []
        for inst in sorted(state.instances):
            record = state.instances[inst]
            if inst in state.executed and record.status != Status.EXECUTED:
                record = dataclasses.replace(record, status=Status.EXECUTED)
            records.append(record)
        return Recovered(records=records, meta=dict(sorted(state.meta.items())))

    def get_meta(self, name: str) -> bytes | None:
        self._check_reading()
        check_meta_name(name, internal=True)
        return self._state.meta.get(name)

    def clone(self) -> MemoryStore:
        """An independent copy of the committed state (values are immutable, so shared)."""
        self._check_usable()
        if self._writing:
            raise StorageError("clone() inside write() would copy uncommitted changes")
        twin = MemoryStore()
        twin._state = self._state.copy()
        return twin

    def key_counts(self, pending: Sequence[Mapping[bytes, Value | None]] = ()) -> tuple[int, int]:
        self._check_reading()
        keys, expiring = len(self._state.kv), len(self._state.expiry)
        if not pending:
            return keys, expiring
        return self.read(lambda view: counts_with(view, keys, expiring, pending))

    def kv_items(self) -> list[tuple[bytes, Value]]:
        """Every key and value in scan order: what checkers compare between replicas."""
        self._check_reading()
        return [(key, self._state.kv[key]) for _, key in self._state.order]

    def reopen(self) -> MemoryStore:
        """Close this handle and return a new one on the same committed state.

        The in-memory twin of closing an LmdbStore and opening its data dir
        again: what a simulated crash-and-restart does.
        """
        self._check_usable()
        if self._writing:
            raise StorageError("reopen() inside write()")
        twin = MemoryStore()
        twin._state = self._state
        self._closed = True
        return twin

    def close(self) -> None:
        """Make this handle unusable; the state lives on in handles from ``reopen``."""
        self._closed = True

    def _check_usable(self) -> None:
        if self._closed:
            raise StorageError("this store is closed")

    def _check_reading(self) -> None:
        """Refuse store-level reads inside ``write``, as LmdbStore does.

        LMDB would answer them from the last commit, not from the open
        transaction; refusing in both keeps simulator and production alike.
        """
        self._check_usable()
        if self._writing:
            raise StorageError("read from the store inside write(); use the txn you were given")

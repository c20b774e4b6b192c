"""``Workspace``: the collections one multi-op command changes, kept decoded until it ends.

Why: a hash, list, set, sorted set or stream is stored as one encoded value, so a
command that changes it decodes the value, changes it and encodes it again —
a cost in proportion to its size. That is fine for one command; but a MULTI,
a pipelined run or a script may change the same collection thousands of
times, and then the copies add up to the square of its size (20,000 SADDs in
one EVAL took 9.7 s), while the consensus loop, which executes it, answers
nothing else. Inside a workspace, a collection is decoded at most once and
encoded once, when the command ends: handlers get the workspace's own decoded
contents back from ``Kind.load`` and hand them back to ``Kind.store``, which
keeps them here instead of encoding them.

Everything else reads and writes through the workspace as through any
``KeyValueView``: ``get``, ``header`` and ``read_in_place`` of a held key
encode it first (TYPE, TTL, DUMP, RENAME see exactly what a store would
hold), a ``put`` or ``delete`` replaces what is held, and the keyspace-wide
operations (DBSIZE, SCAN...) write everything held first. So a command runs
the same with or without a workspace; only the number of encodings differs.

Across steps: in the consensus loop a workspace runs over a ``BufferedView``,
whose writes wait in memory for a later transaction. There a changed
collection is not encoded when the step ends either: the view keeps a
placeholder and this ``Held`` (``BufferedView.carry``), and the next step that
changes the key takes the decoded contents over (``adopt``), so a big hash
changed by one client, one command at a time, is encoded once per flush of the
deferred writes instead of once per command. A step that may be thrown away
(it holds a keyspace-wide command, which can make it run again inside a
transaction) does not take anything over: it would change the contents the
pending writes hold, which must stay as the earlier steps left them.

The contract this rests on: **a handler that changes the contents
``Kind.load`` gave it stores them** (``Kind.store``), on every path, errors
included — outside a workspace an unstored change vanishes with the copy it
was made on, inside one it would leak into what the next op sees. Handlers
check their arguments before they change anything, as Redis's do. With
``AUDIT`` set (the tests set it) every lent collection is compared at the
end of each op with what it held when lent, and an unstored change fails
loudly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol, TypeVar

from storage.buffered import CARRIED, BufferedView, NeedsTransaction
from storage.interface import (
    NO_EXPIRY,
    KeyValueView,
    Reader,
    StorageError,
    Value,
    ValueHeader,
    ValueType,
)

T = TypeVar("T")

AUDIT = False
"""Check the contract above after every op (costs an encoding per lent collection:
for tests, never in production)."""


class UnstoredChange(Exception):
    """The audit found a handler that changed a lent collection and did not store it: a
    bug in that handler, which must fail the test rather than become an error reply."""


class Holder(Protocol):
    """What a workspace needs of a collection kind (``containers.Kind``)."""

    def encode(self, contents: Any) -> bytes: ...

    def remember(self, payload: bytes, contents: Any) -> None: ...

    def size_of(self, contents: Any) -> int: ...


class Held:
    """One collection kept decoded: its kind, contents and expiry, and whether the store
    holds them yet (``stored``)."""

    __slots__ = ("contents", "expire_ms", "kind", "size", "stored", "type")

    def __init__(
        self, kind: Holder, value_type: ValueType, contents: Any, expire_ms: int, size: int = 0
    ) -> None:
        self.kind = kind
        self.type = value_type
        self.contents = contents
        self.expire_ms = expire_ms
        self.size = size
        """The size of the payload the contents were decoded from (0: none)."""
        self.stored: bytes | None = None
        """The payload the store holds for these contents (``CARRIED``: a placeholder for
        this very object), ``None`` while they changed since (or were never stored)."""

    def encode(self) -> bytes:
        """The contents' payload now (``storage.buffered.Carried``)."""
        return self.kind.encode(self.contents)

    def written(self, payload: bytes) -> None:
        """The contents, encoded as ``payload``, leave the deferred writes for the store:
        no step changes them any more, so the next that loads the key may start from them
        (``Kind.remember``) rather than decode what it reads."""
        self.kind.remember(payload, self.contents)

    def size_hint(self) -> int:
        """Roughly the bytes the contents take, for bounding deferred writes."""
        return max(self.size, self.kind.size_of(self.contents))


class Workspace:
    """A ``KeyValueView`` over ``kv`` that holds changed collections decoded; see the
    module docstring. ``close()`` writes what is held into ``kv``."""

    __slots__ = ("_adopt", "_floor", "_held", "_kv", "_lent", "_view")

    def __init__(self, kv: KeyValueView, *, carry: bool = False, adopt: bool = False) -> None:
        """``carry``: leave what changed decoded in ``kv`` if it is a ``BufferedView``, for a
        caller that resolves what it carries before a transaction gets its writes (the
        consensus loop's ``node.Effects``); ``adopt``: take collections it carries over."""
        self._kv = kv
        self._view = kv if carry and type(kv) is BufferedView else None
        """``kv`` when it carries what changed decoded rather than encoded."""
        self._adopt = adopt and self._view is not None
        """Whether collections ``kv`` carries decoded may be taken over and changed."""
        self._held: dict[bytes, Held] = {}
        self._floor = NO_EXPIRY
        """The lowest nonzero expiry ever held (a bound, as ``expiry_floor`` allows)."""
        self._lent: dict[bytes, tuple[Holder, Any, bytes]] = {}
        """With ``AUDIT``: contents lent to the running op, and their encoding then."""

    # --- what ``Kind`` asks -----------------------------------------------------------

    def held(self, key: bytes) -> Held | None:
        return self._held.get(key)

    def adopt(self, key: bytes) -> Held | None:
        """Take over the collection an earlier step left decoded at ``key`` (see the module
        docstring), if it did and this workspace may."""
        held = self.carried(key) if self._adopt else None
        if held is not None:
            self._keep(key, held)
        return held

    def retime(self, key: bytes, expire_ms: int) -> bool:
        """Give the collection held (or carried, and takeable) at ``key`` a new expiry,
        still decoded; ``False`` when there is none (the caller rewrites the value)."""
        held = self._held.get(key) or self.adopt(key)
        if held is None:
            return False
        self.hold(key, held.kind, held.type, held.contents, expire_ms, stored=None)
        return True

    def carried(self, key: bytes) -> Held | None:
        """The collection an earlier step left decoded at ``key``, for a reader only."""
        if self._view is None:
            return None
        held = self._view.carried_at(key)
        assert held is None or type(held) is Held
        return held

    def hold(
        self,
        key: bytes,
        kind: Holder,
        value_type: ValueType,
        contents: Any,
        expire_ms: int,
        *,
        stored: bytes | None,
    ) -> Held:
        """Keep ``contents`` as ``key``'s (the workspace's now: the caller must not change
        them unless it stores them again). ``stored``: the payload the store already
        holds for exactly these contents, if it does."""
        held = Held(kind, value_type, contents, expire_ms, len(stored) if stored else 0)
        held.stored = stored
        self._keep(key, held)
        return held

    def _keep(self, key: bytes, held: Held) -> None:
        self._held[key] = held
        if held.expire_ms and held.expire_ms < self._floor:
            self._floor = held.expire_ms
        if AUDIT:
            self._lent.pop(key, None)

    def lend(self, key: bytes, held: Held) -> Any:
        """``held``'s contents for a handler that may change them (and must then store
        them)."""
        if AUDIT and key not in self._lent:
            self._lent[key] = (held.kind, held.contents, held.kind.encode(held.contents))
        return held.contents

    def op_done(self, op: tuple[bytes, ...] = ()) -> None:
        """``op`` ended: with ``AUDIT``, check that it stored whatever it changed."""
        if not self._lent:
            return
        lent, self._lent = self._lent, {}
        for key, (kind, contents, before) in lent.items():
            if kind.encode(contents) != before:
                raise UnstoredChange(f"{op!r} changed the collection at {key!r} without storing it")

    # --- the store's side ------------------------------------------------------------

    def _write(self, key: bytes, held: Held) -> None:
        if held.stored is None:
            if self._view is not None:
                self._view.carry(key, held.type, held.expire_ms, held)
                held.stored = CARRIED
                return
            payload = held.encode()
            self._kv.put(key, Value(held.type, held.expire_ms, payload))
            held.stored = payload

    def flush(self) -> None:
        """Write every changed collection into ``kv`` (they stay held)."""
        for key, held in self._held.items():
            self._write(key, held)

    def close(self) -> None:
        """The command ended: write what changed, and let each kind remember the contents
        of what it wrote, so the next command that loads one gets it without a decode."""
        self.op_done()
        self.flush()
        for held in self._held.values():
            if held.stored is not None and held.stored is not CARRIED:
                held.kind.remember(held.stored, held.contents)
        self._held.clear()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        self.end(exc)

    def end(self, failure: BaseException | None) -> None:
        """Close, unless the step is being thrown away (``failure`` is storage trouble, a
        step that needs a transaction, or the audit's finding). After a handler bug what
        ran before it stays, as it does without a workspace."""
        if not isinstance(failure, (NeedsTransaction, StorageError, UnstoredChange)):
            self.close()

    # --- KeyValueView ----------------------------------------------------------------

    def get(self, key: bytes) -> Value | None:
        held = self._held.get(key)
        if held is not None:
            self._write(key, held)
        return self._kv.get(key)

    def header(self, key: bytes) -> ValueHeader | None:
        held = self._held.get(key)
        if held is not None:
            self._write(key, held)
        return self._kv.header(key)

    def read_in_place(self, key: bytes, reader: Reader[T]) -> T | None:
        held = self._held.get(key)
        if held is not None:
            self._write(key, held)
        return self._kv.read_in_place(key, reader)

    def put(self, key: bytes, value: Value) -> None:
        self._held.pop(key, None)
        if AUDIT:
            self._lent.pop(key, None)  # replaced: what was lent is no longer the key's
        self._kv.put(key, value)

    def delete(self, key: bytes) -> bool:
        held = self._held.pop(key, None)
        if AUDIT:
            self._lent.pop(key, None)
        existed = self._kv.delete(key)
        return existed or held is not None

    def count(self) -> int:
        self.flush()
        return self._kv.count()

    def scan(self, cursor: int, count: int) -> tuple[int, list[bytes]]:
        self.flush()
        return self._kv.scan(cursor, count)

    def iter_keys(self) -> Iterator[bytes]:
        self.flush()
        return self._kv.iter_keys()

    def random_key(self, seed: int) -> bytes | None:
        self.flush()
        return self._kv.random_key(seed)

    def expiring(self, before_ms: int, limit: int) -> list[bytes]:
        self.flush()
        return self._kv.expiring(before_ms, limit)

    def expiry_floor(self) -> int:
        return min(self._kv.expiry_floor(), self._floor)

    def clear(self) -> None:
        self._held.clear()
        self._kv.clear()

    def functions(self) -> bytes:
        return self._kv.functions()

    def set_functions(self, blob: bytes) -> None:
        # Nothing held is a library: the keys this workspace holds stay as they are.
        self._kv.set_functions(blob)


def workspace_for(kv: KeyValueView) -> tuple[Workspace, bool]:
    """A workspace over ``kv`` and whether it is new (the caller then closes it); ``kv``
    itself when it is one already (a script inside a MULTI)."""
    if type(kv) is Workspace:
        return kv, False
    return Workspace(kv), True

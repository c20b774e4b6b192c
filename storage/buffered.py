"""``BufferedView``: execute commands before their write transaction exists.

Why: a replica's throughput is bounded by its write transaction, and most of
that is the fsync, which needs no CPU and no GIL. If the next batch's
commands can run while the previous batch's transaction is still committing,
the two overlap. They cannot run inside the next write transaction (LMDB has
one writer at a time), so they run against this view instead:

* reads come from the batch's own earlier writes, then from the writes of
  batches handed to the writer but not yet committed (``pending``, newest
  first), then from ``base`` — a read view of the last commit;
* writes go to a dict, the batch's *net effect*: each key's final value, or
  ``None`` for a key the batch deleted. ``Txn.apply_writes`` later makes
  exactly that effect inside the one transaction that also stores the
  instance records and marks them executed, so atomicity is unchanged.

Operations that need the whole keyspace (``count``, ``scan``, ``iter_keys``,
``random_key``, ``expiring``) or change all of it (``clear``) are not merged
here: they raise ``NeedsTransaction``, and the caller throws the view away
and runs the batch inside a write transaction instead, once nothing is
pending. Keyspace-wide commands are rare, and refusing is what keeps this
view simple enough to trust. A refused batch leaves no trace: the view's
writes live only in its own dict.

The same checks as the stores run on every ``put``, so a handler bug fails
the same way on either path.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TypeVar

from storage.interface import (
    NO_EXPIRY,
    KeyValueView,
    Reader,
    Value,
    ValueHeader,
    ValueType,
    header_of,
)
from storage.values import EXPIRE_MS_MAX, EXPIRE_MS_MIN, check_key, check_value

LARGE_VALUE_BYTES = 16 << 10
"""Values from this size on are read from the base once per view (``BufferedView._large``);
smaller ones cost less to read again than to remember."""

T = TypeVar("T")

Writes = dict[bytes, Value | None]
"""A batch's net effect on the key-value state: final value per key, ``None`` = deleted."""


class NeedsTransaction(Exception):
    """The view cannot answer this without the whole keyspace: run the batch in a transaction.

    Deliberately not a ``StorageError``: it says nothing is wrong, and callers
    that turn handler exceptions into error replies must let it through.
    """


class BufferedView:
    """A ``KeyValueView`` over ``base`` plus not-yet-committed writes; see the module doc."""

    __slots__ = (
        "_base",
        "_large",
        "_outer_floor",
        "_pending",
        "_pending_floor",
        "writes",
        "writes_floor",
    )

    def __init__(
        self,
        base: KeyValueView,
        pending: Sequence[Mapping[bytes, Value | None]],
        pending_floor: int | None = None,
    ) -> None:
        """``pending_floor``, when the caller knows it, is a lower bound of the nonzero
        expiries among ``pending``'s values (else it is found by reading them all)."""
        self._base = base
        self._pending = pending
        self.writes: Writes = {}
        """This view's own net effect, what ``Txn.apply_writes`` is given."""
        self.writes_floor = NO_EXPIRY
        """The lowest nonzero expiry this view has put (a bound for ``writes``)."""
        self._pending_floor = pending_floor
        self._outer_floor: int | None = None
        """``base``'s and ``pending``'s floor, found by the first ``expiry_floor`` call."""
        self._large: dict[bytes, Value] = {}
        """Large values read from ``base``, kept for the view's life: ``base`` is one
        snapshot, so they cannot change, and a batch of reads of one long list or big
        string then copies it out of the store once instead of once per command."""

    def get(self, key: bytes) -> Value | None:
        if type(key) is not bytes:
            check_key(key)
        # ``in`` before indexing: a layer's ``None`` means "deleted", not "not mentioned".
        if key in self.writes:
            return self.writes[key]
        for layer in self._pending:
            if key in layer:
                return layer[key]
        large = self._large
        if large and key in large:
            return large[key]
        value = self._base.get(key)
        if value is not None and len(value.payload) >= LARGE_VALUE_BYTES:
            self._large[key] = value
        return value

    def header(self, key: bytes) -> ValueHeader | None:
        check_key(key)
        if self._mentions(key):
            value = self.get(key)
            return None if value is None else header_of(value)
        return self._base.header(key)

    def read_in_place(self, key: bytes, reader: Reader[T]) -> T | None:
        check_key(key)
        if self._mentions(key):
            value = self.get(key)
            return None if value is None else reader(header_of(value), value.payload)
        return self._base.read_in_place(key, reader)

    def _mentions(self, key: bytes) -> bool:
        """Whether ``get(key)`` would answer from this view rather than from ``base``."""
        return (
            key in self.writes or key in self._large or any(key in layer for layer in self._pending)
        )

    def put(self, key: bytes, value: Value) -> None:
        # ``check_key`` and ``check_value``'s common case, inlined: this runs for every
        # write a command makes; anything else goes to them to be refused.
        if not (
            type(key) is bytes
            and type(value) is Value
            and type(value.type) is ValueType
            and type(value.expire_ms) is int
            and type(value.payload) is bytes
            and EXPIRE_MS_MIN <= value.expire_ms <= EXPIRE_MS_MAX
        ):
            check_key(key)
            check_value(value)
        self.writes[key] = value
        expire_ms = value.expire_ms
        if expire_ms and expire_ms < self.writes_floor:
            self.writes_floor = expire_ms

    def delete(self, key: bytes) -> bool:
        if self.header(key) is None:
            return False
        self.writes[key] = None
        return True

    def count(self) -> int:
        raise NeedsTransaction("count")

    def scan(self, cursor: int, count: int) -> tuple[int, list[bytes]]:
        raise NeedsTransaction("scan")

    def iter_keys(self) -> Iterator[bytes]:
        raise NeedsTransaction("iter_keys")

    def random_key(self, seed: int) -> bytes | None:
        raise NeedsTransaction("random_key")

    def expiring(self, before_ms: int, limit: int) -> list[bytes]:
        raise NeedsTransaction("expiring")

    def expiry_floor(self) -> int:
        outer = self._outer_floor
        if outer is None:  # the first call: the base is a snapshot, so its floor holds
            pending = self._pending_floor
            if pending is None:
                pending = min(
                    (
                        value.expire_ms
                        for layer in self._pending
                        for value in layer.values()
                        if value is not None and value.expire_ms
                    ),
                    default=NO_EXPIRY,
                )
            outer = self._outer_floor = min(self._base.expiry_floor(), pending)
        return min(outer, self.writes_floor)

    def clear(self) -> None:
        raise NeedsTransaction("clear")


def counts_with(
    view: KeyValueView, keys: int, expiring: int, pending: Sequence[Mapping[bytes, Value | None]]
) -> tuple[int, int]:
    """``(keys, expiring)`` of ``view`` adjusted as if ``pending`` (newest first) were applied.

    ``keys`` and ``expiring`` must be counted in the same snapshot as
    ``view``. Each pending key is compared with what ``view`` holds, so a
    layer the snapshot already contains changes nothing.
    """
    merged: dict[bytes, Value | None] = {}
    for layer in reversed(pending):
        merged.update(layer)
    for key, value in merged.items():
        old = view.get(key)
        keys += (value is not None) - (old is not None)
        expiring += (value is not None and value.expire_ms != 0) - (
            old is not None and old.expire_ms != 0
        )
    return keys, expiring

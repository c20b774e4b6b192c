"""A view that notes which keys were written through it.

Why: a step that runs inside a write transaction (FLUSHALL, SCAN, DBSIZE: the
commands a ``BufferedView`` cannot answer) writes straight into the store, so
it has no net-writes map to tell who cares — CLIENT TRACKING's invalidations —
which keys it changed. Wrapping the transaction in this view gives it one.
"""

from __future__ import annotations

from collections.abc import Iterator

from .interface import KeyValueView, Reader, T, Value, ValueHeader


class ChangeRecorder:
    """``KeyValueView`` over ``base``, noting the keys put or deleted through it (or that
    everything was, by ``clear``)."""

    __slots__ = ("_base", "changed", "cleared")

    def __init__(self, base: KeyValueView) -> None:
        self._base = base
        self.changed: dict[bytes, None] = {}
        """The keys written or deleted, in first-change order."""
        self.cleared = False
        """``clear`` ran: every key may have changed."""

    def get(self, key: bytes) -> Value | None:
        return self._base.get(key)

    def header(self, key: bytes) -> ValueHeader | None:
        return self._base.header(key)

    def read_in_place(self, key: bytes, reader: Reader[T]) -> T | None:
        return self._base.read_in_place(key, reader)

    def put(self, key: bytes, value: Value) -> None:
        self._base.put(key, value)
        self.changed[key] = None

    def delete(self, key: bytes) -> bool:
        deleted = self._base.delete(key)
        if deleted:
            self.changed[key] = None
        return deleted

    def count(self) -> int:
        return self._base.count()

    def scan(self, cursor: int, count: int) -> tuple[int, list[bytes]]:
        return self._base.scan(cursor, count)

    def iter_keys(self) -> Iterator[bytes]:
        return self._base.iter_keys()

    def random_key(self, seed: int) -> bytes | None:
        return self._base.random_key(seed)

    def expiring(self, before_ms: int, limit: int) -> list[bytes]:
        return self._base.expiring(before_ms, limit)

    def expiry_floor(self) -> int:
        return self._base.expiry_floor()

    def clear(self) -> None:
        self._base.clear()
        self.cleared = True

    def functions(self) -> bytes:
        return self._base.functions()

    def set_functions(self, blob: bytes) -> None:
        # No key changes: what CLIENT TRACKING invalidates is keys, not libraries.
        self._base.set_functions(blob)

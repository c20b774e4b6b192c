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
``random_key``, ``expiring``) or change all of it (``clear``, and
``set_functions``: the function registry is state beside the keyspace) are not
merged here: they raise ``NeedsTransaction``, and the caller throws the view away
and runs the batch inside a write transaction instead, once nothing is
pending. Keyspace-wide commands are rare, and refusing is what keeps this
view simple enough to trust. A refused batch leaves no trace: the view's
writes live only in its own dict.

The same checks as the stores run on every ``put``, so a handler bug fails
the same way on either path.

*Carried* values: a collection a step changed may stay decoded after the
step, held by an object that can encode it (``Carried``), with a placeholder
``Value`` (payload ``CARRIED``, the real type and expiry) in the writes. The
next step that changes it takes the decoded contents over instead of
decoding it (``carried_at``), so a big hash changed one command at a time is
encoded once per flush, not once per command. Whoever needs the payload
itself (``get``, ``read_in_place``) gets the encoding, made then and kept in
place of the placeholder; ``header`` needs none (see there). Nothing carried
ever reaches a transaction: the caller encodes what is left before it writes
(``resolve_carried``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from typing import Protocol, TypeVar

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


CARRIED = bytes(bytearray(b"<carried>"))
"""The payload of a placeholder for a carried value, told apart by identity (``is``), never
by content: a real payload may hold these very bytes."""


class Carried(Protocol):
    """A value kept decoded in place of its payload (``commands.workspace.Held``)."""

    def encode(self) -> bytes:
        """The payload of the value as it is now."""
        ...

    def size_hint(self) -> int:
        """Roughly the bytes it takes (deferred writes are bounded by their size)."""
        ...

    def written(self, payload: bytes) -> None:
        """``payload``, its encoding, goes to a transaction: nothing changes it any more."""
        ...


Carry = dict[bytes, Carried]
"""What stands behind the placeholders of one writes dict, by key (entries whose key
holds no placeholder any more are stale and ignored)."""


def resolve_carried(writes: MutableMapping[bytes, Value | None], carry: Carry) -> None:
    """Encode every carried value of ``writes`` in place of its placeholder, emptying
    ``carry``: what a transaction is given must hold payloads only. Only for writes no
    step reads as pending any more (they may then remember what they wrote)."""
    for key, carried in carry.items():
        value = writes.get(key)
        if value is not None and value.payload is CARRIED:
            payload = carried.encode()
            writes[key] = Value(value.type, value.expire_ms, payload)
            carried.written(payload)
    carry.clear()


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
        "_pending_carry",
        "_pending_floor",
        "carried",
        "writes",
        "writes_floor",
    )

    def __init__(
        self,
        base: KeyValueView,
        pending: Sequence[MutableMapping[bytes, Value | None]],
        pending_floor: int | None = None,
        pending_carry: Sequence[Carry] = (),
    ) -> None:
        """``pending_floor``, when the caller knows it, is a lower bound of the nonzero
        expiries among ``pending``'s values (else it is found by reading them all).
        ``pending_carry[i]`` stands behind the placeholders of ``pending[i]`` (a layer
        without one holds none); the view encodes one when asked for its payload, in that
        layer, which is the same value either way."""
        self._base = base
        self._pending = pending
        self._pending_carry = pending_carry
        self.carried: Carry = {}
        """What stands behind the placeholders this view's own ``writes`` hold."""
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
        writes = self.writes
        if key in writes:
            value = writes[key]
            if value is not None and value.payload is CARRIED:
                return self._resolve(key)
            return value
        for layer in self._pending:
            if key in layer:
                value = layer[key]
                if value is not None and value.payload is CARRIED:
                    return self._resolve(key)
                return value
        large = self._large
        if large and key in large:
            return large[key]
        value = self._base.get(key)
        if value is not None and len(value.payload) >= LARGE_VALUE_BYTES:
            self._large[key] = value
        return value

    def _resolve(self, key: bytes) -> Value:
        """The placeholder that answers for ``key`` replaced by its encoding, in the writes
        that hold it (the same value either way)."""
        found = self._layer_of(key)
        assert found is not None
        layer, carry = found
        placeholder = layer[key]
        assert placeholder is not None
        value = Value(placeholder.type, placeholder.expire_ms, carry.pop(key).encode())
        layer[key] = value
        return value

    def _layer_of(
        self, key: bytes
    ) -> tuple[MutableMapping[bytes, Value | None], Carry] | None:
        """The writes that answer for ``key`` (this view's own, or the newest pending layer
        that mentions it) and what stands behind their placeholders; ``None``: the base."""
        if key in self.writes:
            return self.writes, self.carried
        for index, layer in enumerate(self._pending):
            if key in layer:
                carry = self._pending_carry
                return layer, carry[index] if index < len(carry) else {}
        return None

    def _find(self, key: bytes) -> Value | None:
        """``get`` without encoding a carried value: its placeholder then."""
        found = self._layer_of(key)
        return self.get(key) if found is None else found[0][key]

    def carried_at(self, key: bytes) -> Carried | None:
        """What stands behind ``key``'s value if that is a placeholder, else ``None``. A
        caller may take it over (change it in place) only if this view's step can never
        be thrown away (``NeedsTransaction``): the pending layers would keep the change."""
        found = self._layer_of(key)
        if found is None:
            return None
        layer, carry = found
        value = layer[key]
        return carry[key] if value is not None and value.payload is CARRIED else None

    def carry(self, key: bytes, value_type: ValueType, expire_ms: int, carried: Carried) -> None:
        """Write a value kept decoded: a placeholder now, its encoding when it is needed."""
        self.put(key, Value(value_type, expire_ms, CARRIED))
        self.carried[key] = carried

    def header(self, key: bytes) -> ValueHeader | None:
        """A carried value's header says size 0: its size is not known without encoding it,
        which every command naming the key would then pay for (expiry checks read
        headers); readers that need the size read in place (MEMORY USAGE does)."""
        # ``check_key`` and ``_mentions`` inlined for the common case, as in ``get``: every
        # expiry check, and INFO's count of a read command's lookups, come here.
        if type(key) is not bytes:
            check_key(key)
        mentioned = key in self.writes or key in self._large
        if not mentioned:
            for layer in self._pending:  # a loop, not ``any``: no generator per call
                if key in layer:
                    mentioned = True
                    break
        if mentioned:
            value = self._find(key)
            if value is None:
                return None
            if value.payload is CARRIED:
                return ValueHeader(value.type, value.expire_ms, 0)
            return header_of(value)
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
        writes = self.writes_floor
        return outer if outer <= writes else writes  # not ``min``: every op asks, twice as fast

    def clear(self) -> None:
        raise NeedsTransaction("clear")

    def functions(self) -> bytes:
        """The base's registry: no deferred layer ever holds a change to it, because
        ``set_functions`` refuses here, so a step that changes it runs inside a write
        transaction after every deferred effect, and the steps after it read a base
        begun after that transaction committed."""
        return self._base.functions()

    def set_functions(self, blob: bytes) -> None:
        raise NeedsTransaction("set_functions")


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

"""Commands that ask what a key is, or read a part of it, do not copy its payload.

EXISTS, TYPE, TTL or STRLEN of a 64 MB value once copied all of it out of
LMDB, on every replica, for every call, and GETRANGE, GETBIT, LLEN, LINDEX
and LRANGE did too. They now read the value's header
(``KeyValueView.header``) or the part they need where it is stored
(``read_in_place``); these tests run them over a view whose ``get`` fails
for the large keys, so a handler that goes back to copying them fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

import pytest

from epaxosdb.commands import errors, execute, packed_list, prepare
from protocol.messages import Command
from protocol.replies import Error, Reply, SimpleString
from storage.interface import KeyValueView, Reader, Txn, Value, ValueHeader, ValueType
from storage.memory import MemoryStore

T = TypeVar("T")
T0 = 1_700_000_000_000
BIG = b"big"
LIST = b"biglist"


class _PayloadForbidden:
    """A view over ``txn`` in which reading ``BIG``'s payload is a test failure."""

    def __init__(self, txn: Txn) -> None:
        self._txn = txn

    def get(self, key: bytes) -> Value | None:
        if key in (BIG, LIST):
            raise AssertionError(f"the payload of {key!r} was copied")
        return self._txn.get(key)

    def header(self, key: bytes) -> ValueHeader | None:
        return self._txn.header(key)

    def read_in_place(self, key: bytes, reader: Reader[T]) -> T | None:
        return self._txn.read_in_place(key, reader)

    def put(self, key: bytes, value: Value) -> None:
        self._txn.put(key, value)

    def delete(self, key: bytes) -> bool:
        return self._txn.delete(key)

    def count(self) -> int:
        return self._txn.count()

    def scan(self, cursor: int, count: int) -> tuple[int, list[bytes]]:
        return self._txn.scan(cursor, count)

    def iter_keys(self) -> Iterator[bytes]:
        return self._txn.iter_keys()

    def random_key(self, seed: int) -> bytes | None:
        return self._txn.random_key(seed)

    def expiring(self, before_ms: int, limit: int) -> list[bytes]:
        return self._txn.expiring(before_ms, limit)

    def expiry_floor(self) -> int:
        return self._txn.expiry_floor()

    def clear(self) -> None:
        self._txn.clear()

    def functions(self) -> bytes:
        return self._txn.functions()

    def set_functions(self, blob: bytes) -> None:
        self._txn.set_functions(blob)


def _run(store: MemoryStore, *args: bytes, now: int = T0) -> Reply:
    op = prepare(list(args), now)
    assert not isinstance(op, Error), op
    cmd = Command(origin=1, id=now, time_ms=now, ops=(op,))

    def run(txn: Txn) -> Reply:
        view: KeyValueView = _PayloadForbidden(txn)
        return execute(view, cmd)

    return store.write(run)


@pytest.fixture
def store() -> MemoryStore:
    store = MemoryStore()
    big = Value(ValueType.STRING, T0 + 10_500, b"x" * 1_000_000)
    small = Value(ValueType.STRING, 0, b"s")
    elements = [b"element:%d" % i for i in range(50_000)]
    biglist = Value(ValueType.LIST, 0, packed_list.pack(elements))
    store.write(lambda txn: (txn.put(BIG, big), txn.put(b"small", small), txn.put(LIST, biglist)))
    return store


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((b"EXISTS", BIG, b"small", BIG, b"none"), 3),
        ((b"TOUCH", BIG), 1),
        ((b"TYPE", BIG), SimpleString(b"string")),
        ((b"TTL", BIG), 11),
        ((b"PTTL", BIG), 10_500),
        ((b"EXPIRETIME", BIG), (T0 + 10_500 + 500) // 1000),
        ((b"PEXPIRETIME", BIG), T0 + 10_500),
        ((b"STRLEN", BIG), 1_000_000),
        ((b"MEMORY", b"USAGE", BIG), range(1_000_000, 1_001_000)),
        ((b"SETNX", BIG, b"v"), 0),
        ((b"MSETNX", b"new", b"v", BIG, b"v"), 0),
        ((b"SET", BIG, b"v", b"NX"), None),
        ((b"RENAMENX", b"small", BIG), 0),
        ((b"COPY", b"small", BIG), 0),
        ((b"SCAN", b"0", b"TYPE", b"string", b"COUNT", b"10"), [b"0", sorted([BIG, b"small"])]),
        ((b"GETRANGE", BIG, b"-3", b"-1"), b"xxx"),
        ((b"GETRANGE", LIST, b"0", b"1"), errors.WRONGTYPE),
        ((b"GETBIT", BIG, b"1"), 1),
        ((b"GETBIT", BIG, b"7"), 0),
        ((b"GETBIT", BIG, b"8000000"), 0),
        ((b"LLEN", LIST), 50_000),
        ((b"LLEN", BIG), errors.WRONGTYPE),
        ((b"LINDEX", LIST, b"-1"), b"element:49999"),
        ((b"LINDEX", LIST, b"x"), errors.NOT_INTEGER),
        ((b"LINDEX", b"none", b"x"), None),
        ((b"LRANGE", LIST, b"1", b"2"), [b"element:1", b"element:2"]),
        ((b"LRANGE", LIST, b"-1", b"100000"), [b"element:49999"]),
    ],
    ids=lambda value: b" ".join(value[:2]).decode() if isinstance(value, tuple) else None,
)
def test_asking_what_a_key_is_reads_only_its_header(
    store: MemoryStore, args: tuple[bytes, ...], expected: object
) -> None:
    reply = _run(store, *args)
    if isinstance(expected, range):
        assert isinstance(reply, int) and reply in expected
        return
    if args[0] == b"SCAN":
        assert isinstance(reply, list) and isinstance(reply[1], list)
        reply = [reply[0], sorted(reply[1])]  # type: ignore[type-var]
    assert reply == expected


def test_set_xx_and_del_replace_a_large_value_without_reading_it(store: MemoryStore) -> None:
    assert _run(store, b"SET", BIG, b"new", b"XX", b"KEEPTTL") is not None
    assert store.read(lambda kv: kv.get(BIG)) == Value(ValueType.STRING, T0 + 10_500, b"new")
    store.write(lambda txn: txn.put(BIG, Value(ValueType.STRING, 0, b"y" * 100_000)))
    assert _run(store, b"DEL", BIG, b"small", b"none") == 2
    assert [key for key, _ in store.kv_items()] == [LIST]


def test_an_expired_large_value_is_absent_and_deleted_uncounted_without_being_read(
    store: MemoryStore,
) -> None:
    """Every op naming an expired key deletes it first, on every replica (``settle_expiry``)."""
    later = T0 + 20_000
    expired = store.read(lambda kv: kv.get(BIG))
    assert expired is not None
    for args, expected in [
        ((b"DEL", BIG), 0),
        ((b"EXISTS", BIG), 0),
        ((b"TTL", BIG), -2),
        ((b"TYPE", BIG), SimpleString(b"none")),
        ((b"STRLEN", BIG), 0),
    ]:
        store.write(lambda txn: txn.put(BIG, expired))
        assert _run(store, *args, now=later) == expected
        assert store.read(lambda kv: kv.header(BIG)) is None

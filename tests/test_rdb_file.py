"""``epaxosdb.rdb_file``: what ``write`` puts in an RDB file, ``read`` gives back.

Redis itself loading our files, and our reading its files, is checked against a
real redis-server in ``tests/integration/test_rdb_files.py``.
"""

from __future__ import annotations

import io

import pytest

from epaxosdb import rdb_file
from epaxosdb.commands import rdb
from epaxosdb.commands.functions import encode_registry
from epaxosdb.commands.hashes import HASHES
from epaxosdb.commands.lists import encode_list
from epaxosdb.commands.sets import SETS
from epaxosdb.commands.zsets import ZSETS
from storage.interface import Txn, Value, ValueType
from storage.memory import MemoryStore

NOW = 1_800_000_000_000

VALUES = [
    (b"s", Value(ValueType.STRING, 0, b"hello")),
    (b"12", Value(ValueType.STRING, NOW + 5000, b"-42")),
    (b"long" * 20, Value(ValueType.STRING, 0, b"ab" * 4000)),
    (b"l", Value(ValueType.LIST, 0, encode_list([b"a", b"b", b"c" * 100]))),
    (b"h", Value(ValueType.HASH, 0, HASHES.encode({b"f": b"v", b"g": b"1"}))),
    (b"set", Value(ValueType.SET, NOW + 1, SETS.encode({b"1": None, b"x": None}))),
    (b"z", Value(ValueType.ZSET, 0, ZSETS.encode({b"a": 1.5, b"b": -2.0}))),
    (b"gone", Value(ValueType.STRING, NOW - 1, b"expired")),
]


LIBRARY_A = b"#!lua name=alpha\nredis.register_function('a', function(keys, args) return 1 end)"
LIBRARY_Z = b"#!lua name=zeta\n" + b"-- a comment long enough to be compressed\n" * 40


def _file(values: list[tuple[bytes, Value]], libraries: list[bytes] | None = None) -> bytes:
    out = io.BytesIO()
    rdb_file.write(values, out, NOW, libraries or [])
    return out.getvalue()


def test_what_is_written_reads_back_key_by_key_without_the_expired() -> None:
    data = _file(VALUES)
    assert data.startswith(b"REDIS0010")
    entries = list(rdb_file.read(data, NOW))
    assert [e.key for e in entries] == [key for key, _ in VALUES[:-1]]
    for entry, (_, value) in zip(entries, VALUES, strict=False):
        assert entry.expire_ms == value.expire_ms
        assert rdb.footer_ok(entry.payload)
        restored_type, restored = rdb.restore_value(entry.payload)
        assert restored_type == value.type
        assert rdb.rdb_object(Value(restored_type, 0, restored)) == rdb.rdb_object(value)


def test_a_key_expired_by_the_time_of_reading_is_left_out() -> None:
    entries = list(rdb_file.read(_file(VALUES), NOW + 10_000))
    assert b"12" not in [e.key for e in entries] and b"set" not in [e.key for e in entries]


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda d: d[:-20] + d[-9:], "checksum does not match"),
        (lambda d: d[: len(d) // 2], "EOF marker|checksum does not match"),
        (lambda d: b"REDIS0099" + d[9:], "newer than this reads"),
        (lambda d: b"RUBBISH", "not an RDB file"),
        (lambda d: d[:9] + bytes([rdb_file.OP_SELECTDB, 3]) + d[9:-8] + b"\0" * 8, "database 3"),
        (
            lambda d: d[:9] + bytes([rdb_file.OP_FUNCTION_PRE_GA]) + d[9:-8] + b"\0" * 8,
            "functions in the format of Redis 7.0's release candidates",
        ),
    ],
)
def test_a_file_that_cannot_be_loaded_says_why(damage: object, reason: str) -> None:
    data = damage(_file(VALUES))  # type: ignore[operator]
    with pytest.raises(rdb_file.RdbError, match=reason):
        list(rdb_file.read(data, NOW))


def test_function_libraries_are_written_before_the_keys_and_read_back_in_file_order() -> None:
    data = _file(VALUES[:2], [LIBRARY_Z, LIBRARY_A])
    items = list(rdb_file.read(data, NOW))
    assert items[:2] == [rdb_file.Library(LIBRARY_Z), rdb_file.Library(LIBRARY_A)]
    assert [item.key for item in items[2:] if isinstance(item, rdb_file.Entry)] == [b"s", b"12"]
    # Redis's order: every FUNCTION2 record after the aux fields, before SELECTDB.
    first_function = data.index(bytes([rdb_file.OP_FUNCTION]) + rdb.rdb_string(LIBRARY_Z))
    assert first_function < data.index(bytes([rdb_file.OP_SELECTDB, 0]))
    assert len(rdb.rdb_string(LIBRARY_Z)) < len(LIBRARY_Z)  # stored compressed, read back whole


def test_a_views_libraries_are_written_in_name_order_beside_its_keys() -> None:
    store = MemoryStore()

    def fill(txn: Txn) -> None:
        txn.put(b"k", Value(ValueType.STRING, 0, b"v"))
        txn.set_functions(encode_registry({b"zeta": LIBRARY_Z, b"alpha": LIBRARY_A}))

    store.write(fill)
    out = io.BytesIO()
    assert store.read(lambda kv: rdb_file.write_view(kv, out, NOW)) == (1, 0)
    items = list(rdb_file.read(out.getvalue(), NOW))
    assert items[:2] == [rdb_file.Library(LIBRARY_A), rdb_file.Library(LIBRARY_Z)]
    assert [item.key for item in items[2:] if isinstance(item, rdb_file.Entry)] == [b"k"]


def test_a_view_without_libraries_writes_no_function_record() -> None:
    out = io.BytesIO()
    MemoryStore().read(lambda kv: rdb_file.write_view(kv, out, NOW))
    assert out.getvalue() == _file([])
    assert list(rdb_file.read(out.getvalue(), NOW)) == []

"""The storage contract (storage/interface.py), run against MemoryStore and LmdbStore.

Every test here takes the ``opened`` (or ``fresh_store``) fixture and so runs
once per store kind. Tests that compare the two stores directly are at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.messages import Ballot, Command, InstanceId, InstanceRecord, Status
from storage.buffered import BufferedView, NeedsTransaction
from storage.interface import (
    NO_EXPIRY,
    KeyValueView,
    StorageError,
    Txn,
    Value,
    ValueHeader,
    ValueType,
    key_hash,
)
from storage.keyspace import HASH_POSITIONS
from storage.lmdb_store import LmdbStore
from storage.memory import MemoryStore
from tests.storage.collisions import colliding
from tests.storage.conftest import CheckedStore, FreshStore, Opened

# --- helpers -------------------------------------------------------------------


def string(payload: bytes, expire_ms: int = 0) -> Value:
    return Value(ValueType.STRING, expire_ms, payload)


def put_all(store: CheckedStore, items: dict[bytes, Value]) -> None:
    def fill(txn: Txn) -> None:
        for key, value in items.items():
            txn.put(key, value)

    store.write(fill)


def get(store: CheckedStore, key: bytes) -> Value | None:
    return store.read(lambda view: view.get(key))


def random_key(store: CheckedStore, seed: int) -> bytes | None:
    return store.read(lambda view: view.random_key(seed))


def scan_page(store: CheckedStore, cursor: int, count: int) -> tuple[int, list[bytes]]:
    return store.read(lambda view: view.scan(cursor, count))


def expiring(store: CheckedStore, before_ms: int, limit: int) -> list[bytes]:
    return store.read(lambda view: view.expiring(before_ms, limit))


def delete(store: CheckedStore, key: bytes) -> bool:
    return store.write(lambda txn: txn.delete(key))


def in_scan_order(keys: set[bytes] | list[bytes]) -> list[bytes]:
    return sorted(keys, key=lambda k: (key_hash(k), k))


def full_scan(store: CheckedStore, count: int) -> list[list[bytes]]:
    """Every page of one SCAN iteration (bounded: one page per key at most, plus one)."""
    pages: list[list[bytes]] = []
    cursor = 0
    limit = store.read(lambda v: v.count()) + 2
    for _ in range(limit):
        cursor, keys = scan_page(store, cursor, count)
        pages.append(keys)
        if cursor == 0:
            return pages
    raise AssertionError(f"SCAN did not come back to cursor 0 within {limit} pages")


def record(
    replica: int, index: int, status: Status = Status.COMMITTED, seq: int = 1
) -> InstanceRecord:
    cmd = Command(origin=replica, id=index, time_ms=1_700_000_000_000, ops=((b"SET", b"k", b"v"),))
    return InstanceRecord(
        id=InstanceId(replica, index),
        status=status,
        cmds=(cmd,),
        seq=seq,
        deps=(index - 1, -1, -1),
        bal=Ballot(0, 2, 3),
        vbal=Ballot(0, 1, replica),
        eq=True,
    )


# Keys forced onto shared hashes, including the first and last hash positions.
GROUP_A = colliding([b"ga-1", b"ga-2", b"ga-3"], 0x7777_0000)
GROUP_B = colliding([b"gb-1", b"gb-2"], HASH_POSITIONS - 1)
GROUP_ZERO = colliding([b"gz-1", b"gz-2"], 0)
LONG_1000 = b"L" * 996 + b"1000"
LONG_100K = bytes(range(256)) * 400  # 102,400 bytes
# Long keys sharing their hash *and* their first 600 bytes, so on disk only the
# digest tells them apart: six of them, so digest order matching byte order by
# luck has odds of 1 in 720.
LONG_TWINS = colliding([b"T" * 600 + b"-%d" % i for i in (5, 2, 4, 0, 3, 1)], 0x1234_5678)


# --- key-value basics ------------------------------------------------------------


def test_a_put_value_is_read_back_with_its_type_expiry_and_payload(opened: Opened) -> None:
    values = {
        b"s": Value(ValueType.STRING, 0, b"hello"),
        b"l": Value(ValueType.LIST, 1_700_000_000_123, b"\x00\x01list"),
        b"h": Value(ValueType.HASH, 5, b""),
        b"set": Value(ValueType.SET, -42, b"members"),
        b"z": Value(ValueType.ZSET, (1 << 63) - 1, b"\xff" * 300),
        b"": Value(ValueType.STRING, 0, b"the empty key is a key"),
    }
    put_all(opened.store, values)
    for key, value in values.items():
        got = get(opened.store, key)
        assert got == value
        assert got is not None and got.type is value.type


def test_a_header_is_the_type_expiry_and_payload_size_of_what_get_reads(opened: Opened) -> None:
    values = {
        b"s": Value(ValueType.STRING, 0, b"hello"),
        b"l": Value(ValueType.LIST, 1_700_000_000_123, b"\x00\x01list"),
        b"empty": Value(ValueType.HASH, -5, b""),
        b"big": Value(ValueType.STRING, 9, bytes(range(256)) * 4096),
        LONG_1000: Value(ValueType.ZSET, 77, b"z" * 300),
    }
    put_all(opened.store, values)
    for key, value in values.items():
        expected = ValueHeader(value.type, value.expire_ms, len(value.payload))
        assert opened.store.read(lambda v, k=key: v.header(k)) == expected
        assert opened.store.write(lambda t, k=key: t.header(k)) == expected
    assert opened.store.read(lambda v: v.header(b"absent")) is None
    assert opened.store.read(lambda v: v.header(LONG_1000[:-1] + b"?")) is None
    with pytest.raises(TypeError):
        opened.store.read(lambda v: v.header("str"))  # type: ignore[arg-type]


def test_read_in_place_lends_the_reader_the_header_and_payload_of_what_get_reads(
    opened: Opened,
) -> None:
    values = {
        b"s": Value(ValueType.STRING, 0, b"hello"),
        b"big": Value(ValueType.LIST, 9, bytes(range(256)) * 4096),
        LONG_1000: Value(ValueType.ZSET, 77, b"z" * 300),
    }
    put_all(opened.store, values)

    def reader(header: ValueHeader, payload: bytes | memoryview) -> tuple[ValueHeader, bytes]:
        return header, bytes(payload[:3]) + bytes(payload[-3:])

    for key, value in values.items():
        header = ValueHeader(value.type, value.expire_ms, len(value.payload))
        expected = (header, value.payload[:3] + value.payload[-3:])
        assert opened.store.read(lambda v, k=key: v.read_in_place(k, reader)) == expected
        assert opened.store.write(lambda t, k=key: t.read_in_place(k, reader)) == expected
    assert opened.store.read(lambda v: v.read_in_place(b"absent", reader)) is None
    assert opened.store.read(lambda v: v.read_in_place(LONG_1000[:-1] + b"?", reader)) is None


def test_values_read_are_plain_bytes_that_outlive_the_read(opened: Opened) -> None:
    """LMDB's read view reads in place (``buffers=True``): what it returns must be
    copied out of the map, or it would change under the caller with the next write."""
    big = Value(ValueType.STRING, 0, b"x" * 100_000)
    put_all(opened.store, {b"big": big, LONG_1000: string(b"long", 5), b"small": string(b"s")})
    got = opened.store.read(lambda v: (v.get(b"big"), v.get(LONG_1000), v.get(b"small")))
    keys = opened.store.read(lambda v: [*v.iter_keys(), *v.expiring(10, 10), v.random_key(0)])
    put_all(opened.store, {b"big": string(b"other"), LONG_1000: string(b"changed")})
    opened.store.write(lambda t: t.clear())
    assert got == (big, string(b"long", 5), string(b"s"))
    assert all(type(value.payload) is bytes for value in got if value is not None)
    assert sorted(keys[:3]) == sorted([b"big", LONG_1000, b"small"])
    assert keys[3] == LONG_1000 and keys[4] in keys[:3]
    assert all(type(key) is bytes for key in keys)


def test_get_of_a_missing_key_is_none(opened: Opened) -> None:
    assert opened.store.read(lambda v: v.get(b"absent")) is None


def test_put_replaces_the_previous_value(opened: Opened) -> None:
    put_all(opened.store, {b"k": string(b"one", 10)})
    put_all(opened.store, {b"k": Value(ValueType.HASH, 0, b"two")})
    assert opened.store.read(lambda v: v.get(b"k")) == Value(ValueType.HASH, 0, b"two")
    assert opened.store.read(lambda v: v.count()) == 1


def test_delete_reports_whether_the_key_was_there(opened: Opened) -> None:
    put_all(opened.store, {b"k": string(b"v")})
    assert opened.store.write(lambda t: t.delete(b"k")) is True
    assert opened.store.write(lambda t: t.delete(b"k")) is False
    assert opened.store.read(lambda v: v.get(b"k")) is None


def test_count_counts_every_stored_key_including_expired_ones(opened: Opened) -> None:
    put_all(opened.store, {b"a": string(b"1"), b"b": string(b"2", expire_ms=1), b"c": string(b"3")})
    assert opened.store.read(lambda v: v.count()) == 3
    opened.store.write(lambda t: t.delete(b"a"))
    assert opened.store.read(lambda v: v.count()) == 2


def test_committed_keys_and_values_survive_a_reopen(opened: Opened) -> None:
    items = {b"k%d" % i: Value(ValueType(i % 5), i * 1000, b"v%d" % i) for i in range(50)}
    put_all(opened.store, items)
    before = opened.store.kv_items()
    opened.reopen()
    assert opened.store.kv_items() == before
    assert dict(before) == items


def test_bad_keys_and_values_are_refused_with_a_type_error(opened: Opened) -> None:
    bad_puts: list[tuple[object, object]] = [
        ("text", string(b"v")),
        (bytearray(b"k"), string(b"v")),
        (b"k", (ValueType.STRING, 0, b"v")),
        (b"k", Value(ValueType.STRING, 0, bytearray(b"v"))),  # type: ignore[arg-type]
        (b"k", Value(ValueType.STRING, 1.5, b"v")),  # type: ignore[arg-type]
        (b"k", Value(0, 0, b"v")),  # type: ignore[arg-type]
    ]
    for key, value in bad_puts:

        def bad_put(txn: Txn, key: object = key, value: object = value) -> None:
            txn.put(key, value)  # type: ignore[arg-type]

        with pytest.raises(TypeError):
            opened.store.write(bad_put)
    with pytest.raises(ValueError):
        opened.store.write(lambda t: t.put(b"k", string(b"v", expire_ms=1 << 63)))
    assert opened.store.kv_items() == []


# --- scan order and SCAN -----------------------------------------------------------


def test_iter_keys_yields_every_key_in_hash_then_byte_order(opened: Opened) -> None:
    keys = [b"k%d" % i for i in range(40)] + GROUP_A + GROUP_B + GROUP_ZERO
    put_all(opened.store, {k: string(k) for k in keys})
    listed = opened.store.read(lambda v: list(v.iter_keys()))
    assert listed == in_scan_order(keys)
    assert [k for k, _ in opened.store.kv_items()] == listed


def test_a_scan_without_changes_returns_every_key_exactly_once_in_order(opened: Opened) -> None:
    keys = [b"key:%d" % i for i in range(200)] + GROUP_A + GROUP_ZERO
    put_all(opened.store, {k: string(b"") for k in keys})
    for count in (1, 7, 10, 1000):
        pages = full_scan(opened.store, count)
        returned = [k for page in pages for k in page]
        assert returned == in_scan_order(keys)
        assert all(len(page) >= count for page in pages[:-1])


def test_scan_returns_keys_sharing_a_hash_in_one_page(opened: Opened) -> None:
    put_all(opened.store, {k: string(b"") for k in [*GROUP_A, b"other-1", b"other-2"]})
    pages = full_scan(opened.store, count=1)
    group_pages = [page for page in pages if set(page) & set(GROUP_A)]
    assert group_pages == [sorted(GROUP_A)]


def test_the_next_scan_cursor_is_a_hash_boundary_above_every_key_returned(opened: Opened) -> None:
    put_all(opened.store, {k: string(b"") for k in [b"c%d" % i for i in range(60)] + GROUP_A})
    cursor = 0
    for _ in range(100):
        start = cursor
        cursor, keys = scan_page(opened.store, cursor, 3)
        assert all(key_hash(k) >= start for k in keys)
        if cursor == 0:
            break
        assert all(key_hash(k) < cursor for k in keys)
        assert scan_page(opened.store, cursor, 1)[1][0] != keys[-1]
    else:
        pytest.fail("SCAN did not end")


def test_keys_at_the_first_and_last_hash_positions_are_scanned(opened: Opened) -> None:
    put_all(opened.store, {k: string(b"") for k in GROUP_ZERO + GROUP_B})
    returned = [k for page in full_scan(opened.store, 1) for k in page]
    assert returned == sorted(GROUP_ZERO) + sorted(GROUP_B)


def test_scan_past_the_last_position_ends_and_bad_arguments_are_refused(opened: Opened) -> None:
    put_all(opened.store, {b"k": string(b"")})
    assert opened.store.read(lambda v: v.scan(HASH_POSITIONS, 10)) == (0, [])
    assert opened.store.read(lambda v: v.scan(HASH_POSITIONS * 5, 10)) == (0, [])
    with pytest.raises(ValueError):
        opened.store.read(lambda v: v.scan(-1, 10))
    with pytest.raises(ValueError):
        opened.store.read(lambda v: v.scan(0, 0))


def test_scan_of_an_empty_keyspace_ends_at_once(opened: Opened) -> None:
    assert opened.store.read(lambda v: v.scan(0, 10)) == (0, [])
    assert opened.store.read(lambda v: list(v.iter_keys())) == []


KEY_POOL = GROUP_A + GROUP_B + GROUP_ZERO + [LONG_1000] + LONG_TWINS
keys_strategy = st.one_of(st.binary(max_size=5), st.sampled_from(KEY_POOL))


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    initial=st.lists(keys_strategy, max_size=25, unique=True),
    changes=st.lists(st.tuples(st.booleans(), keys_strategy), max_size=25),
    count=st.integers(min_value=1, max_value=4),
)
def test_a_full_scan_returns_every_key_present_throughout_despite_changes_between_pages(
    fresh_store: FreshStore,
    initial: list[bytes],
    changes: list[tuple[bool, bytes]],
    count: int,
) -> None:
    with fresh_store() as store:
        put_all(store, {k: string(k) for k in initial})
        ever_present, deleted = set(initial), set()
        seen: list[bytes] = []
        pending = list(changes)
        cursor = 0
        for _ in range(10 * (len(initial) + len(changes)) + 10):
            cursor, keys = scan_page(store, cursor, count)
            seen.extend(keys)
            if pending:
                insert, key = pending.pop(0)
                if insert:
                    put_all(store, {key: string(b"new")})
                    ever_present.add(key)
                else:
                    delete(store, key)
                    deleted.add(key)
            if cursor == 0:
                break
        else:
            pytest.fail("SCAN did not come back to cursor 0")
        assert set(initial) - deleted <= set(seen)
        assert set(seen) <= ever_present


def test_iter_keys_keeps_going_while_the_caller_deletes_what_it_yields(opened: Opened) -> None:
    put_all(opened.store, {b"k%d" % i: string(b"") for i in range(1300)})

    def drain(txn: Txn) -> int:
        deleted = 0
        for key in txn.iter_keys():
            deleted += txn.delete(key)
        return deleted

    assert opened.store.write(drain) == 1300
    assert opened.store.read(lambda v: v.count()) == 0


# --- RANDOMKEY ---------------------------------------------------------------------


def test_random_key_is_the_same_for_the_same_state_and_seed(opened: Opened) -> None:
    put_all(opened.store, {b"k%d" % i: string(b"") for i in range(100)})
    first = [random_key(opened.store, seed) for seed in range(50)]
    opened.reopen()
    again = [random_key(opened.store, seed) for seed in range(50)]
    assert first == again
    assert all(k is not None and k.startswith(b"k") for k in first)


def test_random_key_spreads_over_the_keyspace_as_the_seed_changes(opened: Opened) -> None:
    put_all(opened.store, {b"k%d" % i: string(b"") for i in range(100)})
    picks = {random_key(opened.store, seed) for seed in range(200)}
    assert len(picks) > 30


def test_random_key_wraps_past_the_last_key_and_accepts_any_integer_seed(opened: Opened) -> None:
    put_all(opened.store, {k: string(b"") for k in GROUP_ZERO})  # every key at hash 0
    for seed in (0, 1, -1, 2**64, -(2**100), 123456789):
        assert random_key(opened.store, seed) == min(GROUP_ZERO)


def test_random_key_of_an_empty_keyspace_is_none(opened: Opened) -> None:
    assert opened.store.read(lambda v: v.random_key(7)) is None


# --- expiry index ------------------------------------------------------------------


def test_expiring_lists_due_keys_in_expiry_then_scan_order_up_to_the_limit(opened: Opened) -> None:
    items = {
        b"late": string(b"", 300),
        b"early": string(b"", 100),
        b"never": string(b"", 0),
        b"past": string(b"", -5),
        **{k: string(b"", 200) for k in GROUP_A},
        b"also-200": string(b"", 200),
    }
    put_all(opened.store, items)
    due_200 = [b"past", b"early", *in_scan_order([*GROUP_A, b"also-200"])]
    assert opened.store.read(lambda v: v.expiring(200, 100)) == due_200
    assert opened.store.read(lambda v: v.expiring(200, 3)) == due_200[:3]
    assert opened.store.read(lambda v: v.expiring(99, 100)) == [b"past"]
    assert opened.store.read(lambda v: v.expiring(10**6, 0)) == []
    assert b"never" not in opened.store.read(lambda v: v.expiring((1 << 63) - 1, 100))
    with pytest.raises(ValueError):
        opened.store.read(lambda v: v.expiring(0, -1))


def test_expiring_follows_overwrites_and_deletes(opened: Opened) -> None:
    put_all(opened.store, {b"a": string(b"", 100), b"b": string(b"", 100), b"c": string(b"", 100)})
    put_all(opened.store, {b"a": string(b"", 500), b"b": string(b"", 0)})
    opened.store.write(lambda t: t.delete(b"c"))
    assert opened.store.read(lambda v: v.expiring(499, 10)) == []
    assert opened.store.read(lambda v: v.expiring(500, 10)) == [b"a"]
    put_all(opened.store, {b"a": string(b"", 500)})  # same expiry again: still listed once
    assert opened.store.read(lambda v: v.expiring(10**9, 10)) == [b"a"]
    opened.reopen()
    assert opened.store.read(lambda v: v.expiring(10**9, 10)) == [b"a"]


def test_clear_removes_every_key_and_expiry_but_keeps_instances_and_meta(opened: Opened) -> None:
    put_all(opened.store, {b"k%d" % i: string(b"", i) for i in range(30)})

    def records_and_meta(txn: Txn) -> None:
        txn.put_instances([record(1, 0)])
        txn.set_meta("watermark", b"7")

    opened.store.write(records_and_meta)
    opened.store.write(lambda t: t.clear())
    assert opened.store.read(lambda v: v.count()) == 0
    assert scan_page(opened.store, 0, 10) == (0, [])
    assert random_key(opened.store, 1) is None
    assert opened.store.read(lambda v: v.expiring(10**9, 100)) == []
    put_all(opened.store, {b"fresh": string(b"", 3)})
    assert opened.store.read(lambda v: v.expiring(10**9, 100)) == [b"fresh"]
    loaded = opened.store.load()
    assert loaded.records == [record(1, 0)]
    assert loaded.meta == {"watermark": b"7"}


# --- a batch's net effect (apply_writes) --------------------------------------------

present_values = st.builds(
    Value,
    st.sampled_from(ValueType),
    st.sampled_from([0, 0, 0, 7, 100, -3]),
    st.binary(max_size=8),
)
values_strategy = st.one_of(st.none(), present_values)
"""A value to write, or ``None`` for a deletion. Initial contents draw from
``present_values`` directly: filtering out ``None`` rejected so many draws that
Hypothesis's filter_too_much health check failed now and then."""


def observe(store: CheckedStore) -> object:
    """Keys, values and the expiry index: everything apply_writes may change."""
    return store.kv_items(), expiring(store, 1 << 40, 1000)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    initial=st.dictionaries(keys_strategy, present_values),
    writes=st.dictionaries(keys_strategy, values_strategy),
)
def test_apply_writes_is_put_and_delete_per_key_including_the_expiry_index(
    fresh_store: FreshStore, initial: dict[bytes, Value], writes: dict[bytes, Value | None]
) -> None:
    # Both of apply_writes' ways are covered: with no expiry stored, it skips
    # reading old values; with one, it must find and drop stale index entries.
    with fresh_store() as by_batch, fresh_store() as one_by_one:
        for store in (by_batch, one_by_one):
            put_all(store, initial)

        def singly(txn: Txn) -> None:
            for key, value in writes.items():
                if value is None:
                    txn.delete(key)
                else:
                    txn.put(key, value)

        by_batch.write(lambda txn: txn.apply_writes(writes))
        one_by_one.write(singly)
        assert observe(by_batch) == observe(one_by_one)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    initial=st.dictionaries(keys_strategy, present_values),
    layers=st.lists(st.dictionaries(keys_strategy, values_strategy), max_size=3),
    applied=st.integers(min_value=0, max_value=3),
)
def test_key_counts_with_pending_writes_count_as_if_they_were_applied(
    fresh_store: FreshStore,
    initial: dict[bytes, Value],
    layers: list[dict[bytes, Value | None]],
    applied: int,
) -> None:
    """``layers`` are oldest first here; the oldest ``applied`` are already in the store too."""
    with fresh_store() as store, fresh_store() as expected:
        for target in (store, expected):
            put_all(target, initial)
        for layer in layers:
            expected.write(lambda t, layer=layer: t.apply_writes(layer))  # type: ignore[misc]
        for layer in layers[:applied]:
            store.write(lambda t, layer=layer: t.apply_writes(layer))  # type: ignore[misc]
        assert store.key_counts(list(reversed(layers))) == expected.key_counts()


def test_apply_writes_indexes_new_expiries_and_drops_replaced_ones(opened: Opened) -> None:
    store = opened.store
    store.write(lambda t: t.apply_writes({b"a": string(b"1", 50), b"b": string(b"2")}))
    assert expiring(store, 100, 10) == [b"a"]
    writes: dict[bytes, Value | None] = {b"a": string(b"1"), b"b": string(b"2", 60), b"c": None}
    store.write(lambda t: t.apply_writes(writes))
    assert expiring(store, 100, 10) == [b"b"]
    store.write(lambda t: t.apply_writes({b"b": None, LONG_1000: string(b"L", 70)}))
    opened.reopen()
    assert dict(opened.store.kv_items()) == {b"a": string(b"1"), LONG_1000: string(b"L", 70)}
    assert expiring(opened.store, 100, 10) == [LONG_1000]


def test_apply_writes_refuses_bad_keys_and_values_and_changes_nothing(opened: Opened) -> None:
    put_all(opened.store, {b"k": string(b"old")})
    bad: list[dict[bytes, Value | None]] = [
        {b"k": string(b"new"), "s": None},  # type: ignore[dict-item]
        {b"k": string(b"new"), b"x": Value(ValueType.STRING, 0, bytearray(b"p"))},  # type: ignore[arg-type]
        {b"k": None, b"x": "value"},  # type: ignore[dict-item]
    ]
    for writes in bad:

        def batch(txn: Txn, writes: dict[bytes, Value | None] = writes) -> None:
            txn.apply_writes(writes)

        with pytest.raises(TypeError):
            opened.store.write(batch)
    assert opened.store.kv_items() == [(b"k", string(b"old"))]


# --- instance records ------------------------------------------------------------


def test_instance_records_are_stored_and_replaced_by_id(opened: Opened) -> None:
    opened.store.write(lambda t: t.put_instances([record(1, 0, Status.PREACCEPTED), record(2, 0)]))
    opened.store.write(lambda t: t.put_instances([record(1, 0, Status.ACCEPTED, seq=9)]))
    opened.reopen()
    assert opened.store.load().records == [record(1, 0, Status.ACCEPTED, seq=9), record(2, 0)]


def test_load_returns_every_record_in_instance_order(opened: Opened) -> None:
    ids = [(3, 1), (1, 2), (2, 0), (1, 0), (1, 300), (3, 0), (2, 2**40)]
    opened.store.write(lambda t: t.put_instances([record(r, i) for r, i in ids]))
    opened.reopen()
    assert [tuple(r.id) for r in opened.store.load().records] == sorted(ids)


def test_a_record_awaiting_its_payload_round_trips(opened: Opened) -> None:
    promised = InstanceRecord(
        id=InstanceId(2, 5),
        status=Status.NONE,
        cmds=None,
        seq=0,
        deps=(),
        bal=Ballot(0, 4, 1),
        vbal=Ballot(0, 0, 0),
    )
    opened.store.write(lambda t: t.put_instances([promised]))
    opened.reopen()
    assert opened.store.load().records == [promised]


def test_mark_executed_makes_load_report_executed_and_keeps_the_record(opened: Opened) -> None:
    committed = [record(1, i) for i in range(3)]
    opened.store.write(lambda t: t.put_instances(committed))
    opened.store.write(lambda t: t.mark_executed([InstanceId(1, 0), InstanceId(1, 2)]))
    opened.reopen()
    loaded = opened.store.load().records
    assert [r.status for r in loaded] == [Status.EXECUTED, Status.COMMITTED, Status.EXECUTED]
    assert [(r.cmds, r.seq, r.deps, r.bal, r.vbal, r.eq) for r in loaded] == [
        (r.cmds, r.seq, r.deps, r.bal, r.vbal, r.eq) for r in committed
    ]


def test_an_executed_mark_outlives_a_later_rewrite_of_the_record(opened: Opened) -> None:
    def commit_and_apply(txn: Txn) -> None:
        txn.put_instances([record(1, 0)])
        txn.mark_executed([InstanceId(1, 0)])

    opened.store.write(commit_and_apply)
    opened.store.write(lambda t: t.put_instances([record(1, 0, seq=4)]))
    assert opened.store.load().records == [record(1, 0, Status.EXECUTED, seq=4)]


def test_delete_instances_forgets_records_and_their_executed_marks(opened: Opened) -> None:
    opened.store.write(lambda t: t.put_instances([record(1, i) for i in range(4)]))
    opened.store.write(lambda t: t.mark_executed([InstanceId(1, 0), InstanceId(1, 1)]))
    gone = [InstanceId(1, 0), InstanceId(1, 2), InstanceId(9, 9)]
    opened.store.write(lambda t: t.delete_instances(gone))
    opened.reopen()
    assert opened.store.load().records == [record(1, 1, Status.EXECUTED), record(1, 3)]
    opened.store.write(lambda t: t.put_instances([record(1, 0)]))  # re-learned: not executed
    assert opened.store.load().records[0] == record(1, 0)


@pytest.mark.parametrize(
    "bad", [InstanceId(1, -1), InstanceId(-1, 0), InstanceId(2**32, 0), InstanceId(1, 2**64)]
)
def test_instance_ids_outside_the_on_disk_range_are_refused(
    opened: Opened, bad: InstanceId
) -> None:
    with pytest.raises(ValueError, match="out of range"):
        opened.store.write(lambda t: t.put_instances([record(1, 0), record(*bad)]))
    with pytest.raises(ValueError, match="out of range"):
        opened.store.write(lambda t: t.mark_executed([bad]))
    with pytest.raises(ValueError, match="out of range"):
        opened.store.write(lambda t: t.delete_instances([bad]))
    assert opened.store.load().records == []


# --- metadata --------------------------------------------------------------------


def test_meta_is_read_inside_and_outside_transactions_and_by_load(opened: Opened) -> None:
    def set_both(txn: Txn) -> bytes | None:
        txn.set_meta("next_instance", b"\x00\x05")
        txn.set_meta("ballot_round", b"3")
        return txn.get_meta("next_instance")

    assert opened.store.write(set_both) == b"\x00\x05"
    opened.store.write(lambda t: t.set_meta("ballot_round", b"4"))
    opened.reopen()
    assert opened.store.get_meta("ballot_round") == b"4"
    assert opened.store.get_meta("missing") is None
    assert opened.store.load().meta == {"ballot_round": b"4", "next_instance": b"\x00\x05"}


def test_reserved_and_oversized_meta_names_are_refused(opened: Opened) -> None:
    with pytest.raises(ValueError, match="reserved"):
        opened.store.write(lambda t: t.set_meta("storage.replica_id", b"9"))
    with pytest.raises(ValueError):
        opened.store.write(lambda t: t.set_meta("x" * 1000, b""))
    with pytest.raises(TypeError):
        opened.store.write(lambda t: t.set_meta("name", "text"))  # type: ignore[arg-type]


# --- the function registry --------------------------------------------------------

LIBRARIES = b"\x91\x92\xa5mylib\xc4\x10#!lua name=mylib"
"""A registry blob: the store keeps it as opaque bytes, whatever encodes it."""


def functions(store: CheckedStore) -> bytes:
    return store.read(lambda view: view.functions())


def test_a_new_store_has_no_function_libraries(opened: Opened) -> None:
    assert functions(opened.store) == b""
    assert opened.store.write(lambda t: t.functions()) == b""


def test_set_functions_is_read_by_its_transaction_by_later_reads_and_after_a_reopen(
    opened: Opened,
) -> None:
    def load(txn: Txn) -> bytes:
        txn.set_functions(LIBRARIES)
        return txn.functions()

    assert opened.store.write(load) == LIBRARIES
    assert functions(opened.store) == LIBRARIES
    opened.reopen()
    assert functions(opened.store) == LIBRARIES
    opened.store.write(lambda t: t.set_functions(b""))
    opened.reopen()
    assert functions(opened.store) == b""


def test_a_write_whose_fn_raises_leaves_the_function_libraries_as_they_were(
    opened: Opened,
) -> None:
    opened.store.write(lambda t: t.set_functions(LIBRARIES))

    class Boom(Exception):
        pass

    def half_done(txn: Txn) -> None:
        txn.set_functions(b"replaced")
        txn.set_functions(b"")
        txn.put(b"k", string(b"v"))
        raise Boom

    with pytest.raises(Boom):
        opened.store.write(half_done)
    assert functions(opened.store) == LIBRARIES
    opened.reopen()
    assert functions(opened.store) == LIBRARIES


def test_clear_keeps_the_function_libraries(opened: Opened) -> None:
    """FLUSHALL empties the keyspace and keeps the libraries, as Redis's does."""
    put_all(opened.store, {b"k": string(b"v", 5)})
    opened.store.write(lambda t: t.set_functions(LIBRARIES))
    assert opened.store.write(lambda t: (t.clear(), t.functions())[1]) == LIBRARIES
    assert opened.store.kv_items() == []
    assert functions(opened.store) == LIBRARIES


def test_the_function_libraries_are_not_metadata_and_not_writable_through_it(
    opened: Opened,
) -> None:
    opened.store.write(lambda t: (t.set_meta("m", b"1"), t.set_functions(LIBRARIES)))
    assert opened.store.load().meta == {"m": b"1"}
    with pytest.raises(ValueError, match="reserved"):
        opened.store.write(lambda t: t.set_meta("storage.functions", b"forged"))
    assert functions(opened.store) == LIBRARIES


def test_set_functions_refuses_a_read_view_and_what_is_not_bytes(opened: Opened) -> None:
    with pytest.raises(StorageError, match="read-only"):
        opened.store.read(lambda v: v.set_functions(LIBRARIES))
    with pytest.raises(TypeError):
        opened.store.write(lambda t: t.set_functions("text"))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        opened.store.write(lambda t: t.set_functions(bytearray(b"x")))  # type: ignore[arg-type]
    assert functions(opened.store) == b""


def test_a_buffered_view_reads_the_libraries_through_and_sends_changes_to_a_transaction(
    opened: Opened,
) -> None:
    """Deferred layers hold keys only: a step that changes the registry must run in a
    write transaction (``NeedsTransaction``), after every deferred effect."""
    opened.store.write(lambda t: t.set_functions(LIBRARIES))

    def attempt(base: KeyValueView) -> bytes:
        view = BufferedView(base, [{b"pending": string(b"p")}])
        with pytest.raises(NeedsTransaction):
            view.set_functions(b"")
        assert view.writes == {}
        return view.functions()

    assert opened.store.read(attempt) == LIBRARIES
    assert functions(opened.store) == LIBRARIES


# --- transactions ----------------------------------------------------------------


def test_write_returns_what_fn_returns(opened: Opened) -> None:
    assert opened.store.write(lambda t: ("result", t.count())) == ("result", 0)


def test_a_write_whose_fn_raises_changes_nothing(opened: Opened) -> None:
    put_all(opened.store, {b"kept": string(b"1", 50), b"doomed": string(b"2", 60)})

    def first(txn: Txn) -> None:
        txn.put_instances([record(1, 0)])
        txn.set_meta("m", b"old")

    opened.store.write(first)
    kv_before, loaded_before = opened.store.kv_items(), opened.store.load()

    class Boom(Exception):
        pass

    def half_done(txn: Txn) -> None:
        txn.put(b"kept", string(b"changed", 70))
        txn.put(b"new", string(b"3", 80))
        txn.delete(b"doomed")
        txn.put_instances([record(1, 0, Status.EXECUTED), record(2, 0)])
        txn.mark_executed([InstanceId(1, 0)])
        txn.delete_instances([InstanceId(1, 0)])
        txn.set_meta("m", b"new")
        txn.set_meta("other", b"x")
        txn.clear()
        txn.put(b"after-clear", string(b"4", 90))
        raise Boom

    with pytest.raises(Boom):
        opened.store.write(half_done)
    assert opened.store.kv_items() == kv_before
    assert opened.store.load() == loaded_before
    assert opened.store.read(lambda v: v.expiring(10**9, 10)) == [b"kept", b"doomed"]
    opened.reopen()
    assert opened.store.kv_items() == kv_before
    assert opened.store.load() == loaded_before


def test_a_transaction_used_after_its_write_returned_is_refused(opened: Opened) -> None:
    leaked = opened.store.write(lambda t: t)
    with pytest.raises(StorageError, match="finished"):
        leaked.put(b"k", string(b"v"))
    with pytest.raises(StorageError, match="finished"):
        leaked.get(b"k")
    assert opened.store.kv_items() == []


def test_read_gives_a_view_that_refuses_changes(opened: Opened) -> None:
    put_all(opened.store, {b"k": string(b"v")})
    with pytest.raises(StorageError, match="read-only"):
        opened.store.read(lambda v: v.put(b"x", string(b"y")))
    with pytest.raises(StorageError, match="read-only"):
        opened.store.read(lambda v: v.delete(b"k"))
    with pytest.raises(StorageError, match="read-only"):
        opened.store.read(lambda v: v.clear())
    assert opened.store.kv_items() == [(b"k", string(b"v"))]


def test_write_inside_write_is_refused(opened: Opened) -> None:
    store = opened.store

    def nested(txn: Txn) -> None:
        txn.put(b"outer", string(b""))
        store.write(lambda inner: inner.put(b"inner", string(b"")))

    with pytest.raises(StorageError, match="inside another write"):
        store.write(nested)
    assert store.kv_items() == []


def test_reading_the_store_inside_write_is_refused(opened: Opened) -> None:
    """Inside write, LMDB's store-level reads would miss the open txn's changes: refuse them."""
    store = opened.store
    attempts: list[Callable[[], object]] = [
        lambda: store.read(lambda v: v.get(b"k")),
        store.load,
        lambda: store.get_meta("m"),
        store.kv_items,
    ]
    for attempt in attempts:

        def sneaky(txn: Txn, attempt: Callable[[], object] = attempt) -> None:
            txn.put(b"k", string(b"v"))
            attempt()

        with pytest.raises(StorageError, match="inside write"):
            store.write(sneaky)
    assert store.kv_items() == []


def test_a_closed_store_refuses_use(opened: Opened) -> None:
    opened.store.close()
    with pytest.raises(StorageError, match="closed"):
        opened.store.write(lambda t: t.put(b"k", string(b"v")))
    with pytest.raises(StorageError, match="closed"):
        opened.store.load()


# --- long keys -------------------------------------------------------------------


@pytest.mark.parametrize("key", [LONG_1000, LONG_100K], ids=["1000-bytes", "100-KB"])
def test_long_keys_work_like_any_other_key(opened: Opened, key: bytes) -> None:
    value = Value(ValueType.SET, 77, b"payload" * 100)
    put_all(opened.store, {key: value, b"short": string(b"", 77)})
    opened.reopen()
    store = opened.store
    assert store.read(lambda v: v.get(key)) == value
    assert store.read(lambda v: v.get(key[:-1])) is None
    assert store.read(lambda v: sorted(v.iter_keys())) == sorted([key, b"short"])
    assert [k for page in full_scan(store, 1) for k in page] == in_scan_order([key, b"short"])
    assert store.read(lambda v: v.expiring(77, 10)) == in_scan_order([key, b"short"])
    assert key in {random_key(store, seed) for seed in range(64)}
    put_all(store, {key: string(b"new", 0)})
    assert store.read(lambda v: v.expiring(77, 10)) == [b"short"]
    assert store.write(lambda t: t.delete(key)) is True
    assert store.kv_items() == [(b"short", string(b"", 77))]


def test_long_keys_sharing_hash_and_prefix_are_kept_apart_and_in_byte_order(opened: Opened) -> None:
    put_all(opened.store, {key: string(key[-8:], 5) for key in LONG_TWINS})
    for key in LONG_TWINS:
        assert get(opened.store, key) == string(key[-8:], 5)
    in_order = sorted(LONG_TWINS)
    assert opened.store.read(lambda v: list(v.iter_keys())) == in_order
    assert expiring(opened.store, 5, 2) == in_order[:2]
    assert scan_page(opened.store, 0, 1) == (0, in_order)
    assert random_key(opened.store, 0) == in_order[0]


# --- the two stores agree ------------------------------------------------------------


def test_memory_and_lmdb_stores_agree_on_order_scan_pages_random_keys_and_expiry(
    tmp_path: Path,
) -> None:
    content = {
        **{b"user:%d" % i: string(b"%d" % i, 1000 + i % 13) for i in range(300)},
        **{k: string(b"", 1005) for k in GROUP_A + GROUP_B + GROUP_ZERO + LONG_TWINS},
        LONG_1000: string(b"long", 0),
    }
    memory = MemoryStore()
    with LmdbStore.open(tmp_path / "data") as lmdb_store:
        stores: list[CheckedStore] = [memory, lmdb_store]
        for store in stores:
            put_all(store, content)
            for i in range(0, 300, 7):
                delete(store, b"user:%d" % i)

        def observe(store: CheckedStore) -> object:
            return (
                store.kv_items(),
                [full_scan(store, count) for count in (1, 5, 64)],
                [random_key(store, seed) for seed in range(-50, 250)],
                [expiring(store, 1006, limit) for limit in (1, 9, 50, 500)],
            )

        assert observe(memory) == observe(lmdb_store)


def test_expiry_floor_is_the_earliest_deadline_stored(opened: Opened) -> None:
    def floor() -> int:
        return opened.store.read(lambda v: v.expiry_floor())

    assert floor() == NO_EXPIRY
    put_all(opened.store, {b"never": string(b"", 0), b"late": string(b"", 300)})
    assert floor() == 300
    put_all(opened.store, {b"past": string(b"", -5), b"early": string(b"", 100)})
    assert floor() == -5
    opened.store.write(lambda t: t.delete(b"past"))
    put_all(opened.store, {b"early": string(b"", 0)})
    assert floor() == 300
    opened.reopen()
    assert floor() == 300
    assert opened.store.write(lambda t: (t.put(b"now", string(b"", 7)), t.expiry_floor())[1]) == 7

"""WATCH's replicated read and EXEC's check: digests of logical values, decided in ``execute``."""

from __future__ import annotations

import random

import msgpack
import pytest

from epaxosdb.commands import (
    command_access,
    is_read_only,
    lookup,
    packed_list,
    prepare,
    settle_expiry_of,
    watchcheck_op,
    watchread_op,
)
from epaxosdb.commands.values import live
from epaxosdb.commands.watch import ABSENT, DIGEST_SIZE, digest
from protocol.messages import Access, Command
from protocol.replies import NULL_ARRAY, OK, Error
from storage.interface import Value, ValueType
from storage.memory import MemoryStore
from tests.commands.differential import execute_like_a_replica as run

T0 = 1_700_000_000_000
KEYS = [b"a", b"b", b"c"]


def put(store: MemoryStore, key: bytes, value: Value) -> None:
    store.write(lambda txn: txn.put(key, value))


def digest_at(store: MemoryStore, key: bytes, now_ms: int = T0) -> bytes:
    return store.read(lambda kv: digest(kv, key, now_ms))




def watch(store: MemoryStore, time_ms: int, *keys: bytes) -> list[tuple[bytes, bytes]]:
    """What the front end records for ``WATCH keys``: the WATCHREAD reply, paired with keys."""
    reply = run(store, Command(1, 1, time_ms, (watchread_op(keys),)))
    assert isinstance(reply, list)
    digests = [value for value in reply if isinstance(value, bytes)]
    assert len(digests) == len(reply)
    return list(zip(keys, digests, strict=True))


def guarded(time_ms: int, pairs: list[tuple[bytes, bytes]], *ops: tuple[bytes, ...]) -> Command:
    """The command EXEC proposes after WATCH: the check, then the queued ops."""
    return Command(1, 2, time_ms, (watchcheck_op(pairs), *ops), multi=True)


# --- digests ----------------------------------------------------------------------


def test_equal_values_have_equal_digests_whatever_the_key_or_store() -> None:
    one, other = MemoryStore(), MemoryStore()
    value = Value(ValueType.STRING, T0 + 5_000, b"payload")
    put(one, b"x", value)
    put(other, b"y", Value(ValueType.STRING, T0 + 5_000, b"payload"))
    assert digest_at(one, b"x") == digest_at(other, b"y")
    assert len(digest_at(one, b"x")) == DIGEST_SIZE


@pytest.mark.parametrize(
    "changed",
    [
        Value(ValueType.HASH, 0, b"10"),
        Value(ValueType.STRING, T0 + 1, b"10"),
        Value(ValueType.STRING, 0, b"11"),
        Value(ValueType.STRING, 0, b"10\x00"),
        Value(ValueType.STRING, 0, b""),
    ],
    ids=["type", "expiry", "payload", "payload-longer", "payload-empty"],
)
def test_any_change_of_type_expiry_or_payload_changes_the_digest(changed: Value) -> None:
    store = MemoryStore()
    put(store, b"k", Value(ValueType.STRING, 0, b"10"))
    before = digest_at(store, b"k")
    put(store, b"k", changed)
    assert digest_at(store, b"k") != before
    assert digest_at(store, b"k") != ABSENT


def test_a_list_has_one_digest_in_either_stored_form_and_a_change_changes_it() -> None:
    """Replicas that changed a list under different versions (a rolling upgrade) hold it
    in different forms; a WATCH read on one and checked on another must still agree."""
    older, newer = MemoryStore(), MemoryStore()
    elements = [b"x", b"a" * 300, b"b"]
    put(older, b"l", Value(ValueType.LIST, 0, msgpack.packb(elements, use_bin_type=True)))
    put(newer, b"l", Value(ValueType.LIST, 0, packed_list.pack(elements)))
    assert digest_at(older, b"l") == digest_at(newer, b"l")
    put(newer, b"l", Value(ValueType.LIST, 0, packed_list.pack([*elements, b"c"])))
    assert digest_at(older, b"l") != digest_at(newer, b"l")
    put(newer, b"l", Value(ValueType.LIST, T0 + 1, packed_list.pack(elements)))
    assert digest_at(older, b"l") != digest_at(newer, b"l")


def test_an_expired_key_has_the_digest_of_an_absent_one() -> None:
    store = MemoryStore()
    put(store, b"gone", Value(ValueType.STRING, T0, b"v"))
    assert digest_at(store, b"never") == ABSENT
    assert digest_at(store, b"gone", T0 - 1) != ABSENT  # still alive just before its expiry
    assert digest_at(store, b"gone", T0) == ABSENT  # expired at its expire time, as in Redis
    assert digest_at(store, b"gone", T0 + 1) == digest_at(store, b"never", T0 + 1)


def test_watchread_replies_one_digest_per_key_in_order_and_changes_nothing() -> None:
    store = MemoryStore()
    put(store, b"a", Value(ValueType.STRING, 0, b"1"))
    before = store.kv_items()
    reply = run(store, Command(1, 1, T0, (watchread_op([b"missing", b"a", b"a"]),)))
    assert reply == [ABSENT, digest_at(store, b"a"), digest_at(store, b"a")]
    assert store.kv_items() == before


# --- the check inside a transaction -----------------------------------------------------


def test_the_transaction_runs_when_no_watched_key_changed() -> None:
    store = MemoryStore()
    put(store, b"a", Value(ValueType.STRING, 0, b"1"))
    pairs = watch(store, T0, b"a", b"missing")
    reply = run(store, guarded(T0 + 10, pairs, (b"INCR", b"a"), (b"SET", b"missing", b"x")))
    assert reply == [2, OK]  # the check's own reply is left out
    assert store.read(lambda kv: kv.get(b"missing")) == Value(ValueType.STRING, 0, b"x")


@pytest.mark.parametrize(
    "change",
    [
        (b"SET", b"a", b"2"),
        (b"DEL", b"a"),
        (b"PEXPIREAT", b"a", b"%d" % (T0 + 60_000)),
        (b"SET", b"missing", b"now here"),
        (b"APPEND", b"a", b"x"),
    ],
    ids=["rewritten", "deleted", "ttl-added", "created", "appended"],
)
def test_the_transaction_does_nothing_and_replies_null_when_a_watched_key_changed(
    change: tuple[bytes, ...],
) -> None:
    store = MemoryStore()
    put(store, b"a", Value(ValueType.STRING, 0, b"1"))
    pairs = watch(store, T0, b"a", b"missing")
    run(store, Command(2, 1, T0 + 5, (change,)))
    after_change = store.kv_items()
    reply = run(store, guarded(T0 + 10, pairs, (b"SET", b"a", b"tx"), (b"SET", b"other", b"tx")))
    assert reply is NULL_ARRAY
    assert store.kv_items() == after_change


def test_a_watched_key_that_expires_before_exec_aborts_it() -> None:
    store = MemoryStore()
    put(store, b"a", Value(ValueType.STRING, T0 + 100, b"1"))
    pairs = watch(store, T0, b"a")
    assert run(store, guarded(T0 + 99, pairs, (b"SET", b"b", b"1"))) == [OK]
    assert run(store, guarded(T0 + 100, pairs, (b"SET", b"b", b"2"))) is NULL_ARRAY


def test_an_already_expired_watched_key_deleted_by_the_sweep_does_not_abort() -> None:
    store = MemoryStore()
    put(store, b"a", Value(ValueType.STRING, T0 - 1, b"old"))
    pairs = watch(store, T0, b"a")
    run(store, Command(1, 3, T0 + 1, ((b"DELEXPIRED", b"a"),)))
    assert run(store, guarded(T0 + 2, pairs, (b"SET", b"b", b"1"))) == [OK]


def test_a_key_restored_to_an_identical_value_passes_the_check() -> None:
    """The documented difference from Redis (ABA): the check compares values, not touches."""
    store = MemoryStore()
    put(store, b"a", Value(ValueType.STRING, 0, b"1"))
    pairs = watch(store, T0, b"a")
    run(store, Command(2, 1, T0 + 1, ((b"SET", b"a", b"2"),)))
    run(store, Command(2, 2, T0 + 2, ((b"SET", b"a", b"1"),)))
    assert run(store, guarded(T0 + 3, pairs, (b"INCR", b"a"))) == [2]


def test_a_check_alone_replies_an_empty_array_or_null() -> None:
    store = MemoryStore()
    pairs = watch(store, T0, b"a")
    assert run(store, guarded(T0, pairs)) == []
    put(store, b"a", Value(ValueType.STRING, 0, b"1"))
    assert run(store, guarded(T0, pairs)) is NULL_ARRAY


# --- interference, visibility --------------------------------------------------------


def test_the_check_reads_the_watched_keys_so_writers_of_them_are_ordered_against_it() -> None:
    pairs = [(b"a", b"d1"), (b"b", ABSENT)]
    cmd = guarded(T0, pairs, (b"SET", b"b", b"1"), (b"GET", b"c"))
    assert command_access(cmd) == Access(reads=frozenset({b"a", b"c"}), writes=frozenset({b"b"}))
    assert command_access(cmd).interferes(Access(writes=frozenset({b"a"})))
    assert not command_access(cmd).interferes(Access(writes=frozenset({b"d1"})))  # digests
    read = Command(1, 1, T0, (watchread_op([b"a", b"b"]),))
    assert command_access(read) == Access(reads=frozenset({b"a", b"b"}))
    assert is_read_only(read)
    assert is_read_only(guarded(T0, pairs, (b"GET", b"c")))
    assert not is_read_only(cmd)


def test_clients_cannot_send_the_internal_watch_ops() -> None:
    for name in (b"WATCHREAD", b"watchcheck"):
        assert lookup(name) is None
        assert isinstance(prepare([name, b"k", b"d"], T0), Error)


# --- determinism ------------------------------------------------------------------------


def _random_write(rng: random.Random, now_ms: int) -> tuple[bytes, ...]:
    key = rng.choice(KEYS)
    return rng.choice(
        [
            (b"SET", key, rng.choice([b"1", b"2"])),
            (b"INCR", key),
            (b"DEL", key),
            (b"PEXPIREAT", key, b"%d" % (now_ms + rng.choice([1, 50, 10_000]))),
            (b"APPEND", key, b"x"),
        ]
    )


def logical(store: MemoryStore, keys: list[bytes], now_ms: int) -> list[Value | None]:
    """The values a client could observe: the oracle the digests must agree with."""
    return store.read(lambda kv: [live(kv, key, now_ms) for key in keys])


def test_two_copies_of_a_state_decide_every_check_the_same_way() -> None:
    """The proposer's digests, checked on every replica: same state, same verdict, same state.

    The verdict must also be the one a model gives: abort exactly when some
    watched key's observable value differs from what it was at WATCH.
    """
    rng = random.Random(20240607)
    store = MemoryStore()
    put(store, b"a", Value(ValueType.STRING, 0, b"1"))
    twin = store.clone()
    pending: list[tuple[bytes, bytes]] = []
    seen: list[Value | None] = []
    verdicts = {"ran": 0, "aborted": 0}
    for step in range(3000):
        now = T0 + step * 7
        roll = rng.random()
        if roll < 0.2:
            # Only the proposer runs the read; its reply travels in the check op. The
            # others delete what it found expired.
            keys = rng.sample(KEYS, rng.randint(1, len(KEYS)))
            seen = logical(store, keys, now)
            pending = watch(store, now, *keys)
            read = Command(1, 1, now, (watchread_op(keys),))
            twin.write(lambda txn: settle_expiry_of(txn, read))  # noqa: B023
            continue
        if roll < 0.45 and pending:
            cmd = guarded(now, pending, (b"INCR", rng.choice(KEYS)), (b"GET", rng.choice(KEYS)))
        else:
            cmd = Command(2, step, now, (_random_write(rng, now),))
        changed = bool(pending) and seen != logical(store, [key for key, _ in pending], now)
        reply = run(store, cmd)
        assert run(twin, cmd) == reply
        assert twin.kv_items() == store.kv_items()
        if cmd.multi:
            assert (reply is NULL_ARRAY) == changed, (step, pending, seen)
            verdicts["aborted" if reply is NULL_ARRAY else "ran"] += 1
            pending = []
    assert verdicts["ran"] > 50 and verdicts["aborted"] > 50, verdicts

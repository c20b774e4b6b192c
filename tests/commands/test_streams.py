"""Streams against the model alone: what a differential test cannot compare.

Automatic IDs come from the command's timestamp, not a clock, so every replica that
executes an XADD gives its entry the same ID; IDs never go backwards, even after the
entries are deleted or trimmed away; ``~`` trims like ``=`` (Redis trims whole radix-tree
nodes, so its counts differ); the stored form round-trips and refuses damage; XREAD's
wait and its keyword key spec; the reply shape only XREAD uses.
"""

from __future__ import annotations

import random

import msgpack
import pytest

from epaxosdb.commands import blocking_wait, command_access, lookup, prepare
from epaxosdb.commands.spec import KeySpec
from epaxosdb.commands.streams import (
    ID_NOT_GREATER,
    MAX_ID,
    SEQUENCE_EXHAUSTED,
    Stream,
    decode_stream,
    encode_stream,
    parse_id,
)
from protocol.messages import Access, Command
from protocol.replies import NULL_ARRAY, Error, NestedMap, Reply
from protocol.resp import encode_reply
from storage.interface import StorageError, Value, ValueType
from storage.memory import MemoryStore
from tests.commands.test_execution import changed_keys_within_writes, run

T0 = 1_700_000_000_000
U64 = (1 << 64) - 1


def xadd(store: MemoryStore, time_ms: int, *args: bytes, cmd_id: int = 1) -> Reply:
    op = prepare([b"XADD", b"s", *args], time_ms)
    assert not isinstance(op, Error), op
    return run(store, time_ms, op, cmd_id=cmd_id)


def call(store: MemoryStore, *args: bytes, time_ms: int = T0) -> Reply:
    op = prepare(list(args), time_ms)
    return op if isinstance(op, Error) else run(store, time_ms, op)


def stored(store: MemoryStore, key: bytes = b"s") -> Stream:
    value = store.read(lambda kv: kv.get(key))
    assert value is not None and value.type == ValueType.STREAM
    return decode_stream(value.payload)


def test_an_automatic_id_comes_from_the_command_timestamp() -> None:
    store = MemoryStore()
    assert xadd(store, T0, b"*", b"f", b"v") == b"%d-0" % T0
    assert xadd(store, T0, b"*", b"f", b"v") == b"%d-1" % T0  # same millisecond
    assert xadd(store, T0 - 5, b"*", b"f", b"v") == b"%d-2" % T0  # a clock behind: never back
    assert xadd(store, T0 + 1, b"*", b"f", b"v") == b"%d-0" % (T0 + 1)
    assert xadd(store, T0, b"%d-7" % (T0 + 100), b"f", b"v") == b"%d-7" % (T0 + 100)
    assert xadd(store, T0 + 50, b"*", b"f", b"v") == b"%d-8" % (T0 + 100)
    assert xadd(store, T0, b"%d-%d" % (T0 + 200, U64), b"f", b"v") == b"%d-%d" % (T0 + 200, U64)
    assert xadd(store, T0, b"*", b"f", b"v") == b"%d-0" % (T0 + 201)  # the sequence ran out
    assert xadd(store, T0 + 500, b"MAXLEN", b"~", b"3", b"*", b"f", b"v") == b"%d-0" % (T0 + 500)
    assert call(store, b"XLEN", b"s") == 3


def test_two_replicas_executing_the_same_xadd_give_it_the_same_id() -> None:
    """Every replica executes every write: the same command, the same ID and state."""
    store = MemoryStore()
    xadd(store, T0, b"5-5", b"f", b"v")
    rng = random.Random(3)
    for step in range(200):
        now = T0 + rng.randint(-2000, 2000)
        option = rng.choice([[], [b"MAXLEN", b"~", b"10"], [b"MINID", b"%d" % (now - 1000)]])
        op = prepare([b"XADD", b"s", *option, b"*", b"n", b"%d" % step], now)
        assert not isinstance(op, Error)
        twin = store.clone()
        reply = run(store, now, op, cmd_id=step)
        assert run(twin, now, op, cmd_id=step) == reply
        assert twin.kv_items() == store.kv_items()
    ids = [entry_id for entry_id in stored(store).entries]
    assert ids == sorted(ids) and len(ids) <= 200


def test_ids_never_go_backwards_after_deletions_and_trims() -> None:
    store = MemoryStore()
    xadd(store, T0, b"5-5", b"f", b"v")
    xadd(store, T0, b"6-1", b"f", b"v")
    assert call(store, b"XDEL", b"s", b"6-1", b"5-5") == 2
    assert stored(store).last_id == (6, 1)
    assert stored(store).max_deleted == (6, 1)
    assert call(store, b"EXISTS", b"s") == 1  # an empty stream is kept
    assert xadd(store, T0, b"6-1", b"f", b"v") == ID_NOT_GREATER
    assert xadd(store, 3, b"*", b"f", b"v") == b"6-2"
    assert call(store, b"XTRIM", b"s", b"MAXLEN", b"0") == 1
    header = stored(store)
    assert (header.entries, header.last_id, header.max_deleted) == ({}, (6, 2), (6, 1))
    assert header.entries_added == 3
    assert xadd(store, 3, b"6-*", b"f", b"v") == b"6-3"
    assert xadd(store, 3, b"%d-%d" % (7, U64), b"f", b"v") == b"7-%d" % U64
    # Redis 7.0.15 answers this one from a stale errno: "Elements are too large to be
    # stored" in every run we made (the differential test compares it), so we do too.
    assert xadd(store, 3, b"7-*", b"f", b"v") == SEQUENCE_EXHAUSTED


def test_the_last_possible_id_exhausts_the_stream() -> None:
    store = MemoryStore()
    xadd(store, T0, b"%d-%d" % MAX_ID, b"f", b"v")
    exhausted = xadd(store, T0, b"*", b"f", b"v")
    assert isinstance(exhausted, Error) and "exhausted" in exhausted.text


def test_approximate_trimming_trims_exactly_up_to_its_limit() -> None:
    """``~`` trims like ``=`` (a stream never holds more than asked), but no more than LIMIT
    entries per call, 10,000 without one (Redis's default), none with ``LIMIT 0``."""
    store = MemoryStore()
    for i in range(1, 8):
        xadd(store, T0, b"%d-1" % i, b"f", b"v")
    assert call(store, b"XTRIM", b"s", b"MAXLEN", b"~", b"5") == 2
    assert call(store, b"XTRIM", b"s", b"MAXLEN", b"~", b"0", b"LIMIT", b"2") == 2
    assert call(store, b"XTRIM", b"s", b"MINID", b"~", b"7", b"LIMIT", b"1") == 1
    assert [i for i in stored(store).entries] == [(6, 1), (7, 1)]
    assert xadd(store, T0, b"MINID", b"~", b"7", b"LIMIT", b"0", b"8-1", b"f", b"v") == b"8-1"
    assert [i for i in stored(store).entries] == [(7, 1), (8, 1)]

    big = Stream({(i, 0): (b"f", b"v") for i in range(1, 10_006)}, (10_005, 0), (0, 0), 10_005)
    store.write(lambda txn: txn.put(b"big", Value(ValueType.STREAM, 0, encode_stream(big))))
    assert call(store, b"XTRIM", b"big", b"MAXLEN", b"~", b"0") == 10_000
    assert call(store, b"XTRIM", b"big", b"MAXLEN", b"~", b"0", b"LIMIT", b"0") == 5
    assert call(store, b"XLEN", b"big") == 0


def test_a_stream_keeps_its_ttl_and_type_through_rewrites() -> None:
    store = MemoryStore()
    xadd(store, T0, b"1-1", b"f", b"v")
    call(store, b"PEXPIRE", b"s", b"10000")
    xadd(store, T0, b"2-1", b"f", b"v")
    call(store, b"XDEL", b"s", b"1-1")
    value = store.read(lambda kv: kv.get(b"s"))
    assert value is not None and value.expire_ms == T0 + 10_000
    assert call(store, b"TYPE", b"s").text == b"stream"  # type: ignore[union-attr]
    assert call(store, b"XLEN", b"s", time_ms=T0 + 10_000) == 0  # expired: gone


def test_the_stored_form_round_trips_entries_and_history() -> None:
    stream = Stream(
        {(1, 1): (b"f", b"v"), (1, 5): (b"", b"\x00\xff" * 50, b"a", b"b"), (U64, 3): (b"x", b"")},
        (U64, 7),
        (1, 4),
        12,
    )
    decoded = decode_stream(encode_stream(stream))
    assert decoded == stream
    assert list(decoded.entries) == [(1, 1), (1, 5), (U64, 3)]
    assert decode_stream(encode_stream(Stream())) == Stream()


_HEADER = b"\x00" * 16 + b"\x00" * 16 + b"\x00" * 8


def _entry(ms: int, seq: int, pairs: int) -> bytes:
    return ms.to_bytes(8, "big") + seq.to_bytes(8, "big") + pairs.to_bytes(4, "big")


def _header(last: tuple[int, int], deleted: tuple[int, int] = (0, 0), added: int = 9) -> bytes:
    return b"".join(n.to_bytes(8, "big") for n in (*last, *deleted, added))


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\xc1",
        msgpack.packb([]),  # no header
        msgpack.packb([b"short"]),
        msgpack.packb([_HEADER, b"x"]),  # an entry without its header
        msgpack.packb([_header((5, 5)), _entry(1, 1, 1), b"f"]),  # a field without its value
        msgpack.packb([_header((5, 5)), _entry(1, 1, 0)]),  # an entry with no fields
        msgpack.packb([_header((5, 5)), _entry(2, 1, 1), b"f", b"v", _entry(1, 1, 1), b"f", b"v"]),
        msgpack.packb([_header((5, 5)), _entry(1, 1, 1), b"f", b"v", _entry(1, 1, 1), b"f", b"v"]),
        msgpack.packb([_header((1, 0)), _entry(1, 1, 1), b"f", b"v"]),  # after the last ID
        msgpack.packb([_header((5, 5), added=0), _entry(1, 1, 1), b"f", b"v"]),
        msgpack.packb([_header((5, 5)), _entry(1, 1, 1), b"f", 1]),  # not bytes
        msgpack.packb([_header((5, 5)), _entry(1, 1, 1), b"f", b"v"]) + b"\x00",
    ],
    ids=lambda p: p.hex()[:24] or "empty",
)
def test_a_payload_that_is_not_a_stream_is_a_storage_error(payload: bytes) -> None:
    with pytest.raises(StorageError):
        decode_stream(payload)


def test_damage_surfaces_as_a_storage_error_not_a_reply() -> None:
    store = MemoryStore()
    store.write(lambda txn: txn.put(b"s", Value(ValueType.STREAM, 0, msgpack.packb([]))))
    with pytest.raises(StorageError):
        call(store, b"XLEN", b"s")


def test_xread_waits_only_with_block_and_reads_without_taking() -> None:
    plain = prepare([b"xread", b"COUNT", b"2", b"STREAMS", b"a", b"b", b"0", b"0"], T0)
    assert plain == (b"XREAD", b"COUNT", b"2", b"STREAMS", b"a", b"b", b"0", b"0")
    assert blocking_wait(plain) is None
    blocked = prepare([b"XREAD", b"BLOCK", b"1500", b"STREAMS", b"a", b"b", b"0", b"1-1"], T0)
    assert not isinstance(blocked, Error)
    wait = blocking_wait(blocked)
    assert wait is not None
    assert (wait.keys, wait.timeout_ms, wait.consumes) == ((b"a", b"b"), 1500, False)
    assert wait.empty == wait.timed_out == NULL_ARRAY
    forever = prepare([b"XREAD", b"BLOCK", b"0", b"STREAMS", b"a", b"0"], T0)
    assert not isinstance(forever, Error)
    assert blocking_wait(forever) is not None and blocking_wait(forever).timeout_ms == 0  # type: ignore[union-attr]
    pop = blocking_wait((b"BLPOP", b"q", b"0"))
    assert pop is not None and pop.consumes


@pytest.mark.parametrize(
    "args",
    [
        [b"XREAD", b"BLOCK", b"0", b"STREAMS", b"a", b"$"],
        [b"XREAD", b"STREAMS", b"a", b"b", b"0", b"$\x00"],
    ],
)
def test_dollar_is_refused_with_block_only(args: list[bytes]) -> None:
    reply = prepare(args, T0)
    if b"BLOCK" in args:
        assert isinstance(reply, Error) and "not supported" in reply.text
    else:
        assert reply == (b"XREAD", *args[1:])


def test_xread_answers_a_map_in_resp3_and_pairs_in_resp2() -> None:
    reply = NestedMap([(b"s", [[b"1-1", [b"f", b"v"]]]), (b"s", [])])
    assert encode_reply(reply, 2) == (
        b"*2\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
        b"*2\r\n$1\r\ns\r\n*0\r\n"
    )
    assert encode_reply(reply, 3) == (
        b"%2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n$1\r\ns\r\n*0\r\n"
    )


def _found(spec: KeySpec, args: list[bytes]) -> list[int]:
    positions = spec.find(args)
    assert positions is not None, args
    return list(positions)


def test_keyword_key_specs_find_keys_after_the_keyword() -> None:
    xread = lookup(b"xread")
    assert xread is not None and "movablekeys" in xread.flags
    assert (xread.first_key, xread.last_key, xread.key_step) == (0, 0, 0)
    (spec,) = xread.key_specs
    assert _found(spec, [b"XREAD", b"COUNT", b"1", b"STREAMS", b"a", b"b", b"0", b"0"]) == [4, 5]
    assert _found(spec, [b"XREAD", b"a", b"b", b"c"]) == []  # no keyword: no key
    assert spec.find([b"XREAD", b"x", b"STREAMS", b"a"]) is None  # a range outside the args
    assert _found(spec, [b"XREAD", b"streams\x00!", b"a", b"0"]) == [2]
    # A negative startfrom searches backwards from the end (MIGRATE's ``KEYS``).
    migrate = KeySpec(-2, -1, flags=("RW",), keyword="KEYS")
    args = [b"MIGRATE", b"h", b"6379", b"", b"0", b"5000", b"KEYS", b"a", b"b"]
    assert _found(migrate, args) == [7, 8]
    assert _found(migrate, [b"MIGRATE", b"h", b"6379", b"k", b"0", b"5000"]) == []


def test_stream_commands_change_only_keys_they_declare_as_written() -> None:
    """Random stream commands: every key whose value changed is among the op's writes,
    and read-only ones change nothing."""
    store = MemoryStore()
    rng = random.Random(5)
    keys = [b"s", b"t", b"str"]
    store.write(lambda txn: txn.put(b"str", Value(ValueType.STRING, 0, b"x")))
    requests = []
    for step in range(600):
        now = T0 + step * rng.randint(0, 3)
        key = rng.choice(keys)
        some_id = rng.choice([b"0", b"1-1", b"%d" % now, b"%d-1" % (now - 5), b"$", b"bad"])
        args = rng.choice(
            [
                [b"XADD", key, b"*", b"f", b"%d" % step],
                [b"XADD", key, b"MAXLEN", rng.choice([b"=", b"~"]), b"3", b"*", b"f", b"v"],
                [b"XADD", key, b"NOMKSTREAM", some_id, b"f", b"v"],
                [b"XDEL", key, some_id, b"1-1"],
                [b"XTRIM", key, b"MINID", some_id],
                [b"XTRIM", key, b"MAXLEN", b"%d" % rng.randint(0, 4)],
                [b"XLEN", key],
                [b"XRANGE", key, b"-", b"+", b"COUNT", b"2"],
                [b"XREVRANGE", key, b"+", some_id],
                [b"XREAD", b"COUNT", b"2", b"STREAMS", key, rng.choice(keys), some_id, b"0"],
                [b"DEL", key],
            ]
        )
        requests.append((now, args))
    changed_total = changed_keys_within_writes(store, requests)
    assert changed_total > 100


def test_xread_reads_exactly_its_stream_keys() -> None:
    op = (b"XREAD", b"COUNT", b"1", b"BLOCK", b"5", b"STREAMS", b"a", b"b", b"0-0", b"$")
    cmd = Command(origin=1, id=1, time_ms=T0, ops=(op,))
    assert command_access(cmd) == Access(reads=frozenset({b"a", b"b"}))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"5", ((5, 0), True)),
        (b"5-*", None),
        (b" 5-+6", ((5, 6), True)),
        (b"05-1\x00junk", ((5, 1), True)),
        (b"1--05", ((1, U64 - 4), True)),
        (b"1--5", None),
        (b"-5", None),
        (b"18446744073709551616", None),
        (b"1" * 128, None),
        (b"-", None),
    ],
)
def test_ids_are_parsed_as_redis_parses_them(
    raw: bytes, expected: tuple[tuple[int, int], bool] | None
) -> None:
    assert parse_id(raw) == expected
    assert parse_id(b"5-*", auto_seq=True) == ((5, 0), False)
    assert parse_id(b"-", strict=False) == ((0, 0), True)
    assert parse_id(b"+", strict=False) == (MAX_ID, True)
    assert parse_id(b"7", U64, strict=False) == ((7, U64), True)

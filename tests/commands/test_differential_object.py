"""OBJECT (ENCODING, REFCOUNT, FREQ, IDLETIME, HELP) and SUBSTR against redis-server 7.0.15.

OBJECT ENCODING is answered from the value (see ``epaxosdb.commands.objects``):
every type is built here the plain way on both sides, on both sides of each
threshold, and the replies are compared byte for byte, in RESP2 and RESP3.
Where Redis's answer depends on the value's history, which no stored value
here records, the difference is stated in a test of its own
(``test_history_cases_where_redis_keeps_an_encoding_we_answer_from_the_value``).
"""

from __future__ import annotations

import time

import pytest

from epaxosdb.commands import rdb
from epaxosdb.commands.objects import (
    COMPACT_PAYLOAD_MAX,
    FREQ_NOT_TRACKED,
    IDLETIME_NOT_TRACKED,
    SHARED_REFCOUNT,
)
from protocol.resp import encode_reply
from storage.interface import ValueType
from tests.commands.differential import Differential
from tests.redis_server import parse_reply

LLONG_MAX = (1 << 63) - 1
LLONG_MIN = -(1 << 63)


def _ints(values: range) -> list[bytes]:
    return [b"%d" % value for value in values]


def _pairs(count: int, field: bytes = b"f", value: bytes = b"v") -> list[bytes]:
    """``count`` distinct fields (``field`` and a number) with ``value`` each."""
    return [part for i in range(count) for part in (field + b"%d" % i, value)]


def _scored(count: int, member: bytes = b"m") -> list[bytes]:
    return [part for i in range(count) for part in (b"%d" % i, member + b"%d" % i)]


def _sized(size: int, filler: bytes, index: int) -> bytes:
    """A distinct string of exactly ``size`` bytes."""
    tag = b"%d" % index
    return filler * (size - len(tag)) + tag


def _check_object(diff: Differential, key: bytes, context: str = "") -> None:
    """ENCODING, REFCOUNT and FREQ of ``key`` alike on both sides (not IDLETIME: Redis
    answers a time we do not keep; see ``test_idletime_...``)."""
    for sub in (b"ENCODING", b"REFCOUNT", b"FREQ"):
        diff.check(b"OBJECT", sub, key, context=context)


# --- strings --------------------------------------------------------------------------

STRING_VALUES = [
    b"0", b"1", b"9999", b"10000", b"-1", b"-0", b"00", b"0123", b"+5", b" 1", b"1 ",
    b"12345678901234567890", b"%d" % LLONG_MAX, b"%d" % (LLONG_MAX + 1),
    b"%d" % LLONG_MIN, b"%d" % (LLONG_MIN - 1), b"123456789012345678901",
    b"1.5", b"1e3", b"0x10", b"inf", b"-inf", b"nan", b"3.0", b"1\x002",
    b"", b"a", b"x" * 43, b"x" * 44, b"x" * 45, b"9" * 44, b"9" * 45, b"y" * 1000,
    b"z" * 70_000, b"\xff\xfe" * 22, b"HYLL", b"HYLL" + b"\x02" + bytes(11),
]  # fmt: skip
"""Integers inside, at and outside 64 bits and the shared range, integer-looking
strings ``string2l`` refuses, floats, and lengths around the 44-byte embstr limit."""


@pytest.mark.parametrize("value", STRING_VALUES, ids=lambda v: repr(v[:24]))
def test_string_set_plainly_answers_redis_encoding_and_refcount(
    diff: Differential, value: bytes
) -> None:
    diff.check(b"SET", b"s", value)
    _check_object(diff, b"s")


def test_strings_written_by_other_plain_commands_answer_as_set(diff: Differential) -> None:
    """MSET, SETNX, SETEX, GETSET, SET GET, a first APPEND and a SETRANGE that changes
    nothing store the argument as SET does; INCR, DECR and INCRBY make integers, shared
    between 0 and 9999, at either end of that range too."""
    for args in (
        [b"MSET", b"a", b"7", b"b", b"x" * 50, b"c", b"word"],
        [b"SETNX", b"d", b"123"],
        [b"SETEX", b"e", b"100", b"42"],
        [b"GETSET", b"f", b"-3"],
        [b"SET", b"g", b"9", b"GET"],
        [b"APPEND", b"h", b"12"],
        [b"SET", b"i", b"77"],
        [b"SETRANGE", b"i", b"0", b""],
        [b"INCR", b"n1"],
        [b"SET", b"n2", b"10000"],
        [b"DECR", b"n2"],
        [b"SET", b"n3", b"9999"],
        [b"INCR", b"n3"],
        [b"INCRBY", b"n4", b"-5"],
        [b"SET", b"n5", b"5"],
        [b"EXPIRE", b"n5", b"100"],
        [b"SET", b"n6", b"20"],
        [b"RENAME", b"n6", b"n7"],
    ):
        diff.check(*args)
    for key in (b"a", b"b", b"c", b"d", b"e", b"f", b"g", b"h", b"i", b"n1", b"n2", b"n3",
                b"n4", b"n5", b"n7"):  # fmt: skip
        _check_object(diff, key, context=f"[{key!r}]")


def test_hyperloglogs_are_raw_as_pf_commands_leave_them(diff: Differential) -> None:
    """Sparse HLLs of a few elements fit in 44 bytes, yet PFADD, PFMERGE and PFCOUNT
    leave them ``raw``."""
    diff.check(b"PFADD", b"h1", b"a", b"b")
    diff.check(b"PFADD", b"h2")
    diff.check(b"PFMERGE", b"h3", b"h1")
    diff.check(b"PFMERGE", b"h4")
    diff.check(b"PFADD", b"h5", *(b"e%d" % i for i in range(3000)))  # dense
    diff.check(b"PFADD", b"h6", b"x")
    diff.check(b"PFCOUNT", b"h6")
    for key in (b"h1", b"h2", b"h3", b"h4", b"h5", b"h6"):
        assert diff.check(b"STRLEN", key) != b":0\r\n"
        _check_object(diff, key, context=f"[{key!r}]")


# --- hashes, sets, sorted sets ---------------------------------------------------------


@pytest.mark.parametrize("fields", [1, 511, 512, 513, 2000])
def test_hash_entries_threshold(diff: Differential, fields: int) -> None:
    diff.check(b"HSET", b"h", *_pairs(fields))
    _check_object(diff, b"h")


@pytest.mark.parametrize("size", [63, 64, 65, 300])
def test_hash_field_and_value_length_threshold(diff: Differential, size: int) -> None:
    diff.check(b"HSET", b"long-value", b"f", b"v" * size, b"g", b"w")
    diff.check(b"HSET", b"long-field", b"f" * size, b"v", b"g", b"w")
    diff.check(b"HSETNX", b"hsetnx", b"f" * size, b"v")
    diff.check(b"HSET", b"grown", b"f", b"v")
    diff.check(b"HSET", b"grown", b"g", b"v" * size)
    for key in (b"long-value", b"long-field", b"hsetnx", b"grown"):
        _check_object(diff, key, context=f"[{key!r} {size}]")


def test_hash_grown_one_field_at_a_time_and_by_increments(diff: Differential) -> None:
    for i in range(513):
        diff.redis.call(b"HSET", b"h", b"f%d" % i, b"v")
        diff.ours(b"HSET", b"h", b"f%d" % i, b"v")
        if i in (0, 510, 511, 512):
            _check_object(diff, b"h", context=f"[{i + 1} fields]")
    diff.check(b"HINCRBY", b"n", b"f", b"5")
    diff.check(b"HINCRBYFLOAT", b"f", b"f", b"1.5")
    diff.check(b"HINCRBYFLOAT", b"big", b"f", b"1e60")  # 61 bytes: still a listpack
    diff.check(b"HINCRBYFLOAT", b"bigger", b"f", b"1e70")  # 71 bytes: a hash table
    for key in (b"n", b"f", b"big", b"bigger"):
        _check_object(diff, key, context=f"[{key!r}]")


def test_hash_at_the_largest_listpack_is_listpack(diff: Differential) -> None:
    """512 fields and values of 64 bytes: the longest payload a listpack hash has here,
    which the size shortcut must not take for a hash table."""
    pairs = [
        part for i in range(512) for part in (_sized(64, b"f", i), _sized(64, b"v", i))
    ]
    diff.check(b"HSET", b"h", *pairs)
    _check_object(diff, b"h")
    header = diff.model.store.read(lambda kv: kv.header(b"h"))
    assert header is not None and header.size <= COMPACT_PAYLOAD_MAX[ValueType.HASH]


@pytest.mark.parametrize("count", [1, 511, 512, 513, 5000])
def test_set_of_integers_intset_threshold(diff: Differential, count: int) -> None:
    diff.check(b"SADD", b"s", *_ints(range(count)))
    _check_object(diff, b"s")


def test_set_of_widest_integers_at_the_threshold_is_intset(diff: Differential) -> None:
    """512 members of 20 characters: the longest payload an intset has here."""
    diff.check(b"SADD", b"s", *_ints(range(LLONG_MIN, LLONG_MIN + 512)))
    _check_object(diff, b"s")
    diff.check(b"SADD", b"s", b"%d" % LLONG_MAX)
    _check_object(diff, b"s")


SET_MEMBERS = [
    b"0", b"-1", b"%d" % LLONG_MAX, b"%d" % (LLONG_MAX + 1), b"%d" % LLONG_MIN,
    b"%d" % (LLONG_MIN - 1), b"01", b"+1", b" 1", b"-0", b"1.0", b"1e3", b"a", b"",
]  # fmt: skip


@pytest.mark.parametrize("member", SET_MEMBERS, ids=repr)
def test_set_member_is_an_integer_or_not(diff: Differential, member: bytes) -> None:
    diff.check(b"SADD", b"one", member)
    diff.check(b"SADD", b"mixed", b"1", b"2", member)
    for key in (b"one", b"mixed"):
        _check_object(diff, key, context=f"[{key!r} {member!r}]")


def test_sets_made_by_store_commands_and_smove(diff: Differential) -> None:
    diff.check(b"SADD", b"ints", *_ints(range(20)))
    diff.check(b"SADD", b"strs", b"a", b"1", b"2")
    diff.check(b"SADD", b"many", *_ints(range(1000)))
    for args in (
        [b"SINTERSTORE", b"d1", b"ints", b"strs"],
        [b"SUNIONSTORE", b"d2", b"ints", b"strs"],
        [b"SDIFFSTORE", b"d3", b"strs", b"ints"],
        [b"SINTERSTORE", b"d4", b"many", b"ints"],
        [b"SUNIONSTORE", b"d5", b"many"],
        [b"SMOVE", b"strs", b"d6", b"1"],
    ):
        diff.check(*args)
    for key in (b"d1", b"d2", b"d3", b"d4", b"d5", b"d6"):
        _check_object(diff, key, context=f"[{key!r}]")


@pytest.mark.parametrize("count", [1, 127, 128, 129, 1000])
def test_sorted_set_entries_threshold(diff: Differential, count: int) -> None:
    diff.check(b"ZADD", b"z", *_scored(count))
    _check_object(diff, b"z")


@pytest.mark.parametrize("size", [63, 64, 65, 200])
def test_sorted_set_member_length_threshold(diff: Differential, size: int) -> None:
    diff.check(b"ZADD", b"first", b"1", b"m" * size)
    diff.check(b"ZADD", b"later", b"1", b"a")
    diff.check(b"ZADD", b"later", b"2", b"m" * size)
    diff.check(b"ZINCRBY", b"incr", b"1", b"m" * size)
    diff.check(b"GEOADD", b"geo", b"13.361389", b"38.115556", b"m" * size)
    for key in (b"first", b"later", b"incr", b"geo"):
        _check_object(diff, key, context=f"[{key!r} {size}]")


def test_sorted_set_scores_do_not_count_and_the_largest_listpack_is_listpack(
    diff: Differential,
) -> None:
    diff.check(b"ZADD", b"z", b"1e300", b"a", b"-inf", b"b", b"3.14159265358979", b"c")
    _check_object(diff, b"z")
    members = [part for i in range(128) for part in (b"%d" % i, _sized(64, b"m", i))]
    diff.check(b"ZADD", b"widest", *members)
    _check_object(diff, b"widest")


def test_sorted_sets_made_by_store_commands(diff: Differential) -> None:
    """Redis re-encodes what these commands store from its contents, as we answer."""
    diff.check(b"ZADD", b"small", b"1", b"a", b"2", b"b" * 65)
    diff.check(b"ZADD", b"big", *_scored(300))
    for args in (
        [b"ZRANGESTORE", b"d1", b"small", b"0", b"0"],
        [b"ZRANGESTORE", b"d2", b"big", b"0", b"10"],
        [b"ZUNIONSTORE", b"d3", b"1", b"small"],
        [b"ZINTERSTORE", b"d4", b"2", b"big", b"big"],
        [b"ZDIFFSTORE", b"d5", b"1", b"small"],
        [b"ZUNIONSTORE", b"d6", b"1", b"big", b"WEIGHTS", b"2"],
    ):
        diff.check(*args)
    for key in (b"d1", b"d2", b"d3", b"d4", b"d5", b"d6"):
        _check_object(diff, key, context=f"[{key!r}]")


# --- lists and streams -----------------------------------------------------------------


def test_lists_are_quicklists_and_streams_streams_whatever_their_size(
    diff: Differential,
) -> None:
    diff.check(b"RPUSH", b"short", b"a")
    diff.check(b"RPUSH", b"long", *_ints(range(5000)))
    diff.check(b"LPUSH", b"wide", b"x" * 10_000)
    diff.check(b"XADD", b"s", b"1-1", b"f", b"v")
    diff.check(b"XADD", b"emptied", b"1-1", b"f", b"v")
    diff.check(b"XDEL", b"emptied", b"1-1")
    diff.check(b"XGROUP", b"CREATE", b"g", b"grp", b"$", b"MKSTREAM")
    for key in (b"short", b"long", b"wide", b"s", b"emptied", b"g"):
        _check_object(diff, key, context=f"[{key!r}]")


# --- missing keys, errors, help ----------------------------------------------------------


def test_missing_and_expired_keys_answer_null_to_every_subcommand(diff: Differential) -> None:
    diff.check(b"SET", b"e", b"v", b"PX", b"40")
    diff.check(b"HSET", b"he", b"f", b"v")
    diff.check(b"PEXPIRE", b"he", b"40")
    time.sleep(0.1)
    for key in (b"missing", b"e", b"he"):
        for sub in (b"ENCODING", b"REFCOUNT", b"FREQ", b"IDLETIME", b"encoding", b"IdleTime"):
            diff.check(b"OBJECT", sub, key, context=f"[{key!r}]")


def test_freq_is_redis_error_without_an_lfu_policy_for_every_type(diff: Differential) -> None:
    for args in (
        [b"SET", b"s", b"1"],
        [b"RPUSH", b"l", b"a"],
        [b"HSET", b"h", b"f", b"v"],
        [b"SADD", b"t", b"a"],
        [b"ZADD", b"z", b"1", b"a"],
        [b"XADD", b"x", b"1-1", b"f", b"v"],
    ):
        diff.check(*args)
        reply = diff.check(b"OBJECT", b"FREQ", args[1])
        assert reply == encode_reply(FREQ_NOT_TRACKED, diff.protocol)


OBJECT_ERRORS = [
    [b"OBJECT"],
    [b"object"],
    [b"OBJECT", b"ENCODING"],
    [b"OBJECT", b"ENCODING", b"k", b"extra"],
    [b"OBJECT", b"REFCOUNT"],
    [b"OBJECT", b"FREQ", b"k", b"x"],
    [b"OBJECT", b"IDLETIME"],
    [b"OBJECT", b"HELP", b"x"],
    [b"OBJECT", b"FOO"],
    [b"OBJECT", b"foo", b"k"],
    [b"OBJECT", b"ENCODINGS", b"k"],
    [b"OBJECT", b"", b"k"],
    [b"OBJECT", b"enc\x00oding", b"k"],
    [b"OBJECT", b"x" * 200, b"k"],
    [b"OBJECT", b"ENCODING|HELP"],
    [b"object|encoding", b"k"],
]


@pytest.mark.parametrize("args", OBJECT_ERRORS, ids=lambda a: repr(a)[:50])
def test_object_wrong_arity_and_unknown_subcommands_get_redis_errors(
    diff: Differential, args: list[bytes]
) -> None:
    diff.check(b"SET", b"k", b"v")
    assert diff.check(*args).startswith(b"-ERR ")


def test_object_help_is_redis_text_in_any_case(diff: Differential) -> None:
    for sub in (b"HELP", b"help", b"Help"):
        reply = diff.check(b"OBJECT", sub)
        assert b"ENCODING <key>" in reply and b"IDLETIME <key>" in reply


def test_object_keys_are_what_command_getkeys_says(diff: Differential) -> None:
    diff.check(b"COMMAND", b"GETKEYS", b"OBJECT", b"ENCODING", b"k")
    diff.check(b"COMMAND", b"GETKEYS", b"object", b"freq", b"k")
    diff.check(b"COMMAND", b"GETKEYS", b"OBJECT", b"HELP")
    diff.check(b"COMMAND", b"GETKEYS", b"SUBSTR", b"k", b"0", b"1")
    diff.check(b"COMMAND", b"INFO", b"object|encoding", b"substr", b"object|help")
    diff.check(b"COMMAND", b"DOCS", b"substr", b"object|refcount")


# --- inside transactions and scripts ------------------------------------------------------


def test_object_and_substr_inside_multi_see_earlier_commands_of_the_transaction(
    diff: Differential,
) -> None:
    """Inside MULTI a changed collection is held decoded (``workspace``): OBJECT must see
    its current contents. (Not the REFCOUNT of a string the transaction itself SET: see
    ``test_refcount_of_a_string_set_in_the_same_transaction``.)"""
    diff.check(b"SET", b"set-before", b"hello")
    diff.check_exec(
        [
            [b"SADD", b"s", b"1", b"2"],
            [b"OBJECT", b"ENCODING", b"s"],
            [b"SADD", b"s", b"a"],
            [b"OBJECT", b"ENCODING", b"s"],
            [b"HSET", b"h", *_pairs(600)],
            [b"OBJECT", b"ENCODING", b"h"],
            [b"SET", b"k", b"hello"],
            [b"SUBSTR", b"k", b"1", b"-2"],
            [b"OBJECT", b"REFCOUNT", b"set-before"],
            [b"OBJECT", b"FREQ", b"k"],
            [b"OBJECT", b"ENCODING", b"missing"],
            [b"SUBSTR", b"s", b"0", b"1"],
        ]
    )


def test_refcount_of_a_string_set_in_the_same_transaction(diff: Differential) -> None:
    """Redis keeps a queued command's arguments until EXEC ends, so a string the
    transaction SET is referenced twice while it runs: REFCOUNT answers 2 there. We have
    no such transient reference and answer 1, as Redis does once EXEC is over."""
    queued = [[b"SET", b"k", b"hello"], [b"OBJECT", b"REFCOUNT", b"k"]]
    assert diff.redis.call(b"MULTI") == b"+OK\r\n"
    for args in queued:
        assert diff.redis.call(*args) == b"+QUEUED\r\n"
    theirs = parse_reply(diff.redis.call(b"EXEC"))[0].value
    ours = parse_reply(diff.ours_exec(queued))[0].value
    assert isinstance(theirs, list) and isinstance(ours, list)
    assert (theirs[1].value, ours[1].value) == (b"2", b"1")
    diff.check(b"OBJECT", b"REFCOUNT", b"k")


def test_object_and_substr_from_a_script(diff: Differential) -> None:
    diff.check(b"ZADD", b"z", b"1", b"a")
    diff.check(b"SET", b"k", b"hello")
    script = (
        b"return {redis.call('OBJECT', 'ENCODING', KEYS[1]), "
        b"redis.call('OBJECT', 'REFCOUNT', KEYS[1]), redis.call('SUBSTR', KEYS[2], 0, 1), "
        b"redis.pcall('OBJECT', 'FREQ', KEYS[1])}"
    )
    diff.check(b"EVAL", script, b"2", b"z", b"k")


# --- SUBSTR -------------------------------------------------------------------------------

SUBSTR_RANGES = [
    (b"0", b"-1"), (b"0", b"0"), (b"1", b"3"), (b"-3", b"-1"), (b"-1", b"-3"),
    (b"3", b"1"), (b"-100", b"100"), (b"5", b"100"), (b"100", b"200"), (b"-100", b"-50"),
    (b"0", b"%d" % LLONG_MAX), (b"%d" % LLONG_MIN, b"%d" % LLONG_MAX),
    (b"%d" % LLONG_MAX, b"0"), (b"-0", b"1"), (b"x", b"1"), (b"1", b"x"), (b"1.5", b"2"),
    (b"", b"1"), (b" 1", b"2"), (b"%d" % (LLONG_MAX + 1), b"1"), (b"01", b"2"),
]  # fmt: skip


@pytest.mark.parametrize(("start", "end"), SUBSTR_RANGES, ids=repr)
def test_substr_answers_as_getrange_and_as_redis(
    diff: Differential, start: bytes, end: bytes
) -> None:
    diff.check(b"SET", b"k", b"Hello, World")
    diff.check(b"SET", b"empty", b"")
    diff.check(b"SET", b"n", b"12345")
    diff.check(b"RPUSH", b"l", b"a")
    for key in (b"k", b"empty", b"n", b"missing", b"l"):
        reply = diff.check(b"SUBSTR", key, start, end, context=f"[{key!r}]")
        assert reply == diff.ours(b"GETRANGE", key, start, end)


@pytest.mark.parametrize(
    "args",
    [[b"SUBSTR"], [b"SUBSTR", b"k"], [b"SUBSTR", b"k", b"0"], [b"SUBSTR", b"k", b"0", b"1", b"2"],
     [b"substr", b"k", b"a", b"b", b"c"]],
    ids=lambda a: repr(a)[:40],
)  # fmt: skip
def test_substr_wrong_arity_gets_redis_error(diff: Differential, args: list[bytes]) -> None:
    diff.check(b"SET", b"k", b"v")
    assert diff.check(*args).startswith(b"-ERR wrong number of arguments for 'substr'")


def test_substr_of_a_large_string_and_in_lower_case(diff: Differential) -> None:
    value = bytes(range(256)) * 400
    diff.check(b"SET", b"k", value)
    diff.check(b"substr", b"k", b"100000", b"100100")
    diff.check(b"Substr", b"k", b"-5", b"-1")


# --- where we differ --------------------------------------------------------------------


def _redis_and_ours(diff: Differential, *args: bytes) -> tuple[object, object]:
    theirs = parse_reply(diff.redis.call(*args))[0].value
    ours = parse_reply(diff.ours(*args))[0].value
    return theirs, ours


def _both(diff: Differential, *requests: list[bytes]) -> None:
    for args in requests:
        diff.check(*args)


def test_history_cases_where_redis_keeps_an_encoding_we_answer_from_the_value(
    diff: Differential,
) -> None:
    """Redis's encoding depends on history; ours on the value alone, as it would be if
    built afresh. The cases, and what each side answers:

    * a hash, set or sorted set that outgrew its compact form keeps the big one in
      Redis after it shrinks back (HDEL, SREM, ZREM): ``hashtable``/``skiplist``
      there, ``listpack``/``intset`` here;
    * APPEND to an existing key, SETRANGE and SETBIT leave a string ``raw`` in Redis;
      here it is ``int`` or ``embstr`` while short;
    * INCRBYFLOAT leaves ``embstr`` (an unshared object, refcount 1) even when the result
      reads as an integer; here ``int``, shared when under 10000;
    * COPY of a shared integer makes a private one in Redis (refcount 1); here shared;
    * an HLL written with SET (or RESTORE) is ``embstr`` in Redis until a PF command
      touches it; here ``raw``, as PFADD leaves it.

    In each of the first four cases, Redis's own answer for the value DUMPed and
    RESTOREd (rebuilt from its contents) is ours.
    """
    assert diff.redis.call(b"PFADD", b"tmp", b"a") == b":1\r\n"
    hll = parse_reply(diff.redis.call(b"GET", b"tmp"))[0].value
    assert isinstance(hll, bytes) and len(hll) <= 44
    _both(
        diff,
        [b"HSET", b"hash", b"f", b"v", b"g", b"x" * 65],
        [b"HDEL", b"hash", b"g"],
        [b"SADD", b"set", b"1", b"a"],
        [b"SREM", b"set", b"a"],
        [b"ZADD", b"zset", *_scored(129)],
        [b"ZREM", b"zset", b"m0"],
        [b"SET", b"appended", b"12"],
        [b"APPEND", b"appended", b"3"],
        [b"SET", b"ranged", b"abc"],
        [b"SETRANGE", b"ranged", b"0", b"x"],
        [b"SET", b"bits", b"5"],
        [b"SETBIT", b"bits", b"0", b"0"],
        [b"SET", b"float", b"5"],
        [b"INCRBYFLOAT", b"float", b"5"],
        [b"SET", b"small", b"5"],
        [b"COPY", b"small", b"copied"],
        [b"SET", b"hll", hll],
    )
    cases = {
        b"hash": (b"ENCODING", b"hashtable", b"listpack"),
        b"set": (b"ENCODING", b"hashtable", b"intset"),
        b"zset": (b"ENCODING", b"skiplist", b"listpack"),
        b"appended": (b"ENCODING", b"raw", b"int"),
        b"ranged": (b"ENCODING", b"raw", b"embstr"),
        b"bits": (b"ENCODING", b"raw", b"int"),
        b"float": (b"ENCODING", b"embstr", b"int"),
        b"copied": (b"REFCOUNT", b"1", b"%d" % SHARED_REFCOUNT),
        b"hll": (b"ENCODING", b"embstr", b"raw"),
    }
    shared = b"%d" % SHARED_REFCOUNT
    assert _redis_and_ours(diff, b"OBJECT", b"REFCOUNT", b"float") == (b"1", shared)
    for key, (sub, redis_says, we_say) in cases.items():
        assert _redis_and_ours(diff, b"OBJECT", sub, key) == (redis_says, we_say), key
        if key == b"hll":
            continue
        payload = parse_reply(diff.redis.call(b"DUMP", key))[0].value
        assert isinstance(payload, bytes)
        assert diff.redis.call(b"RESTORE", key, b"0", payload, b"REPLACE") == b"+OK\r\n"
        theirs, _ = _redis_and_ours(diff, b"OBJECT", sub, key)
        assert theirs == we_say, key


def test_idletime_is_refused_where_redis_answers_seconds(diff: Differential) -> None:
    """Redis counts seconds since the key's last access on a clock of its own; we keep no
    access time (see ``objects``), so an existing key gets an error, in the words Redis
    uses when it does not track idle time either, and a missing one the null reply."""
    diff.check(b"SET", b"k", b"v")
    theirs, ours = diff.both(b"OBJECT", b"IDLETIME", b"k")
    assert theirs.startswith(b":")  # seconds: 0 unless the machine stalls
    assert ours == encode_reply(IDLETIME_NOT_TRACKED, diff.protocol)
    assert ours.startswith(b"-ERR ") and ours.endswith(b"idle time not tracked.\r\n")
    diff.check(b"OBJECT", b"IDLETIME", b"missing")


# --- DUMP agrees ---------------------------------------------------------------------------

DUMP_TYPES = {
    rdb.TYPE_HASH_LISTPACK: b"listpack",
    rdb.TYPE_HASH: b"hashtable",
    rdb.TYPE_SET_INTSET: b"intset",
    rdb.TYPE_SET: b"hashtable",
    rdb.TYPE_ZSET_LISTPACK: b"listpack",
    rdb.TYPE_ZSET_2: b"skiplist",
    rdb.TYPE_LIST_QUICKLIST_2: b"quicklist",
}


def test_object_encoding_names_the_form_our_dump_writes(diff: Differential) -> None:
    """DUMP writes a collection in the form Redis would give its contents; OBJECT
    ENCODING names that same form, on either side of every threshold."""
    builds = [
        [b"HSET", b"h1", *_pairs(512)],
        [b"HSET", b"h2", *_pairs(513)],
        [b"HSET", b"h3", b"f", b"v" * 65],
        [b"SADD", b"s1", *_ints(range(512))],
        [b"SADD", b"s2", *_ints(range(513))],
        [b"SADD", b"s3", b"01"],
        [b"ZADD", b"z1", *_scored(128)],
        [b"ZADD", b"z2", *_scored(129)],
        [b"ZADD", b"z3", b"1", b"m" * 65],
        [b"RPUSH", b"l", b"a"],
    ]
    for args in builds:
        diff.ours(*args)
        payload = parse_reply(diff.ours(b"DUMP", args[1]))[0].value
        assert isinstance(payload, bytes)
        encoding = parse_reply(diff.ours(b"OBJECT", b"ENCODING", args[1]))[0].value
        assert DUMP_TYPES[payload[0]] == encoding, args[1]

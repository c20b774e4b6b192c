"""BITFIELD and BITFIELD_RO against redis-server: the same replies, errors and bytes.

Every case runs its requests on both sides and then reads the keys back (GET,
EXISTS, and PTTL where a TTL is set), so what a BITFIELD stored is compared
as well as what it answered. The edge cases run under RESP2 and RESP3 (a
FAIL overflow's nil is ``$-1`` in one, ``_`` in the other); the random
sequences over a few keys run under RESP2. Rerun one sequence with
``EPAXOSDB_BITFIELD_SEED=<seed>``.
"""

from __future__ import annotations

import os
import random
import time

import pytest

from storage.interface import ValueType
from tests.commands.differential import PTTL_TOLERANCE_MS, Differential
from tests.redis_server import RedisServer

SEEDS = [int(s) for s in os.environ.get("EPAXOSDB_BITFIELD_SEED", "1 2 3 4").split()]
STEPS = 400

Request = list[bytes]


def _r(line: str) -> Request:
    """A request written as words (``\\0`` in a word stands for a NUL byte)."""
    return [word.encode().replace(b"\\0", b"\0") for word in line.split()]


def _limits(signed: bool, bits: int) -> tuple[int, int]:
    if signed:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


LIMIT_TYPES = [
    *(f"i{b}" for b in (1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 53, 62, 63, 64)),
    *(f"u{b}" for b in (1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 53, 62, 63)),
]
LLONG_MIN, LLONG_MAX = -(1 << 63), (1 << 63) - 1


def _limit_requests(field: str, mode: str) -> list[Request]:
    """SETs and INCRBYs at and past both limits of ``field`` under OVERFLOW ``mode``, each
    field at its own offset (unaligned, so most cross byte boundaries), GET after each."""
    low, high = _limits(field[0] == "i", int(field[1:]))
    values = sorted(
        {v for v in (low - 1, low, low + 1, -1, 0, 1, high - 1, high, high + 1,
                     LLONG_MIN, LLONG_MAX) if LLONG_MIN <= v <= LLONG_MAX}
    )  # fmt: skip
    increments = [LLONG_MIN, -high - 1, -1, 0, 1, high - low, high + 1, LLONG_MAX]
    requests: list[Request] = []
    for index, value in enumerate(values):
        offset = str(3 + 67 * index)
        requests.append(
            _r(f"BITFIELD k OVERFLOW {mode} SET {field} {offset} {value} GET {field} {offset}")
        )
        for start in (low, high):
            for incr in increments:
                if LLONG_MIN <= incr <= LLONG_MAX:
                    requests.append(_r(
                        f"BITFIELD k OVERFLOW {mode} SET {field} {offset} {start} "
                        f"INCRBY {field} {offset} {incr} GET {field} {offset}"
                    ))  # fmt: skip
    return requests


@pytest.mark.parametrize("mode", ["WRAP", "SAT", "FAIL"])
@pytest.mark.parametrize("field", LIMIT_TYPES)
def test_every_overflow_mode_at_the_type_limits_matches_redis(
    diff: Differential, field: str, mode: str
) -> None:
    for args in _limit_requests(field, mode):
        diff.check(*args)
    diff.check(b"GET", b"k")


# fmt: off
# Each case's requests read as a table, one per line.
EDGE_CASES: dict[str, list[Request]] = {
    "signed wrap both ways": [
        _r("BITFIELD k SET i8 0 127 INCRBY i8 0 1 INCRBY i8 0 -1 INCRBY i8 0 -1000 GET i8 0"),
        _r("BITFIELD k INCRBY i64 8 9223372036854775807 INCRBY i64 8 1 GET i64 8"),
        _r("BITFIELD k INCRBY i64 8 -9223372036854775808 INCRBY i64 8 -1"),
        _r("BITFIELD k SET i1 100 -1 INCRBY i1 100 1 INCRBY i1 100 1 GET u1 100"),
    ],
    "unsigned wrap and saturation": [
        _r("BITFIELD k INCRBY u2 0 5 INCRBY u2 0 -7 OVERFLOW SAT INCRBY u2 0 9 INCRBY u2 0 -9"),
        _r("BITFIELD k SET u63 3 9223372036854775807 INCRBY u63 3 1 GET u63 3"),
        _r("BITFIELD k OVERFLOW SAT SET u8 80 -1 SET u8 88 -300 GET u8 80 GET u8 88"),
        _r("BITFIELD k OVERFLOW WRAP SET u8 96 -1 SET u8 104 -300 GET u8 96 GET u8 104"),
        _r("BITFIELD k OVERFLOW FAIL SET u8 112 -1 SET u8 120 256 SET u8 120 255"),
    ],
    "overflow applies to what follows": [
        _r("BITFIELD k INCRBY u4 0 20 OVERFLOW SAT INCRBY u4 0 20 OVERFLOW FAIL INCRBY u4 0 20"
           " OVERFLOW WRAP INCRBY u4 0 20 OVERFLOW SAT"),
        _r("BITFIELD k OVERFLOW fail OVERFLOW sat INCRBY i4 8 100 overflow Wrap INCRBY i4 8 9"),
        _r("BITFIELD k INCRBY u4 16 20"),  # each call starts at WRAP again
    ],
    "hash offsets": [
        _r("BITFIELD k SET u8 #0 1 SET u8 #1 2 SET u8 #3 4 GET u16 #0 GET u16 #1 GET u4 #3"),
        _r("BITFIELD k SET i5 #7 -3 GET i5 #7 GET u5 35 GET u3 #12"),
        _r("BITFIELD k GET i64 #288230376151711745 GET u63 #292805461487453201"),
        _r("BITFIELD k GET i64 #144115188075855873"),
        _r("BITFIELD k GET i64 #67108863"),
        _r("BITFIELD k GET i64 #67108864"),
        _r("BITFIELD k GET i64 #-1"),
        _r("BITFIELD k GET u8 #"),
        _r("BITFIELD k GET u8 ##1"),
        _r("BITFIELD k GET u8 #+1"),
        _r("BITFIELD k GET u8 #01"),
        _r("BITFIELD k GET i8 #9223372036854775807"),
        _r("BITFIELD k GET i8 #9223372036854775808"),
        _r("BITFIELD k GET i1 #4294967295 GET i1 #4294967296"),
    ],
    "huge offsets read zeros or are refused": [
        _r("SET k abc"),
        _r("BITFIELD k GET u8 4294967295 GET i64 4294967295 GET u63 4294967232"),
        _r("BITFIELD k GET u8 4294967296"),
        _r("BITFIELD k GET u8 9223372036854775807"),
        _r("BITFIELD k GET u8 9223372036854775808"),
        _r("BITFIELD k GET u8 -1"),
        _r("BITFIELD k SET u8 -1 0"),
        _r("BITFIELD missing GET i64 4294967295"),
    ],
    "bad types": [
        _r(f"BITFIELD k GET {t} 0")
        for t in ("i0", "u0", "i65", "u64", "I8", "U8", "x8", "i", "u", "i-1", "i+1", "i08",
                  "i8x", "8", "i9223372036854775808", "u\\08", "#8")
    ] + [
        [b"BITFIELD", b"k", b"GET", b"", b"0"],
        [b"BITFIELD", b"k", b"GET", b"i 8", b"0"],
        _r("BITFIELD k SET u8\\0junk 0 200 GET i8\\0 0"),  # a NUL ends the type, as in C
    ],
    "bad values and offsets": [
        *(_r(f"BITFIELD k SET i8 0 {v}") for v in (
            "x", "1.5", "9223372036854775808", "-9223372036854775809", "+1", "01", "-0", "1e3",
            "0x10")),
        [b"BITFIELD", b"k", b"SET", b"i8", b"0", b""],
        [b"BITFIELD", b"k", b"INCRBY", b"i8", b"0", b" 1"],
        *(_r(f"BITFIELD k GET i8 {o}") for o in ("x", "1.0", "01", "+1", "0\\01")),
        [b"BITFIELD", b"k", b"GET", b"i8", b""],
        _r("BITFIELD k SET i64 0 -9223372036854775808 INCRBY u63 64 9223372036854775807"),
        _r("EXISTS k"),
    ],
    "syntax and the order of errors": [
        _r("BITFIELD k GET"),
        _r("BITFIELD k GET u8"),
        _r("BITFIELD k SET u8 0"),
        _r("BITFIELD k INCRBY u8 0"),
        _r("BITFIELD k OVERFLOW"),
        _r("BITFIELD k OVERFLOW BAD GET u8 0"),
        _r("BITFIELD k GET u8 0 OVERFLOW"),
        _r("BITFIELD k FOO u8 0"),
        _r("BITFIELD k GET u8 0 extra"),
        _r("BITFIELD k GET bad -1"),
        _r("BITFIELD k SET u8 -1 x"),
        _r("BITFIELD k SET u8 0 x GET bad 0"),
        _r("BITFIELD k GET u8 0 SET bad 0 0"),
        _r("BITFIELD k SET u8 0 1 OVERFLOW nope"),
        _r("BITFIELD k SET u8 0 1 GET u8"),
        _r("EXISTS k"),  # nothing ran: parsing comes first
    ],
    "names are case-insensitive C strings": [
        _r("BITFIELD k sEt u8 0 7 gEt u8 0 InCrBy u8 0 1 oVeRfLoW sAt INCRBY u8 0 999"),
        _r("BITFIELD k get\\0x u8 0 overflow fail\\0x INCRBY u8 0 999"),
        _r("BITFIELD k OVERFLOW wrapx GET u8 0"),
        _r("BITFIELD k GETX u8 0"),
    ],
    "mixed subcommands": [
        _r("SET k hello"),
        _r("BITFIELD k GET u8 0 SET u8 0 72 GET i8 0 INCRBY u4 4 3 GET u8 0 GET u16 4"),
        _r("BITFIELD k GET u8 64 SET u8 64 1 GET u8 64 GET u16 56"),
        _r("BITFIELD k GET i64 3 INCRBY i64 3 -5 GET i64 3 GET u63 3 SET u1 0 1 GET i8 0"),
        _r("BITFIELD k GET u32 200 SET i3 170 -2 GET u32 160"),
    ],
    "missing keys": [
        _r("BITFIELD m GET u8 0 GET i64 100"),
        _r("EXISTS m"),
        _r("BITFIELD m"),
        _r("BITFIELD m OVERFLOW FAIL"),
        _r("EXISTS m"),
        _r("BITFIELD_RO m GET u8 0"),
        _r("EXISTS m"),
        _r("BITFIELD m OVERFLOW FAIL SET u2 30 4 INCRBY u8 0 256"),  # fails, creates 4 bytes
        _r("STRLEN m"),
        _r("BITFIELD n GET u8 100 SET u1 7 1"),
        _r("STRLEN n"),
    ],
    "read-only variant": [
        _r("SET k \\0\\0abc"),
        _r("BITFIELD_RO k GET u8 16 GET i16 #1 GET u63 #0"),
        _r("BITFIELD_RO k"),
        _r("BITFIELD_RO k OVERFLOW SAT GET u8 0"),
        _r("BITFIELD_RO k SET u8 0 1"),
        _r("BITFIELD_RO k GET u8 0 INCRBY u8 0 1"),
        _r("BITFIELD_RO k SET bad 0 1"),
        _r("BITFIELD_RO k SET u8 0 x"),
        _r("BITFIELD_RO k OVERFLOW BAD"),
        _r("BITFIELD_RO k GET"),
        _r("BITFIELD_RO k FOO"),
        _r("bitfield_ro k get u8 0"),
        _r("BITFIELD_RO"),
        _r("BITFIELD"),
    ],
    "integer-encoded and long strings": [
        _r("SET k 12345"),
        _r("BITFIELD k GET u8 0 GET i40 0"),
        _r("BITFIELD k INCRBY u8 32 1"),
        _r("SET k -9223372036854775808"),
        _r("BITFIELD_RO k GET i64 #1"),
        [b"SET", b"long", bytes(range(256)) * 40],
        _r("BITFIELD long GET u63 81000 INCRBY i33 40000 -77777 GET u63 0 GET i64 81913"),
    ],
}
# fmt: on


@pytest.mark.parametrize("requests", EDGE_CASES.values(), ids=EDGE_CASES.keys())
def test_edge_cases_match_redis(diff: Differential, requests: list[Request]) -> None:
    for args in requests:
        diff.check(*args)
        for key in (b"k", b"m", b"n", b"long"):
            diff.check(b"GET", key, context=f"after {args!r}")


@pytest.mark.parametrize("value_type", [ValueType.LIST, ValueType.SET, ValueType.HASH,
                                        ValueType.ZSET])  # fmt: skip
def test_keys_of_other_types_get_wrongtype_after_the_arguments_are_checked(
    diff: Differential, value_type: ValueType
) -> None:
    diff.put_non_string(b"k", value_type)
    for line in (
        "BITFIELD k GET u8 0",
        "BITFIELD k SET u8 0 1",
        "BITFIELD k OVERFLOW FAIL INCRBY u8 0 300",
        "BITFIELD k",
        "BITFIELD_RO k GET u8 0",
        "BITFIELD_RO k",
    ):
        assert diff.check(*_r(line)).startswith(b"-WRONGTYPE Operation")
    for line in (
        "BITFIELD_RO k SET u8 0 1",  # refused before the lookup
        "BITFIELD k GET u99 0",
        "BITFIELD k SET u8 0 x",
        "BITFIELD k GET u8 -1",
        "BITFIELD k GET",
    ):
        assert diff.check(*_r(line)).startswith(b"-ERR ")
    diff.check(b"TYPE", b"k")


def test_writes_keep_the_ttl_and_an_expired_key_starts_afresh(diff: Differential) -> None:
    diff.check(*_r("SET k abc PX 100000"))
    diff.check(*_r("BITFIELD k SET u8 100 1 INCRBY i4 0 3"))
    diff.check_ttl(b"PTTL", b"k", tolerance=PTTL_TOLERANCE_MS)
    diff.check(*_r("BITFIELD k GET u8 0"))
    diff.check_ttl(b"PTTL", b"k", tolerance=PTTL_TOLERANCE_MS)
    diff.check(b"GET", b"k")
    diff.check(*_r("SET e abcdef PX 30"))
    diff.check(*_r("SET g abcdef PX 30"))
    time.sleep(0.1)
    diff.check(*_r("BITFIELD g GET u8 0"))
    diff.check(*_r("BITFIELD e SET u8 8 7"))
    for key in (b"e", b"g"):
        diff.check(b"GET", key)
        diff.check(b"PTTL", key)


def test_bitfield_in_transactions_and_scripts_matches_redis(diff: Differential) -> None:
    diff.check_exec(
        [
            _r("BITFIELD k SET u8 0 200 GET u8 0"),
            _r("BITFIELD k GET u99 0"),  # a run-time error: only this item fails
            _r("BITFIELD_RO k SET u8 0 1"),
            _r("BITFIELD k OVERFLOW FAIL INCRBY u8 0 100 INCRBY u8 0 10"),
            _r("BITFIELD_RO k GET u8 0"),
        ]
    )
    diff.check(b"GET", b"k")
    script = b"return redis.call(ARGV[1], KEYS[1], 'INCRBY', 'u8', '0', ARGV[2])"
    diff.check(b"EVAL", script, b"1", b"k", b"BITFIELD", b"5")
    diff.check(b"EVAL", script, b"1", b"k", b"BITFIELD", b"x")
    diff.check(b"EVAL_RO", script, b"1", b"k", b"BITFIELD", b"1")
    diff.check(b"EVAL_RO", script, b"1", b"k", b"BITFIELD_RO", b"1")
    read = b"return redis.call('BITFIELD_RO', KEYS[1], 'GET', 'u8', '0', 'GET', 'i4', '#1')"
    diff.check(b"EVAL_RO", read, b"1", b"k")
    diff.check(b"GET", b"k")


def test_a_field_at_the_last_offset_grows_the_string_past_512_mb_like_redis(
    redis_server: RedisServer,
) -> None:
    """The offset limit is what SETBIT's is (bit 2**32 - 1), and a field there reaches a
    few bytes past 512 MB: Redis grows the string that far without complaint."""
    conn = redis_server.connect(2)
    try:
        resp2 = Differential(conn, 2)
        resp2.check(*_r("BITFIELD big SET u8 4294967288 1 INCRBY i64 4294967295 -2"))
        resp2.check(b"STRLEN", b"big")
        resp2.check(*_r("GETRANGE big -12 -1"))
        resp2.check(*_r("BITFIELD_RO big GET u8 4294967288 GET i64 4294967295"))
        resp2.check(b"DEL", b"big")
    finally:
        conn.close()


KEYS = [b"a", b"b", b"c"]
TYPES = [b"i1", b"i3", b"i8", b"i13", b"i32", b"i63", b"i64",
         b"u1", b"u4", b"u8", b"u15", b"u32", b"u62", b"u63"]  # fmt: skip


def _number(rng: random.Random, bits: int) -> int:
    """Mostly near a field's limits (where the modes differ), sometimes any 64-bit value."""
    roll = rng.random()
    if roll < 0.3:
        return rng.randrange(-20, 21)
    if roll < 0.8:
        edge = rng.choice((1 << (bits - 1), 1 << bits, -(1 << (bits - 1)), -(1 << bits)))
        return max(min(edge + rng.randrange(-3, 4), (1 << 63) - 1), -(1 << 63))
    return rng.randrange(-(1 << 63), 1 << 63)


def _offset(rng: random.Random, bits: int) -> bytes:
    if rng.random() < 0.3:
        return b"#%d" % rng.randrange(0, 12)
    return b"%d" % rng.randrange(0, 200)


def _subcommands(rng: random.Random) -> list[bytes]:
    parts: list[bytes] = []
    for _ in range(rng.randrange(0, 6)):
        roll = rng.random()
        field = rng.choice(TYPES)
        bits = int(field[1:])
        if roll < 0.15:
            parts += [b"OVERFLOW", rng.choice([b"WRAP", b"SAT", b"FAIL", b"sat", b"fail"])]
        elif roll < 0.45:
            parts += [b"GET", field, _offset(rng, bits)]
        elif roll < 0.7:
            parts += [b"SET", field, _offset(rng, bits), b"%d" % _number(rng, bits)]
        elif roll < 0.97:
            parts += [b"INCRBY", field, _offset(rng, bits), b"%d" % _number(rng, bits)]
        else:  # an occasional bad argument: the whole call must fail with Redis's error
            parts += rng.choice([
                [b"GET", b"u64", b"0"], [b"SET", field, b"-1", b"0"],
                [b"INCRBY", field, b"0", b"1.5"], [b"OVERFLOW", b"x"],
            ])  # fmt: skip
    return parts


def _request(rng: random.Random) -> Request:
    roll = rng.random()
    key = rng.choice(KEYS)
    if roll < 0.8:
        return [b"BITFIELD", key, *_subcommands(rng)]
    if roll < 0.88:
        gets: list[bytes] = []
        for _ in range(rng.randrange(0, 4)):
            field = rng.choice(TYPES)
            gets += [b"GET", field, _offset(rng, int(field[1:]))]
        return [b"BITFIELD_RO", key, *gets]
    if roll < 0.93:
        return [b"SETRANGE", key, b"%d" % rng.randrange(0, 30), rng.randbytes(rng.randrange(4))]
    if roll < 0.96:
        return [b"SET", key, rng.choice([b"", b"12345", rng.randbytes(rng.randrange(1, 40))])]
    if roll < 0.98:
        return [b"DEL", key]
    return [b"RPUSH", key, b"x"]


@pytest.mark.parametrize("seed", SEEDS)
def test_random_bitfield_sequences_match_redis_replies_and_bytes(
    resp2: Differential, seed: int
) -> None:
    rng = random.Random(seed)
    nils = ran = 0
    for step in range(STEPS):
        args = _request(rng)
        context = f"[seed {seed} step {step}]"
        reply = resp2.check(*args, context=context)
        nils += reply.count(b"$-1\r\n")
        ran += args[0] == b"BITFIELD" and reply.startswith(b"*")
        for key in KEYS:
            resp2.check(b"GET", key, context=f"{context} after {args[:2]!r}")
    assert nils > 0 and ran > STEPS // 2  # FAIL overflows happened; most calls ran


@pytest.mark.parametrize(
    "line",
    [
        "k GET u8 0",
        "k",
        "k OVERFLOW SAT GET u8 0 OVERFLOW",
        "k GET u8 0 SET u8 0 1",
        "k INCRBY u8 0 1",
        "k GET u8",
        "k FOO",
        "k GET u99 x GET i8 #3",
        "k get\\0x u8 0",
    ],
)
def test_key_flags_match_redis_getkeysandflags(resp2: Differential, line: str) -> None:
    """COMMAND GETKEYSANDFLAGS answers as Redis's ``bitfieldGetKeys`` does: RO for GETs
    alone, RW as soon as anything else appears (``bitfield.key_flags``)."""
    theirs, ours = resp2.both(b"COMMAND", b"GETKEYSANDFLAGS", *_r(f"BITFIELD {line}"))
    assert ours == theirs

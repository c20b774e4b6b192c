"""Seeded random command sequences, replayed against redis-server and compared reply by reply.

The generator works over eight keys, mixes numeric and non-numeric values,
injects lists/sets/hashes/sorted sets for WRONGTYPE, builds sorted sets from a
few members and scores (so ties, score updates and wrong types are common), and throws in bad
arguments, bad options, wrong arity and unknown commands. A failure names
the seed and the step; rerun one seed with ``EPAXOSDB_COMMANDS_SEED=<seed>``.

Timing never decides a reply: every relative TTL is at least 100 s and grows
with the step number, so two expiries of one key never tie at millisecond
resolution (a tie would make GT/LT depend on which clock ticked first);
absolute deadlines are either long past or far ahead. TTL-like replies are
compared within a tolerance, KEYS as a set, SCAN by a full iteration,
RANDOMKEY by "nil on both, or an existing key on both", and everything else
(member/score pairs too, nested under RESP3) byte for byte.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable

import pytest

from storage.interface import ValueType
from tests.commands.differential import PTTL_TOLERANCE_MS, Differential, wall_ms

STEPS = 3000
SEEDS = [int(s) for s in os.environ.get("EPAXOSDB_COMMANDS_SEED", "1 2 3").split()]

KEYS = [b"k%d" % i for i in range(8)]
VALUES = [
    b"v", b"", b"0", b"1", b"-1", b"42", b"9223372036854775807", b"-9223372036854775808",
    b"3.5", b"1e3", b"abc", b" 1", b"x" * 20, b"10.50", b"-0",
]  # fmt: skip
INTEGERS = [
    b"0", b"1", b"-1", b"7", b"100", b"-100", b"9223372036854775807", b"-9223372036854775808",
    b"9223372036854775808", b"abc", b"1.5", b"", b"01",
]  # fmt: skip
FLOATS = [
    b"0.1", b"-0.1", b"1.5", b"1e3", b"-2.5e-3", b"inf", b"abc", b"10", b"0x10", b"1e400",
    b"3.0e3", b"", b"5.0e-1", b"-5",
]  # fmt: skip
BAD_TTLS = [b"0", b"-1", b"abc", b"9223372036854775807", b"1.5", b""]
PATTERNS = [b"*", b"k*", b"k[0-3]", b"k?", b"*1*", b"[^k]*", b"k\\1", b"x*", b"k[1-", b""]
SET_OPTIONS = [b"NX", b"XX", b"GET", b"KEEPTTL", b"nx", b"get", b"FOO"]
EXPIRE_OPTIONS = [b"NX", b"XX", b"GT", b"LT", b"gt", b"FOO"]
NON_STRING_TYPES = [ValueType.LIST, ValueType.SET, ValueType.HASH, ValueType.ZSET]
FLUSH_REDRAW = 0.9
"""Most FLUSH draws are redrawn, so the keyspace has time to fill up between flushes."""

Request = tuple[str, list[bytes]]
"""How to compare (``exact``, ``ttl``, ``pttl``, ``keys``, ``pairs``, ``scores``, ``scan``,
``collection_scan``, ``random``) and the request."""


class Generator:
    """Draws requests from a seeded ``random.Random``; wall-clock values are read when drawn."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.step = 0

    def key(self) -> bytes:
        return self.rng.choice(KEYS)

    def relative_seconds(self) -> bytes:
        """A TTL in seconds that cannot tie with an earlier one (see the module docstring)."""
        if self.rng.random() < 0.15:
            return self.rng.choice(BAD_TTLS)
        return b"%d" % (self.rng.choice((100, 10_000, 1_000_000)) + self.step)

    def relative_ms(self) -> bytes:
        if self.rng.random() < 0.15:
            return self.rng.choice(BAD_TTLS)
        return b"%d" % ((self.rng.choice((100, 10_000, 1_000_000)) + self.step) * 1000)

    def absolute_seconds(self, past_allowed: bool) -> bytes:
        if past_allowed and self.rng.random() < 0.3:
            return b"%d" % (wall_ms() // 1000 - 100)
        return b"%d" % (wall_ms() // 1000 + 2_000 + self.step)

    def absolute_ms(self, past_allowed: bool) -> bytes:
        if past_allowed and self.rng.random() < 0.3:
            return b"%d" % (wall_ms() - 100_000)
        return b"%d" % (wall_ms() + (3_000 + self.step) * 1000)

    def expiry_option(self, past_allowed: bool) -> list[bytes]:
        unit = self.rng.choice([b"EX", b"PX", b"EXAT", b"PXAT", b"ex"])
        value = {
            b"EX": self.relative_seconds,
            b"ex": self.relative_seconds,
            b"PX": self.relative_ms,
            b"EXAT": lambda: self.absolute_seconds(past_allowed),
            b"PXAT": lambda: self.absolute_ms(past_allowed),
        }[unit]()
        return [unit, value]

    def request(self) -> Request:
        self.step += 1
        name, make = self.rng.choice(COMMANDS)
        while name == "FLUSH" and self.rng.random() < FLUSH_REDRAW:
            name, make = self.rng.choice(COMMANDS)
        mode, args = make(self)
        if mode == "inject" or args[0] in RANDOM_PICKS:
            return mode, args  # a truncated SPOP picks at random: not comparable
        roll = self.rng.random()
        mutated = args
        if roll < 0.03:
            mutated = args[: self.rng.randrange(1, max(2, len(args)))]
        elif roll < 0.05:
            mutated = [*args, self.rng.choice(VALUES)]
        elif roll < 0.055:
            mutated = [b"NOSUCHCMD", *args[1:]]
        if mutated == args:
            return mode, args
        if mutated[0] == b"SCAN" and mutated[1:2] == [b"0"]:
            return "scan", mutated
        scan_without_cursor = mode == "collection_scan" and len(mutated) < 3
        if mode in ORDER_FREE and mutated[0] == args[0] and not scan_without_cursor:
            return mode, mutated  # still a reply whose order Redis does not fix
        return "exact", mutated


def _get(g: Generator) -> Request:
    return "exact", [b"GET", g.key()]


def _set(g: Generator) -> Request:
    args = [b"SET", g.key(), g.rng.choice(VALUES)]
    for _ in range(g.rng.choice((0, 0, 1, 1, 2, 3))):
        if g.rng.random() < 0.5:
            args += g.expiry_option(past_allowed=False)
        else:
            args.append(g.rng.choice(SET_OPTIONS))
    return "exact", args


def _setex(g: Generator) -> Request:
    if g.rng.random() < 0.5:
        return "exact", [b"SETEX", g.key(), g.relative_seconds(), g.rng.choice(VALUES)]
    return "exact", [b"PSETEX", g.key(), g.relative_ms(), g.rng.choice(VALUES)]


def _getex(g: Generator) -> Request:
    args = [b"GETEX", g.key()]
    for _ in range(g.rng.choice((0, 1, 1, 2))):
        if g.rng.random() < 0.7:
            args += g.expiry_option(past_allowed=True)
        else:
            args.append(g.rng.choice([b"PERSIST", b"persist", b"NX", b"KEEPTTL"]))
    return "exact", args


def _one_key(name: bytes) -> Callable[[Generator], Request]:
    return lambda g: ("exact", [name, g.key()])


def _key_value(name: bytes) -> Callable[[Generator], Request]:
    return lambda g: ("exact", [name, g.key(), g.rng.choice(VALUES)])


def _many_keys(name: bytes) -> Callable[[Generator], Request]:
    return lambda g: ("exact", [name, *(g.key() for _ in range(g.rng.randint(1, 4)))])


def _mset(name: bytes) -> Callable[[Generator], Request]:
    def make(g: Generator) -> Request:
        args = [name]
        for _ in range(g.rng.randint(1, 3)):
            args += [g.key(), g.rng.choice(VALUES)]
        if g.rng.random() < 0.1:
            args.append(g.key())
        return "exact", args

    return make


def _by_integer(name: bytes) -> Callable[[Generator], Request]:
    return lambda g: ("exact", [name, g.key(), g.rng.choice(INTEGERS)])


def _incrbyfloat(g: Generator) -> Request:
    return "exact", [b"INCRBYFLOAT", g.key(), g.rng.choice(FLOATS)]


def _getrange(g: Generator) -> Request:
    bounds = [b"0", b"1", b"-1", b"-3", b"5", b"100", b"-100", b"abc"]
    return "exact", [b"GETRANGE", g.key(), g.rng.choice(bounds), g.rng.choice(bounds)]


def _setrange(g: Generator) -> Request:
    offset = g.rng.choice([b"0", b"1", b"3", b"10", b"-1", b"abc", b"536870912"])
    return "exact", [b"SETRANGE", g.key(), offset, g.rng.choice([b"", b"xy", b"hello"])]


_BIT_OFFSETS = [b"0", b"1", b"7", b"8", b"15", b"100", b"-1", b"abc"]
_BIT_BOUNDS = [b"0", b"1", b"-1", b"-3", b"5", b"17", b"100", b"-100", b"abc"]
_BIT_UNITS = [b"BYTE", b"BIT", b"bit", b"FOO"]


def _setbit(g: Generator) -> Request:
    value = g.rng.choice([b"0", b"1", b"1", b"2"])
    return "exact", [b"SETBIT", g.key(), g.rng.choice(_BIT_OFFSETS), value]


def _getbit(g: Generator) -> Request:
    return "exact", [b"GETBIT", g.key(), g.rng.choice(_BIT_OFFSETS)]


def _bit_range(g: Generator, fields: int) -> list[bytes]:
    """Up to ``fields`` of start, end, unit (a unit only after an end)."""
    args = [g.rng.choice(_BIT_BOUNDS) for _ in range(min(fields, 2))]
    if fields == 3:
        args.append(g.rng.choice(_BIT_UNITS))
    return args


def _bitcount(g: Generator) -> Request:
    fields = g.rng.choice((0, 2, 2, 3))
    return "exact", [b"BITCOUNT", g.key(), *_bit_range(g, fields)]


def _bitpos(g: Generator) -> Request:
    bit = g.rng.choice([b"0", b"1", b"1", b"2"])
    return "exact", [b"BITPOS", g.key(), bit, *_bit_range(g, g.rng.choice((0, 1, 2, 3)))]


def _bitop(g: Generator) -> Request:
    operation = g.rng.choice([b"AND", b"OR", b"XOR", b"NOT", b"and", b"FOO"])
    sources = [g.key() for _ in range(1 if operation == b"NOT" else g.rng.randint(1, 3))]
    return "exact", [b"BITOP", operation, g.key(), *sources]


_LCS_OPTIONS = [
    [], [], [b"LEN"], [b"IDX"], [b"IDX"], [b"IDX", b"WITHMATCHLEN"],
    [b"idx", b"MINMATCHLEN", b"2"], [b"IDX", b"MINMATCHLEN", b"abc"], [b"LEN", b"IDX"],
    [b"MINMATCHLEN"], [b"FOO"],
]  # fmt: skip


def _lcs(g: Generator) -> Request:
    return "exact", [b"LCS", g.key(), g.key(), *g.rng.choice(_LCS_OPTIONS)]


FIELDS = [b"f", b"g", b"h", b"", b"f2"]
_FIELD_PATTERNS = [b"*", b"f*", b"?", b"[fg]", b"x*"]


def _field(g: Generator) -> bytes:
    return g.rng.choice(FIELDS)


def _hset(name: bytes) -> Callable[[Generator], Request]:
    def make(g: Generator) -> Request:
        args = [name, g.key()]
        for _ in range(g.rng.randint(1, 3)):
            args += [_field(g), g.rng.choice(VALUES)]
        return "exact", args

    return make


def _hsetnx(g: Generator) -> Request:
    return "exact", [b"HSETNX", g.key(), _field(g), g.rng.choice(VALUES)]


def _hash_field(name: bytes) -> Callable[[Generator], Request]:
    return lambda g: ("exact", [name, g.key(), _field(g)])


def _hash_fields(name: bytes) -> Callable[[Generator], Request]:
    return lambda g: ("exact", [name, g.key(), *(_field(g) for _ in range(g.rng.randint(1, 3)))])


def _hincr(g: Generator) -> Request:
    if g.rng.random() < 0.5:
        return "exact", [b"HINCRBY", g.key(), _field(g), g.rng.choice(INTEGERS)]
    return "exact", [b"HINCRBYFLOAT", g.key(), _field(g), g.rng.choice(FLOATS)]


def _hscan(g: Generator) -> Request:
    options: list[bytes] = []
    if g.rng.random() < 0.5:
        options += [b"MATCH", g.rng.choice(_FIELD_PATTERNS)]
    if g.rng.random() < 0.3:
        options += [b"COUNT", g.rng.choice([b"1", b"10", b"0", b"abc"])]
    cursor = g.rng.choice([b"0", b"0", b"0", b"abc"])  # a full iteration starts at 0
    return "collection_scan", [b"HSCAN", g.key(), cursor, *options]


MEMBERS = [b"a", b"b", b"c", b"1", b"2", b"10", b"-3", b""]
RANDOM_PICKS = (b"SPOP", b"SRANDMEMBER", b"ZRANDMEMBER", b"HRANDFIELD")
ORDER_FREE = ("keys", "pairs", "collection_scan")


def _members(g: Generator) -> list[bytes]:
    return [g.rng.choice(MEMBERS) for _ in range(g.rng.randint(1, 3))]


def _set_members(name: bytes) -> Callable[[Generator], Request]:
    return lambda g: ("exact", [name, g.key(), *_members(g)])


def _set_member(name: bytes) -> Callable[[Generator], Request]:
    return lambda g: ("exact", [name, g.key(), g.rng.choice(MEMBERS)])


def _set_algebra(g: Generator) -> Request:
    name = g.rng.choice([b"SINTER", b"SUNION", b"SDIFF"])
    if g.rng.random() < 0.4:
        store = name + b"STORE"
        return "exact", [store, g.key(), *(g.key() for _ in range(g.rng.randint(1, 3)))]
    return "keys", [name, *(g.key() for _ in range(g.rng.randint(1, 3)))]


def _spop(g: Generator) -> Request:
    """Only what is deterministic: a pop of everything, a count Redis refuses, or none."""
    count = g.rng.choice([b"1000", b"0", b"-1", b"abc"])
    return "keys", [b"SPOP", g.key(), count]


def _srandmember(g: Generator) -> Request:
    """Deterministic forms only: all members (a count above the size), or a bad count."""
    count = g.rng.choice([b"1000", b"0", b"abc"])
    return "keys", [b"SRANDMEMBER", g.key(), count]


def _smove(g: Generator) -> Request:
    return "exact", [b"SMOVE", g.key(), g.key(), g.rng.choice(MEMBERS)]


def _sscan(g: Generator) -> Request:
    options: list[bytes] = []
    if g.rng.random() < 0.5:
        options += [b"MATCH", g.rng.choice([b"*", b"1*", b"?", b"[ab]", b"x*"])]
    cursor = g.rng.choice([b"0", b"0", b"0", b"abc"])
    return "collection_scan", [b"SSCAN", g.key(), cursor, *options]


ZKEYS = [b"z0", b"z1"]
"""Keys only sorted-set commands use (with ``KEYS``): sorted sets there grow undisturbed."""
SCORES = [b"0", b"1", b"1", b"2", b"-1", b"1.5", b"-0", b"inf", b"-inf", b"+inf", b"1e3", b"3.0"]
BAD_SCORES = [b"abc", b"", b"nan", b" 1", b"0x10", b"1e400"]
SCORE_BOUNDS = [
    b"-inf", b"+inf", b"0", b"1", b"(1", b"2", b"(2", b"1.5", b"-1", b"abc", b"(", b"", b"inf",
]  # fmt: skip
LEX_BOUNDS = [b"-", b"+", b"[a", b"(a", b"[b", b"(c", b"[1", b"[", b"(", b"a", b"[10", b"(-3"]
RANKS = [b"0", b"1", b"-1", b"2", b"-2", b"5", b"-10", b"abc"]
ZADD_OPTIONS = [b"NX", b"XX", b"GT", b"LT", b"CH", b"INCR", b"nx", b"ch", b"incr"]


def _zkey(g: Generator) -> bytes:
    return g.rng.choice(ZKEYS) if g.rng.random() < 0.5 else g.key()


def _score(g: Generator) -> bytes:
    return g.rng.choice(BAD_SCORES if g.rng.random() < 0.08 else SCORES)


def _score_member(g: Generator) -> list[bytes]:
    return [_score(g), g.rng.choice(MEMBERS)]


def _zadd(g: Generator) -> Request:
    options = [g.rng.choice(ZADD_OPTIONS) for _ in range(g.rng.choice((0, 0, 0, 1, 1, 2)))]
    pairs = [part for _ in range(g.rng.choice((1, 1, 2, 3, 4))) for part in _score_member(g)]
    if g.rng.random() < 0.05:
        pairs.append(_score(g))
    return "exact", [b"ZADD", _zkey(g), *options, *pairs]


def _zincrby(g: Generator) -> Request:
    return "exact", [b"ZINCRBY", _zkey(g), *_score_member(g)]


def _zset_member(g: Generator) -> Request:
    name = g.rng.choice([b"ZSCORE", b"ZRANK", b"ZREVRANK"])
    return "exact", [name, _zkey(g), g.rng.choice(MEMBERS)]


def _zcard(g: Generator) -> Request:
    return "exact", [b"ZCARD", _zkey(g)]


def _zset_members(g: Generator) -> Request:
    name = g.rng.choice([b"ZREM", b"ZREM", b"ZMSCORE"])
    return "exact", [name, _zkey(g), *_members(g)]


def _zcount(g: Generator) -> Request:
    if g.rng.random() < 0.5:
        return "exact", [b"ZCOUNT", _zkey(g), *g.rng.choices(SCORE_BOUNDS, k=2)]
    return "exact", [b"ZLEXCOUNT", _zkey(g), *g.rng.choices(LEX_BOUNDS, k=2)]


def _zrange_options(g: Generator, store: bool) -> list[bytes]:
    options: list[bytes] = []
    for option in (b"REV", b"LIMIT", b"WITHSCORES"):
        if option == b"WITHSCORES" and store:
            continue
        if g.rng.random() < 0.3:
            if option == b"LIMIT":
                options += [b"LIMIT", *g.rng.choices([b"0", b"1", b"2", b"-1", b"abc"], k=2)]
            else:
                options.append(option)
    g.rng.shuffle(options)
    return options


def _zrange_request(g: Generator, store: bool) -> list[bytes]:
    """ZRANGE or ZRANGESTORE's bounds and options: by rank, score or lex, any order."""
    by = g.rng.choice([b"", b"BYSCORE", b"BYLEX", b"bylex"])
    bounds = {b"": RANKS, b"BYSCORE": SCORE_BOUNDS}.get(by, LEX_BOUNDS)
    options = _zrange_options(g, store) + ([by] if by else [])
    g.rng.shuffle(options)
    return [*g.rng.choices(bounds, k=2), *options]


def _zrange(g: Generator) -> Request:
    """Every ZRANGE form; their order is Redis's and must match (``scores``: pairs nest
    in RESP3)."""
    form = g.rng.choice([b"ZRANGE", b"ZRANGE", b"ZREVRANGE", b"ZRANGEBYSCORE",
                         b"ZREVRANGEBYSCORE", b"ZRANGEBYLEX", b"ZREVRANGEBYLEX"])  # fmt: skip
    if form == b"ZRANGE":
        return "exact", [form, _zkey(g), *_zrange_request(g, store=False)]
    bounds = RANKS if form == b"ZREVRANGE" else LEX_BOUNDS if b"LEX" in form else SCORE_BOUNDS
    options: list[bytes] = []
    if g.rng.random() < 0.3 and b"LEX" not in form:
        options.append(b"WITHSCORES")
    if g.rng.random() < 0.3 and form != b"ZREVRANGE":
        options += [b"LIMIT", *g.rng.choices([b"0", b"1", b"3", b"-1", b"abc"], k=2)]
    return "exact", [form, _zkey(g), *g.rng.choices(bounds, k=2), *options]


def _zrangestore(g: Generator) -> Request:
    return "exact", [b"ZRANGESTORE", _zkey(g), _zkey(g), *_zrange_request(g, store=True)]


def _zremrange(g: Generator) -> Request:
    name = g.rng.choice([b"ZREMRANGEBYRANK", b"ZREMRANGEBYSCORE", b"ZREMRANGEBYLEX"])
    bounds = {b"ZREMRANGEBYRANK": RANKS, b"ZREMRANGEBYSCORE": SCORE_BOUNDS}.get(name, LEX_BOUNDS)
    return "exact", [name, _zkey(g), *g.rng.choices(bounds, k=2)]


def _zpop(g: Generator) -> Request:
    count = g.rng.choice([[], [], [b"1"], [b"2"], [b"0"], [b"10"], [b"-1"]])
    return "exact", [g.rng.choice([b"ZPOPMIN", b"ZPOPMAX"]), _zkey(g), *count]


def _random_pairs(
    name: bytes, option: bytes, key: Callable[[Generator], bytes]
) -> Callable[[Generator], Request]:
    """ZRANDMEMBER and HRANDFIELD, deterministic forms only: every member or field (a
    count above the size), or a bad count; with ``option`` (WITHSCORES, WITHVALUES) the
    pairs, compared in any order."""

    def make(g: Generator) -> Request:
        count = g.rng.choice([b"1000", b"1000", b"0", b"abc"])
        if g.rng.random() < 0.5:
            return "pairs", [name, key(g), count, option]
        return "keys", [name, key(g), count]

    return make


def _zscan(g: Generator) -> Request:
    options: list[bytes] = []
    if g.rng.random() < 0.5:
        options += [b"MATCH", g.rng.choice([b"*", b"1*", b"?", b"[ab]", b"x*"])]
    cursor = g.rng.choice([b"0", b"0", b"0", b"abc"])
    return "collection_scan", [b"ZSCAN", _zkey(g), cursor, *options]


NUMKEYS_MALFORMED = [b"0", b"-1", b"abc", b"01", b"9"]


def _counted_keys(g: Generator, key: Callable[[Generator], bytes]) -> list[bytes]:
    """``numkeys key...``; sometimes a count Redis refuses (0, not a number, too many)."""
    keys = [key(g) for _ in range(g.rng.choice((1, 1, 2, 2, 3)))]
    if g.rng.random() < 0.08:
        return [g.rng.choice(NUMKEYS_MALFORMED), *keys]
    return [b"%d" % len(keys), *keys]


def _algebra_key(g: Generator) -> bytes:
    """Mostly the sorted-set keys, sometimes any key (a set, a string: WRONGTYPE...)."""
    return g.rng.choice(ZKEYS) if g.rng.random() < 0.75 else g.key()


def _zalgebra(g: Generator) -> Request:
    """ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD over sorted sets, sets and
    other types, with options in any order; now and then one the command does not take."""
    name = g.rng.choice([b"ZUNION", b"ZINTER", b"ZDIFF", b"ZINTERCARD", b"zunion"])
    store = name != b"ZINTERCARD" and g.rng.random() < 0.4
    counted = _counted_keys(g, _algebra_key)
    numkeys = len(counted) - 1
    combines, card = name.upper() in (b"ZUNION", b"ZINTER"), name == b"ZINTERCARD"

    def offered(applies: bool) -> bool:
        return g.rng.random() < (0.5 if applies else 0.03)

    options: list[list[bytes]] = []
    if offered(combines):
        weights = [g.rng.choice([*SCORES, b"0", b"2", b"0.5"]) for _ in range(numkeys)]
        if g.rng.random() < 0.05:
            weights[-1] = g.rng.choice(BAD_SCORES)
        options.append([b"WEIGHTS", *weights])
    if offered(combines):
        options.append([b"AGGREGATE", g.rng.choice([b"SUM", b"min", b"MAX", b"MAX", b"foo"])])
    if offered(not store and not card):
        options.append([b"WITHSCORES"])
    if offered(card):
        options.append([b"LIMIT", g.rng.choice([b"0", b"1", b"2", b"1", b"-1", b"abc"])])
    g.rng.shuffle(options)
    tail = [part for option in options for part in option]
    if store:
        return "exact", [name + b"STORE", _zkey(g), *counted, *tail]
    return "exact", [name, *counted, *tail]


def _sintercard(g: Generator) -> Request:
    limit = g.rng.choice([[], [], [b"LIMIT", b"1"], [b"LIMIT", b"0"], [b"LIMIT", b"-1"]])
    return "exact", [b"SINTERCARD", *_counted_keys(g, Generator.key), *limit]


def _mpop(g: Generator) -> Request:
    """ZMPOP over sorted-set keys or LMPOP over the others, with or without COUNT."""
    count = g.rng.choice([[], [], [b"COUNT", b"1"], [b"COUNT", b"2"], [b"COUNT", b"0"]])
    if g.rng.random() < 0.5:
        side = g.rng.choice([b"MIN", b"MAX", b"max", b"MIN", b"LEFT"])
        return "exact", [b"ZMPOP", *_counted_keys(g, _algebra_key), side, *count]
    side = g.rng.choice([b"LEFT", b"RIGHT", b"right", b"LEFT", b"MIN"])
    return "exact", [b"LMPOP", *_counted_keys(g, Generator.key), side, *count]


ELEMENTS = [b"a", b"b", b"c", b"1", b""]
_LIST_INDEXES = [b"0", b"1", b"-1", b"2", b"-3", b"10", b"abc"]


def _push(g: Generator) -> Request:
    name = g.rng.choice([b"LPUSH", b"RPUSH", b"LPUSH", b"RPUSH", b"LPUSHX", b"RPUSHX"])
    return "exact", [name, g.key(), *(g.rng.choice(ELEMENTS) for _ in range(g.rng.randint(1, 3)))]


def _pop(g: Generator) -> Request:
    count = g.rng.choice([[], [], [b"2"], [b"0"], [b"10"], [b"-1"]])
    return "exact", [g.rng.choice([b"LPOP", b"RPOP"]), g.key(), *count]


def _list_range(g: Generator) -> Request:
    name = g.rng.choice([b"LRANGE", b"LRANGE", b"LTRIM"])
    return "exact", [name, g.key(), g.rng.choice(_LIST_INDEXES), g.rng.choice(_LIST_INDEXES)]


def _list_index(g: Generator) -> Request:
    if g.rng.random() < 0.5:
        return "exact", [b"LINDEX", g.key(), g.rng.choice(_LIST_INDEXES)]
    return "exact", [b"LSET", g.key(), g.rng.choice(_LIST_INDEXES), g.rng.choice(ELEMENTS)]


def _lrem_linsert(g: Generator) -> Request:
    if g.rng.random() < 0.5:
        count = g.rng.choice([b"0", b"1", b"-1", b"2", b"abc"])
        return "exact", [b"LREM", g.key(), count, g.rng.choice(ELEMENTS)]
    where = g.rng.choice([b"BEFORE", b"after", b"FOO"])
    return "exact", [b"LINSERT", g.key(), where, *(g.rng.choice(ELEMENTS) for _ in range(2))]


def _lpos(g: Generator) -> Request:
    options: list[bytes] = []
    for name, values in (
        (b"RANK", [b"1", b"2", b"-1", b"-2", b"0"]),
        (b"COUNT", [b"0", b"1", b"2", b"-1"]),
        (b"MAXLEN", [b"0", b"2", b"-1"]),
    ):
        if g.rng.random() < 0.3:
            options += [name, g.rng.choice(values)]
    return "exact", [b"LPOS", g.key(), g.rng.choice(ELEMENTS), *options]


def _lmove(g: Generator) -> Request:
    if g.rng.random() < 0.3:
        return "exact", [b"RPOPLPUSH", g.key(), g.key()]
    sides = [g.rng.choice([b"LEFT", b"RIGHT", b"left", b"UP"]) for _ in range(2)]
    return "exact", [b"LMOVE", g.key(), g.key(), *sides]


def _copy(g: Generator) -> Request:
    options = g.rng.choice([[], [], [b"REPLACE"], [b"DB", b"0"], [b"replace", b"DB", b"0"]])
    return "exact", [b"COPY", g.key(), g.key(), *options]


def _rename(name: bytes) -> Callable[[Generator], Request]:
    return lambda g: ("exact", [name, g.key(), g.key()])


def _expire(g: Generator) -> Request:
    name = g.rng.choice([b"EXPIRE", b"PEXPIRE", b"EXPIREAT", b"PEXPIREAT", b"expire"])
    value = {
        b"EXPIRE": g.relative_seconds,
        b"expire": g.relative_seconds,
        b"PEXPIRE": g.relative_ms,
        b"EXPIREAT": lambda: g.absolute_seconds(past_allowed=True),
        b"PEXPIREAT": lambda: g.absolute_ms(past_allowed=True),
    }[name]()
    if g.rng.random() < 0.05:
        value = g.rng.choice([b"-1", b"0"])
    options = [g.rng.choice(EXPIRE_OPTIONS) for _ in range(g.rng.choice((0, 0, 1, 1, 2)))]
    return "exact", [name, g.key(), value, *options]


def _ttl(g: Generator) -> Request:
    name = g.rng.choice([b"TTL", b"PTTL", b"EXPIRETIME", b"PEXPIRETIME"])
    return ("ttl" if name in (b"TTL", b"EXPIRETIME") else "pttl"), [name, g.key()]


def _keys(g: Generator) -> Request:
    return "keys", [b"KEYS", g.rng.choice(PATTERNS)]


def _scan(g: Generator) -> Request:
    options: list[bytes] = []
    if g.rng.random() < 0.5:
        options += [b"MATCH", g.rng.choice(PATTERNS)]
    if g.rng.random() < 0.5:
        options += [b"COUNT", g.rng.choice([b"1", b"3", b"100", b"0", b"abc"])]
    if g.rng.random() < 0.3:
        options += [b"TYPE", g.rng.choice([b"string", b"list", b"hash", b"zset", b"set", b"x"])]
    return "scan", [b"SCAN", b"0", *options]


def _flush(g: Generator) -> Request:
    return "exact", [g.rng.choice([b"FLUSHDB", b"FLUSHALL"]), *g.rng.choice([[], [b"ASYNC"]])]


def _non_string(g: Generator) -> Request:
    return "inject", [b"INJECT", g.key(), b"%d" % g.rng.choice(NON_STRING_TYPES)]


COMMANDS: list[tuple[str, Callable[[Generator], Request]]] = [
    ("GET", _get), ("GET", _get), ("SET", _set), ("SET", _set), ("SET", _set),
    ("SETNX", _key_value(b"SETNX")), ("SETEX", _setex), ("GETSET", _key_value(b"GETSET")),
    ("GETDEL", _one_key(b"GETDEL")), ("GETEX", _getex), ("MGET", _many_keys(b"MGET")),
    ("MSET", _mset(b"MSET")), ("MSETNX", _mset(b"MSETNX")), ("DEL", _many_keys(b"DEL")),
    ("UNLINK", _many_keys(b"UNLINK")), ("EXISTS", _many_keys(b"EXISTS")),
    ("TOUCH", _many_keys(b"TOUCH")), ("INCR", _one_key(b"INCR")), ("DECR", _one_key(b"DECR")),
    ("INCRBY", _by_integer(b"INCRBY")), ("DECRBY", _by_integer(b"DECRBY")),
    ("INCRBYFLOAT", _incrbyfloat), ("APPEND", _key_value(b"APPEND")),
    ("STRLEN", _one_key(b"STRLEN")), ("GETRANGE", _getrange), ("SETRANGE", _setrange),
    ("SETBIT", _setbit), ("GETBIT", _getbit), ("BITCOUNT", _bitcount), ("BITPOS", _bitpos),
    ("BITOP", _bitop), ("HSET", _hset(b"HSET")), ("HSET", _hset(b"HSET")),
    ("HMSET", _hset(b"HMSET")), ("HSETNX", _hsetnx),
    ("HGET", _hash_field(b"HGET")), ("HMGET", _hash_fields(b"HMGET")),
    ("HDEL", _hash_fields(b"HDEL")), ("HEXISTS", _hash_field(b"HEXISTS")),
    ("HSTRLEN", _hash_field(b"HSTRLEN")), ("HLEN", _one_key(b"HLEN")),
    ("HGETALL", lambda g: ("pairs", [b"HGETALL", g.key()])),
    ("HKEYS", lambda g: ("keys", [b"HKEYS", g.key()])),
    ("HVALS", lambda g: ("keys", [b"HVALS", g.key()])),
    ("SADD", _set_members(b"SADD")), ("SADD", _set_members(b"SADD")),
    ("SREM", _set_members(b"SREM")), ("SMEMBERS", lambda g: ("keys", [b"SMEMBERS", g.key()])),
    ("SISMEMBER", _set_member(b"SISMEMBER")), ("SMISMEMBER", _set_members(b"SMISMEMBER")),
    ("SCARD", _one_key(b"SCARD")), ("SINTER", _set_algebra), ("SINTER", _set_algebra),
    ("SPOP", _spop), ("SRANDMEMBER", _srandmember), ("SMOVE", _smove), ("SSCAN", _sscan),
    ("HINCRBY", _hincr), ("HSCAN", _hscan),
    ("HRANDFIELD", _random_pairs(b"HRANDFIELD", b"WITHVALUES", lambda g: g.key())),
    ("LCS", _lcs), ("LCS", _lcs),
    ("LPUSH", _push), ("LPUSH", _push), ("LPOP", _pop), ("LRANGE", _list_range),
    ("LINDEX", _list_index), ("LREM", _lrem_linsert), ("LPOS", _lpos), ("LMOVE", _lmove),
    ("LLEN", _one_key(b"LLEN")),
    ("ZADD", _zadd), ("ZADD", _zadd), ("ZADD", _zadd), ("ZINCRBY", _zincrby),
    ("ZSCORE", _zset_member), ("ZREM", _zset_members),
    ("ZCOUNT", _zcount), ("ZRANGE", _zrange), ("ZRANGE", _zrange), ("ZRANGE", _zrange),
    ("ZRANGESTORE", _zrangestore), ("ZREMRANGEBYRANK", _zremrange), ("ZPOPMIN", _zpop),
    ("ZRANDMEMBER", _random_pairs(b"ZRANDMEMBER", b"WITHSCORES", _zkey)), ("ZSCAN", _zscan),
    ("ZCARD", _zcard),
    ("ZUNION", _zalgebra), ("ZUNION", _zalgebra), ("SINTERCARD", _sintercard),
    ("ZMPOP", _mpop),
    ("TYPE", _one_key(b"TYPE")), ("RENAME", _rename(b"RENAME")),
    ("RENAMENX", _rename(b"RENAMENX")), ("COPY", _copy), ("EXPIRE", _expire), ("EXPIRE", _expire),
    ("TTL", _ttl), ("TTL", _ttl), ("PERSIST", _one_key(b"PERSIST")),
    ("DBSIZE", lambda g: ("exact", [b"DBSIZE"])), ("KEYS", _keys), ("SCAN", _scan),
    ("RANDOMKEY", lambda g: ("random", [b"RANDOMKEY"])), ("FLUSH", _flush),
    ("INJECT", _non_string),
]  # fmt: skip


def replay(diff: Differential, seed: int, steps: int) -> None:
    generator = Generator(seed)
    for step in range(1, steps + 1):
        mode, args = generator.request()
        context = f"[seed={seed} step={step} RESP{diff.protocol}]"
        if mode == "inject":
            diff.put_non_string(args[1], ValueType(int(args[2])))
        else:
            diff.check_request(mode, args, context=context)
    check_final_state(diff, seed)


def check_final_state(diff: Differential, seed: int) -> None:
    """Every key's type and TTL, and a string's or sorted set's value, agree at the end."""
    for key in KEYS + ZKEYS:
        context = f"[seed={seed} final state of {key!r} RESP{diff.protocol}]"
        diff.check(b"TYPE", key, context=context)
        diff.check_ttl(b"PTTL", key, tolerance=PTTL_TOLERANCE_MS, context=context)
        kind = diff.redis.call(b"TYPE", key)
        if kind == b"+string\r\n":
            diff.check(b"GET", key, context=context)
        elif kind == b"+zset\r\n":
            diff.check(b"ZRANGE", key, b"0", b"-1", b"WITHSCORES", context=context)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_command_sequences_reply_like_redis(diff: Differential, seed: int) -> None:
    replay(diff, seed, STEPS)
    assert diff.model.next_id > STEPS // 2

"""SORT and SORT_RO against redis-server: the same replies, byte for byte, RESP2 and RESP3.

A table of edge cases (numbers and ALPHA, DESC, LIMIT at and past its bounds, BY and
GET through strings and hash fields, missing pattern keys, ``#``, nosort on each type,
STORE over every kind of destination, the errors and their order), then seeded random
states and requests; rerun one seed with ``EPAXOSDB_SORT_SEED=<seed>``.

ALPHA compares with ``strcoll``, so Redis's answers depend on its locale: the server
here runs under the C locale, the collation epaxosdb reproduces (``sort``). Where
Redis's order depends on its hash tables — a set's elements without sorting (unless
they are small integers), and which of two equal ALPHA keys of a set or sorted set
comes first — the requests avoid asking (``sort``'s docstring).
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator

import pytest

from tests.commands.differential import Differential
from tests.redis_server import RedisServer

SEEDS = [int(s) for s in os.environ.get("EPAXOSDB_SORT_SEED", "1 2 3").split()]


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """This module's redis-server, started under the C locale: ALPHA sorts with
    ``strcoll``, which follows the server's ``LC_COLLATE``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LC_ALL", "C")
        server = RedisServer.start()
    try:
        yield server
    finally:
        server.stop()


Requests = list[list[bytes]]


def _word(word: str) -> bytes:
    """One argument: ``\\0`` and ``\\xNN`` escapes allowed, ``''`` the empty string."""
    return b"" if word == "''" else word.encode().decode("unicode_escape").encode("latin-1")


def _args(line: str) -> list[bytes]:
    """A request written as words."""
    return [_word(word) for word in line.split()]


SMALLEST = (
    "4.940656458412465441765687928682213723650598026143247644255856825006755072702087518652998"
    "3636163599237979656469544571773092665671035593979639877479601078187812630071319031140452"
    "7845817167848982103688718636056998730723050006387409153564984387312473397273169615140031"
    "7153853980741262385655911710266585566867681870395603106249319452715914924553293054565444"
    "0112748012970999954193198940908041656332452475714786901472678015935523861155013480352649"
    "3472019379026810710749170333222684475333572083243193609238289345836806010601150616980975"
    "3078342277318329247904982524730776375927247874656084778203734469699533647017972677717585"
    "125660551199131504891101451037862738167250955837389733598993664809941164205702637090279"
    "242767544565229087538682506419718265533447265625e-324"
)
"""``2**-1074`` written out exactly: a subnormal ``strtod`` reads without ``ERANGE``."""
OUT_OF_RANGE = [
    SMALLEST.replace("625e", "626e"),
    "0." + "0" * 5000 + "1",
    "1e-" + "9" * 5000,
    "-0x1p-" + "9" * 40,
    "0x" + "0" * 3000 + "1p-1080",
    "0x1p-1075",
    "1e" + "9" * 5000,
    "0x1p" + "9" * 40,
    "9" * 400,
    "-1.8e308",
]
"""Numbers below the smallest double (or between two subnormals) or above the largest,
some long: ``strtod`` sets ``ERANGE``."""

STATE: Requests = [
    [b"RPUSH", b"exact", SMALLEST.encode(), b"1", ("0." + "0" * 5000 + "1e4990").encode()],
] + [
    _args(line)
    for line in (
        "RPUSH nums 3 1 2 10 -5 1.5 0x10 1e2 -0 +.5 inf 3",
        r"RPUSH nums \x20\x204",
        "RPUSH words banana apple Cherry apple a a10 a9 B b",
        r"RPUSH words a\0b a\0a \xff \xc3\xa9 \x7f \x80 a\0b",
        "RPUSH empties '' 0 -1",
        "RPUSH mixed 1 two 3",
        "RPUSH tiny 1e-310",
        "RPUSH huge 1.7976931348623159e308",
        "RPUSH hexes 0x1p-1074 0x1.8p-1070 4 0X1P3 0x.8p-1073 0.0e-999 -0x0p0",
        "RPUSH trailing 1 2x",
        "SADD iset 5 3 -1 10 100 7",
        "SADD sset pear fig apple kiwi",
        "ZADD z 3 a 1 b 2 c 2 d -1 e",
        "RPUSH ids a b c d e f g",
        "SET w_a 5",
        "SET w_b 1",
        "SET w_c 5",
        "SET w_d -2.5",
        "SET w_e 1e1",
        "SET w_f 0x8",
        "SET w_pear 2",
        "SET w_fig 1",
        "SET w_apple 4",
        "SET w_kiwi 3",
        "SET word_a zeta",
        "SET word_b alpha",
        "SET word_c alpha",
        "SET word_e Alpha",
        "SET bad_a 1",
        "SET bad_b nope",
        "HSET h_a f 7 name Ann",
        "HSET h_b f 2 name Bob",
        "HSET h_c f 9",
        "HSET h_d name Dee",
        "HSET h_e f x",
        "HSET h_b-> f hash-with-arrow",
        "SET h_c-> string-with-arrow",
        "RPUSH w_g notastring",
        "SET str hello",
        "HSET hash f v",
        "SET weights_3 30",
        "SET weights_1 10",
    )
]

EDGE_CASES: list[tuple[str, Requests]] = [
    (name, [_args(line) for line in lines])
    for name, lines in (
        # numbers: strtod whole, ties by the element's bytes
        ("numeric", ["SORT nums", "SORT nums DESC", "SORT nums ASC", "SORT_RO nums"]),
        ("numeric hex and subnormals", ["SORT hexes", "SORT hexes DESC", "SORT exact"]),
        ("not a number", ["SORT words", "SORT mixed", "SORT trailing", "SORT sset"]),
        # (the last of a test: after ERANGE, Redis's numeric SORTs fail until errno changes)
        ("overflow and underflow", ["SORT tiny", "SORT huge", "SORT_RO tiny DESC"]),
        ("the empty string is zero", ["SORT empties", "RPUSH empties '' 5", "SORT empties DESC"]),
        # LIMIT's edges
        ("limit", ["SORT nums LIMIT 0 3", "SORT nums LIMIT 2 100", "SORT nums LIMIT 1 -1"]),
        ("limit zero", ["SORT nums LIMIT 0 0", "SORT nums LIMIT 5 0", "SORT z LIMIT 0 0"]),
        ("limit negative", ["SORT nums LIMIT -3 2", "SORT ids LIMIT -1 -1", "SORT ids LIMIT -5 0"]),
        ("limit past the end", ["SORT ids LIMIT 99 5", "SORT ids LIMIT 7 1", "SORT ids LIMIT 6 9"]),
        (
            "limit extremes",
            [
                "SORT nums LIMIT 9223372036854775807 9223372036854775807",
                "SORT nums LIMIT -9223372036854775808 3",
                "SORT nums LIMIT 1 9223372036854775807",
                "SORT nums DESC LIMIT 3 -9223372036854775808",
            ],
        ),
        ("limit repeated", ["SORT nums LIMIT 0 1 LIMIT 2 2", "SORT nums LIMIT 1 2 DESC"]),
        # ALPHA: strcmp up to a NUL byte, stable on ties; whole bytes with STORE
        ("alpha", ["SORT words ALPHA", "SORT words ALPHA DESC", "SORT words alpha LIMIT 2 5"]),
        ("alpha store", ["SORT words ALPHA STORE dst", "LRANGE dst 0 -1"]),
        ("alpha store desc", ["SORT words ALPHA DESC STORE dst", "LRANGE dst 0 -1"]),
        ("alpha numbers", ["SORT nums ALPHA", "SORT iset ALPHA", "SORT iset ALPHA DESC"]),
        ("alpha sets", ["SORT sset ALPHA", "SORT sset ALPHA DESC LIMIT 1 2", "SORT z ALPHA"]),
        ("sets and sorted sets", ["SORT iset", "SORT iset DESC", "SORT z", "SORT z DESC"]),
        # BY a pattern: strings, hash fields, missing keys (0 / first), other types
        ("by string", ["SORT ids BY w_*", "SORT ids BY w_* DESC", "SORT ids BY w_* LIMIT 1 3"]),
        ("by hash field", ["SORT ids BY h_*->f", "SORT ids BY h_*->f DESC", "SORT ids BY h_*->zz"]),
        ("by not a number", ["SORT ids BY bad_*", "SORT ids BY h_*->name", "SORT ids BY word_*"]),
        ("by missing", ["SORT ids BY nokey_*", "SORT ids BY nokey_* DESC LIMIT 2 3"]),
        ("by other types", ["SORT ids BY h_*", "SORT ids BY *->f", "SORT nums BY weights_*"]),
        ("by an empty field", ["SORT ids BY h_*->", "SORT ids BY h_*->f->", "SORT ids BY *_w"]),
        ("by alpha", ["SORT ids BY word_* ALPHA", "SORT ids BY word_* ALPHA DESC"]),
        (
            "by alpha with limit",
            [
                "SORT ids BY word_* ALPHA LIMIT 0 3",
                "SORT ids BY word_* ALPHA LIMIT 2 3",
                "SORT ids BY word_* ALPHA DESC LIMIT 1 4",
                "SORT ids BY nokey_* ALPHA LIMIT 1 3",
                "SORT ids BY h_*->name ALPHA LIMIT 0 2",
            ],
        ),
        ("by alpha store", ["SORT ids BY word_* ALPHA STORE dst", "LRANGE dst 0 -1"]),
        ("by on sets", ["SORT sset BY w_*", "SORT iset BY weights_*", "SORT z BY w_* DESC"]),
        ("by the last one", ["SORT ids BY nokey_* BY w_*", "SORT ids BY w_* BY h_*->f"]),
        # GET: #, strings, fields, missing, patterns without *
        ("get", ["SORT ids GET #", "SORT ids GET w_*", "SORT ids GET h_*->name"]),
        ("get several", ["SORT ids BY w_* GET # GET h_*->f GET nokey_* GET word_*"]),
        ("get constant", ["SORT ids GET constant LIMIT 0 2", r"SORT ids GET #\0x LIMIT 0 2"]),
        ("get other types", ["SORT ids GET h_* LIMIT 0 3", "SORT ids GET h_*-> GET h_*->f->"]),
        ("get with limit", ["SORT ids BY w_* DESC LIMIT 1 2 GET h_*->f GET #"]),
        ("get from sets", ["SORT iset GET weights_* GET #", "SORT z GET w_* DESC"]),
        # BY nosort (any BY without *), on each type
        ("nosort list", ["SORT nums BY nosort", "SORT nums BY nosort DESC", "SORT ids BY x"]),
        (
            "nosort list limit",
            [
                "SORT nums BY nosort LIMIT 1 3",
                "SORT nums BY nosort DESC LIMIT 1 3",
                "SORT nums BY nosort DESC LIMIT 10 10",
                "SORT nums BY nosort LIMIT -2 2",
            ],
        ),
        ("nosort zset", ["SORT z BY nosort", "SORT z BY nosort DESC", "SORT z BY x LIMIT 1 2"]),
        ("nosort zset desc limit", ["SORT z BY nosort DESC LIMIT 1 2", "SORT z BY x LIMIT 4 9"]),
        ("nosort intset", ["SORT iset BY nosort", "SORT iset BY nosort DESC LIMIT 1 3"]),
        ("nosort set stored", ["SORT sset BY nosort STORE dst", "LRANGE dst 0 -1"]),
        ("nosort set stored desc", ["SORT sset BY nosort DESC STORE dst", "LRANGE dst 0 -1"]),
        ("nosort stays", ["SORT ids BY nosort BY w_*", "SORT ids BY w_* BY nosort GET w_*"]),
        ("nosort get", ["SORT ids BY nosort GET # GET h_*->f", r"SORT ids BY w_\0* LIMIT 0 2"]),
        ("nosort words", ["SORT words BY nosort", "SORT mixed BY nosort"]),
        # STORE
        ("store", ["SORT nums STORE dst", "LRANGE dst 0 -1", "TYPE dst"]),
        ("store get", ["SORT ids BY w_* GET h_*->f GET # STORE dst", "LRANGE dst 0 -1"]),
        ("store over a string", ["SET dst x", "SORT iset STORE dst", "LRANGE dst 0 -1"]),
        ("store over a hash", ["SORT z LIMIT 1 2 STORE hash", "TYPE hash", "LRANGE hash 0 -1"]),
        ("store drops the ttl", ["SET dst x EX 100", "SORT ids STORE dst", "TTL dst"]),
        ("store empty deletes", ["SET dst x", "SORT nokey STORE dst", "EXISTS dst"]),
        ("store limit 0 deletes", ["SORT ids LIMIT 0 0 STORE ids", "EXISTS ids"]),
        ("store into itself", ["SORT nums DESC STORE nums", "LRANGE nums 0 -1"]),
        ("store the last", ["SORT ids STORE a STORE b", "EXISTS a", "LRANGE b 0 -1"]),
        ("store error stores nothing", ["SET dst x", "SORT mixed STORE dst", "GET dst"]),
        # missing keys, errors, their order
        ("missing key", ["SORT nokey", "SORT nokey BY w_* GET #", "SORT_RO nokey DESC ALPHA"]),
        ("wrong type", ["SORT str", "SORT hash BY nosort", "SORT_RO str"]),
        ("syntax", ["SORT nums FOO", "SORT nums LIMIT 1", "SORT nums BY", "SORT nums GET"]),
        ("syntax store", ["SORT nums STORE", "SORT_RO nums STORE dst", "SORT_RO nums ALPHA STORE"]),
        ("not an integer", ["SORT nums LIMIT a 1", "SORT nums LIMIT 1 b", r"SORT ids LIMIT 1\0 2"]),
        ("limit overflow", ["SORT nums LIMIT 9223372036854775808 1", "SORT nums LIMIT 0 1.0"]),
        ("options before type", ["SORT str FOO", "SORT str LIMIT x 1", "SORT hash ASC DESC"]),
        ("first error wins", ["SORT nums LIMIT x 1 FOO", "SORT nums FOO LIMIT x 1"]),
        ("options as C strings", [r"SORT words ALPHA\0x DESC\0y", r"SORT nums LIMIT\0 0 2"]),
        ("case", ["sort nums desc limit 0 2", "SoRt_Ro words AlPhA"]),
        (
            "keys",
            [
                "COMMAND GETKEYS sort a BY w_* GET # STORE b LIMIT 0 1",
                "COMMAND GETKEYSANDFLAGS sort a store b STORE c",
                "COMMAND GETKEYSANDFLAGS sort a GET store FOO STORE c",
                "COMMAND GETKEYS sort_ro a BY w_* GET #",
                "COMMAND GETKEYS sort a",
            ],
        ),
    )
]


def _setup(diff: Differential, requests: Requests) -> None:
    for args in requests:
        diff.check(*args, context="[setup]")


@pytest.mark.parametrize(("name", "requests"), EDGE_CASES, ids=[n for n, _ in EDGE_CASES])
def test_sort_edge_cases_match_redis(diff: Differential, name: str, requests: Requests) -> None:
    _setup(diff, STATE)
    for args in requests:
        diff.check(*args, context=f"[{name}]")


@pytest.mark.parametrize("number", OUT_OF_RANGE, ids=lambda n: n[:12] + f"..({len(n)})")
def test_numbers_out_of_a_double_range_cannot_be_sorted(diff: Differential, number: str) -> None:
    """One per test: Redis keeps ``ERANGE`` in ``errno`` after it (see ``BAD_WEIGHTS``)."""
    diff.check(b"RPUSH", b"k", b"1", number.encode())
    diff.check(b"SORT", b"k", b"BY", b"nosort")
    diff.check(b"SORT", b"k")


def test_a_script_sorts_a_set_that_nosort_leaves_alone(diff: Differential) -> None:
    """Redis sorts a set ALPHA when a script asks for BY nosort (``CLIENT_SCRIPT``)."""
    _setup(diff, STATE)
    script = b"return redis.call('SORT', KEYS[1], 'BY', 'nosort', 'DESC')"
    diff.check(b"EVAL", script, b"1", b"sset")
    diff.check(b"EVAL", script, b"1", b"iset")
    diff.check(b"EVAL", b"return redis.call('SORT_RO', KEYS[1], 'BY', 'x')", b"1", b"iset")
    diff.check(b"EVAL", b"return redis.call('SORT', KEYS[1], 'BY', 'x')", b"1", b"z")
    store = b"return redis.call('SORT', KEYS[1], 'ALPHA', 'STORE', KEYS[2])"
    diff.check(b"EVAL", store, b"2", b"words", b"dst")
    diff.check(b"LRANGE", b"dst", b"0", b"-1")


def test_sort_in_a_transaction_matches_redis(diff: Differential) -> None:
    """Inside MULTI the collections stay decoded between ops (``workspace``): SORT reads
    what the ops before it changed, and what it stores is read by the ops after it."""
    _setup(diff, STATE)
    diff.check_exec(
        [
            _args(line)
            for line in (
                "ZADD z 0 f 10 b",
                "SORT z BY nosort",
                "HSET h_a f 100",
                "SADD sset banana",
                "SORT ids BY h_*->f GET h_*->f GET #",
                "SORT sset ALPHA STORE h_b",
                "LPUSH h_b first",
                "SORT h_b ALPHA LIMIT 0 3",
                "SORT_RO h_b BY nosort DESC",
            )
        ]
    )


# --- random states and requests ---------------------------------------------------------

NAMES = [b"a", b"b", b"c", b"d", b"e", b"f", b"1", b"2", b"x\x00y", b"x"]
"""Elements that patterns map to keys (one with a NUL byte: ALPHA ties it with ``x``)."""
NUMBERS = [b"1", b"2", b"10", b"-3", b"2.5", b"", b" 4", b"0x1f", b"1e2", b"-0", b"0", b"inf"]
WEIGHTS = [b"1", b"2", b"2", b"10", b"-1", b"0.5", b"", b" 7", b"1e3", b"0x10", b"-inf"]
BAD_WEIGHTS = [b"nope", b"3 ", b"nan"]
"""Not numbers; none of them makes ``strtod`` set ``ERANGE``, which Redis 7.0.15 never
clears: after one, its numeric SORTs fail until ``errno`` changes (``sort``)."""
WORDS = [b"apple", b"Apple", b"apple", b"b", b"", b"zz", b"a\x00z", b"a\x00b"]
MEMBERS = [b"m1", b"m2", b"m3", b"m4", b"m5", b"m6", b"q", b"r", b"a", b"b"]
NAME_LISTS = [b"l1", b"l2"]
NUMBER_LISTS = [b"n1"]
INTSETS = [b"i1", b"i2"]
SETS = [b"s1"]
ZSETS = [b"z1", b"z2"]
DESTINATIONS = [b"dst", b"l2", b"w_a", b"hw_b"]
GETS = [b"#", b"w_*", b"hw_*->f", b"hw_*->name", b"u_*", b"nokey_*", b"const", b"*"]


class _Generator:
    """Random states and SORTs whose answers do not depend on Redis's hash tables: a set
    is left unsorted only if all its members are integers (an intset), and ALPHA BY on a
    set or a sorted set goes by ``u_*``, a distinct value per member, so that no two tie.
    Lists are free: their order is the same on both sides, so ties (ALPHA BY with LIMIT
    takes Redis's partial quicksort) must come out alike."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def state(self) -> Requests:
        rng = self.rng
        out: Requests = []
        for key in NAME_LISTS:
            out.append([b"RPUSH", key, *(rng.choice(NAMES) for _ in range(rng.randrange(1, 45)))])
        for key in NUMBER_LISTS:
            out.append([b"RPUSH", key, *(rng.choice(NUMBERS) for _ in range(rng.randrange(1, 30)))])
        for key in INTSETS:
            members = {str(rng.randrange(-50, 50)).encode() for _ in range(rng.randrange(1, 20))}
            out.append([b"SADD", key, *members])
        for key in SETS:
            out.append([b"SADD", key, *rng.sample(MEMBERS, rng.randrange(1, 10))])
        for key in ZSETS:
            members = rng.sample(MEMBERS if key == b"z1" else NUMBERS, rng.randrange(1, 10))
            out.append([b"ZADD", key, *(p for m in members for p in (rng.choice(WEIGHTS[:6]), m))])
        for index, name in enumerate(sorted(set(NAMES + MEMBERS + NUMBERS))):
            roll = rng.random()
            if roll < 0.7:
                weights = BAD_WEIGHTS if rng.random() < 0.05 else WEIGHTS
                out.append([b"SET", b"w_" + name, rng.choice(weights)])
            elif roll < 0.8:
                out.append([b"SET", b"w_" + name, rng.choice(WORDS)])
            if rng.random() < 0.6:
                fields = [b"f", rng.choice(WEIGHTS), b"name", rng.choice(WORDS)]
                out.append([b"HSET", b"hw_" + name, *fields[: rng.choice((2, 4))]])
            out.append([b"SET", b"u_" + name, b"%03d" % ((index * 37) % 101)])
        return out

    def _key(self) -> tuple[bytes, str]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.35:
            return rng.choice(NAME_LISTS), "list"
        if roll < 0.5:
            return rng.choice(NUMBER_LISTS), "list"
        if roll < 0.65:
            return rng.choice(INTSETS), "intset"
        if roll < 0.78:
            return rng.choice(SETS), "set"
        if roll < 0.95:
            return rng.choice(ZSETS), "zset"
        return rng.choice([b"nokey", b"u_a"]), "list"

    def request(self) -> Requests:
        rng = self.rng
        key, kind = self._key()
        options: list[list[bytes]] = []
        alpha = rng.random() < 0.4
        store = rng.random() < 0.25
        by = rng.random()
        if by < 0.2 and (kind != "set" or store):
            options.append([b"BY", rng.choice([b"nosort", b"x"])])
        elif by < 0.65:
            tied = alpha and kind in ("set", "zset")
            patterns = [b"u_*"] if tied else [b"w_*", b"hw_*->f", b"hw_*->name", b"nokey_*"]
            options.append([b"BY", rng.choice(patterns)])
        if alpha:
            options.append([b"ALPHA"])
        if rng.random() < 0.5:
            options.append([rng.choice([b"ASC", b"DESC"])])
        if rng.random() < 0.5:
            offset = rng.choice([-2, 0, 0, 1, 2, 5, 30])
            options.append([b"LIMIT", str(offset).encode(), str(rng.randrange(-2, 12)).encode()])
        for _ in range(rng.choice((0, 0, 1, 2))):
            options.append([b"GET", rng.choice(GETS)])
        rng.shuffle(options)
        flat = [part for option in options for part in option]
        if store:
            destination = rng.choice(DESTINATIONS)
            return [
                [b"SORT", key, *flat, b"STORE", destination],
                [b"LRANGE", destination, b"0", b"-1"],
            ]
        return [[rng.choice([b"SORT", b"SORT_RO"]), key, *flat]]

    def change(self) -> list[bytes]:
        """A write between requests: the state moves under the patterns."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.3:
            return [b"RPUSH", rng.choice(NAME_LISTS), rng.choice(NAMES)]
        if roll < 0.5:
            return [b"SET", b"w_" + rng.choice(NAMES), rng.choice(WEIGHTS)]
        if roll < 0.7:
            return [b"HSET", b"hw_" + rng.choice(NAMES), b"f", rng.choice(WEIGHTS)]
        if roll < 0.8:
            return [b"SADD", rng.choice(INTSETS), str(rng.randrange(-50, 50)).encode()]
        if roll < 0.9:
            return [b"ZADD", b"z2", rng.choice(WEIGHTS[:6]), rng.choice(NUMBERS)]
        return [b"DEL", rng.choice([*NAME_LISTS, b"w_a", b"hw_b", b"dst"])]


@pytest.mark.parametrize("seed", SEEDS)
def test_random_sorts_match_redis(diff: Differential, seed: int) -> None:
    generator = _Generator(seed)
    for args in generator.state():
        diff.check(*args, context=f"[seed {seed} state]")
    kinds: dict[bytes, int] = {}
    for step in range(300):
        if step % 5 == 4:
            diff.check(*generator.change(), context=f"[seed {seed} step {step}]")
        for args in generator.request():
            reply = diff.check(*args, context=f"[seed {seed} step {step}]")
            kinds[reply[:1]] = kinds.get(reply[:1], 0) + 1
    # sorted arrays, stored lengths and errors all came up, and mostly not errors
    assert kinds.get(b"*", 0) > 150 and kinds.get(b":", 0) > 20 and 0 < kinds.get(b"-", 0) < 150

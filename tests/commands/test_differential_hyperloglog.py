"""PFADD, PFCOUNT and PFMERGE against redis-server: the same replies and the same bytes.

An HLL is a string, and its sparse form is not canonical (it depends on the
order of the updates), so after every command both sides' values are read
back with GET and compared byte for byte, not only the replies. The random
sequences add enough elements to cross the sparse-to-dense threshold and
merge sparse into sparse, sparse into dense and keys into themselves; rerun
one seed with ``EPAXOSDB_HLL_SEED=<seed>``.
"""

from __future__ import annotations

import os
import random

import pytest

from epaxosdb.commands.hyperloglog import DENSE_SIZE, EMPTY, HEADER_SIZE, REGISTERS, SPARSE
from storage.interface import ValueType
from tests.commands.differential import PTTL_TOLERANCE_MS, Differential
from tests.commands.test_hyperloglog import (
    MERGE_WINDOW_ELEMENT,
    element_in,
    header,
    merge_window_rows,
    row_of_vals,
)

SEEDS = [int(s) for s in os.environ.get("EPAXOSDB_HLL_SEED", "1 2 3").split()]
STEPS = 240
KEYS = [b"h0", b"h1", b"h2", b"small"]
"""``small`` only ever gets a few elements at a time, so it stays sparse longer."""
BATCHES = [0, 1, 2, 5, 20, 60, 200]


def _element(rng: random.Random) -> bytes:
    """Mostly from a bounded pool (so elements repeat), sometimes raw bytes of any length
    up to three hash words."""
    if rng.random() < 0.8:
        return b"e%d" % rng.randrange(30_000)
    return rng.randbytes(rng.randrange(0, 25))


def _request(rng: random.Random) -> list[bytes]:
    roll = rng.random()
    key = rng.choice(KEYS)
    if roll < 0.55:
        size = rng.choice(BATCHES[:3] if key == b"small" else BATCHES)
        return [b"PFADD", key, *(_element(rng) for _ in range(size))]
    if roll < 0.75:
        return [b"PFCOUNT", *rng.sample(KEYS, rng.randrange(1, 4))]
    if roll < 0.95:
        sources = [rng.choice([*KEYS, b"missing"]) for _ in range(rng.randrange(0, 3))]
        return [b"PFMERGE", key, *sources]
    return [b"DEL", key]


TAIL_KEY = b"tail"
TAIL_BATCH = 20
TAIL_STEPS_MAX = 400
"""A batch of 20 new elements grows a sparse value by some tens of bytes; it goes dense
past ``hll-sparse-max-bytes`` (3,000) well within these steps."""


@pytest.mark.parametrize("seed", SEEDS)
def test_random_pfadd_pfcount_pfmerge_sequences_match_redis_replies_and_bytes(
    resp2: Differential, seed: int
) -> None:
    """The seeded sequence, then, whatever it reached, a tail that grows one more key
    from empty through every sparse size to dense, so that any seed checks both (a
    seed's sequence alone may stay sparse)."""
    rng = random.Random(seed)
    seen = {"dense": 0, "largest sparse": 0}

    def check(args: list[bytes], keys: list[bytes], context: str) -> None:
        resp2.check(*args, context=context)
        for key in keys:
            stored = resp2.check(b"GET", key, context=f"{context} after {args[:2]!r}")
            if len(stored) > DENSE_SIZE:  # a bulk reply: ``$12304\r\n...``
                seen["dense"] += 1
            elif stored.startswith(b"$") and len(stored) > 8:
                size = int(stored[1 : stored.index(b"\r")])
                seen["largest sparse"] = max(seen["largest sparse"], size)

    for step in range(STEPS):
        check(_request(rng), KEYS, f"[seed {seed} step {step}]")
    dense_before = seen["dense"]
    for step in range(TAIL_STEPS_MAX):
        if seen["dense"] > dense_before:
            break
        batch = [b"t%d:%d" % (seed, TAIL_BATCH * step + i) for i in range(TAIL_BATCH)]
        check([b"PFADD", TAIL_KEY, *batch], [TAIL_KEY], f"[seed {seed} tail step {step}]")
    # Dense values, and sparse ones near the threshold, were compared.
    assert seen["dense"] > dense_before
    assert seen["largest sparse"] > 1500


CUT_XZERO = b"HYLL\x01" + bytes(10) + b"\x80\x3f\x3f\x3f\x3e\x7f"
"""Three ZEROs of 64 and one of 63, then the first byte of an XZERO: 16129 more registers
if the byte after the string is 0, as it is in a string just SET."""

CRAFTED = {
    "new": EMPTY,
    "cached": b"HYLL\x01\x00\x00\x00" + (12345).to_bytes(8, "little") + b"\x7f\xff",
    "unused bytes": b"HYLL\x01\xaa\xbb\xcc" + bytes(7) + b"\x80\x7f\xff",
    "dense zero": b"HYLL\x00" + bytes(10) + b"\x80" + bytes(DENSE_SIZE - HEADER_SIZE),
    "dense all 63": b"HYLL\x00" + bytes(10) + b"\x80" + b"\xff" * (DENSE_SIZE - HEADER_SIZE),
    "dense mixed": b"HYLL\x00" + bytes(10) + b"\x80" + bytes(range(256)) * 48,
    "sparse of 32s": b"HYLL\x01" + bytes(10) + b"\x80" + b"\xff" * 4096,
    "short string": b"abc",
    "integer": b"12345678901234567890",
    "other magic": b"HYLX" + EMPTY[4:],
    "unknown encoding": b"HYLL\x02" + EMPTY[5:],
    "dense too short": b"HYLL\x00" + bytes(10) + b"\x80" + bytes(100),
    "dense too long": b"HYLL\x00" + bytes(10) + b"\x80" + bytes(DENSE_SIZE - HEADER_SIZE + 1),
    "sparse header only": b"HYLL\x01" + bytes(10) + b"\x80",
    "sparse header only, cached": b"HYLL\x01" + bytes(11),
    "sparse too few": b"HYLL\x01" + bytes(10) + b"\x80\x7e\x7f",  # XZERO of 16000
    "sparse too many": b"HYLL\x01" + bytes(10) + b"\x80\x7f\xff\x00",
    "sparse value past the end": b"HYLL\x01" + bytes(10) + b"\x80\x7f\xff\x80",
    "sparse cut xzero": CUT_XZERO,
}
"""Values SET on both sides before the requests: valid HLLs in unusual states, strings
that are not HLLs (WRONGTYPE), and HLL-looking strings that are corrupted (INVALIDOBJ).
The last one ends in the first byte of an XZERO, which Redis reads with the byte
after the string: only its first change is compared (see ``hyperloglog``)."""

REQUESTS = [
    [[b"PFCOUNT", b"k"], [b"PFCOUNT", b"k"]],
    [[b"PFCOUNT", b"k", b"k"], [b"PFCOUNT", b"k", b"missing"]],
    [[b"PFADD", b"k"]],
    [[b"PFADD", b"k", b"a"]],
    [[b"PFADD", b"k", *(b"e%d" % i for i in range(40))]],
    [[b"PFADD", b"k", *(b"x%d" % i for i in range(3000))]],
    [[b"PFMERGE", b"d", b"k"]],
    [[b"PFMERGE", b"k"]],
    [[b"PFMERGE", b"k", b"k"]],
    [[b"PFADD", b"d", b"q"], [b"PFMERGE", b"k", b"d"]],
    [[b"PFADD", b"d", *(b"y%d" % i for i in range(2000))], [b"PFMERGE", b"k", b"d"]],
]


@pytest.mark.parametrize("requests", REQUESTS, ids=lambda r: " / ".join(a[0].decode() for a in r))
@pytest.mark.parametrize("payload", CRAFTED.values(), ids=CRAFTED.keys())
def test_crafted_values_get_redis_replies_errors_and_bytes(
    diff: Differential, payload: bytes, requests: list[list[bytes]]
) -> None:
    diff.check(b"SET", b"k", payload)
    follow_up = [[b"PFCOUNT", b"k"], [b"PFCOUNT", b"d"]]
    if payload == CUT_XZERO:
        follow_up = []  # after a change, Redis's next read depends on a byte past the string
    for args in [*requests, *follow_up]:
        diff.check(*args)
        assert diff.check(b"GET", b"k", context=f"after {args[:2]!r}").startswith(b"$")
        diff.check(b"GET", b"d", context=f"after {args[:2]!r}")


@pytest.mark.parametrize("value_type", [ValueType.LIST, ValueType.SET, ValueType.HASH])
def test_keys_of_other_types_get_redis_wrongtype(diff: Differential, value_type: ValueType) -> None:
    diff.put_non_string(b"k", value_type)
    diff.check(b"PFADD", b"d", b"x")
    for args in (
        [b"PFADD", b"k", b"x"],
        [b"PFADD", b"k"],
        [b"PFCOUNT", b"k"],
        [b"PFCOUNT", b"d", b"k"],
        [b"PFMERGE", b"k", b"d"],
        [b"PFMERGE", b"d", b"k"],
        [b"PFMERGE", b"new", b"d", b"k"],
    ):
        assert diff.check(*args).startswith(b"-WRONGTYPE Operation")
    diff.check(b"GET", b"d")
    diff.check(b"EXISTS", b"new")


def test_pfadd_pfcount_and_pfmerge_keep_the_ttl(diff: Differential) -> None:
    diff.check(b"PFADD", b"k", b"a", b"b")
    diff.check(b"PFADD", b"d", b"c")
    for key in (b"k", b"d"):
        diff.check(b"PEXPIRE", key, b"100000")
    diff.check(b"PFADD", b"k", *(b"t%d" % i for i in range(2000)))
    diff.check(b"PFCOUNT", b"k")
    diff.check(b"PFMERGE", b"d", b"k")
    diff.check(b"PFMERGE", b"fresh", b"k")
    for key in (b"k", b"d", b"fresh"):
        diff.check_ttl(b"PTTL", key, tolerance=PTTL_TOLERANCE_MS)
        diff.check(b"GET", key)


def test_hll_commands_in_a_transaction_match_redis(diff: Differential) -> None:
    diff.check_exec(
        [
            [b"PFADD", b"k", b"a", b"b", b"c"],
            [b"PFCOUNT", b"k"],
            [b"PFMERGE", b"d", b"k", b"missing"],
            [b"PFCOUNT", b"k", b"d"],
            [b"SET", b"bad", b"abc"],
            [b"PFCOUNT", b"bad"],
            [b"PFADD", b"d", b"e"],
        ]
    )
    for key in (b"k", b"d"):
        diff.check(b"GET", key)


def test_merging_sparse_hlls_past_3000_bytes_turns_dense_part_way_like_redis(
    diff: Differential,
) -> None:
    """Two sparse HLLs whose union does not fit 3000 bytes: the destination takes the
    union's registers one by one and turns dense where the next split would not fit."""
    diff.check(b"PFADD", b"a", *(b"a%d" % i for i in range(1000)))
    diff.check(b"PFADD", b"b", *(b"b%d" % i for i in range(1000)))
    diff.check(b"PFADD", b"c", *(b"c%d" % i for i in range(5)))
    for key in (b"a", b"b"):
        size = diff.check(b"STRLEN", key)
        assert 1000 < int(size[1:]) < 3000  # both sparse
    diff.check(b"PFMERGE", b"a", b"b")  # into one of the sources, itself sparse
    diff.check(b"PFMERGE", b"d", b"c", b"b", b"c")
    assert diff.check(b"STRLEN", b"a") == b":%d\r\n" % DENSE_SIZE
    for key in (b"a", b"d"):
        diff.check(b"GET", key)
        diff.check(b"PFCOUNT", key)


def _vals_then_xzero(vals: int) -> bytes:
    """A sparse HLL of ``vals`` VALs of four registers, then one XZERO: 18 + ``vals`` bytes."""
    rest = REGISTERS - 4 * vals - 1
    return header(SPARSE) + b"\x83" * vals + bytes((0x40 | rest >> 8, rest & 0xFF))


@pytest.mark.parametrize(
    ("payload", "element"),
    [
        *((header(SPARSE) + row_of_vals(row), MERGE_WINDOW_ELEMENT) for row in merge_window_rows()),
        (_vals_then_xzero(2979), element_in(4 * 2979 + 100, REGISTERS - 100)),
        (_vals_then_xzero(2980), element_in(4 * 2980 + 100, REGISTERS - 100)),
    ],
    ids=["merge window used up", "merge window ends", "split to 3000 bytes", "split to 3001 bytes"],
)
def test_sparse_edges_match_redis_bytes(diff: Differential, payload: bytes, element: bytes) -> None:
    """Where Redis stops merging equal VALs (five opcodes), and the exact size at which a
    split makes it turn dense: values only a SET can build, then one PFADD."""
    diff.check(b"SET", b"k", payload)
    assert diff.check(b"PFADD", b"k", element) == b":1\r\n"
    diff.check(b"GET", b"k")
    diff.check(b"PFCOUNT", b"k")


def test_pfcount_in_read_only_scripts_is_refused_as_in_redis(diff: Differential) -> None:
    """PFCOUNT may write its cache, so Redis 7.0 refuses it in read-only scripts; here it
    is replicated, which read-only scripts refuse too: the same error either way."""
    diff.check(b"PFADD", b"k", b"a", b"b")
    count = b"return redis.call('PFCOUNT', KEYS[1])"
    refused = b"-ERR Write commands are not allowed from read-only scripts."
    assert diff.check(b"EVAL_RO", count, b"1", b"k").startswith(refused)
    assert diff.check(b"EVAL", b"#!lua flags=no-writes\n" + count, b"1", b"k").startswith(refused)
    assert diff.check(b"EVAL", count, b"1", b"k") == b":2\r\n"
    diff.check(b"GET", b"k")

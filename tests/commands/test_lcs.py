"""LCS beyond the edge-case scenarios: the bit-parallel table, long strings, the size guard."""

from __future__ import annotations

import random

import pytest

from epaxosdb.commands.lcs import LcsTable, table_too_large
from tests.commands.differential import Differential


def _classic_table(a: bytes, b: bytes) -> list[list[int]]:
    """The table as Redis fills it, entry by entry."""
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            if a[i - 1] == b[j - 1]:
                table[i][j] = table[i - 1][j - 1] + 1
            else:
                table[i][j] = max(table[i - 1][j], table[i][j - 1])
    return table


@pytest.mark.parametrize(
    "alphabet", [b"ab", b"acgt", bytes(range(256))], ids=["ab", "acgt", "bytes"]
)
def test_every_entry_of_the_bit_parallel_table_is_the_classic_one(alphabet: bytes) -> None:
    """Redis's walk reads entries all over the table, so every one must agree, not just
    the corner: the walk's choices, hence the LCS it spells, depend on them."""
    rng = random.Random(len(alphabet))
    for _ in range(60):
        a = bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))
        b = bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 70)))
        classic = _classic_table(a, b)
        fast = LcsTable(a, b)
        assert [[fast(i, j) for j in range(len(b) + 1)] for i in range(len(a) + 1)] == classic


@pytest.mark.parametrize(
    ("a_length", "b_length", "refused"),
    [
        # Probed on redis-server 7.0.15 with proto-max-bulk-len at its default (512 MB):
        # refused exactly when (alen + 1) * (blen + 1) * 4 > 536870912.
        (0, 134_217_727, False),
        (0, 134_217_728, True),
        (1, 67_108_863, False),
        (1, 67_108_864, True),
        (2047, 65_535, False),
        (2047, 65_536, True),
        (11_584, 11_584, False),
        (11_585, 11_585, True),
        (3000, 3000, False),
    ],
)
def test_the_table_size_guard_is_redis_s(a_length: int, b_length: int, refused: bool) -> None:
    assert table_too_large(a_length, b_length) is refused
    assert table_too_large(b_length, a_length) is refused


def test_long_strings_and_the_size_guard_reply_like_redis(diff: Differential) -> None:
    """Thousands of bytes each (the walk takes many turns and emits many ranges); then
    strings just past the guard, which Redis refuses before building anything."""
    rng = random.Random(5)
    a = bytes(rng.choice(b"acgt") for _ in range(3000))
    b = bytes(rng.choice(b"acgt") for _ in range(2500))
    diff.check(b"MSET", b"a", a, b"b", b, b"same", a)
    for options in ([], [b"LEN"], [b"IDX", b"WITHMATCHLEN"], [b"IDX", b"MINMATCHLEN", b"6"]):
        diff.check(b"LCS", b"a", b"b", *options)
        diff.check(b"LCS", b"b", b"a", *options)
    diff.check(b"LCS", b"a", b"same", b"IDX", b"WITHMATCHLEN")
    diff.check(b"MSET", b"x", b"x" * 11_585, b"y", b"y" * 11_585, b"short", b"z" * 2047)
    diff.check(b"LCS", b"x", b"y")
    diff.check(b"LCS", b"x", b"y", b"LEN", b"IDX")  # LEN with IDX comes first
    diff.check(b"APPEND", b"y", b"y" * (65_536 - 11_585))
    diff.check(b"LCS", b"short", b"y", b"IDX")
    diff.check(b"LCS", b"y", b"short", b"LEN")

"""SPOP, SRANDMEMBER, ZRANDMEMBER and HRANDFIELD pick with ``keyspace.pick_distinct``.

Its picks are part of the replicated state (SPOP removes them), so they may not
change from one build to the next: a replica of an older build replaying the same
log must pick the same members. It remembers only the positions its swaps moved;
these check it against the Fisher-Yates over a full copy it replaced.
"""

from __future__ import annotations

import random

from epaxosdb.commands.keyspace import mix64, pick_distinct


def _shuffled_copy(items: list[int], count: int, seed: int) -> list[int]:
    picked = list(items)
    for i in range(count):
        j = i + mix64(seed + i) % (len(picked) - i)
        picked[i], picked[j] = picked[j], picked[i]
    return picked[:count]


def test_picks_are_those_of_a_partial_shuffle_of_a_copy() -> None:
    rng = random.Random(3)
    for _ in range(20_000):
        items = list(range(rng.randrange(1, 60)))
        count = rng.randrange(0, len(items) + 1)
        seed = rng.randrange(1 << 64)
        assert pick_distinct(items, count, seed) == _shuffled_copy(items, count, seed)


def test_a_pick_is_distinct_and_leaves_the_items_alone() -> None:
    items = list(range(1000))
    picked = pick_distinct(items, 1000, 42)
    assert sorted(picked) == items
    assert items == list(range(1000))

"""Sorted sets in Redis's order without sorting them whole: score ranges and pops.

``zsets._walk`` finds where a score range starts by bisection (scores come first
in Redis's order); a lex range is still walked entry by entry. The bisection
must pick the entries the walk from the end picked, and Redis's replies on a
set large enough to be a skiplist in Redis. ZPOPMIN and ZPOPMAX find their ends
with ``min``/``max`` or a sort of the pairs alone (``zsets._pop_entries``): the same members, in
the same order, as the ends of the sorted set.
"""

from __future__ import annotations

import dataclasses
import random

from epaxosdb.commands.zsets import Range, _pop_entries, _score_range, _walk, ordered
from tests.commands.differential import Differential

SCORES = [b"-inf", b"inf", b"-1.5", b"0", b"-0", b"1", b"2", b"2.5", b"3", b"10", b"1e300"]


def _bound(rng: random.Random) -> bytes:
    return rng.choice([b"", b"("]) + rng.choice(SCORES)


def test_bisection_picks_what_the_walk_from_the_end_picks() -> None:
    rng = random.Random(5)
    for trial in range(3000):
        scores = {
            b"m%d" % i: rng.choice([-1.5, 0.0, -0.0, 1.0, 2.0, 3.0, float("inf"), -float("inf")])
            for i in range(rng.randrange(0, 40))
        }
        entries = ordered(scores)
        span = _score_range(_bound(rng), _bound(rng))
        assert isinstance(span, Range) and span.by_score
        walked = dataclasses.replace(span, by_score=False)
        reverse = rng.random() < 0.5
        offset, limit = rng.choice([(0, -1), (0, 3), (2, 1), (-1, 2), (5, -1)])
        assert _walk(entries, span, reverse, offset, limit) == _walk(
            entries, walked, reverse, offset, limit
        ), (trial, scores, reverse, offset, limit)


def test_pops_take_the_ends_of_the_sorted_order() -> None:
    rng = random.Random(6)
    for trial in range(3000):
        scores = {
            b"m%d" % i: rng.choice([-1.5, 0.0, -0.0, 1.0, 2.0, float("inf"), -float("inf")])
            for i in range(rng.randrange(0, 30))
        }
        count, from_max = rng.randrange(0, len(scores) + 3), rng.random() < 0.5
        entries = ordered(scores)
        expected = (entries[::-1] if from_max else entries)[:count]
        left = dict(scores)
        assert _pop_entries(left, count, from_max) == expected, (trial, scores, count)
        assert left == {m: s for m, s in scores.items() if (m, s) not in expected}


def test_score_ranges_of_a_large_sorted_set_reply_like_redis(resp2: Differential) -> None:
    """Past 128 members Redis keeps a skiplist, which it searches from the top."""
    rng = random.Random(9)
    pairs = []
    for i in range(600):
        pairs += [rng.choice([*SCORES[2:-1], b"%d" % rng.randrange(50)]), b"m%d" % i]
    resp2.check(b"ZADD", b"z", *pairs)
    for step in range(300):
        low, high = _bound(rng), _bound(rng)
        name = rng.choice([b"ZRANGEBYSCORE", b"ZREVRANGEBYSCORE", b"ZCOUNT"])
        args = [name, b"z", low, high]
        if name != b"ZCOUNT":
            options = [[], [b"WITHSCORES"], [b"LIMIT", b"3", b"5"], [b"LIMIT", b"0", b"-1"]]
            args += rng.choice(options)
        resp2.check(*args, context=f"[step {step}]")

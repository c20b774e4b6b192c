"""The glob matcher keeps every quirk of Redis's ``stringmatchlen``.

Hand-written cases pin the documented behaviour; a seeded sweep of odd
patterns and keys compares the matcher (and KEYS) with redis-server.
"""

from __future__ import annotations

import random

import pytest

from epaxosdb.commands import glob
from epaxosdb.commands.glob import matcher, stringmatch
from tests.commands.differential import Differential
from tests.redis_server import parse_reply

CASES: list[tuple[bytes, bytes, bool]] = [
    (b"h?llo", b"hello", True),
    (b"h?llo", b"hllo", False),
    (b"h*llo", b"hllo", True),
    (b"h*llo", b"heeeello", True),
    (b"h[ae]llo", b"hallo", True),
    (b"h[ae]llo", b"hillo", False),
    (b"h[^e]llo", b"hallo", True),
    (b"h[^e]llo", b"hello", False),
    (b"h[a-b]llo", b"hbllo", True),
    (b"h[a-b]llo", b"hcllo", False),
    (b"h[b-a]llo", b"hallo", True),  # reversed range
    (b"[a-]", b"-", False),  # the ']' ends the range ']'..'a', not the class
    (b"[a-]", b"_", True),
    (b"[-a]", b"-", True),  # a leading '-' is literal
    (b"\\*", b"*", True),  # escaped star
    (b"\\*", b"a", False),
    (b"a\\", b"a\\", True),  # trailing backslash is a literal backslash
    (b"[\\]]", b"]", True),  # escaped ']' inside a class
    (b"[\\-]", b"-", True),
    (b"[", b"[", False),  # unterminated class: empty, never matches
    (b"[^", b"x", True),  # unterminated negated class: any byte
    (b"[abc", b"b", True),
    (b"[]", b"]", False),
    (b"*", b"", False),  # the empty string matches only the empty pattern
    (b"", b"", True),
    (b"", b"a", False),
    (b"**", b"abc", True),
    (b"a*", b"a", True),
    (b"*a", b"a", True),
    (b"*a*b*c", b"xxaxxbxxc", True),
    (b"*a*b*c", b"xxaxxcxxb", False),
    (b"\x00*", b"\x00abc", True),
    (b"[\x80-\xff]", b"\x90", True),  # both bounds negative as signed char
    (b"[a-\xff]", b"\xff", True),  # [-1, 97] as signed char: 0xff is -1
    (b"[a-\xff]", b"\x00", True),
    (b"[a-\xff]", b"b", False),
    (b"[a-\xff]", b"\x80", False),  # -128 is below -1
    (b"[\x00-a]", b"\x80", False),
    (b"?", b"\xff", True),
]


@pytest.mark.parametrize(("pattern", "string", "expected"), CASES)
def test_matcher_follows_stringmatchlen(pattern: bytes, string: bytes, expected: bool) -> None:
    assert stringmatch(pattern, string) is expected


def test_nocase_folds_ascii_letters_only() -> None:
    assert stringmatch(b"GET", b"get", nocase=True)
    assert stringmatch(b"[A-C]X", b"bx", nocase=True)
    assert not stringmatch(b"\xc9", b"\xe9", nocase=True)
    assert not stringmatch(b"GET", b"get")


def test_more_than_a_thousand_nested_stars_never_match() -> None:
    key = b"a" * 1200 + b"b"
    assert stringmatch(b"a*" * 1000 + b"b", key)
    assert not stringmatch(b"a*" * 1001 + b"b", key)
    assert stringmatch(b"a*" * 1001, key)  # a trailing star run never recurses


def test_matching_is_not_exponential_on_hostile_patterns() -> None:
    key = b"a" * 5000
    assert not stringmatch(b"*a" * 50 + b"b", key)


def test_patterns_of_stars_and_literals_match_as_the_token_walk_does() -> None:
    """Such patterns (``user:*``, ``__keyspace@0__:*``) match through ``re``; the walk of
    tokens, which the differential test below holds to Redis, is the reference."""
    rng = random.Random(20261128)
    through_re = 0
    for _ in range(20_000):
        pattern = bytes(rng.choice(b"aB*:") for _ in range(rng.randint(1, 7)))
        string = bytes(rng.choice(b"abAB:") for _ in range(rng.randint(0, 8)))
        nocase = rng.random() < 0.3
        reference = glob._match(glob.compile_pattern(pattern, nocase), string)
        assert matcher(pattern, nocase)(string) is reference, (pattern, string, nocase)
        through_re += glob._simple(pattern, nocase) is not None
    assert through_re > 10_000


def test_star_patterns_that_could_backtrack_twice_keep_the_token_walk() -> None:
    assert glob._simple(b"*a*b", False) is None
    assert glob._simple(b"a*b*c", False) is None
    assert glob._simple(b"*a*", False) is not None
    assert glob._simple(b"__keyspace@0__:*", False) is not None


ALPHABET = [b"a", b"b", b"-", b"]", b"[", b"\\", b"^", b"\x80", b"\xff", b"\x00", b"*", b"?"]


def _random_bytes(rng: random.Random, low: int, high: int) -> bytes:
    return b"".join(rng.choice(ALPHABET) for _ in range(rng.randint(low, high)))


def test_keys_and_matcher_agree_with_redis_on_odd_patterns(diff: Differential) -> None:
    rng = random.Random(20240611)
    keys = sorted({_random_bytes(rng, 0, 4) for _ in range(150)})
    for key in keys:
        diff.check(b"SET", key, b"v")
    patterns = [_random_bytes(rng, 0, 6) for _ in range(300)] + [c[0] for c in CASES]
    for pattern in patterns:
        reply, _ = parse_reply(diff.redis.call(b"KEYS", pattern))
        assert isinstance(reply.value, list)
        theirs = {item.value for item in reply.value}
        if pattern != b"*":  # KEYS special-cases a lone star (it lists the empty key too)
            match = matcher(pattern)
            ours = {key for key in keys if match(key)}
            assert ours == theirs, f"pattern {pattern!r}"
        diff.check_unordered(b"KEYS", pattern, context=f"pattern {pattern!r}")

"""Number parsing against redis-server: floats (strtold), integers (string2ll), cursors (strtoul).

Seeded random spellings — long mantissas, wide exponents, hex floats, signs,
stray bytes — sent to INCRBYFLOAT, INCRBY and SCAN on both sides.
"""

from __future__ import annotations

import random

import pytest

from epaxosdb.commands import execute, strings
from epaxosdb.commands.values import live
from protocol.messages import Command
from protocol.replies import Error
from storage.interface import Value, ValueType
from storage.memory import MemoryStore
from tests.commands.differential import Differential

FLOATS_PER_RUN = 400


def _float_spelling(rng: random.Random) -> bytes:
    digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 25)))
    cut = rng.randint(0, len(digits))
    shape = rng.random()
    if shape < 0.3:
        text = digits
    elif shape < 0.6:
        text = digits[:cut] + "." + digits[cut:]
    elif shape < 0.95:
        exponent = rng.randint(0, 40) if rng.random() < 0.9 else rng.randint(0, 5000)
        sign = rng.choice(["", "+", "-"])
        text = digits[:cut] + "." + digits[cut:] + rng.choice("eE") + sign + str(exponent)
    else:
        hexdigits = "".join(rng.choice("0123456789abcdef") for _ in range(rng.randint(1, 20)))
        text = "0x" + hexdigits + (f"p{rng.randint(-100, 100)}" if rng.random() < 0.5 else "")
    if rng.random() < 0.3:
        text = "-" + text
    return text.encode()


def test_incrbyfloat_parses_adds_and_prints_like_redis(diff: Differential) -> None:
    rng = random.Random(4242 + diff.protocol)
    for _ in range(FLOATS_PER_RUN):
        key = b"f%d" % rng.randint(0, 3)
        if rng.random() < 0.2:
            diff.check(b"SET", key, _float_spelling(rng))
        reply = diff.check(b"INCRBYFLOAT", key, _float_spelling(rng))
        if reply.startswith(b"-ERR increment would produce"):
            diff.check(b"DEL", key)


def test_integer_and_cursor_spellings_are_accepted_like_redis(diff: Differential) -> None:
    rng = random.Random(99 + diff.protocol)
    diff.check(b"SET", b"k", b"v")
    for _ in range(600):
        text = bytes(rng.choice(b"0123456789+- \x00x") for _ in range(rng.randint(0, 22)))
        diff.check(b"INCRBY", b"n", text)
        diff.check(b"DEL", b"n")
        # Which keys an arbitrary cursor starts from is each server's own business;
        # whether the cursor is accepted, and the error if not, must match.
        theirs, ours = diff.both(b"SCAN", text, b"COUNT", b"1000")
        if theirs.startswith(b"-") or ours.startswith(b"-"):
            assert theirs == ours, text


@pytest.fixture
def tiny_string_limit(monkeypatch: pytest.MonkeyPatch) -> int:
    """Stand-in for proto-max-bulk-len, so the 512 MB checks run without 512 MB."""
    monkeypatch.setattr(strings, "STRING_LENGTH_MAX", 10)
    return 10


def test_append_and_setrange_refuse_strings_over_the_size_limit(tiny_string_limit: int) -> None:
    store = MemoryStore()

    def run(*op: bytes) -> object:
        cmd = Command(origin=1, id=1, time_ms=0, ops=(op,))
        return store.write(lambda txn: execute(txn, cmd))

    too_long = Error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
    assert run(b"SET", b"k", b"12345") == strings.OK
    assert run(b"APPEND", b"k", b"67890") == 10
    assert run(b"APPEND", b"k", b"x") == too_long
    assert run(b"SETRANGE", b"k", b"10", b"x") == too_long
    assert run(b"SETRANGE", b"new", b"8", b"xyz") == too_long
    assert run(b"SETRANGE", b"new", b"7", b"xyz") == 10
    assert store.read(lambda kv: live(kv, b"k", 0)) == Value(ValueType.STRING, 0, b"1234567890")

"""DEBUG DIGEST and DEBUG DIGEST-VALUE against redis-server: the same digests, byte for byte.

Seeded random datasets over every type — strings (integers among them, which Redis
stores encoded), lists, sets (all-integer ones become intsets in Redis), hashes,
sorted sets (scores that print in every ``%.17g`` form: integers, fractions, huge,
tiny, negative zero, infinities), streams with several fields, keys with and without
an expiry — are built by the same commands on both sides, and the dataset's digest
and every key's are compared after each round. Rerun one seed with
``EPAXOSDB_DEBUG_SEED=<seed>``.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator

import pytest

from epaxosdb.commands import execute, prepare
from epaxosdb.commands.digest import DEBUG_HELP
from protocol.messages import Command
from protocol.replies import Error, SimpleString, help_reply
from storage.memory import MemoryStore
from tests.commands.differential import Differential
from tests.redis_server import RedisServer

SEEDS = [int(s) for s in os.environ.get("EPAXOSDB_DEBUG_SEED", "1 2 3 4").split()]


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """This module's redis-server, with DEBUG allowed (Redis 7.0 refuses it by default)."""
    with RedisServer.start("--enable-debug-command", "yes") as server:
        yield server


SCORES = ["0", "1", "-1", "1.5", "-0.1", "1e300", "5e-324", "-0", "inf", "-inf", "3.0", "1e17"]


def _member(rng: random.Random) -> bytes:
    if rng.random() < 0.4:
        return str(rng.randint(-5, 40)).encode()  # integers: intsets, encoded listpacks
    return rng.choice([b"a", b"b", b"c", b"dd", b"", b"x" * 70, b"\x00\xff"])


def _write(rng: random.Random, key: bytes) -> list[bytes]:
    kind = rng.choice(["string", "int", "list", "set", "hash", "zset", "stream", "del", "ttl"])
    m = _member
    if kind == "string":
        return [b"SET", key, rng.choice([b"v", b"", b"y" * 100])]
    if kind == "int":
        return [b"SET", key, str(rng.randint(-(2**63), 2**63 - 1)).encode()]
    if kind == "list":
        return [rng.choice([b"RPUSH", b"LPUSH"]), key, m(rng), m(rng)]
    if kind == "set":
        return [b"SADD", key, m(rng), m(rng), m(rng)]
    if kind == "hash":
        return [b"HSET", key, m(rng), m(rng), m(rng), m(rng)]
    if kind == "zset":
        score = rng.choice
        return [b"ZADD", key, score(SCORES).encode(), m(rng), score(SCORES).encode(), m(rng)]
    if kind == "stream":
        fields = [m(rng) or b"f" for _ in range(rng.choice([2, 4]))]
        return [b"XADD", key, b"*", *fields]
    if kind == "ttl":
        return [b"EXPIRE", key, b"1000"]
    return [b"DEL", key]


@pytest.mark.parametrize("seed", SEEDS)
def test_digests_of_random_datasets_equal_redis(diff: Differential, seed: int) -> None:
    rng = random.Random(seed)
    keys = [b"k%d" % i for i in range(12)]
    diff.check(b"FLUSHALL")
    diff.check(b"DEBUG", b"DIGEST")  # an empty dataset: forty zeros
    for round_ in range(8):
        for _ in range(25):
            args = _write(rng, rng.choice(keys))
            if args[0] == b"XADD":
                # Automatic IDs come from each side's clock: give both the same one (one
                # behind the stream's last is refused alike).
                args[2] = b"%d-%d" % (1000 + round_, rng.randint(0, 1 << 20))
            diff.check(*args)
        context = f"seed {seed}, round {round_}"
        diff.check(b"DEBUG", b"DIGEST", context=context)
        diff.check(b"DEBUG", b"DIGEST-VALUE", *keys, context=context)


def test_debug_errors_equal_redis(diff: Differential) -> None:
    diff.check(b"DEBUG")
    diff.check(b"DEBUG", b"DIGEST", b"extra")
    diff.check(b"DEBUG", b"NOSUCH")
    diff.check(b"DEBUG", b"DIGEST-VALUE")
    diff.check(b"debug", b"digest-value", b"missing")


def test_debug_help_lists_the_subcommands_epaxosdb_has_in_redis_words() -> None:
    op = prepare([b"DEBUG", b"HELP"], 0)
    assert not isinstance(op, Error)
    reply = MemoryStore().write(lambda txn: execute(txn, Command(1, 1, 0, (op,)), None))
    assert reply == help_reply(DEBUG_HELP)
    assert SimpleString(b"DIGEST-VALUE <key> [<key> ...]") in reply

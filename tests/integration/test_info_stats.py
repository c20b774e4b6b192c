"""INFO's keyspace counters compared with redis-server's.

The same commands go to one epaxosdb replica and to a real Redis 7.0; after
each, both are asked ``INFO stats`` and the change of ``keyspace_hits`` and
``keyspace_misses`` must be the same. Keys given a short time to live are then
left to expire and touched by reads and blind writes: ``expired_keys`` must
have grown by as much on both — compared over the whole block, since either
server may remove a key in the background (Redis's active expiry, epaxosdb's
``DELEXPIRED`` sweep) before a command finds it, which changes which command
the count moves on but not the count. What the commands counted must then
survive nothing else: CONFIG RESETSTAT zeroes all three, as in Redis.
"""

from __future__ import annotations

import time

import redis

from tests.integration.cluster import ProcessCluster
from tests.redis_server import RedisServer
from tests.redis_server import redis_server as redis_server

COUNTERS = ("keyspace_hits", "keyspace_misses", "expired_keys")

SETUP: list[tuple[str, ...]] = [
    ("SET", "s", "v"),
    ("HSET", "h", "f", "v"),
    ("RPUSH", "l", "a", "b"),
    ("SADD", "st", "a"),
    ("ZADD", "z", "1", "a"),
    ("XADD", "x", "1-1", "f", "v"),
    ("PFADD", "hll", "a"),
]

READS: list[tuple[str, ...]] = [
    ("GET", "s"),
    ("GET", "nope"),
    ("GET", "h"),  # WRONGTYPE: the key was found
    ("MGET", "s", "nope", "s"),
    ("MGET", "h", "nope", "l"),  # keys of other types read as null, but were found
    ("EXISTS", "s", "nope", "s"),
    ("TOUCH", "s", "nope"),
    ("TYPE", "s"),
    ("TYPE", "nope"),
    ("TTL", "s"),
    ("PTTL", "nope"),
    ("STRLEN", "s"),
    ("GETRANGE", "s", "0", "0"),
    ("HGET", "h", "f"),
    ("HGET", "h", "nofield"),
    ("HGET", "nope", "f"),
    ("HMGET", "h", "f", "g"),
    ("HGETALL", "h"),
    ("HGETALL", "nope"),
    ("HEXISTS", "h", "f"),
    ("LRANGE", "l", "0", "-1"),
    ("LRANGE", "nope", "0", "-1"),
    ("LLEN", "l"),
    ("LINDEX", "l", "0"),
    ("SMEMBERS", "st"),
    ("SMEMBERS", "nope"),
    ("SISMEMBER", "st", "a"),
    ("SCARD", "nope"),
    ("SINTER", "nope", "st"),
    ("SSCAN", "st", "0"),
    ("SSCAN", "nope", "0"),
    ("HSCAN", "nope", "0", "MATCH", "*"),
    ("ZSCAN", "nope", "0"),
    ("ZSCAN", "z", "0"),
    ("ZSCORE", "z", "a"),
    ("ZSCORE", "nope", "a"),
    ("ZRANGE", "z", "0", "-1"),
    ("ZCARD", "z"),
    ("XRANGE", "x", "-", "+"),
    ("XLEN", "x"),
    ("XREAD", "STREAMS", "x", "nope", "0", "0"),
    ("PFCOUNT", "hll", "nope"),
    ("OBJECT", "ENCODING", "s"),
    ("DUMP", "nope"),
    ("LCS", "s", "nope"),
    ("SORT", "l", "ALPHA"),
    # WRONGTYPE on one of several keys: Redis looks up the keys before it, then that
    # one, and stops (LCS looks both up first).
    ("SUNION", "st", "s", "nope"),
    ("SINTER", "nope", "h", "st", "nope"),
    ("SDIFF", "st", "nope", "z"),
    ("SINTERCARD", "3", "nope", "l", "st"),
    ("ZUNION", "3", "z", "st", "s"),
    ("ZINTER", "2", "nope", "h"),
    ("ZUNION", "2", "st", "nope"),
    ("XREAD", "STREAMS", "nope", "s", "x", "0", "0", "0"),
    ("PFCOUNT", "nope", "h", "hll"),
    ("PFCOUNT", "hll", "s", "nope"),
    ("LCS", "h", "nope"),
    ("EVAL", "return redis.call('GET', KEYS[1])", "1", "s"),
    ("EVAL_RO", "return redis.call('EXISTS', KEYS[1], KEYS[2])", "2", "s", "nope"),
]
"""Read commands, and the writes below, whose lookups Redis counts."""

WRITES: list[tuple[str, ...]] = [
    ("SET", "g", "v", "GET"),
    ("SET", "g", "w", "GET"),
    ("GETSET", "g", "x"),
    ("GETEX", "g", "PERSIST"),
    ("GETEX", "nope"),
    ("GETDEL", "g"),
    ("GETDEL", "g"),
    ("SUNIONSTORE", "d", "st", "nope"),
    ("ZUNIONSTORE", "zd", "2", "z", "nope"),
    ("COPY", "s", "copy"),
    ("BITOP", "AND", "bits", "s", "nope"),
    ("PFMERGE", "hll2", "hll", "nope"),
    ("SUNIONSTORE", "d", "nope", "l", "st"),
    ("ZINTERSTORE", "zd", "3", "z", "h", "nope"),
    ("BITOP", "OR", "bits", "nope", "l", "s"),
    ("PFMERGE", "hll2", "nope", "z", "hll"),
    ("SINTERSTORE", "st", "st", "nope"),  # empty: deletes st, which was found
    # Writes that look their keys up for writing: nothing counted.
    ("SET", "s2", "v"),
    ("INCR", "n"),
    ("APPEND", "s2", "x"),
    ("HSET", "h", "f2", "v"),
    ("LPUSH", "l", "c"),
    ("DEL", "copy", "nope"),
    ("RENAME", "s2", "s3"),
    ("KEYS", "*"),
    ("DBSIZE",),
    ("MEMORY", "USAGE", "s"),
]

EXPIRING = ("e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8")
EXPIRED: list[tuple[str, ...]] = [
    ("GET", "e1"),
    ("SET", "e2", "new"),  # a blind write over an expired key
    ("DEL", "e3"),
    ("MSET", "e4", "a", "e4", "b"),
    ("SETEX", "e5", "100", "v"),
    ("EXISTS", "e6"),
    ("INCR", "e7"),
    ("TTL", "e8"),
]
"""Each touches one expired key: every one is counted expired, by the command or
by a sweep before it."""


def _counters(client: redis.Redis) -> tuple[int, int, int]:
    info = client.info("stats")
    hits, misses, expired = (int(info[name]) for name in COUNTERS)
    return hits, misses, expired


def _run(client: redis.Redis, args: tuple[str, ...]) -> object:
    try:
        return client.execute_command(*args)
    except redis.ResponseError as error:
        return error


def _lookup_deltas(
    client: redis.Redis, commands: list[tuple[str, ...]]
) -> list[tuple[tuple[str, ...], int, int]]:
    """``(command, hits added, misses added)`` for each command, run one by one."""
    deltas = []
    for args in commands:
        hits, misses, _ = _counters(client)
        _run(client, args)
        after_hits, after_misses, _ = _counters(client)
        deltas.append((args, after_hits - hits, after_misses - misses))
    return deltas


def _session(client: redis.Redis) -> dict[str, object]:
    """Everything the test compares, from one server."""
    client.flushall()
    for args in SETUP:
        _run(client, args)
    reads = _lookup_deltas(client, READS)
    writes = _lookup_deltas(client, WRITES)
    pipe = client.pipeline(transaction=True)
    pipe.get("s").hget("nope", "f").set("t", "v").type("t").exists("t", "nope")
    hits, misses, _ = _counters(client)
    pipe.execute()
    after_hits, after_misses, _ = _counters(client)
    multi = (after_hits - hits, after_misses - misses)

    _, _, expired = _counters(client)
    for key in EXPIRING:
        client.set(key, "x", px=50)
    client.rpush("el", "a")
    client.pexpire("el", 50)
    time.sleep(0.3)
    expired_lookups = _lookup_deltas(client, EXPIRED)
    _run(client, ("LPUSH", "el", "b"))
    final = _counters(client)
    return {
        "reads": reads,
        "writes": writes,
        "multi": multi,
        "expired lookups": expired_lookups,
        "expired": final[2] - expired,
    }


def test_keyspace_counters_move_as_redis_s(
    cluster1: ProcessCluster, redis_server: RedisServer
) -> None:
    ours = _session(cluster1.client(1, socket_timeout=30))
    theirs = _session(redis.Redis(port=redis_server.port, socket_timeout=30))
    for part in ("reads", "writes", "expired lookups"):
        ours_part, theirs_part = ours[part], theirs[part]
        assert isinstance(ours_part, list) and isinstance(theirs_part, list)
        differ = [(o, t) for o, t in zip(ours_part, theirs_part, strict=True) if o != t]
        assert not differ, f"{part}: (ours, redis's) {differ}"
    assert ours["multi"] == theirs["multi"] == (3, 2)
    assert ours["expired"] == theirs["expired"] == len(EXPIRING) + 1
    # Not vacuous: the reads did count, hits and misses both.
    assert sum(h for _, h, _ in ours["reads"]) > 30  # type: ignore[misc, union-attr]
    assert sum(m for _, _, m in ours["reads"]) > 10  # type: ignore[misc, union-attr]


def test_config_resetstat_zeroes_the_keyspace_counters(cluster1: ProcessCluster) -> None:
    client = cluster1.client(1, socket_timeout=30)
    client.set("r", "v", px=50)
    time.sleep(0.2)
    client.get("r")
    client.get("s")
    client.get("nope")
    hits, misses, expired = _counters(client)
    assert hits >= 1 and misses >= 2 and expired >= 1
    assert client.config_resetstat()
    assert _counters(client) == (0, 0, 0)
    client.set("r", "v")
    client.get("r")
    assert _counters(client) == (1, 0, 0)

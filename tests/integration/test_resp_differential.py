"""A real replica process and a real redis-server, fed the same requests over TCP.

The command tests (``tests/commands``) compare the handlers in-process; this
module replays the same scenarios and the same seeded random sequences
through the whole stack of a running replica — socket, RESP parser, front
end, consensus, LMDB, reply encoder — and compares the raw reply bytes with
redis-server's, in RESP2 and in RESP3. TTL-like replies are compared within
the tolerances of ``tests/commands/differential.py`` (the two servers read
their clocks a few ms apart).

The random generator's steps that plant a value of another type (a
ready-made hash, set, list or sorted set) are built by the same commands on
both servers. The sequences also go through all three replicas of a cluster
in turn, each command to the next replica: every reply must still be
Redis's, so each replica has executed every write acknowledged before, in
the same order. The edge-case scenarios that plant such values straight
into the model's store are left to the in-process tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from storage.interface import ValueType
from tests.commands.differential import (
    NON_STRING_SETUP,
    PTTL_TOLERANCE_MS,
    Differential,
)
from tests.commands.script import TYPE_LINES, words
from tests.commands.script import run as run_script
from tests.commands.test_differential_edge_cases import SCENARIOS
from tests.commands.test_differential_random import KEYS, replay
from tests.commands.test_differential_transactions import TRANSACTIONS
from tests.integration.cluster import ProcessCluster
from tests.redis_server import Parsed, RawConnection, RedisServer, parse_reply

RANDOM_STEPS = int(os.environ.get("EPAXOSDB_NETWORK_STEPS", "900"))
RANDOM_SEEDS = [int(s) for s in os.environ.get("EPAXOSDB_NETWORK_SEEDS", "11").split()]
NEEDS_OTHER_TYPES = {
    name
    for name, script in SCENARIOS.items()
    if any(line.strip().split(" ", 1)[0] in TYPE_LINES for line in script.splitlines())
}
"""Edge-case scenarios that plant list/set/hash/zset values straight into the model's store
(a ``!list k`` line: ``put_non_string``), which a replica behind the network cannot be given
that way."""
NETWORK_SCENARIOS = sorted(set(SCENARIOS) - NEEDS_OTHER_TYPES)


class ReplicaDifferential(Differential):
    """A ``Differential`` whose other side is a running replica instead of the in-process model."""

    def __init__(self, redis: RawConnection, replica: RawConnection, protocol: int) -> None:
        self.redis = redis
        self.replica = replica
        self.protocol = protocol
        for conn in (redis, replica):
            if protocol == 3:
                assert conn.hello(3).startswith(b"%7\r\n"), "HELLO 3 must answer a 7-entry map"
            assert conn.call(b"FLUSHALL") == b"+OK\r\n"

    def ours(self, *args: bytes) -> bytes:
        return self.replica.call(*args)

    def put_non_string(self, key: bytes, value_type: ValueType) -> None:
        """The value is built by the same commands on both servers."""
        setup = tuple(key if a == b"<key>" else a for a in NON_STRING_SETUP[value_type])
        for call in (self.redis.call, self.ours):
            call(b"DEL", key)
            call(*setup)


class RotatingDifferential(ReplicaDifferential):
    """A ``ReplicaDifferential`` whose requests go to each replica of a cluster in turn."""

    def __init__(self, redis: RawConnection, replicas: list[RawConnection], protocol: int) -> None:
        super().__init__(redis, replicas[0], protocol)
        for conn in replicas[1:]:
            if protocol == 3:
                assert conn.hello(3).startswith(b"%7\r\n")
        self.replicas = replicas
        self.turn = 0

    def ours(self, *args: bytes) -> bytes:
        self.turn += 1
        return self.replicas[self.turn % len(self.replicas)].call(*args)


@pytest.fixture(params=[2, 3], ids=["RESP2", "RESP3"])
def netdiff(
    request: pytest.FixtureRequest, redis_server: RedisServer, cluster1: ProcessCluster
) -> Iterator[ReplicaDifferential]:
    redis_conn = RawConnection(redis_server.port)
    replica_conn = RawConnection(cluster1.port(1), timeout_s=15.0)
    try:
        yield ReplicaDifferential(redis_conn, replica_conn, request.param)
    finally:
        redis_conn.close()
        replica_conn.close()


@pytest.mark.parametrize("name", NETWORK_SCENARIOS)
def test_edge_case_scenarios_reply_like_redis_over_the_network(
    netdiff: ReplicaDifferential, name: str
) -> None:
    compared = run_script(netdiff, SCENARIOS[name], name)
    assert compared > 5


@pytest.mark.parametrize("seed", RANDOM_SEEDS)
def test_random_sequences_reply_like_redis_over_the_network(
    netdiff: ReplicaDifferential, seed: int
) -> None:
    replay(netdiff, seed, RANDOM_STEPS)


SHUTDOWN_REFUSED = [
    [b"SHUTDOWN", b"FOO"],
    [b"SHUTDOWN", b"ABORT"],
    [b"SHUTDOWN", b"NOSAVE", b"SAVE"],
    [b"SHUTDOWN", b"ABORT", b"NOW"],
    [b"shutdown", b"now", b"bogus"],
]
"""SHUTDOWN forms both servers refuse (so neither stops): the error texts must match."""


@pytest.mark.parametrize("args", SHUTDOWN_REFUSED, ids=lambda a: b" ".join(a).decode())
def test_shutdown_arguments_it_refuses_reply_like_redis(
    netdiff: ReplicaDifferential, args: list[bytes]
) -> None:
    theirs, ours = netdiff.both(*args)
    assert theirs.startswith(b"-ERR ")
    assert ours == theirs


@pytest.mark.parametrize("name", sorted(n for n in TRANSACTIONS if n != "wrong_type_inside"))
def test_multi_exec_replies_like_redis_over_the_network(
    netdiff: ReplicaDifferential, name: str
) -> None:
    """Every reply of MULTI, each queued command and EXEC is compared (TTLs within tolerance)."""
    for args in [[b"MULTI"], *(words(line) for line in TRANSACTIONS[name]), [b"EXEC"]]:
        theirs, ours = netdiff.both(*args)
        assert _same_within_ttl_tolerance(theirs, ours), f"{args!r}:\n{theirs!r}\n{ours!r}"


def _same_within_ttl_tolerance(theirs: bytes, ours: bytes) -> bool:
    """Equal replies, except that integers that look like TTLs may differ a little.

    An integer of at least 50 may differ by 1 (a TTL in seconds rounding the
    other way) or by 1 % (a PTTL read a few ms apart); nothing else may.
    """
    return _close(parse_reply(theirs)[0], parse_reply(ours)[0])


def _close(a: Parsed, b: Parsed) -> bool:
    if a.kind != b.kind:
        return False
    if isinstance(a.value, list) and isinstance(b.value, list):
        return len(a.value) == len(b.value) and all(
            _close(x, y) for x, y in zip(a.value, b.value, strict=True)
        )
    if a.kind == ":" and a.value != b.value:
        assert isinstance(a.value, bytes) and isinstance(b.value, bytes)
        x, y = int(a.value), int(b.value)
        return min(x, y) >= 50 and abs(x - y) <= max(1, x // 100)
    return a.value == b.value


@pytest.fixture(params=[2, 3], ids=["RESP2", "RESP3"])
def rotating(
    request: pytest.FixtureRequest, redis_server: RedisServer, cluster3: ProcessCluster
) -> Iterator[RotatingDifferential]:
    redis_conn = RawConnection(redis_server.port)
    replicas = [RawConnection(cluster3.port(i), timeout_s=15.0) for i in (1, 2, 3)]
    try:
        yield RotatingDifferential(redis_conn, replicas, request.param)
    finally:
        for conn in (redis_conn, *replicas):
            conn.close()


@pytest.mark.parametrize("seed", RANDOM_SEEDS)
def test_random_sequences_through_every_replica_in_turn_reply_like_redis(
    rotating: RotatingDifferential, seed: int
) -> None:
    replay(rotating, seed, RANDOM_STEPS)
    for key in KEYS:
        context = f"[3 replicas seed={seed} final state of {key!r} RESP{rotating.protocol}]"
        for _ in range(3):  # the same on each replica
            rotating.check(b"TYPE", key, context=context)
            rotating.check_ttl(b"PTTL", key, tolerance=PTTL_TOLERANCE_MS, context=context)
    assert rotating.turn > RANDOM_STEPS

"""Five real replicas: a majority keeps serving; without one, no write is ever acknowledged.

With 2 of 5 replicas stopped (SIGSTOP) the other 3 are a majority and must
keep acknowledging writes. With 3 stopped, a write cannot commit: the
client must be told so honestly — a timeout or ``-UNCERTAIN`` (the command
may still take effect later), never ``OK``. Once the stopped replicas
continue, everything acknowledged is on all five, and they come to agree
(the unacknowledged writes may or may not have taken effect, but the same
everywhere).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import redis

from epaxosdb.runtime.loop import NO_QUORUM_AFTER_S, SWEEP_KEYS_MAX
from tests.integration.cluster import ProcessCluster
from tests.integration.workload import WriteLoad, missing_on

SERVE_AGAIN_S = 60.0
WRITES_WITH_TWO_STOPPED = 300
BLOCKED_WRITES = 4
BLOCKED_CLIENT_TIMEOUT_S = 15.0
"""Longer than the replica's 10 s deadline, so its UNCERTAIN reply is what the client sees."""


def assert_refused(client: redis.Redis, requests: list[tuple[str, ...]]) -> None:
    """Each request is answered ``-NOQUORUM``: refused before it was proposed."""
    for request in requests:
        try:
            reply = client.execute_command(*request)
        except redis.ResponseError as exc:
            assert str(exc).startswith("NOQUORUM"), (request, exc)
        else:
            raise AssertionError(f"{request} was answered {reply!r} without a majority")


def test_five_replicas_serve_with_two_stopped_and_never_ack_with_three_stopped(
    make_cluster: Callable[[int], ProcessCluster],
) -> None:
    cluster = make_cluster(5)
    cluster.stop(4)
    cluster.stop(5)
    load = WriteLoad(cluster, [1, 2, 3], prefix="q5").start()
    try:
        load.wait_acked(WRITES_WITH_TWO_STOPPED, timeout_s=60)
    finally:
        load.stop()
    assert load.failures() == [], "a majority (3 of 5) must keep acknowledging writes"

    cluster.stop(3)
    outcomes: dict[str, object] = {}

    def write(key: str, replica: int) -> None:
        client = cluster.client(replica, socket_timeout=BLOCKED_CLIENT_TIMEOUT_S)
        try:
            outcomes[key] = client.set(key, "written without a majority")
        except (redis.RedisError, OSError) as exc:
            outcomes[key] = exc

    threads = [
        threading.Thread(target=write, args=(f"minority:{n}", 1 + n % 2), daemon=True)
        for n in range(BLOCKED_WRITES)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(BLOCKED_CLIENT_TIMEOUT_S + 10)
        assert not t.is_alive()
    assert len(outcomes) == BLOCKED_WRITES
    for key, outcome in outcomes.items():
        assert isinstance(outcome, redis.TimeoutError | redis.ResponseError), (key, outcome)
        if isinstance(outcome, redis.ResponseError):
            # UNCERTAIN: proposed, may still happen; NOQUORUM: refused before proposing.
            assert str(outcome).startswith(("UNCERTAIN", "NOQUORUM")), (key, outcome)

    for i in (3, 4, 5):
        cluster.cont(i)
    for i in cluster:
        cluster.wait_serving(i, SERVE_AGAIN_S)
    acked = load.acked()
    for i in cluster:
        missing = missing_on(cluster, i, acked)
        assert not missing, f"replica {i} lacks {len(missing)} of {len(acked)}: {missing[:10]}"
    cluster.wait_same_data(SERVE_AGAIN_S)


def test_a_replica_that_hears_no_majority_refuses_new_commands_at_once_and_they_never_happen(
    make_cluster: Callable[[int], ProcessCluster],
) -> None:
    """Right after both its peers stop, replica 1 proposes a SET that cannot commit (its
    client waits for the 10 s deadline). Once it has heard no peer for
    ``NO_QUORUM_AFTER_S``, the replica refuses new commands with ``-NOQUORUM`` at once
    instead of proposing them, so their clients can go elsewhere; a refused write
    never happens, on any replica, after the peers come back; then writes succeed."""
    cluster = make_cluster(3)
    assert cluster.client(1).set("nq:before", "1") is True
    # Keys that expire while no majority answers: the sweeper finds full batches of them
    # and must not spin on its refused deletions.
    pipe = cluster.client(1).pipeline(transaction=False)
    for n in range(3 * SWEEP_KEYS_MAX):
        pipe.set(f"nq:expiring:{n}", "x", px=1500)
    pipe.execute()
    assert cluster.client(1).save() is True  # into the store, where the sweeper looks
    cluster.stop(2)
    cluster.stop(3)
    outcome: list[object] = []

    def first_write() -> None:
        client = cluster.client(1, socket_timeout=BLOCKED_CLIENT_TIMEOUT_S)
        try:
            outcome.append(client.set("nq:proposed", "maybe"))
        except (redis.RedisError, OSError) as exc:
            outcome.append(exc)

    waiting = threading.Thread(target=first_write, daemon=True)
    waiting.start()
    time.sleep(NO_QUORUM_AFTER_S + 1.0)  # the protocol's threshold, not a performance bound
    assert_refused(
        cluster.client(1, socket_timeout=BLOCKED_CLIENT_TIMEOUT_S),
        [("SET", "nq:refused", "never"), ("GET", "nq:before"), ("INCR", "nq:n")],
    )
    refused = cluster.info(1)["refused_no_quorum"]
    assert refused >= 3
    waiting.join(BLOCKED_CLIENT_TIMEOUT_S + 10)
    assert not waiting.is_alive()
    assert isinstance(outcome[0], redis.TimeoutError | redis.ResponseError), outcome
    # The sweeper tries again once a second, not in a loop (a loop refused thousands).
    assert cluster.info(1)["refused_no_quorum"] - refused < 100

    cluster.cont(2)
    cluster.cont(3)
    for i in cluster:
        cluster.wait_serving(i, SERVE_AGAIN_S)
    assert cluster.client(2).set("nq:after", "1") is True
    cluster.wait_same_data(SERVE_AGAIN_S)
    for i in cluster:
        client = cluster.client(i)
        assert client.get("nq:refused") is None and client.get("nq:n") is None, i
        assert client.get("nq:after") == b"1", i


def test_a_replica_whose_peers_fell_silent_refuses_the_first_command_and_serves_again(
    make_cluster: Callable[[int], ProcessCluster],
) -> None:
    """Peers speak several times a second even in an idle cluster (keepalives), so a
    replica that has heard from no majority for ``NO_QUORUM_AFTER_S`` refuses even the
    first command it gets with ``-NOQUORUM`` (never proposed), where it used to propose
    it and answer ``-UNCERTAIN`` 10 s later; an idle cluster that hears its peers keeps
    serving; once the peers continue, the replica serves again."""
    cluster = make_cluster(3)
    time.sleep(NO_QUORUM_AFTER_S + 1.0)  # idle, peers reachable: no refusal
    assert cluster.info(1)["peers_heard"] == 2
    assert cluster.client(1).set("quiet:idle", "1") is True
    cluster.stop(2)
    cluster.stop(3)
    time.sleep(NO_QUORUM_AFTER_S + 1.0)  # the protocol's threshold, not a performance bound
    assert cluster.info(1)["peers_heard"] == 0
    assert_refused(
        cluster.client(1, socket_timeout=BLOCKED_CLIENT_TIMEOUT_S),
        [("SET", "quiet:refused", "never"), ("GET", "quiet:idle")],
    )
    assert cluster.info(1)["commands_in_flight"] == 0, "a refused command was proposed"
    cluster.cont(2)
    cluster.cont(3)
    deadline = time.monotonic() + SERVE_AGAIN_S
    while True:
        try:
            assert cluster.client(1).set("quiet:after", "1") is True
            break
        except redis.ResponseError as exc:
            assert str(exc).startswith(("NOQUORUM", "LOADING")), exc
            assert time.monotonic() < deadline, "replica 1 kept refusing after its peers came back"
            time.sleep(0.2)
    cluster.wait_same_data(SERVE_AGAIN_S)
    for i in cluster:
        assert cluster.client(i).get("quiet:refused") is None, i

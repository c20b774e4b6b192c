"""WAIT on a cluster: the other replicas every acknowledged write is already durable on.

Redis counts the replicas that acknowledged a client's writes; here a write
is acknowledged only once a quorum holds it, so WAIT answers that quorum's
other members, F of N, at once (see ``admin.cmd_wait``).
"""

from __future__ import annotations

from tests.integration.cluster import ProcessCluster


def test_wait_answers_how_many_other_replicas_hold_every_acknowledged_write(
    cluster3: ProcessCluster,
) -> None:
    client = cluster3.client(1)
    client.set("waited", "v")
    assert client.wait(1, 100) == 1  # of 3 replicas, a quorum is this one and 1 more
    assert client.wait(2, 100) == 1  # no more than it can promise

"""A replica that stays down is left behind, and rebuilds from a snapshot on return.

With ``leave_behind_ms`` short, the other replicas stop keeping the log for
replica 3 while it is down (``epaxosdb.core.laggards``): their memory and
disk stop growing on its account. When it comes back on its old data
directory, every peer has deleted log entries it never got, so it discards
its state, takes a snapshot and serves the same data as the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis

from tests.integration.cluster import ProcessCluster

LEFT_BEHIND_S = 60.0
REBUILD_S = 60.0
SAME_DATA_S = 60.0



def left_behind(cluster: ProcessCluster, i: int) -> str:
    return str(cluster.info(i).get("gc_left_behind", ""))


def test_a_replica_down_for_long_is_left_behind_and_rebuilds_on_return(
    make_cluster: Callable[..., ProcessCluster],
) -> None:
    cluster = make_cluster(3, leave_behind_ms=1000, leave_behind_instances=0)
    with cluster.client(1) as c:
        for n in range(200):
            c.set(f"before:{n}", n)
    cluster.kill9(3)

    written: dict[bytes, bytes] = {}
    with cluster.client(1, socket_timeout=15.0) as c1:

        def write_some() -> None:
            for _ in range(20):
                n = len(written)
                key, value = f"while-down:{n}".encode(), str(n).encode()
                assert c1.set(key, value)
                written[key] = value

        deadline = time.monotonic() + LEFT_BEHIND_S
        while left_behind(cluster, 1) != "3" or left_behind(cluster, 2) != "3":
            assert time.monotonic() < deadline, cluster.info(1)
            write_some()
        assert "3" not in str(cluster.info(1)["gc_waits_for"])
        # Being left behind lets the log go; its collection may take a turn or a flush
        # more (a fast machine marks replica 3 before anything was collected).
        while cluster.info(1)["instances_in_memory"] >= len(written):
            assert time.monotonic() < deadline, "the log written while 3 was down stayed"
            write_some()

    cluster.restart(3)  # its old data directory, every vote and commit it had
    cluster.wait_rebuilt((3,), REBUILD_S)
    assert cluster.logged(1, "replica 3 left behind: silent too long")
    assert cluster.logged(3, "left behind: every peer deleted log entries")
    assert cluster.logged(3, "installed the snapshot")
    with cluster.client(3) as c3:
        keys = list(written)
        assert c3.mget(keys) == [written[k] for k in keys]
        assert c3.get("before:199") == b"199"
        assert c3.set("after-rebuild", "1")
    with cluster.client(2) as c2:
        assert c2.get("after-rebuild") == b"1"

    deadline = time.monotonic() + SAME_DATA_S
    while left_behind(cluster, 1) or left_behind(cluster, 2):
        assert time.monotonic() < deadline, "replica 3 executed everything deleted: not behind"
        time.sleep(0.2)
    assert cluster.logged(2, "replica 3 has everything deleted while it was left behind")
    # An ordinary restart after the rebuild is an ordinary restart.
    cluster.terminate(3)
    cluster.restart(3)
    cluster.wait_serving(3, REBUILD_S)
    try:
        with cluster.client(3) as c3:
            assert c3.get("after-rebuild") == b"1"
    except redis.RedisError as exc:
        raise AssertionError(cluster.log_tail(3)) from exc

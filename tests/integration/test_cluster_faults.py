"""Three real replicas over TCP: reads see acknowledged writes anywhere, and faults lose nothing.

All tests share one 3-replica cluster (``cluster3``); a test that kills or
stops a replica brings it back before it ends. Deadlines for recovery are
liveness bounds, stated as constants, never performance claims.

Read-your-writes: every one of 10,000 SETs through replica 1 is read back
through replica 2 or 3 right after its acknowledgement, never pipelined.
Sequentially that is 20,000 round trips through consensus (about 100 s on
a loaded 2-core machine: 2,000 pairs took 20 s), so the 10,000 are split
over ``RYW_SEQUENCES`` concurrent sequences on distinct keys; within each,
a read is sent only after its write was acknowledged.
"""

from __future__ import annotations

import threading
import time

from tests.integration.cluster import ProcessCluster, wait_until
from tests.integration.workload import WriteLoad, missing_on

RYW_WRITES = 10_000
RYW_SEQUENCES = 8
SERVE_AGAIN_S = 60.0
"""A restarted replica serves data commands again within this (liveness bound)."""
STOPPED_S = 4.0
WRITES_DURING_FAULT = 200


def all_replicas_serve(cluster: ProcessCluster) -> None:
    for i in cluster:
        cluster.wait_serving(i, SERVE_AGAIN_S)


def assert_same_data_everywhere(cluster: ProcessCluster) -> None:
    cluster.wait_same_data(SERVE_AGAIN_S)


def test_every_write_through_one_replica_is_read_back_through_the_others(
    cluster3: ProcessCluster,
) -> None:
    per_sequence = RYW_WRITES // RYW_SEQUENCES
    stale: list[str] = []
    errors: list[BaseException] = []

    def sequence(s: int) -> None:
        try:
            writer = cluster3.client(1)
            readers = [cluster3.client(2), cluster3.client(3)]
            for i in range(per_sequence):
                key, value = f"ryw:{s}:{i}", f"{s}-{i}"
                assert writer.set(key, value) is True
                got = readers[i % 2].get(key)
                if got != value.encode():
                    stale.append(f"{key} read {got!r} from replica {2 + i % 2}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sequence, args=(s,)) for s in range(RYW_SEQUENCES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
        assert not t.is_alive()
    assert not errors, errors[:3]
    assert not stale, f"{len(stale)} stale reads: {stale[:10]}"
    assert per_sequence * RYW_SEQUENCES == RYW_WRITES


def test_killing_one_of_three_under_load_keeps_writes_succeeding_and_it_catches_up(
    cluster3: ProcessCluster,
) -> None:
    load = WriteLoad(cluster3, [1, 2], prefix="kill1").start()
    try:
        load.wait_acked(WRITES_DURING_FAULT)
        cluster3.kill9(3)
        killed_at = time.monotonic()
        load.wait_acked(WRITES_DURING_FAULT, since=killed_at)
    finally:
        load.stop()
    assert load.failures() == [], "writes through the two live replicas must all succeed"
    cluster3.restart(3)
    cluster3.wait_serving(3, SERVE_AGAIN_S)
    assert missing_on(cluster3, 3, load.acked()) == []
    assert_same_data_everywhere(cluster3)


def test_a_stopped_replica_does_not_stop_the_cluster_and_catches_up_after_sigcont(
    cluster3: ProcessCluster,
) -> None:
    load = WriteLoad(cluster3, [1, 3], prefix="stop2").start()
    try:
        load.wait_acked(WRITES_DURING_FAULT)
        cluster3.stop(2)
        stopped_at = time.monotonic()
        load.wait_acked(WRITES_DURING_FAULT, since=stopped_at)
        time.sleep(max(0.0, stopped_at + STOPPED_S - time.monotonic()))
        cluster3.cont(2)
    finally:
        load.stop()
    assert load.failures() == [], "writes through the two live replicas must all succeed"
    # No client command from here until it has caught up (INFO is not replicated):
    # what it missed reaches it through the peers' messages and heartbeats alone.
    wait_until(
        lambda: len({str(cluster3.info(i)["executed_watermarks"]) for i in cluster3}) == 1,
        SERVE_AGAIN_S,
        "the continued replica executes what the others did, with no new traffic",
        interval_s=0.5,
    )
    cluster3.wait_serving(2, SERVE_AGAIN_S)
    assert missing_on(cluster3, 2, load.acked()) == []
    assert_same_data_everywhere(cluster3)


def test_killing_every_replica_during_writes_loses_no_acknowledged_write(
    cluster3: ProcessCluster,
) -> None:
    load = WriteLoad(cluster3, [1, 2, 3], prefix="killall", socket_timeout_s=5.0).start()
    try:
        load.wait_acked(3 * WRITES_DURING_FAULT)
        for i in cluster3:
            cluster3.kill9(i)
    finally:
        load.stop()
    acked = load.acked()
    for i in cluster3:
        cluster3.restart(i)
    all_replicas_serve(cluster3)
    for i in cluster3:
        missing = missing_on(cluster3, i, acked)
        assert not missing, f"replica {i} lacks {len(missing)} of {len(acked)}: {missing[:10]}"
    assert_same_data_everywhere(cluster3)

"""Log GC: instances every replica has executed are deleted, and nothing else (brief §6)."""

from __future__ import annotations

from protocol.messages import Commit, InstanceId, Status
from tests.core.harness import Harness, assert_visibility, get_cmd, set_cmd


def settle(h: Harness, ticks: int) -> None:
    for _ in range(ticks):
        h.deliver()
        h.tick()
    h.deliver()


def busy_cluster(**config: object) -> Harness:
    h = Harness(3, gc_interval_ticks=5, **config)
    for i in range(12):
        r = h.ids[i % 3]
        h.propose(r, set_cmd(r, f"k{i % 4}", str(i)), get_cmd(r, f"k{i % 3}"))
        h.deliver()
    settle(h, 40)
    return h


def test_instances_every_replica_executed_are_deleted_from_memory_and_disk() -> None:
    h = busy_cluster()
    for r in h.ids:
        rep = h.replica(r)
        gc = rep.gc_watermarks
        assert gc == rep.executed_watermarks, "everything executed everywhere was collected"
        assert all(w >= 3 for w in gc)
        assert len(rep.instances) == 0
        assert not [i for i in h.disks[r].records if i.index <= gc[h.ids.index(i.replica)]]
        assert rep.statistics().instances_in_memory == 0


def test_commands_after_gc_are_still_ordered_and_agreed() -> None:
    h = busy_cluster()
    for i in range(6):
        r = h.ids[i % 3]
        h.propose(r, set_cmd(r, "k0", f"late{i}"))
    settle(h, 3)
    h.assert_agreement()
    assert_visibility(h)
    orders = {tuple(cid for _, cid in h.executed_ids(r)[-6:]) for r in h.ids}
    assert len(orders) == 1, "every replica ran the late writes to k0 in one order"


def test_gc_waits_for_a_replica_that_is_down() -> None:
    h = Harness(3, gc_interval_ticks=5)
    h.crash(3)
    for i in range(6):
        h.propose(1, set_cmd(1, f"k{i}"))
        h.deliver()
    settle(h, 40)
    assert h.replica(1).gc_watermarks == (-1, -1, -1)
    assert len(h.replica(1).instances) == 6
    assert h.replica(1).gc_waits_for() == (3,)
    h.restart(3)
    settle(h, 60)
    assert h.replica(1).gc_watermarks[0] == 5
    assert h.replica(1).gc_waits_for() == ()
    assert all(h.replica(r).executed(InstanceId(1, 5)) for r in h.ids)


def test_a_late_commit_for_a_collected_instance_is_not_resurrected() -> None:
    h = busy_cluster()
    old = next(e for e in h.history if isinstance(e.msg, Commit))
    before = list(h.executed[old.dst])
    h.replica(old.dst).step(old.msg)
    h.process(old.dst)
    settle(h, 10)
    assert old.msg.inst not in h.replica(old.dst).instances
    assert h.executed[old.dst] == before


def test_a_replica_restarts_from_a_collected_log_and_keeps_going() -> None:
    h = busy_cluster()
    gc_before = h.replica(1).gc_watermarks
    h.crash(1)
    h.restart(1)
    settle(h, 10)
    rep = h.replica(1)
    assert rep.gc_watermarks == gc_before
    assert rep.executed_watermarks >= gc_before
    late = set_cmd(1, "k1", "after-restart")
    h.propose(1, late)
    settle(h, 10)
    assert all((late.origin, late.id) in h.executed_ids(r) for r in h.ids)
    assert all(x.status == Status.EXECUTED for x in rep.instances.values())


def test_gc_waits_until_every_replica_has_its_executed_marks_on_disk() -> None:
    """Found by the simulator (seed 196, N=5): a replica that executed an instance but had
    not yet written the mark (deferred effects) gossiped it as executed; the others
    collected it and dropped it from their conflict indexes, then the replica crashed
    and had to execute it again — after commands that no longer depended on it. Only
    durably executed instances count toward the GC watermark."""
    h = Harness(3, gc_interval_ticks=5)
    h.marks_deferred.add(3)
    for i in range(6):
        h.propose(1, set_cmd(1, f"k{i % 2}"))
        h.deliver()
    settle(h, 40)
    assert all(h.replica(r).executed(InstanceId(1, 5)) for r in h.ids)
    assert h.replica(1).gc_watermarks == (-1, -1, -1), "replica 3's marks are not on disk yet"
    h.replica(3).executed_durable(h.marks_pending[3])
    settle(h, 40)
    assert h.replica(1).gc_watermarks[0] == 5

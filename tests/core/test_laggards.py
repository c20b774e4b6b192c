"""Laggards: a peer that stays away is left behind by log GC, and rebuilds on return.

Scenario tests for ``epaxosdb.core.laggards``: when GC stops waiting for a
silent peer, what keeps that peer from running anything past the instances it
will never get (the GC floor), and how it finds out it must rebuild.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from epaxosdb.core.laggards import Laggards
from protocol.messages import Commit, InstanceId, Status, SyncReply
from tests.core.harness import Envelope, Harness, set_cmd


def settle(h: Harness, ticks: int) -> None:
    for _ in range(ticks):
        h.deliver()
        h.tick()
    h.deliver()


def cluster(n: int = 3, **config: object) -> Harness:
    settings: dict[str, object] = {
        "gc_interval_ticks": 5,
        "sync_interval_ticks": 10,
        "leave_behind_ticks": 30,
        "leave_behind_instances": 0,
    }
    settings.update(config)
    return Harness(n, **settings)


def write_while_away(h: Harness, away: tuple[int, ...], count: int = 6) -> None:
    """Replica 1 writes k0/k1 while ``away`` hear nothing, long enough to be left behind."""
    for i in range(count):
        h.propose(1, set_cmd(1, f"k{i % 2}", f"v{i}"))
        h.deliver()
    for _ in range(60):
        h.drop(lambda e: e.src in away or e.dst in away)
        h.deliver()
        h.tick(only=[r for r in h.ids if r not in away])


def test_a_silent_peer_is_left_behind_once_the_log_is_large_enough() -> None:
    h = cluster()
    h.crash(3)
    write_while_away(h, (3,))
    r1 = h.replica(1)
    assert r1.left_behind == {3}
    assert r1.gc_watermarks[0] == 5, "replica 2 executed everything: that is enough"
    assert len(r1.instances) == 0
    assert r1.gc_waits_for() == ()
    assert r1.gc_floor[0] == 5, "what replica 3 lacks"


def test_a_restarted_replica_names_as_left_behind_only_peers_that_reported_lacking() -> None:
    """Restored with a GC floor (from its disk, or a snapshot's), it has heard from
    nobody: every peer may lack what was deleted, so its attributes reach the floor for
    all of them, but logs and INFO name only peers whose reports say so (a QA run saw a
    rebuilt replica name both its peers as left behind for a second)."""
    h = cluster()
    h.crash(3)
    write_while_away(h, (3,))
    h.crash(1)
    h.restart(1)
    r1 = h.replica(1)
    assert r1.gc_floor[0] == 5
    assert r1.left_behind == {2, 3} and r1.known_left_behind == frozenset()
    settle(h, 20)  # replica 2 reports what it executed; replica 3 is still down
    r1 = h.replica(1)
    assert r1.left_behind == {3} and r1.known_left_behind == frozenset()


def test_below_the_instance_threshold_the_log_is_kept_for_a_silent_peer() -> None:
    h = cluster(leave_behind_instances=7)
    h.crash(3)
    write_while_away(h, (3,))
    r1 = h.replica(1)
    assert r1.left_behind == frozenset()
    assert r1.gc_watermarks == (-1, -1, -1)
    assert r1.gc_waits_for() == (3,)
    assert r1.gc_floor == (-1, -1, -1)


@pytest.mark.parametrize(("bytes_max", "left"), [(20, {3}), (10_000, set())])
def test_below_the_instance_threshold_a_log_heavy_in_bytes_leaves_a_silent_peer_behind(
    bytes_max: int, left: set[int]
) -> None:
    """Six small SETs are under seven instances but over 20 bytes of arguments: with
    large values a count of instances would let the log held grow without bound."""
    h = cluster(leave_behind_instances=7, leave_behind_bytes=bytes_max)
    h.crash(3)
    write_while_away(h, (3,))
    r1 = h.replica(1)
    assert r1.left_behind == left
    if left:
        assert len(r1.instances) == 0, "collected without waiting for replica 3"
        assert r1.gc_floor[0] == 5, "what replica 3 lacks"
    else:
        assert r1.gc_watermarks == (-1, -1, -1)
        assert r1.gc_floor == (-1, -1, -1)


def test_a_left_behind_replica_rebuilds_on_return_and_serves_again() -> None:
    h = cluster()
    h.crash(3)
    write_while_away(h, (3,))
    h.restart(3)
    settle(h, 200)
    assert h.rejoined == [3]
    assert not [iid for iid, _ in h.executed[3] if iid.replica == 1 and iid.index < 6], (
        "it ran none of what it lacked: it got their effects with the snapshot"
    )
    r3 = h.replica(3)
    assert not r3.joining and not r3.loading
    assert all(r3.executed(InstanceId(1, i)) for i in range(6))
    after = set_cmd(3, "k0", "after")
    h.propose(3, after)
    settle(h, 20)
    assert all((after.origin, after.id) in h.executed_ids(r) for r in h.ids)
    h.assert_agreement()
    settle(h, 20)
    assert h.replica(1).gc_floor == (-1, -1, -1), "everyone executed what was deleted"


def run_past_what_the_laggard_lacks(h: Harness) -> tuple[InstanceId, list[object]]:
    """Replica 3 is cut off (alive) while replica 1 writes k0 and collects past it; then
    a new write to k0 commits and its Commit reaches replica 3 before anything else."""
    write_while_away(h, (3,))
    assert h.replica(1).gc_passes == {3}
    executed_before = list(h.executed[3])
    late = set_cmd(1, "k0", "late")
    h.propose(1, late)
    while h.deliver(lambda e: e.dst != 3):
        pass
    commit = next(e for e in h.wire if isinstance(e.msg, Commit) and e.dst == 3)
    h.deliver(lambda e: e is commit)
    return commit.msg.inst, h.executed[3][len(executed_before):]


def test_a_laggard_runs_nothing_past_the_writes_it_lacks() -> None:
    """The floor: k0's earlier writes left the conflict index when they were deleted, so
    only the floor makes the late write depend on them; replica 3 has never seen them."""
    h = cluster()
    late, ran = run_past_what_the_laggard_lacks(h)
    assert h.replica(1).record(late).deps[0] >= 4, "the late write reaches the floor"
    assert ran == [], "replica 3 waits for the writes it lacks instead of running it"


def test_without_the_floor_the_laggard_runs_a_write_out_of_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The scenario above can fail: with no floor, replica 3 runs the late write to k0
    before the five earlier ones, which it will never get."""
    monkeypatch.setattr(Laggards, "_raise_floor", lambda self, target, behind: None)
    h = cluster()
    late, ran = run_past_what_the_laggard_lacks(h)
    assert [iid for iid, _ in ran] == [late]
    assert not h.replica(3).executed(InstanceId(1, 4))


def test_a_laggard_a_peer_still_holds_the_log_for_catches_up_without_rebuilding() -> None:
    h = cluster()
    rep2 = h.replica(2)
    rep2.config = replace(rep2.config, leave_behind_ticks=0)  # replica 2 keeps waiting
    h.crash(3)
    write_while_away(h, (3,))
    assert h.replica(1).left_behind == {3}
    assert h.replica(2).gc_waits_for() == (3,)
    h.restart(3)
    settle(h, 200)
    assert h.rejoined == []
    assert all(h.replica(3).executed(InstanceId(1, i)) for i in range(6))


def test_two_laggards_that_lack_the_same_instances_both_rebuild() -> None:
    """Found by the simulator (seed 66, N=5): two replicas left behind each waited for
    the other to say it had deleted what they both lacked. A peer that never had an
    instance cannot give it either."""
    h = cluster(5)
    h.crash(4)
    h.crash(5)
    write_while_away(h, (4, 5))
    assert h.replica(1).left_behind == {4, 5}
    h.restart(4)
    h.restart(5)
    settle(h, 400)
    assert sorted(set(h.rejoined)) == [4, 5]
    for r in (4, 5):
        assert not h.replica(r).loading
        assert all(h.replica(r).executed(InstanceId(1, i)) for i in range(6))
    h.assert_agreement()


def test_no_more_than_f_peers_are_left_behind() -> None:
    h = cluster(3)
    h.crash(2)
    h.crash(3)
    for i in range(6):
        h.propose(1, set_cmd(1, f"k{i}"))
    for _ in range(60):
        h.deliver()
        h.tick(only=[1])
    assert h.replica(1).left_behind == frozenset()
    assert h.replica(1).gc_watermarks == (-1, -1, -1)


def test_a_peer_that_still_lacks_what_was_deleted_holds_one_of_the_f_places() -> None:
    """Seed 108089 (N=3): replica 1 left 3 behind, and 3 came back still lacking what
    was deleted without it; then 2 fell silent, and replica 1 left it behind too. Both
    2 and 3 then had to rebuild, two of three, which the cluster waits out for good.
    A peer not yet past the GC floor counts against F: 2 is waited for."""
    h = cluster()
    h.crash(3)
    write_while_away(h, (3,))
    r1 = h.replica(1)
    assert r1.left_behind == {3}
    h.restart(3)
    h.crash(2)
    for i in range(6):
        h.propose(1, set_cmd(1, "k2", f"w{i}"))
    for _ in range(60):
        h.drop(lambda e: e.dst == 3 and isinstance(e.msg, SyncReply))  # cannot rebuild yet
        h.deliver()
        h.tick(only=[1, 3])
    assert h.replica(1).executed(InstanceId(1, 11)), "replica 3 still votes"
    assert r1.left_behind == {3}, "it still lacks what was deleted"
    assert r1.gc_passes == frozenset(), "2 silent and 3 lacking: more than F"
    assert r1.gc_watermarks[0] == 5, "nothing replica 2 lacks is deleted"


def test_gc_waits_again_for_a_laggard_that_talks_until_it_has_rebuilt() -> None:
    """Once it talks it is no longer silent: GC goes no further than it has executed
    (nothing, here) while it cannot yet rebuild (its sync replies are lost)."""
    h = cluster()
    h.crash(3)
    write_while_away(h, (3,))
    gc = h.replica(1).gc_watermarks
    h.restart(3)
    for i in range(6):
        h.propose(1, set_cmd(1, "k2", f"w{i}"))
    for _ in range(60):
        h.drop(lambda e: e.dst == 3 and isinstance(e.msg, SyncReply))
        h.deliver()
        h.tick()
    r1 = h.replica(1)
    assert h.rejoined == []
    assert r1.gc_passes == frozenset()
    assert r1.left_behind == {3}, "it still lacks what was deleted"
    assert r1.gc_waits_for() == (3,)
    assert r1.gc_watermarks == gc
    assert r1.executed(InstanceId(1, 11))


def test_a_laggard_does_not_rebuild_on_the_word_of_a_peer_that_rebuilds_since() -> None:
    """Found by the simulator (seed 398, N=3): a laggard decided to rebuild on a sync
    reply its peer sent before that peer lost its disk; two of three replicas then
    rebuilt at once and each waited for the other for ever. A JoinRequest voids what
    its sender said of its log, until it votes again."""
    h = cluster()
    h.crash(3)
    write_while_away(h, (3,))
    h.restart(3)  # asks both peers for their commits (and, now, their GC watermarks)
    h.deliver(lambda e: e.dst == 2 and e.src == 3)
    h.deliver(lambda e: e.dst == 3 and e.src == 2)  # replica 2's word arrives...
    h.lose_disk(2)
    h.restart(2)  # ...and replica 2 starts rebuilding: its JoinRequest follows
    h.deliver(lambda e: e.dst == 3 and e.src == 2)
    h.deliver(lambda e: e.dst == 1 and e.src == 3)
    h.deliver(lambda e: e.dst == 3 and e.src == 1)  # replica 1: "deleted"
    assert h.rejoined == [], "replica 3 waits for replica 2 to vote again"
    settle(h, 400)
    assert h.rejoined == [3], "then rebuilds, one replica at a time"
    for r in h.ids:
        assert not h.replica(r).loading
        assert all(h.replica(r).executed(InstanceId(1, i)) for i in range(6))


def test_a_laggard_does_not_rebuild_on_a_word_older_than_what_it_lacks() -> None:
    """Found by the simulator (seed 50043, N=3): replica 3 held replica 2's word from
    the cluster's first ticks ("I never had anything"). Cut off, it missed writes that
    replica 2 then executed, and replica 1 deleted; replica 2 lost its disk. On
    replica 1's "deleted", replica 3 rebuilt on that old word, and with replica 2
    rebuilding too, two of three waited on each other for good. A word counts only
    while fresh (``Laggards._fresh_words``); the laggard asks for a new one."""
    h = cluster()
    settle(h, 15)  # every replica has every peer's word: nothing committed, nothing deleted
    write_while_away(h, (3,))
    assert h.replica(1).left_behind == {3}
    h.lose_disk(2)
    for _ in range(60):  # replica 3 is back in touch, with replica 1 only
        h.deliver()
        h.tick(only=[1, 3])
    assert h.rejoined == [], "replica 2's word predates what replica 3 lacks"
    h.restart(2)
    settle(h, 600)
    assert h.rejoined == [3], "replica 2 joins first, then replica 3 rebuilds"
    for r in h.ids:
        assert not h.replica(r).loading
        assert all(h.replica(r).executed(InstanceId(1, i)) for i in range(6))
    h.assert_agreement()


def test_every_vote_reaches_the_floor_not_only_one_for_a_peer_that_may_lack_it() -> None:
    """Seed 20435 (N=3) as a scenario. Replica 3 votes for replica 2's write y to k and
    goes silent before y's commit reaches it; replicas 1 and 2 execute y, leave 3
    behind and delete y, which leaves their conflict indexes. Replica 1's write x to k,
    proposed before it heard of y, then gets replica 2's vote. When the floor raised
    only a vote for a peer that might lack y (not replica 1), x committed without
    depending on y, and replica 3, holding y unexecuted, could have run x first."""
    h = cluster()
    h.propose(1, set_cmd(1, "k", "x"))
    (x,) = [iid for iid in h.replica(1).instances if iid.replica == 1]
    h.drop(lambda e: e.src == 1)  # x's PreAccepts: nobody hears of x for now
    h.propose(2, set_cmd(2, "k", "y"))
    (y,) = [iid for iid in h.replica(2).instances if iid.replica == 2]
    h.drop(lambda e: e.src == 2 and e.dst == 1)
    h.deliver(lambda e: e.src == 2 and e.dst == 3)  # replica 3 votes for y
    h.deliver(lambda e: e.src == 3 and e.dst == 2)  # y commits on the fast path
    h.crash(3)
    assert h.replica(2).record(y).status >= Status.COMMITTED

    def not_about_x(e: Envelope) -> bool:
        return getattr(e.msg, "inst", None) != x

    for _ in range(80):  # replica 3 is left behind, and y deleted by 1 and 2
        h.drop(lambda e: not not_about_x(e))
        h.deliver(not_about_x)
        h.tick(only=[1, 2])
    assert y not in h.replica(1).instances and y not in h.replica(2).instances
    assert h.replica(2).gc_floor[1] >= y.index
    for _ in range(40):  # x's retransmitted PreAccept reaches replica 2, and x commits
        if committed := h.committed(x):
            break
        h.deliver()
        h.tick(only=[1, 2])
    assert committed, "x committed with replicas 1 and 2"
    assert all(rec.deps[1] >= y.index for rec in committed.values()), "x depends on y"


def test_a_replica_back_from_a_long_stop_loads_again_and_rebuilds_before_serving() -> None:
    """Found by a QA run: replica 3 was stopped while its peers left it behind; back, it
    served at once, its blocked clients' due retries popped elements that its rebuild,
    a moment later, orphaned. Told it was stopped (``catch_up_again``), it loads — not
    serving — until it has heard its peers, and so learns it must rebuild first."""
    h = cluster()
    settle(h, 15)
    write_while_away(h, (3,))
    assert h.replica(1).left_behind == {3}
    r3 = h.replica(3)
    assert not r3.loading, "it does not know it was away"
    r3.catch_up_again()
    assert r3.loading
    for _ in range(200):
        h.deliver()
        h.tick()
        if h.rejoined:
            break
        assert h.replica(3).loading, "it never serves before it knows to rebuild"
    assert h.rejoined == [3]
    settle(h, 300)
    r3 = h.replica(3)
    assert not r3.loading
    assert all(r3.executed(InstanceId(1, i)) for i in range(6))


def test_a_replica_back_from_a_stop_that_missed_nothing_serves_again_after_one_sync() -> None:
    h = cluster()
    settle(h, 15)
    r3 = h.replica(3)
    r3.catch_up_again()
    assert r3.loading
    settle(h, 15)
    assert not h.replica(3).loading and h.rejoined == []

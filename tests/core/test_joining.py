"""A replica on an empty disk joins before it votes (``epaxosdb.core.joining``).

Scenarios on the hand-driven harness: what a replacement for a replica that
lost its disk may and may not do while it rebuilds, when it becomes a member,
and that a new cluster's replicas need no snapshot at all.
"""

from __future__ import annotations

from epaxosdb.core.state import META_JOINING
from protocol.messages import (
    Commit,
    InstanceId,
    JoinReply,
    JoinRequest,
    PreAccept,
    PreAcceptReply,
    Prepare,
)
from tests.core.harness import Harness, from_, of, set_cmd, to


def lose_disk(h: Harness, r: int) -> None:
    """Replica ``r`` crashes and comes back on a new, empty disk."""
    h.lose_disk(r)
    h.restart(r)


def settle(h: Harness, rounds: int = 400) -> None:
    h.stabilize(rounds=rounds, tick_every=3)


def test_a_replacement_votes_on_nothing_until_it_has_every_commit_up_to_its_join_bound() -> None:
    h = Harness(3)
    for i in range(5):
        h.propose(1 + i % 3, set_cmd(1 + i % 3, "k", str(i)))
        h.stabilize()
    lose_disk(h, 3)
    assert h.replica(3).joining and h.replica(3).loading
    h.propose(1, set_cmd(1, "k", "while-joining"))
    h.deliver(to(3, PreAccept))
    assert not [e for e in h.wire if e.src == 3 and isinstance(e.msg, PreAcceptReply)]
    settle(h)
    rep = h.replica(3)
    assert not rep.joining and not rep.loading
    h.assert_agreement()
    assert rep.executed(InstanceId(1, 2))
    assert rep.next_instance == 1, "it never numbers again an instance its predecessor used"
    h.propose(3, set_cmd(3, "k", "after"))
    settle(h)
    assert set(h.committed(InstanceId(3, rep.next_instance - 1))) == {1, 2, 3}


def test_a_replacement_answers_no_prepare_for_an_instance_it_does_not_know_committed() -> None:
    """Its "nothing here" would be a lie about its predecessor's vote."""
    h = Harness(3)
    h.propose(1, set_cmd(1, "a"))
    h.stabilize()
    lose_disk(h, 3)
    settle(h)  # a member again
    h.lose_disk(3)
    h.propose(2, set_cmd(2, "b"))
    h.drop(to(3))
    h.restart(3)  # joining again, and 2.1 is not committed there
    assert h.replica(3).joining
    h.replica(1).recover(InstanceId(2, 1))
    h.process(1)
    assert h.deliver(to(3, Prepare)) == 1
    assert not [e for e in h.wire if e.src == 3 and e.dst == 1 and not isinstance(e.msg, JoinReply)
                and getattr(e.msg, "inst", None) == InstanceId(2, 1)]


def joining_while_replica_2_is_down() -> Harness:
    """Replica 1 wrote three instances; replica 3 lost its disk while replica 2 is down,
    so it cannot finish joining."""
    h = Harness(3)
    for i in range(3):
        h.propose(1, set_cmd(1, f"k{i}"))
        h.stabilize()
    h.crash(2)
    lose_disk(h, 3)
    settle(h, 200)
    assert h.replica(3).joining
    return h


def test_a_replacement_waits_for_every_peer_before_it_rebuilds() -> None:
    """Its predecessor may have voted on instances only the missing peer knows of."""
    h = joining_while_replica_2_is_down()
    assert "1 of 2 answered" in h.replica(3).join_state
    h.restart(2)
    settle(h)
    assert not h.replica(3).joining
    assert h.replica(3).executed(InstanceId(1, 2))


def test_a_replacement_restarted_before_it_has_joined_joins_again_as_its_disk_says() -> None:
    """The disk, not the driver, remembers that it is new: the runtime once took a second
    start on a joiner's directory for a member's restart, and acknowledged writes were
    lost (found by a QA run; ``tests/integration/test_replica_replacement.py``)."""
    h = joining_while_replica_2_is_down()
    h.crash(3)
    h.new_disks.discard(3)  # a driver that knows only that this is not the first start
    h.restart(3)
    assert h.replica(3).joining
    h.restart(2)
    settle(h)
    assert not h.replica(3).joining
    assert h.replica(3).executed(InstanceId(1, 2))
    assert not h.disks[3].meta.get(META_JOINING), "a member's disk is no longer new"
    h.crash(3)
    h.restart(3)
    assert not h.replica(3).joining


def test_the_join_bound_counts_an_instance_known_only_as_a_dependency() -> None:
    """Seed 316: the predecessor made an instance whose PreAccept was lost, then voted on
    a peer's conflicting instance with it as a dependency. No peer has the instance; a
    committed instance names it. The replacement must not number another one so."""
    h = Harness(3)
    h.propose(3, set_cmd(3, "x", "lost"))
    assert h.drop(from_(3, PreAccept)) == 2
    h.propose(1, set_cmd(1, "x", "seen"))
    assert h.drop(to(2, PreAccept)) == 1  # so replica 3's vote decides the attributes
    h.deliver(to(3, PreAccept))
    h.deliver(from_(3, PreAcceptReply))
    h.lose_disk(3)  # its PreAccept for 3.0 never reached anyone
    h.tick(5, only=[1, 2])
    h.stabilize()
    committed = h.committed(InstanceId(1, 0))
    assert committed and next(iter(committed.values())).deps[2] == 0
    h.restart(3)
    settle(h)
    rep = h.replica(3)
    assert not rep.joining
    assert rep.next_instance >= 1
    assert set(h.committed(InstanceId(3, 0))) == {1, 2, 3}  # the hole was filled (a NO-OP)
    h.assert_agreement()


def test_a_new_cluster_joins_without_a_snapshot() -> None:
    """Every replica of a new cluster starts empty; pristine answers make them members."""
    h = Harness(3)
    for r in h.ids:
        h.lose_disk(r)
    for r in h.ids:
        h.restart(r)
        assert h.replica(r).joining
    settle(h)
    assert not any(h.replica(r).joining for r in h.ids)
    assert all(h.replica(r).next_instance == 0 for r in h.ids)
    h.propose(2, set_cmd(2, "k"))
    settle(h)
    assert set(h.committed(InstanceId(2, 0))) == {1, 2, 3}


def test_a_joiner_does_not_take_a_commit_onto_its_empty_state() -> None:
    h = Harness(3)
    h.propose(1, set_cmd(1, "k", "1"))
    h.stabilize()
    lose_disk(h, 3)
    assert h.drop(to(2, JoinRequest)) == 1  # so replica 3 stays a joiner without a snapshot
    ran_before = len(h.executed[3])
    h.propose(1, set_cmd(1, "k", "2"))
    h.stabilize()
    assert len(h.committed(InstanceId(1, 1))) == 2
    assert any(isinstance(e.msg, Commit) and e.dst == 3 for e in h.history)
    rep = h.replica(3)
    assert rep.joining
    assert rep.instances == {}
    assert len(h.executed[3]) == ran_before
    assert h.disks[3].records == {}


def test_a_pristine_answer_does_not_settle_it_while_a_peer_holding_data_may_still_answer() -> None:
    """A replacement hearing first from a peer that never held anything (it never ran)
    must not take the cluster for a new one while the peer that served can answer."""
    h = Harness(3)
    h.crash(1)  # replica 1 never holds anything
    h.propose(2, set_cmd(2, "k"))
    h.stabilize()
    h.tick(5, only=[2, 3])
    h.stabilize()
    assert set(h.committed(InstanceId(2, 0))) == {2, 3}
    h.restart(1)  # empty: a pristine joiner
    lose_disk(h, 3)
    assert h.deliver(lambda e: e.src == 3 and e.dst == 1 and isinstance(e.msg, JoinRequest))
    assert h.deliver(lambda e: e.src == 1 and e.dst == 3 and isinstance(e.msg, JoinReply))
    assert h.replica(3).joining, "one pristine answer is not yet a new cluster"
    settle(h)
    assert not h.replica(3).joining
    assert h.replica(3).executed(InstanceId(2, 0))
    h.assert_agreement()


def test_a_new_cluster_waits_for_every_replica_before_it_starts() -> None:
    """Two empty replicas cannot tell a new cluster from one whose third replica served
    (with a predecessor of one of them) while they were empty: they wait for it."""
    h = Harness(3)
    for r in h.ids:
        h.lose_disk(r)
    for r in (1, 2):
        h.restart(r)
    settle(h, 300)
    assert h.replica(1).joining and h.replica(2).joining
    h.restart(3)
    settle(h)
    assert not any(h.replica(r).joining for r in h.ids)
    h.propose(1, set_cmd(1, "k"))
    settle(h)
    assert set(h.committed(InstanceId(1, 0))) == {1, 2, 3}


def test_a_replacement_that_hears_only_from_an_empty_member_waits_for_the_one_with_data() -> None:
    """Seed 62221, as a scenario: replica 1 never held anything (it was down while 2 and
    3 committed), replica 2 loses its disk while 3 is down. Replica 1's empty answer
    must not make replica 2 a member of a "new" cluster: replica 3 holds the commit
    that only replica 2's lost vote shared with it."""
    h = Harness(3)
    h.crash(1)
    h.propose(2, set_cmd(2, "k"))
    h.stabilize()
    assert set(h.committed(InstanceId(2, 0))) == {2, 3}
    h.crash(3)
    lose_disk(h, 2)
    h.restart(1)
    settle(h, 300)
    assert h.replica(2).joining, "an empty member's answer is not a new cluster"
    h.restart(3)
    settle(h)
    assert not h.replica(2).joining
    h.propose(1, set_cmd(1, "k"))
    settle(h)
    deps = next(iter(h.committed(InstanceId(1, 0)).values())).deps
    assert deps[1] == 0, "the new command depends on the commit replica 2 forgot"
    h.assert_agreement()


def test_an_empty_replica_on_the_disk_it_ran_on_never_voted_and_restarts_as_a_member() -> None:
    """Only a new disk may stand for a lost one: a replica that crashed before it stored
    anything forgot no vote, and another replica rebuilding meanwhile counts on it."""
    h = Harness(3)
    h.crash(1)
    h.propose(2, set_cmd(2, "k"))
    h.tick(5, only=[2, 3])
    h.stabilize()
    h.restart(1)
    assert not h.replica(1).joining
    lose_disk(h, 3)
    settle(h)
    assert not h.replica(3).joining
    assert h.replica(3).executed(InstanceId(2, 0)) and h.replica(1).executed(InstanceId(2, 0))


def test_more_replicas_rebuilding_than_the_cluster_tolerates_wait() -> None:
    """Two of three replicas on new disks: a commit may have had only their forgotten
    votes, so neither trusts the other; they wait (the operator's data is at risk)."""
    h = Harness(3)
    h.propose(1, set_cmd(1, "k"))
    h.stabilize()
    lose_disk(h, 2)
    lose_disk(h, 3)
    settle(h, 300)
    assert h.replica(2).joining and h.replica(3).joining


def test_a_replica_never_numbers_an_instance_of_its_row_it_has_seen_elsewhere() -> None:
    """Found by the simulator (seed 379, N=5): a replica that rebuilt learnt of its
    predecessor's instance 17 — recovered by a peer as a NO-OP — only after its join
    bound (16) was fixed, because the peer that knew of it had it only in the deps of
    a reply it was tallying; it then proposed a new batch as instance 17. Both ends
    are closed: tallied deps count in the bound, and a new instance is numbered past
    anything of its row seen."""
    h = Harness(3)
    noop = Commit(1, InstanceId(3, 5), (), 0, (-1, -1, -1))
    h.replica(3).step(noop)
    h.process(3)
    h.propose(3, set_cmd(3, "k"))
    mine = [i for i in h.replica(3).instances if i.replica == 3]
    assert sorted(i.index for i in mine) == [5, 6]


def test_a_joiners_lost_instance_is_recovered_when_no_member_knows_it_any_more() -> None:
    """Seed 54936: the only member that held the predecessor's last instance gave it to
    the join bound, then lost its disk too. No member knows it any more, so none would
    recover it; the joiner names it in its sync requests, and the members settle it (a
    NO-OP: with at most F replicas rebuilding, a committed instance would be known to
    one)."""
    h = Harness(5)
    for i in range(3):
        h.propose(1 + i, set_cmd(1 + i, "k", str(i)))
        h.stabilize()
    h.propose(3, set_cmd(3, "x", "lost"))
    assert h.drop(lambda e: e.src == 3 and isinstance(e.msg, PreAccept) and e.dst != 5) == 3
    h.deliver(to(5, PreAccept))
    h.drop(from_(5, PreAcceptReply))
    lose_disk(h, 3)
    h.deliver(of(JoinRequest))  # replica 5 arms a recovery of 3.0, but too late:
    h.deliver(of(JoinReply))
    assert h.replica(3).joining
    lose_disk(h, 5)
    settle(h, rounds=800)
    rep = h.replica(3)
    assert not rep.joining and not rep.loading, rep.join_state
    lost = InstanceId(3, 1)  # 3.0 is the first round's
    assert all(h.replica(r).executed(lost) for r in range(1, 6))
    assert len(h.committed(lost)) >= 3
    h.assert_agreement()

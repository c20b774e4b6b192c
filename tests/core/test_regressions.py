"""Scenario tests for the bugs the simulator found (each names the seed that found it)."""

from __future__ import annotations

import random

from epaxosdb.core.config import ReplicaConfig
from epaxosdb.core.instance import Instance
from epaxosdb.core.replica import Replica
from protocol.messages import (
    Accept,
    Ballot,
    Commit,
    InstanceId,
    PreAccept,
    PreAcceptReply,
    Prepare,
    PrepareReply,
    Status,
    SyncReply,
    SyncRequest,
)
from tests.core.harness import Harness, access, of, set_cmd, to


def test_a_recovery_preaccept_keeps_an_accepted_vote_and_raises_only_the_promise() -> None:
    """Seed 0, N=5 (first network model): a phase-1 re-run at a higher ballot moved an
    acceptor's ACCEPTED vote back to PREACCEPTED. Status must never move backwards."""
    h = Harness(3)
    iid = InstanceId(1, 0)
    h.propose(1, set_cmd(1, "k"))
    h.deliver(of(PreAccept))
    h.drop(of(PreAcceptReply))  # the leader never hears back
    # p3 recovers at ballot 1 from {p3, p2}: identical initial votes → Accept, which only
    # p3 itself records.
    h.recover(3, iid)
    h.drop(to(1, Prepare))
    h.deliver(to(2, Prepare))
    h.deliver(to(3, PrepareReply))
    h.drop(of(Accept))
    # p2 recovers at ballot 2 from {p2, p1}: the owner replied and nobody in that quorum
    # accepted anything, so phase 1 runs again — and its PreAccept reaches p3.
    h.recover(2, iid)
    h.drop(to(3, Prepare))
    h.deliver(to(1, Prepare))
    h.deliver(to(2, PrepareReply))
    h.deliver(to(3, PreAccept))
    rec = h.record(3, iid)
    assert rec is not None
    assert rec.status == Status.ACCEPTED and rec.vbal == Ballot(0, 1, 3)
    assert rec.bal == Ballot(0, 2, 2)
    replies = [e.msg for e in h.wire if isinstance(e.msg, PreAcceptReply) and e.src == 3]
    assert replies and replies[-1].ok


def test_a_recovery_preaccept_leaves_an_accepted_no_op_vote_whole() -> None:
    """Seed 2246, N=3 (found with the skipped-NO-OP executor variant patched in, which
    only changed the schedule): an acceptor holding a NO-OP accepted at round 2 took the
    batch of a round-3 recovery PreAccept into that vote, keeping the NO-OP's empty deps.
    A later recovery committed the batch with those deps — two interfering instances,
    neither depending on the other (visibility). A vote is payload and attributes."""
    r = Replica(ReplicaConfig(1, (1, 2, 3)), rng=random.Random(0), access=access)
    iid = InstanceId(2, 0)
    r.step(Accept(3, iid, Ballot(0, 2, 3), (), 0, (-1, -1, -1)))  # a NO-OP, at round 2
    r.step(PreAccept(2, iid, Ballot(0, 3, 2), (set_cmd(2, "k"),), 8, (1, 4, 0)))
    x = r.instances[iid]
    assert (x.status, x.cmds, x.seq, x.deps) == (Status.ACCEPTED, (), 0, (-1, -1, -1))
    assert x.vbal == Ballot(0, 2, 3) and x.bal == Ballot(0, 3, 2)
    (record,) = [rec for rec in r.ready().to_persist if rec.id == iid]
    assert record.cmds == () and record.vbal == Ballot(0, 2, 3)


def test_duelling_recoverers_back_off_exponentially() -> None:
    """Seed 35, N=5: recoverers whose timeout was shorter than a round trip kept
    pre-empting each other forever. Each recovery seen doubles the next wait."""
    cfg = ReplicaConfig(1, (1, 2, 3), recovery_ticks=10, recovery_jitter_ticks=0)
    r = Replica(cfg, rng=random.Random(0), access=access)
    x = Instance(InstanceId(2, 0), 3, 0)
    waits = []
    for attempts in range(4):
        x.recovery_attempts = attempts
        waits.append(min(r._recovery_delay(x) for _ in range(200)))
    assert waits == [10, 20, 40, 80]


def test_a_replica_waits_two_measured_round_trips_before_recovering() -> None:
    """Seed 300085, N=5: with ``recovery_ticks`` (15) far below the network's round trip
    (up to ~80 ticks), every instance was recovered by several replicas while its leader
    was still waiting for replies, and commits crawled past the liveness budget. A
    leader's replies time its round trips; recovery waits at least two timeouts."""
    h = Harness(3, recovery_ticks=5, recovery_jitter_ticks=0, retransmit_ticks=1000)
    fresh = min(h.replica(2)._recovery_delay() for _ in range(50))
    h.propose(1, set_cmd(1, "k"))
    h.tick(40)  # the PreAccepts take 40 ticks to be answered (no retransmission yet)
    h.deliver(of(PreAccept))
    h.deliver(of(PreAcceptReply))
    leader = h.replica(1)
    assert leader.round_trip_timeout() >= 40
    assert fresh == 5  # nothing measured: the configured wait
    assert min(leader._recovery_delay() for _ in range(50)) >= 2 * leader.round_trip_timeout()


def test_four_replicas_recovering_one_instance_at_once_converge() -> None:
    """Seed 35, N=5: every survivor starts recovering the same instance at the same tick;
    with back-off one of them finishes and all agree."""
    h = Harness(5, recovery_ticks=5, recovery_jitter_ticks=2)
    iid = InstanceId(1, 0)
    h.propose(1, set_cmd(1, "k"))
    h.deliver(of(PreAccept))
    h.wire.clear()
    h.crash(1)
    for r in (2, 3, 4, 5):
        h.recover(r, iid)
    rng = random.Random(35)
    for _ in range(3000):
        if len(h.committed(iid)) == 4:
            break
        if h.wire and rng.random() < 0.5:
            e = h.wire.pop(rng.randrange(len(h.wire)))  # out of order, one at a time
            rep = h.replicas[e.dst]
            if rep is not None:
                rep.step(e.msg)
                h.process(e.dst)
        else:
            h.tick()
    assert len(h.committed(iid)) == 4
    h.assert_agreement()


def accepted_no_op_then_dependant() -> tuple[Harness, InstanceId, InstanceId]:
    """p2 holds instance (1, 0) as a NO-OP accepted at a ballot that lost, while the
    others commit it as its original write and then commit (3, 0), a write to the same
    key that depends on it; p2 has just been told only of (3, 0)'s commit."""
    h = Harness(3)
    first = InstanceId(1, 0)
    h.propose(1, set_cmd(1, "k"))
    h.drop(of(PreAccept))  # the owner alone holds its batch
    # p2 recovers from {p2, p3}, finds nothing, and accepts a NO-OP only at home.
    h.recover(2, first)
    h.drop(to(1, Prepare))
    h.deliver(to(3, Prepare))
    h.deliver(to(2, PrepareReply))
    h.drop(of(Accept))
    rec = h.record(2, first)
    assert rec is not None and rec.status == Status.ACCEPTED and rec.cmds == ()
    # p3 recovers from {p3, p1}: the owner's PreAccept wins and commits the real batch;
    # p2 hears nothing of it.
    h.recover(3, first)
    for _ in range(20):
        h.drop(to(2))
        if not h.deliver(lambda e: e.dst != 2):
            break
    assert set(h.committed(first)) == {1, 3}
    # A later write to the same key commits depending on it; p2 learns only that commit.
    h.propose(3, set_cmd(3, "k"))
    for _ in range(20):
        h.drop(lambda e: e.dst == 2 and not isinstance(e.msg, Commit))
        if not h.deliver(lambda e: e.dst != 2):
            break
    second = InstanceId(3, 0)
    assert set(h.committed(second)) == {1, 3}
    assert h.committed(second)[3].deps[0] >= 0
    h.deliver(to(2, Commit))
    return h, first, second


def test_an_accepted_no_op_blocks_execution_until_it_commits() -> None:
    """Seed 1909, N=3: a replica held a dependency as a NO-OP accepted at a ballot that
    lost; the instance then committed as its original batch, which interferes. The
    executor skipped the uncommitted NO-OP as "empty" and ran the dependant first."""
    h, first, second = accepted_no_op_then_dependant()
    assert h.executed[2] == [], "ran the dependant of an uncommitted NO-OP"
    h.stabilize(rounds=2000, tick_every=5)
    assert [iid for iid, _ in h.executed[2]] == [first, second]


def test_a_loading_replica_resumes_a_catch_up_whose_chain_of_replies_broke() -> None:
    """Found with byte budgets small enough to split every SyncReply (seed 8, N=3): a
    loading replica asked again only when a reply said "more", so one lost follow-up
    left it loading forever. The periodic sync now asks again while it lags."""
    h = Harness(3, sync_batch_max=2, sync_interval_ticks=5)
    first = set_cmd(3, "before")
    h.propose(3, first)  # something on disk: replica 3 restarts, rather than joining anew
    h.stabilize()
    h.crash(3)
    cmds = [set_cmd(1, f"k{i}") for i in range(6)]
    for c in cmds:
        h.propose(1, c)
        h.stabilize()
    h.restart(3)
    h.deliver(of(SyncRequest))
    h.deliver(of(SyncReply))  # two commits each, and "more"
    assert h.drop(of(SyncRequest)) == 2  # both follow-ups are lost
    assert h.replica(3).loading
    h.stabilize(rounds=400, tick_every=2)
    assert not h.replica(3).loading
    assert [c for _, c in h.executed[3]] == [first, *cmds]

"""One scripted scenario per pitfall of brief §8 (P1–P27) that applies to this design.

Each test's docstring names its P number. Not applicable, and why:

* P4, P5 — TryPreAccept: we use the simple fast quorum N−1, which recovers
  without it (DESIGN.md §3.1).
* P13 — client retries: Redis clients send no request ids, so a retry after
  a broken connection is a new command; README and the "outcome unknown"
  error document this (brief §3.6).

P10, P21 and the broken variant of P22 need many randomized runs and live in
``tests/sim``.
"""

from __future__ import annotations

import itertools
import random

import pytest

from epaxosdb.core.execution import Executor
from epaxosdb.core.instance import Instance
from epaxosdb.core.quorum import fast_votes_needed
from protocol.messages import (
    Accept,
    AcceptReply,
    Ballot,
    Commit,
    InstanceId,
    PreAccept,
    PreAcceptReply,
    Prepare,
    PrepareReply,
    Status,
)
from tests.core.harness import (
    Envelope,
    Harness,
    access,
    assert_visibility,
    assert_votes_durable,
    get_cmd,
    of,
    set_cmd,
    to,
)

I = InstanceId  # noqa: E741


def take(h: Harness, match: object) -> list[Envelope]:
    """Remove matching messages from the wire and hand them to the test (to deliver late)."""
    got = [e for e in h.wire if match(e)]  # type: ignore[operator]
    for e in got:
        h.wire.remove(e)
    return got


def put_back(h: Harness, envs: list[Envelope]) -> None:
    h.wire.extend(envs)


def settle(h: Harness, ticks: int = 400) -> None:
    """Deliver everything and let timers run until nothing is left to do."""
    for _ in range(ticks):
        h.deliver()
        h.tick()
    h.deliver()


def test_p1_recovery_takes_the_accepted_value_with_the_highest_vbal() -> None:
    """P1, Sutra's counterexample (arXiv 1906.10917), adapted to our rules.

    p3 recovers 1.0 at ballot 1 while nobody else holds it and gets a NO-OP
    accepted only by itself. p2 then recovers at ballot 2 through the owner
    and gets the real command chosen by {p1, p2}, commits it and crashes. p1
    recovers from {p1, p3}: both report ACCEPTED, and only ``vbal`` (2 > 1)
    tells which is newer — a single ballot field would show both at the new
    promise and could pick the stale NO-OP.
    """
    h = Harness(3)
    g = set_cmd(1, "k", "c2")
    iid = I(1, 0)
    h.propose(1, g)
    h.drop(of(PreAccept))

    h.recover(3, iid)
    h.drop(to(1, Prepare))
    h.deliver(to(2, Prepare))
    h.deliver(to(3, PrepareReply))
    rec3 = h.record(3, iid)
    assert rec3 is not None and rec3.status == Status.ACCEPTED and rec3.cmds == ()
    h.drop(of(Accept))

    h.recover(2, iid)
    h.drop(to(3))
    h.deliver(to(1, Prepare))
    h.deliver(to(2, PrepareReply))
    h.drop(to(3))
    h.deliver(to(1, PreAccept))
    h.deliver(to(2, PreAcceptReply))
    h.drop(to(3))
    h.deliver(to(1, Accept))
    h.deliver(to(2, AcceptReply))
    rec2 = h.record(2, iid)
    assert rec2 is not None and rec2.status >= Status.COMMITTED and rec2.cmds == (g,)
    h.drop(of(Commit))
    h.crash(2)

    h.recover(1, iid)
    h.deliver(to(3, Prepare))
    h.deliver(to(1, PrepareReply))
    h.deliver(to(3, Accept))
    h.deliver(to(1, AcceptReply))
    rec1 = h.record(1, iid)
    assert rec1 is not None and rec1.status >= Status.COMMITTED
    assert rec1.cmds == (g,), "recovery picked the stale NO-OP accepted at a lower ballot"
    h.restart(2)
    settle(h, 50)
    h.assert_agreement()


def test_p2_a_late_accept_at_a_lower_ballot_is_refused() -> None:
    """P2: an Accept(b0) delayed past an Accept(b1) must not overwrite it."""
    h = Harness(3)
    h.propose(2, set_cmd(2, "k"))
    h.drop(of(PreAccept))  # only p2 knows 2.0, so p2's vote on 1.0 will differ
    h.propose(1, set_cmd(1, "k"))
    h.deliver(of(PreAccept))
    h.deliver(lambda e: e.dst == 1 and e.src == 2)
    h.drop(of(PreAcceptReply))
    h.tick(3, only=[1])  # fast-path wait expires: slow path
    late = take(h, lambda e: isinstance(e.msg, Accept) and e.dst == 3)
    assert len(late) == 1 and late[0].msg.ballot == Ballot(0, 0, 1)
    h.drop(of(Accept))

    h.recover(2, I(1, 0))
    h.drop(to(1))
    h.deliver(to(3, Prepare))
    h.deliver(to(2, PrepareReply))
    h.drop(to(1))
    h.deliver(to(3, Accept))
    b1 = Ballot(0, 1, 2)
    rec = h.record(3, I(1, 0))
    assert rec is not None and rec.vbal == b1

    put_back(h, late)
    h.deliver(lambda e: e in late)
    rec = h.record(3, I(1, 0))
    assert rec is not None and rec.vbal == b1 and rec.bal == b1
    nacks = [e.msg for e in h.wire if isinstance(e.msg, AcceptReply) and e.dst == 1]
    assert nacks and not nacks[-1].ok and nacks[-1].ballot == b1


def test_p3_replies_to_an_older_prepare_are_ignored() -> None:
    """P3: promises for ballot 1 must not count toward a recovery at ballot 3."""
    h = Harness(3)
    iid = I(1, 0)
    h.propose(1, set_cmd(1, "k"))
    h.drop(of(PreAccept))
    h.recover(3, iid)  # ballot (0, 1, 3)
    h.deliver(of(Prepare))
    old = take(h, lambda e: isinstance(e.msg, PrepareReply) and e.dst == 3)
    assert len(old) == 2

    h.recover(2, iid)  # ballot (0, 2, 2) outbids p3
    h.deliver(to(3, Prepare))
    assert h.replica(3).instances[iid].lead is None
    h.wire.clear()
    h.recover(3, iid)  # ballot (0, 3, 3)
    h.wire.clear()
    put_back(h, old)
    h.deliver(lambda e: e in old)
    lead = h.replica(3).instances[iid].lead
    assert lead is not None and lead.ballot == Ballot(0, 3, 3)
    assert set(lead.prepare_replies) == {3}


def test_p6_a_leader_that_promised_a_higher_ballot_does_not_fast_commit() -> None:
    """P6: Prepare(b1) reaches the leader before its PreAccept replies."""
    h = Harness(3)
    iid = I(1, 0)
    h.propose(1, set_cmd(1, "k"))
    h.deliver(of(PreAccept))
    replies = take(h, of(PreAcceptReply))
    h.recover(3, iid)
    h.deliver(to(1, Prepare))
    put_back(h, replies)
    h.deliver(lambda e: e in replies)
    rec = h.record(1, iid)
    assert rec is not None and rec.status < Status.COMMITTED
    assert h.replica(1).statistics().fast_path_commits == 0
    settle(h, 50)
    assert len(h.committed(iid)) == 3
    h.assert_agreement()


def _n3_trap(h: Harness) -> None:
    """L=p1 proposes γ; A=p2 adds x, B=p3 adds y; p1 hears only A's reply."""
    h.propose(2, set_cmd(2, "k", "x"))
    h.drop(of(PreAccept))
    h.propose(3, set_cmd(3, "k", "y"))
    h.drop(of(PreAccept))
    h.propose(1, set_cmd(1, "k", "g"))
    h.deliver(of(PreAccept))
    h.deliver(lambda e: e.dst == 1 and e.src == 2 and isinstance(e.msg, PreAcceptReply))
    h.drop(of(PreAcceptReply))


def test_p7_n3_leader_fast_commits_only_on_a_reply_that_left_attributes_unchanged() -> None:
    """P7, the N=3 trap (openacid/celeritasdb#24), under rule (a): no fast commit on a
    changed reply; after the leader's crash, recovery from {A, B} agrees with everyone."""
    h = Harness(3)
    _n3_trap(h)
    rec = h.record(1, I(1, 0))
    assert rec is not None and rec.status < Status.COMMITTED
    h.drop(of(Commit))
    h.crash(1)
    settle(h)
    h.restart(1)
    settle(h)
    h.assert_agreement()
    assert_visibility(h)
    assert len(h.committed(I(1, 0))) == 3


def test_p7_without_the_eq_rule_the_n3_trap_loses_agreement() -> None:
    """P7 broken variant: fast-committing on a changed reply lets recovery pick another value.

    This shows the agreement check can fail: the harness catches it."""
    h = Harness(3, fast_path_eq_rule=False)
    _n3_trap(h)
    rec = h.record(1, I(1, 0))
    assert rec is not None and rec.status == Status.COMMITTED  # fast-committed on A's reply
    h.drop(of(Commit))
    h.crash(1)
    h.recover(3, I(1, 0))
    h.deliver(to(2, Prepare))
    h.deliver(to(3, PrepareReply))
    h.deliver(to(2, Accept))
    h.deliver(to(3, AcceptReply))
    with pytest.raises(AssertionError):
        h.assert_agreement()


def test_p8_n7_fast_path_needs_six_votes_including_the_leader() -> None:
    """P8: N=7 commits fast only with 5 replies plus the leader (efficient/epaxos#10)."""
    assert [fast_votes_needed(n) for n in (3, 5, 7)] == [1, 3, 5]
    h = Harness(7)
    iid = I(1, 0)
    h.propose(1, set_cmd(1, "k"))
    h.deliver(of(PreAccept))
    replies = take(h, of(PreAcceptReply))
    assert len(replies) == 6
    put_back(h, replies[:4])
    h.deliver()
    rec = h.record(1, iid)
    assert rec is not None and rec.status < Status.COMMITTED
    put_back(h, replies[4:5])
    h.deliver(of(PreAcceptReply))
    rec = h.record(1, iid)
    assert rec is not None and rec.status >= Status.COMMITTED
    assert h.replica(1).statistics().fast_path_commits == 1


def test_p9_identical_replies_give_the_same_outcome_in_any_delivery_order() -> None:
    """P9 (efficient/epaxos#25): the fast/slow decision depends on the reply set only."""
    outcomes = set()
    for perm in itertools.permutations(range(4)):
        h = Harness(5)
        h.propose(1, set_cmd(1, "k"))
        h.deliver(of(PreAccept))
        replies = take(h, of(PreAcceptReply))
        for i in perm:
            put_back(h, [replies[i]])
            h.deliver(of(PreAcceptReply))
        rec = h.record(1, I(1, 0))
        assert rec is not None
        stats = h.replica(1).statistics()
        outcomes.add((rec.status, rec.seq, rec.deps, stats.fast_path_commits))
    assert len(outcomes) == 1
    assert next(iter(outcomes))[3] == 1


def test_p11_an_acceptor_that_only_saw_the_accept_carries_the_command_into_recovery() -> None:
    """P11 (i): Accept carries the payload, so a replica that missed the PreAccept can
    recover the command instead of a NO-OP."""
    h = Harness(3)
    g = set_cmd(1, "k", "g")
    h.propose(2, set_cmd(2, "k"))
    h.drop(of(PreAccept))
    h.propose(1, g)
    h.drop(to(3, PreAccept))
    h.deliver(to(2, PreAccept))
    h.deliver(to(1, PreAcceptReply))
    h.tick(3, only=[1])
    h.drop(to(2, Accept))
    h.deliver(to(3, Accept))
    h.drop(of(AcceptReply))
    h.crash(1)
    h.recover(3, I(1, 0))
    h.deliver(to(2, Prepare))
    h.deliver(to(3, PrepareReply))
    h.deliver(to(2, Accept))
    h.deliver(to(3, AcceptReply))
    rec = h.record(3, I(1, 0))
    assert rec is not None and rec.status == Status.COMMITTED and rec.cmds == (g,)


def test_p11_a_noop_commit_does_not_clear_the_conflict_index() -> None:
    """P11 (ii): a NO-OP reaching a replica is just an empty batch; a later conflicting
    PreAccept there still depends on what it knew."""
    h = Harness(3)
    h.propose(2, set_cmd(2, "k"))
    h.drop(to(1, PreAccept))
    h.deliver(to(3, PreAccept))
    h.wire.clear()
    h.propose(1, set_cmd(1, "other"))
    h.drop(of(PreAccept))
    h.recover(2, I(1, 0))
    h.drop(to(1))
    h.deliver(to(3, Prepare))
    h.deliver(to(2, PrepareReply))
    h.deliver(to(3, Accept))
    h.deliver(to(2, AcceptReply))
    h.deliver(to(3, Commit))
    rec = h.record(3, I(1, 0))
    assert rec is not None and rec.status >= Status.COMMITTED and rec.cmds == ()
    h.wire.clear()
    h.propose(1, set_cmd(1, "k"))
    h.deliver(to(3, PreAccept))
    reply = [e.msg for e in h.wire if isinstance(e.msg, PreAcceptReply) and e.src == 3]
    assert reply and reply[-1].deps[1] >= 0, "p3 forgot 2.0 after a NO-OP commit"


def test_p12_a_command_recovered_by_a_peer_is_executed_once() -> None:
    """P12: a slow leader whose instance a peer recovered with the same command must not
    propose it again."""
    h = Harness(3)
    g = set_cmd(1, "k")
    h.propose(1, g)
    h.deliver(of(PreAccept))
    late = take(h, of(PreAcceptReply))
    h.recover(2, I(1, 0))
    settle(h, 30)
    put_back(h, late)
    settle(h, 30)
    for r in h.ids:
        assert h.executed_ids(r).count((g.origin, g.id)) == 1
    assert h.replica(1).statistics().instances_proposed == 1


def test_p14_a_recovery_preaccept_lands_in_the_owner_row() -> None:
    """P14: a PreAccept sent by a recoverer updates instance (r, i), never the sender's row."""
    h = Harness(3)
    h.propose(2, set_cmd(2, "k"))
    h.wire.clear()  # p2 alone knows 2.0: its vote on 1.0 differs, so recovery re-runs phase 1
    g = set_cmd(1, "k")
    h.propose(1, g)
    h.deliver(to(2, PreAccept))
    h.wire.clear()
    h.recover(2, I(1, 0))
    h.drop(to(1))
    h.deliver(to(3, Prepare))
    h.deliver(to(2, PrepareReply))
    h.deliver(to(3, PreAccept))
    rec = h.record(3, I(1, 0))
    assert rec is not None and rec.cmds == (g,) and rec.vbal == Ballot(0, 1, 2)
    assert not [i for i in h.replica(3).instances if i.replica == 2]


def test_p15_a_recovery_by_a_non_owner_keeps_dependencies_on_the_owner_row() -> None:
    """P15: rows are never skipped, so 1.1 still depends on 1.0 after p3 re-runs phase 1."""
    h = Harness(3)
    h.propose(1, set_cmd(1, "k", "a"))
    settle(h, 5)
    h.propose(2, set_cmd(2, "k", "x"))
    h.drop(of(PreAccept))  # p2 knows 2.0 alone: its vote on 1.1 will differ
    h.propose(1, set_cmd(1, "k", "b"))
    h.drop(to(3, PreAccept))
    h.deliver(to(2, PreAccept))
    h.crash(1)
    h.recover(3, I(1, 1))
    settle(h)
    rec = h.record(3, I(1, 1))
    assert rec is not None and rec.status >= Status.COMMITTED
    assert rec.deps[0] >= 0, "1.1 lost its dependency on 1.0"
    assert_visibility(h)


def test_p16_a_commit_raises_seq_in_the_conflict_index() -> None:
    """P16: a replica that learns γ only through Commit indexes the committed seq."""
    h = Harness(3)
    h.propose(2, set_cmd(2, "k"))
    h.drop(of(PreAccept))
    h.propose(1, set_cmd(1, "k"))
    h.drop(to(3, PreAccept))
    h.deliver(to(2, PreAccept))
    h.deliver(to(1, PreAcceptReply))
    h.tick(3, only=[1])
    h.drop(to(3, Accept))
    h.deliver(to(2, Accept))
    h.deliver(to(1, AcceptReply))
    h.deliver(to(3, Commit))
    gamma = h.record(3, I(1, 0))
    assert gamma is not None and gamma.status == Status.COMMITTED and gamma.seq >= 2
    h.wire.clear()
    h.propose(3, set_cmd(3, "k"))
    delta = h.record(3, I(3, 0))
    assert delta is not None and delta.seq > gamma.seq


def test_p17_an_equal_seq_cycle_executes_in_the_same_order_from_any_root() -> None:
    """P17: a 2-cycle with equal seq runs by (seq, replica, instance) everywhere."""
    h = Harness(3)
    a = set_cmd(1, "k", "a")
    b = set_cmd(2, "k", "b")
    h.propose(1, a)
    h.propose(2, b)
    h.drop(to(3, PreAccept))
    h.deliver(of(PreAccept))
    h.deliver(of(PreAcceptReply))
    h.tick(3, only=[1, 2])
    h.deliver(of(Accept))
    h.deliver(of(AcceptReply))
    ra, rb = h.record(1, I(1, 0)), h.record(2, I(2, 0))
    assert ra is not None and rb is not None and ra.seq == rb.seq
    assert ra.deps[1] == 0 and rb.deps[0] == 0  # a genuine cycle
    commits = take(h, to(3, Commit))
    put_back(h, sorted(commits, key=lambda e: -e.src))  # p3 sees b's commit first
    settle(h, 10)
    orders = {tuple(h.executed_ids(r)) for r in h.ids}
    assert orders == {((1, a.id), (2, b.id))}


def test_p18_an_execution_blocked_on_a_crashed_leaders_instance_resumes_after_recovery() -> None:
    """P18: a committed command that depends on a hole does not wait forever."""
    h = Harness(3)
    h.propose(1, set_cmd(1, "k"))
    h.drop(to(3, PreAccept))
    h.deliver(to(2, PreAccept))
    h.crash(1)
    d = set_cmd(2, "k", "d")
    h.propose(2, d)
    h.deliver()
    h.deliver()
    assert (2, d.id) not in h.executed_ids(2)
    cfg = h.config(2)
    bound = cfg.recovery_ticks + cfg.recovery_jitter_ticks + 10
    for _ in range(bound):
        h.tick(only=[2, 3])
        h.deliver()
        if (2, d.id) in h.executed_ids(2) and (2, d.id) in h.executed_ids(3):
            break
    assert (2, d.id) in h.executed_ids(2) and (2, d.id) in h.executed_ids(3)


def _executor(instances: dict[InstanceId, Instance]) -> Executor:
    return Executor((1, 2, 3), instances, lambda x: _batch_access(x))


def _batch_access(x: Instance) -> object:
    from epaxosdb.core.conflicts import batch_access

    return batch_access([access(c) for c in x.cmds or ()])


def _inst(
    r: int, i: int, cmd: object, deps: tuple[int, ...], status: Status, seq: int = 1
) -> Instance:
    x = Instance(I(r, i), 3, 0)
    x.cmds = (cmd,)  # type: ignore[assignment]
    x.deps = deps
    x.seq = seq
    x.status = status
    return x


def test_p19_execution_skips_non_interfering_instances_in_the_prefix() -> None:
    """P19: an uncommitted instance on another key inside u's deps prefix does not block u."""
    w = _inst(2, 0, set_cmd(2, "b"), (-1, -1, -1), Status.PREACCEPTED)
    u = _inst(1, 0, set_cmd(1, "a"), (-1, 0, -1), Status.COMMITTED)
    v = _inst(3, 0, set_cmd(3, "b"), (-1, 0, -1), Status.COMMITTED)
    instances = {x.id: x for x in (w, u, v)}
    ex = _executor(instances)
    for x in (u, v):
        ex.committed(x.id)
    assert [x.id for x in ex.run()] == [u.id]
    assert ex.blockers() == [w.id]


def test_p20_a_chain_of_fifty_thousand_dependencies_executes_without_recursion() -> None:
    """P20: the SCC search is iterative; Python's stack limit does not bound chains."""
    n = 50_000
    instances = {}
    for i in range(n):
        x = _inst(1, i, set_cmd(1, "k"), (i - 1, -1, -1), Status.COMMITTED, seq=i + 1)
        instances[x.id] = x
    ex = _executor(instances)
    ex.committed(I(1, n - 1))
    order = [x.id.index for x in ex.run()]
    assert order == list(range(n))


def test_p22_every_vote_sent_is_on_disk_even_across_crashes() -> None:
    """P22 (efficient/epaxos#28): votes and promises are durable before they are sent."""
    h = Harness(3, seed=7)
    rng = random.Random(7)
    for step in range(300):
        r = rng.choice(h.ids)
        if h.replicas[r] is None:
            h.restart(r)
        elif rng.random() < 0.05:
            h.crash(r)
        elif rng.random() < 0.3:
            h.propose(r, set_cmd(r, rng.choice("abc")))
        if h.wire:
            e = rng.choice(h.wire)
            h.wire.remove(e)
            rep = h.replicas[e.dst]
            if rep is not None and rng.random() > 0.1:
                rep.step(e.msg)
                h.process(e.dst)
        if step % 5 == 0:
            h.tick()
    assert_votes_durable(h, h.history)
    h.assert_agreement()


def test_p23_every_replica_holds_the_payload_of_every_committed_instance() -> None:
    """P23: Commits always carry the batch, so nobody ends up with a payload-less commit."""
    h = Harness(5)
    for r in h.ids:
        h.propose(r, set_cmd(r, "k"), get_cmd(r, "k"))
    settle(h, 20)
    for r in h.ids:
        for x in h.replica(r).instances.values():
            assert x.status >= Status.COMMITTED and x.cmds is not None


def test_p24_recovery_after_asymmetric_preaccept_loss_keeps_visibility() -> None:
    """P24 (efficient/epaxos#29): recovery groups replies instead of trusting local state."""
    h = Harness(5)
    h.propose(5, set_cmd(5, "k", "d"))
    h.drop(lambda e: isinstance(e.msg, PreAccept) and e.dst != 4)
    h.deliver(to(4, PreAccept))
    h.wire.clear()
    h.propose(1, set_cmd(1, "k", "g"))
    h.drop(to(5, PreAccept))
    h.deliver(of(PreAccept))
    h.wire.clear()
    h.crash(1)
    h.recover(2, I(1, 0))
    settle(h)
    h.restart(1)
    settle(h)
    h.assert_agreement()
    assert_visibility(h)
    assert len(h.committed(I(1, 0))) == 5 and len(h.committed(I(5, 0))) == 5


def test_p27_a_duplicate_preaccept_gets_the_same_vote_back() -> None:
    """P27: a PreAccept redelivered after a conflicting one is answered from the stored vote."""
    h = Harness(3)
    h.propose(1, set_cmd(1, "k"))
    first = next(e for e in h.wire if isinstance(e.msg, PreAccept) and e.dst == 2)
    h.deliver(lambda e: e is first)
    vote1 = [e.msg for e in h.wire if isinstance(e.msg, PreAcceptReply)][-1]
    h.wire.clear()
    h.propose(3, set_cmd(3, "k"))
    h.deliver(to(2, PreAccept))
    h.wire.clear()
    put_back(h, [first])
    h.deliver(lambda e: e is first)
    vote2 = [e.msg for e in h.wire if isinstance(e.msg, PreAcceptReply) and e.dst == 1][-1]
    assert vote2 == vote1

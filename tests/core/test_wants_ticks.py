"""``Replica.wants_ticks``: whether anything at this replica waits on the clock.

The runtime slows an idle replica's ticks down when this is false, so a
false "idle" would leave a timer — a retransmit, a recovery, a catch-up —
running ten times slower. Each case below is one reason to want ticks.
"""

from __future__ import annotations

from protocol.messages import InstanceId, PreAccept

from .harness import Envelope, Harness, get_cmd, set_cmd


def is_pre_accept(e: Envelope) -> bool:
    return isinstance(e.msg, PreAccept)


def test_a_settled_cluster_wants_no_ticks() -> None:
    h = Harness(3)
    h.propose(1, set_cmd(1, "a"))
    h.propose(2, get_cmd(2, "a"))
    h.stabilize()
    assert not any(h.replica(r).wants_ticks() for r in h.ids)


def test_a_leader_wants_ticks_until_its_instance_commits() -> None:
    h = Harness(3)
    h.propose(1, set_cmd(1, "a"))
    assert h.replica(1).wants_ticks()  # it may have to retransmit
    h.stabilize()
    assert not h.replica(1).wants_ticks()


def test_a_voter_wants_ticks_while_the_instance_it_voted_for_is_uncommitted() -> None:
    """Its leader may have gone quiet: the voter's recovery timer runs on ticks."""
    h = Harness(3)
    h.propose(1, set_cmd(1, "a"))
    h.deliver(is_pre_accept)  # the voters vote; their replies stay on the wire
    assert h.replica(2).wants_ticks() and h.replica(3).wants_ticks()
    h.crash(1)
    assert h.replica(2).wants_ticks()
    h.stabilize(tick_every=1)  # the voters' timers fire: recovery commits the instance
    assert h.record(2, InstanceId(1, 0)) is not None
    assert not h.replica(2).wants_ticks() and not h.replica(3).wants_ticks()


def test_queued_proposals_want_ticks() -> None:
    h = Harness(3, inflight_max=1)
    h.replica(1).propose([set_cmd(1, "a")])  # not yet an instance: no ready() so far
    assert h.replica(1).wants_ticks()


def test_a_replica_that_knows_of_commits_it_lacks_wants_ticks() -> None:
    """Commits it missed (say, while partitioned) are fetched by the periodic sync."""
    h = Harness(3)
    h.crash(3)
    h.propose(1, set_cmd(1, "a"))
    h.stabilize()
    h.restart(3)
    h.propose(1, set_cmd(1, "b"))
    h.deliver(lambda e: e.dst == 3 and is_pre_accept(e))  # 3 learns of instance 1, not of 0
    assert h.replica(3).wants_ticks()
    h.stabilize(tick_every=1)
    assert not h.replica(3).wants_ticks()


def test_a_replica_still_loading_wants_ticks() -> None:
    """Loading ends with peers' sync replies, which the periodic sync asks for."""
    h = Harness(3)
    h.crash(2)
    h.restart(2)  # restarting: it loads until a peer has told it what is committed
    h.drop(lambda e: e.dst == 2)
    assert h.replica(2).loading and h.replica(2).wants_ticks()
    h.stabilize(tick_every=1)
    assert not h.replica(2).loading and not h.replica(2).wants_ticks()


def test_an_execution_blocked_on_an_instance_never_seen_wants_ticks() -> None:
    """Replica 3 commits 2.0, which depends on 1.0 — an instance 3 has never heard of,
    known only as a number in a deps vector. Its recovery timer runs on ticks."""
    h = Harness(3)
    h.propose(1, set_cmd(1, "a"))
    h.drop(lambda e: e.src == 1 and e.dst == 3)
    h.deliver(lambda e: e.src == 1 and e.dst == 2)  # 2 votes for 1.0: it knows it
    h.drop(lambda e: e.dst == 1)  # 1's replies never come back; 1 stays in the dark
    h.propose(2, set_cmd(2, "a"))  # 2.0 depends on 1.0
    h.deliver(lambda e: e.src == 2 and e.dst == 3)  # 3 votes for 2.0
    h.deliver(lambda e: e.src == 3 and e.dst == 2)  # 2 commits on the fast path
    h.drop(lambda e: e.dst == 1)
    h.deliver(lambda e: e.src == 2 and e.dst == 3)  # 3 learns the commit
    three = h.replica(3)
    assert h.record(3, InstanceId(1, 0)) is None and three.executed_watermarks[0] == -1
    assert three.wants_ticks()
    h.stabilize(tick_every=1)
    assert not any(h.replica(r).wants_ticks() for r in h.ids)


"""Catch-up of a replica that was cut off while the others kept committing."""

from __future__ import annotations

from protocol.messages import Command, Heartbeat
from tests.core.harness import Envelope, Harness, of, set_cmd


def _touches_3(e: Envelope) -> bool:
    return e.src == 3 or e.dst == 3


def _write_while_3_is_cut_off(h: Harness, count: int) -> list[Command]:
    cmds = [set_cmd(1, f"k{i}") for i in range(count)]
    for c in cmds:
        h.propose(1, c)
        for _ in range(50):
            h.drop(_touches_3)
            if not h.deliver():
                break
    return cmds


def test_a_replica_cut_off_while_others_wrote_catches_up_from_heartbeats_alone() -> None:
    """No new traffic after the partition heals: nothing names the missed
    instances but the peers' heartbeats (their executed watermarks), and those
    alone must bring the replica up to date."""
    h = Harness(3, gc_interval_ticks=4, sync_interval_ticks=3)
    cmds = _write_while_3_is_cut_off(h, 5)
    assert h.executed[3] == []
    assert [c for _, c in h.executed[2]] == cmds
    # The partition heals. Only ticks from here: heartbeats, periodic syncs.
    h.stabilize(rounds=200, tick_every=2)
    assert [c for _, c in h.executed[3]] == cmds


def test_heartbeats_do_not_raise_what_a_replica_knows_of_its_own_row() -> None:
    """Only the owner creates instances of its row: a peer's report above the
    owner's log means a stale data directory, which the handshake refuses; the
    core must not start syncing its own row from it."""
    h = Harness(3)
    rep = h.replica(1)
    rep.step(Heartbeat(2, (7, -1, -1)))
    assert rep.highest_known(1) == -1
    rep.step(Heartbeat(2, (-1, 5, -1)))
    assert rep.highest_known(2) == 5
    assert rep.wants_ticks()


def test_heartbeats_are_what_the_catch_up_waits_for() -> None:
    """Without heartbeats (none sent) the cut-off replica has no way to learn of
    the missed instances, which shows the first test depends on them."""
    h = Harness(3, gc_interval_ticks=10**9, sync_interval_ticks=3)
    _write_while_3_is_cut_off(h, 3)
    h.stabilize(rounds=200, tick_every=2)
    assert h.executed[3] == []
    assert not h.drop(of(Heartbeat))

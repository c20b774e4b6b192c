"""Large values never make a peer message outgrow the frame limit.

A batch is bounded by argument bytes as well as by count, and so is a
SyncReply; either always carries at least one item, so a single command larger
than the budget still goes through (alone).
"""

from __future__ import annotations

import pytest

from protocol.messages import InstanceId, PreAccept, SyncReply, payload_bytes
from tests.core.harness import Harness, set_cmd

VALUE = "v" * 60


def test_proposals_are_batched_by_bytes_and_a_large_command_goes_alone() -> None:
    h = Harness(3, batch_bytes_max=100, inflight_max=16)
    small = [set_cmd(1, f"s{i}", "x") for i in range(4)]
    large = [set_cmd(1, f"l{i}", VALUE) for i in range(3)]
    huge = set_cmd(1, "h", "v" * 500)
    h.propose(1, *small, *large, huge)
    batches = [e.msg.cmds for e in h.wire if isinstance(e.msg, PreAccept) and e.dst == 2]
    assert batches == [(*small, large[0]), (large[1],), (large[2],), (huge,)]
    assert all(payload_bytes(b) <= 100 for b in batches[:-1])
    h.stabilize()
    for i in range(4):
        assert set(h.committed(InstanceId(1, i))) == {1, 2, 3}


@pytest.mark.parametrize(("budget", "most"), [(100, 1), (130, 2), (10, 1)])
def test_a_sync_reply_is_bounded_by_bytes_and_catch_up_still_completes(
    budget: int, most: int
) -> None:
    """A reply holds the commits that fit in ``sync_bytes_max``, and always one: with one
    more large instance than fits it could outgrow the peer frame limit (a QA run's
    1 GB transaction: peers closed the connection on every try)."""
    h = Harness(3, sync_bytes_max=budget)
    first = set_cmd(3, "before")
    h.propose(3, first)  # something on disk: replica 3 restarts, rather than joining anew
    h.stabilize()
    h.crash(3)
    cmds = [set_cmd(1, f"k{i}", VALUE) for i in range(6)]
    for c in cmds:
        h.propose(1, c)
        h.stabilize()
    h.restart(3)
    h.stabilize(rounds=500, tick_every=5)
    replies = [e.msg for e in h.history if isinstance(e.msg, SyncReply) and e.dst == 3]
    carried = [len(m.commits) for m in replies if m.commits]
    assert carried and max(carried) == most  # each command carries 60 bytes
    assert any(m.more for m in replies)
    assert [c for _, c in h.executed[3]] == [first, *cmds]

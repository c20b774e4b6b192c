"""A replica whose process was stopped (SIGSTOP, a frozen machine) for long enough that
its peers may have left it behind loads again before serving (``Replica.catch_up_again``).

The loop learns of the stop from its ticker (time jumped); these drive the turn's check
directly with the length of the stop.
"""

from __future__ import annotations

import random
import time

import pytest

from epaxosdb import commands
from epaxosdb.core.config import ReplicaConfig
from epaxosdb.core.replica import Replica
from epaxosdb.runtime.loop import LOADING, ConsensusLoop
from protocol.messages import SyncReply
from protocol.replies import Reply
from storage.memory import MemoryStore

TICK_S = 0.01
LEAVE_BEHIND_TICKS = 100  # one second


def serving_replica(leave_behind_ticks: int = LEAVE_BEHIND_TICKS) -> Replica:
    """Replica 1 of three, past its start-up loading."""
    config = ReplicaConfig(1, (1, 2, 3), leave_behind_ticks=leave_behind_ticks)
    core = Replica(config, rng=random.Random(3), access=commands.command_access)
    core.step(SyncReply(2, (-1, -1, -1), (), False))
    core.advance(core.ready())
    assert not core.loading
    return core


@pytest.mark.parametrize(
    ("paused_s", "leave_behind_ticks", "loads"),
    [
        (0.6, LEAVE_BEHIND_TICKS, True),  # over half the time peers wait before leaving it
        (0.4, LEAVE_BEHIND_TICKS, False),  # a hiccup: it serves on
        (3600.0, 0, False),  # leaving behind is off: nobody deleted anything it lacks
    ],
)
def test_a_long_stop_makes_the_replica_load_again(
    paused_s: float, leave_behind_ticks: int, loads: bool
) -> None:
    core = serving_replica(leave_behind_ticks)
    loop = ConsensusLoop(
        core, MemoryStore(), incarnation=1, send=lambda dst, msg: None, tick_interval_s=TICK_S
    )
    loop._paused_s = paused_s
    loop._after_pause(core)
    assert core.loading is loads
    assert loop._paused_s == 0.0
    if loads:
        asked = {dst for dst, _ in core.ready().messages}
        assert asked == {2, 3}, "it asks every peer for its word"


def test_a_proposal_right_after_a_long_stop_is_refused_until_the_replica_has_loaded() -> None:
    """The stop is seen by whoever runs first after it — here a blocked client's retry,
    before the ticker or a turn: it gets -LOADING (it keeps waiting), and the next turn
    makes the core load (QA: retries proposed in that moment popped what a rebuild then
    orphaned)."""
    core = serving_replica()
    loop = ConsensusLoop(
        core, MemoryStore(), incarnation=1, send=lambda dst, msg: None, tick_interval_s=TICK_S
    )
    replies: list[Reply] = []
    loop._alive_at = time.monotonic() - 0.8  # the process did not run for 0.8 s
    loop.submit(loop.stamp(((b"LPOP", b"jobs"),), 1_700_000_000_000), replies.append)
    assert replies == [LOADING]
    assert not core.loading, "the core is fed only in a turn"
    loop._after_pause(core)
    assert core.loading


def test_a_short_gap_is_no_stop() -> None:
    core = serving_replica()
    loop = ConsensusLoop(
        core, MemoryStore(), incarnation=1, send=lambda dst, msg: None, tick_interval_s=TICK_S
    )
    loop._alive_at = time.monotonic() - 0.3
    loop.submit(loop.stamp(((b"LPOP", b"jobs"),), 1_700_000_000_000), lambda reply: None)
    assert loop._paused_s == 0.0 and not loop._reload_due()

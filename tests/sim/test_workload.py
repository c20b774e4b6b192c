"""The simulated clients' bookkeeping, which the liveness verdict relies on."""

from __future__ import annotations

import random

from epaxosdb.sim.workload import Workload, WorkloadProfile


def test_a_command_issued_after_healing_stays_outstanding_until_it_completes() -> None:
    """The liveness phase waits for ``outstanding == 0``; that only means "every command
    issued after healing completed" if such commands never time out client-side, while
    those issued during the faults still do. (Seed 3301 failed when a command issued in
    the healing step was counted as issued after it.)"""
    w = Workload(WorkloadProfile(clients=1, keys=1, timeout_ticks=5), random.Random(1))
    assert len(w.due(10, [1])) == 1  # issued in the last fault step: times out at 15
    w.healed_at = 10
    w.on_time(15)
    assert (w.stats.timed_out, w.outstanding) == (1, 0)
    assert len(w.due(16, [1])) == 1
    w.on_time(10**6)
    assert (w.stats.timed_out, w.outstanding) == (1, 1)


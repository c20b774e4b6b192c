"""The expiry sweeper: expired keys leave through replicated DELEXPIRED commands.

Run with the real loop and a single-replica core on a mock clock that moves only
when the test moves it: the sweeper's commits run in worker threads, in real
time, and an autojump clock would race ahead (to the sweeper's own timeout)
while they do.
"""

from __future__ import annotations

import time

import trio
import trio.testing

from epaxosdb.runtime.loop import SWEEP_INTERVAL_S, SWEEP_KEYS_MAX, ConsensusLoop
from storage.interface import Value, ValueType
from storage.memory import MemoryStore
from tests.runtime.test_idle_ticks import TICK_S, single_replica


def keys_left(loop: ConsensusLoop) -> int:
    """INFO keyspace's key count: the store plus effects not yet written to it."""
    fields = dict(loop.info_sections()["Keyspace"])
    return int(fields["db0"].split(",")[0].removeprefix("keys=")) if fields else 0


async def test_a_full_sweep_batch_is_followed_by_the_next_without_waiting_an_interval(
    mock_clock: trio.testing.MockClock,
) -> None:
    """Keys expiring by the thousand leave in one interval, not one batch per interval
    (256 a second left 137,000 expired keys around for nine minutes, each deleted by
    whichever command met it first — a keyspace-wide read took all at once, for 2 s)."""
    store = MemoryStore()
    expired = 4 * SWEEP_KEYS_MAX + 17
    store.write(
        lambda txn: [
            txn.put(b"gone:%d" % i, Value(ValueType.STRING, 1_000, b"v")) for i in range(expired)
        ]
    )
    store.write(lambda txn: txn.put(b"kept", Value(ValueType.STRING, 0, b"v")))
    loop = ConsensusLoop(
        single_replica(), store, incarnation=1, send=lambda dst, msg: None, tick_interval_s=TICK_S
    )
    async with trio.open_nursery() as nursery:
        nursery.start_soon(loop.run)
        nursery.start_soon(loop.run_sweeper)
        await trio.testing.wait_all_tasks_blocked()
        assert keys_left(loop) == expired + 1
        mock_clock.jump(SWEEP_INTERVAL_S)  # one interval, and the clock stays there
        deadline = time.monotonic() + 10.0
        while keys_left(loop) > 1 and time.monotonic() < deadline:
            await trio.to_thread.run_sync(time.sleep, 0.01)
        left = keys_left(loop)
        nursery.cancel_scope.cancel()
    assert left == 1

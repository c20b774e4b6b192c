"""An idle replica ticks slowly; work brings full-rate ticks back at once.

Ticks wake the whole trio process, and at the default 10 ms they were most
of what an idle replica spent its CPU on. The loop's ticker therefore
sleeps ``IDLE_TICK_EVERY`` intervals at a time while ``Replica.wants_ticks``
is false and no command waits for its reply, and the loop cuts that sleep
short as soon as a turn leaves the core with something on the clock. These
run the real loop and ticker on trio's autojump clock, so "ten virtual
seconds" cost nothing and the counts are exact.
"""

from __future__ import annotations

import random
import time

import trio

from epaxosdb import commands
from epaxosdb.core.config import ReplicaConfig
from epaxosdb.core.replica import Replica
from epaxosdb.runtime.loop import (
    IDLE_AFTER_TICKS,
    IDLE_FLUSH_AFTER_TICKS,
    IDLE_TICK_EVERY,
    ConsensusLoop,
)
from protocol.messages import Ballot, Command, InstanceId, PreAccept, SyncReply
from protocol.replies import Reply
from storage.memory import MemoryStore

TICK_S = 0.01


def loop_over(core: Replica) -> ConsensusLoop:
    return ConsensusLoop(
        core, MemoryStore(), incarnation=1, send=lambda dst, msg: None, tick_interval_s=TICK_S
    )


def single_replica() -> Replica:
    return Replica(ReplicaConfig(1, (1,)), rng=random.Random(1), access=commands.command_access)


def isolated_replica() -> Replica:
    """Replica 1 of three whose messages go nowhere: nothing it proposes can commit."""
    core = Replica(
        ReplicaConfig(1, (1, 2, 3)), rng=random.Random(7), access=commands.command_access
    )
    core.step(SyncReply(2, (-1, -1, -1), (), False))
    core.advance(core.ready())
    assert not core.loading
    return core


def submit_set(loop: ConsensusLoop, replies: list[Reply]) -> None:
    loop.submit(loop.stamp(((b"SET", b"k", b"v"),), 1_700_000_000_000), replies.append)


def ticks(loop: ConsensusLoop) -> int:
    """Ticks the ticker has delivered (INFO ``loop_ticks``).

    Counted at the ticker, not as ``core.now``: under the autojump clock,
    virtual time runs on while the loop waits for its worker thread, and the
    ticks of that time reach the core only when the turn ends."""
    return int(dict(loop.info_sections()["EPaxos"])["loop_ticks"])


FULL_RATE = 1.0 / TICK_S
"""Ticks per second at the configured interval."""


async def test_an_idle_replica_ticks_a_tenth_as_often_after_a_tenth_of_a_second(
    autojump_clock: trio.abc.Clock,
) -> None:
    assert (IDLE_TICK_EVERY, IDLE_AFTER_TICKS) == (10, 10)
    core = single_replica()
    loop = loop_over(core)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(loop.run)
        nursery.start_soon(loop.run_ticker)
        await trio.sleep(1.0 + TICK_S / 2)  # between two ticks, never on one
        first = ticks(loop)
        await trio.sleep(10.0)
        then = ticks(loop) - first
        nursery.cancel_scope.cancel()
    assert not core.wants_ticks()
    # Full rate for the first IDLE_AFTER_TICKS quiet ticks (+1: the decision comes
    # after the tick), then one every IDLE_TICK_EVERY intervals.
    assert first == 11 + (1.0 - 11 * TICK_S) // (TICK_S * 10)
    assert then == 10.0 * FULL_RATE / 10


async def test_a_command_waiting_for_a_quorum_ticks_at_full_rate_from_its_submission(
    autojump_clock: trio.abc.Clock,
) -> None:
    core = isolated_replica()
    loop = loop_over(core)
    replies: list[Reply] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(loop.run)
        nursery.start_soon(loop.run_ticker)
        await trio.sleep(0.55)  # mid-way through an idle sleep
        assert loop.ticker_idle
        before = ticks(loop)
        submit_set(loop, replies)
        await trio.sleep(1.0 + TICK_S / 2)
        during = ticks(loop) - before
        nursery.cancel_scope.cancel()
    assert replies == []  # no quorum: it is still waiting, and so is the clock
    assert core.wants_ticks()
    # A tick every interval from the submission on: the idle sleep was cut short.
    assert during == FULL_RATE


async def test_a_peer_message_that_starts_work_ends_the_idle_sleep(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A PreAccept from a peer makes this replica watch the instance for its
    leader going quiet: full-rate ticks are back within one idle interval (the
    turn that votes ends the sleep; how soon after the delivery that is, in
    virtual time, depends on the worker thread the turn commits in)."""
    core = isolated_replica()
    loop = loop_over(core)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(loop.run)
        nursery.start_soon(loop.run_ticker)
        await trio.sleep(0.55)
        assert not core.wants_ticks() and loop.ticker_idle
        before = ticks(loop)
        cmd = Command(2, 1, 1_700_000_000_000, ((b"SET", b"k", b"v"),))
        loop.deliver(PreAccept(2, InstanceId(2, 0), Ballot.initial(2), (cmd,), 0, (-1, -1, -1)))
        await trio.sleep(1.0 + TICK_S / 2)
        during = ticks(loop) - before
        nursery.cancel_scope.cancel()
    assert core.wants_ticks()
    assert during >= FULL_RATE - 10  # at most one idle interval before full rate


async def test_a_replica_goes_back_to_slow_ticks_once_its_work_is_done(
    autojump_clock: trio.abc.Clock,
) -> None:
    core = single_replica()
    loop = loop_over(core)
    replies: list[Reply] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(loop.run)
        nursery.start_soon(loop.run_ticker)
        await trio.sleep(1.0)
        submit_set(loop, replies)
        for _ in range(1000):  # virtual time runs on while the turn commits in a thread
            if replies:
                break
            await trio.sleep(TICK_S)
        assert len(replies) == 1
        before = ticks(loop)
        await trio.sleep(10.0)
        after = ticks(loop)
        nursery.cancel_scope.cancel()
    assert after - before <= IDLE_AFTER_TICKS + 1 + 10.0 * FULL_RATE / 10


def flushes(loop: ConsensusLoop) -> int:
    return int(dict(loop.info_sections()["EPaxos"])["loop_flushes"])


def deferred(loop: ConsensusLoop) -> int:
    """Key writes executed but not yet given to a transaction (INFO ``deferred_writes``)."""
    return int(dict(loop.info_sections()["EPaxos"])["deferred_writes"])


def stored(store: MemoryStore, key: bytes) -> bytes | None:
    value = store.read(lambda kv: kv.get(key))
    return None if value is None else value.payload


async def test_deferred_writes_are_flushed_once_the_replica_has_been_quiet_for_a_few_ticks(
    autojump_clock: trio.abc.Clock,
) -> None:
    """Key-value effects wait in memory while commands keep coming (the log is
    what makes them durable) and reach the store when the load pauses: after
    ``IDLE_FLUSH_AFTER_TICKS`` quiet ticks, not at the first turn that happens
    to execute nothing."""
    assert IDLE_FLUSH_AFTER_TICKS == 3
    store = MemoryStore()
    loop = ConsensusLoop(
        single_replica(), store, incarnation=1, send=lambda dst, msg: None, tick_interval_s=TICK_S
    )
    replies: list[Reply] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(loop.run)
        nursery.start_soon(loop.run_ticker)
        await trio.sleep(0.5 + TICK_S / 2)  # idle for long: the ticker is in its slow sleep
        for _ in range(20):  # a command every tick: never quiet
            submit_set(loop, replies)
            await trio.sleep(TICK_S)
        assert len(replies) == 20 and flushes(loop) == 0
        assert stored(store, b"k") is None  # executed, answered, not yet in the store
        await trio.sleep(2 * TICK_S)
        assert deferred(loop) == 1 and flushes(loop) == 0
        await trio.sleep((IDLE_FLUSH_AFTER_TICKS + 1) * TICK_S)
        assert deferred(loop) == 0  # handed to this turn's transaction
        # The flush commits in a worker thread: wait for it in real time (bounded).
        for _ in range(500):
            if flushes(loop):
                break
            await trio.to_thread.run_sync(time.sleep, 0.01)
        assert flushes(loop) == 1
        assert stored(store, b"k") == b"v"
        nursery.cancel_scope.cancel()

"""A command that cannot execute in time is answered UNCERTAIN, oldest first, exactly once.

The loop keeps no per-command deadline queue: every command gets the same
timeout, so its table of waiting commands, in submission order, is also in
deadline order. These run the real loop task and ticker over a core whose
peers never answer (nothing can commit), on a short timeout.
"""

from __future__ import annotations

import random
import time

import trio

from epaxosdb import commands
from epaxosdb.core.config import ReplicaConfig
from epaxosdb.core.replica import Replica
from epaxosdb.runtime.loop import ConsensusLoop
from protocol.messages import SyncReply
from protocol.replies import Error, Reply
from storage.memory import MemoryStore

TIMEOUT_S = 0.3
TICK_S = 0.01


def isolated_loop() -> ConsensusLoop:
    """Replica 1 of three whose messages go nowhere: no command of it can commit.

    A peer's sync reply ("nothing committed anywhere") ends its loading, as
    when a fresh cluster starts, so that it accepts commands."""
    core = Replica(
        ReplicaConfig(1, (1, 2, 3)), rng=random.Random(7), access=commands.command_access
    )
    core.step(SyncReply(2, (-1, -1, -1), (), False))
    core.advance(core.ready())
    assert not core.loading
    return ConsensusLoop(
        core,
        MemoryStore(),
        incarnation=1,
        send=lambda dst, msg: None,
        tick_interval_s=TICK_S,
        command_timeout_s=TIMEOUT_S,
    )


async def test_commands_past_their_deadline_get_uncertain_in_order_and_later_ones_wait() -> None:
    loop = isolated_loop()
    replies: list[tuple[int, float, Reply]] = []
    submitted: dict[int, float] = {}
    three, four = trio.Event(), trio.Event()

    def submit(n: int) -> None:
        def done(reply: Reply) -> None:
            replies.append((n, time.monotonic() - submitted[n], reply))
            if len(replies) == 3:
                three.set()
            if len(replies) == 4:
                four.set()

        submitted[n] = time.monotonic()
        loop.submit(loop.stamp(((b"SET", b"k%d" % n, b"v"),), 1_700_000_000_000), done)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(loop.run)
        nursery.start_soon(loop.run_ticker)
        for n in range(3):
            submit(n)
        await trio.sleep(TIMEOUT_S / 2)
        assert replies == []  # nobody is told "unknown" before the deadline
        submit(3)
        with trio.fail_after(10 * TIMEOUT_S):
            await three.wait()
        assert [n for n, _, _ in replies] == [0, 1, 2]
        assert dict(loop.info_sections()["EPaxos"])["commands_in_flight"] == 1
        with trio.fail_after(10 * TIMEOUT_S):
            await four.wait()
        await trio.sleep(3 * TICK_S)  # more ticks: nothing is answered twice
        nursery.cancel_scope.cancel()

    assert [n for n, _, _ in replies] == [0, 1, 2, 3]
    for _, waited, reply in replies:
        assert waited >= TIMEOUT_S
        assert isinstance(reply, Error) and reply.text.startswith("UNCERTAIN outcome unknown")
    fields = dict(loop.info_sections()["EPaxos"])
    assert fields["uncertain_replies"] == 4 and fields["commands_in_flight"] == 0


async def test_a_read_past_its_deadline_is_told_it_changed_nothing() -> None:
    """A read cannot "still take effect": its UNCERTAIN says to retry it instead (a QA
    run met the write's wording on an MGET that waited behind a huge MSET)."""
    loop = isolated_loop()
    replies: list[Reply] = []
    both = trio.Event()

    def done(reply: Reply) -> None:
        replies.append(reply)
        if len(replies) == 2:
            both.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(loop.run)
        nursery.start_soon(loop.run_ticker)
        loop.submit(loop.stamp(((b"MGET", b"a", b"b"),), 1_700_000_000_000), done)
        loop.submit(loop.stamp(((b"INCR", b"a"),), 1_700_000_000_000), done)
        with trio.fail_after(10 * TIMEOUT_S):
            await both.wait()
        nursery.cancel_scope.cancel()
    read, write = replies
    assert isinstance(read, Error) and read.code == "UNCERTAIN"
    assert "changed nothing: retry it" in read.text and "may still take effect" not in read.text
    assert isinstance(write, Error) and write.text.endswith("it may still take effect")

"""A command that cannot execute in time is answered UNCERTAIN, oldest first, exactly once.

The loop keeps no per-command deadline queue: every command gets the same
timeout, so its table of waiting commands, in submission order, is also in
deadline order. These run the real loop task and ticker over a core whose
peers never answer (nothing can commit), on a short timeout.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import trio

from epaxosdb import commands
from epaxosdb.core.config import ReplicaConfig
from epaxosdb.core.replica import Replica
from epaxosdb.runtime.blocking import BlockedClients
from epaxosdb.runtime.loop import ConsensusLoop
from protocol.messages import SyncReply
from protocol.replies import Error, Reply
from storage.memory import MemoryStore

TIMEOUT_S = 0.3
TICK_S = 0.01


def isolated_loop(replicas: int = 3, blocked: BlockedClients | None = None) -> ConsensusLoop:
    """Replica 1 of ``replicas`` whose messages go nowhere: no command of it can commit.

    Sync replies from a majority's other members ("nothing committed anywhere") end its
    loading, as when a fresh cluster starts, so that it accepts commands."""
    ids = tuple(range(1, replicas + 1))
    core = Replica(ReplicaConfig(1, ids), rng=random.Random(7), access=commands.command_access)
    for peer in ids[1 : 1 + (replicas - 1) // 2]:
        core.step(SyncReply(peer, (-1,) * replicas, (), False))
    core.advance(core.ready())
    assert not core.loading
    return ConsensusLoop(
        core,
        MemoryStore(),
        incarnation=1,
        send=lambda dst, msg: None,
        tick_interval_s=TICK_S,
        command_timeout_s=TIMEOUT_S,
        blocked=blocked,
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


async def test_a_command_answered_uncertain_that_executes_later_reaches_its_late_callback() -> None:
    """What lets a blocking pop put back what an attempt popped after its client was told
    "outcome unknown" (a QA run saw the element vanish once quorum came back)."""
    connected = False
    loops: dict[int, ConsensusLoop] = {}

    def send_from(src: int) -> Callable[[int, object], None]:
        def send(dst: int, msg: object) -> None:
            if connected:
                loops[dst].deliver(msg)  # type: ignore[arg-type]

        return send

    for me in (1, 2, 3):
        core = Replica(
            ReplicaConfig(me, (1, 2, 3)), rng=random.Random(me), access=commands.command_access
        )
        core.step(SyncReply(1 + me % 3, (-1, -1, -1), (), False))
        core.advance(core.ready())
        loops[me] = ConsensusLoop(
            core,
            MemoryStore(),
            incarnation=1,
            send=send_from(me),
            tick_interval_s=TICK_S,
            command_timeout_s=TIMEOUT_S,
        )
    done: list[Reply] = []
    late: list[Reply] = []
    got_done, got_late = trio.Event(), trio.Event()

    def on_done(reply: Reply) -> None:
        done.append(reply)
        got_done.set()

    def on_late(reply: Reply) -> None:
        late.append(reply)
        got_late.set()

    async with trio.open_nursery() as nursery:
        for loop in loops.values():
            nursery.start_soon(loop.run)
            nursery.start_soon(loop.run_ticker)
        cmd = loops[1].stamp(((b"INCR", b"n"),), 1_700_000_000_000)
        loops[1].submit(cmd, on_done, on_late)
        with trio.fail_after(10 * TIMEOUT_S):
            await got_done.wait()
        assert late == []
        connected = True
        with trio.fail_after(60):
            await got_late.wait()
        nursery.cancel_scope.cancel()
    assert isinstance(done[0], Error) and done[0].code == "UNCERTAIN"
    assert late == [1]

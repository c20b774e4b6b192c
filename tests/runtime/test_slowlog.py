"""SLOWLOG: which commands are logged, how long they took, and what an entry keeps.

The log itself (Redis's limits on arguments and entries), op-by-op timing in
``node`` with a scripted clock (a pipelined run or MULTI is logged per op, as
Redis logs each command), and the real consensus loop naming the client. The
wire format and error texts are compared with redis-server in
``tests/integration/test_slowlog_wire.py``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

import trio

from epaxosdb import commands
from epaxosdb.core.config import ReplicaConfig
from epaxosdb.core.replica import Replica
from epaxosdb.node import Stopwatch, prepare_ready
from epaxosdb.runtime.loop import ConsensusLoop
from epaxosdb.runtime.slowlog import ARG_BYTES_MAX, ARGS_MAX, SlowLog, logged_args
from protocol.messages import Command
from protocol.replies import OK, Reply
from storage.memory import MemoryStore

NOW_MS = 1_700_000_000_000


def test_an_entry_keeps_32_arguments_the_last_counting_the_rest() -> None:
    args = [b"RPUSH", b"k", *(b"%d" % i for i in range(40))]
    kept = logged_args(args)
    assert len(kept) == ARGS_MAX
    assert kept[:31] == tuple(args[:31])
    assert kept[-1] == b"... (11 more arguments)"
    assert logged_args(args[:32]) == tuple(args[:32]), "32 arguments fit whole"


def test_an_entry_cuts_a_long_argument_to_128_bytes_and_says_how_many_more() -> None:
    value = b"x" * 200
    assert logged_args([b"SET", b"k", value]) == (
        b"SET", b"k", b"x" * ARG_BYTES_MAX + b"... (72 more bytes)",
    )  # fmt: skip
    assert logged_args([b"SET", b"k", b"y" * 128])[2] == b"y" * 128


def test_the_log_keeps_the_newest_entries_up_to_its_length() -> None:
    log = SlowLog(threshold_us=0, max_len=3)
    for i in range(5):
        log.add([b"GET", b"k%d" % i], 0.001 * i, "127.0.0.1:1", b"", 1000 + i)
    assert len(log) == 3
    assert [e.id for e in log.latest(-1)] == [4, 3, 2]
    assert [e.args[1] for e in log.latest(2)] == [b"k4", b"k3"]
    assert log.latest(10)[0].duration_us == 4000
    log.max_len = 1  # takes effect at the next entry, as in Redis
    assert len(log) == 3
    log.add([b"GET", b"k5"], 0.0, "127.0.0.1:1", b"", 1005)
    assert [e.id for e in log.latest(-1)] == [5]
    log.reset()
    assert len(log) == 0


def test_the_threshold_is_inclusive_zero_logs_everything_and_negative_nothing() -> None:
    assert SlowLog(threshold_us=0).slow(0.0)
    assert SlowLog(threshold_us=10_000).slow(0.010)
    assert not SlowLog(threshold_us=10_000).slow(0.009_999)
    assert not SlowLog(threshold_us=-1).slow(3600.0)
    assert SlowLog(threshold_us=-1).threshold_s() < 0


def scripted_clock(times: list[float]) -> Iterator[float]:
    yield from times


def one_step_core() -> Replica:
    return Replica(ReplicaConfig(1, (1,)), rng=random.Random(1), access=commands.command_access)


def executed_with(cmd: Command, clock_times: list[float], threshold_s: float) -> list[object]:
    core = one_step_core()
    core.propose([cmd])
    ready = core.ready()
    ticks = scripted_clock(clock_times)
    watch = Stopwatch(lambda: next(ticks), lambda: threshold_s)
    prepared = prepare_ready(MemoryStore(), ready, 1, stopwatch=watch)
    assert prepared is not None
    return [(c.id, index, round(seconds, 6)) for c, index, seconds in prepared.outbox.slow]


def test_a_pipelined_run_is_timed_op_by_op_and_only_the_slow_op_is_logged() -> None:
    cmd = Command(1, 7, NOW_MS, ((b"SET", b"a", b"1"), (b"INCR", b"n"), (b"GET", b"a")), True)
    # started, after op 0, after op 1 (the slow one), after op 2
    slow = executed_with(cmd, [10.0, 10.001, 10.051, 10.052], threshold_s=0.01)
    assert slow == [(7, 1, 0.05)]


def test_a_single_command_is_timed_whole() -> None:
    cmd = Command(1, 8, NOW_MS, ((b"SET", b"a", b"1"),), False)
    assert executed_with(cmd, [5.0, 5.02], threshold_s=0.01) == [(8, 0, 0.02)]
    assert executed_with(cmd, [5.0, 5.002], threshold_s=0.01) == []


def test_without_a_stopwatch_nothing_is_timed() -> None:
    core = one_step_core()
    core.propose([Command(1, 9, NOW_MS, ((b"SET", b"a", b"1"),), False)])
    prepared = prepare_ready(MemoryStore(), core.ready(), 1)
    assert prepared is not None and prepared.outbox.slow == []


@dataclass
class FakeClient:
    addr: str = "127.0.0.1:4242"
    name: bytes = b"worker-7"
    script_guard: None = None


async def run_through_loop(slowlog: SlowLog, cmd: Command, client: FakeClient | None) -> Reply:
    loop = ConsensusLoop(
        one_step_core(), MemoryStore(), incarnation=1, send=lambda dst, msg: None,
        tick_interval_s=0.01, slowlog=slowlog,
    )  # fmt: skip
    replies: list[Reply] = []
    answered = trio.Event()

    def on_done(reply: Reply) -> None:
        replies.append(reply)
        answered.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(loop.run)
        nursery.start_soon(loop.run_ticker)
        loop.submit(cmd, on_done, client=client)
        with trio.fail_after(5):
            await answered.wait()
        nursery.cancel_scope.cancel()
    return replies[0]


async def test_the_loop_logs_each_op_of_a_client_with_its_address_and_name() -> None:
    slowlog = SlowLog(threshold_us=0)
    cmd = Command(1, 11, NOW_MS, ((b"SET", b"a", b"1"), (b"INCR", b"n")), True)
    reply = await run_through_loop(slowlog, cmd, FakeClient())
    assert reply == [OK, 1]
    entries = slowlog.latest(-1)
    assert [e.args for e in entries] == [(b"INCR", b"n"), (b"SET", b"a", b"1")]
    assert {(e.addr, e.name) for e in entries} == {("127.0.0.1:4242", b"worker-7")}
    assert all(e.duration_us >= 0 and e.time_s > 1_600_000_000 for e in entries)


async def test_the_loop_logs_nothing_when_the_log_is_off_or_no_client_asked() -> None:
    set_a = ((b"SET", b"a", b"1"),)
    off = SlowLog(threshold_us=-1)
    await run_through_loop(off, Command(1, 12, NOW_MS, set_a, False), FakeClient())
    assert len(off) == 0
    on = SlowLog(threshold_us=0)
    await run_through_loop(on, Command(1, 13, NOW_MS, set_a, False), None)
    assert len(on) == 0, "the expiry sweeper's deletes have no client to name"

"""Small turns commit in the loop's thread; long transactions still go to a worker.

A worker-thread round trip cost more than a small transaction itself (see
``loop._commits_inline``); a long one — a flush of deferred writes, log GC,
large values — must not stop the loop from reading sockets meanwhile.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
import trio

from epaxosdb import commands
from epaxosdb.core.config import ReplicaConfig
from epaxosdb.core.ready import Ready
from epaxosdb.core.replica import Replica
from epaxosdb.node import Effects
from epaxosdb.runtime import loop as loop_module
from epaxosdb.runtime.loop import (
    INLINE_COMMIT_BYTES_MAX,
    INLINE_COMMIT_COMMANDS_MAX,
    ConsensusLoop,
    _commits_inline,
)
from protocol.messages import Ballot, Command, InstanceId, InstanceRecord, Status
from protocol.replies import OK, Reply
from storage.interface import Value, ValueType
from storage.memory import MemoryStore


def record(*cmds: Command) -> InstanceRecord:
    ballot = Ballot.initial(1)
    return InstanceRecord(InstanceId(1, 0), Status.COMMITTED, cmds, 1, (-1,), ballot, ballot)


def set_cmd(value: bytes = b"v") -> Command:
    return Command(1, 1, 0, ((b"SET", b"k", value),))


def test_a_turn_of_a_few_small_commands_commits_inline() -> None:
    assert _commits_inline(Ready(to_persist=[record(set_cmd()), record(set_cmd())]), None)
    assert _commits_inline(Ready(meta={"next_instance": b"1"}), None)


def test_a_turn_that_flushes_or_deletes_goes_to_a_worker() -> None:
    flush = Effects()
    flush.writes[b"k"] = Value(ValueType.STRING, 0, b"v")
    assert not _commits_inline(Ready(to_persist=[record(set_cmd())]), flush)
    assert not _commits_inline(Ready(to_delete=[InstanceId(1, 0)]), None)


def test_a_turn_of_many_commands_or_large_values_goes_to_a_worker() -> None:
    many = record(*(set_cmd() for _ in range(INLINE_COMMIT_COMMANDS_MAX + 1)))
    assert not _commits_inline(Ready(to_persist=[many]), None)
    assert _commits_inline(
        Ready(to_persist=[record(*(set_cmd() for _ in range(INLINE_COMMIT_COMMANDS_MAX)))]), None
    )
    large = record(set_cmd(b"x" * INLINE_COMMIT_BYTES_MAX))
    assert not _commits_inline(Ready(to_persist=[large]), None)


async def test_the_loop_uses_a_worker_thread_only_for_the_large_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threaded: list[str] = []
    run_sync = trio.to_thread.run_sync

    async def counting(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        threaded.append(getattr(fn, "__name__", repr(fn)))
        return await run_sync(fn, *args, **kwargs)

    monkeypatch.setattr(loop_module.trio.to_thread, "run_sync", counting)
    core = Replica(ReplicaConfig(1, (1,)), rng=random.Random(1), access=commands.command_access)
    loop = ConsensusLoop(
        core, MemoryStore(), incarnation=1, send=lambda dst, msg: None, tick_interval_s=0.01
    )

    async def call(value: bytes) -> Reply:
        done = trio.Event()
        replies: list[Reply] = []

        def on_done(reply: Reply) -> None:
            replies.append(reply)
            done.set()

        loop.submit(loop.stamp(((b"SET", b"k", value),), 1_700_000_000_000), on_done)
        with trio.fail_after(10):
            await done.wait()
        return replies[0]

    async with trio.open_nursery() as nursery:
        nursery.start_soon(loop.run)
        assert not core.loading  # one replica: nothing to catch up with
        assert await call(b"small") == OK
        small_turns = list(threaded)
        await call(b"x" * (INLINE_COMMIT_BYTES_MAX + 1))
        nursery.cancel_scope.cancel()
    assert "commit" not in small_turns
    assert threaded.count("commit") == 1

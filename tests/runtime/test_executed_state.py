"""``ConsensusLoop.read_executed``: what every executed command left, written or not.

The loop defers key-value effects (``node.DeferredApply``), so the store alone
lags what has executed. A blocked BLMOVE judges its destination's type from
this view (``commands.blocking.refused_when_served``); reading the store alone
would miss a push that executed a moment ago.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import pytest
import trio

from epaxosdb.commands.values import live_header
from epaxosdb.runtime import loop as loop_module
from epaxosdb.runtime.loop import ConsensusLoop
from protocol.replies import OK, Reply
from storage.interface import KeyValueView, Txn, ValueType
from storage.memory import MemoryStore
from tests.runtime.test_idle_ticks import TICK_S, loop_over, single_replica

T = TypeVar("T")

NOW_MS = 1_700_000_000_000


async def _run(loop: ConsensusLoop, *ops: tuple[bytes, ...]) -> list[Reply]:
    replies: list[Reply] = []
    done = trio.Event()

    def answered(reply: Reply) -> None:
        replies.append(reply)
        if len(replies) == len(ops):
            done.set()

    for op in ops:
        loop.submit(loop.stamp((op,), NOW_MS), answered)
    with trio.fail_after(10):
        await done.wait()
    return replies


def _type_of(key: bytes) -> Callable[[KeyValueView], ValueType | None]:
    def look(kv: KeyValueView) -> ValueType | None:
        header = live_header(kv, key, NOW_MS)
        return None if header is None else header.type

    return look


async def test_effects_not_yet_in_the_store_are_read_through() -> None:
    loop = loop_over(single_replica())
    async with trio.open_nursery() as nursery:
        nursery.start_soon(loop.run)
        assert await _run(loop, (b"SET", b"dst", b"text"), (b"RPUSH", b"src", b"x")) == [OK, 1]
        deferred = loop.read_state(_type_of(b"src")), loop.read_state(_type_of(b"dst"))
        executed = loop.read_executed(_type_of(b"src")), loop.read_executed(_type_of(b"dst"))
        loop.flush_deferred()
        flushed = loop.read_state(_type_of(b"src")), loop.read_executed(_type_of(b"src"))
        await _run(loop, (b"DEL", b"src"))
        deleted = loop.read_state(_type_of(b"src")), loop.read_executed(_type_of(b"src"))
        nursery.cancel_scope.cancel()
    assert deferred == (None, None)  # no idle ticks: nothing written back yet
    assert executed == (ValueType.LIST, ValueType.STRING)
    assert flushed == (ValueType.LIST, ValueType.LIST)
    assert deleted == (ValueType.LIST, None)  # the deferred delete hides the stored list


class _HeldStore(MemoryStore):
    """A store whose next write waits until the test lets it go (a slow fsync)."""

    def __init__(self) -> None:
        super().__init__()
        self.hold = False
        self.writing = threading.Event()
        self.go = threading.Event()

    def write(self, fn: Callable[[Txn], T]) -> T:
        if self.hold:
            self.writing.set()
            assert self.go.wait(10), "the test never let the write go"
        return super().write(fn)


async def test_nothing_is_read_while_a_turn_is_still_being_made_durable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A crash before that turn's transaction commits loses what it executed, so nobody
    may be told of it yet: a blocked BLMOVE judged during a long commit just attempts."""
    monkeypatch.setattr(loop_module, "_commits_inline", lambda ready, flush: False)
    store = _HeldStore()
    loop = ConsensusLoop(
        single_replica(), store, incarnation=1, send=lambda dst, msg: None, tick_interval_s=TICK_S
    )
    async with trio.open_nursery() as nursery:
        nursery.start_soon(loop.run)
        store.hold = True
        answered = trio.Event()

        async def set_dst() -> None:
            assert await _run(loop, (b"SET", b"dst", b"text")) == [OK]
            answered.set()

        nursery.start_soon(set_dst)
        with trio.fail_after(10):
            await trio.to_thread.run_sync(store.writing.wait)
        during = loop.read_executed(_type_of(b"dst"))
        store.hold = False
        store.go.set()
        with trio.fail_after(10):
            await answered.wait()
        after = loop.read_executed(_type_of(b"dst"))
        nursery.cancel_scope.cancel()
    assert (during, after) == (None, ValueType.STRING)

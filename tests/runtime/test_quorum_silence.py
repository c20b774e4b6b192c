"""A replica that hears from no majority refuses commands before proposing them.

Peers speak at least every ``peers.KEEPALIVE_S``, so the loop counts silence
from when bytes last arrived (``ConsensusLoop.heard``). Silence counts only
while this replica itself was listening: after it was stopped, or its thread
held by one long step, its peers' words may still be unread in its sockets.
These drive the real loop's ``submit`` and listening clock with the threshold
shortened; replica 1 of three, whose messages go nowhere.
"""

from __future__ import annotations

import time
from typing import cast

import pytest
import trio

from epaxosdb.runtime import loop as loop_module
from epaxosdb.runtime.blocking import BlockedClients
from epaxosdb.runtime.loop import ConsensusLoop
from protocol.replies import Error, Reply
from tests.runtime.test_loop_deadlines import isolated_loop

SILENCE_S = 0.3
DEAF_S = 0.2


@pytest.fixture(autouse=True)
def short_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loop_module, "NO_QUORUM_AFTER_S", SILENCE_S)
    monkeypatch.setattr(loop_module, "DEAF_AFTER_S", DEAF_S)
    monkeypatch.setattr(loop_module, "LISTENING_CLOCK_S", 0.02)


def submit(loop: ConsensusLoop, key: bytes) -> list[Reply]:
    """Submits a SET; its reply, if it gets one at once, is in the list returned."""
    replies: list[Reply] = []
    loop.submit(loop.stamp(((b"SET", key, b"v"),), 1_700_000_000_000), replies.append)
    return replies


def in_flight(loop: ConsensusLoop) -> int:
    return int(dict(loop.info_sections()["EPaxos"])["commands_in_flight"])


def refused(replies: list[Reply]) -> bool:
    return len(replies) == 1 and isinstance(replies[0], Error) and replies[0].code == "NOQUORUM"


def refusals(loop: ConsensusLoop) -> int:
    return int(dict(loop.info_sections()["EPaxos"])["refused_no_quorum"])


async def test_commands_are_refused_once_no_peer_spoke_for_the_threshold() -> None:
    loop = isolated_loop()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(loop.run_listening_clock)
        assert submit(loop, b"early") == [], "just started: silence proves nothing yet"
        await trio.sleep(SILENCE_S * 2)
        replies = submit(loop, b"late")
        assert refused(replies), replies
        assert in_flight(loop) == 1, "only the early command was proposed"
        assert refusals(loop) == 1
        nursery.cancel_scope.cancel()


async def test_a_peer_heard_again_ends_the_refusals() -> None:
    loop = isolated_loop()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(loop.run_listening_clock)
        await trio.sleep(SILENCE_S * 2)
        assert refused(submit(loop, b"a"))
        loop.heard(2)  # one peer is a quorum of three with this replica
        assert submit(loop, b"b") == []
        assert in_flight(loop) == 1
        nursery.cancel_scope.cancel()


async def test_silence_while_this_replica_was_held_does_not_count() -> None:
    loop = isolated_loop()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(loop.run_listening_clock)
        await trio.sleep(SILENCE_S * 2)
        assert refused(submit(loop, b"a"))
        time.sleep(DEAF_S * 2)  # noqa: ASYNC251 - the thread held, as by one long step
        assert submit(loop, b"b") == [], "refused on silence it could not have heard"
        await trio.sleep(SILENCE_S * 2)
        assert refused(submit(loop, b"c")), "listening again, the silence counts again"
        nursery.cancel_scope.cancel()


class CountingBlocked:
    """Stands in for the blocked clients: counts how often they are told to try again."""

    def __init__(self) -> None:
        self.woken = 0

    def __len__(self) -> int:
        return 1  # one client blocked

    def changed_all(self) -> None:
        self.woken += 1


async def test_blocked_clients_try_again_only_once_a_quorum_is_heard() -> None:
    """Of five replicas, one peer is too few: its keepalives alone wake nobody."""
    blocked = CountingBlocked()
    loop = isolated_loop(5, cast(BlockedClients, blocked))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(loop.run_listening_clock)
        await trio.sleep(SILENCE_S * 2)
        assert refused(submit(loop, b"a"))
        for _ in range(3):
            loop.heard(2)
        assert blocked.woken == 0, "one peer of the two needed woke the blocked clients"
        assert refused(submit(loop, b"b"))
        loop.heard(3)
        assert blocked.woken == 1
        assert submit(loop, b"c") == []
        nursery.cancel_scope.cancel()

"""Pub/sub on one replica's front end: who gets what PUBLISH posted, and when.

The wire format of every reply and message is compared with redis-server in
test_clients_differential.py; here, several clients at once, the slow
subscriber, and the consensus loop's part (delivery as PUBLISH executes).
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import trio
import trio.testing

from epaxosdb import commands
from epaxosdb.core.config import ReplicaConfig
from epaxosdb.core.replica import Replica
from epaxosdb.runtime.clients import ClientSettings
from epaxosdb.runtime.loop import ConsensusLoop
from epaxosdb.runtime.pubsub import Subscriptions
from protocol.messages import Command, Commit, InstanceId, SyncReply
from protocol.replies import Published, Reply
from protocol.resp import encode_request
from storage.memory import MemoryStore
from tests.runtime.fakes import RawClient, running_server

WAIT_S = 10.0


LoopCall = Callable[..., Awaitable[Reply]]


@asynccontextmanager
async def loop_calls(subscriptions: Subscriptions) -> AsyncIterator[LoopCall]:
    """A one-replica consensus loop delivering to ``subscriptions``, running while the
    block runs, and ``call(*ops)``: propose ``ops`` as one command, await its reply."""
    core = Replica(ReplicaConfig(1, (1,)), rng=random.Random(1), access=commands.command_access)
    loop = ConsensusLoop(
        core, MemoryStore(), incarnation=1, send=lambda dst, msg: None, tick_interval_s=0.01,
        subscriptions=subscriptions,
    )

    async def call(*ops: tuple[bytes, ...]) -> Reply:
        done = trio.Event()
        replies: list[Reply] = []

        def on_done(reply: Reply) -> None:
            replies.append(reply)
            done.set()

        loop.submit(loop.stamp(ops, 1_700_000_000_000, len(ops) > 1), on_done)
        with trio.fail_after(WAIT_S):
            await done.wait()
        return replies[0]

    async with trio.open_nursery() as nursery:
        nursery.start_soon(loop.run)
        yield call
        nursery.cancel_scope.cancel()


def message(channel: bytes, body: bytes) -> bytes:
    return b"*3\r\n$7\r\nmessage\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n" % (
        len(channel), channel, len(body), body,
    )


async def test_a_message_reaches_every_subscriber_of_its_channel_and_pattern() -> None:
    async with running_server() as server:
        news, wild, other = [await RawClient.connect(server.port) for _ in range(3)]
        publisher = await RawClient.connect(server.port)
        await news.call("SUBSCRIBE", "news")
        await wild.call("PSUBSCRIBE", "n*")
        await other.call("SUBSCRIBE", "sports")
        assert await publisher.call("PUBLISH", "news", "hello") == b":2\r\n"
        assert await news.replies(1) == message(b"news", b"hello")
        assert await wild.replies(1) == (
            b"*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
        )
        assert await publisher.call("PUBLISH", "sports", "goal") == b":1\r\n"
        assert await other.replies(1) == message(b"sports", b"goal")
        assert news.received == wild.received == b""  # nothing else arrived


async def test_messages_arrive_in_the_order_they_were_published() -> None:
    async with running_server() as server:
        subscriber, publisher = [await RawClient.connect(server.port) for _ in range(2)]
        await subscriber.call("SUBSCRIBE", "ch")
        await publisher.send(b"".join(encode_request(["PUBLISH", "ch", str(i)]) for i in range(50)))
        assert await publisher.replies(50) == b":1\r\n" * 50
        expected = b"".join(message(b"ch", str(i).encode()) for i in range(50))
        assert await subscriber.replies(50) == expected


async def test_a_closed_subscriber_is_forgotten() -> None:
    async with running_server() as server:
        subscriber, publisher = [await RawClient.connect(server.port) for _ in range(2)]
        await subscriber.call("SUBSCRIBE", "ch")
        await subscriber.call("PSUBSCRIBE", "c*")
        assert await publisher.call("PUBSUB", "NUMSUB", "ch") == b"*2\r\n$2\r\nch\r\n:1\r\n"
        await subscriber.aclose()
        with trio.fail_after(WAIT_S):
            while server.registry.subscriptions:
                await trio.testing.wait_all_tasks_blocked(cushion=0.001)
        assert await publisher.call("PUBLISH", "ch", "x") == b":0\r\n"
        assert await publisher.call("PUBSUB", "NUMPAT") == b":0\r\n"


async def test_client_list_and_info_show_subscriptions() -> None:
    async with running_server() as server:
        subscriber, admin = [await RawClient.connect(server.port) for _ in range(2)]
        await subscriber.call("SUBSCRIBE", "a", "b")
        await subscriber.call("PSUBSCRIBE", "p*")
        listing = await admin.call("CLIENT", "LIST")
        assert b" flags=P " in listing and b" sub=2 psub=1 " in listing
        stats = await admin.call("INFO", "stats")
        assert b"pubsub_channels:2\r\n" in stats and b"pubsub_patterns:1\r\n" in stats


async def test_a_subscriber_that_does_not_read_is_closed_and_others_go_on() -> None:
    async with running_server(settings=ClientSettings(pubsub_output_max=256 * 1024)) as server:
        slow, fast, publisher = [await RawClient.connect(server.port) for _ in range(3)]
        await slow.call("SUBSCRIBE", "ch")
        await fast.call("SUBSCRIBE", "ch")
        body = "x" * 64 * 1024
        # Far more than the socket buffers and the limit hold: the slow one must go.
        for _ in range(200):
            await publisher.call("PUBLISH", "ch", body)
            await fast.replies(1)
            if server.registry.subscriptions.count(b"ch") == 1:
                break
        assert server.registry.subscriptions.count(b"ch") == 1
        assert await publisher.call("PUBLISH", "ch", "after") == b":1\r\n"
        assert await fast.replies(1) == message(b"ch", b"after")


class _Listener:
    def __init__(self) -> None:
        self.got: list[tuple[bytes, bytes]] = []

    def deliver_message(self, channel: bytes, body: bytes) -> None:
        self.got.append((channel, body))

    def deliver_pmessage(self, pattern: bytes, channel: bytes, body: bytes) -> None:
        self.got.append((pattern, body))


async def test_the_consensus_loop_delivers_as_publish_executes_and_replies_the_count() -> None:
    subscriptions = Subscriptions()
    listener = _Listener()
    subscriptions.subscribe(listener, b"ch")
    subscriptions.psubscribe(listener, b"c?")
    async with loop_calls(subscriptions) as call:
        assert await call((b"PUBLISH", b"ch", b"one")) == Published(b"ch", b"one", 2)
        pipelined = await call((b"PUBLISH", b"zz", b"two"), (b"PUBLISH", b"ch", b"three"))
        assert pipelined == [Published(b"zz", b"two", 0), Published(b"ch", b"three", 2)]
    assert listener.got == [(b"ch", b"one"), (b"c?", b"one"), (b"ch", b"three"), (b"c?", b"three")]


async def test_subscribers_are_clients_of_type_pubsub() -> None:
    async with running_server() as server:
        subscriber, admin = [await RawClient.connect(server.port) for _ in range(2)]
        await subscriber.call("SUBSCRIBE", "ch")
        pubsub_list = await admin.call("CLIENT", "LIST", "TYPE", "pubsub")
        normal_list = await admin.call("CLIENT", "LIST", "TYPE", "normal")
        assert pubsub_list.count(b"id=") == 1 and b"sub=1" in pubsub_list
        assert normal_list.count(b"id=") == 1 and b"cmd=client|list" in normal_list
        assert await admin.call("CLIENT", "KILL", "TYPE", "pubsub") == b":1\r\n"
        assert await subscriber.until_closed() == b""
        assert await admin.call("CLIENT", "KILL", "TYPE", "master") == b":0\r\n"


async def test_messages_executed_while_catching_up_are_not_delivered_not_even_in_the_last_turn(
) -> None:  # fmt: skip
    """A restarted replica catches up on PUBLISHes committed while it was down; the turn
    whose executions end its catching up delivered them (a QA run's subscriber, at a
    restarting replica, got five messages published before it subscribed). Later
    messages are delivered."""
    subscriptions = Subscriptions()
    listener = _Listener()
    subscriptions.subscribe(listener, b"ch")
    core = Replica(
        ReplicaConfig(1, (1, 2, 3)), rng=random.Random(1), access=commands.command_access
    )
    assert core.loading
    loop = ConsensusLoop(
        core, MemoryStore(), incarnation=1, send=lambda dst, msg: None, tick_interval_s=0.01,
        subscriptions=subscriptions,
    )

    def published(index: int, body: bytes) -> Commit:
        cmd = Command(2, index + 1, 1_700_000_000_000, ((b"PUBLISH", b"ch", body),))
        deps = (-1, index - 1, -1)
        return Commit(2, InstanceId(2, index), (cmd,), index + 1, deps)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(loop.run)
        # What replica 2 committed while this one was down, in one sync reply.
        old = tuple(published(i, b"old%d" % i) for i in range(3))
        loop.deliver(SyncReply(2, (-1, 2, -1), old, False))
        with trio.fail_after(WAIT_S):
            while core.loading or not core.executed(InstanceId(2, 2)):
                await trio.testing.wait_all_tasks_blocked(cushion=0.001)
        loop.deliver(published(3, b"new"))
        with trio.fail_after(WAIT_S):
            while not core.executed(InstanceId(2, 3)):
                await trio.testing.wait_all_tasks_blocked(cushion=0.001)
        nursery.cancel_scope.cancel()
    assert listener.got == [(b"ch", b"new")]

"""Sharded pub/sub on one replica's front end: SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH, PUBSUB.

A standalone Redis 7.0 keeps shard channels apart from PUBLISH's: SPUBLISH
reaches SSUBSCRIBE-rs only, PUBLISH never does, patterns never match a shard
channel. A shard subscription counts as a subscription for everything that
asks whether a client is a subscriber (RESP2's subscribed mode, CLIENT LIST,
PING), but the confirmations of each kind count their own kind. The expected
bytes here are redis-server 7.0.15's (tests/integration/test_sharded_pubsub_wire.py
compares the sequences with a real one).
"""

from __future__ import annotations

import trio
import trio.testing

from epaxosdb.runtime.clients import ClientSettings
from epaxosdb.runtime.pubsub import Subscriptions
from protocol.replies import Published
from protocol.resp import encode_request
from tests.runtime.fakes import RawClient, running_server
from tests.runtime.test_pubsub import loop_calls

WAIT_S = 10.0
PONG = b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"
"""A RESP2 subscriber's PING reply: nothing arrived before it when it comes next."""
SUBSCRIBED_MODE_GET = (
    b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
    b"RESET are allowed in this context\r\n"
)


def bulk(value: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(value), value)


def push(*items: bytes | int | None, resp3: bool = False) -> bytes:
    out = b">%d\r\n" % len(items) if resp3 else b"*%d\r\n" % len(items)
    for item in items:
        if item is None:
            out += b"_\r\n" if resp3 else b"$-1\r\n"
        elif isinstance(item, int):
            out += b":%d\r\n" % item
        else:
            out += bulk(item)
    return out


async def test_spublish_reaches_shard_subscribers_only_and_publish_never_does() -> None:
    async with running_server() as server:
        shard, plain, pattern, publisher = [await RawClient.connect(server.port) for _ in range(4)]
        await shard.call("SSUBSCRIBE", "news")
        await plain.call("SUBSCRIBE", "news")
        await pattern.call("PSUBSCRIBE", "*")
        assert await publisher.call("SPUBLISH", "news", "sharded") == b":1\r\n"
        assert await publisher.call("PUBLISH", "news", "plain") == b":2\r\n"
        assert await publisher.call("SPUBLISH", "elsewhere", "x") == b":0\r\n"
        await shard.send(b"PING\r\n")
        assert await shard.replies(2) == push(b"smessage", b"news", b"sharded") + PONG
        await plain.send(b"PING\r\n")
        assert await plain.replies(2) == push(b"message", b"news", b"plain") + PONG
        await pattern.send(b"PING\r\n")
        assert await pattern.replies(2) == push(b"pmessage", b"*", b"news", b"plain") + PONG


async def test_shard_messages_arrive_in_the_order_they_were_published() -> None:
    async with running_server() as server:
        subscriber, publisher = [await RawClient.connect(server.port) for _ in range(2)]
        await subscriber.call("SSUBSCRIBE", "ch")
        requests = [encode_request(["SPUBLISH", "ch", str(i)]) for i in range(50)]
        await publisher.send(b"".join(requests))
        assert await publisher.replies(50) == b":1\r\n" * 50
        expected = b"".join(push(b"smessage", b"ch", str(i).encode()) for i in range(50))
        assert await subscriber.replies(50) == expected


async def test_each_kind_of_confirmation_counts_its_own_kind_of_subscription() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        assert await client.call("SUNSUBSCRIBE") == push(b"sunsubscribe", None, 0)
        await client.send(encode_request(["SSUBSCRIBE", "a", "b", "a"]))
        assert await client.replies(3) == (
            push(b"ssubscribe", b"a", 1) + push(b"ssubscribe", b"b", 2)
            + push(b"ssubscribe", b"a", 2)
        )
        assert await client.call("SUBSCRIBE", "c") == push(b"subscribe", b"c", 1)
        assert await client.call("PSUBSCRIBE", "p*") == push(b"psubscribe", b"p*", 2)
        await client.send(encode_request(["SUNSUBSCRIBE", "b", "nosuch"]))
        assert await client.replies(2) == (
            push(b"sunsubscribe", b"b", 1) + push(b"sunsubscribe", b"nosuch", 1)
        )
        assert await client.call("UNSUBSCRIBE") == push(b"unsubscribe", b"c", 1)
        assert await client.call("PUNSUBSCRIBE") == push(b"punsubscribe", b"p*", 0)
        assert await client.call("SUNSUBSCRIBE") == push(b"sunsubscribe", b"a", 0)
        assert await client.call("SUNSUBSCRIBE") == push(b"sunsubscribe", None, 0)
        assert await client.call("GET", "x") == b"$-1\r\n"  # no longer a subscriber


async def test_a_resp2_shard_subscriber_is_in_subscribed_mode_until_its_last_subscription_goes(
) -> None:  # fmt: skip
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        await client.call("SSUBSCRIBE", "s")
        assert await client.call("GET", "x") == SUBSCRIBED_MODE_GET
        refused = await client.call("SPUBLISH", "s", "m")
        assert refused.startswith(b"-ERR Can't execute 'spublish'")
        assert await client.call("PING") == PONG
        assert await client.call("PING", "hi") == b"*2\r\n$4\r\npong\r\n$2\r\nhi\r\n"
        await client.call("SUBSCRIBE", "t")
        await client.call("SUNSUBSCRIBE")
        assert await client.call("GET", "x") == SUBSCRIBED_MODE_GET  # still subscribed to t
        await client.call("SSUBSCRIBE", "s")
        await client.call("UNSUBSCRIBE")
        assert await client.call("GET", "x") == SUBSCRIBED_MODE_GET  # still subscribed to s
        await client.call("SUNSUBSCRIBE", "s")
        assert await client.call("GET", "x") == b"$-1\r\n"


async def test_a_resp3_shard_subscriber_gets_pushes_and_may_run_any_command() -> None:
    async with running_server() as server:
        subscriber, publisher = [await RawClient.connect(server.port) for _ in range(2)]
        await subscriber.call("HELLO", "3")
        assert await subscriber.call("SSUBSCRIBE", "r") == push(b"ssubscribe", b"r", 1, resp3=True)
        assert await subscriber.call("GET", "x") == b"_\r\n"
        assert await subscriber.call("PING") == b"+PONG\r\n"
        assert await publisher.call("SPUBLISH", "r", "hello") == b":1\r\n"
        assert await subscriber.replies(1) == push(b"smessage", b"r", b"hello", resp3=True)
        await subscriber.send(b"SUNSUBSCRIBE\r\nSUNSUBSCRIBE\r\n")
        assert await subscriber.replies(2) == (
            push(b"sunsubscribe", b"r", 0, resp3=True) + push(b"sunsubscribe", None, 0, resp3=True)
        )
        # Back to RESP2 while subscribed: subscribed mode applies again.
        await subscriber.call("SSUBSCRIBE", "r")
        await subscriber.call("HELLO", "2")
        assert await subscriber.call("GET", "x") == SUBSCRIBED_MODE_GET


async def test_reset_and_disconnect_drop_shard_subscriptions() -> None:
    async with running_server() as server:
        resetting, leaving, admin = [await RawClient.connect(server.port) for _ in range(3)]
        await resetting.call("SSUBSCRIBE", "a")
        await leaving.call("SSUBSCRIBE", "a", "b")
        assert await admin.call("PUBSUB", "SHARDNUMSUB", "a", "b") == (
            b"*4\r\n" + bulk(b"a") + b":2\r\n" + bulk(b"b") + b":1\r\n"
        )
        assert await resetting.call("RESET") == b"+RESET\r\n"
        assert await resetting.call("GET", "x") == b"$-1\r\n"
        assert await admin.call("SPUBLISH", "a", "x") == b":1\r\n"
        await leaving.aclose()
        with trio.fail_after(WAIT_S):
            while server.registry.subscriptions:
                await trio.testing.wait_all_tasks_blocked(cushion=0.001)
        assert await admin.call("SPUBLISH", "a", "x") == b":0\r\n"
        assert await admin.call("PUBSUB", "SHARDCHANNELS") == b"*0\r\n"
        assert await resetting.call("PING") == b"+PONG\r\n"  # nothing was delivered to it


async def test_pubsub_shard_subcommands_answer_for_shard_channels_alone() -> None:
    async with running_server() as server:
        shard, plain, admin = [await RawClient.connect(server.port) for _ in range(3)]
        await shard.send(encode_request(["SSUBSCRIBE", "news", "nets", "sports"]))
        await shard.replies(3)
        await plain.call("SUBSCRIBE", "news")
        assert await admin.call("PUBSUB", "SHARDCHANNELS", "n*s") == (
            b"*2\r\n" + bulk(b"news") + bulk(b"nets")
        )
        assert await admin.call("PUBSUB", "SHARDCHANNELS", "x*") == b"*0\r\n"
        everything = await admin.call("PUBSUB", "SHARDCHANNELS")
        assert everything.startswith(b"*3\r\n") and bulk(b"sports") in everything
        assert await admin.call("PUBSUB", "SHARDNUMSUB", "sports", "nosuch") == (
            b"*4\r\n" + bulk(b"sports") + b":1\r\n" + bulk(b"nosuch") + b":0\r\n"
        )
        assert await admin.call("PUBSUB", "SHARDNUMSUB") == b"*0\r\n"
        # And the other way round: PUBSUB CHANNELS and NUMSUB do not see shard channels.
        assert await admin.call("PUBSUB", "CHANNELS") == b"*1\r\n" + bulk(b"news")
        assert await admin.call("PUBSUB", "NUMSUB", "sports") == b"*2\r\n" + bulk(b"sports") + (
            b":0\r\n"
        )


async def test_client_list_and_info_show_shard_subscriptions_and_a_pubsub_client() -> None:
    async with running_server() as server:
        subscriber, admin = [await RawClient.connect(server.port) for _ in range(2)]
        await subscriber.send(encode_request(["SSUBSCRIBE", "a", "b"]))
        await subscriber.replies(2)
        listing = await admin.call("CLIENT", "LIST", "TYPE", "pubsub")
        assert listing.count(b"id=") == 1
        assert b" flags=P " in listing and b" sub=0 psub=0 ssub=2 " in listing
        stats = await admin.call("INFO", "stats")
        assert b"pubsub_channels:0\r\n" in stats and b"pubsubshard_channels:2\r\n" in stats
        normal = await admin.call("CLIENT", "LIST", "TYPE", "normal")
        assert normal.count(b"id=") == 1 and b" ssub=0 " in normal
        await subscriber.call("SUNSUBSCRIBE")
        listing = await admin.call("CLIENT", "LIST")
        assert b" flags=P " not in listing and b" ssub=2 " not in listing


async def test_shard_confirmations_are_sent_with_client_reply_off() -> None:
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        await client.send(
            b"CLIENT REPLY OFF\r\nSSUBSCRIBE a b\r\nSUNSUBSCRIBE a\r\nSUNSUBSCRIBE\r\n"
            b"SUNSUBSCRIBE\r\nGET x\r\nCLIENT REPLY ON\r\n"
        )
        assert await client.replies(6) == (
            push(b"ssubscribe", b"a", 1) + push(b"ssubscribe", b"b", 2)
            + push(b"sunsubscribe", b"a", 1) + push(b"sunsubscribe", b"b", 0)
            + push(b"sunsubscribe", None, 0) + b"+OK\r\n"
        )


async def test_ssubscribe_queued_in_a_transaction_is_refused_when_it_runs() -> None:
    """Redis queues SSUBSCRIBE and EXEC answers an error in its place (a transaction runs as
    a client that may not block); SPUBLISH and SUNSUBSCRIBE run. With WATCH, queued
    connection commands run once the replicated check let the transaction run."""
    refused = b"-ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client\r\n"
    async with running_server() as server:
        client = await RawClient.connect(server.port)
        for watch in ([], [b"WATCH k\r\n"]):
            await client.send(
                b"".join(watch)
                + b"MULTI\r\nSSUBSCRIBE m\r\nSPUBLISH m x\r\nSUNSUBSCRIBE m\r\nEXEC\r\n"
            )
            replies = await client.replies(len(watch) + 5)
            assert replies.endswith(
                b"+OK\r\n" + b"+QUEUED\r\n" * 3
                + b"*3\r\n" + refused + b":0\r\n" + push(b"sunsubscribe", b"m", 0)
            )
            assert await client.call("GET", "x") == b"$-1\r\n"  # not subscribed


async def test_a_shard_subscriber_that_does_not_read_is_closed_and_others_go_on() -> None:
    async with running_server(settings=ClientSettings(pubsub_output_max=256 * 1024)) as server:
        slow, fast, publisher = [await RawClient.connect(server.port) for _ in range(3)]
        await slow.call("SSUBSCRIBE", "ch")
        await fast.call("SSUBSCRIBE", "ch")
        body = "x" * 64 * 1024
        # Far more than the socket buffers and the limit hold: the slow one must go.
        for _ in range(200):
            await publisher.call("SPUBLISH", "ch", body)
            await fast.replies(1)
            if server.registry.subscriptions.shard_count(b"ch") == 1:
                break
        assert server.registry.subscriptions.shard_count(b"ch") == 1
        assert await publisher.call("SPUBLISH", "ch", "after") == b":1\r\n"
        assert await fast.replies(1) == push(b"smessage", b"ch", b"after")


class _Listener:
    """A subscriber of each kind, recording what it was delivered."""

    def __init__(self) -> None:
        self.got: list[tuple[bytes, bytes, bytes]] = []

    def deliver_message(self, channel: bytes, body: bytes) -> None:
        self.got.append((b"message", channel, body))

    def deliver_pmessage(self, pattern: bytes, channel: bytes, body: bytes) -> None:
        self.got.append((b"pmessage", channel, body))

    def deliver_smessage(self, channel: bytes, body: bytes) -> None:
        assert type(channel) is bytes  # what a connection encodes: no longer marked
        self.got.append((b"smessage", channel, body))


async def test_the_consensus_loop_delivers_spublish_to_shard_subscribers_as_it_executes() -> None:
    subscriptions = Subscriptions()
    listener = _Listener()
    subscriptions.subscribe(listener, b"ch")
    subscriptions.psubscribe(listener, b"c*")
    subscriptions.ssubscribe(listener, b"ch")
    async with loop_calls(subscriptions) as call:
        assert await call((b"SPUBLISH", b"ch", b"one")) == Published(b"ch", b"one", 1)
        pipelined = await call((b"PUBLISH", b"ch", b"two"), (b"SPUBLISH", b"ch", b"three"))
        assert pipelined == [Published(b"ch", b"two", 2), Published(b"ch", b"three", 1)]
    assert listener.got == [
        (b"smessage", b"ch", b"one"),
        (b"message", b"ch", b"two"),
        (b"pmessage", b"ch", b"two"),
        (b"smessage", b"ch", b"three"),
    ]

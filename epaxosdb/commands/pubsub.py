"""PUBLISH and SPUBLISH: the pub/sub commands that go through the log.

A message must reach subscribers on every replica, so PUBLISH is replicated
like a write and executed by every replica; executing it changes nothing in
the store and answers ``Published``, which the runtime delivers to that
replica's subscribers (and counts, for the publisher's reply) once the
command has executed. SUBSCRIBE and the rest are the front end's own.

SPUBLISH is the same for shard channels (SSUBSCRIBE). A standalone Redis
keeps them apart from PUBLISH's channels: SPUBLISH reaches shard-channel
subscribers only, never SUBSCRIBE-rs or pattern subscribers, and PUBLISH
never reaches SSUBSCRIBE-rs. Its ``Published`` says so by its channel's type,
``ShardChannel`` (see there for why the channel carries it).

Ordering: PUBLISH "writes" a key of its own per channel (``channel_key``), so
two PUBLISHes to one channel interfere and every replica executes them — and
so delivers them — in the same order: every subscriber of a channel sees its
messages in one order, wherever it is connected. SPUBLISH does the same with
a key of the shard namespace (``shard_channel_key``), so it is not ordered
against a PUBLISH of the same name, which no subscriber could tell. Messages
to different channels are not ordered against each other (a pattern
subscriber may see them in different orders on different replicas). The
channel key lives in the interference relation only; a data key that happens
to spell the same bytes just gets ordered with the channel's messages, which
is harmless.
"""

from __future__ import annotations

from protocol.replies import Published, Reply
from storage.interface import KeyValueView

CHANNEL_KEY_PREFIX = b"\x00pubsub\x00channel:"


SHARD_CHANNEL_KEY_PREFIX = b"\x00pubsub\x00shard-channel:"


def channel_key(channel: bytes) -> bytes:
    """The key a PUBLISH to ``channel`` writes, for the interference relation only."""
    return CHANNEL_KEY_PREFIX + channel


def shard_channel_key(channel: bytes) -> bytes:
    """The key an SPUBLISH to ``channel`` writes: a namespace of its own, as its
    subscribers are."""
    return SHARD_CHANNEL_KEY_PREFIX + channel


class ShardChannel(bytes):
    """The channel of SPUBLISH's ``Published``: a shard channel, delivered to SSUBSCRIBE-rs
    only.

    Every driver (the consensus loop, the tests' in-process backend) hands a
    ``Published`` on to ``Subscriptions.publish(channel, message)`` and fills in the
    receivers it returns; marking the channel tells the registry which namespace the
    message belongs to without a second reply type for every driver to learn. The mark
    lives only between the handler and delivery on one replica: replies never leave it.
    """

    __slots__ = ()


def cmd_publish(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    return Published(args[1], args[2])


def cmd_spublish(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    return Published(ShardChannel(args[1]), args[2])

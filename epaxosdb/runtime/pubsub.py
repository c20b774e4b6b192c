"""Who listens to what on this replica, and delivery of what PUBLISH posted.

SUBSCRIBE and PSUBSCRIBE are local to the replica a client is connected to;
PUBLISH goes through the log and every replica executes it, delivering to
its own subscribers (``epaxosdb.commands.pubsub``). So a subscriber on any
replica receives what is published through any replica, and all the
subscribers of one channel receive its messages in the same order.

Shard channels (SSUBSCRIBE, SPUBLISH) are a namespace of their own, as in a
standalone Redis: an SPUBLISH (a ``Published`` whose channel is a
``ShardChannel``) reaches shard-channel subscribers only, a PUBLISH never
does, and patterns never match shard channels.

PUBLISH and SPUBLISH answer how many subscriptions got the message *on the
replica the publisher used* — the count Redis gives is its server's, and no replica
knows the others' subscribers (Redis Cluster answers the same way).

A replica that is catching up (``loading``) executes commands that were
published long ago; it delivers none of them: pub/sub is fire and forget,
and a message arriving minutes late would surprise more than one missed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from epaxosdb.commands.glob import matcher
from epaxosdb.commands.pubsub import ShardChannel


class Subscriber(Protocol):
    """What delivery needs of a connection."""

    def deliver_message(self, channel: bytes, message: bytes) -> None: ...

    def deliver_pmessage(self, pattern: bytes, channel: bytes, message: bytes) -> None: ...


class ShardSubscriber(Protocol):
    """What delivery of a shard channel's messages needs of a connection."""

    def deliver_smessage(self, channel: bytes, message: bytes) -> None: ...


class Subscriptions:
    """Channel, pattern and shard-channel subscriptions of one front end's clients."""

    def __init__(self) -> None:
        self.keyspace_events = 0
        """The keyspace notifications this replica delivers (``notify-keyspace-events``, as
        ``commands.notifications`` flags): its own setting, as a Redis server's is."""
        self._channels: dict[bytes, dict[Subscriber, None]] = {}
        self._patterns: dict[bytes, tuple[Callable[[bytes], bool], dict[Subscriber, None]]] = {}
        self._shard_channels: dict[bytes, dict[ShardSubscriber, None]] = {}

    def __bool__(self) -> bool:
        return bool(self._channels or self._patterns or self._shard_channels)

    def subscribe(self, client: Subscriber, channel: bytes) -> None:
        self._channels.setdefault(channel, {})[client] = None

    def unsubscribe(self, client: Subscriber, channel: bytes) -> None:
        clients = self._channels.get(channel)
        if clients is not None:
            clients.pop(client, None)
            if not clients:
                del self._channels[channel]

    def psubscribe(self, client: Subscriber, pattern: bytes) -> None:
        entry = self._patterns.get(pattern)
        if entry is None:
            entry = self._patterns[pattern] = (matcher(pattern), {})
        entry[1][client] = None

    def punsubscribe(self, client: Subscriber, pattern: bytes) -> None:
        entry = self._patterns.get(pattern)
        if entry is not None:
            entry[1].pop(client, None)
            if not entry[1]:
                del self._patterns[pattern]

    def ssubscribe(self, client: ShardSubscriber, channel: bytes) -> None:
        self._shard_channels.setdefault(channel, {})[client] = None

    def sunsubscribe(self, client: ShardSubscriber, channel: bytes) -> None:
        clients = self._shard_channels.get(channel)
        if clients is not None:
            clients.pop(client, None)
            if not clients:
                del self._shard_channels[channel]

    def publish(self, channel: bytes, message: bytes) -> int:
        """Deliver to every subscription that matches; how many there were. A
        ``ShardChannel`` (SPUBLISH) goes to that shard channel's subscribers alone."""
        if type(channel) is ShardChannel:
            return self._spublish(bytes(channel), message)
        receivers = 0
        clients = self._channels.get(channel)
        if clients:
            for client in list(clients):
                client.deliver_message(channel, message)
            receivers += len(clients)
        for pattern, (matches, pattern_clients) in list(self._patterns.items()):
            if matches(channel):
                for client in list(pattern_clients):
                    client.deliver_pmessage(pattern, channel, message)
                receivers += len(pattern_clients)
        return receivers

    def _spublish(self, channel: bytes, message: bytes) -> int:
        clients = self._shard_channels.get(channel)
        if not clients:
            return 0
        for client in list(clients):
            client.deliver_smessage(channel, message)
        return len(clients)

    def channels(self, pattern: bytes | None = None) -> list[bytes]:
        """Channels with at least one subscriber (PUBSUB CHANNELS), matching ``pattern``."""
        if pattern is None:
            return list(self._channels)
        matches = matcher(pattern)
        return [channel for channel in self._channels if matches(channel)]

    def count(self, channel: bytes) -> int:
        """Subscribers of ``channel``, not counting patterns (PUBSUB NUMSUB)."""
        return len(self._channels.get(channel, ()))

    def pattern_count(self) -> int:
        """Distinct patterns with a subscriber (PUBSUB NUMPAT, INFO pubsub_patterns)."""
        return len(self._patterns)

    def channel_count(self) -> int:
        return len(self._channels)

    def shard_channel_count(self) -> int:
        """Distinct shard channels with a subscriber (INFO pubsubshard_channels)."""
        return len(self._shard_channels)

    def shard_channels(self, pattern: bytes | None = None) -> list[bytes]:
        """Shard channels with at least one subscriber (PUBSUB SHARDCHANNELS), matching
        ``pattern``."""
        if pattern is None:
            return list(self._shard_channels)
        matches = matcher(pattern)
        return [channel for channel in self._shard_channels if matches(channel)]

    def shard_count(self, channel: bytes) -> int:
        """Subscribers of the shard channel ``channel`` (PUBSUB SHARDNUMSUB)."""
        return len(self._shard_channels.get(channel, ()))

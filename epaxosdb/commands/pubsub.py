"""PUBLISH: the one pub/sub command that goes through the log.

A message must reach subscribers on every replica, so PUBLISH is replicated
like a write and executed by every replica; executing it changes nothing in
the store and answers ``Published``, which the runtime delivers to that
replica's subscribers (and counts, for the publisher's reply) once the
command has executed. SUBSCRIBE and the rest are the front end's own.

Ordering: PUBLISH "writes" a key of its own per channel (``channel_key``), so
two PUBLISHes to one channel interfere and every replica executes them — and
so delivers them — in the same order: every subscriber of a channel sees its
messages in one order, wherever it is connected. Messages to different
channels are not ordered against each other (a pattern subscriber may see
them in different orders on different replicas). The channel key lives in
the interference relation only; a data key that happens to spell the same
bytes just gets ordered with the channel's messages, which is harmless.
"""

from __future__ import annotations

from protocol.replies import Published, Reply
from storage.interface import KeyValueView

CHANNEL_KEY_PREFIX = b"\x00pubsub\x00channel:"


def channel_key(channel: bytes) -> bytes:
    """The key a PUBLISH to ``channel`` writes, for the interference relation only."""
    return CHANNEL_KEY_PREFIX + channel


def cmd_publish(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    return Published(args[1], args[2])

"""Reply values, independent of the wire protocol version.

Command handlers return these; ``protocol.resp.encode_reply(value, proto)``
turns them into RESP2 or RESP3 bytes, because the same reply is spelled
differently in each (a map is a flat array in RESP2, a double a bulk string,
a boolean an integer, a null ``$-1`` or ``*-1``).

Plain Python values map directly:

===================  ==========================  ==========================
value                RESP2                       RESP3
===================  ==========================  ==========================
``int``              ``:n``                      ``:n``
``bytes``            ``$len`` bulk               ``$len`` bulk
``None``             ``$-1``                     ``_``
``list``/``tuple``   ``*n`` array                ``*n`` array
``bool``             ``:1`` / ``:0``             ``#t`` / ``#f``
``float``            bulk string (Redis format)  ``,`` double
===================  ==========================  ==========================

and the classes below cover the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SimpleString:
    """``+text``: OK, PONG, QUEUED, type names."""

    text: bytes



@dataclass(frozen=True, slots=True)
class Error:
    """``-text``; ``text`` starts with the error code (``ERR``, ``WRONGTYPE``...)."""

    text: str

    @property
    def code(self) -> str:
        return self.text.split(" ", 1)[0]


@dataclass(frozen=True, slots=True)
class NullArray:
    """``*-1`` in RESP2 (an aborted EXEC, a timed-out blocking pop); ``_`` in RESP3."""


@dataclass(frozen=True, slots=True)
class Map:
    """``%n`` in RESP3, a flat ``*2n`` array in RESP2."""

    items: Sequence[tuple[Reply, Reply]]


@dataclass(frozen=True, slots=True)
class Pairs:
    """``*n`` arrays of two in RESP3, a flat ``*2n`` array in RESP2: WITHSCORES replies
    (member, score), which Redis 7 nests under RESP3 but, unlike a map, keeps ordered
    and may repeat (ZRANDMEMBER with a negative count)."""

    items: Sequence[tuple[Reply, Reply]]


@dataclass(frozen=True, slots=True)
class NestedMap:
    """``%n`` in RESP3 like a ``Map``, but in RESP2 an array of ``[key, value]`` arrays
    instead of a flat one: XREAD's reply (one pair per stream with news; a stream named
    twice appears twice)."""

    items: Sequence[tuple[Reply, Reply]]


@dataclass(slots=True)
class Published:
    """PUBLISH's reply, ``:receivers``: how many subscriptions got the message.

    Only the runtime knows that, once it has delivered ``message`` on
    ``channel`` to its subscribers, which it does when the command executes;
    until then (and for a driver with no subscribers) it is 0. The one reply
    value that is filled in after the handler returned."""

    channel: bytes
    message: bytes
    receivers: int = 0


@dataclass(frozen=True, slots=True)
class ReplySequence:
    """Several top-level replies to one request, written back to back (SUBSCRIBE a b
    answers one confirmation per channel)."""

    items: Sequence[Reply]


@dataclass(frozen=True, slots=True)
class Set:
    """``~n`` in RESP3, an array in RESP2."""

    items: Sequence[Reply]


@dataclass(frozen=True, slots=True)
class Verbatim:
    """``=len fmt:text`` in RESP3 (``fmt`` is three letters, e.g. ``txt``), bulk in RESP2."""

    text: bytes
    format: bytes = b"txt"


@dataclass(frozen=True, slots=True)
class BigNumber:
    """``(digits`` in RESP3, bulk string in RESP2. ``bytes`` are written as they are (a
    script's ``{big_number = "..."}``, which Redis does not check)."""

    value: int | bytes


@dataclass(frozen=True, slots=True)
class HumanDouble:
    """A double Redis prints with digits of its own (``addReplyHumanLongDouble``, GEOPOS's
    coordinates): a bulk string in RESP2, a RESP3 double (``,``) in RESP3."""

    text: bytes


@dataclass(frozen=True, slots=True)
class Push:
    """``>n`` out-of-band data in RESP3 (pub/sub); an array in RESP2."""

    items: Sequence[Reply]


Reply = (
    int
    | bytes
    | None
    | bool
    | float
    | list["Reply"]
    | tuple["Reply", ...]
    | SimpleString
    | Error
    | NullArray
    | Map
    | Pairs
    | NestedMap
    | Published
    | ReplySequence
    | Set
    | Verbatim
    | BigNumber
    | HumanDouble
    | Push
)

OK = SimpleString(b"OK")
PONG = SimpleString(b"PONG")
QUEUED = SimpleString(b"QUEUED")
NULL_ARRAY = NullArray()


def help_reply(lines: Sequence[str]) -> list[Reply]:
    """A ``... HELP`` reply: one simple string per line, as Redis's ``addReplyHelp``."""
    return [SimpleString(line.encode()) for line in lines]

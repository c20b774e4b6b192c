"""Keyspace notifications (Redis's notify.c) of the generic and expired classes.

Why: clients learn that keys changed or expired without polling — Spring
Session, for one, sets ``notify-keyspace-events Egx`` at start-up and cleans
up sessions when it hears ``del`` and ``expired``. As PUBLISH is (see
``pubsub``), a notification is delivered by each replica to its own
subscribers as it executes the command that caused it, so every subscriber of
any replica hears the same events in the same order: the order of execution,
which is the same everywhere. Which ones a replica delivers is its own
setting (``CONFIG SET notify-keyspace-events``), as in Redis, where it is one
server's.

Two of Redis's classes are delivered, exactly as Redis 7.0 emits them:
``g`` (generic: ``del``, ``expire``, ``persist``, ``rename_from``/
``rename_to``, ``copy_to``, ``restore``) and ``x`` (``expired``: a key found
expired, by a command that names it or by the replica's expiry sweep), on
the ``__keyspace@0__:<key>`` channels (``K``) and ``__keyevent@0__:<event>``
ones (``E``). The type classes (``$lshzt``), ``n``ew, ``m``iss, ``e``victed
and ``d`` (modules) are refused by CONFIG SET rather than accepted and never
delivered. Commands run by scripts cause none.

How events are found: ``Notices.before`` notes which keys an op writes exist
(after the expired ones among them were deleted: ``expired``), and
``Notices.after`` compares, knowing which commands Redis gives generic
events: a key an op deleted is ``del`` (DEL, GETDEL, an EXPIRE in the past,
a list or set emptied, a STORE of nothing), except for RENAME, whose own
events say it; EXPIRE and friends that answered 1 are ``expire``, and so on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from protocol.replies import OK, Error, Published, Reply
from storage.interface import KeyValueView

from .access import access_of
from .table import WRITES
from .values import is_expired

KEYSPACE = 1
KEYEVENT = 2
GENERIC = 4
EXPIRED = 8

_CLASSES = {"g": GENERIC, "x": EXPIRED, "K": KEYSPACE, "E": KEYEVENT}
_UNSUPPORTED = "A$lshzetdmn"
"""Redis's other class characters (``A`` is all of ``g$lshzxet``)."""

INVALID = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
"""Redis's reason for a character that is no class at all."""


def parse_flags(text: str) -> int | str:
    """The flags ``notify-keyspace-events`` is set to, or why it cannot be."""
    flags = 0
    for char in text:
        if char in _CLASSES:
            flags |= _CLASSES[char]
        elif char in _UNSUPPORTED:
            return (
                f"only the classes g (generic) and x (expired) are delivered, "
                f"with K and E; '{char}' is not supported"
            )
        else:
            return INVALID
    return flags


def format_flags(flags: int) -> str:
    """``keyspaceEventsFlagsToString``: classes first, then ``K`` and ``E``."""
    return "".join(
        char for char, bit in (("g", GENERIC), ("x", EXPIRED), ("K", KEYSPACE), ("E", KEYEVENT))
        if flags & bit
    )


def delivered(flags: int) -> bool:
    """Whether anything is ever delivered with these flags (a class and a channel kind)."""
    return bool(flags & (GENERIC | EXPIRED)) and bool(flags & (KEYSPACE | KEYEVENT))


_EXPIRES = frozenset({b"EXPIRE", b"PEXPIRE", b"EXPIREAT", b"PEXPIREAT"})
_SET_EXPIRY = frozenset({b"EX", b"PX", b"EXAT", b"PXAT"})
_NO_DEL = frozenset({b"RENAME", b"RENAMENX", b"EVAL", b"EVALSHA", b"EVAL_RO", b"EVALSHA_RO"})
"""Ops whose deletions are not ``del`` events: RENAME says ``rename_from``; scripts
cause no events here (module docstring)."""


_QUIET = frozenset(
    {
        b"INCR", b"DECR", b"INCRBY", b"DECRBY", b"INCRBYFLOAT", b"APPEND", b"SETRANGE",
        b"SETNX", b"MSETNX", b"GETSET", b"SETBIT", b"PFADD", b"HSET", b"HMSET", b"HSETNX",
        b"HINCRBY", b"HINCRBYFLOAT", b"SADD", b"LPUSH", b"RPUSH", b"LPUSHX", b"RPUSHX",
        b"LSET", b"LINSERT", b"ZADD", b"ZINCRBY", b"XADD", b"PUBLISH", b"MSET",
    }
)  # fmt: skip
"""Writes that never delete a key nor cause a generic event: the common ones, whose ops
need no look at their keys before and after (``Notices.before``). Every other write
gets one; a write missing here is only looked at for nothing."""


@dataclass(slots=True)
class Notices:
    """The events one step's commands cause, for a replica delivering ``flags``."""

    flags: int
    events: list[tuple[int, bytes, bytes]] = field(default_factory=list)
    """(op index, event, key) in the order they happened; index -1: before any op of a
    MULTI (its expired keys are settled up front)."""
    op: int = 0
    """The index of the op running now (a command that is not a MULTI has only op 0)."""

    def expired(self, key: bytes) -> None:
        """``key`` was found expired and deleted."""
        if self.flags & EXPIRED:
            self.events.append((self.op, b"expired", key))

    def before(
        self, kv: KeyValueView, op: tuple[bytes, ...], now_ms: int
    ) -> list[tuple[bytes, int | None]]:
        """The keys ``op`` writes, in argument order, each with its expiry (``None``:
        missing). One still there though expired (an op that overwrites or deletes it
        regardless does not settle it first) is noted ``expired`` and counted missing."""
        name = op[0]
        if name not in WRITES and name.upper() not in WRITES:
            return []  # a read: what it names expired was settled before it
        if name == b"SET" and not _SET_EXPIRY.intersection(arg.upper() for arg in op[3:]):
            if len(op) == 3:  # overwrites what it finds without settling it first
                self._overwritten(kv, op[1:2], now_ms)
            return []  # with options it was settled; without an expiry it is quiet
        if name in _QUIET:
            if name == b"MSET":
                self._overwritten(kv, op[1::2], now_ms)
            return []
        writes = access_of(op).writes
        if not writes:
            return []
        found: list[tuple[bytes, int | None]] = []
        for key in dict.fromkeys(op[1:]):
            if key not in writes:
                continue
            header = kv.header(key)
            if header is not None and is_expired(header, now_ms):
                self.expired(key)
                header = None
            found.append((key, None if header is None else header.expire_ms))
        return found

    def _overwritten(self, kv: KeyValueView, keys: tuple[bytes, ...], now_ms: int) -> None:
        """``keys`` are overwritten without being settled first (``execution._BLIND``): an
        expired one among them is heard ``expired``, as Redis's lookup would say it."""
        if self.flags & EXPIRED and kv.expiry_floor() <= now_ms:
            for key in keys:
                header = kv.header(key)
                if header is not None and is_expired(header, now_ms):
                    self.expired(key)

    def after(
        self,
        kv: KeyValueView,
        op: tuple[bytes, ...],
        reply: Reply,
        before: list[tuple[bytes, int | None]],
    ) -> None:
        """The generic events of ``op``, which answered ``reply``."""
        if not self.flags & GENERIC or type(reply) is Error or not before:
            return
        name = op[0].upper()
        emit = self.events.append
        index = self.op
        if name in (b"RENAME", b"RENAMENX"):
            if reply in (OK, 1) and op[1] != op[2]:
                emit((index, b"rename_from", op[1]))
                emit((index, b"rename_to", op[2]))
            return
        existed = {key: expiry is not None for key, expiry in before}
        deleted = [key for key, was in existed.items() if was and kv.header(key) is None]
        if name not in _NO_DEL:
            for key in deleted:
                emit((index, b"del", key))
        key = op[1]
        gone = key in deleted
        if name in _EXPIRES:
            if reply == 1 and not gone:
                emit((index, b"expire", key))
        elif name in (b"SETEX", b"PSETEX"):
            emit((index, b"expire", key))
        elif name == b"SET":
            options = {arg.upper() for arg in op[3:]}
            done = not (b"NX" in options and existed.get(key)) and not (
                b"XX" in options and not existed.get(key)
            )
            if done and options & _SET_EXPIRY:
                emit((index, b"expire", key))
        elif name == b"GETEX":
            options = {arg.upper() for arg in op[2:]}
            if reply is None or gone:
                return
            if options & _SET_EXPIRY:
                emit((index, b"expire", key))
            elif b"PERSIST" in options and dict(before).get(key):
                emit((index, b"persist", key))
        elif name == b"PERSIST" and reply == 1:
            emit((index, b"persist", key))
        elif name == b"COPY" and reply == 1:
            emit((index, b"copy_to", op[2]))
        elif name == b"RESTORE" and reply == OK:
            emit((index, b"restore", key))

    def published(self) -> dict[int, list[Published]]:
        """The messages of the events, by op index (-1: the settling before a MULTI's
        ops), on the channels ``flags`` asks for, keyspace first as Redis sends them."""
        messages: dict[int, list[Published]] = {}
        for at, event, key in self.events:
            of_op = messages.setdefault(at, [])
            if self.flags & KEYSPACE:
                of_op.append(Published(b"__keyspace@0__:" + key, event))
            if self.flags & KEYEVENT:
                of_op.append(Published(b"__keyevent@0__:" + event, key))
        return messages

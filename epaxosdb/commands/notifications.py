"""Keyspace notifications (Redis's notify.c): every class of Redis 7.0.

Why: clients learn that keys changed or expired without polling — Spring
Session, for one, sets ``notify-keyspace-events Egx`` at start-up and cleans
up sessions when it hears ``del`` and ``expired``; caches listen with ``KEA``
to drop what changed. As PUBLISH is (see ``pubsub``), a notification is
delivered by each replica to its own subscribers as it executes the command
that caused it, so every subscriber of any replica hears the same events in
the same order: the order of execution, which is the same everywhere. Which
ones a replica delivers is its own setting (``CONFIG SET
notify-keyspace-events``), as in Redis, where it is one server's.

The classes are Redis 7.0's, with its events: ``g`` (generic: ``del``,
``expire``, ``persist``, ``rename_from``/``rename_to``, ``copy_to``,
``restore``), the type classes ``$lshzt`` (``set``, ``lpush``, ``hset``,
``sadd``, ``zadd``, ``xadd``, ...: ``event_rules`` says which command causes
which), and ``x`` (``expired``: a key found expired, by a command that names
it or by the replica's expiry sweep), on the ``__keyspace@0__:<key>``
channels (``K``) and ``__keyevent@0__:<event>`` ones (``E``). ``e``victed
and ``d`` (modules) are accepted and never heard, as from a Redis without
``maxmemory`` or modules; ``n`` (``new``: a key an op created, heard just before
the first event that names it, as Redis says it when it adds the key) is
delivered; ``m`` (``keymiss``: a read looked a key up and found none, as
``tally`` counts ``keyspace_misses``) is heard only from the replica where the
read ran — the one its client is connected to, since only it runs a read.
A script's commands cause theirs as they run (``scripting`` tells ``Notices``).

How events are found: ``Notices.before`` notes which keys an op writes exist
(after the expired ones among them were deleted: ``expired``), and, for the
few rules that need it, what the rule looks at; ``Notices.after`` asks the
op's rule what it caused, and adds ``del`` for each key the op deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from protocol.replies import Error, Published, Reply
from storage.interface import KeyValueView

from .access import access_of
from .event_rules import (
    EVICTED,
    EXPIRED,
    GENERIC,
    HASH,
    KEY_MISS,
    LIST,
    MODULE,
    NEW,
    RULES,
    SET,
    SET_EXPIRY,
    STREAM,
    STRING,
    TYPES,
    ZSET,
    Event,
    Outcome,
)
from .table import WRITES
from .values import is_expired

KEYSPACE = 1 << 10
KEYEVENT = 1 << 11

_CLASS_CHARS = (
    ("g", GENERIC), ("$", STRING), ("l", LIST), ("s", SET), ("h", HASH), ("z", ZSET),
    ("x", EXPIRED), ("e", EVICTED), ("t", STREAM), ("d", MODULE),
)  # fmt: skip
"""The class characters in the order ``keyspaceEventsFlagsToString`` writes them."""
ALL = GENERIC | TYPES | EXPIRED | EVICTED | MODULE
"""``A``: every class but ``n`` and ``m``."""
_CLASSES = {
    **dict(_CLASS_CHARS), "n": NEW, "m": KEY_MISS, "A": ALL, "K": KEYSPACE, "E": KEYEVENT
}  # fmt: skip

INVALID = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
"""Redis's reason for a character that is no class at all."""


def parse_flags(text: str) -> int | str:
    """The flags ``notify-keyspace-events`` is set to, or why it cannot be."""
    flags = 0
    for char in text:
        if char in _CLASSES:
            flags |= _CLASSES[char]
        else:
            return INVALID
    return flags


def format_flags(flags: int) -> str:
    """``keyspaceEventsFlagsToString``: ``A`` or the classes, then ``K`` and ``E`` (``n``
    only after the classes: with ``A`` it is not written, as in Redis 7.0)."""
    classes = "".join(char for char, bit in _CLASS_CHARS if flags & bit)
    text = "A" if flags & ALL == ALL else classes + "n" * bool(flags & NEW)
    keys = "K" * bool(flags & KEYSPACE) + "E" * bool(flags & KEYEVENT)
    return text + keys + "m" * bool(flags & KEY_MISS)


def delivered(flags: int) -> bool:
    """Whether anything is ever delivered with these flags (a class and a channel kind)."""
    return bool(flags & (ALL | NEW | KEY_MISS)) and bool(flags & (KEYSPACE | KEYEVENT))


_SCRIPTS = frozenset(
    {b"EVAL", b"EVALSHA", b"EVAL_RO", b"EVALSHA_RO", b"FCALL", b"FCALL_RO"}
)
"""A script's own op causes nothing: the commands it runs cause their events."""
_SUB_WRITERS = frozenset({b"XGROUP"})
"""Containers with subcommands that write (and cause events)."""


_QUIET = frozenset(
    {
        b"INCR", b"DECR", b"INCRBY", b"DECRBY", b"INCRBYFLOAT", b"APPEND", b"SETRANGE",
        b"SETNX", b"MSETNX", b"GETSET", b"SETBIT", b"PFADD", b"HSET", b"HMSET", b"HSETNX",
        b"HINCRBY", b"HINCRBYFLOAT", b"SADD", b"LPUSH", b"RPUSH", b"LPUSHX", b"RPUSHX",
        b"LSET", b"LINSERT", b"ZADD", b"ZINCRBY", b"XADD", b"PUBLISH", b"MSET",
    }
)  # fmt: skip
"""Writes that never delete a key nor cause a generic event: the common ones, whose ops
need no look at their keys before and after (``Notices.before``), and none at all when
their own class is not delivered. Every other write gets one; a write missing here is
only looked at for nothing."""


class Prior(NamedTuple):
    """What ``Notices.before`` saw of an op's keys, for ``Notices.after``."""

    expiries: dict[bytes, int | None]
    """The keys the op writes, in argument order, each with its expiry (``None``:
    missing); empty for a quiet op."""
    state: object
    """What the op's rule looked at (``Rule.prior``), if it did."""
    now_ms: int


@dataclass(slots=True)
class Notices:
    """The events one step's commands cause, for a replica delivering ``flags``."""

    flags: int
    events: list[tuple[int, bytes, bytes]] = field(default_factory=list)
    """(op index, event, key) in the order they happened; index -1: before any op of a
    MULTI (its expired keys are settled up front)."""
    op: int = 0
    """The index of the op running now (a command that is not a MULTI has only op 0)."""

    def missed(self, keys: list[bytes]) -> None:
        """The op running looked ``keys`` up for reading and found none (``keymiss``: only
        where its handlers run, the replica its client is connected to); taken, so the
        list is empty for the next op."""
        if self.flags & KEY_MISS:
            self.events += [(self.op, b"keymiss", key) for key in keys]
        keys.clear()

    def expired(self, key: bytes) -> None:
        """``key`` was found expired and deleted."""
        if self.flags & EXPIRED:
            self.events.append((self.op, b"expired", key))

    def before(self, kv: KeyValueView, op: tuple[bytes, ...], now_ms: int) -> Prior | None:
        """What ``after`` needs to know of ``op``'s keys, looked at before it runs (``None``:
        it causes no event this replica delivers). A written key still there though
        expired (an op that overwrites or deletes it regardless does not settle it
        first) is noted ``expired`` and counted missing."""
        name = op[0] if op[0] in WRITES else op[0].upper()
        if name not in WRITES and name not in _SUB_WRITERS:
            return None  # a read: what it names expired was settled before it
        if name in _SCRIPTS:
            return None
        rule = RULES.get(name)
        wanted = 0 if rule is None else self.flags & rule.classes
        state = None
        if wanted & TYPES and rule is not None and rule.prior is not None:
            state = rule.prior(kv, op, now_ms)
        if self.flags & NEW:
            pass  # which keys an op creates: every write is looked at before and after
        elif name == b"SET" and not SET_EXPIRY.intersection(arg.upper() for arg in op[3:]):
            if len(op) == 3:  # overwrites what it finds without settling it first
                self._overwritten(kv, op[1:2], now_ms)
                return Prior({}, state, now_ms) if wanted else None
            if not wanted:
                return None  # with options it was settled; without an expiry it is quiet
        elif name in _QUIET:
            if name == b"MSET":
                self._overwritten(kv, op[1::2], now_ms)
            return Prior({}, state, now_ms) if wanted else None
        writes = access_of(op).writes
        if not writes:
            return None
        found: dict[bytes, int | None] = {}
        for key in op[1:]:
            if key not in writes or key in found:
                continue
            header = kv.header(key)
            if header is not None and is_expired(header, now_ms):
                self.expired(key)
                header = None
            found[key] = None if header is None else header.expire_ms
        return Prior(found, state, now_ms)

    def _overwritten(self, kv: KeyValueView, keys: tuple[bytes, ...], now_ms: int) -> None:
        """``keys`` are overwritten without being settled first (``execution._BLIND``): an
        expired one among them is heard ``expired``, as Redis's lookup would say it."""
        if self.flags & EXPIRED and kv.expiry_floor() <= now_ms:
            for key in keys:
                header = kv.header(key)
                if header is not None and is_expired(header, now_ms):
                    self.expired(key)

    def after(
        self, kv: KeyValueView, op: tuple[bytes, ...], reply: Reply, prior: Prior | None
    ) -> None:
        """The events of ``op``, which answered ``reply``."""
        if prior is None or type(reply) is Error:
            return
        name = op[0] if op[0] in RULES else op[0].upper()
        rule = RULES.get(name)
        expiries = prior.expiries
        deleted = [
            key for key, expiry in expiries.items() if expiry is not None and kv.header(key) is None
        ]
        events: list[Event] = []
        if rule is not None and self.flags & (rule.classes | NEW):  # new needs its order
            outcome = Outcome(kv, op, reply, expiries, deleted, prior.state, prior.now_ms)
            events = rule.events(outcome)
        if rule is None or not rule.own_del:
            events.extend((GENERIC, b"del", key) for key in deleted)
        if self.flags & NEW:
            events = _with_new(name, op, events, kv, expiries)
        flags, index, emit = self.flags, self.op, self.events.append
        for cls, event, key in events:
            if flags & cls:
                emit((index, event, key))

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


_REPLACING = {b"RENAME": 2, b"RENAMENX": 2, b"COPY": 2, b"RESTORE": 1}
"""Ops that put a new key in the place of what their destination (this argument) held."""
_REPLACED_BY = frozenset({b"rename_to", b"copy_to", b"restore"})
"""The events saying such an op did it."""


def _with_new(
    name: bytes,
    op: tuple[bytes, ...],
    events: list[Event],
    kv: KeyValueView,
    expiries: dict[bytes, int | None],
) -> list[Event]:
    """``events`` with ``new`` for each key the op created, where Redis says it (when it
    adds the key): just before the first event naming the key, or, for RENAME, first
    of all; a created key no event names hears it last."""
    created = [key for key, expiry in expiries.items() if expiry is None and kv.header(key)]
    replaced = _REPLACING.get(name)
    if replaced is not None and any(event[1] in _REPLACED_BY for event in events):
        # Redis deletes what the destination held and adds the key anew.
        created = [op[replaced], *(key for key in created if key != op[replaced])]
    if not created:
        return events
    if name in (b"RENAME", b"RENAMENX"):
        return [(NEW, b"new", key) for key in created] + events
    waiting = dict.fromkeys(created)
    out: list[Event] = []
    for event in events:
        key = event[2]
        if key in waiting:
            del waiting[key]
            out.append((NEW, b"new", key))
        out.append(event)
    out.extend((NEW, b"new", key) for key in waiting)
    return out

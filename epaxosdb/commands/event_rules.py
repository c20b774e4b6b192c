"""Which keyspace events each write causes: Redis 7.0's ``notifyKeyspaceEvent`` calls, as rules.

Why rules read from outside instead of calls made by the handlers: handlers stay
pure functions of (view, op) to reply, and a replica whose subscribers want no
events pays nothing for them. What Redis says is read from what an op did: its
reply, which of the keys it writes existed before and after it, and, for the
few commands whose reply does not tell, a look at the key just before the op
(``Rule.prior``: did ZADD change a score, did SETBIT grow the string, did XADD
trim, is XREADGROUP's consumer new), taken only when a subscriber's classes ask
for that rule's events.

Each rule gives its events in the order Redis sends them; ``del`` of a key the
op deleted follows them (an emptied list after its ``lpop``), unless the rule
places it itself (SMOVE: ``srem``, then ``del`` of the source, then ``sadd``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

from protocol.replies import OK, Error, NullArray, Pairs, Reply, Set
from storage.interface import KeyValueView

from .integers import parse_ll
from .sets import SETS
from .streams import STREAMS
from .zsets import ZSETS

GENERIC = 1 << 0
STRING = 1 << 1
LIST = 1 << 2
SET = 1 << 3
HASH = 1 << 4
ZSET = 1 << 5
EXPIRED = 1 << 6
EVICTED = 1 << 7
STREAM = 1 << 8
MODULE = 1 << 9
NEW = 1 << 12
KEY_MISS = 1 << 13
TYPES = STRING | LIST | SET | HASH | ZSET | STREAM
"""The classes of the events that name a value's type (``$lshzt``)."""

Op = tuple[bytes, ...]
Event = tuple[int, bytes, bytes]
"""(class, event, key)."""


@dataclass(slots=True)
class Outcome:
    """What one op did, for its rule."""

    kv: KeyValueView
    op: Op
    reply: Reply
    expiries: dict[bytes, int | None]
    """Each key the op writes (when they were looked at before): its expiry before the op
    (0: none), ``None`` when it did not exist."""
    deleted: list[bytes]
    """The keys that existed before the op and do not after it."""
    prior: object
    """What the rule's ``prior`` saw before the op (``None`` when it has none, or when
    nobody asked for its class)."""
    now_ms: int


class Rule(NamedTuple):
    events: Callable[[Outcome], list[Event]]
    classes: int
    """Every class ``events`` may give: a replica delivering none of them skips the rule."""
    prior: Callable[[KeyValueView, Op, int], object] | None = None
    own_del: bool = False
    """The rule gives the ``del`` events itself (or, RENAME, says the deletion otherwise)."""


def _positive(reply: Reply) -> bool:
    return type(reply) is int and reply > 0


def got(reply: Reply) -> bool:
    """Whether a pop (or XADD) answered something: not nil, not an empty array."""
    if reply is None or type(reply) is NullArray:
        return False
    if isinstance(reply, (list, tuple)):
        return bool(reply)
    if isinstance(reply, (Pairs, Set)):
        return bool(reply.items)
    return True


def _on(cls: int, event: bytes, when: Callable[[Reply], bool], at: int = 1) -> Rule:
    """An event on the op's key (argument ``at``) when its reply says it did something:
    ``_always`` (HSET says ``hset`` changing nothing), ``_positive`` (a count above zero:
    SADD of new members), ``got`` (a pop that popped), ``_one`` (SETNX that set)."""
    return Rule(lambda out: [(cls, event, out.op[at])] if when(out.reply) else [], cls)


def _always(reply: Reply) -> bool:
    return True


def _on_existing(cls: int, event: bytes) -> Rule:
    """An event on the op's key when the key was there: LTRIM of no key answers OK as it
    does of a list, and says nothing."""
    return Rule(
        lambda out: [(cls, event, out.op[1])] if out.expiries.get(out.op[1]) is not None else [],
        cls,
    )


def _one(reply: Reply) -> bool:
    return reply == 1


def _popped_named(cls: int, event: bytes) -> Rule:
    """A blocking pop's event on the key its reply names (BLPOP, BZPOPMIN)."""
    return Rule(lambda out: [(cls, event, _named(out.reply))] if got(out.reply) else [], cls)


def _named(reply: Reply) -> bytes:
    assert isinstance(reply, (list, tuple)) and isinstance(reply[0], bytes)
    return reply[0]


def _stored(cls: int, event: bytes) -> Rule:
    """A STORE's event on its destination when it holds a result (an empty result deletes
    the destination instead: ``del``, as any deletion)."""

    def events(out: Outcome) -> list[Event]:
        return [(cls, event, key) for key in out.expiries if out.kv.header(key) is not None]

    return Rule(events, cls)


def _mpop(cls: int, first_key: int, sides: dict[bytes, bytes]) -> Rule:
    """LMPOP, ZMPOP and their blocking twins: the side follows the keys, whose count is
    the argument before them; the key popped from is the reply's first element."""

    def events(out: Outcome) -> list[Event]:
        if not got(out.reply):
            return []
        count = parse_ll(out.op[first_key - 1]) or 0
        side = out.op[first_key + count].upper()
        return [(cls, sides[side], _named(out.reply))]

    return Rule(events, cls)


def _move(from_at: int | None, to_at: int | None) -> Rule:
    """LMOVE and friends: the push onto the destination, then the pop from the source
    (an argument index gives each side; ``None``: RPOPLPUSH's fixed right, then left)."""

    def side(out: Outcome, at: int | None, default: bytes) -> bytes:
        return default if at is None else out.op[at].upper()

    def events(out: Outcome) -> list[Event]:
        if not got(out.reply):
            return []
        push = b"lpush" if side(out, to_at, b"LEFT") == b"LEFT" else b"rpush"
        pop = b"lpop" if side(out, from_at, b"RIGHT") == b"LEFT" else b"rpop"
        return [(LIST, push, out.op[2]), (LIST, pop, out.op[1])]

    return Rule(events, LIST)


# --- strings ----------------------------------------------------------------------------

SET_EXPIRY = frozenset({b"EX", b"PX", b"EXAT", b"PXAT"})
"""SET's and GETEX's options that give a time to live."""


def _set(out: Outcome) -> list[Event]:
    """SET: ``set``, then ``expire`` when it set a time to live; one already past leaves
    nothing stored (Redis keeps the key until it finds it expired: ``expired``)."""
    key = out.op[1]
    if len(out.op) == 3:
        return [(STRING, b"set", key)]
    options = {arg.upper() for arg in out.op[3:]}
    existed = out.expiries.get(key) is not None
    if (b"NX" in options and existed) or (b"XX" in options and not existed):
        return []
    events: list[Event] = [(STRING, b"set", key)]
    if options & SET_EXPIRY:
        events.append((GENERIC, b"expire", key))
        if key in out.deleted or (not existed and out.kv.header(key) is None):
            events.append((EXPIRED, b"expired", key))
    return events


def _set_with_expiry(out: Outcome) -> list[Event]:
    return [(STRING, b"set", out.op[1]), (GENERIC, b"expire", out.op[1])]


def _mset(out: Outcome) -> list[Event]:
    return [(STRING, b"set", key) for key in out.op[1::2]]


def _msetnx(out: Outcome) -> list[Event]:
    return _mset(out) if out.reply == 1 else []


def _setrange(out: Outcome) -> list[Event]:
    """An empty value changes nothing (not even a missing key, which stays missing)."""
    return [(STRING, b"setrange", out.op[1])] if out.op[3] else []


def _string_size(kv: KeyValueView, op: Op, now_ms: int) -> object:
    header = kv.header(op[1])
    return None if header is None else header.size


def _setbit(out: Outcome) -> list[Event]:
    """``setbit`` when the key is new, the string grew, or the bit changed."""
    header = out.kv.header(out.op[1])
    size_before = out.prior
    changed = (
        size_before is None
        or header is None
        or header.size != size_before
        or out.reply != (out.op[3] == b"1")
    )
    return [(STRING, b"setbit", out.op[1])] if changed else []


_BITFIELD_WIDTHS = {b"GET": 3, b"SET": 4, b"INCRBY": 4, b"OVERFLOW": 2}


def _bitfield(out: Outcome) -> list[Event]:
    """``setbit`` when a SET or INCRBY did write (an INCRBY that overflowed with FAIL did
    not: its reply is nil)."""
    replies = out.reply if isinstance(out.reply, list) else []
    at, answered = 2, 0
    while at < len(out.op):
        sub = out.op[at].upper()
        width = _BITFIELD_WIDTHS.get(sub, len(out.op))
        if sub != b"OVERFLOW":
            if sub != b"GET" and answered < len(replies) and replies[answered] is not None:
                return [(STRING, b"setbit", out.op[1])]
            answered += 1
        at += width
    return []


# --- sets -------------------------------------------------------------------------------


def _member_of_destination(kv: KeyValueView, op: Op, now_ms: int) -> object:
    members = SETS.load_shared(kv, op[2], now_ms)
    return isinstance(members, dict) and op[3] in members


def _smove(out: Outcome) -> list[Event]:
    """``srem`` from the source, ``del`` if that emptied it, ``sadd`` to the destination
    unless the member was there already; moving within one set says nothing."""
    source, destination = out.op[1], out.op[2]
    if out.reply != 1 or source == destination:
        return []
    events: list[Event] = [(SET, b"srem", source)]
    if source in out.deleted:
        events.append((GENERIC, b"del", source))
    if out.prior is not True:
        events.append((SET, b"sadd", destination))
    return events


# --- sorted sets ------------------------------------------------------------------------

_ZADD_OPTIONS = frozenset({b"NX", b"XX", b"GT", b"LT", b"CH", b"INCR"})


def _scores_named(kv: KeyValueView, op: Op, now_ms: int) -> object:
    """The score of every argument after the key (members and numbers alike: a number
    that is no member stays absent either side)."""
    scores = ZSETS.load_shared(kv, op[1], now_ms)
    if not isinstance(scores, dict):
        return None
    return {arg: scores.get(arg) for arg in op[2:]}


def _score_changed(out: Outcome) -> bool:
    """Whether a member was added or its score changed (ZADD's ``added || updated``)."""
    before = out.prior
    if not isinstance(before, dict):
        return False
    after = ZSETS.load_shared(out.kv, out.op[1], out.now_ms)
    if not isinstance(after, dict):
        return False
    return any(after.get(arg) != score for arg, score in before.items())


def _zadd(out: Outcome) -> list[Event]:
    options = set()
    for arg in out.op[2:]:
        if arg.upper() not in _ZADD_OPTIONS:
            break
        options.add(arg.upper())
    if not _score_changed(out):
        return []
    return [(ZSET, b"zincr" if b"INCR" in options else b"zadd", out.op[1])]


def _scored(event: bytes) -> Rule:
    """ZINCRBY and GEOADD: their event when a score changed."""
    return Rule(
        lambda out: [(ZSET, event, out.op[1])] if _score_changed(out) else [], ZSET, _scores_named
    )


# --- streams ----------------------------------------------------------------------------


def _stream_length(kv: KeyValueView, op: Op, now_ms: int) -> object:
    stream = STREAMS.load_shared(kv, op[1], now_ms)
    return None if isinstance(stream, Error) else len(stream.entries)


def _xadd(out: Outcome) -> list[Event]:
    """``xadd``, then ``xtrim`` when its MAXLEN or MINID removed entries."""
    if not got(out.reply):
        return []
    events: list[Event] = [(STREAM, b"xadd", out.op[1])]
    length_before = out.prior
    if isinstance(length_before, int):
        stream = STREAMS.load_shared(out.kv, out.op[1], out.now_ms)
        if not isinstance(stream, Error) and len(stream.entries) <= length_before:
            events.append((STREAM, b"xtrim", out.op[1]))
    return events


def _consumer_places(op: Op) -> tuple[bytes, bytes, Iterable[bytes]]:
    """(group, consumer, stream keys) of XREADGROUP, XCLAIM or XAUTOCLAIM."""
    if op[0].upper().startswith(b"XREADGROUP"):
        uppers = [arg.upper() for arg in op]
        streams = uppers.index(b"STREAMS", 4) if b"STREAMS" in uppers[4:] else len(op)
        keys = op[streams + 1 :]
        return op[2], op[3], keys[: len(keys) // 2]
    return op[2], op[3], (op[1],)


def _consumers_known(kv: KeyValueView, op: Op, now_ms: int) -> object:
    group, consumer, keys = _consumer_places(op)
    return {key: _has_consumer(kv, key, group, consumer, now_ms) for key in keys}


def _has_consumer(kv: KeyValueView, key: bytes, group: bytes, consumer: bytes, now_ms: int) -> bool:
    stream = STREAMS.load_shared(kv, key, now_ms)
    if isinstance(stream, Error):
        return False
    found = stream.groups.get(group)
    return found is not None and consumer in found.consumers


def _consumer_created(out: Outcome) -> list[Event]:
    """``xgroup-createconsumer`` for each stream where the op made the consumer."""
    if not isinstance(out.prior, dict):
        return []
    group, consumer, _ = _consumer_places(out.op)
    return [
        (STREAM, b"xgroup-createconsumer", key)
        for key, known in out.prior.items()
        if not known and _has_consumer(out.kv, key, group, consumer, out.now_ms)
    ]


def _deleted_consumer_known(kv: KeyValueView, op: Op, now_ms: int) -> object:
    """Whether XGROUP DELCONSUMER's consumer exists (it answers 0 either way when it held
    nothing pending, and Redis says ``xgroup-delconsumer`` only for one it deleted)."""
    if op[1].upper() != b"DELCONSUMER" or len(op) != 5:
        return None
    return _has_consumer(kv, op[2], op[3], op[4], now_ms)


def _xgroup(out: Outcome) -> list[Event]:
    sub = out.op[1].upper()
    if (
        sub in (b"CREATE", b"SETID")
        or (sub in (b"CREATECONSUMER", b"DESTROY") and out.reply == 1)
        or (sub == b"DELCONSUMER" and out.prior is not False)
    ):
        return [(STREAM, b"xgroup-" + sub.lower(), out.op[2])]
    return []


# --- generic ----------------------------------------------------------------------------


def _expire(out: Outcome) -> list[Event]:
    """``expire`` when a time to live was set; one in the past deleted the key (``del``)."""
    key = out.op[1]
    return [(GENERIC, b"expire", key)] if out.reply == 1 and key not in out.deleted else []


def _getex(out: Outcome) -> list[Event]:
    key = out.op[1]
    if out.reply is None or key in out.deleted:
        return []
    options = {arg.upper() for arg in out.op[2:]}
    if options & SET_EXPIRY:
        return [(GENERIC, b"expire", key)]
    if b"PERSIST" in options and out.expiries.get(key):
        return [(GENERIC, b"persist", key)]
    return []


def _rename(out: Outcome) -> list[Event]:
    if out.reply in (OK, 1) and out.op[1] != out.op[2]:
        return [(GENERIC, b"rename_from", out.op[1]), (GENERIC, b"rename_to", out.op[2])]
    return []


_POP_SIDES = {b"LEFT": b"lpop", b"RIGHT": b"rpop"}
_ZPOP_SIDES = {b"MIN": b"zpopmin", b"MAX": b"zpopmax"}

RULES: dict[bytes, Rule] = {
    b"SET": Rule(_set, STRING | GENERIC | EXPIRED, own_del=True),
    b"SETNX": _on(STRING, b"set", _one),
    b"SETEX": Rule(_set_with_expiry, STRING | GENERIC),
    b"PSETEX": Rule(_set_with_expiry, STRING | GENERIC),
    b"MSET": Rule(_mset, STRING),
    b"MSETNX": Rule(_msetnx, STRING),
    b"GETSET": _on(STRING, b"set", _always),
    b"GETEX": Rule(_getex, GENERIC),
    b"SETRANGE": Rule(_setrange, STRING),
    b"INCR": _on(STRING, b"incrby", _always),
    b"DECR": _on(STRING, b"incrby", _always),
    b"INCRBY": _on(STRING, b"incrby", _always),
    b"DECRBY": _on(STRING, b"incrby", _always),
    b"INCRBYFLOAT": _on(STRING, b"incrbyfloat", _always),
    b"APPEND": _on(STRING, b"append", _always),
    b"SETBIT": Rule(_setbit, STRING, _string_size),
    b"BITFIELD": Rule(_bitfield, STRING),
    b"BITOP": _stored(STRING, b"set"),
    b"PFADD": _on(STRING, b"pfadd", _one),
    b"PFMERGE": _on(STRING, b"pfadd", _always),
    b"LPUSH": _on(LIST, b"lpush", _always),
    b"RPUSH": _on(LIST, b"rpush", _always),
    b"LPUSHX": _on(LIST, b"lpush", _positive),
    b"RPUSHX": _on(LIST, b"rpush", _positive),
    b"LINSERT": _on(LIST, b"linsert", _positive),
    b"LSET": _on(LIST, b"lset", _always),
    b"LREM": _on(LIST, b"lrem", _positive),
    b"LTRIM": _on_existing(LIST, b"ltrim"),
    b"LPOP": _on(LIST, b"lpop", got),
    b"RPOP": _on(LIST, b"rpop", got),
    b"BLPOP": _popped_named(LIST, b"lpop"),
    b"BRPOP": _popped_named(LIST, b"rpop"),
    b"LMPOP": _mpop(LIST, 2, _POP_SIDES),
    b"BLMPOP": _mpop(LIST, 3, _POP_SIDES),
    b"LMOVE": _move(3, 4),
    b"BLMOVE": _move(3, 4),
    b"RPOPLPUSH": _move(None, None),
    b"BRPOPLPUSH": _move(None, None),
    b"SORT": _stored(LIST, b"sortstore"),
    b"HSET": _on(HASH, b"hset", _always),
    b"HMSET": _on(HASH, b"hset", _always),
    b"HSETNX": _on(HASH, b"hset", _one),
    b"HINCRBY": _on(HASH, b"hincrby", _always),
    b"HINCRBYFLOAT": _on(HASH, b"hincrbyfloat", _always),
    b"HDEL": _on(HASH, b"hdel", _positive),
    b"SADD": _on(SET, b"sadd", _positive),
    b"SREM": _on(SET, b"srem", _positive),
    b"SPOP": _on(SET, b"spop", got),
    b"SMOVE": Rule(_smove, SET | GENERIC, _member_of_destination, own_del=True),
    b"SINTERSTORE": _stored(SET, b"sinterstore"),
    b"SUNIONSTORE": _stored(SET, b"sunionstore"),
    b"SDIFFSTORE": _stored(SET, b"sdiffstore"),
    b"ZADD": Rule(_zadd, ZSET, _scores_named),
    b"ZINCRBY": _scored(b"zincr"),
    b"GEOADD": _scored(b"zadd"),
    b"ZREM": _on(ZSET, b"zrem", _positive),
    b"ZREMRANGEBYSCORE": _on(ZSET, b"zremrangebyscore", _positive),
    b"ZREMRANGEBYRANK": _on(ZSET, b"zremrangebyrank", _positive),
    b"ZREMRANGEBYLEX": _on(ZSET, b"zremrangebylex", _positive),
    b"ZPOPMIN": _on(ZSET, b"zpopmin", got),
    b"ZPOPMAX": _on(ZSET, b"zpopmax", got),
    b"BZPOPMIN": _popped_named(ZSET, b"zpopmin"),
    b"BZPOPMAX": _popped_named(ZSET, b"zpopmax"),
    b"ZMPOP": _mpop(ZSET, 2, _ZPOP_SIDES),
    b"BZMPOP": _mpop(ZSET, 3, _ZPOP_SIDES),
    b"ZUNIONSTORE": _stored(ZSET, b"zunionstore"),
    b"ZINTERSTORE": _stored(ZSET, b"zinterstore"),
    b"ZDIFFSTORE": _stored(ZSET, b"zdiffstore"),
    b"ZRANGESTORE": _stored(ZSET, b"zrangestore"),
    b"GEORADIUS": _stored(ZSET, b"georadiusstore"),
    b"GEORADIUSBYMEMBER": _stored(ZSET, b"georadiusstore"),
    b"GEOSEARCHSTORE": _stored(ZSET, b"geosearchstore"),
    b"XADD": Rule(_xadd, STREAM, _stream_length),
    b"XTRIM": _on(STREAM, b"xtrim", _positive),
    b"XDEL": _on(STREAM, b"xdel", _positive),
    b"XSETID": _on(STREAM, b"xsetid", _always),
    b"XGROUP": Rule(_xgroup, STREAM, _deleted_consumer_known),
    b"XREADGROUP": Rule(_consumer_created, STREAM, _consumers_known),
    b"XCLAIM": Rule(_consumer_created, STREAM, _consumers_known),
    b"XAUTOCLAIM": Rule(_consumer_created, STREAM, _consumers_known),
    b"EXPIRE": Rule(_expire, GENERIC),
    b"PEXPIRE": Rule(_expire, GENERIC),
    b"EXPIREAT": Rule(_expire, GENERIC),
    b"PEXPIREAT": Rule(_expire, GENERIC),
    b"PERSIST": _on(GENERIC, b"persist", _one),
    b"COPY": _on(GENERIC, b"copy_to", _one, at=2),
    b"RESTORE": _on(GENERIC, b"restore", lambda reply: reply == OK),
    b"RENAME": Rule(_rename, GENERIC, own_del=True),
    b"RENAMENX": Rule(_rename, GENERIC, own_del=True),
}
"""Every write that causes more than ``del`` of the keys it deleted (which every write
but these ``own_del`` ones causes)."""

for _name in (b"BLPOP", b"BRPOP", b"BLMPOP", b"BLMOVE", b"BRPOPLPUSH", b"BZPOPMIN",
              b"BZPOPMAX", b"BZMPOP", b"XREADGROUP"):  # fmt: skip
    RULES[_name + b"_RETRY"] = RULES[_name]  # a blocked client's later attempts

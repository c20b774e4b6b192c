"""What the blocking commands share: their timeout, and what a blocked client waits for.

BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP (lists), BZPOPMIN, BZPOPMAX,
BZMPOP (sorted sets), XREAD BLOCK and XREADGROUP BLOCK (streams) execute as one *attempt*
each: the command as Redis runs it inside MULTI, which pops (or reads) if it
can and otherwise answers "empty" and changes nothing. The waiting between
attempts is the front end's (``epaxosdb.runtime.blocking``); what it needs to
know about a command — whether it waits at all (XREAD without BLOCK does
not), which keys to watch, which reply means "nothing popped", what to
answer when the time is up, how long that is, whether an attempt takes
what it finds (a pop, XREADGROUP) or only reads it (XREAD), and which op the
attempts after the first propose — is ``blocking_wait``'s answer, so the
runtime never looks inside the arguments itself.

The attempts after the first are internal twins of the command (``BLPOP_RETRY``...,
``retry_handler``; XREADGROUP has its own, see ``groups``), because Redis serves a
blocked client differently from how it runs the command: a key that turned into
another type while the client waited is passed over, not answered with WRONGTYPE
(the client keeps waiting on it, and is served from another of its keys that gets
an element), while BLMOVE's *destination* of another type still ends the wait with
WRONGTYPE once the source has an element — which stays in the source. The front
end asks that of the state it has executed before each later attempt
(``BlockingWait.refusal``), since another client's pop may run before the attempt.

The timeout is checked by ``prepare``, before anything is proposed, in the
place Redis checks it: first for the commands that take it last, only after
``numkeys``, the side and COUNT for BZMPOP and BLMPOP, which take it first.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import NamedTuple

from protocol.replies import NULL_ARRAY, Error, Reply
from storage.interface import KeyValueView, ValueType

from . import extended, groups, streams
from .containers import BLOCKING_MPOPS, mpop_request
from .errors import WRONGTYPE
from .integers import LLONG_MAX, parse_ll
from .spec import Handler, Prepare
from .values import live_header

TIMEOUT_NOT_FLOAT = Error("ERR timeout is not a float or out of range")
TIMEOUT_NEGATIVE = Error("ERR timeout is negative")

_ONE_SOURCE = frozenset({b"BLMOVE", b"BRPOPLPUSH"})
"""``source destination ... timeout``: only the source can let an attempt move an element,
and an attempt that finds it empty answers LMOVE's null bulk string."""


def parse_timeout(raw: bytes) -> int | Error:
    """A blocking command's timeout in ms (0: wait forever), read as Redis 7.0 reads it:
    ``strtold`` seconds, times 1000 as ``long double``, rounded *up* (``ceill``) and cast
    to ``long long`` — a value beyond that type (infinity included) casts to its minimum
    on x86-64, so it counts as negative. Rounding up matters: ``0.0001`` is 1 ms, not 0,
    which would mean waiting for ever."""
    seconds = extended.parse(raw)
    if seconds is None:
        return TIMEOUT_NOT_FLOAT
    if isinstance(seconds, float):
        return TIMEOUT_NEGATIVE
    product = extended.round_long_double(seconds * 1000)
    if isinstance(product, float):
        return TIMEOUT_NEGATIVE
    ms = math.ceil(product)
    if ms < 0 or ms > LLONG_MAX:
        return TIMEOUT_NEGATIVE
    return ms


class BlockingWait(NamedTuple):
    """What a blocked command waits for between attempts."""

    keys: tuple[bytes, ...]
    """The keys whose change may let an attempt pop."""
    empty: Reply
    """What an attempt that found nothing answers (what it answers inside MULTI)."""
    timed_out: Reply
    """The reply when the wait times out: the null array, for every blocking command."""
    timeout_ms: int
    """0: wait for ever."""
    consumes: bool = True
    """Whether an attempt takes what it finds (a pop), so that one write should wake one
    waiter; XREAD only reads, and every reader of a written stream is woken."""
    retry: tuple[bytes, ...] | None = None
    """The op of every attempt after the first (``None``: the same op)."""
    refusal: Callable[[KeyValueView, int], Error | None] | None = None
    """For a waiter that Redis can answer without taking anything (``refused_when_served``):
    that answer in the state given at the time given, else ``None``."""


def blocking_wait(op: tuple[bytes, ...]) -> BlockingWait | None:
    """The wait of a prepared blocking op (its ``prepare`` accepted its timeout and, for
    BZMPOP and BLMPOP, its ``numkeys``); ``None`` for an XREAD or XREADGROUP without
    BLOCK, which runs once like any other command."""
    name = op[0]
    if name == b"XREAD":
        read = streams.read_wait(op)
        if read is None:
            return None
        keys, timeout_ms = read
        return BlockingWait(
            keys, NULL_ARRAY, NULL_ARRAY, timeout_ms, consumes=False,
            retry=(retry_name(name), *op[1:]),
        )
    if name == b"XREADGROUP":
        group_read = groups.readgroup_wait(op)
        if group_read is None:
            return None
        keys, timeout_ms, retry = group_read
        return BlockingWait(keys, NULL_ARRAY, NULL_ARRAY, timeout_ms, retry=retry)
    empty: Reply = NULL_ARRAY
    if name in BLOCKING_MPOPS:
        raw_timeout, (keys, _) = op[1], _mpop_keys(op)
    elif name in _ONE_SOURCE:
        raw_timeout, keys, empty = op[-1], (op[1],), None
    else:  # BLPOP, BRPOP, BZPOPMIN, BZPOPMAX: key... timeout
        raw_timeout, keys = op[-1], op[1:-1]
    timeout = parse_timeout(raw_timeout)
    assert not isinstance(timeout, Error), "prepare refused this op"
    refusal = partial(refused_when_served, op[1], op[2]) if name in _ONE_SOURCE else None
    return BlockingWait(
        keys, empty, NULL_ARRAY, timeout, retry=(retry_name(name), *op[1:]), refusal=refusal
    )


def refused_when_served(
    source: bytes, destination: bytes, kv: KeyValueView, now_ms: int
) -> Error | None:
    """What Redis answers a client blocked in BLMOVE or BRPOPLPUSH the moment ``source``
    can serve it, when that answer moves nothing: WRONGTYPE if ``destination`` holds
    another type (the element stays in the source); ``None`` when it would move one.

    Redis serves a blocked client right after the command that pushed, before any
    other client's command; here the client's next attempt is a command of its own,
    and another client may pop the element first. Asked of the state the replica has
    executed whenever the waiter is told of a change, this answers it as Redis would
    have, unless that other pop ran in the very loop turn of the push."""
    held = live_header(kv, source, now_ms)
    if held is None or held.type != ValueType.LIST:
        return None
    target = live_header(kv, destination, now_ms)
    if target is None or target.type == ValueType.LIST:
        return None
    return WRONGTYPE


def undo_pop(op: tuple[bytes, ...], reply: Reply) -> tuple[bytes, ...] | None:
    """The op that puts back what one attempt of the blocking pop ``op`` took, for a
    client that left before it could be told; ``None`` when it took nothing, or when
    nothing is lost (BLMOVE moved the element, XREADGROUP keeps its entries pending).

    Elements go back to the end they came from, in their order; sorted set members
    with their scores, unless a member was added again meanwhile (``ZADD NX``)."""
    if type(reply) is not list or len(reply) < 2 or type(reply[0]) is not bytes:
        return None
    name, key = op[0], reply[0]
    if name in (b"BLPOP", b"BRPOP") and type(reply[1]) is bytes:
        return (b"LPUSH" if name == b"BLPOP" else b"RPUSH", key, reply[1])
    if name in (b"BZPOPMIN", b"BZPOPMAX") and len(reply) == 3:
        return (b"ZADD", key, b"NX", _score(reply[2]), _member(reply[1]))
    items = reply[1]
    if type(items) is not list or not items:
        return None
    if name == b"BLMPOP":
        left = _mpop_keys(op)[1][0].upper() == b"LEFT"
        return (b"LPUSH" if left else b"RPUSH", key, *(_member(e) for e in reversed(items)))
    if name == b"BZMPOP":
        pairs = [(_score(entry[1]), _member(entry[0])) for entry in items if type(entry) is list]
        return (b"ZADD", key, b"NX", *(part for pair in pairs for part in pair))
    return None


def undo_summary(undo: tuple[bytes, ...]) -> str:
    """What an ``undo_pop`` op puts back, for the log: ``2 element(s)``, ``1 member(s)``."""
    if undo[0] == b"ZADD":  # ZADD key NX score member...
        return f"{(len(undo) - 3) // 2} member(s)"
    return f"{len(undo) - 2} element(s)"


def _mpop_keys(op: tuple[bytes, ...]) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
    """A prepared BLMPOP or BZMPOP (``name timeout numkeys key... where [COUNT n]``): its
    keys, and what follows them."""
    numkeys = parse_ll(op[2])
    assert numkeys is not None, "prepare_blocking_mpop refused this op"
    return op[3 : 3 + numkeys], op[3 + numkeys :]


def _member(value: Reply) -> bytes:
    assert type(value) is bytes, f"a popped element is bytes, got {value!r}"
    return value


def _score(value: Reply) -> bytes:
    """A popped score as ZADD reads it back exactly (``repr`` of a double round-trips)."""
    assert type(value) is float, f"a popped score is a double, got {value!r}"
    return repr(value).encode()


RETRY_SUFFIX = b"_RETRY"

SOURCE_TYPES: dict[bytes, ValueType] = {
    b"BLPOP": ValueType.LIST,
    b"BRPOP": ValueType.LIST,
    b"BLMPOP": ValueType.LIST,
    b"BLMOVE": ValueType.LIST,
    b"BRPOPLPUSH": ValueType.LIST,
    b"BZPOPMIN": ValueType.ZSET,
    b"BZPOPMAX": ValueType.ZSET,
    b"BZMPOP": ValueType.ZSET,
    b"XREAD": ValueType.STREAM,
}
"""The blocking commands whose later attempts are twins (``retry_handler``), and the
type of value each waits for."""


def retry_name(name: bytes) -> bytes:
    """The op name of a blocked command's attempts after the first (``BLPOP_RETRY``)."""
    return name + RETRY_SUFFIX


def retry_handler(name: bytes, handler: Handler) -> Handler:
    """The handler of ``name``'s later attempts: ``handler`` run on the op without its
    source keys that now hold another type (with their IDs, for XREAD), or the
    command's "nothing yet" when no source key is left (see the module docstring)."""
    wanted = SOURCE_TYPES[name]

    def passed_over(kv: KeyValueView, key: bytes, now_ms: int) -> bool:
        value = kv.get(key)
        if value is None or (value.expire_ms and value.expire_ms <= now_ms):
            return False  # missing or expired: nothing to pass over, just empty
        return value.type != wanted

    def retry(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
        if name in _ONE_SOURCE:
            if passed_over(kv, args[1], now_ms):
                return None
            return handler(kv, (name, *args[1:]), now_ms, seed)
        if name in BLOCKING_MPOPS:
            keys, rest = _mpop_keys(args)
            kept = [k for k in keys if not passed_over(kv, k, now_ms)]
            op = (name, args[1], str(len(kept)).encode(), *kept, *rest)
        elif name == b"XREAD":  # options... STREAMS key... id...
            request = streams.read_request(args)
            assert not isinstance(request, Error), "prepare_xread refused this op"
            start = len(args) - 2 * len(request.keys)
            pairs = [
                (k, i)
                for k, i in zip(request.keys, request.ids, strict=True)
                if not passed_over(kv, k, now_ms)
            ]
            kept = [k for k, _ in pairs]
            op = (name, *args[1:start], *kept, *(i for _, i in pairs))
        else:  # key... timeout
            kept = [k for k in args[1:-1] if not passed_over(kv, k, now_ms)]
            op = (name, *kept, args[-1])
        return handler(kv, op, now_ms, seed) if kept else NULL_ARRAY

    return retry


def prepare_blocking(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    """BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BZPOPMIN, BZPOPMAX: a bad timeout (their last
    argument) is refused before anything runs."""
    timeout = parse_timeout(args[-1])
    if isinstance(timeout, Error):
        return timeout
    return (args[0].upper(), *args[1:])


def prepare_blocking_mpop(sides: tuple[bytes, bytes]) -> Prepare:
    """The ``prepare`` of BZMPOP or BLMPOP (sides ``min``/``max`` or ``left``/``right``):
    ``numkeys``, the side and COUNT as ZMPOP/LMPOP check them, then the timeout — the
    order of ``zmpopGenericCommand``/``lmpopGenericCommand``, which parse the timeout
    only when they are about to block."""

    def prepare(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
        request = mpop_request(args, sides)
        if isinstance(request, Error):
            return request
        timeout = parse_timeout(args[1])
        if isinstance(timeout, Error):
            return timeout
        return (args[0].upper(), *args[1:])

    return prepare

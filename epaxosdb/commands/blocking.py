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
attempts after the first propose (XREADGROUP's differ: see ``groups``) — is
``blocking_wait``'s answer, so the runtime never looks inside the arguments
itself.

The timeout is checked by ``prepare``, before anything is proposed, in the
place Redis checks it: first for the commands that take it last, only after
``numkeys``, the side and COUNT for BZMPOP and BLMPOP, which take it first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from protocol.replies import NULL_ARRAY, Error, Reply

from . import extended, groups, streams
from .containers import BLOCKING_MPOPS, mpop_request
from .integers import LLONG_MAX, parse_ll
from .spec import Prepare

TIMEOUT_NOT_FLOAT = Error("ERR timeout is not a float or out of range")
TIMEOUT_NEGATIVE = Error("ERR timeout is negative")

_ONE_SOURCE = frozenset({b"BLMOVE", b"BRPOPLPUSH"})
"""``source destination ... timeout``: only the source can let an attempt move an element,
and an attempt that finds it empty answers LMOVE's null bulk string."""


def parse_timeout(raw: bytes) -> int | Error:
    """A blocking command's timeout in ms (0: wait forever), read as Redis 7.0 reads it:
    ``strtold`` seconds, times 1000, cast to ``long long`` — a value beyond that type
    (infinity included) casts to its minimum on x86-64, so it counts as negative."""
    seconds = extended.parse(raw)
    if seconds is None:
        return TIMEOUT_NOT_FLOAT
    if isinstance(seconds, float):
        return TIMEOUT_NEGATIVE
    ms = math.trunc(seconds * 1000)
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
        return BlockingWait(keys, NULL_ARRAY, NULL_ARRAY, timeout_ms, consumes=False)
    if name == b"XREADGROUP":
        group_read = groups.readgroup_wait(op)
        if group_read is None:
            return None
        keys, timeout_ms, retry = group_read
        return BlockingWait(keys, NULL_ARRAY, NULL_ARRAY, timeout_ms, retry=retry)
    empty: Reply = NULL_ARRAY
    if name in BLOCKING_MPOPS:  # timeout numkeys key... where [COUNT count]
        raw_timeout = op[1]
        numkeys = parse_ll(op[2])
        assert numkeys is not None, "prepare_blocking_mpop refused this op"
        keys = op[3 : 3 + numkeys]
    elif name in _ONE_SOURCE:
        raw_timeout, keys, empty = op[-1], (op[1],), None
    else:  # BLPOP, BRPOP, BZPOPMIN, BZPOPMAX: key... timeout
        raw_timeout, keys = op[-1], op[1:-1]
    timeout = parse_timeout(raw_timeout)
    assert not isinstance(timeout, Error), "prepare refused this op"
    return BlockingWait(keys, empty, NULL_ARRAY, timeout)


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

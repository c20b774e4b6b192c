"""DUMP and RESTORE (Redis's cluster.c): a value as Redis's serialized-value payload.

Migration tools (redis-shake, RIOT, ``redis-cli --cluster import``...) copy
keys between servers by DUMP on one side and RESTORE on the other, so both
speak Redis 7.0's payload format (``rdb``): what redis-server 7.0 dumps
restores here, and what is dumped here restores on redis-server, as the
same value.

RESTORE answers in ``restoreCommand``'s order: its options first (``REPLACE``,
``ABSTTL``, ``IDLETIME seconds``, ``FREQ frequency``; IDLETIME and FREQ are
checked and then ignored, since nothing here evicts by LRU or LFU), then
BUSYKEY when the key exists and REPLACE was not given, then the TTL (an
integer, at least 0), then the footer (RDB version and CRC64), then the value
itself ("Bad data format" for anything that does not decode: nothing is
written then). The options do not depend on stored state, so ``prepare``
refuses bad ones before proposal; everything after BUSYKEY waits for the
handler, which alone can tell whether the key exists.

The TTL is relative milliseconds, or a Unix time in milliseconds with
ABSTTL; 0 is no expiry. ``prepare`` makes a relative TTL absolute against the
command's timestamp, as SET EX does, so every replica stores the same
deadline (the handler resolves one it is given relative the same way). A
deadline already past — an ABSTTL in the past, or a relative TTL so large
that Redis's sum wraps negative — is Redis's "already expired" case: the
answer is OK and no key is created, and with REPLACE the old key is deleted.

DUMP is a read: the payload of the live value at the key, or nil.
"""

from __future__ import annotations

from collections.abc import Sequence

from protocol.replies import OK, Error, Reply
from storage.interface import KeyValueView, Value

from . import errors, rdb
from .integers import LLONG_MAX, ll_bytes, parse_ll
from .values import live, live_header

BUSYKEY = Error("BUSYKEY Target key name already exists.")
INVALID_TTL = Error("ERR Invalid TTL value, must be >= 0")
BAD_FOOTER = Error("ERR DUMP payload version or checksum are wrong")
BAD_DATA_FORMAT = Error("ERR Bad data format")
INVALID_IDLETIME = Error("ERR Invalid IDLETIME value, must be >= 0")
INVALID_FREQ = Error("ERR Invalid FREQ value, must be >= 0 and <= 255")

_EXPIRED = 1
"""The deadline ``prepare`` writes for a relative TTL whose sum overflows: Redis's wrapped
sum is negative, so past; any past deadline gives the same answer."""


def cmd_dump(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    value = live(kv, args[1], now_ms)
    return None if value is None else rdb.dump_payload(value)


def _options(args: Sequence[bytes]) -> tuple[bool, bool] | Error:
    """RESTORE's options after the payload: ``(replace, absttl)``, or the error Redis gives
    for the first bad one. IDLETIME and FREQ exclude each other (the second is a syntax
    error); their values are checked as Redis checks them."""
    replace = absttl = idle = freq = False
    at = 4
    while at < len(args):
        word = errors.c_string(args[at]).lower()
        more = at + 1 < len(args)
        if word == b"replace":
            replace = True
        elif word == b"absttl":
            absttl = True
        elif word == b"idletime" and more and not freq:
            seconds = parse_ll(args[at + 1])
            if seconds is None:
                return errors.NOT_INTEGER
            if seconds < 0:
                return INVALID_IDLETIME
            idle = True
            at += 1
        elif word == b"freq" and more and not idle:
            frequency = parse_ll(args[at + 1])
            if frequency is None:
                return errors.NOT_INTEGER
            if not 0 <= frequency <= 255:
                return INVALID_FREQ
            freq = True
            at += 1
        else:
            return errors.SYNTAX
        at += 1
    return replace, absttl


def _deadline(ttl: int, absttl: bool, now_ms: int) -> int:
    """The absolute expiry of a valid TTL (0: none)."""
    if not ttl or absttl:
        return ttl
    deadline = ttl + now_ms
    return deadline if deadline <= LLONG_MAX else _EXPIRED


def prepare_restore(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    """Refuse bad options; spell the op ``RESTORE key ttl payload [REPLACE] [ABSTTL]``
    with a relative TTL made absolute. A TTL that is not valid stays as it is: its error
    comes after BUSYKEY, which only the handler can tell."""
    options = _options(args)
    if isinstance(options, Error):
        return options
    replace, absttl = options
    op = [b"RESTORE", args[1], args[2], args[3]]
    if replace:
        op.append(b"REPLACE")
    ttl = parse_ll(args[2])
    if ttl is not None and ttl > 0 and not absttl:
        op[2] = ll_bytes(_deadline(ttl, absttl, now_ms))
        absttl = True
    if absttl:
        op.append(b"ABSTTL")
    return tuple(op)


def cmd_restore(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    options = _options(args)
    if isinstance(options, Error):
        return options
    replace, absttl = options
    key = args[1]
    if not replace and live_header(kv, key, now_ms) is not None:
        return BUSYKEY
    ttl = parse_ll(args[2])
    if ttl is None:
        return errors.NOT_INTEGER
    if ttl < 0:
        return INVALID_TTL
    payload = args[3]
    if not rdb.footer_ok(payload):
        return BAD_FOOTER
    try:
        value_type, stored = rdb.restore_value(payload)
    except rdb.Corrupt:
        return BAD_DATA_FORMAT
    deadline = _deadline(ttl, absttl, now_ms)
    if deadline and deadline <= now_ms:
        if replace:
            kv.delete(key)
        return OK
    kv.put(key, Value(value_type, deadline, stored))
    return OK

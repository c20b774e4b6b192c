"""String commands (Redis's t_string.c): GET, SET and friends, MGET/MSET, ranges.

Counters (INCR, INCRBYFLOAT...) live in ``counters``.

Each command is a ``prepare_*`` step (proposing replica only) and a
``cmd_*`` handler (every executing replica). The split follows Redis's own
order of checks: an error Redis reports before it looks the key up does not
depend on stored state, so ``prepare`` answers it and the command is never
proposed; an error reported after the lookup (WRONGTYPE, a stored value that
is not a number, GETEX's expiry checked only for a live string) stays in the
handler. Handlers still accept every form ``prepare`` lets through, including
relative expiries, which they resolve against the command's timestamp.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from protocol.replies import OK, Error, Reply
from storage.interface import KeyValueView, Payload, Value, ValueHeader
from storage.values import new_value

from . import errors
from .integers import LLONG_MAX, ll_bytes, parse_ll
from .values import STRING, STRING_LENGTH_MAX, live, live_header, read_live

# Option bits of SET and GETEX, as in Redis's OBJ_* flags.
NX, XX, GET, KEEPTTL, PERSIST = 1, 2, 4, 8, 16
EX, PX, EXAT, PXAT = 32, 64, 128, 256
_EXPIRY = EX | PX | EXAT | PXAT
_IN_SECONDS = EX | EXAT
_RELATIVE = EX | PX

_TOKENS: dict[bytes, int] = {
    b"NX": NX,
    b"XX": XX,
    b"GET": GET,
    b"KEEPTTL": KEEPTTL,
    b"PERSIST": PERSIST,
    b"EX": EX,
    b"PX": PX,
    b"EXAT": EXAT,
    b"PXAT": PXAT,
}
_SET_ONLY = NX | XX | GET | KEEPTTL
_EXCLUDES: dict[int, int] = {
    NX: XX,
    XX: NX,
    GET: 0,
    KEEPTTL: PERSIST | _EXPIRY,
    PERSIST: KEEPTTL | _EXPIRY,
    EX: KEEPTTL | PERSIST | EXAT | PX | PXAT,
    PX: KEEPTTL | PERSIST | EX | EXAT | PXAT,
    EXAT: KEEPTTL | PERSIST | EX | PX | PXAT,
    PXAT: KEEPTTL | PERSIST | EX | EXAT | PX,
}
"""Which earlier options make an option a syntax error (a repeated option is fine)."""


def parse_options(args: Sequence[bytes], for_getex: bool) -> tuple[int, bytes | None] | Error:
    """SET's options from argument 3 on, or GETEX's from argument 2 (``parseExtended...``).

    Returns the option bits and the raw expiry argument; only syntax is
    checked here, in Redis's order.
    """
    flags = 0
    expire: bytes | None = None
    j = 2 if for_getex else 3
    argc = len(args)
    while j < argc:
        option = _TOKENS.get(errors.c_string(args[j]).upper(), 0)
        if (
            not option
            or flags & _EXCLUDES[option]
            or (for_getex and option & _SET_ONLY)
            or (not for_getex and option == PERSIST)
        ):
            return errors.SYNTAX
        if option & _EXPIRY:
            if j == argc - 1:
                return errors.SYNTAX
            j += 1
            expire = args[j]
        flags |= option
        j += 1
    return flags, expire


def absolute_expiry(name: bytes, flags: int, raw: bytes, now_ms: int) -> int | Error:
    """The absolute expiry in ms of a SET/GETEX option (``getExpireMillisecondsOrReply``)."""
    value = parse_ll(raw)
    if value is None:
        return errors.NOT_INTEGER
    seconds = flags & _IN_SECONDS
    if value <= 0 or (seconds and value > LLONG_MAX // 1000):
        return errors.invalid_expire(name)
    if seconds:
        value *= 1000
    if flags & _RELATIVE:
        value += now_ms
    if value > LLONG_MAX:
        return errors.invalid_expire(name)
    return value


# --- prepare steps -----------------------------------------------------------


def prepare_set(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    """Validate SET and spell it canonically: ``SET k v [NX|XX] [GET] [PXAT ms|KEEPTTL]``."""
    if len(args) == 3:
        return (b"SET", args[1], args[2])
    parsed = parse_options(args, for_getex=False)
    if isinstance(parsed, Error):
        return parsed
    flags, expire = parsed
    op: list[bytes] = [b"SET", args[1], args[2]]
    if flags & NX:
        op.append(b"NX")
    if flags & XX:
        op.append(b"XX")
    if flags & GET:
        op.append(b"GET")
    if expire is not None:
        at = absolute_expiry(b"set", flags, expire, now_ms)
        if isinstance(at, Error):
            return at
        op += (b"PXAT", ll_bytes(at))
    elif flags & KEEPTTL:
        op.append(b"KEEPTTL")
    return tuple(op)


def prepare_setex(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    """SETEX/PSETEX k ttl v → ``SET k v PXAT ms`` (errors still name the original command)."""
    name = args[0].lower()
    unit = EX if name == b"setex" else PX
    at = absolute_expiry(name, unit, args[2], now_ms)
    if isinstance(at, Error):
        return at
    return (b"SET", args[1], args[3], b"PXAT", ll_bytes(at))


def prepare_getex(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    """Check GETEX's syntax; make a valid relative expiry absolute.

    An invalid expiry value is kept as sent: Redis reports it only when the
    key holds a string, so the handler must decide.
    """
    parsed = parse_options(args, for_getex=True)
    if isinstance(parsed, Error):
        return parsed
    flags, expire = parsed
    if expire is not None:
        at = absolute_expiry(b"getex", flags, expire, now_ms)
        if isinstance(at, Error):
            return (b"GETEX", *args[1:])
        return (b"GETEX", args[1], b"PXAT", ll_bytes(at))
    if flags & PERSIST:
        return (b"GETEX", args[1], b"PERSIST")
    return (b"GETEX", args[1])


def prepare_mset(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    if len(args) % 2 == 0:
        return errors.wrong_arity(args[0].lower())
    return (args[0].upper(), *args[1:])


def prepare_getrange(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    if parse_ll(args[2]) is None or parse_ll(args[3]) is None:
        return errors.NOT_INTEGER
    return (b"GETRANGE", args[1], args[2], args[3])


def prepare_setrange(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    offset = parse_ll(args[2])
    if offset is None:
        return errors.NOT_INTEGER
    if offset < 0:
        return errors.OFFSET_OUT_OF_RANGE
    return (b"SETRANGE", args[1], args[2], args[3])


# --- handlers ----------------------------------------------------------------


def cmd_get(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    value = kv.get(args[1])
    if value is None or (value.expire_ms and value.expire_ms <= now_ms):
        return None
    if value.type != STRING:
        return errors.WRONGTYPE
    return value.payload


def set_key_flags(args: Sequence[bytes]) -> tuple[str, ...]:
    """SET's key flags in one call (Redis's ``setGetKeys``): with GET it reads the old
    value, so read-write; otherwise it only overwrites."""
    if any(errors.c_string(arg).upper() == b"GET" for arg in args[3:]):
        return ("RW", "access", "update")
    return ("OW", "update")


def cmd_set(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    key = args[1]
    if len(args) == 3:
        kv.put(key, new_value(Value, (STRING, 0, args[2])))
        return OK
    if len(args) == 5 and args[3] == b"PXAT":  # what prepare makes of SET EX/PX/SETEX
        deadline = parse_ll(args[4])
        if deadline is not None and deadline > now_ms:
            kv.put(key, new_value(Value, (STRING, deadline, args[2])))
            return OK
    parsed = parse_options(args, for_getex=False)
    if isinstance(parsed, Error):
        return parsed
    flags, expire = parsed
    expire_ms = 0
    if expire is not None:
        at = absolute_expiry(b"set", flags, expire, now_ms)
        if isinstance(at, Error):
            return at
        expire_ms = at
    reply: Reply = OK
    old: Value | ValueHeader | None
    if flags & GET:
        old = live(kv, key, now_ms)
        if old is not None and old.type != STRING:
            return errors.WRONGTYPE
        reply = None if old is None else old.payload
    else:
        old = live_header(kv, key, now_ms)
    if (flags & NX and old is not None) or (flags & XX and old is None):
        return reply if flags & GET else None
    if flags & KEEPTTL and old is not None:
        expire_ms = old.expire_ms
    if expire_ms and expire_ms <= now_ms:
        kv.delete(key)
    else:
        kv.put(key, Value(STRING, expire_ms, args[2]))
    return reply


def cmd_setnx(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    if live_header(kv, args[1], now_ms) is not None:
        return 0
    kv.put(args[1], Value(STRING, 0, args[2]))
    return 1


def cmd_getset(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    old = live(kv, args[1], now_ms)
    if old is not None and old.type != STRING:
        return errors.WRONGTYPE
    kv.put(args[1], Value(STRING, 0, args[2]))
    return None if old is None else old.payload


def cmd_getdel(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    old = live(kv, args[1], now_ms)
    if old is None:
        return None
    if old.type != STRING:
        return errors.WRONGTYPE
    kv.delete(args[1])
    return old.payload


def cmd_getex(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    parsed = parse_options(args, for_getex=True)
    if isinstance(parsed, Error):
        return parsed
    flags, expire = parsed
    key = args[1]
    value = live(kv, key, now_ms)
    if value is None:
        return None
    if value.type != STRING:
        return errors.WRONGTYPE
    if expire is not None:
        at = absolute_expiry(b"getex", flags, expire, now_ms)
        if isinstance(at, Error):
            return at
        if at <= now_ms:
            kv.delete(key)
        else:
            kv.put(key, value._replace(expire_ms=at))
    elif flags & PERSIST and value.expire_ms:
        kv.put(key, value._replace(expire_ms=0))
    return value.payload


def cmd_mget(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    replies: list[Reply] = []
    for key in args[1:]:
        value = live(kv, key, now_ms)
        replies.append(value.payload if value is not None and value.type == STRING else None)
    return replies


def cmd_mset(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    if len(args) % 2 == 0:
        return errors.wrong_arity(b"mset")
    for i in range(1, len(args), 2):
        kv.put(args[i], Value(STRING, 0, args[i + 1]))
    return OK


def cmd_msetnx(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    if len(args) % 2 == 0:
        return errors.wrong_arity(b"msetnx")
    for i in range(1, len(args), 2):
        if live_header(kv, args[i], now_ms) is not None:
            return 0
    for i in range(1, len(args), 2):
        kv.put(args[i], Value(STRING, 0, args[i + 1]))
    return 1


def cmd_append(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    key, suffix = args[1], args[2]
    old = live(kv, key, now_ms)
    if old is None:
        kv.put(key, Value(STRING, 0, suffix))
        return len(suffix)
    if old.type != STRING:
        return errors.WRONGTYPE
    length = len(old.payload) + len(suffix)
    if length > STRING_LENGTH_MAX:
        return errors.STRING_TOO_LONG
    kv.put(key, old._replace(payload=old.payload + suffix))
    return length


def cmd_strlen(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    header = live_header(kv, args[1], now_ms)
    if header is None:
        return 0
    if header.type != STRING:
        return errors.WRONGTYPE
    return header.size


def cmd_getrange(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    start, end = parse_ll(args[2]), parse_ll(args[3])
    if start is None or end is None:
        return errors.NOT_INTEGER
    return read_live(kv, args[1], now_ms, STRING, partial(_range_of, start, end), b"")


def _range_of(start: int, end: int, payload: Payload) -> bytes:
    """GETRANGE's bytes of ``payload``, copied out of it."""
    length = len(payload)
    if start < 0 and end < 0 and start > end:
        return b""
    if start < 0:
        start = max(length + start, 0)
    if end < 0:
        end = max(length + end, 0)
    end = min(end, length - 1)
    if start > end or length == 0:
        return b""
    return bytes(payload[start : end + 1])


def cmd_setrange(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    offset = parse_ll(args[2])
    if offset is None:
        return errors.NOT_INTEGER
    if offset < 0:
        return errors.OFFSET_OUT_OF_RANGE
    key, patch = args[1], args[3]
    old = live(kv, key, now_ms)
    if old is not None and old.type != STRING:
        return errors.WRONGTYPE
    payload = b"" if old is None else old.payload
    if not patch:
        return len(payload)
    if offset + len(patch) > STRING_LENGTH_MAX:
        return errors.STRING_TOO_LONG
    if len(payload) < offset:
        payload += bytes(offset - len(payload))
    payload = payload[:offset] + patch + payload[offset + len(patch) :]
    kv.put(key, Value(STRING, 0 if old is None else old.expire_ms, payload))
    return len(payload)

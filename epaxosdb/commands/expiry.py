"""Time to live: EXPIRE and friends, TTL and friends, PERSIST, and the expiry sweep.

Expiry is replicated, never local (RedisRaft's lesson, ecosystem.md §2.1):
EXPIRE/PEXPIRE/EXPIREAT are proposed as ``PEXPIREAT key <absolute ms>`` with
their NX/XX/GT/LT options, so every replica stores the same deadline; "is it
expired?" is always asked against the executing command's timestamp; and
expired keys leave the store only through a write or through ``DELEXPIRED``,
the internal command the runtime proposes with ``expired_sweep_op``.

All of EXPIRE's argument errors come before Redis looks the key up, so
``prepare`` answers them, naming the command the client sent.
"""

from __future__ import annotations

from collections.abc import Sequence

from protocol.replies import Error, Reply
from storage.interface import KeyValueView

from . import errors
from .integers import LLONG_MAX, ll_bytes, parse_ll
from .values import is_expired, live_header
from .workspace import Workspace

EXPIRE_NX, EXPIRE_XX, EXPIRE_GT, EXPIRE_LT = 1, 2, 4, 8
_EXPIRE_OPTIONS = {b"NX": EXPIRE_NX, b"XX": EXPIRE_XX, b"GT": EXPIRE_GT, b"LT": EXPIRE_LT}
_SECONDS_MAX = LLONG_MAX // 1000
_SECONDS_MIN = -((1 << 63) // 1000)
"""``LLONG_MIN / 1000`` with C's truncating division."""

_UNITS: dict[bytes, tuple[bool, bool]] = {
    b"expire": (True, True),
    b"pexpire": (False, True),
    b"expireat": (True, False),
    b"pexpireat": (False, False),
}
"""Command name → (argument in seconds, relative to now)."""

SWEEP = b"DELEXPIRED"


def parse_expire_options(args: Sequence[bytes]) -> int | Error:
    """``parseExtendedExpireArgumentsOrReply``: options from argument 3 on."""
    flags = 0
    for raw in args[3:]:
        option = _EXPIRE_OPTIONS.get(errors.c_string(raw).upper())
        if option is None:
            return errors.unsupported_option(raw)
        flags |= option
    if flags & EXPIRE_NX and flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT):
        return errors.EXPIRE_NX_CONFLICT
    if flags & EXPIRE_GT and flags & EXPIRE_LT:
        return errors.EXPIRE_GT_LT_CONFLICT
    return flags


def _deadline(name: bytes, raw: bytes, now_ms: int) -> int | Error:
    """The absolute deadline in ms that ``name raw`` asks for, with Redis's overflow checks."""
    seconds, relative = _UNITS[name]
    when = parse_ll(raw)
    if when is None:
        return errors.NOT_INTEGER
    if seconds:
        if when > _SECONDS_MAX or when < _SECONDS_MIN:
            return errors.invalid_expire(name)
        when *= 1000
    base = now_ms if relative else 0
    if when > LLONG_MAX - base:
        return errors.invalid_expire(name)
    return when + base


def prepare_expire(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    """EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT → ``PEXPIREAT key ms [NX|XX|GT|LT...]``."""
    name = args[0].lower()
    flags = parse_expire_options(args)
    if isinstance(flags, Error):
        return flags
    when = _deadline(name, args[2], now_ms)
    if isinstance(when, Error):
        return when
    options = tuple(token for token, bit in _EXPIRE_OPTIONS.items() if flags & bit)
    return (b"PEXPIREAT", args[1], ll_bytes(when), *options)


def cmd_expire(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """``expireGenericCommand``: a deadline not after now deletes the key (reply 1)."""
    flags = parse_expire_options(args)
    if isinstance(flags, Error):
        return flags
    when = _deadline(args[0].lower(), args[2], now_ms)
    if isinstance(when, Error):
        return when
    key = args[1]
    value = live_header(kv, key, now_ms)
    if value is None:
        return 0
    current = value.expire_ms or -1
    if flags & EXPIRE_NX and current != -1:
        return 0
    if flags & EXPIRE_XX and current == -1:
        return 0
    if flags & EXPIRE_GT and (current == -1 or when <= current):
        return 0
    if flags & EXPIRE_LT and current != -1 and when >= current:
        return 0
    if when <= now_ms:
        kv.delete(key)
    else:
        _retime(kv, key, when)
    return 1


def _retime(kv: KeyValueView, key: bytes, expire_ms: int) -> None:
    """Give the live value at ``key`` a new expiry. A collection a ``Workspace`` keeps
    decoded gets it there, without being encoded for it: a big set whose TTL every write
    renews (SADD then EXPIRE) would otherwise be encoded, and decoded again, each time."""
    if type(kv) is Workspace and kv.retime(key, expire_ms):
        return
    value = kv.get(key)
    assert value is not None, "the caller found it live"
    kv.put(key, value._replace(expire_ms=expire_ms))


def _time_to_live(
    kv: KeyValueView, key: bytes, now_ms: int, milliseconds: bool, absolute: bool
) -> Reply:
    """``ttlGenericCommand``: -2 for no key, -1 for no expiry; seconds round to nearest."""
    header = live_header(kv, key, now_ms)
    if header is None:
        return -2
    if not header.expire_ms:
        return -1
    remaining = max(header.expire_ms if absolute else header.expire_ms - now_ms, 0)
    return remaining if milliseconds else (remaining + 500) // 1000


def cmd_ttl(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    return _time_to_live(kv, args[1], now_ms, milliseconds=False, absolute=False)


def cmd_pttl(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    return _time_to_live(kv, args[1], now_ms, milliseconds=True, absolute=False)


def cmd_expiretime(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    return _time_to_live(kv, args[1], now_ms, milliseconds=False, absolute=True)


def cmd_pexpiretime(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    return _time_to_live(kv, args[1], now_ms, milliseconds=True, absolute=True)


def cmd_persist(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    value = live_header(kv, args[1], now_ms)
    if value is None or not value.expire_ms:
        return 0
    _retime(kv, args[1], 0)
    return 1


def cmd_delexpired(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """Delete each listed key that is expired at this command's time; reply how many.

    A key rewritten since the sweep was proposed is no longer expired and stays.
    """
    deleted = 0
    for key in args[1:]:
        value = kv.get(key)
        if value is not None and is_expired(value, now_ms):
            kv.delete(key)
            deleted += 1
    return deleted


def expired_sweep_op(kv: KeyValueView, now_ms: int, limit: int) -> tuple[bytes, ...] | None:
    """A ``DELEXPIRED`` op for up to ``limit`` keys expired at ``now_ms``; ``None`` if none.

    Propose it in a command stamped with the same ``now_ms``.
    """
    keys = kv.expiring(now_ms, limit)
    if not keys:
        return None
    return (SWEEP, *keys)

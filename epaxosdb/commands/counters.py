"""Counters (Redis's t_string.c): INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT.

A counter is a string holding a number; incrementing it keeps its TTL.
Integers are signed 64-bit and overflow is an error, never a wrap-around.
INCRBYFLOAT computes in x87 long double and prints like Redis (``extended``).
Redis checks INCRBY's argument before it looks the key up (so ``prepare``
refuses a bad one) but INCRBYFLOAT's after the type check (so the handler
does: WRONGTYPE wins over a bad float).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from protocol.replies import Error, Reply
from storage.interface import KeyValueView, Value

from . import errors, extended
from .integers import LLONG_MAX, LLONG_MIN, ll_bytes, parse_ll
from .values import STRING, live


def prepare_incrby(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    amount = parse_ll(args[2])
    if amount is None:
        return errors.NOT_INTEGER
    if amount == LLONG_MIN and args[0].lower() == b"decrby":
        return errors.DECREMENT_OVERFLOW
    return (args[0].upper(), args[1], args[2])


def _increment(kv: KeyValueView, key: bytes, amount: int, now_ms: int) -> Reply:
    """``incrDecrCommand``: the stored value must be a 64-bit integer; its TTL is kept."""
    old = live(kv, key, now_ms)
    if old is None:
        current, expire_ms = 0, 0
    else:
        if old.type != STRING:
            return errors.WRONGTYPE
        parsed = parse_ll(old.payload)
        if parsed is None:
            return errors.NOT_INTEGER
        current, expire_ms = parsed, old.expire_ms
    result = current + amount
    if result > LLONG_MAX or result < LLONG_MIN:
        return errors.OVERFLOW
    kv.put(key, Value(STRING, expire_ms, ll_bytes(result)))
    return result


def cmd_incr(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    return _increment(kv, args[1], 1, now_ms)


def cmd_decr(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    return _increment(kv, args[1], -1, now_ms)


def cmd_incrby(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    amount = parse_ll(args[2])
    if amount is None:
        return errors.NOT_INTEGER
    return _increment(kv, args[1], amount, now_ms)


def cmd_decrby(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    amount = parse_ll(args[2])
    if amount is None:
        return errors.NOT_INTEGER
    if amount == LLONG_MIN:
        return errors.DECREMENT_OVERFLOW
    return _increment(kv, args[1], -amount, now_ms)


def cmd_incrbyfloat(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """Long double arithmetic and ``%.17Lf`` formatting, like Redis (see ``extended``)."""
    key = args[1]
    old = live(kv, key, now_ms)
    current: extended.LongDouble | None = Fraction(0)
    if old is not None:
        if old.type != STRING:
            return errors.WRONGTYPE
        current = extended.parse(old.payload)
    increment = extended.parse(args[2])
    if current is None or increment is None:
        return errors.NOT_FLOAT
    total = extended.add(current, increment)
    if total is None or isinstance(total, float):
        return errors.NAN_OR_INFINITY
    payload = extended.format_human(total)
    kv.put(key, Value(STRING, 0 if old is None else old.expire_ms, payload))
    return payload

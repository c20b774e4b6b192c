"""Bitmap commands (Redis's bitops.c): SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP.

A bitmap is a string: bit 0 is the most significant bit of the first byte,
and a string is read as if followed by zero bytes forever. The checks follow
Redis 7.0's order, which is not the same for every command: SETBIT, GETBIT
and BITOP reject bad arguments before they look at the key, so ``prepare``
answers those; BITCOUNT looks the key up first (a missing key counts 0 bits
whatever the range says), and BITPOS checks only its ``bit`` argument before
the lookup, so their range errors stay in the handlers.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from protocol.replies import Error, Reply
from storage.interface import KeyValueView, Payload, Value

from . import errors
from .integers import parse_ll
from .values import STRING, live, read_live

BIT_OFFSET = Error("ERR bit offset is not an integer or out of range")
BIT_VALUE = Error("ERR bit is not an integer or out of range")
BITPOS_BIT = Error("ERR The bit argument must be 1 or 0.")
BITOP_NOT_ARITY = Error("ERR BITOP NOT must be called with a single source key.")

BIT_OFFSET_MAX = (512 * 1024 * 1024) * 8 - 1
"""The last bit of a ``proto-max-bulk-len`` (512 MB) string: Redis's bound on offsets."""

_OPERATIONS = (b"AND", b"OR", b"XOR", b"NOT")
_POPCOUNT = bytes(bin(i).count("1") for i in range(256))


def _bit_offset(raw: bytes) -> int | None:
    offset = parse_ll(raw)
    return offset if offset is not None and 0 <= offset <= BIT_OFFSET_MAX else None


def prepare_setbit(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    if _bit_offset(args[2]) is None:
        return BIT_OFFSET
    if parse_ll(args[3]) not in (0, 1):
        return BIT_VALUE
    return (b"SETBIT", args[1], args[2], args[3])


def prepare_getbit(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    if _bit_offset(args[2]) is None:
        return BIT_OFFSET
    return (b"GETBIT", args[1], args[2])


def prepare_bitpos(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    bit = parse_ll(args[2])
    if bit is None:
        return errors.NOT_INTEGER
    if bit not in (0, 1):
        return BITPOS_BIT
    return (b"BITPOS", *args[1:])


def prepare_bitop(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    operation = args[1].upper()
    if operation not in _OPERATIONS:
        return errors.SYNTAX
    if operation == b"NOT" and len(args) != 4:
        return BITOP_NOT_ARITY
    return (b"BITOP", operation, *args[2:])


def _string(kv: KeyValueView, key: bytes, now_ms: int) -> bytes | Error | None:
    """The live string at ``key``; ``None`` if absent; WRONGTYPE for another type."""
    value = live(kv, key, now_ms)
    if value is None:
        return None
    if value.type != STRING:
        return errors.WRONGTYPE
    return value.payload


def cmd_setbit(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    offset, on = _bit_offset(args[2]), parse_ll(args[3])
    if offset is None:
        return BIT_OFFSET
    if on not in (0, 1):
        return BIT_VALUE
    key = args[1]
    old = live(kv, key, now_ms)
    if old is not None and old.type != STRING:
        return errors.WRONGTYPE
    payload = bytearray(b"" if old is None else old.payload)
    byte, mask = offset >> 3, 0x80 >> (offset & 7)
    if len(payload) <= byte:
        payload.extend(bytes(byte + 1 - len(payload)))
    previous = 1 if payload[byte] & mask else 0
    if on:
        payload[byte] |= mask
    else:
        payload[byte] &= ~mask & 0xFF
    kv.put(key, Value(STRING, 0 if old is None else old.expire_ms, bytes(payload)))
    return previous


def cmd_getbit(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    offset = _bit_offset(args[2])
    if offset is None:
        return BIT_OFFSET
    return read_live(kv, args[1], now_ms, STRING, partial(_bit_at, offset), 0)


def _bit_at(offset: int, payload: Payload) -> int:
    byte = offset >> 3
    if byte >= len(payload):
        return 0
    return 1 if payload[byte] & (0x80 >> (offset & 7)) else 0


def _bit_range(
    length: int, start: int, end: int, unit: bytes | None
) -> tuple[int, int] | Error:
    """Redis's range arithmetic, as the first and last *bit* (inclusive) of the range.

    ``unit`` is BYTE or BIT (any case; ``None``: BYTE); anything else is a
    syntax error. Negative indexes count from the end; the range is clipped
    to the string. An empty range comes back with first > last.
    """
    if unit is None or unit.upper() == b"BYTE":
        in_bits = False
    elif unit.upper() == b"BIT":
        in_bits = True
    else:
        return errors.SYNTAX
    total = length * 8 if in_bits else length
    if start < 0:
        start = max(total + start, 0)
    if end < 0:
        end = max(total + end, 0)
    end = min(end, total - 1)
    if in_bits:
        return start, end
    return start * 8, end * 8 + 7 if end >= start else start * 8 - 1


def _count_bits(payload: bytes, first: int, last: int) -> int:
    if first > last:
        return 0
    first_byte, last_byte = first >> 3, last >> 3
    count = sum(payload[first_byte : last_byte + 1].translate(_POPCOUNT))
    count -= _POPCOUNT[payload[first_byte] & ~(0xFF >> (first & 7)) & 0xFF]
    count -= _POPCOUNT[payload[last_byte] & (0xFF >> ((last & 7) + 1))]
    return count


def cmd_bitcount(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    payload = _string(kv, args[1], now_ms)
    if payload is None or isinstance(payload, Error):
        return payload if payload is not None else 0
    if len(args) == 2:
        return _count_bits(payload, 0, len(payload) * 8 - 1)
    if len(args) not in (4, 5):
        return errors.SYNTAX
    start, end = parse_ll(args[2]), parse_ll(args[3])
    if start is None or end is None:
        return errors.NOT_INTEGER
    if start < 0 and end < 0 and start > end:
        return 0
    bits = _bit_range(len(payload), start, end, args[4] if len(args) == 5 else None)
    if isinstance(bits, Error):
        return bits
    return _count_bits(payload, *bits)


def _first_bit(payload: bytes, bit: int, first: int, last: int) -> int:
    """The position of the first ``bit`` in bits ``first..last`` of ``payload``, or -1.

    Whole bytes that cannot hold it (0x00 when looking for a 1, 0xFF for a 0)
    are skipped by ``bytes.lstrip``, so a long run costs no Python loop."""
    position = first
    while position <= last and position & 7:
        if (payload[position >> 3] >> (7 - (position & 7))) & 1 == bit:
            return position
        position += 1
    if position <= last:
        whole = payload[position >> 3 : (last + 1) >> 3]
        position += 8 * (len(whole) - len(whole.lstrip(b"\x00" if bit else b"\xff")))
    while position <= last:
        if (payload[position >> 3] >> (7 - (position & 7))) & 1 == bit:
            return position
        position += 1
    return -1


def cmd_bitpos(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    bit = parse_ll(args[2])
    if bit is None:
        return errors.NOT_INTEGER
    if bit not in (0, 1):
        return BITPOS_BIT
    payload = _string(kv, args[1], now_ms)
    if payload is None:
        return -1 if bit else 0  # a missing key is an endless run of zero bits
    if isinstance(payload, Error):
        return payload
    if len(args) > 6:
        return errors.SYNTAX
    start = parse_ll(args[3]) if len(args) >= 4 else 0
    if start is None:
        return errors.NOT_INTEGER
    unit = args[5] if len(args) == 6 else None
    if unit is not None and unit.upper() not in (b"BYTE", b"BIT"):
        return errors.SYNTAX
    end_given = len(args) >= 5
    end = parse_ll(args[4]) if end_given else -1
    if end is None:
        return errors.NOT_INTEGER
    bits = _bit_range(len(payload), start, end, unit)
    assert not isinstance(bits, Error)  # the unit was checked above
    first, last = bits
    if first > last:
        return -1
    found = _first_bit(payload, bit, first, last)
    if found == -1 and bit == 0 and not end_given:
        return last + 1  # no end given: the string goes on with zero bits
    return found


def cmd_bitop(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    operation = args[1].upper()
    if operation not in _OPERATIONS:
        return errors.SYNTAX
    if operation == b"NOT" and len(args) != 4:
        return BITOP_NOT_ARITY
    sources: list[bytes] = []
    for key in args[3:]:
        payload = _string(kv, key, now_ms)
        if isinstance(payload, Error):
            return payload
        sources.append(b"" if payload is None else payload)
    length = max(len(s) for s in sources)
    destination = args[2]
    if length == 0:
        kv.delete(destination)
        return 0
    numbers = [int.from_bytes(s.ljust(length, b"\x00"), "big") for s in sources]
    result = numbers[0]
    if operation == b"NOT":
        result = ~result & ((1 << (8 * length)) - 1)
    for n in numbers[1:]:
        if operation == b"AND":
            result &= n
        elif operation == b"OR":
            result |= n
        else:
            result ^= n
    kv.put(destination, Value(STRING, 0, result.to_bytes(length, "big")))
    return length

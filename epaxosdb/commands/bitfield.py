"""BITFIELD and BITFIELD_RO (Redis's bitops.c): integers of 1 to 64 bits inside a string.

A field is ``bits`` wide and starts at bit ``offset`` of the string (bit 0 is
the most significant bit of the first byte, as for SETBIT); its most
significant bit comes first. The string reads as if followed by zero bytes
forever, so a GET past its end answers 0.

Redis parses every subcommand before it looks at the key, and the first bad
one decides the error, so ``prepare`` answers all argument errors (and
BITFIELD_RO's refusal of SET and INCRBY, which Redis also gives before the
lookup); the handler parses the op again, which cannot fail any more.

What is easy to get wrong, all checked against redis-server 7.0.15:

* ``#N`` offsets are ``N * bits`` computed in a signed 64-bit register that
  wraps: ``i64 #288230376151711745`` is offset 64 (2**64 + 64 wrapped), not an
  error, while a product that wraps negative or past 512 MB is refused.
* Which way a result overflows (what OVERFLOW SAT saturates to) is decided as
  Redis decides it in 64-bit registers, not always as arithmetic would: a SET of
  a negative value into an unsigned field, or of a value near -2**63 into a
  signed one, saturates to the field's *maximum* (``overflow_direction``).
* A write grows the string to hold the furthest field any SET or INCRBY
  names before the first one runs, so the key exists (zero-filled) even when
  every write fails under OVERFLOW FAIL; a BITFIELD of GETs alone does not
  create a missing key. Growing may pass 512 MB by up to 8 bytes (a field at
  the last allowed offset), which Redis allows too.
* The subcommand and OVERFLOW names are compared as C strings (a NUL ends
  them), and so is the type after its ``i``/``u``, which is case-sensitive.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from protocol.replies import Error, Reply
from storage.interface import KeyValueView, Payload, Value

from . import errors
from .bitmaps import BIT_OFFSET, BIT_OFFSET_MAX
from .errors import c_string
from .integers import parse_ll
from .values import STRING, live, read_live

BAD_TYPE = Error(
    "ERR Invalid bitfield type. Use something like i16 u8. "
    "Note that u64 is not supported but i64 is."
)
BAD_OVERFLOW = Error("ERR Invalid OVERFLOW type specified")
RO_ONLY_GET = Error("ERR BITFIELD_RO only supports the GET subcommand")

_WORD = 1 << 64


class Overflow(Enum):
    """What a SET or INCRBY does with a result that does not fit its field."""

    WRAP = b"wrap"
    SAT = b"sat"
    FAIL = b"fail"


_OVERFLOWS = {mode.value: mode for mode in Overflow}
_ARGUMENTS = {b"get": 2, b"set": 3, b"incrby": 3}
"""How many arguments each subcommand takes after its name."""


@dataclass(frozen=True, slots=True)
class FieldOp:
    """One GET, SET or INCRBY, with the OVERFLOW mode in force where it was written."""

    action: bytes
    """``b"get"``, ``b"set"`` or ``b"incrby"``."""
    signed: bool
    bits: int
    offset: int
    argument: int = 0
    """The SET value or the INCRBY increment."""
    overflow: Overflow = Overflow.WRAP

    @property
    def writes(self) -> bool:
        return self.action != b"get"


def parse_type(raw: bytes) -> tuple[bool, int] | None:
    """``(signed, bits)`` of ``i1``..``i64`` or ``u1``..``u63``; ``None`` otherwise."""
    text = c_string(raw)
    if text[:1] not in (b"i", b"u"):
        return None
    signed = text[:1] == b"i"
    bits = parse_ll(text[1:])
    if bits is None or not 1 <= bits <= (64 if signed else 63):
        return None
    return signed, bits


def parse_offset(raw: bytes, bits: int) -> int | None:
    """A field's bit offset, plain or ``#N`` (``N`` fields of ``bits``); ``None`` when Redis
    refuses it. ``N * bits`` wraps as Redis's signed 64-bit multiplication does."""
    hashed = raw[:1] == b"#"
    number = parse_ll(raw[1:] if hashed else raw)
    if number is None:
        return None
    if hashed:
        number = (number * bits) % _WORD
        if number >= _WORD >> 1:
            number -= _WORD
    return number if 0 <= number <= BIT_OFFSET_MAX else None


def parse(args: Sequence[bytes]) -> list[FieldOp] | Error:
    """The subcommands of ``BITFIELD key ...`` in order, or the error of the first bad
    argument, checked in Redis's order: name (with enough arguments after it), type,
    offset, value."""
    ops: list[FieldOp] = []
    overflow = Overflow.WRAP
    at, end = 2, len(args)
    while at < end:
        left = end - at - 1
        action = c_string(args[at]).lower()
        if action == b"overflow" and left >= 1:
            mode = _OVERFLOWS.get(c_string(args[at + 1]).lower())
            if mode is None:
                return BAD_OVERFLOW
            overflow = mode
            at += 2
            continue
        needed = _ARGUMENTS.get(action)
        if needed is None or left < needed:
            return errors.SYNTAX
        field_type = parse_type(args[at + 1])
        if field_type is None:
            return BAD_TYPE
        signed, bits = field_type
        offset = parse_offset(args[at + 2], bits)
        if offset is None:
            return BIT_OFFSET
        if action == b"get":
            ops.append(FieldOp(action, signed, bits, offset))
            at += 3
            continue
        argument = parse_ll(args[at + 3])
        if argument is None:
            return errors.NOT_INTEGER
        ops.append(FieldOp(action, signed, bits, offset, argument, overflow))
        at += 4
    return ops


def key_flags(args: Sequence[bytes]) -> tuple[str, ...]:
    """The key's flags for COMMAND GETKEYSANDFLAGS (Redis's ``bitfieldGetKeys``): read-only
    when every subcommand is a GET or an OVERFLOW, read-write as soon as a SET, an INCRBY
    or anything it cannot read appears (it does not check types or offsets); the key
    spec's ``flags_of``."""
    at = 2
    while at < len(args):
        left = len(args) - at - 1
        action = c_string(args[at]).lower()
        if action == b"get" and left >= 2:
            at += 3
        elif action == b"overflow" and left >= 1:
            at += 2
        else:
            return ("RW", "access", "update")
    return ("RO", "access")


def _checked(args: Sequence[bytes], read_only: bool) -> list[FieldOp] | Error:
    ops = parse(args)
    if read_only and not isinstance(ops, Error) and any(op.writes for op in ops):
        return RO_ONLY_GET
    return ops


def prepare_bitfield(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    ops = parse(args)
    return ops if isinstance(ops, Error) else (b"BITFIELD", *args[1:])


def prepare_bitfield_ro(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    ops = _checked(args, read_only=True)
    return ops if isinstance(ops, Error) else (b"BITFIELD_RO", *args[1:])


def get_field(payload: Payload | bytearray, offset: int, bits: int, signed: bool) -> int:
    """The field at ``offset``, reading zero bits past the end of ``payload``."""
    first, last = offset >> 3, (offset + bits - 1) >> 3
    size = last - first + 1
    word = int.from_bytes(bytes(payload[first : last + 1]).ljust(size, b"\x00"), "big")
    value = (word >> (size * 8 - (offset & 7) - bits)) & ((1 << bits) - 1)
    if signed and value >> (bits - 1):
        value -= 1 << bits
    return value


def set_field(payload: bytearray, offset: int, bits: int, value: int) -> None:
    """Store the low ``bits`` of ``value`` (two's complement) at ``offset``; ``payload``
    already reaches the field's last byte."""
    first, last = offset >> 3, (offset + bits - 1) >> 3
    size = last - first + 1
    shift = size * 8 - (offset & 7) - bits
    mask = ((1 << bits) - 1) << shift
    word = int.from_bytes(payload[first : last + 1], "big")
    word = (word & ~mask) | ((value << shift) & mask)
    payload[first : last + 1] = word.to_bytes(size, "big")


def _int64(number: int) -> int:
    """``number`` as a C ``int64_t`` holds it after a wrapping conversion."""
    number %= _WORD
    return number - _WORD if number >= _WORD >> 1 else number


def overflow_direction(value: int, incr: int, signed: bool, bits: int) -> int:
    """Whether ``value + incr`` leaves a field of ``bits``: 1 above, -1 below, 0 not —
    decided as Redis's ``check(Un)signedBitfieldOverflow`` decide it, in 64-bit registers.

    ``value`` is the field's old value for INCRBY (``incr`` the increment) or the value
    to SET (``incr`` 0). Whether it overflows is what exact arithmetic says, but the
    direction, which OVERFLOW SAT saturates to, is not always: Redis's signed check takes
    a SET far below the field's minimum (below ``2**(bits-1) - 2**63``) for an overflow
    *above* (its ``max - value`` wraps negative), and its unsigned check sees a negative
    SET value as a ``uint64_t``, far above any maximum.
    """
    if signed:
        high = (1 << (bits - 1)) - 1
        low = -high - 1
        max_incr, min_incr = _int64(high - value), _int64(low - value)
        if (
            value > high
            or (bits != 64 and incr > max_incr)
            or (value >= 0 and incr > 0 and incr > max_incr)
        ):
            return 1
        if (
            value < low
            or (bits != 64 and incr < min_incr)
            or (value < 0 and incr < 0 and incr < min_incr)
        ):
            return -1
        return 0
    value %= _WORD
    high = (1 << bits) - 1
    if value > high or (incr > 0 and incr > _int64(high - value)):
        return 1
    if incr < 0 and incr < _int64(-value):
        return -1
    return 0


def fit(value: int, incr: int, signed: bool, bits: int, overflow: Overflow) -> int | None:
    """What a field of ``bits`` gets for ``value + incr`` (see ``overflow_direction``):
    the sum when it fits, else per ``overflow``; ``None`` when it fails (FAIL)."""
    direction = overflow_direction(value, incr, signed, bits)
    total = value + incr
    if not direction:
        return total
    if overflow is Overflow.FAIL:
        return None
    high = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
    if overflow is Overflow.SAT:
        if direction > 0:
            return high
        return -high - 1 if signed else 0
    wrapped = total & ((1 << bits) - 1)
    return wrapped - (1 << bits) if signed and wrapped > high else wrapped


def _apply(buffer: bytearray, op: FieldOp, offset: int) -> int | None:
    """Run one SET or INCRBY on its field at ``offset`` in ``buffer``; its reply (``None``:
    it failed and stored nothing)."""
    old = get_field(buffer, offset, op.bits, op.signed)
    if op.action == b"incrby":
        new = fit(old, op.argument, op.signed, op.bits, op.overflow)
        if new is not None:
            set_field(buffer, offset, op.bits, new)
        return new
    new = fit(op.argument, 0, op.signed, op.bits, op.overflow)
    if new is None:
        return None
    set_field(buffer, offset, op.bits, new)
    return old


def _gets(ops: list[FieldOp], payload: Payload) -> list[Reply]:
    return [get_field(payload, op.offset, op.bits, op.signed) for op in ops]


def _edit(base: Payload, length: int, ops: list[FieldOp]) -> tuple[list[Reply], bytes]:
    """Run ``ops`` in order on ``base`` grown with zero bytes to ``length``: their replies
    and the new payload.

    The ops work on small buffers, one per run of bytes their fields touch, and the
    payload is then assembled in one join: a write to a 512 MB string copies it once.
    A GET's window past ``length`` reads zeros and is cut off again."""
    windows = sorted({(op.offset >> 3, (op.offset + op.bits - 1) >> 3) for op in ops})
    spans: list[list[int]] = []
    for first, last in windows:
        if spans and first <= spans[-1][1] + 1:
            spans[-1][1] = max(spans[-1][1], last)
        else:
            spans.append([first, last])
    starts = [first for first, _ in spans]
    buffers = [
        bytearray(bytes(base[first : last + 1]).ljust(last + 1 - first, b"\x00"))
        for first, last in spans
    ]
    replies: list[Reply] = []
    for op in ops:
        index = bisect_right(starts, op.offset >> 3) - 1
        buffer, offset = buffers[index], op.offset - 8 * starts[index]
        if op.writes:
            replies.append(_apply(buffer, op, offset))  # None: FAIL's nil
        else:
            replies.append(get_field(buffer, offset, op.bits, op.signed))
    source = memoryview(base)
    pieces: list[Payload | bytearray] = []
    at = 0
    for first, buffer in zip(starts, buffers, strict=True):
        pieces += _between(source, at, min(first, length))
        pieces.append(buffer[: max(0, length - first)])
        at = first + len(buffer)
    pieces += _between(source, at, length)
    return replies, b"".join(pieces)


def _between(source: memoryview, start: int, end: int) -> list[Payload]:
    """Bytes ``start..end`` of ``source`` followed by zeros: its part of the new payload."""
    if start >= end:
        return []
    kept = source[start:end]
    return [kept, bytes(end - start - len(kept))] if len(kept) < end - start else [kept]


def _bitfield(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, read_only: bool) -> Reply:
    ops = _checked(args, read_only)
    if isinstance(ops, Error):
        return ops
    key = args[1]
    if not any(op.writes for op in ops):
        # Read where stored: a GET of a field in a 512 MB string copies a few bytes.
        replies: list[Reply] | Error = read_live(
            kv, key, now_ms, STRING, lambda payload: _gets(ops, payload), _gets(ops, b"")
        )
        return replies
    old = live(kv, key, now_ms)
    if old is not None and old.type != STRING:
        return errors.WRONGTYPE
    base = b"" if old is None else old.payload
    reach = max((op.offset + op.bits - 1) >> 3 for op in ops if op.writes) + 1
    replies, payload = _edit(base, max(len(base), reach), ops)
    kv.put(key, Value(STRING, 0 if old is None else old.expire_ms, payload))
    return replies


def cmd_bitfield(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    return _bitfield(kv, args, now_ms, read_only=False)


def cmd_bitfield_ro(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    return _bitfield(kv, args, now_ms, read_only=True)

"""Redis's integer syntax: ``string2ll``, ``strtoul`` for SCAN cursors, ``ll2string``.

Python's ``int()`` is far more lenient than Redis (it takes spaces, ``+``,
underscores, leading zeros), and a difference here changes which commands
fail, so the grammar is spelled out: an optional ``-``, then ``0`` alone or a
non-zero digit followed by digits, within the signed 64-bit range.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from protocol.replies import Error

from . import errors

LLONG_MAX = (1 << 63) - 1
LLONG_MIN = -(1 << 63)
ULONG_MAX = (1 << 64) - 1

_LL = re.compile(rb"-?[1-9][0-9]*|0")
_UL = re.compile(rb"[+-]?[0-9]+")
_ASCII_SPACE = b" \t\n\v\f\r"


def parse_ll(raw: bytes) -> int | None:
    """The value of ``raw`` if Redis's ``string2ll`` accepts it, else ``None``."""
    if 0 < len(raw) <= 18 and raw.isdigit() and (raw[0] != 48 or len(raw) == 1):
        return int(raw)  # fast path: a plain non-negative number that cannot overflow
    if len(raw) > 20 or _LL.fullmatch(raw) is None:
        return None
    value = int(raw)
    if value > LLONG_MAX or value < LLONG_MIN:
        return None
    return value


def parse_cursor(raw: bytes) -> int | None:
    """A SCAN cursor as ``parseScanCursorOrReply`` reads it (``strtoul`` base 10).

    Quirks kept on purpose: the empty string is cursor 0, a leading ``+`` or
    ``-`` is accepted (``-1`` wraps to 2**64-1), and parsing stops at a NUL.
    """
    nul = raw.find(b"\0")
    if nul >= 0:
        raw = raw[:nul]
    if raw == b"":
        return 0
    if raw[0] in _ASCII_SPACE or _UL.fullmatch(raw) is None:
        return None
    negative = raw[0] == 45  # '-'
    digits = raw.lstrip(b"+-").lstrip(b"0") or b"0"
    if len(digits) > 20:
        return None
    value = int(digits)
    if value > ULONG_MAX:
        return None
    return (-value if negative else value) % (1 << 64)


_INT_SPAN = 1 << 32


def atoi(raw: bytes) -> int:
    """C's ``atoi`` as glibc has it, where Redis still uses it (COMMAND GETKEYS's fallback
    key finder): ``strtol`` — leading spaces, a sign, digits up to the first other byte,
    clamped to 64 bits, 0 for no digits — then cut to a 32-bit ``int``."""
    text = errors.c_string(raw).lstrip(_ASCII_SPACE)
    sign = -1 if text[:1] == b"-" else 1
    if text[:1] in (b"+", b"-"):
        text = text[1:]
    digits = len(text) - len(text.lstrip(b"0123456789"))
    value = max(min(sign * int(text[:digits] or b"0"), LLONG_MAX), LLONG_MIN) % _INT_SPAN
    return value - _INT_SPAN if value >= _INT_SPAN // 2 else value


def index_span(length: int, start: int, end: int) -> tuple[int, int]:
    """Redis's range arithmetic for LRANGE, LTRIM, ZRANGE and ZREMRANGEBYRANK: ``[start, end)``
    after negative indexes and clipping (``0, 0`` for an empty range)."""
    if start < 0:
        start = length + start
    if end < 0:
        end = length + end
    start = max(start, 0)
    if start > end or start >= length:
        return 0, 0
    return start, min(end, length - 1) + 1


def ll_bytes(value: int) -> bytes:
    """Decimal bytes of an integer, as stored after INCR."""
    return b"%d" % value


INT_MIN, INT_MAX = -(2**31), 2**31 - 1


def parse_db_index(raw: bytes) -> int | Error:
    """A database index as SELECT and COPY's DB read it: there is only database 0."""
    index = parse_ll(raw)
    if index is None:
        return errors.NOT_INTEGER
    if not INT_MIN <= index <= INT_MAX:
        return errors.INT_RANGE
    return index if index == 0 else errors.DB_OUT_OF_RANGE


def pop_count(args: Sequence[bytes]) -> int | Error | None:
    """The optional count of LPOP, RPOP and SPOP (argument 2): ``None`` when absent,
    ``NOT_POSITIVE`` unless it is a non-negative integer."""
    if len(args) < 3:
        return None
    count = parse_ll(args[2])
    return errors.NOT_POSITIVE if count is None or count < 0 else count

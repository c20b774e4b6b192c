"""The ``struct`` library of Redis's Lua (Roberto Ierusalimschy's, as Redis 7.0.15 patched
it): ``struct.pack(fmt, ...)``, ``struct.unpack(fmt, s [, pos])`` and ``struct.size(fmt)``.

Redis's copy reads formats the way its C does, quirks included, and so does this one:

* the format ends at its first NUL byte; `` `` is skipped, ``<`` and ``>`` set the byte
  order (native, little, by default; ``=`` is no option of this version), ``!n`` the
  alignment; ``b B h H l L T i I`` are integers of 1, 2, 8, 8 and (``iN``) N bytes, at
  most 32 (wider than 8, the value fills the low 8 bytes and the rest are zeros);
  ``f d`` floats, ``x`` a zero byte, ``cN`` N bytes (``c0``: the whole string when
  packing, as many as the previous result says when unpacking), ``s`` a zero-terminated
  string; a number after any other option is an option of its own;
* ``struct.size`` ignores letters and digits it does not know (``pack`` and ``unpack``
  refuse them: "invalid format option");
* numbers convert to integers as x86-64 C casts them (a double past the range gives
  ``0x8000000000000000``, or 0 past 2^64), arguments convert as ``luaL_check*`` does
  (numeric strings count; a number where a string is due is written ``%.14g``), and
  every error has Redis's words and argument numbers ("string too short" names the
  argument after the short one, as Redis's does; a missing ``pack`` argument is
  "got nil", since Redis's pushes a nil after the arguments);
* ``unpack`` stops with Lua's "stack overflow (too many results)" where Redis's Lua
  stack would (results plus arguments past 7,998), and returns the next position as a
  signed 64-bit integer (``unpack('', s, -5)`` answers -5, as Redis does).

The work is Python's (``Struct``), proportional to the format and the data; a packed
string may not exceed ``OUTPUT_MAX`` ("not enough memory", as Lua says when out of
memory: Redis would build it). The Lua side turns Python's answers into results and
errors. Lupa hands a Lua ``-0`` over as the integer 0, so when a zero's sign matters (a
float packed, a number written as a string) Python asks again with the signs.
"""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Callable
from typing import Any

from . import ARGERROR, OUTPUT_MAX, Meter
from .bitop import lua_type_name

SOURCE = (
    r"""
local impl, library_error = ...
local unpack = unpack
"""
    + ARGERROR
    + r"""
-- Lua hands a -0 to Python as the integer 0: which arguments are -0, asked for when
-- their sign matters.
local function negative_zeros(...)
  local args, zeros = {...}, {}
  for i = 1, select("#", ...) do
    local v = args[i]
    if v == 0 and type(v) == "number" and 1 / v < 0 then zeros[i] = true end
  end
  return zeros
end

return {
  pack = function(...)
    local r, a, b = impl(0, false, ...)
    if r == false then r, a, b = impl(0, negative_zeros(...), ...) end
    if r then return r end
    library_error(b and argerror("pack", a, b) or a)
  end,
  unpack = function(...)
    local r = {impl(1, false, ...)}
    if r[1] == false then r = {impl(1, negative_zeros(...), ...)} end
    if r[1] == 1 then return unpack(r, 2, #r) end
    if r[1] == 2 then return unpack(r[2]) end  -- many results, in a table
    library_error(r[3] and argerror("unpack", r[2], r[3]) or r[2])
  end,
  size = function(...)
    local r, a, b = impl(2, false, ...)
    if r == false then r, a, b = impl(2, negative_zeros(...), ...) end
    if r then return r end
    library_error(b and argerror("size", a, b) or a)
  end,
}
"""
)
"""The library table, its fields in the order (and table size) Redis registers them."""

_M64 = (1 << 64) - 1
_MIN64 = 1 << 63
_INT_MAX = 0x7FFFFFFF
MAXINTSIZE = 32
MAXALIGN = 8
"""``!`` without a number: the alignment of a double on x86-64."""
STACK_MAX = 8000
"""Lua 5.1's ``LUAI_MAXCSTACK``: the slots a C function may use, arguments included."""
MANY_RESULTS = 7000
"""More values (arguments included) than this come back to Lua in a table: lupa pushes
returned values onto its own C function's stack, a few slots short of Redis's limit."""

_SIZES = {ord("b"): 1, ord("B"): 1, ord("h"): 2, ord("H"): 2, ord("l"): 8, ord("L"): 8}
_SIZES |= {ord("T"): 8, ord("f"): 4, ord("d"): 8, ord("x"): 1}
_INTEGERS = frozenset(b"bBhHlLTiI")
_SIGNED = frozenset(b"bhli")
_CONTROLS = frozenset(b" <>!")
_ALNUM = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_DIGITS = frozenset(b"0123456789")
_C, _S, _X, _F, _D = ord("c"), ord("s"), ord("x"), ord("f"), ord("d")
_BANG, _LT, _GT = ord("!"), ord("<"), ord(">")

Token = tuple[int, int, int, bytes | None]
"""An option of a format: its byte, its size, the alignment ``!`` sets, and the error
(luaL_error's text) reading it raised, which ends the format."""


class Failure(Exception):
    """An error the C library would raise: ``luaL_error(text)`` (``narg`` 0) or
    ``luaL_argerror(narg, text)``."""

    def __init__(self, text: bytes, narg: int = 0) -> None:
        super().__init__(text, narg)
        self.text = text
        self.narg = narg


class NeedSigns(Exception):
    """A zero whose sign matters arrived without it (see ``SOURCE``)."""


def _getnum(fmt: bytes, i: int, default: int) -> tuple[int, int | bytes]:
    """The number at ``fmt[i:]`` (or ``default``) and where it ends; the overflow error
    instead of the number past ``INT_MAX``."""
    if i >= len(fmt) or fmt[i] not in _DIGITS:
        return i, default
    a = 0
    while i < len(fmt) and fmt[i] in _DIGITS:
        digit = fmt[i] - 48
        if a > _INT_MAX // 10 or a * 10 > _INT_MAX - digit:
            return i, b"integral size overflow"
        a = a * 10 + digit
        i += 1
    return i, a


CALL_COST = 1000
"""``Meter`` units a call costs (about 4 µs, 2026-11-28)..."""
FORMAT_COST = 330
"""...and each character of its format (reading one costs about 1 µs)."""


@functools.lru_cache(maxsize=512)
def _cached(fmt: bytes) -> tuple[Token, ...]:
    return _parse(fmt)


def parse(fmt: bytes) -> tuple[Token, ...]:
    """The options of ``fmt`` up to its first NUL, or up to the one whose reading fails."""
    return _cached(fmt) if len(fmt) <= 64 else _parse(fmt)


def _parse(fmt: bytes) -> tuple[Token, ...]:
    end = fmt.find(b"\0")
    if end >= 0:
        fmt = fmt[:end]
    tokens: list[Token] = []
    i = 0
    while i < len(fmt):
        opt = fmt[i]
        i += 1
        size = _SIZES.get(opt, 0)
        align = 0
        error: bytes | None = None
        if opt == _C or opt == 105 or opt == 73:  # c, i, I
            i, number = _getnum(fmt, i, 1 if opt == _C else 4)
            if isinstance(number, bytes):
                error = number
            elif opt != _C and number > MAXINTSIZE:
                error = b"integral size %d is larger than limit of %d" % (number, MAXINTSIZE)
            else:
                size = number
        elif opt == _BANG:
            i, number = _getnum(fmt, i, MAXALIGN)
            if isinstance(number, bytes):
                error = number
            elif number <= 0 or number & (number - 1):
                error = b"alignment %d is not a power of 2" % number
            else:
                align = number
        tokens.append((opt, size, align, error))
        if error is not None:
            break
    return tuple(tokens)


def _toalign(position: int, align: int, opt: int, size: int) -> int:
    """The padding before an option of ``size`` at ``position`` (``gettoalign``)."""
    if size == 0 or opt == _C:
        return 0
    size = min(size, align)
    return (size - (position & (size - 1))) & (size - 1)


def to_u64(number: float) -> int:
    """A double as x86-64 C converts it to an unsigned 64-bit integer (``(unsigned
    long)`` of a non-negative one, ``(unsigned long)(long)`` of a negative one)."""
    if number != number:
        return _MIN64
    if number < 0:
        return int(number) & _M64 if number >= -(2.0**63) else _MIN64
    return int(number) if number < 2.0**64 else 0


def to_i64(number: float) -> int:
    """A double as x86-64 C casts it to ``long`` (``lua_tointeger``): out of range, NaN
    included, it is ``LONG_MIN``."""
    if number != number or not -(2.0**63) <= number < 2.0**63:
        return -_MIN64
    return int(number)


def _integer(value: int, size: int, big: bool) -> bytes:
    if size < 8:
        value &= (1 << (8 * size)) - 1
    return value.to_bytes(size, "big" if big else "little")


def _read_integer(data: bytes, pos: int, size: int, big: bool, signed: bool) -> float:
    value = int.from_bytes(data[pos : pos + size], "big" if big else "little") & _M64
    if signed:
        mask = (_M64 << ((size * 8 - 1) & 63)) & _M64  # x86 shifts by the count mod 64
        if value & mask:
            value |= mask
        if value & _MIN64:
            value -= 1 << 64
    return float(value)


def _number_text(number: float) -> bytes:
    """A number as Lua writes it where a string is due (``%.14g``, glibc's ``-nan``)."""
    if number != number:
        return b"-nan" if math.copysign(1.0, number) < 0 else b"nan"
    return b"%.14g" % number


class Struct:
    """``struct``'s Python side for one call: ``impl(op, zeros, ...)`` runs ``pack``
    (0), ``unpack`` (1) or ``size`` (2) on the script's arguments; ``zeros`` is False, or
    the Lua table of the arguments that are -0. Answers: the result (``unpack``: 1 and
    its values, or 2 and a table of them), False to be asked again with ``zeros``, or
    ``(None, text)`` / ``(None, narg, text)`` for the error to raise."""

    __slots__ = ("_args", "_lua", "_meter", "_tonumber", "_zeros")

    def __init__(self, lua: Any, meter: Meter) -> None:
        self._lua = lua
        self._meter = meter
        self._tonumber: Callable[[bytes], object] | None = None
        self._zeros: Any = False
        self._args: tuple[object, ...] = ()

    def release(self) -> None:
        """The call is over: let go of its Lua state (see ``lualibs``)."""
        self._lua = self._tonumber = self._zeros = None
        self._args = ()

    def __call__(self, op: int, zeros: Any, *args: object) -> object:
        fmt = args[0] if args else b""
        self._meter.charge(CALL_COST + FORMAT_COST * len(fmt) if type(fmt) is bytes else CALL_COST)
        self._zeros, self._args = zeros, args
        try:
            if op == 0:
                return self.pack()
            if op == 1:
                return self.unpack()
            return self.size()
        except NeedSigns:
            return False
        except Failure as failure:
            if failure.narg:
                return None, failure.narg, failure.text
            return None, failure.text
        finally:
            self._zeros, self._args = False, ()

    # -- arguments, as luaL_check* reads them (``narg`` counts from 1, the format's) --

    def _lua_number(self, text: bytes) -> float | None:
        """``text`` as Lua reads it as a number (its own ``tonumber``), or None."""
        if self._tonumber is None:
            self._tonumber = self._lua.globals().tonumber
        number = self._tonumber(text)
        if type(number) is int or type(number) is float:
            if number == 0 and text.lstrip(b" \t\n\v\f\r")[:1] == b"-":
                return -0.0  # lupa hands a -0 over as the integer 0
            return number
        return None

    def _negative_zero(self, narg: int) -> bool:
        if self._zeros is False:
            raise NeedSigns
        return self._zeros[narg] is True

    def number(self, narg: int, signed_zero: bool = True) -> float:
        """``luaL_checknumber``; the sign of a zero only where ``signed_zero`` says it
        matters (a float packed)."""
        value = self._args[narg - 1] if narg <= len(self._args) else None
        kind = type(value)
        if kind is int:
            if value == 0 and signed_zero and self._negative_zero(narg):
                return -0.0
            return value  # type: ignore[return-value]
        if kind is float:
            return value  # type: ignore[return-value]
        if kind is bytes:
            number = self._lua_number(value)  # type: ignore[arg-type]
            if number is not None:
                return number
        raise Failure(b"number expected, got " + lua_type_name(value), narg)

    def string(self, narg: int, missing: bytes = b"nil") -> bytes:
        """``luaL_checklstring``: a number is written as Lua writes it. A missing
        argument of ``pack`` is nil (Redis's pushes a nil past its arguments)."""
        value = self._args[narg - 1] if narg <= len(self._args) else None
        if type(value) is bytes:
            return value
        if type(value) is int or type(value) is float:
            if value == 0 and type(value) is int and self._negative_zero(narg):
                return b"-0"
            return _number_text(value)
        got = missing if narg > len(self._args) else lua_type_name(value)
        raise Failure(b"string expected, got " + got, narg)

    # -- the three functions --

    def pack(self) -> bytes:
        tokens = parse(self.string(1, b"no value"))
        out = bytearray()
        arg, big, align = 2, False, 1
        for opt, size, new_align, error in tokens:
            if error is not None and opt != _BANG:
                raise Failure(error)
            if len(out) > OUTPUT_MAX:  # past it by one option at most: 63 bytes
                raise Failure(b"not enough memory")
            padding = _toalign(len(out), align, opt, size)
            out += bytes(padding)
            if opt in _INTEGERS:
                out += _integer(to_u64(self.number(arg, False)), size, big)
                arg += 1
            elif opt == _X:
                out.append(0)
            elif opt == _F:
                number = self.number(arg)
                arg += 1
                try:
                    out += struct.pack(">f" if big else "<f", number)
                except OverflowError:  # C's cast gives an infinity
                    out += struct.pack(">f" if big else "<f", math.copysign(math.inf, number))
            elif opt == _D:
                out += struct.pack(">d" if big else "<d", self.number(arg))
                arg += 1
            elif opt in (_C, _S):
                text = self.string(arg)
                arg += 1
                if size == 0:
                    size = len(text)
                if len(text) < size:
                    raise Failure(b"string too short", arg)  # Redis's names the next one
                if len(out) + size + (opt == _S) > OUTPUT_MAX:
                    raise Failure(b"not enough memory")
                out += text[:size]
                if opt == _S:
                    out.append(0)
            else:
                big, align = self._control(opt, new_align, error, big, align)
        return bytes(out)

    def _control(
        self, opt: int, new_align: int, error: bytes | None, big: bool, align: int
    ) -> tuple[bool, int]:
        """``controloptions``: the byte order and alignment after ``opt``."""
        if opt in (_LT, _GT):
            return opt == _GT, align
        if opt == _BANG:
            if error is not None:
                raise Failure(error)
            return big, new_align
        if opt != 32:
            raise Failure(b"invalid format option '%c'" % opt, 1)
        return big, align

    def unpack(self) -> tuple[object, ...]:
        tokens = parse(self.string(1, b"no value"))
        data = self.string(2, b"no value")
        size_of_data = len(data)
        nargs = len(self._args)
        pos = 1
        if nargs >= 3 and self._args[2] is not None:
            pos = to_i64(self.number(3, False))
        pos &= _M64
        if pos == 0:
            raise Failure(b"offset must be 1 or greater", 3)
        pos -= 1
        results: list[object] = []
        big, align = False, 1
        for opt, size, new_align, error in tokens:
            if error is not None and opt != _BANG:
                raise Failure(error)
            pos = (pos + _toalign(pos, align, opt, size)) & _M64
            if size > size_of_data or pos > size_of_data - size:
                raise Failure(b"data string too short", 2)
            if nargs + len(results) + 2 > STACK_MAX:
                raise Failure(b"stack overflow (too many results)")
            if opt in _INTEGERS:
                results.append(_read_integer(data, pos, size, big, opt in _SIGNED))
            elif opt == _X:
                pass
            elif opt == _F:
                results.append(struct.unpack_from(">f" if big else "<f", data, pos)[0])
            elif opt == _D:
                results.append(struct.unpack_from(">d" if big else "<d", data, pos)[0])
            elif opt == _C:
                if size == 0:
                    size = to_u64(self._previous_size(results))
                    if size > size_of_data or pos > size_of_data - size:
                        raise Failure(b"data string too short", 2)
                results.append(data[pos : pos + size])
            elif opt == _S:
                end = data.find(b"\0", pos)
                if end < 0:
                    raise Failure(b"unfinished string in data")
                size = end - pos + 1
                results.append(data[pos:end])
            else:
                big, align = self._control(opt, new_align, error, big, align)
            pos += size
        following = pos + 1
        results.append(following - (1 << 64) if following & _MIN64 else following)
        if nargs + len(results) > MANY_RESULTS:
            return 2, self._lua.table_from(results)
        return (1, *results)

    def _previous_size(self, results: list[object]) -> float:
        """``c0``'s size: the previous result, taken off the results (a number, or a
        string Lua reads as one)."""
        previous = results[-1] if results else None
        number = previous if type(previous) is float else None
        if type(previous) is bytes:
            number = self._lua_number(previous)
        if number is None:
            raise Failure(b"format 'c0' needs a previous size")
        results.pop()
        return number

    def size(self) -> int:
        tokens = parse(self.string(1, b"no value"))
        pos = 0
        big, align = False, 1
        for opt, size, new_align, error in tokens:
            if error is not None and opt != _BANG:
                raise Failure(error)
            pos += _toalign(pos, align, opt, size)
            if opt == _S:
                raise Failure(b"option 's' has no fixed size", 1)
            if opt == _C and size == 0:
                raise Failure(b"option 'c0' has no fixed size", 1)
            if opt not in _ALNUM:
                big, align = self._control(opt, new_align, error, big, align)
            pos += size
        return pos


def python_side(lua: Any, meter: Meter) -> Struct:
    return Struct(lua, meter)

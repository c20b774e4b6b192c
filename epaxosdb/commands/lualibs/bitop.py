"""The ``bit`` library of Redis's Lua (LuaBitOp 1.0.2): 32-bit operations on numbers.

Lua 5.1 has only doubles, so LuaBitOp reads an argument by adding 2^52 + 2^51 to it
and keeping the low 32 bits of the sum's IEEE representation: an integer below 2^51
in size wraps modulo 2^32, a fraction rounds half to even, and anything larger (or
infinite, or NaN) gives whatever bits the sum leaves there. Python floats are the
same IEEE doubles, so the sum is computed here, exactly as the C library computes
it; results are signed 32-bit numbers, as LuaBitOp returns them.

The Lua side (``SOURCE``) holds one stub per function, named and ordered as
LuaBitOp registers them (so a ``pairs`` walk of ``bit`` sees Redis's order); each
hands its arguments to Python and raises what Python reports with LuaBitOp's
argument errors (``bad argument #2 to 'band' (number expected, got table)``, named
as the script called the function, as ``luaL_argerror`` names it).

One deliberate difference from LuaBitOp 1.0.2 as released: ``bit.tohex(x, n)`` with
``n`` = -2^31 overflowed a stack buffer (CVE-2024-31449); the fix Redis and Debian's
7.0.15 carry reads that width as -(2^31 - 1), i.e. eight upper-case digits, and so
does this library.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from lupa import lua51

from . import ARGERROR, Meter

SOURCE = (
    r"""
local impl, library_error = ...
"""
    + ARGERROR
    + r"""
return {
  tobit = function(...)
    local r, narg, extramsg = impl(0, ...)
    if r then return r end
    library_error(argerror("tobit", narg, extramsg))
  end,
  bnot = function(...)
    local r, narg, extramsg = impl(1, ...)
    if r then return r end
    library_error(argerror("bnot", narg, extramsg))
  end,
  band = function(...)
    local r, narg, extramsg = impl(2, ...)
    if r then return r end
    library_error(argerror("band", narg, extramsg))
  end,
  bor = function(...)
    local r, narg, extramsg = impl(3, ...)
    if r then return r end
    library_error(argerror("bor", narg, extramsg))
  end,
  bxor = function(...)
    local r, narg, extramsg = impl(4, ...)
    if r then return r end
    library_error(argerror("bxor", narg, extramsg))
  end,
  lshift = function(...)
    local r, narg, extramsg = impl(5, ...)
    if r then return r end
    library_error(argerror("lshift", narg, extramsg))
  end,
  rshift = function(...)
    local r, narg, extramsg = impl(6, ...)
    if r then return r end
    library_error(argerror("rshift", narg, extramsg))
  end,
  arshift = function(...)
    local r, narg, extramsg = impl(7, ...)
    if r then return r end
    library_error(argerror("arshift", narg, extramsg))
  end,
  rol = function(...)
    local r, narg, extramsg = impl(8, ...)
    if r then return r end
    library_error(argerror("rol", narg, extramsg))
  end,
  ror = function(...)
    local r, narg, extramsg = impl(9, ...)
    if r then return r end
    library_error(argerror("ror", narg, extramsg))
  end,
  bswap = function(...)
    local r, narg, extramsg = impl(10, ...)
    if r then return r end
    library_error(argerror("bswap", narg, extramsg))
  end,
  tohex = function(...)
    local r, narg, extramsg = impl(11, ...)
    if r then return r end
    library_error(argerror("tohex", narg, extramsg))
  end,
}
"""
)
"""The library table, built by a constructor in LuaBitOp's registration order: a table
constructor sizes the table for its twelve fields up front, as ``luaL_register`` does,
so the keys land in the same slots and ``pairs`` walks them in Redis's order."""

MASK = 0xFFFFFFFF
_MAGIC = 6755399441055744.0
"""2^52 + 2^51: added to a double, it leaves the integer part (mod 2^32) in the low bits."""
_SMALL = 1 << 51
_DOUBLE = struct.Struct("<d")
_QWORD = struct.Struct("<Q")


class BadArgument(Exception):
    """An argument that is neither a number nor a string Lua reads as one: its position
    and Lua's name for what it is (``no value`` when it is missing)."""

    def __init__(self, narg: int, got: bytes) -> None:
        super().__init__(narg, got)
        self.narg = narg
        self.got = got


def lua_type_name(value: object) -> bytes:
    """Lua's name for the type of ``value`` as lupa hands it over (``luaL_typename``)."""
    if value is None:
        return b"nil"
    if type(value) is bool:
        return b"boolean"
    if type(value) is bytes:
        return b"string"
    if type(value) in (int, float):
        return b"number"
    name = lua51.lua_type(value)
    return name.encode() if name else b"userdata"


def bits_of_number(number: float) -> int:
    """LuaBitOp's ``barg`` for a number: the low 32 bits of ``number + 2^52 + 2^51``."""
    if type(number) is int and -_SMALL <= number < _SMALL:
        return number & MASK  # what the sum leaves for a smallish integer, without it
    total: float = float(number) + _MAGIC
    bits: int = _QWORD.unpack(_DOUBLE.pack(total))[0]
    return bits & MASK


def signed(bits: int) -> int:
    """A 32-bit pattern as LuaBitOp returns it: a signed number."""
    return bits - 0x100000000 if bits & 0x80000000 else bits


class Bit:
    """``bit``'s Python side for one call: ``impl(op, ...)`` runs operation ``op``
    (``SOURCE``'s numbering) and returns its result, or ``(None, narg, message)`` for
    an argument LuaBitOp refuses."""

    __slots__ = ("_lua", "_tonumber")

    def __init__(self, lua: Any) -> None:
        self._lua = lua
        self._tonumber: Callable[[bytes], object] | None = None

    def release(self) -> None:
        """The call is over: let go of its Lua state (see ``lualibs``)."""
        self._lua = self._tonumber = None

    def __call__(self, op: int, *args: object) -> object:
        try:
            return _OPERATIONS[op](self, args)
        except BadArgument as bad:
            return None, bad.narg, b"number expected, got " + bad.got

    def arg(self, args: tuple[object, ...], index: int) -> int:
        """Argument ``index`` (from 0) as 32 bits: a number, or a string Lua converts
        (with Lua's own ``tonumber``, so hex, spaces and ``inf`` read as in Redis)."""
        if index >= len(args):
            raise BadArgument(index + 1, b"no value")
        value = args[index]
        if type(value) is int or type(value) is float:
            return bits_of_number(value)
        if type(value) is bytes:
            if self._tonumber is None:
                self._tonumber = self._lua.globals().tonumber
            number = self._tonumber(value)
            if type(number) is int or type(number) is float:
                return bits_of_number(number)
        raise BadArgument(index + 1, lua_type_name(value))


def _tobit(impl: Bit, args: tuple[object, ...]) -> int:
    return signed(impl.arg(args, 0))


def _bnot(impl: Bit, args: tuple[object, ...]) -> int:
    return signed(~impl.arg(args, 0) & MASK)


def _fold(combine: Callable[[int, int], int]) -> Callable[[Bit, tuple[object, ...]], int]:
    """band/bor/bxor: LuaBitOp reads the first argument, then the others from the last
    one back (which decides which bad argument it names)."""

    def operation(impl: Bit, args: tuple[object, ...]) -> int:
        result = impl.arg(args, 0)
        for index in range(len(args) - 1, 0, -1):
            result = combine(result, impl.arg(args, index))
        return signed(result)

    return operation


def _shift(move: Callable[[int, int], int]) -> Callable[[Bit, tuple[object, ...]], int]:
    """lshift/rshift/arshift/rol/ror: the count is taken modulo 32, as LuaBitOp does."""

    def operation(impl: Bit, args: tuple[object, ...]) -> int:
        value = impl.arg(args, 0)
        return signed(move(value, impl.arg(args, 1) & 31) & MASK)

    return operation


def _bswap(impl: Bit, args: tuple[object, ...]) -> int:
    return signed(int.from_bytes(impl.arg(args, 0).to_bytes(4, "little"), "big"))


def _tohex(impl: Bit, args: tuple[object, ...]) -> bytes:
    value = impl.arg(args, 0)
    width = 8 if len(args) < 2 else signed(impl.arg(args, 1))
    digits = "%08x"
    if width < 0:
        width = 8 if width == -0x80000000 else -width  # CVE-2024-31449's fix
        digits = "%08X"
    width = min(width, 8)
    return (digits % value)[8 - width :].encode() if width else b""


_OPERATIONS: tuple[Callable[[Bit, tuple[object, ...]], object], ...] = (
    _tobit,
    _bnot,
    _fold(lambda a, b: a & b),
    _fold(lambda a, b: a | b),
    _fold(lambda a, b: a ^ b),
    _shift(lambda b, n: b << n),
    _shift(lambda b, n: b >> n),
    _shift(lambda b, n: (b | ~MASK if b & 0x80000000 else b) >> n),
    _shift(lambda b, n: (b << n) | (b >> (32 - n))),
    _shift(lambda b, n: (b << (32 - n)) | (b >> n)),
    _bswap,
    _tohex,
)


def python_side(lua: Any, meter: Meter) -> Bit:
    """A call's ``bit``: each operation costs what a few Lua instructions do, which the
    script's budget counts at its stub, so nothing is charged to ``meter``."""
    return Bit(lua)

"""The ``cmsgpack`` library of Redis's Lua (lua_cmsgpack 0.4.0): MessagePack.

Redis 7.0.15's copy, byte for byte, quirks included:

* ``pack(...)`` packs its arguments one after the other (at least one, at most 4,000:
  the C function checks the Lua stack for as many slots again). A number that an
  ``int64_t`` holds exactly is an integer, in the shortest of fixint, uint8..uint64
  (positive) or int8..int64 (negative), so ``-0`` is ``0x00``; any other number is a
  float32 when the value survives as one (``2^63``, ``0.5``, infinities), else a
  float64 (NaN keeps its bits). Strings are fixstr/str8/str16/str32. A table whose
  keys are exactly ``1..n`` is an array, any other a map, in ``next`` order; a table
  nested 16 deep packs as nil, as do functions, userdata and coroutines.
* ``unpack(s)`` returns every object of ``s``; ``unpack_one(s [, offset])`` and
  ``unpack_limit(s, limit [, offset])`` return first the offset after what they read
  (``-1`` at the end), then the objects. ``unpack_limit(s, 0)`` is ``unpack(s)``, as in
  the C code (no offset then); a limit or offset is a C ``lua_Integer`` (truncated,
  2^63 and NaN become -2^63) and an error prints it as an ``int``. Ints and uints of 64
  bits are read as signed (``0xcf`` ``ff...ff`` is -1), then rounded to a double; bin,
  ext and fixext are "Bad data format in input.". A map entry with a nil key fails with
  Lua's "table index is nil" (NaN: "table index is NaN"), one with a nil value is
  skipped. Tables are filled in the C library's order (``t[1], t[2]...``, a map's
  entries as they come), so a later ``pairs`` walks them as it does in Redis.
* The C decoder checks the Lua stack (8,000 slots) before each value: the objects
  already unpacked, and per open array its table and index, per open map its table and
  pending key. The decoder here keeps that count and fails where Redis does, with its
  texts ("stack overflow (too many return values at once; ...)" and friends).

All of it runs in Lua but the float conversions, which Python's ``struct`` does
exactly as C does (``python_side``): ``SOURCE`` holds the stubs, which check arguments
and raise errors as the C functions do, and loads the packer or the decoder the first
time its script needs one (a part a script does not use costs it nothing). Lua code of
a library is outside the script's instruction budget, so its work must be bounded by
its input: packing keeps, per call, the bytes of each table at each depth it was packed
at, so a table referenced many times (``t = {}; for i = 1, 100 do t[i] = t end``: 100^16
objects in Redis, which never finishes) costs one walk per depth; its bytes are still
what Redis would build, up to the Lua memory limit ("not enough memory" past it).
Unpacking reads every byte once. A call costs a few microseconds for a small table
(about 0.5 µs more per element).

Also not reproduced, by the sandbox rather than this library: Redis 7.0.15's Lua hashes
every byte of a string where Lua 5.1 samples one of 32 bytes or more, so a map with
such string keys walks (and packs) in another order than in Redis; a method call the
script tail-calls (``return cmsgpack:unpack()``) or an alias it tail-calls names the
function by its own name in an argument error (Redis: as the script called it).

A table keyed by tables, functions, userdata or coroutines is refused with the
sandbox's error (``scripting.UNORDERED_KEYS``): Redis packs it as a map in the order of
those keys' addresses, which differ between replicas. Not reproduced: the globals and
libraries (``cmsgpack``, ``redis``, ``_G``...) are read-only proxies here, so packing one
packs an empty table (``0x90``), where Redis packs the library's fields.
"""

from __future__ import annotations

import struct

from epaxosdb.commands.scripting import UNORDERED_KEYS, library_bytecode

from . import ARGERROR, Meter

_PACKER = r"""
-- ``pack``'s work, loaded into a call's state the first time its script packs.
local float_bytes = ...
local type, next, floor, char, concat = type, next, math.floor, string.char, table.concat
local MAX_NESTING = 16
local TWO32, TWO63 = 4294967296, 9223372036854775808

-- Packing. ``put`` appends the bytes of ``v`` to ``parts`` after index ``n`` and returns
-- the new last index, or nil when a table inside ``v`` has keys walked in address order.
local pack_table

local function number_bytes(n)
  -- mp_encode_lua_number: an integer when ``(int64_t)n == n`` (x86-64 turns anything
  -- out of range, NaN included, into -2^63, which equals only -2^63 itself).
  if n ~= floor(n) or n >= TWO63 or n < -TWO63 then return float_bytes(n) end
  if n >= 0 then
    if n < 128 then return char(n) end
    if n < 256 then return char(0xcc, n) end
    if n < 65536 then return char(0xcd, floor(n / 256), n % 256) end
    if n < TWO32 then
      return char(0xce, floor(n / 16777216), floor(n / 65536) % 256, floor(n / 256) % 256,
        n % 256)
    end
  else
    if n >= -32 then return char(n + 256) end
    if n >= -128 then return char(0xd0, n + 256) end
    if n >= -32768 then
      n = n + 65536
      return char(0xd1, floor(n / 256), n % 256)
    end
    if n >= -2147483648 then
      n = n + TWO32
      return char(0xd2, floor(n / 16777216), floor(n / 65536) % 256, floor(n / 256) % 256,
        n % 256)
    end
  end
  -- 64 bits, two's complement: the halves are exact in doubles.
  local hi = floor(n / TWO32)
  local lo = n - hi * TWO32
  if hi < 0 then hi = hi + TWO32 end
  return char(n < 0 and 0xd3 or 0xcf, floor(hi / 16777216), floor(hi / 65536) % 256,
    floor(hi / 256) % 256, hi % 256, floor(lo / 16777216), floor(lo / 65536) % 256,
    floor(lo / 256) % 256, lo % 256)
end

local function put(v, level, parts, n, memo)
  local t = type(v)
  if t == "string" then
    local len = #v
    if len < 32 then
      parts[n + 1] = char(0xa0 + len)
    elseif len < 256 then
      parts[n + 1] = char(0xd9, len)
    elseif len < 65536 then
      parts[n + 1] = char(0xda, floor(len / 256), len % 256)
    else
      parts[n + 1] = char(0xdb, floor(len / 16777216), floor(len / 65536) % 256,
        floor(len / 256) % 256, len % 256)
    end
    parts[n + 2] = v
    return n + 2
  elseif t == "number" then
    if v >= 0 and v < 128 and v == floor(v) then
      parts[n + 1] = char(v)  -- fixint, the commonest number: no call to number_bytes
    else
      parts[n + 1] = number_bytes(v)
    end
  elseif t == "boolean" then
    parts[n + 1] = v and "\195" or "\194"
  elseif t == "table" and level < MAX_NESTING then
    local s = pack_table(v, level, memo)
    if s == nil then return nil end
    parts[n + 1] = s
  else
    parts[n + 1] = "\192"  -- nil, a table too deep, a function, userdata, a coroutine
  end
  return n + 1
end

local function header(count, fix, x16)
  if count < 16 then return char(fix + count) end
  if count < 65536 then return char(x16, floor(count / 256), count % 256) end
  return char(x16 + 1, floor(count / 16777216), floor(count / 65536) % 256,
    floor(count / 256) % 256, count % 256)
end

pack_table = function(t, level, memo)
  -- The bytes of ``t`` packed at depth ``level``, kept for the rest of this call: they
  -- depend only on the two (packing runs no metamethod), and a table met again is not
  -- walked again.
  local seen = memo[level]
  if seen == nil then
    seen = {}
    memo[level] = seen
  else
    local s = seen[t]
    if s ~= nil then return s end
  end
  -- table_is_an_array: keys exactly 1..count, each a positive number an ``int`` holds.
  local count, max, array = 0, 0, true
  for k in next, t do
    local kt = type(k)
    if kt == "number" then
      if k <= 0 or k >= 2147483648 or k ~= floor(k) then
        array = false
      elseif k > max then
        max = k
      end
    elseif kt == "string" or kt == "boolean" then
      array = false
    else
      return nil
    end
    count = count + 1
  end
  local parts, n, inner = {}, 1, level + 1
  if array and max == count then
    parts[1] = header(count, 0x90, 0xdc)
    for i = 1, count do
      n = put(t[i], inner, parts, n, memo)
      if n == nil then return nil end
    end
  else
    parts[1] = header(count, 0x80, 0xde)
    for k, v in next, t do
      n = put(k, inner, parts, n, memo)
      n = put(v, inner, parts, n, memo)
      if n == nil then return nil end
    end
  end
  local s = concat(parts, "", 1, n)
  seen[t] = s
  return s
end

return function(count, ...)
  -- The arguments packed one after the other, or nil for a table keyed in address order.
  local args, parts, memo, n = {...}, {}, {}, 0
  for i = 1, count do
    n = put(args[i], 0, parts, n, memo)
    if n == nil then return nil end
  end
  return concat(parts, "", 1, n)
end
"""

_UNPACKER = r"""
-- The decoder, loaded into a call's state the first time its script unpacks.
local float32, float64 = ...
local byte, sub, format = string.byte, string.sub, string.format
local TWO32 = 4294967296
local STACK_MAX = 8000  -- LUAI_MAXCSTACK: the slots a C function may use
local EOF, BADFMT = "Missing bytes in input.", "Bad data format in input."
local TOO_MANY = "stack overflow (too many return values at once; use unpack_one or "
  .. "unpack_limit instead.)"
local IN_ARRAY = "stack overflow (in function mp_decode_to_lua_array)"
local IN_FULL = "stack overflow (in function mp_unpack_full)"

-- Unpacking. ``decode`` reads up to ``limit`` objects of ``s`` from ``pos`` into
-- ``out[first...]``; ``height`` is what the C function holds on its Lua stack when it
-- starts. It returns the count and the position after them, or nil, the error text and
-- whether Lua itself raised it (then without the script's position).
local function decode(s, pos, limit, height, out, first)
  local len = #s
  local count = 0
  local tables, kinds, lefts, keys = {}, {}, {}, {}  -- open containers; kind 1 array,
  local depth = 0                                    -- 2 map awaiting a key, 3 a value
  while pos <= len and count < limit do
    while true do  -- one value: its header, then up through the containers it completes
      if pos > len then return nil, EOF end
      if height >= STACK_MAX then return nil, TOO_MANY end
      local b = byte(s, pos)
      local v, open, size = nil, nil, nil
      if b < 0x80 then
        v, pos = b, pos + 1
      elseif b >= 0xe0 then
        v, pos = b - 256, pos + 1
      elseif b >= 0xa0 and b < 0xc0 then
        local l = b - 0xa0
        if pos + l > len then return nil, EOF end
        v, pos = sub(s, pos + 1, pos + l), pos + l + 1
      elseif b < 0x90 then
        open, size, pos = 2, b - 0x80, pos + 1
      elseif b < 0xa0 then
        open, size, pos = 1, b - 0x90, pos + 1
      elseif b == 0xc0 then
        pos = pos + 1
      elseif b == 0xc2 then
        v, pos = false, pos + 1
      elseif b == 0xc3 then
        v, pos = true, pos + 1
      elseif b == 0xcc or b == 0xd0 then
        if pos + 1 > len then return nil, EOF end
        v = byte(s, pos + 1)
        if b == 0xd0 and v >= 128 then v = v - 256 end
        pos = pos + 2
      elseif b == 0xcd or b == 0xd1 or b == 0xda or b == 0xdc or b == 0xde then
        if pos + 2 > len then return nil, EOF end
        local b1, b2 = byte(s, pos + 1, pos + 2)
        v, pos = b1 * 256 + b2, pos + 3
        if b == 0xd1 then
          if v >= 32768 then v = v - 65536 end
        elseif b == 0xda then
          if pos + v - 1 > len then return nil, EOF end
          v, pos = sub(s, pos, pos + v - 1), pos + v
        elseif b ~= 0xcd then
          open, size, v = b == 0xdc and 1 or 2, v, nil
        end
      elseif b == 0xce or b == 0xd2 or b == 0xdb or b == 0xdd or b == 0xdf then
        if pos + 4 > len then return nil, EOF end
        local b1, b2, b3, b4 = byte(s, pos + 1, pos + 4)
        v, pos = ((b1 * 256 + b2) * 256 + b3) * 256 + b4, pos + 5
        if b == 0xd2 then
          if v >= 2147483648 then v = v - TWO32 end
        elseif b == 0xdb then
          if pos + v - 1 > len then return nil, EOF end
          v, pos = sub(s, pos, pos + v - 1), pos + v
        elseif b ~= 0xce then
          open, size, v = b == 0xdd and 1 or 2, v, nil
        end
      elseif b == 0xcf or b == 0xd3 then
        -- Both read as int64_t (lua_pushunsigned is lua_pushinteger in Lua 5.1), then
        -- rounded once to a double, as the sum of the exact halves is.
        if pos + 8 > len then return nil, EOF end
        local b1, b2, b3, b4, b5, b6, b7, b8 = byte(s, pos + 1, pos + 8)
        local hi = ((b1 * 256 + b2) * 256 + b3) * 256 + b4
        if hi >= 2147483648 then hi = hi - TWO32 end
        v, pos = hi * TWO32 + (((b5 * 256 + b6) * 256 + b7) * 256 + b8), pos + 9
      elseif b == 0xca then
        if pos + 4 > len then return nil, EOF end
        v, pos = float32(sub(s, pos + 1, pos + 4)), pos + 5
      elseif b == 0xcb then
        if pos + 8 > len then return nil, EOF end
        v, pos = float64(sub(s, pos + 1, pos + 8)), pos + 9
      elseif b == 0xd9 then
        if pos + 1 > len then return nil, EOF end
        local l = byte(s, pos + 1)
        if pos + l + 1 > len then return nil, EOF end
        v, pos = sub(s, pos + 2, pos + l + 1), pos + l + 2
      else  -- 0xc1, bin, ext and fixext
        return nil, BADFMT
      end
      height = height + 1  -- the value, or the new table
      local deliver = true
      if open then
        if open == 1 and height >= STACK_MAX then return nil, IN_ARRAY end
        v = {}
        if size > 0 then
          depth = depth + 1
          tables[depth], kinds[depth], lefts[depth] = v, open, size
          if open == 1 then
            keys[depth] = 1
            height = height + 1  -- the index
          end
          deliver = false
        end
      end
      if deliver then
        while depth > 0 do
          local kind = kinds[depth]
          if kind == 2 then  -- the key stays on the stack until its value comes
            keys[depth], kinds[depth] = v, 3
            break
          end
          local t, k = tables[depth], keys[depth]
          if kind == 3 then
            if k == nil then return nil, "table index is nil", true end
            if k ~= k then return nil, "table index is NaN", true end
          end
          t[k] = v
          height = height - 2
          local left = lefts[depth] - 1
          if left > 0 then
            lefts[depth] = left
            if kind == 1 then
              keys[depth] = k + 1
              height = height + 1
            else
              kinds[depth] = 2
            end
            break
          end
          v, depth = t, depth - 1  -- complete: it is its parent's value now
        end
        if depth == 0 then
          count = count + 1
          out[first + count - 1] = v
          break
        end
      end
    end
  end
  return count, pos, height
end

local function as_int(n)
  -- A lua_Integer printed with ``%d``, i.e. cast to ``int``: its low 32 bits, signed.
  n = n % TWO32
  if n >= 2147483648 then n = n - TWO32 end
  return n
end

-- mp_unpack_full: nil, the message and whether Lua raised it on failure, else the
-- results and their count.
return function(s, limit, offset, height)
  local len = #s
  if offset < 0 or limit < 0 then
    return nil, format("Invalid request to unpack with offset of %d and limit of %d.",
      as_int(offset), as_int(len))
  elseif offset > len then
    return nil, format("Start offset %d greater than input length %d.", as_int(offset),
      as_int(len))
  end
  local all = limit == 0 and offset == 0
  local out = {}
  local count, pos, last = decode(s, offset + 1, all and 2147483647 or limit, height, out,
    all and 1 or 2)
  if count == nil then return nil, pos, last end
  if all then return out, count end
  if last >= STACK_MAX then return nil, IN_FULL end
  out[1] = pos > len and -1 or pos - 1
  return out, count + 1
end
"""

SOURCE = (
    r"""
local impl, library_error = ...
local type, select, error, tostring, tonumber = type, select, error, tostring, tonumber
local floor, unpack, loadstring = math.floor, unpack, loadstring
local UNORDERED = [==["""
    + UNORDERED_KEYS
    + r"""]==]
local TWO63 = 9223372036854775808
local pack_values, unpack_full  -- loaded by the first call that needs them

"""
    + ARGERROR
    + r"""
local function typename(count, narg, v)
  if count < narg then return "no value" end
  return type(v)
end

local function typename(count, narg, v)
  if count < narg then return "no value" end
  return type(v)
end

local function to_integer(n)
  -- lua_Integer from a double, as x86-64 converts it (truncation; -2^63 when it
  -- does not fit, NaN included).
  if n ~= n or n >= TWO63 or n < -TWO63 then return -TWO63 end
  if n < 0 then return -floor(-n) end
  return floor(n)
end

local function string_argument(count, s)
  -- luaL_checklstring on argument 1: a number becomes its string, as Lua prints it.
  local t = type(s)
  if t == "string" then return s end
  if t == "number" then return tostring(s) end
  return nil, "string expected, got " .. typename(count, 1, s)
end

local function integer_argument(count, narg, v)
  -- luaL_checkinteger: a number, or a string that reads as one.
  local n = tonumber(v)
  if n == nil then return nil, "number expected, got " .. typename(count, narg, v) end
  return to_integer(n)
end

local function results(out, n)
  -- ``unpack`` gives at most 7,997 values (its own three arguments take stack slots);
  -- the decoder stops at 7,999, as Redis's does.
  if n <= 7997 then return unpack(out, 1, n) end
  return out[1], out[2], unpack(out, 3, n)
end

local function unpacked(s, limit, offset, height)
  unpack_full = unpack_full or loadstring(impl.code(2))(impl.float32, impl.float64)
  return unpack_full(s, limit, offset, height)
end

local lib = {}
lib.pack = function(...)
  local count = select("#", ...)
  if count == 0 then
    library_error(argerror("pack", 0, "MessagePack pack needs input."))
  end
  if count > 4000 then  -- the C function asks the Lua stack for as many slots again
    library_error(argerror("pack", 0, "Too many arguments for MessagePack pack."))
  end
  pack_values = pack_values or loadstring(impl.code(1))(impl.float_bytes)
  local s = pack_values(count, ...)
  if s == nil then error(UNORDERED, 0) end
  return s
end
lib.unpack = function(...)
  local count = select("#", ...)
  local s, problem = string_argument(count, (...))
  if s == nil then library_error(argerror("unpack", 1, problem)) end
  local out, n, raw = unpacked(s, 0, 0, count)
  if out == nil then
    if raw then error(n, 0) end
    library_error(n)
  end
  return results(out, n)
end
lib.unpack_one = function(...)
  local count = select("#", ...)
  local s, offset = ...
  local problem
  if offset == nil then
    offset = 0
  else
    offset, problem = integer_argument(count, 2, offset)
    if offset == nil then library_error(argerror("unpack_one", 2, problem)) end
  end
  s, problem = string_argument(count, s)
  if s == nil then library_error(argerror("unpack_one", 1, problem)) end
  local out, n, raw = unpacked(s, 1, offset, 1)
  if out == nil then
    if raw then error(n, 0) end
    library_error(n)
  end
  return results(out, n)
end
lib.unpack_limit = function(...)
  local count = select("#", ...)
  local s, limit, offset = ...
  local problem
  limit, problem = integer_argument(count, 2, limit)
  if limit == nil then library_error(argerror("unpack_limit", 2, problem)) end
  if offset == nil then
    offset = 0
  else
    offset, problem = integer_argument(count, 3, offset)
    if offset == nil then library_error(argerror("unpack_limit", 3, problem)) end
  end
  s, problem = string_argument(count, s)
  if s == nil then library_error(argerror("unpack_limit", 1, problem)) end
  local out, n, raw = unpacked(s, limit, offset, 1)
  if out == nil then
    if raw then error(n, 0) end
    library_error(n)
  end
  return results(out, n)
end
lib._NAME = "cmsgpack"
lib._VERSION = "lua-cmsgpack 0.4.0"
lib._COPYRIGHT = "Copyright (C) 2012, Salvatore Sanfilippo"
lib._DESCRIPTION = "MessagePack C implementation for Lua"
return lib
"""
)
"""The library table, its fields set in the order ``luaopen_cmsgpack`` sets them (a
``pairs`` walk of ``cmsgpack`` then sees Redis's order). Its stubs check arguments as
the C functions do and raise the errors; the work is in ``_PACKER`` and ``_UNPACKER``,
loaded by the first call that needs each, so a script pays only for what it uses."""

_FLOAT32 = struct.Struct(">f")
_FLOAT64 = struct.Struct(">d")
_BITS32 = struct.Struct(">I")
_BITS64 = struct.Struct(">Q")


class _Side:
    """What the Lua side asks Python for: the bytecode of its lazily loaded parts, and
    the conversions Lua cannot do exactly (IEEE floats to and from their bytes)."""

    __slots__ = ()

    @staticmethod
    def code(part: int) -> bytes:
        """The bytecode of ``_PACKER`` (1) or ``_UNPACKER`` (2)."""
        return _bytecode(_PACKER if part == 1 else _UNPACKER)

    @staticmethod
    def float_bytes(number: float) -> bytes:
        """mp_encode_double: float32 when ``(double)(float)d == d``, else float64. C's
        conversion turns a value past float32's range into an infinity (never equal to
        it), where ``struct`` raises; NaN never equals itself either."""
        number = float(number)
        try:
            single = _FLOAT32.pack(number)
        except OverflowError:
            single = None
        if single is not None and _FLOAT32.unpack(single)[0] == number:
            return b"\xca" + single
        return b"\xcb" + _FLOAT64.pack(number)

    @staticmethod
    def float32(data: bytes) -> float:
        """A float32 widened to a double as C widens it: a NaN keeps its sign and
        payload and becomes quiet (the payload's top bit set)."""
        (bits,) = _BITS32.unpack(data)
        if bits & 0x7F800000 == 0x7F800000 and bits & 0x7FFFFF:
            wide = (bits >> 31) << 63 | 0x7FF8 << 48 | (bits & 0x7FFFFF) << 29
            value: float = _FLOAT64.unpack(_BITS64.pack(wide))[0]
            return value
        single: float = _FLOAT32.unpack(data)[0]
        return single

    @staticmethod
    def float64(data: bytes) -> float:
        value: float = _FLOAT64.unpack(data)[0]
        return value


def _bytecode(source: str) -> bytes:
    """Compiled once per process, as library code; a call's state loads the bytecode,
    which costs a fraction of compiling the source."""
    return library_bytecode(source)


_SIDE = _Side()


def python_side(lua: object, meter: Meter) -> _Side:
    """The Python half of a call's library: stateless, so one object serves every call
    (it only converts floats: nothing to charge to ``meter``)."""
    return _SIDE

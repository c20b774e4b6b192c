"""``cjson`` for scripts: Redis 7.0.15's lua-cjson 2.1.0, reproduced byte for byte.

Encoding runs in Lua (``_ENCODE``): it walks the script's tables with ``next``, the
walk Redis's C code makes with ``lua_next``, so keys come out in Redis's order, and
it formats numbers with ``string.format("%.14g")``, the ``snprintf`` Redis calls.
What C does by accident is kept where a script can see it: an index of 2^31 or more
counts as ``INT_MIN`` in the array-length walk (x86's ``cvttsd2si``), the sparse-ratio
product wraps at 32 bits, settings are read through ``(int)`` of ``lua_tointeger``,
and nesting stops where Lua's C stack (``LUAI_MAXCSTACK``, 8,000 slots) would stop the
C code, whatever ``encode_max_depth`` says.

Decoding runs in Python (``_Decoder``): a lexer that follows the C one (``strtod``'s
forms for numbers when ``decode_invalid_numbers`` is on, as by default: hex, ``inf``,
``nan``, leading zeros and ``+``; the NUL byte that ends the C string; the same
"Expected ... but found ... at character N" texts), which hands Lua the tokens as a
string of kinds and a flat table of strings and numbers; Lua (``_DECODE``) builds the
tables, inserting keys in document order as the C parser does, so a later ``pairs``
or ``cjson.encode`` of the result sees Redis's order.

Cost: the sandbox loads ``SOURCE`` into the call's fresh state when a script first
names ``cjson``; it loads the core (the library table), and the core loads the
encoder, the table builder and the settings functions when first called, each
compiled once per process without debug information (loading costs in proportion
to size: about 20 µs for the core, 40 µs more for the encoder, against 130 µs for
the whole library in one chunk).

Determinism: a table key that is a table, a function or a userdata sits where its
address puts it, so an encode of a table holding one is refused before any output
with the sandbox's error (``scripting.UNORDERED_KEYS``), unless every order would
fail with the same text (``{[{}] = 1}``: "table key must be a number or string").
Bounds: the encoder's work follows the input, plus the nulls of a sparse array and
the repeats of shared sub-tables: it is library Lua, which the script's instruction
budget stops like the script's own, and its output costs about its own size in Lua
memory. The Python side's work and output are linear in the text decoded, and charged
to the call's ``lualibs.Meter`` before it starts (``DECODE_COST`` per byte).

Where it differs from Redis: ``cjson.null`` is a full userdata (Redis: a light one,
NULL), so ``getmetatable(cjson.null)`` is a table (with the ``__tostring`` that
prints it "userdata: (nil)" as Redis does) rather than nil; NaN payloads
(``nan(123)``) are dropped; settings last for the call that makes them (Redis keeps
them for later scripts); the sandbox's read-only library tables are empty proxies,
so ``cjson.encode(string)`` gives ``{}`` (Redis: "Cannot serialise function"); an
error of a call the script tail-calls (``return cjson.decode(s)``) names the
script's last line, as the sandbox does for every tail call, and argument errors
then guess the name the script used.
"""

from __future__ import annotations

import math
import re
from typing import Any

from epaxosdb.commands.scripting import UNORDERED_KEYS, library_bytecode

from . import Meter

__all__ = ["SOURCE", "python_side"]

STACK_SLOTS = 8000
"""Lua 5.1's ``LUAI_MAXCSTACK``: the C parser's ``lua_checkstack`` fails past it."""

SOURCE = r"""
-- What the sandbox loads: the core, compiled once without its debug information,
-- which halves what every script naming ``cjson`` loads.
local impl, library_error = ...
return loadstring(impl.part("core"))(impl, library_error)
"""

_CORE = r"""
-- The library table; its functions raise their errors themselves (``library_error``
-- goes by the level it is called from).
local impl, library_error = ...
local select, type, tostring, loadstring = select, type, tostring, loadstring

-- JSON null: one userdata for every instance, as Redis's NULL light userdata is one
-- value, printed as Redis prints that ("userdata: (nil)"), which takes a metatable
-- (Redis's has none).
local null = newproxy(true)
getmetatable(null).__tostring = function() return "userdata: (nil)" end

-- The work is in parts (``PARTS``) loaded when first called: loading code into the
-- call's fresh state costs in proportion to its size, and most scripts use one or
-- two functions of the library.
local parts = {}
local function part(name)
  local loaded = parts[name]
  if loaded == nil then
    loaded = loadstring(impl.part(name))(impl, null)
    parts[name] = loaded
  end
  return loaded
end

local function new_instance()
  local cfg = {
    sparse_convert = 0, sparse_ratio = 2, sparse_safe = 10,
    encode_max_depth = 1000, decode_max_depth = 1000,
    encode_invalid = 0, decode_invalid = 1, keep_buffer = 1,
    precision = 14, number_fmt = "%.14g",
  }
  local lib = {}
  lib.encode = function(...)
    if select("#", ...) ~= 1 then
      library_error(part("settings").arg_text(2, 1, "expected 1 argument", "encode", (...)))
    end
    local ok, out = part("encode")(cfg, ...)
    if ok then return out end
    library_error(out)
  end
  lib.decode = function(...)
    if select("#", ...) ~= 1 then
      library_error(part("settings").arg_text(2, 1, "expected 1 argument", "decode", (...)))
    end
    local text = ...
    local tt = type(text)
    if tt == "number" then
      text = tostring(text)
    elseif tt ~= "string" then
      library_error(part("settings").arg_text(2, 1, "string expected, got " .. tt, "decode",
                                              text))
    end
    local ok, kinds, values = impl.decode(text, cfg.decode_invalid == 1, cfg.decode_max_depth)
    if not ok then library_error(kinds) end
    return part("decode")(kinds, values)
  end
  lib.encode_sparse_array = function(...)
    local e, convert, ratio, safe = part("settings").sparse(cfg, select("#", ...), ...)
    if e then library_error(e) end
    return convert, ratio, safe
  end
  local function setting(kind, field, a, b, name)
    return function(...)
      local e, value = part("settings")[kind](cfg, field, a, b, name, select("#", ...), ...)
      if e then library_error(e) end
      return value
    end
  end
  lib.encode_max_depth = setting("integer", "encode_max_depth", 1, 2147483647, "encode_max_depth")
  lib.decode_max_depth = setting("integer", "decode_max_depth", 1, 2147483647, "decode_max_depth")
  lib.encode_number_precision = setting("integer", "precision", 1, 14, "encode_number_precision")
  lib.encode_keep_buffer = setting("enum", "keep_buffer", "on_off", nil, "encode_keep_buffer")
  lib.encode_invalid_numbers = setting("enum", "encode_invalid", "invalid", nil,
                                       "encode_invalid_numbers")
  lib.decode_invalid_numbers = setting("enum", "decode_invalid", "on_off", nil,
                                       "decode_invalid_numbers")
  lib.new = new_instance
  lib.null = null
  lib._NAME = "cjson"
  lib._VERSION = "2.1.0"
  return lib
end

return new_instance()
"""

_SETTINGS = r"""
-- The settings functions' work, and luaL_argerror's texts for every function. Each
-- returns an error text for the stub to raise, or nil and the results.
local impl, null = ...
local type, tostring, tonumber, pcall, select = type, tostring, tonumber, pcall, select
local floor, format, getinfo = math.floor, string.format, debug.getinfo

local function get_field(t, k) return t[k] end

local function arg_text(level, n, extra, canonical, first)
  -- luaL_argerror's words. ``level`` is the stub's level as seen from here; the stub
  -- was called by the name Lua finds for it, as a method (``cjson:decode``: the self
  -- is argument 0), from C (``pcall(cjson.decode)``: '?'), or by a tail call, whose
  -- caller's frame is gone (the C function keeps it): its usual name then, and a
  -- method call if its first argument (``first``) holds it under that name.
  local info = getinfo(level, "nf")
  local name, method = info.name, info.namewhat == "method"
  if name == nil then
    local caller = getinfo(level + 1, "S")
    if caller and caller.what == "tail" then
      name = canonical
      if type(first) == "table" then
        local ok, field = pcall(get_field, first, canonical)
        method = ok and field == info.func
      end
    else
      name = "?"
    end
  end
  if method then
    n = n - 1
    if n == 0 then return format("calling '%s' on bad self (%s)", name, extra) end
  end
  return format("bad argument #%d to '%s' (%s)", n, name, extra)
end

local function c_int(d)
  -- ``(int) lua_tointeger(d)`` on x86-64: truncated, 64-bit overflow to INT64_MIN,
  -- then the low 32 bits.
  if d ~= d or d >= 9223372036854775808 or d < -9223372036854775808 then return 0 end
  if d >= 0 then d = floor(d) else d = -floor(-d) end
  d = d % 4294967296
  if d >= 2147483648 then d = d - 4294967296 end
  return d
end

local function integer_option(cfg, field, value, index, low, high, name, first)
  -- json_integer_option: nil keeps the setting; the range error names argument 1,
  -- whichever argument it is (as Redis's does). Returns an error text or nil.
  if value == nil then return nil end
  local d = tonumber(value)
  if d == nil then
    return arg_text(4, index, "number expected, got " .. type(value), name, first)
  end
  d = c_int(d)
  if d < low or d > high then
    return arg_text(4, 1, format("expected integer between %d and %d", low, high), name,
                    first)
  end
  cfg[field] = d
end

local function enum_option(cfg, field, value, index, options, name, first)
  -- json_enum_option with ``bool_true`` 1: a boolean, or one of the option names.
  if value == nil then return nil end
  if type(value) == "boolean" then
    cfg[field] = value and 1 or 0
    return nil
  end
  local vt = type(value)
  if vt ~= "string" and vt ~= "number" then
    return arg_text(4, index, "string expected, got " .. vt, name, first)
  end
  local s = tostring(value)
  for i = 1, #options do
    if options[i] == s then
      cfg[field] = i - 1
      return nil
    end
  end
  return arg_text(4, index, format("invalid option '%s'", s), name, first)
end

local function enum_result(setting, options)
  if setting == 0 or setting == 1 then return setting == 1 end
  return options[setting + 1]
end

local options = {on_off = {"off", "on"}, invalid = {"off", "on", "null"}}

local settings = {arg_text = arg_text}

function settings.integer(cfg, field, low, high, name, count, ...)
  if count > 1 then return arg_text(3, 2, "found too many arguments", name, (...)) end
  local e = integer_option(cfg, field, (...), 1, low, high, name, (...))
  if e then return e end
  if field == "precision" then cfg.number_fmt = "%." .. cfg.precision .. "g" end
  return nil, cfg[field]
end

function settings.enum(cfg, field, set, _, name, count, ...)
  local choices = options[set]
  if count > 1 then return arg_text(3, 2, "found too many arguments", name, (...)) end
  local e = enum_option(cfg, field, (...), 1, choices, name, (...))
  if e then return e end
  return nil, enum_result(cfg[field], choices)
end

function settings.sparse(cfg, count, ...)
  local name = "encode_sparse_array"
  if count > 3 then return arg_text(3, 4, "found too many arguments", name, (...)) end
  local convert_arg, ratio_arg, safe_arg = ...
  local e = enum_option(cfg, "sparse_convert", convert_arg, 1, options.on_off, name, convert_arg)
    or integer_option(cfg, "sparse_ratio", ratio_arg, 2, 0, 2147483647, name, convert_arg)
    or integer_option(cfg, "sparse_safe", safe_arg, 3, 0, 2147483647, name, convert_arg)
  if e then return e end
  return nil, cfg.sparse_convert == 1, cfg.sparse_ratio, cfg.sparse_safe
end

return settings
"""

_ENCODE = r"""
-- ``cjson.encode``'s work: ``true, text`` or ``false, error text``.
local impl, null = ...
local type, next, rawget, select, pcall, error, setmetatable, getmetatable =
      type, next, rawget, select, pcall, error, setmetatable, getmetatable
local floor, huge = math.floor, math.huge
local format, gsub, find, char, concat =
      string.format, string.gsub, string.find, string.char, table.concat
local collectgarbage = collectgarbage
local unordered_text = impl.unordered

local failure = {}  -- the metatable of an encode error raised inside the walk
local function fail(text) error(setmetatable({text = text}, failure), 0) end

local escapes
local escaped = '[%z\1-\31"/\\\127]'
local function escape_table()
  escapes = {}
  for i = 0, 31 do escapes[char(i)] = format("\\u%04x", i) end
  escapes["\b"], escapes["\t"], escapes["\n"], escapes["\f"], escapes["\r"] =
    "\\b", "\\t", "\\n", "\\f", "\\r"
  escapes['"'], escapes["\\"], escapes["/"], escapes["\127"] = '\\"', "\\\\", "\\/", "\\u007f"
  return escapes
end

-- The state of the running encode (an encode calls no script code, so never nests):
-- pieces of output in ``buf``, joined into ``chunks`` every few thousand so that the
-- output costs about its own size in memory, as Redis's buffer does.
local buf, n, chunks, nchunks, number_fmt, invalid, max_depth, convert, ratio, safe

local function flush()
  nchunks = nchunks + 1
  chunks[nchunks] = concat(buf, "", 1, n)
  n = 0
end

local function number_text(x)
  if x ~= x or x == huge or x == -huge then
    if invalid == 0 then fail("Cannot serialise number: must not be NaN or Inf") end
    if invalid == 2 then return "null" end
    if x ~= x then return "nan" end
  end
  return format(number_fmt, x)
end

local function append_string(s)
  if find(s, escaped) then s = gsub(s, escaped, escapes or escape_table()) end
  buf[n + 1], buf[n + 2], buf[n + 3] = '"', s, '"'
  n = n + 3
end

local function wrapped_product(a, b)
  -- ``a * b`` in C ints (both non-negative): wraps modulo 2^32.
  local p = a * b
  if p < 2147483648 then return p end
  local low = b % 65536
  p = (a * low + ((a * (b - low) / 65536) % 65536) * 65536) % 4294967296
  if p >= 2147483648 then p = p - 4294967296 end
  return p
end

local function scalar_error(v)
  -- The error encoding ``v`` raises (a string), none (nil), or not known without
  -- walking it (false: a table).
  local vt = type(v)
  if vt == "number" then
    if invalid == 0 and (v ~= v or v == huge or v == -huge) then
      return "Cannot serialise number: must not be NaN or Inf"
    end
    return nil
  end
  if vt == "table" then return false end
  if vt == "string" or vt == "boolean" or v == null then return nil end
  return "Cannot serialise " .. vt .. ": type not supported"
end

local function unordered_error(t)
  -- A table with a key whose place follows its address fails in Redis, at that key
  -- or at an earlier error, depending on the order. When every order gives the same
  -- text, that text; otherwise the sandbox's refusal.
  local first
  for k, v in next, t do
    local kt, text = type(k), nil
    if kt == "string" then
      text = scalar_error(v)
    elseif kt == "number" then
      text = scalar_error(k) or scalar_error(v)
    else
      text = "Cannot serialise " .. kt .. ": table key must be a number or string"
    end
    if text == false or (text and first and text ~= first) then
      return (unordered_text:gsub("^ERR ", ""))
    end
    first = first or text
  end
  return first
end

local append

local function append_table(t, depth, used)
  depth = depth + 1
  if depth > max_depth or used + 3 > 8000 then
    fail(format("Cannot serialise, excessive nesting (%d)", depth))
  end
  local max, items, array = 0, 0, true
  for k in next, t do
    local kt = type(k)
    if kt == "number" then
      if array then
        if k >= 1 and floor(k) == k then
          if k > max then max = k < 2147483648 and k or -2147483648 end
          items = items + 1
        else
          array = false
        end
      end
    elseif kt == "string" or kt == "boolean" then
      array = false
    else
      fail(unordered_error(t))
    end
  end
  if array and max > 0 then
    if ratio > 0 and max > wrapped_product(items, ratio) and max > safe then
      if convert == 0 then fail("Cannot serialise table: excessively sparse array") end
    else
      n = n + 1
      buf[n] = "["
      for i = 1, max do
        if i > 1 then
          n = n + 1
          buf[n] = ","
        end
        append(rawget(t, i), depth, used + 1)
      end
      n = n + 1
      buf[n] = "]"
      return
    end
  end
  n = n + 1
  buf[n] = "{"
  local comma = false
  for k, v in next, t do
    if comma then
      n = n + 1
      buf[n] = ","
    end
    comma = true
    local kt = type(k)
    if kt == "number" then
      buf[n + 1], buf[n + 2], buf[n + 3] = '"', number_text(k), '":'
      n = n + 3
    elseif kt == "string" then
      append_string(k)
      n = n + 1
      buf[n] = ":"
    else
      fail("Cannot serialise " .. kt .. ": table key must be a number or string")
    end
    append(v, depth, used + 2)
  end
  n = n + 1
  buf[n] = "}"
end

append = function(v, depth, used)
  if n > 4096 then flush() end
  local vt = type(v)
  if vt == "string" then
    append_string(v)
  elseif vt == "number" then
    n = n + 1
    buf[n] = number_text(v)
  elseif vt == "table" then
    append_table(v, depth, used)
  elseif vt == "boolean" then
    n = n + 1
    buf[n] = v and "true" or "false"
  elseif vt == "nil" or v == null then
    n = n + 1
    buf[n] = "null"
  else
    fail("Cannot serialise " .. vt .. ": type not supported")
  end
end

local function encode_value(cfg, v)
  buf, n, chunks, nchunks = {}, 0, {}, 0
  number_fmt, invalid, max_depth = cfg.number_fmt, cfg.encode_invalid, cfg.encode_max_depth
  convert, ratio, safe = cfg.sparse_convert, cfg.sparse_ratio, cfg.sparse_safe
  append(v, 0, 1)
  local out
  if nchunks == 0 then
    out = concat(buf, "", 1, n)
  else
    flush()
    out = concat(chunks, "", 1, nchunks)
  end
  buf, chunks = nil, nil
  return out
end

return function(cfg, v)
  local ok, out = pcall(encode_value, cfg, v)
  if ok then return true, out end
  buf, chunks = nil, nil
  if getmetatable(out) == failure then return false, out.text end
  collectgarbage()  -- out of memory: free the partial output so the error can be handled
  error(out, 0)
end
"""

_DECODE = r"""
-- ``cjson.decode``'s tables, from the tokens ``_Decoder`` found.
local impl, null = ...
local byte = string.byte

local K, V, T, F, Z, A, O, C = byte("kvtfz[{]", 1, 8)

local function build(kinds, values)
  -- The tables of a decoded document from its tokens (see ``_Decoder``): each table
  -- made empty, filled in document order, and stored in its parent once complete,
  -- as the C parser does.
  local count = #kinds
  if count == 1 then
    local c = byte(kinds)
    if c == V then return values[1] end
    if c == T then return true end
    if c == F then return false end
    return null
  end
  local stack, top = {}, 0
  local current, is_object, key, index, result = nil, false, nil, 0, nil
  local vi = 0
  for i = 1, count do
    local c = byte(kinds, i)
    if c == K then
      vi = vi + 1
      key = values[vi]
    elseif c == A or c == O then
      stack[top + 1], stack[top + 2], stack[top + 3], stack[top + 4] =
        current, is_object, key, index
      top = top + 4
      current, is_object, key, index = {}, c == O, nil, 0
    else
      local v
      if c == V then
        vi = vi + 1
        v = values[vi]
      elseif c == C then
        v = current
        current, is_object, key, index =
          stack[top - 3], stack[top - 2], stack[top - 1], stack[top]
        top = top - 4
      elseif c == T then
        v = true
      elseif c == F then
        v = false
      else
        v = null
      end
      if current == nil then
        result = v
      elseif is_object then
        current[key] = v
      else
        index = index + 1
        current[index] = v
      end
    end
  end
  return result
end

return build
"""

# Token types, numbered and named as lua_cjson.c's ``json_token_type_t``.
(
    _OBJ_BEGIN,
    _OBJ_END,
    _ARR_BEGIN,
    _ARR_END,
    _STRING,
    _NUMBER,
    _BOOLEAN,
    _NULL,
    _COLON,
    _COMMA,
    _END,
    _WHITESPACE,
    _ERROR,
    _UNKNOWN,
) = range(14)
_TOKEN_NAMES = (
    "T_OBJ_BEGIN",
    "T_OBJ_END",
    "T_ARR_BEGIN",
    "T_ARR_END",
    "T_STRING",
    "T_NUMBER",
    "T_BOOLEAN",
    "T_NULL",
    "T_COLON",
    "T_COMMA",
    "T_END",
    "T_WHITESPACE",
    "T_ERROR",
    "T_UNKNOWN",
)
_SINGLE = {
    ord("{"): _OBJ_BEGIN,
    ord("}"): _OBJ_END,
    ord("["): _ARR_BEGIN,
    ord("]"): _ARR_END,
    ord(","): _COMMA,
    ord(":"): _COLON,
}
_WHITESPACE_BYTES = b" \t\n\r"
_UNKNOWN_START = frozenset(b'fiIntN"+-0123456789')
"""Bytes that may start a token needing more than one byte (the C table's T_UNKNOWN)."""
_ESCAPES = {
    ord('"'): b'"',
    ord("\\"): b"\\",
    ord("/"): b"/",
    ord("b"): b"\b",
    ord("t"): b"\t",
    ord("n"): b"\n",
    ord("f"): b"\f",
    ord("r"): b"\r",
}
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_STRING_RUN = re.compile(rb'[^"\\]*')
_STRTOD = re.compile(
    rb"""[+-]?(?:
      (0[xX](?:[0-9a-fA-F]+(?:\.[0-9a-fA-F]*)?|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?)
    | ((?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
    | ([iI][nN][fF](?:[iI][nN][iI][tT][yY])?)
    | ([nN][aA][nN](?:\([0-9A-Za-z_]*\))?)
    )""",
    re.VERBOSE,
)
"""What glibc's ``strtod`` reads (in the C locale): hex with a binary exponent, decimal,
``inf``/``infinity`` and ``nan``/``nan(chars)``, each with a sign."""

_Token = tuple[int, int, Any]
"""(type, index of its first byte, value: bytes, float, bool or an error text)."""


def strtod(data: bytes, pos: int) -> tuple[float, int] | None:
    """The number glibc's ``strtod`` reads at ``pos`` and where it stops, or None when
    it reads nothing. Correctly rounded, as glibc is."""
    match = _STRTOD.match(data, pos)
    if match is None:
        return None
    text = match.group(0)
    negative = text[:1] == b"-"
    if match.group(1) is not None:
        try:
            value = float.fromhex(text.decode())
        except OverflowError:
            value = -math.inf if negative else math.inf
    elif match.group(2) is not None:
        value = float(text)
    elif match.group(3) is not None:
        value = -math.inf if negative else math.inf
    else:
        value = math.copysign(math.nan, -1.0 if negative else 1.0)
    return value, match.end()


class _Decoder:
    """One ``cjson.decode``: lua_cjson.c's lexer and parser over ``data``, producing
    the tokens Lua builds tables from (``kinds``, ``values``) or an error text."""

    __slots__ = ("data", "end", "invalid_numbers", "pos")

    def __init__(self, data: bytes, invalid_numbers: bool) -> None:
        nul = data.find(b"\0")
        self.data = data
        self.end = len(data) if nul < 0 else nul  # the C string ends at its first NUL
        self.pos = 0
        self.invalid_numbers = invalid_numbers

    def token(self) -> _Token:
        data, end = self.data, self.end
        pos = self.pos
        while pos < end and data[pos] in _WHITESPACE_BYTES:
            pos += 1
        self.pos = pos
        if pos >= end:
            return _END, pos, None
        ch = data[pos]
        single = _SINGLE.get(ch)
        if single is not None:
            self.pos = pos + 1
            return single, pos, None
        if ch not in _UNKNOWN_START:
            return _ERROR, pos, "invalid token"
        if ch == 0x22:  # "
            return self._string(pos)
        if ch == 0x2D or 0x30 <= ch <= 0x39:  # - or a digit
            if not self.invalid_numbers and self._is_invalid_number(pos):
                return _ERROR, pos, "invalid number"
            return self._number(pos)
        if data.startswith(b"true", pos, end):
            self.pos = pos + 4
            return _BOOLEAN, pos, True
        if data.startswith(b"false", pos, end):
            self.pos = pos + 5
            return _BOOLEAN, pos, False
        if data.startswith(b"null", pos, end):
            self.pos = pos + 4
            return _NULL, pos, None
        if self.invalid_numbers and self._is_invalid_number(pos):
            return self._number(pos)
        return _ERROR, pos, "invalid token"

    def _is_invalid_number(self, pos: int) -> bool:
        """json_is_invalid_number: what strict JSON refuses but ``strtod`` may read."""
        data, end = self.data, self.end
        if data[pos] == 0x2B:  # +
            return True
        if data[pos] == 0x2D:
            pos += 1
        ch = data[pos] if pos < end else 0
        if ch == 0x30:
            ch2 = data[pos + 1] if pos + 1 < end else 0
            return (ch2 | 0x20) == 0x78 or 0x30 <= ch2 <= 0x39
        if ch <= 0x39:
            return False
        return data[pos : min(pos + 3, end)].lower() in (b"inf", b"nan")

    def _number(self, pos: int) -> _Token:
        read = strtod(self.data[: self.end], pos)
        if read is None:
            return _ERROR, pos, "invalid number"
        self.pos = read[1]
        return _NUMBER, pos, read[0]

    def _string(self, start: int) -> _Token:
        data, end = self.data, self.end
        pos = start + 1
        parts: list[bytes] = []
        while True:
            run_end = _STRING_RUN.match(data, pos, end).end()  # type: ignore[union-attr]
            if run_end > pos:
                parts.append(data[pos:run_end])
                pos = run_end
            if pos >= end:
                self.pos = pos
                return _ERROR, pos, "unexpected end of string"
            if data[pos] == 0x22:
                self.pos = pos + 1
                return _STRING, start, b"".join(parts)
            escape = data[pos + 1] if pos + 1 < end else 0
            if escape == 0x75:  # u
                decoded = self._unicode_escape(pos)
                if decoded is None:
                    self.pos = pos
                    return _ERROR, pos, "invalid unicode escape code"
                parts.append(decoded[0])
                pos = decoded[1]
                continue
            translated = _ESCAPES.get(escape)
            if translated is None:
                self.pos = pos
                return _ERROR, pos, "invalid escape code"
            parts.append(translated)
            pos += 2

    def _hex4(self, pos: int) -> int:
        digits = self.data[pos : min(pos + 4, self.end)]
        if len(digits) != 4 or not all(d in _HEX_DIGITS for d in digits):
            return -1
        return int(digits, 16)

    def _unicode_escape(self, pos: int) -> tuple[bytes, int] | None:
        """``\\uXXXX`` (a surrogate pair in two) at ``pos`` as UTF-8, and where it ends."""
        code = self._hex4(pos + 2)
        if code < 0:
            return None
        length = 6
        if code & 0xF800 == 0xD800:
            if code & 0x400:  # a low surrogate first
                return None
            if self.data[pos + 6 : min(pos + 8, self.end)] != b"\\u":
                return None
            low = self._hex4(pos + 8)
            if low < 0 or low & 0xFC00 != 0xDC00:
                return None
            code = (((code & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000
            length = 12
        return chr(code).encode(), pos + length

    def parse(self, max_depth: int) -> tuple[bytes, list[Any]] | str:
        """``(kinds, values)`` for ``build`` in ``SOURCE``, or the error text.

        Iterative, so that any depth the settings allow stays off Python's stack; the
        depth limit is ``decode_max_depth`` or the Lua C stack's, as in the C parser,
        which holds each open array's table, and each open object's table and key."""
        kinds = bytearray()
        values: list[Any] = []
        open_objects: list[bool] = []
        used = 1  # Lua stack slots the C parser holds: the text, then per open container
        token = self.token()
        while True:
            kind = token[0]
            if kind in (_STRING, _NUMBER):
                kinds.append(0x76)  # v
                values.append(token[2])
            elif kind == _BOOLEAN:
                kinds.append(0x74 if token[2] else 0x66)
            elif kind == _NULL:
                kinds.append(0x7A)
            elif kind in (_OBJ_BEGIN, _ARR_BEGIN):
                is_object = kind == _OBJ_BEGIN
                depth = len(open_objects) + 1
                if depth > max_depth or used + (3 if is_object else 2) > STACK_SLOTS:
                    return (
                        f"Found too many nested data structures ({depth}) "
                        f"at character {token[1] + 1}"
                    )
                kinds.append(0x7B if is_object else 0x5B)
                token = self.token()
                if token[0] != (_OBJ_END if is_object else _ARR_END):
                    open_objects.append(is_object)
                    used += 2 if is_object else 1
                    if not is_object:
                        continue  # the token is the first element
                    if token[0] != _STRING:
                        return _expected("object key string", token)
                    kinds.append(0x6B)  # k
                    values.append(token[2])
                    token = self.token()
                    if token[0] != _COLON:
                        return _expected("colon", token)
                    token = self.token()
                    continue
                kinds.append(0x5D)  # an empty one
            else:
                return _expected("value", token)
            # A value is complete: close what it completes, then find the next value.
            while True:
                token = self.token()
                if not open_objects:
                    if token[0] != _END:
                        return _expected("the end", token)
                    return bytes(kinds), values
                if open_objects[-1]:
                    if token[0] == _OBJ_END:
                        open_objects.pop()
                        used -= 2
                        kinds.append(0x5D)
                        continue
                    if token[0] != _COMMA:
                        return _expected("comma or object end", token)
                    token = self.token()
                    if token[0] != _STRING:
                        return _expected("object key string", token)
                    kinds.append(0x6B)
                    values.append(token[2])
                    token = self.token()
                    if token[0] != _COLON:
                        return _expected("colon", token)
                    token = self.token()
                    break
                if token[0] == _ARR_END:
                    open_objects.pop()
                    used -= 1
                    kinds.append(0x5D)
                    continue
                if token[0] != _COMMA:
                    return _expected("comma or array end", token)
                token = self.token()
                break


def _expected(what: str, token: _Token) -> str:
    found = token[2] if token[0] == _ERROR else _TOKEN_NAMES[token[0]]
    return f"Expected {what} but found {found} at character {token[1] + 1}"


def decode(data: bytes, invalid_numbers: bool, max_depth: int) -> tuple[bytes, list[Any]] | str:
    """The tokens of ``data`` as ``build`` takes them, or Redis's error text."""
    if len(data) >= 2 and (data[0] == 0 or data[1] == 0):
        return "JSON parser does not support UTF-16 or UTF-32"
    return _Decoder(data, invalid_numbers).parse(max_depth)


DECODE_COST = 120
"""``Meter`` units per byte decoded (0.4 µs a byte of a typical document, 2026-11-28)."""

PARTS = {"core": _CORE, "settings": _SETTINGS, "encode": _ENCODE, "decode": _DECODE}
"""The Lua the library loads on first use, by name (see ``SOURCE``)."""


def part_bytecode(name: str) -> bytes:
    """``PARTS[name]`` compiled, once per process, as library code."""
    return library_bytecode(PARTS[name])


class _Cjson:
    """The Python side of one call's ``cjson``: ``decode`` and the parts for the Lua."""

    __slots__ = ("_lua", "_meter", "unordered")

    def __init__(self, lua: Any, meter: Meter) -> None:
        self._lua = lua
        self._meter = meter
        self.unordered = UNORDERED_KEYS.encode()

    def release(self) -> None:
        """The call is over: let go of its Lua state (see ``lualibs``)."""
        self._lua = None

    def part(self, name: bytes) -> bytes:
        return part_bytecode(name.decode())

    def decode(self, data: bytes, invalid_numbers: bool, max_depth: float) -> tuple[Any, ...]:
        """``true, kinds, values`` (a table of this call's state) or ``false, text``."""
        self._meter.charge(DECODE_COST * len(data))
        result = decode(data, bool(invalid_numbers), int(max_depth))
        if isinstance(result, str):
            return False, result.encode()
        kinds, values = result
        return True, kinds, self._lua.table_from(values)


def python_side(lua: Any, meter: Meter) -> _Cjson:
    return _Cjson(lua, meter)

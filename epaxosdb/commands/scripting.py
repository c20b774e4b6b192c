"""Lua scripts: EVAL and EVAL_RO, run inside one replicated command.

Redis since 5.0 replicates what a script *did*; epaxosdb replicates the script
itself, as Redis did before it: every replica that executes the command runs
the script against its own copy of the state, so every replica must compute
the same thing. What makes that hold:

* A fresh Lua 5.1 state per call (lupa): nothing a script leaves behind
  reaches the next one, on this replica or any other.
* Only the pure parts of Lua's library reach the script (``string``,
  ``table``, ``math``, the base functions that neither load code nor reach
  outside); no ``os``, ``io``, ``debug``, ``loadstring``, ``coroutine``.
  Reading or creating an undeclared global is an error, as in Redis.
* ``math.random`` draws from a generator seeded by the command's identity,
  ``redis.call('TIME')`` answers the command's timestamp, and ``tostring`` of
  a table or a function says only its type (Lua would print its address).
* The globals, the libraries and their metatables are read-only, as in Redis 7.0
  (proxies: see ``_CHUNK``); not for determinism (each state is the call's own) but
  so that a script that changes them fails here as it would in Redis.
* ``pairs``, ``next`` and ``table.foreach`` refuse a table with a key that is not
  a string, a number or a boolean: a table, a function... sits in the table where
  its address puts it, so the walk's order would differ between replicas. The
  whole table is checked when a walk starts, before its first key is handed out,
  so every replica fails at the same point, whatever its order.
* Bounded work, counted the same everywhere: a budget of Lua instructions
  (a count hook), of ``redis.call``s and of Lua memory. A script that runs out fails with an
  error on every replica instead of stalling the cluster. Its reply (or error value) is
  read raw, as Redis reads it, so no metamethod runs once the hook is off.
* Interference is decided before the script runs, from the keys it declares
  (``numkeys key...``), so a script may only touch declared keys: a call
  naming any other key fails — what Redis Cluster also asks of scripts —
  and commands over the whole keyspace (KEYS, SCAN, FLUSHALL... and a SORT whose
  BY or GET patterns read keys it does not name), blocking commands and PUBLISH are
  refused inside scripts.

One caveat is left to the script's author: a table that *held* a key refused above
(removed before the walk) may have had its other keys moved by it, where that key's
address put it, and the walk then sees no such key but an order that may differ.
Lua also leaves undefined a walk during which the script adds a key to the table.

Errors follow Redis 7.0's texts (``... script: <sha1>, on @user_script:<line>.``).
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from lupa import lua51

from protocol.replies import (
    BigNumber,
    Error,
    HumanDouble,
    Map,
    NestedMap,
    NullArray,
    Pairs,
    Reply,
    Set,
    SimpleString,
    Verbatim,
)
from protocol.resp import format_double
from storage.interface import KeyValueView

from . import errors, lualibs, sort, workspace
from .integers import LLONG_MAX, LLONG_MIN, parse_ll
from .spec import CommandSpec, Handler
from .workspace import Workspace, workspace_for

if TYPE_CHECKING:
    from .notifications import Notices  # which imports the table, which imports this
    from .tally import Judge, Tally  # the same

INSTRUCTIONS_MAX = 200_000_000
"""Lua VM instructions one script may run: about half a second of a tight Lua loop on
the development machine, while every replica's loop waits for the script."""
CALLS_MAX = 200_000
"""``redis.call``s one script may make: each runs Python and the instruction budget does
not count it (200,000 SETs take about a second here)."""
HOOK_EVERY = 10_000
"""The count hook fires every this many instructions (its cost is per firing)."""
MEMORY_MAX = 256 << 20
"""Bytes of Lua memory one script may hold."""
NESTING_MAX = 200
"""Deepest table a script's reply may nest (a table that contains itself is refused)."""

REDIS_VERSION = b"7.0.15"
REDIS_VERSION_NUM = 0x07000F

NEGATIVE_KEYS = Error("ERR Number of keys can't be negative")
TOO_MANY_KEYS = Error("ERR Number of keys can't be greater than number of args")
NO_SCRIPT = Error("NOSCRIPT No matching script. Please use EVAL.")
NOT_BUSY = Error("NOTBUSY No scripts in execution right now.")

UNKNOWN_COMMAND = "ERR Unknown Redis command called from script"
WRONG_ARITY = "ERR Wrong number of args calling Redis command from script"
NOT_ALLOWED = "ERR This Redis command is not allowed from script"
XREAD_BLOCK = "ERR {} command is not allowed with BLOCK option from scripts"
BAD_ARGUMENT = "ERR Lua redis lib command arguments must be strings or integers"
NO_ARGUMENTS = "ERR Please specify at least one argument for this redis lib call"
WRITE_IN_READ_ONLY = "ERR Write commands are not allowed from read-only scripts."
UNDECLARED_KEY = (
    "ERR Script attempted to access a key not declared in its KEYS (epaxosdb orders a "
    "script by the keys it declares, so it may touch only those)"
)
WHOLE_KEYSPACE = (
    "ERR This Redis command is not allowed from script (it reads or writes the whole "
    "keyspace, beyond the keys the script declares)"
)
BUDGET_EXCEEDED = f"ERR Script exceeded the limit of {INSTRUCTIONS_MAX} Lua instructions"
CALLS_EXCEEDED = f"ERR Script exceeded the limit of {CALLS_MAX} calls of Redis commands"
RESP3_UNSUPPORTED = "epaxosdb scripts receive RESP2 replies only (redis.setresp(2))"
UNORDERED_KEYS = (
    "ERR Script attempted pairs/next over a table with keys that are not strings, numbers "
    "or booleans (their order follows memory addresses, which differ between replicas)"
)
_UNORDERED_KEYS = UNORDERED_KEYS.encode()

_CHUNK = r"""
-- Builds the sandbox and runs the script in it: one chunk, compiled once per process
-- and loaded as bytecode into each call's fresh Lua state (see ``_bytecode``).
local code, numkeys, call_py, random_py, seed_py, sha1hex, budget, every, last_line,
      budget_text, resp3_text, version, version_num, unordered_text, guards_code,
      library_py, function_name, label, library_chunk = ...
-- ``function_name``: false for a script (EVAL); for a function library (FCALL), the
-- function to call, or "" to run the library's registrations only (FUNCTION LOAD).
-- ``label`` names the code in errors: "user_script" or "user_function";
-- ``library_chunk`` is ``_LIBRARY`` compiled, for a function library only.
local chunk_source = "@" .. label
local rest = {select(20, ...)}
local keys, argv = {}, {}
for i = 1, #rest do
  if i <= numkeys then keys[i] = rest[i] else argv[i - numkeys] = rest[i] end
end

local function call(...)
  -- A C function (lupa's call into Python) can take only so many arguments before Lua
  -- refuses it stack room (``LUAI_MAXCSTACK``, 8,000); Redis's ``redis.call`` takes any
  -- number, so many arguments go to Python in a table instead.
  local count = select("#", ...)
  if count < 1000 then return call_py(...) end
  return call_py.many(count, {...})
end
local redis = {}
redis.call = function(...)
  local status, value = call(...)
  if status == 1 then return value end
  error(value, 0)
end
redis.pcall = function(...)
  local status, value = call(...)
  if status == 1 then return value end
  if status == 2 then error(value, 0) end  -- fatal: not for the script to catch
  local t = {err = value}
  -- Redis marks the error of a command that ran, or that it refused to run (every error
  -- but the two of the arguments' conversion, status 3), as already counted in its
  -- error statistics; a script sees the mark. Set after ``err``, as Redis does, so the
  -- table's order (``pairs``, ``cjson.encode``) is Redis's.
  if status == 0 then t.ignore_error_stats_update = true end
  return t
end
local bad_arguments = {err = "ERR wrong number or type of arguments"}  -- returned, not raised
redis.error_reply = function(e)
  if type(e) ~= "string" then return bad_arguments end
  if e:sub(1, 1) == "-" then e = e:sub(2) end
  if not e:find(" ", 1, true) then e = "ERR " .. e end  -- every error needs a code
  return {err = (e:gsub("[\r\n]+$", ""))}
end
redis.status_reply = function(s)
  if type(s) ~= "string" then return bad_arguments end
  return {ok = s}
end
redis.sha1hex = function(...)
  if select("#", ...) ~= 1 then error("wrong number of arguments", 0) end
  return sha1hex(...)
end
redis.log = function(...)
  -- Redis's checks (``luaLogCommand``); a replica writes nothing to its log for a script.
  if select("#", ...) < 2 then
    error({err = "ERR redis.log() requires two arguments or more."}, 0)
  end
  local level = tonumber((...))
  if type((...)) ~= "number" and type((...)) ~= "string" or level == nil then
    error({err = "ERR First argument must be a number (log level)."}, 0)
  end
  if level < 0 or level > 3 then error({err = "ERR Invalid debug level."}, 0) end
end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.setresp = function(v)
  if v ~= 2 then error(resp3_text, 2) end
end
redis.set_repl = function() end
redis.replicate_commands = function() return true end
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA = 0, 1, 2, 2
redis.REPL_ALL = 3
redis.breakpoint = function() return false end
redis.debug = function() end
redis.REDIS_VERSION, redis.REDIS_VERSION_NUM = version, version_num

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end
local m = copy(math)
m.random = function(low, high)
  local r = random_py()
  if low == nil then return r end
  if high == nil then low, high = 1, low end
  if low > high then error("bad argument to 'random' (interval is empty)", 2) end
  return math.floor(r * (high - low + 1)) + low
end
m.randomseed = function(s) seed_py(s) end

local env = {}
local names = {
  "assert", "error", "ipairs", "pcall", "rawequal", "select", "tonumber", "type", "unpack",
  "xpcall",
}
for _, name in ipairs(names) do env[name] = _G[name] end
local tostring_raw = tostring
env.tostring = function(v)
  local t = type(v)
  if (t == "table" or t == "function" or t == "userdata" or t == "thread")
      and not (getmetatable(v) and getmetatable(v).__tostring) then
    return t
  end
  return tostring_raw(v)
end
local library = copy(table)

-- Read-only tables, as Redis 7.0 makes the globals, the libraries and their metatables
-- (its Lua has a read-only flag on tables; this one has not). The script sees each as
-- an empty proxy: a write to it falls to ``__newindex``, which refuses it; a read falls
-- through to the real table, which the script never gets hold of. ``rawget``, ``rawset``,
-- ``getmetatable``, ``setmetatable`` and the walks see through proxies (``real_of``) and
-- hand out proxies (``proxy_of``), never the real tables. ``table.insert``, which writes
-- with ``rawset``, refuses a proxy too, as Redis's does a read-only table.
local readonly_text = "Attempt to modify a readonly table"
local real_of, proxy_of = {}, {}
local function refuse_write() error(readonly_text, 2) end
local function protect(t)
  local p = setmetatable({}, {__index = t, __newindex = refuse_write})
  real_of[p], proxy_of[t] = t, p
  return p
end
-- Redis's extra libraries (``cjson``, ``cmsgpack``, ``bit``, ``struct``: see ``lualibs``) are
-- built when a script first names one, so a script that uses none pays nothing for them.
local function library_error(text)
  -- How a library stub raises an error: as Redis's C libraries do (``luaL_error``), at
  -- the line of the script's call. Level 3 is the stub's caller; a stub the script
  -- tail-called (``return cjson.encode(t)``) lost the script's frame, which a C function
  -- keeps: the script's last line then, as ``where`` says. A stub calls it as a
  -- statement (``library_error(text)``), never ``return library_error(text)``.
  local info = debug.getinfo(3, "S")
  if info and info.what == "tail" then
    error(("%s:%d: %s"):format(label, last_line, text), 0)
  end
  error(text, 3)
end
local globals_meta = {
  __index = function(_, name)
    if type(name) == "string" then
      local code, impl = library_py(name)
      if code then
        local lib = protect(loadstring(code)(impl, library_error))
        rawset(env, name, lib)
        return lib
      end
    end
    error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
  end,
}
setmetatable(env, globals_meta)
protect(globals_meta)
env.string, env.table, env.math, env.redis = protect(string), protect(library), protect(m),
  protect(redis)
-- Strings' metatable as the script sees it: ``getmetatable('').__index == string``, as in
-- Redis. The real one keeps indexing the real ``string``, one step shorter for ``s:sub()``.
proxy_of[getmetatable("")] = protect({__index = env.string})
env._G = protect(env)
env._VERSION = _VERSION
if not function_name then env.KEYS, env.ARGV = keys, argv end

-- ``pairs``, ``next`` and ``table.foreach`` are ``_GUARDS``'s, loaded by the first of
-- them a script calls, and so are the slow paths (the errors, the read-only refusals)
-- of the functions below: every call loads this chunk, so what a script does not use
-- should cost it little (a function more here costs about a microsecond).
local guards
local function guarded()
  guards = guards or loadstring(guards_code)(unordered_text, last_line, real_of, label)
  return guards
end
for name, t in pairs({next = env, pairs = env, foreach = library}) do
  t[name] = function(...) return guarded()[name](...) end
end
-- The fast paths take the arguments that cannot fail; the rest go to ``_GUARDS``, called
-- (not tail-called) so that it finds the caller where Lua's error would name it.
local function pass(...) return ... end
local raw_rawget, raw_rawset, raw_getmetatable, raw_setmetatable, metatable =
  rawget, rawset, getmetatable, setmetatable, debug.getmetatable
env.rawget = function(...)
  local t, k = ...
  if type(t) == "table" and select("#", ...) > 1 then return raw_rawget(real_of[t] or t, k) end
  return pass(guarded().rawget(...))
end
env.rawset = function(...)
  local t, k = ...
  if not real_of[t] and type(t) == "table" and select("#", ...) > 2 and k ~= nil and k == k then
    return raw_rawset(...)
  end
  return pass(guarded().rawset(...))
end
local raw_insert = table.insert
library.insert = function(...)
  -- The fast path takes the calls that cannot fail (a tail call would name the function
  -- '?' in Lua's argument errors); the rest, and any into a read-only table, go to
  -- ``_GUARDS``. The checks cost an insert about 0.2 us (0.11 us without them), little
  -- beside a ``redis.call``.
  local t, pos = ...
  local n = select("#", ...)
  if not real_of[t] and type(t) == "table" and (n == 2 or n == 3 and type(pos) == "number") then
    return raw_insert(...)
  end
  return pass(guarded().insert(...))
end
env.getmetatable = function(...)
  if select("#", ...) == 0 then return pass(guarded().getmetatable(...)) end
  local v = ...
  local mt = raw_getmetatable(real_of[v] or v)
  return proxy_of[mt] or mt
end
env.setmetatable = function(...)
  local t, mt = ...
  if not real_of[t] and type(t) == "table"
      and (type(mt) == "table" or mt == nil and select("#", ...) > 1) then
    local current = metatable(t)  -- its own, whatever its ``__metatable`` says
    if current == nil or raw_rawget(current, "__metatable") == nil then
      return raw_setmetatable(t, real_of[mt] or mt)
    end
  end
  return pass(guarded().setmetatable(...))
end

local f = loadstring(code)  -- the script's bytecode, from ``_compiled``
if function_name then
  f = loadstring(library_chunk)(f, function_name, keys, argv, env._G, redis, refuse_write,
    function(line) last_line = line end)
else
  setfenv(f, env._G)
end
local fired, stopped = 0, nil
local getinfo = debug.getinfo
local function refuse()
  -- Once stopped, every instruction of the script fails, even under its own pcall, and so
  -- does every one of a library's Lua (``lualibs``): a long encode stops too. This
  -- chunk's instructions (the error handler, the code after xpcall) still run.
  local source = getinfo(2, "S").source
  if source == chunk_source or source == "=lualib" then error(stopped, 0) end
end
function STOP(reason)  -- also called from Python, when the script used up its calls
  stopped = reason
  debug.sethook(refuse, "", 1)
end
debug.sethook(function()
  fired = fired + 1
  if fired * every >= budget then
    STOP(budget_text)
    refuse()
  end
end, "", every)
local function where(e)
  -- The script's line the error left from. ``return redis.call(...)`` is a tail
  -- call, which drops the script's frame (Redis's redis.call is a C function and
  -- keeps it): a tail call is its block's last statement, most often the script's.
  local line = last_line
  for level = 2, 64 do
    local info = getinfo(level, "Sl")
    if not info then break end
    if info.source == chunk_source then line = info.currentline break end
  end
  return {e, line}
end
local ok, result = xpcall(f, where)
debug.sethook()
-- The state's own ``rawget`` goes with a table, for Python to read it as Redis does.
if stopped then return "budget", stopped, nil end
if ok then return "ok", result, type(result) == "table" and rawget or nil end
return "error", result, rawget
"""


_GUARDS = r"""
-- ``next`` walks a table in the order of its slots, where a key that is not a string,
-- a number or a boolean sits by its address: an order that differs between replicas.
-- A walk (``next(t)``, ``pairs(t)``) first checks every key of the table, so it fails
-- before it hands out any key, at the same point everywhere; its steps then check only
-- the keys they take and give. A step from a key in a table no walk has checked
-- (``next(t, k)`` out of the blue) checks the table first.
local unordered_text, last_line, real_of, label = ...
local next, type, getinfo = next, type, debug.getinfo
local ordered = {string = true, number = true, boolean = true}
local checked = setmetatable({}, {__mode = "k"})  -- tables whose walk has begun
local guards = {}

local function argument_error(name, n, expected, ...)
  -- Lua's own words for a bad argument (``luaL_argerror``), at the line of the call.
  -- The sandbox's stub tail-calls what it guards, which leaves a tail-call mark where
  -- the stub was: past it is the script's frame (or a C caller such as pcall, which
  -- Lua names "?"), whose line the error gets; the name the script called the stub by
  -- went with the stub's frame (``local p = pairs; p(1)`` says 'pairs', Lua 'p'). Two
  -- marks or more: the script tail-called the stub, dropping its own frame (its last
  -- line then, as ``where`` says).
  local level = 3
  while getinfo(level, "S") and getinfo(level, "S").what == "tail" do level = level + 1 end
  local caller = getinfo(level, "S")
  if level == 3 then  -- called straight from the script (the iterator ``pairs`` gives)
    name = getinfo(2, "n").name or "?"
  elseif level == 4 and caller and caller.what == "C" then
    name = "?"
  end
  local got = select("#", ...) < n and "no value" or type((select(n, ...)))
  local text = ("bad argument #%d to '%s' (%s expected, got %s)"):format(n, name, expected, got)
  if level > 4 then error(("%s:%d: %s"):format(label, last_line, text), 0) end
  error(text, level)
end

local function step(t, k)
  t = real_of[t] or t  -- a read-only proxy: its real table, which holds its fields
  if k == nil or not checked[t] then
    if type(t) ~= "table" then argument_error("next", 1, "table", t) end
    for key in next, t do
      if not ordered[type(key)] then error(unordered_text, 0) end
    end
    checked[t] = true
  end
  if k ~= nil and not ordered[type(k)] then
    error(unordered_text, 0)  -- a key the script kept, which may have left t since
  end
  local key, value = next(t, k)
  if key == nil then
    checked[t] = nil  -- the walk is over: a later step out of the blue checks again
    return nil
  end
  if not ordered[type(key)] then error(unordered_text, 0) end  -- added during the walk
  return key, value
end

function guards.next(...)
  if type((...)) ~= "table" then argument_error("next", 1, "table", ...) end
  return step(...)
end

function guards.pairs(...)
  if type((...)) ~= "table" then argument_error("pairs", 1, "table", ...) end
  return step, (...), nil
end

function guards.foreach(...)
  local t, f = ...
  if type(t) ~= "table" then argument_error("foreach", 1, "table", ...) end
  if type(f) ~= "function" then argument_error("foreach", 2, "function", ...) end
  for k, v in step, t do
    v = f(k, v)
    if v ~= nil then return v end
  end
end

-- The slow paths of the sandbox's ``rawget``, ``rawset``, ``getmetatable`` and
-- ``setmetatable``: Lua's own checks, in Lua's order and words, then
-- the refusal to change a read-only table (Redis's Lua checks that last, where it writes).
local readonly_text = "Attempt to modify a readonly table"

local function got(n, ...)
  if select("#", ...) < n then return "no value" end
  return type((select(n, ...)))
end

local function fail(text, narg, name)
  -- Lua's error from a library function, as the sandbox's wrapper around it would have
  -- raised it had it been that function: level 3 is the wrapper (which called the slow
  -- path, not tail-called it), level 4 its caller. ``narg`` makes it an argument error
  -- (``luaL_argerror``), which names the function as its caller called it ('?' from C).
  local caller = getinfo(4, "S")
  local tail = caller ~= nil and caller.what == "tail"
  if narg then
    local info = getinfo(3, "n")
    if not tail then name = info.name or "?" end
    if info.namewhat == "method" then
      narg = narg - 1
      if narg == 0 then text = ("calling '%s' on bad self (%s)"):format(name, text) end
    end
    if narg > 0 then text = ("bad argument #%d to '%s' (%s)"):format(narg, name, text) end
  end
  -- A tail call dropped the script's frame: its last line then, as ``where`` says.
  if tail then error(("%s:%d: %s"):format(label, last_line, text), 0) end
  error(text, 4)
end

local function not_a_table(...)
  return "table expected, got " .. got(1, ...)
end

function guards.rawget(...)
  if type((...)) ~= "table" then fail(not_a_table(...), 1, "rawget") end
  fail("value expected", 2, "rawget")  -- the fast path takes every other call
end

function guards.rawset(...)
  if type((...)) ~= "table" then fail(not_a_table(...), 1, "rawset") end
  local t, k, v = ...
  local count = select("#", ...)
  if count < 3 then fail("value expected", count + 1, "rawset") end
  if real_of[t] then error(readonly_text, 0) end
  if k == nil then error("table index is nil", 0) end
  if k ~= k then error("table index is NaN", 0) end
  return rawset(t, k, v)
end

function guards.insert(...)
  -- Lua 5.1's ``tinsert`` checks, in its order and words; a read-only table (a proxy,
  -- whose length is 0 as the real one's) is refused where Redis's Lua refuses it, at the
  -- write.
  if type((...)) ~= "table" then fail(not_a_table(...), 1, "insert") end
  local t, pos, v = ...
  local n = select("#", ...)
  if n == 3 then
    if tonumber(pos) == nil then fail("number expected, got " .. got(2, ...), 2, "insert") end
  elseif n ~= 2 then
    fail("wrong number of arguments to 'insert'")
  end
  if real_of[t] then error(readonly_text, 0) end
  if n == 2 then return table.insert(t, pos) end
  return table.insert(t, pos, v)
end

function guards.getmetatable(...)
  fail("value expected", 1, "getmetatable")  -- called with nothing: the fast path's rest
end

function guards.setmetatable(...)
  if type((...)) ~= "table" then fail(not_a_table(...), 1, "setmetatable") end
  local t, mt = ...
  if select("#", ...) < 2 or mt ~= nil and type(mt) ~= "table" then
    fail("nil or table expected", 2, "setmetatable")
  end
  local current = debug.getmetatable(real_of[t] or t)
  if current ~= nil and rawget(current, "__metatable") ~= nil then
    fail("cannot change a protected metatable")
  end
  if real_of[t] then error(readonly_text, 0) end
  return setmetatable(t, real_of[mt] or mt)
end

return guards
"""


_LIBRARY = r"""
-- A function library (FUNCTION LOAD's code) in the sandbox: loaded only for FCALL and
-- FUNCTION LOAD. As in Redis 7.0, the library's own top level sees nothing but a small
-- ``redis`` (``register_function``, ``log``, the versions): it may only register its
-- functions. The functions it registers see the whole sandbox when FCALL calls one (the
-- library's globals become the script's); arguments come as ``(keys, args)``, not as
-- KEYS and ARGV. Returns the function the sandbox runs under its budget and handler.
local library, function_name, keys, argv, runtime_G, redis, refuse_write, set_last_line = ...
local function missing(_, name)
  error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
end
local function fail(text) error({err = "ERR " .. text}, 0) end
local FLAGS = {
  ["no-writes"] = 1, ["allow-oom"] = 2, ["allow-stale"] = 4, ["no-cluster"] = 8,
  ["allow-cross-slot-keys"] = 16,
}
local registered, by_name = {}, {}
local function stringlike(v)
  local t = type(v)
  return t == "string" or t == "number"
end

local function named(args)
  -- Every key is looked at before any value, so which refusal a table gets does not
  -- depend on the order of its slots (which may differ between replicas).
  for k in next, args do
    if not stringlike(k) then
      fail("named argument key given to redis.register_function is not a string")
    end
  end
  for k in next, args do
    k = tostring(k)
    if k ~= "function_name" and k ~= "callback" and k ~= "flags" and k ~= "description" then
      fail("unknown argument given to redis.register_function")
    end
  end
  local name, callback = rawget(args, "function_name"), rawget(args, "callback")
  local flags, description = rawget(args, "flags"), rawget(args, "description")
  if name ~= nil and not stringlike(name) then
    fail("function_name argument given to redis.register_function must be a string")
  end
  if description ~= nil and not stringlike(description) then
    fail("description argument given to redis.register_function must be a string")
  end
  if callback ~= nil and type(callback) ~= "function" then
    fail("callback argument given to redis.register_function must be a function")
  end
  local bits = 0
  if flags ~= nil then
    if type(flags) ~= "table" then
      fail("flags argument to redis.register_function must be a table representing function flags")
    end
    local seen = {}
    for _, flag in next, flags do
      if type(flag) ~= "string" or not FLAGS[flag] then fail("unknown flag given") end
      if not seen[flag] then seen[flag], bits = true, bits + FLAGS[flag] end
    end
  end
  if name == nil then fail("redis.register_function must get a function name argument") end
  if callback == nil then fail("redis.register_function must get a callback argument") end
  return name, callback, bits, description
end

local function register(...)
  local count = select("#", ...)
  if count < 1 or count > 2 then fail("wrong number of arguments to redis.register_function") end
  local name, callback, bits, description = ..., select(2, ...), 0, nil
  if count == 1 then
    if type(name) ~= "table" then
      fail("calling redis.register_function with a single argument is only applicable to "
        .. "Lua table (representing named arguments).")
    end
    name, callback, bits, description = named(name)
  else
    if not stringlike(name) then
      fail("first argument to redis.register_function must be a string")
    end
    if type(callback) ~= "function" then
      fail("second argument to redis.register_function must be a function")
    end
  end
  name = tostring(name)
  if #name == 0 or name:find("[^a-zA-Z0-9_]") then
    -- Redis 7.0 says "Library" here too.
    fail("Library names can only contain letters, numbers, or underscores(_) and must be at "
      .. "least one character long")
  end
  if by_name[name] then fail("Function already exists in the library") end
  local entry = {name, description ~= nil and tostring(description) or nil, bits, callback}
  by_name[name] = entry
  registered[#registered + 1] = entry
end

local api = {
  register_function = register, log = redis.log, LOG_DEBUG = redis.LOG_DEBUG,
  LOG_VERBOSE = redis.LOG_VERBOSE, LOG_NOTICE = redis.LOG_NOTICE,
  LOG_WARNING = redis.LOG_WARNING, REDIS_VERSION = redis.REDIS_VERSION,
  REDIS_VERSION_NUM = redis.REDIS_VERSION_NUM,
}
local api_view = setmetatable({}, {
  __index = setmetatable(api, {__index = missing}), __newindex = refuse_write,
})
local load_G = setmetatable({}, {
  __index = setmetatable({redis = api_view}, {__index = missing}), __newindex = refuse_write,
})
local globals = {__index = load_G, __newindex = refuse_write}
setfenv(library, setmetatable({}, globals))

return function()
  library()
  if function_name == "" then return registered end
  local target = by_name[function_name]  -- as registered: Python found it, ignoring case
  if target == nil then fail("Function not found") end
  globals.__index = runtime_G
  -- A tail call out of the function drops its frame (Redis's redis.call is a C function
  -- and keeps it): its last statement's line then, most likely the one before its end.
  local info = debug.getinfo(target[4], "S")
  local last = info.lastlinedefined
  set_last_line(last > info.linedefined and last - 1 or last)
  return target[4](keys, argv)
end
"""


@functools.cache
def _guards() -> bytes:
    """``_GUARDS`` compiled once, loaded only by a script that walks a table."""
    return _lua_bytecode(_GUARDS)


@functools.cache
def _library_chunk() -> bytes:
    """``_LIBRARY`` compiled once, loaded only for a function library."""
    return _stripped(_lua_bytecode(_LIBRARY))


@functools.cache
def _bytecode() -> bytes:
    """``_CHUNK`` compiled once: loading bytecode into each call's fresh state costs a
    fraction of compiling the source again, and without its debug information (which
    only names its own lines and locals) a third less again."""
    return _stripped(_lua_bytecode(_CHUNK))


def _stripped(code: bytes) -> bytes:
    """A Lua 5.1 dump without its line numbers and the names of its locals and upvalues
    (what ``luac -s`` leaves): loading it costs about 15 µs less per script (2026-11-28:
    the sandbox's chunk from 14 KB to 7 KB). Its functions keep their source name, which
    ``where`` and the budget's hook go by; an error raised in the sandbox's own code then
    says line 0, a line no reply ever showed a user. A dump whose header this does not
    read (another Lua build) is left whole."""
    if len(code) < 12 or code[:6] != b"\x1bLuaQ\x00" or code[6] != 1:
        return code
    int_size, size_t_size, instruction_size, number_size = code[7:11]
    if int_size != 4 or size_t_size not in (4, 8):
        return code
    out: list[bytes] = [code[:12]]
    pos = 12

    def integer() -> int:
        nonlocal pos
        value: int = struct.unpack_from("<i", code, pos)[0]
        pos += 4
        return value

    def string() -> bytes:
        nonlocal pos
        size: int = struct.unpack_from("<I" if size_t_size == 4 else "<Q", code, pos)[0]
        start, pos = pos, pos + size_t_size + size
        return code[start:pos]

    def function() -> None:
        nonlocal pos
        start = pos
        string()  # the source's name
        pos += 2 * int_size + 4  # its lines, upvalue and parameter counts, stack size
        instructions = integer()
        pos += instructions * instruction_size
        for _ in range(integer()):  # constants
            kind, pos = code[pos], pos + 1
            if kind == 1:  # boolean
                pos += 1
            elif kind == 3:  # number
                pos += number_size
            elif kind == 4:
                string()
        out.append(code[start:pos])
        functions = integer()
        out.append(struct.pack("<i", functions))
        for _ in range(functions):
            function()
        lines = integer()
        pos += lines * int_size  # line numbers
        for _ in range(integer()):  # locals: name, first and last instruction
            string()
            pos += 2 * int_size
        for _ in range(integer()):  # upvalues' names
            string()
        out.append(struct.pack("<iii", 0, 0, 0))

    function()
    return b"".join(out) if pos == len(code) else code


class _Libraries:
    """``library_py`` in the sandbox: a library's bytecode and its Python side for this
    call, or nothing for a name that is no library (see ``lualibs``). The libraries of
    one call share one ``lualibs.Meter``, made when the first is (most calls use none).

    The call's Lua state holds this object and what it hands out, and they hold the
    state: ``release`` breaks those cycles when the call ends, so the state is freed
    then, by reference counting, not whenever the cyclic collector next runs."""

    __slots__ = ("_lua", "_meter", "_sides")

    def __init__(self, lua: Any) -> None:
        self._lua = lua
        self._meter: lualibs.Meter | None = None
        self._sides: list[object] = []

    def release(self) -> None:
        for side in self._sides:
            release = getattr(side, "release", None)
            if release is not None:
                release()
        if self._meter is not None:
            self._meter.release()
        self._lua = self._meter = None
        self._sides.clear()

    def __call__(self, name: bytes) -> tuple[bytes | None, object]:
        module = lualibs.library(name)
        if module is None:
            return None, None
        if self._meter is None:
            self._meter = lualibs.Meter(self._lua)
        side = module.python_side(self._lua, self._meter)
        self._sides.append(side)
        return library_bytecode(module.SOURCE), side


@functools.cache
def library_bytecode(source: str) -> bytes:
    """A library's Lua (``lualibs``), compiled once per process without its debug
    information, under the name the budget's stop knows library code by (``=lualib``)."""
    return _stripped(_lua_bytecode(source, "=lualib"))


def _lua_bytecode(source: str, chunkname: str = "=epaxosdb") -> bytes:
    dump = _runtime().eval("function(src, name) return string.dump(loadstring(src, name)) end")
    code: bytes = dump(source.encode(), chunkname.encode())
    return code


def sha1_hex(body: bytes) -> bytes:
    """The script's name in the cache and in error texts (lower-case hex)."""
    return hashlib.sha1(body).hexdigest().encode()


def _runtime() -> Any:
    return lua51.LuaRuntime(
        encoding=None,
        register_eval=False,
        register_builtins=False,
        unpack_returned_tuples=True,
        max_memory=MEMORY_MAX,
    )


BINARY_CHUNK_ERROR = "user_script:1: unexpected symbol near 'char(27)'"
"""What Redis answers for a body that starts like Lua bytecode: it is read as text.
Loading bytecode would skip the compiler's checks (a way out of any sandbox)."""


@functools.lru_cache(maxsize=256)
def _compiled(body: bytes, label: str = "user_script") -> tuple[bytes | None, str | None]:
    """``(bytecode, None)`` for a script (or a function library, ``label`` then
    ``user_function``) that compiles, ``(None, Lua's message)`` else.

    Pure, hence cached by body: each call's fresh Lua state loads the bytecode,
    which costs a fraction of compiling the source again."""
    if body[:1] == b"\x1b":
        return None, BINARY_CHUNK_ERROR.replace("user_script", label)
    compile_chunk = _runtime().eval(
        "function(body, name)"
        "  local f, e = loadstring(body, name)"
        "  if f then return string.dump(f), false end"
        "  return false, e "
        "end"
    )
    code, failure = compile_chunk(body, b"@" + label.encode())
    if code is False:
        return None, errors.text(failure)
    return code, None


SHEBANG_FLAGS = frozenset(
    {b"no-writes", b"allow-oom", b"allow-stale", b"no-cluster", b"allow-cross-slot-keys"}
)
"""The flags Redis 7.0 accepts in ``#!lua flags=...``; only ``no-writes`` changes what a
script may do here (the others are about memory limits, stale replicas and Redis
Cluster, which epaxosdb does not have)."""
WRITE_FLAG_WITH_RO = Error("ERR Can not execute a script with write flag using *_ro command.")


class _Script(NamedTuple):
    code: bytes
    """The compiled chunk (``_compiled``)."""
    no_writes: bool | None
    """``flags=no-writes`` in its shebang; ``None`` without a shebang (EVAL_RO may run
    such a script, which is then read-only; a shebang without ``no-writes`` says it
    writes)."""


@functools.lru_cache(maxsize=256)
def _loaded(body: bytes) -> _Script | Error:
    """A script as EVAL runs it: its shebang line read, the rest compiled; or the error
    reply EVAL and SCRIPT LOAD give for it."""
    source, flags = body, None
    if body.startswith(b"#!"):
        shebang = _shebang(body)
        if isinstance(shebang, Error):
            return shebang
        source, flags = shebang
    code, failure = _compiled(source)
    if code is None:
        return Error(f"ERR Error compiling script (new function): {failure}")
    return _Script(code, None if flags is None else b"no-writes" in flags)


def _shebang(body: bytes) -> tuple[bytes, frozenset[bytes]] | Error:
    """``#!lua [flags=f1,f2...]`` on the first line: the flags, and the source with that
    line left empty (so Lua's line numbers stay the script's)."""
    end = body.find(b"\n")
    if end < 0:
        return Error("ERR Invalid script shebang")
    engine, *options = body[:end].split()
    if engine != b"#!lua":
        return Error(f"ERR Unexpected engine in script shebang: {errors.text(engine)}")
    flags: set[bytes] = set()
    for option in options:
        if not option.startswith(b"flags="):
            return Error(f"ERR Unknown lua shebang option: {errors.text(option)}")
        for flag in option[len(b"flags=") :].split(b","):
            if flag and flag not in SHEBANG_FLAGS:
                return Error(f"ERR Unexpected flag in script shebang: {errors.text(flag)}")
            flags.add(flag)
    return body[end:], frozenset(flags)


def compile_error(body: bytes) -> Error | None:
    """The error reply for a script EVAL would refuse (a bad shebang, Lua's compile
    error), or ``None``."""
    loaded = _loaded(body)
    return loaded if isinstance(loaded, Error) else None


def prepare_eval(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    """EVAL/EVAL_RO at the proposer: the key count, and a script that compiles."""
    count = parse_ll(args[2])
    if count is None:
        return errors.NOT_INTEGER
    if count < 0:
        return NEGATIVE_KEYS
    if count > len(args) - 3:
        return TOO_MANY_KEYS
    loaded = _loaded(args[1])
    if isinstance(loaded, Error):
        return loaded
    name = args[0].upper()
    if name == b"EVAL_RO" and loaded.no_writes is False:
        return WRITE_FLAG_WITH_RO
    return (name, *args[1:])


def cmd_eval(kv: KeyValueView, op: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    return run_script(kv, op, now_ms, seed, read_only=False)


def cmd_eval_ro(kv: KeyValueView, op: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    return run_script(kv, op, now_ms, seed, read_only=True)


def _judge_of(kv: KeyValueView, op: tuple[bytes, ...], now_ms: int, reads: Tally) -> Judge | None:
    """A called command's lookups, counted as ``execute`` counts an op's."""
    from .tally import judge_of  # the table imports this module

    return judge_of(kv, op, now_ms, reads)


Guard = Callable[[bytes, Sequence[bytes]], "Error | None"]
"""``guard(command's full name, the call's arguments)``: the error a script's call gets
when the user who sent the script may not run that command so (``runtime.acl``), or
``None``."""


@dataclass
class _Call:
    """One script's view of the keyspace: what ``redis.call`` checks and runs against."""

    kv: Workspace | None
    now_ms: int
    seed: int
    read_only: bool
    declared: frozenset[bytes]
    lua: Any
    notices: Notices | None = None
    """Hears of each command the script runs (keyspace notifications), when asked."""
    reads: Tally | None = None
    """Counts the lookups of the commands the script runs, at the replica whose client
    sent it (``tally``), when asked."""
    guard: Guard | None = None
    """Refuses the commands the client's user may not run (ACL), for a read-only script,
    which only the replica that client is connected to runs."""
    calls: int = 0
    last_error: bytes | None = None
    fatal: Exception | None = None

    def release(self) -> None:
        """The script is over: let go of the view and the Lua state."""
        self.kv = None
        self.lua = None

    def __call__(self, *values: object) -> tuple[int, object]:
        if self.fatal is not None:
            return 2, b"ERR script aborted"
        outcome = self._run(values)
        if isinstance(outcome, Error):
            message = outcome.text.encode("utf-8", "surrogateescape")
            self.last_error = message
            if self.fatal is not None:
                return 2, message
            return (3 if outcome.text in _UNCOUNTED else 0), message
        return 1, outcome

    def many(self, count: int, values: Any) -> tuple[int, object]:
        """``__call__`` for arguments too many to pass one by one: the first ``count`` of
        the Lua table ``values`` (a plain table the sandbox built, holes kept)."""
        return self(*(values[i] for i in range(1, count + 1)))

    def _run(self, values: Sequence[object]) -> object:
        self.calls += 1
        if self.calls > CALLS_MAX:
            # Like the instruction budget, and for the same reason: a script must not be
            # able to catch it and go on (each call costs Python time Lua does not count).
            self.lua.globals().STOP(CALLS_EXCEEDED.encode())
            return Error(CALLS_EXCEEDED)
        if not values:
            return Error(NO_ARGUMENTS)
        args: list[bytes] = []
        for value in values:
            arg = _argument(value)
            if arg is None:
                return Error(BAD_ARGUMENT)
            args.append(arg)
        from .proposal import resolve  # the table imports this module

        spec = resolve(args)
        if isinstance(spec, Error):
            if spec.text.startswith("ERR wrong number"):
                return Error(WRONG_ARITY)
            return Error(UNKNOWN_COMMAND)
        refusal = self._refusal(spec, args)
        if refusal is not None:
            return refusal
        if spec.handler is None:
            return self._connection_command(spec, args)
        op = spec.prepare(args, self.now_ms) if spec.prepare else (spec.upper, *args[1:])
        if isinstance(op, Error):
            return op
        if "blocking" in spec.flags and _waits(op):  # XREAD without BLOCK reads once
            return Error(NOT_ALLOWED)
        assert self.kv is not None, "called after the script ended"
        handler = _IN_SCRIPTS.get(spec.name, spec.handler)
        notices, reads = self.notices, self.reads
        try:
            before = None if notices is None else notices.before(self.kv, op, self.now_ms)
            judge = None if reads is None else _judge_of(self.kv, op, self.now_ms, reads)
            reply = handler(self.kv, op, self.now_ms, (self.seed << 24) + self.calls)
            if judge is not None and reads is not None:
                judge(self.kv, op, reply, self.now_ms, reads)
            if notices is not None:
                if reads is not None and reads.missed:
                    notices.missed(reads.missed)
                notices.after(self.kv, op, reply, before)
            if workspace.AUDIT:
                self.kv.op_done(op)
        except Exception as exc:  # storage trouble, NeedsTransaction, a handler bug
            self.fatal = exc
            return Error("ERR script aborted")
        if type(reply) is Error:
            return reply
        return _to_lua(self.lua, reply)

    def _refusal(self, spec: CommandSpec, args: Sequence[bytes]) -> Error | None:
        flags = spec.flags
        if "noscript" in flags:  # Redis's own refusal first (DEBUG is keyspace-wide too)
            return Error(NOT_ALLOWED)
        if "keyspace" in flags:
            return Error(WHOLE_KEYSPACE)
        if spec.handler is None and spec.name not in _CONNECTION_IN_SCRIPTS:
            return Error(NOT_ALLOWED)
        if spec.publishes:
            return Error(NOT_ALLOWED)
        if self.guard is not None and (refused := self.guard(spec.name, args)) is not None:
            return refused
        if self.read_only and spec.runs_everywhere:
            return Error(WRITE_IN_READ_ONLY)
        if spec.name in (b"xread", b"xreadgroup") and _blocks_first(args, spec.name):
            # Refused where Redis's option loop meets BLOCK, with the name as spelled.
            return Error(XREAD_BLOCK.format(errors.text(errors.c_string(args[0]))))
        if any(s.unnamed_reads is not None and s.unnamed_reads(args) for s in spec.key_specs):
            return Error(WHOLE_KEYSPACE)  # SORT's BY and GET patterns, which name no key
        found = spec.keys(args)
        if found is None:
            # A malformed key count, which the command refuses itself (as Redis, whose
            # key extraction finds no key then, lets it): its own error, touching nothing.
            # Should it not refuse, every argument the count could have named must be
            # declared.
            own = spec.prepare(args, self.now_ms) if spec.prepare else None
            if isinstance(own, Error):
                return own
            named = [args[i] for s in spec.key_specs for i in s.after_count(len(args))]
        else:
            named = [key for key, _ in found]
        if not self.declared.issuperset(named):
            return Error(UNDECLARED_KEY)
        return None

    def _connection_command(self, spec: CommandSpec, args: Sequence[bytes]) -> object:
        if spec.name == b"time":
            seconds, millis = divmod(self.now_ms, 1000)
            return self.lua.table_from([str(seconds).encode(), str(millis * 1000).encode()])
        if spec.name == b"echo":
            return args[1]
        if spec.name == b"select":  # only database 0 exists (SELECT's own checks)
            index = parse_ll(args[1])
            if index is None:
                return errors.NOT_INTEGER
            if index != 0:
                return Error(DB_OUT_OF_RANGE)
            return self.lua.table_from({b"ok": b"OK"})
        if len(args) == 1:  # PING
            return self.lua.table_from({b"ok": b"PONG"})
        if len(args) == 2:
            return args[1]
        return errors.wrong_arity(b"ping")


_CONNECTION_IN_SCRIPTS = frozenset({b"ping", b"echo", b"time", b"select"})
_UNCOUNTED = frozenset({NO_ARGUMENTS, BAD_ARGUMENT})
"""The errors of ``redis.call``'s arguments, found before a command is looked up: the
only ones whose ``redis.pcall`` table lacks Redis's ``ignore_error_stats_update``."""
_IN_SCRIPTS: dict[bytes, Handler] = {
    b"sort": sort.cmd_sort_scripted,
    b"sort_ro": sort.cmd_sort_scripted,
}
"""Commands that answer scripts differently (Redis's ``CLIENT_SCRIPT`` checks): SORT sorts a
set that BY nosort would leave in its hash table's order."""
DB_OUT_OF_RANGE = "ERR DB index is out of range"


def _blocks_first(args: Sequence[bytes], name: bytes) -> bool:
    """Whether ``xreadCommand``'s option loop reaches a BLOCK (which a script may not use)
    before an option it refuses (COUNT's value is the only one checked on the way; GROUP
    and NOACK are refused by XREAD)."""
    group = name == b"xreadgroup"
    i = 1
    while i < len(args):
        more = len(args) - i - 1
        option = errors.c_string(args[i]).lower()
        if option == b"block" and more:
            return True
        if option == b"count" and more and parse_ll(args[i + 1]) is not None:
            i += 2
        elif option == b"group" and more >= 2 and group:
            i += 3
        elif option == b"noack" and group:
            i += 1
        else:
            return False  # STREAMS ends the options; anything else is an error first
    return False


def _waits(op: tuple[bytes, ...]) -> bool:
    from .blocking import blocking_wait  # it reads the table's modules; this is one

    return blocking_wait(op) is not None


def _argument(value: object) -> bytes | None:
    """A Lua value as a command argument: strings as they are, numbers as Redis prints
    them (``%.17g``: ``inf``, ``nan``, ``-nan`` for ``0/0`` as glibc writes them), anything
    else refused. (A ``-0`` reaches Python as the integer 0, so it is written ``0`` where
    Redis writes ``-0``.)"""
    if type(value) is bytes:
        return value
    if type(value) is int or type(value) is float:
        return format_double(float(value))
    return None


def _to_lua(lua: Any, reply: Reply) -> object:
    """A command's reply as Lua sees it (Redis's RESP2 conversion)."""
    if reply is None or type(reply) is NullArray:
        return False
    if type(reply) is bool:
        return int(reply)
    if type(reply) is int or type(reply) is bytes:
        return reply
    if type(reply) is float:
        return format_double(reply)
    if type(reply) is SimpleString:
        return lua.table_from({b"ok": reply.text})
    if type(reply) is Error:  # marked as Redis marks a command's error (``redis.pcall``)
        table = lua.table_from({b"err": reply.text.encode("utf-8", "surrogateescape")})
        table[b"ignore_error_stats_update"] = True
        return table
    if type(reply) is list or type(reply) is tuple or type(reply) is Set:
        items = reply.items if type(reply) is Set else reply
        return lua.table_from([_to_lua(lua, item) for item in items])  # type: ignore[union-attr]
    if type(reply) is Map or type(reply) is Pairs:
        flat: list[object] = []
        for key, value in reply.items:
            flat += (_to_lua(lua, key), _to_lua(lua, value))
        return lua.table_from(flat)
    if type(reply) is NestedMap:  # XREAD: RESP2 gives one [key, value] array per pair
        return lua.table_from(
            [lua.table_from([_to_lua(lua, k), _to_lua(lua, v)]) for k, v in reply.items]
        )
    if type(reply) is Verbatim:
        return reply.text
    if type(reply) is BigNumber:
        value = reply.value
        return value if isinstance(value, bytes) else str(value).encode()
    if type(reply) is HumanDouble:
        return reply.text
    return False


def _from_lua(value: object, rawget: Any, depth: int = 0) -> Reply:
    """A script's result as a reply (Redis's Lua to RESP2 conversion).

    Tables are read raw (``rawget``: the state's own), as Redis reads them: the
    sandbox's hook is off by now, so a metamethod run from here would escape the
    instruction budget (an ``__index`` that never ends, or that invents an element for
    every index)."""
    if value is None or value is False:
        return None
    if value is True:
        return 1
    if type(value) is bytes:
        return value
    if type(value) is int or type(value) is float:
        number = float(value) if type(value) is float else value
        if isinstance(number, float) and not math.isfinite(number):
            return LLONG_MIN
        whole = int(number)
        return whole if LLONG_MIN <= whole <= LLONG_MAX else LLONG_MIN
    if lua51.lua_type(value) != "table":
        return None
    if depth >= NESTING_MAX:
        return Error("ERR reached lua stack limit")
    err = rawget(value, b"err")
    if type(err) is bytes:
        return Error(errors.text(err))
    ok = rawget(value, b"ok")
    if type(ok) is bytes:
        return SimpleString(_one_line(ok))
    typed = _typed_reply(value, rawget, depth)
    if typed is not None:
        return typed
    items: list[Reply] = []
    index = 1
    while (item := rawget(value, index)) is not None:
        items.append(_from_lua(item, rawget, depth + 1))
        index += 1
    return items


def _one_line(text: bytes) -> bytes:
    return text.replace(b"\r", b" ").replace(b"\n", b" ")


def _typed_reply(value: Any, rawget: Any, depth: int) -> Reply | None:
    """The RESP3 types a script's table may ask for, in Redis's order of checks, whatever
    protocol the script uses: ``{double = n}``, ``{big_number = s}``,
    ``{verbatim_string = {format = s, string = s}}``, ``{map = t}``, ``{set = t}`` (RESP2
    clients get a bulk string, a flat array or an array); ``None`` for any other table.

    A map's or set's elements come in the table's order, ``next``'s (raw): a table keyed by
    tables, functions or userdata is refused, as ``pairs`` over it is in the script (see
    ``UNORDERED_KEYS``)."""
    double = rawget(value, b"double")
    if type(double) is int or type(double) is float:
        return float(double)
    big = rawget(value, b"big_number")
    if type(big) is bytes:
        return BigNumber(_one_line(big))
    verbatim = rawget(value, b"verbatim_string")
    if lua51.lua_type(verbatim) == "table":
        form, text = rawget(verbatim, b"format"), rawget(verbatim, b"string")
        if type(form) is bytes and type(text) is bytes:
            # Redis writes three characters of the format, up to a NUL, padded with spaces.
            return Verbatim(text, (form.partition(b"\0")[0] + b"   ")[:3])
    for name in (b"map", b"set"):
        table = rawget(value, name)
        if lua51.lua_type(table) != "table":
            continue
        pairs = list(table.items())  # ``lua_next``: raw, no metamethod runs
        # A key Python sees as a Lua object (not a string, number or boolean): a table,
        # function or userdata, whose place in the table is its address.
        if len(pairs) > 1 and any(lua51.lua_type(k) is not None for k, _ in pairs):
            return Error(UNORDERED_KEYS)
        if name == b"set":
            return Set([_from_lua(key, rawget, depth + 1) for key, _ in pairs])
        return Map(
            [(_from_lua(k, rawget, depth + 1), _from_lua(v, rawget, depth + 1)) for k, v in pairs]
        )
    return None


def run_script(
    kv: KeyValueView,
    op: tuple[bytes, ...],
    now_ms: int,
    seed: int,
    *,
    read_only: bool,
    notices: Notices | None = None,
    reads: Tally | None = None,
    guard: Guard | None = None,
) -> Reply:
    body = op[1]
    count = int(op[2])
    script = _loaded(body)
    if isinstance(script, Error):
        return script
    if read_only and script.no_writes is False:
        return WRITE_FLAG_WITH_RO
    code = _Code(
        script.code, sha1_hex(body).decode(), "user_script", body.rstrip(b"\r\n").count(b"\n") + 1
    )
    outcome = _run_lua(
        kv,
        code,
        op[3 : 3 + count],
        op[3 + count :],
        now_ms,
        seed,
        read_only or bool(script.no_writes),
        notices,
        reads,
        guard,
    )
    return _reply(outcome, code)


class _Code(NamedTuple):
    """What the sandbox runs: a script's, or a function library's, compiled chunk."""

    chunk: bytes
    name: str
    """What its errors say ran: a script's SHA1, a function's name."""
    label: str
    """``user_script`` or ``user_function``: the chunk's name in Lua's positions."""
    last_line: int
    function: bytes | None = None
    """For a library: the function to call, or ``b""`` to run its registrations only."""


_Outcome = tuple[bytes, Any, Any, "_Call"]
"""The sandbox's status (``ok``, ``budget``, ``error``), its result, the state's
``rawget`` to read a table result with, and the call that ran."""


def _run_lua(
    kv: KeyValueView | None,
    code: _Code,
    keys: Sequence[bytes],
    argv: Sequence[bytes],
    now_ms: int,
    seed: int,
    read_only: bool,
    notices: Notices | None = None,
    reads: Tally | None = None,
    guard: Guard | None = None,
) -> _Outcome:
    """Run ``code`` in a fresh sandbox (``_CHUNK``); ``kv`` is ``None`` only for a
    library's registrations, which cannot reach the keyspace."""
    lua = _runtime()
    draws = _Draws(seed)
    libraries = _Libraries(lua)
    ws, own_workspace = workspace_for(kv) if kv is not None else (None, False)
    call = _Call(
        ws,
        now_ms,
        seed,
        read_only,
        frozenset(keys),
        lua,
        notices,
        reads,
        guard,
    )
    library = code.function is not None
    try:
        status, result, rawget = lua.globals().loadstring(_bytecode())(
            code.chunk,
            len(keys),
            call,
            draws.random,
            draws.reseed,
            _sha1hex_for_lua,
            INSTRUCTIONS_MAX,
            HOOK_EVERY,
            code.last_line,
            BUDGET_EXCEEDED.encode(),
            RESP3_UNSUPPORTED.encode(),
            REDIS_VERSION,
            REDIS_VERSION_NUM,
            _UNORDERED_KEYS,
            _guards(),
            libraries,
            code.function if library else False,
            code.label.encode(),
            _library_chunk() if library else False,
            *keys,
            *argv,
        )
    finally:
        # The Lua state holds ``call`` and ``call`` holds the state: a cycle that only
        # the cyclic collector would free, and with it the view ``kv`` and whatever it
        # holds (an LMDB read transaction, whose reader slot is scarce).
        call.release()
        libraries.release()
        if own_workspace and ws is not None:
            ws.end(call.fatal)
    if call.fatal is not None:
        # Storage trouble or a step that needs a transaction (``node._execute`` handles
        # both), or a handler bug (the command's error reply, logged): whatever the
        # script did after it, it is not the script's to decide.
        raise call.fatal
    return status, result, rawget, call


def _reply(outcome: _Outcome, code: _Code) -> Reply:
    """The reply to a script or function that ran (``_run_lua``)."""
    status, result, rawget, call = outcome
    if status == b"ok":
        return _from_lua(result, rawget)
    if status == b"budget":
        return Error(f"{errors.text(result)} script: {code.name}, on @{code.label}:0.")
    return _script_error(result, call.last_error, code, rawget)


class RegisteredFunction(NamedTuple):
    """A function a library registers (``redis.register_function``)."""

    name: bytes
    description: bytes | None
    flags: int
    """``FUNCTION_FLAGS`` bits."""


FUNCTION_FLAGS = (
    b"no-writes",
    b"allow-oom",
    b"allow-stale",
    b"no-cluster",
    b"allow-cross-slot-keys",
)
"""The flags a function may have, bit 0 first, in the order FUNCTION LIST shows them."""
NO_WRITES = 1


def _library_code(source: bytes, function: bytes) -> _Code | Error:
    chunk, failure = _compiled(source, "user_function")
    if chunk is None:
        return Error(f"ERR Error compiling function: {failure}")
    return _Code(
        chunk,
        function.decode("utf-8", "surrogateescape"),
        "user_function",
        source.rstrip(b"\r\n").count(b"\n") + 1,
        function,
    )


@functools.lru_cache(maxsize=256)
def register_library(source: bytes) -> tuple[RegisteredFunction, ...] | Error:
    """What a library's code registers when it runs (its code without the shebang line,
    which stays as an empty first line), or FUNCTION LOAD's error for it.

    Pure (the code cannot reach the keyspace, a clock or a random source while it
    loads), hence cached by code: FUNCTION LOAD's proposer checks a library, every
    replica checks it again when it executes the load, and the registry is read
    through it."""
    code = _library_code(source, b"")
    if isinstance(code, Error):
        return code
    status, result, rawget, call = _run_lua(None, code, (), (), 0, 0, True)
    if status == b"ok":
        found: list[RegisteredFunction] = []
        for index in range(1, 1 << 30):
            entry = rawget(result, index)
            if entry is None:
                break
            name, description, flags = (rawget(entry, i) for i in (1, 2, 3))
            found.append(RegisteredFunction(name, description, int(flags)))
        return tuple(found)
    if status == b"budget":
        return Error(f"ERR Error registering functions: {errors.text(result)}")
    return Error(
        f"ERR Error registering functions: {_error_text(result, call.last_error, rawget)[0]}"
    )


def run_function(
    kv: KeyValueView,
    source: bytes,
    function: RegisteredFunction,
    keys: Sequence[bytes],
    argv: Sequence[bytes],
    now_ms: int,
    seed: int,
    *,
    read_only: bool,
    notices: Notices | None = None,
    reads: Tally | None = None,
    guard: Guard | None = None,
) -> Reply:
    """FCALL: ``function`` of the library ``source`` called with ``keys`` and ``argv``
    (FCALL_RO, ``read_only``, refuses a function without ``no-writes`` before this)."""
    code = _library_code(source, function.name)
    if isinstance(code, Error):
        return code  # never stored: FUNCTION LOAD refuses such a library
    read_only = read_only or bool(function.flags & NO_WRITES)
    outcome = _run_lua(kv, code, keys, argv, now_ms, seed, read_only, notices, reads, guard)
    return _reply(outcome, code)


def _error_text(raised: Any, from_call: bytes | None, rawget: Any) -> tuple[str, int]:
    """The text of an error that left the sandbox (``{value, line}`` from the runner),
    and the line it left from."""
    value, line = (raised[1], raised[2]) if lua51.lua_type(raised) == "table" else (raised, 0)
    if lua51.lua_type(value) == "table" and type(rawget(value, b"err")) is bytes:
        text = errors.text(rawget(value, b"err"))
    elif type(value) is bytes:
        # Errors from redis.call and the sandbox's refusals carry their code already.
        own = value in (from_call, _UNORDERED_KEYS)
        text = errors.text(value) if own else "ERR " + errors.text(value)
    elif value is None:
        text = "ERR nil"  # error() or error(nil), as Lua's tostring says it
    elif type(value) is bool:
        text = "ERR true" if value else "ERR false"
    else:  # a table without an ``err`` string, a function: its type, not its address
        text = f"ERR {lua51.lua_type(value) or type(value).__name__}"
    return text, line if isinstance(line, int) else 0


def _script_error(raised: Any, from_call: bytes | None, code: _Code, rawget: Any) -> Error:
    """The reply to an error that left a script or a function."""
    text, line = _error_text(raised, from_call, rawget)
    return Error(f"{text} script: {code.name}, on @{code.label}:{line}.")


def _generator(seed: int | bytes) -> random.Random:
    """``math.random``'s source for a seed: the command's, or ``math.randomseed``'s."""
    return random.Random(seed)


class _Draws:
    """``math.random`` and ``math.randomseed`` of one call: a generator seeded by the
    command, so every replica draws alike. It is made at the first draw, since seeding
    one costs a few microseconds and most scripts never draw; ``math.randomseed``
    replaces it as ``Random.seed`` would re-seed it (same state, same draws)."""

    __slots__ = ("_rng", "_seed")

    def __init__(self, seed: int) -> None:
        self._seed: int | bytes = seed
        self._rng: random.Random | None = None

    def random(self) -> float:
        rng = self._rng
        if rng is None:
            rng = self._rng = _generator(self._seed)
        return rng.random()

    def reseed(self, value: object) -> None:
        self._seed = _argument(value) or b""
        self._rng = None


def _sha1hex_for_lua(value: object) -> bytes:
    if type(value) is bytes:
        return sha1_hex(value)
    return sha1_hex(_argument(value) or b"")

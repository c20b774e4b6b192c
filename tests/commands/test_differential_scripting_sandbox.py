"""The Lua sandbox's edges against redis-server 7.0.15, in RESP2 and RESP3.

Three things Redis's Lua does that a plain Lua 5.1 state does not, each compared
byte for byte, error texts and their ``script: <sha1>, on @user_script:<line>.``
included:

* ``redis.call`` takes any number of arguments. Both sides build them with
  ``unpack``, which stops at 7,999 values ("too many results to unpack": the same
  Lua 5.1 limit, ``LUAI_MAXCSTACK``, on both), or with varargs, which have no
  limit; the sandbox hands Python many arguments in a table, where a C call would
  run out of stack.
* The globals, the libraries (``redis``, ``string``, ``table``, ``math``) and their
  metatables are read-only: a write to them fails with "Attempt to modify a
  readonly table" (with the script's line when the script itself assigns, without
  when ``rawset`` or ``setmetatable`` refuse), after Lua's own argument checks;
  the tables a script makes, KEYS and ARGV stay writable.
* A script's reply is read raw: ``__index`` on a returned table is never run.

And how a called command's errors reach the script: ``redis.pcall``'s error table as
Redis builds it, and a malformed key count refused by the command itself.
"""

from __future__ import annotations

import pytest

from tests.commands.differential import Differential

SADD_UNPACKED = (
    b"local t = {} for i = 1, tonumber(ARGV[1]) do t[i] = 'm' .. i end\n"
    b"return redis.%s('SADD', KEYS[1], unpack(t))"
)
"""SADD of ARGV[1] members, unpacked: 2 more arguments than members."""

SADD_PILED = (
    b"local function pile(n, ...)\n"
    b"  if n == 0 then return ... end\n"
    b"  local s = 'm' .. n\n"
    b"  return pile(n - 1, s .. 'a', s .. 'b', s .. 'c', s .. 'd', s .. 'e', s .. 'f', s .. 'g',"
    b" s .. 'h', s .. 'i', s .. 'j', ...)\n"
    b"end\n"
    b"return redis.call('SADD', KEYS[1], pile(tonumber(ARGV[1]) / 10))"
)
"""SADD of ARGV[1] members (a multiple of 10) piled up as varargs, past unpack's limit."""


@pytest.mark.parametrize("function", [b"call", b"pcall"])
@pytest.mark.parametrize("members", [997, 998, 7990, 7996, 7997, 7998, 7999, 8000])
def test_redis_call_takes_as_many_unpacked_arguments_as_redis(
    diff: Differential, function: bytes, members: int
) -> None:
    """Up to 7,999 members (8,001 arguments) succeed, 8,000 fail in ``unpack`` with Lua's
    error; 7,996 to 7,999 once failed here with an internal error (lupa's C call)."""
    diff.check(b"DEL", b"s")
    diff.check(b"EVAL", SADD_UNPACKED % function, b"1", b"s", str(members).encode())
    diff.check(b"SCARD", b"s")


@pytest.mark.parametrize("members", [8000, 8010, 20000])
def test_redis_call_takes_arguments_past_unpacks_limit(diff: Differential, members: int) -> None:
    diff.check(b"DEL", b"s")
    added = diff.check(b"EVAL", SADD_PILED, b"1", b"s", str(members).encode())
    assert added == b":%d\r\n" % members
    diff.check(b"SISMEMBER", b"s", b"m1j")


def test_many_arguments_keep_redis_checks(diff: Differential) -> None:
    """A hole (nil) or a table among many arguments is refused as among a few, and the
    whole command reaches the command's own checks (here the key's type)."""
    hole = (
        b"local t = {} for i = 1, tonumber(ARGV[1]) do t[i] = i end t[5] = nil\n"
        b"return redis.pcall('SADD', KEYS[1], unpack(t, 1, tonumber(ARGV[1])))"
    )
    table = (
        b"local t = {} for i = 1, tonumber(ARGV[1]) do t[i] = i end t[#t] = {}\n"
        b"return redis.pcall('SADD', KEYS[1], unpack(t))"
    )
    for count in (b"10", b"5000"):
        diff.check(b"EVAL", hole, b"1", b"s", count)
        diff.check(b"EVAL", table, b"1", b"s", count)
    diff.check(b"SET", b"str", b"v")
    diff.check(b"EVAL", SADD_UNPACKED % b"pcall", b"1", b"str", b"5000")
    diff.check(b"EVAL", b"return redis.call(unpack(ARGV))", b"0", b"ECHO", b"x")
    diff.check(b"EVAL", b"return redis.call(unpack(ARGV))", b"0", b"ECHO", *[b"x"] * 3000)


WRITES_REFUSED = [
    # Assignments: the script's line, as the VM raised it.
    b"x = 1",
    b"\n\nx = nil",
    b"redis = 1",
    b"KEYS = {}",
    b"string = nil",
    b"_G = 1",
    b"_G.x = 1",
    b"_G.redis = 1",
    b"_G[1] = 1",
    b"unpack = nil",
    b"tostring = tostring",
    b"function f() end",
    b"for i = 1, 3 do y = i end",
    b"redis.call = function() end",
    b"redis.call = redis.call",
    b"redis.x = 1",
    b"string.len = 1",
    b"string.foo = 1",
    b"local s = string s.len = 1",
    b"table.insert = 1",
    b"table.x = nil",
    b"math.pi = 3",
    b"math.random = nil",
    b"getmetatable('').__index = {}",
    b"getmetatable('').x = 1",
    b"getmetatable(_G).__index = nil",
    b"getmetatable(_G).x = 1",
    b"local f = function() _G.x = 1 end\n\nf()",
    # rawset and setmetatable: no line (Redis's Lua refuses in its C API).
    b"rawset(_G, 'x', 1)",
    b"rawset(_G, 'redis', 1)",
    b"rawset(_G, 'tostring', nil)",
    b"rawset(_G, nil, 1)",
    b"return rawset(_G, 'x', 1)",
    b"rawset(redis, 'call', 1)",
    b"rawset(string, 'len', 1)",
    b"rawset(math, 'x', 1)",
    b"rawset(getmetatable(''), 'x', 1)",
    b"rawset(getmetatable(_G), 'x', 1)",
    b"setmetatable(_G, nil)",
    b"setmetatable(_G, {})",
    b"setmetatable(redis, {})",
    b"setmetatable(string, {})",
    b"setmetatable(math, {})",
    b"setmetatable(getmetatable(''), {})",
    # table.insert writes as rawset does: refused in a read-only table, after its checks.
    b"table.insert(redis, 1)",
    b"table.insert(redis, 1, 2)",
    b"table.insert(string, 'x')",
    b"table.insert(_G, 1)",
    b"table.insert(getmetatable(''), 1)",
    b"local x = table.insert return x(math, 2)",
    b"local ok, e = pcall(table.insert, redis, 1) return e",
    b"table.insert(redis, 'x', 1)",
    b"table.insert(redis)",
    b"table.insert({}, 1, 2, 3)",
    b"table.insert(nil, 1)",
    b"table.insert()",
    b"table.insert({}, 'x', 1)",
    b"local t = {} table.insert(t, '1', 'a') table.insert(t, 'b') return t",
    b"local t = {} table.insert(t, 'a') table.insert(t, 1, 'b') return t",
    b"local t = KEYS table.insert(t, 'k') return #KEYS",
    # ... after Lua's own argument checks, which name the function as its caller did.
    b"rawset(_G, 'x')",
    b"rawset(_G)",
    b"local r = rawset r(_G, 'x')",
    b"setmetatable(_G, 5)",
    b"setmetatable(_G)",
    b"\nlocal t = {} t.f = setmetatable t:f(5)",
    # Caught, the messages are Lua's.
    b"local ok, e = pcall(function() x = 1 end) return e",
    b"local ok, e = pcall(function() string.len = 1 end) return e",
    b"local ok, e = pcall(rawset, _G, 'x', 1) return e",
    b"local ok, e = pcall(setmetatable, _G, {}) return e",
    b"local ok, e = pcall(setmetatable, _G, 5) return e",
    b"local ok, e = pcall(rawset, _G, 'x') return e",
    b"return pcall(function() x = 1 end)",
]


def test_writes_to_globals_and_libraries_fail_as_in_redis(diff: Differential) -> None:
    for body in WRITES_REFUSED:
        diff.check(b"EVAL", body, b"0")


READS_AND_OWN_WRITES = [
    # Reading: a missing global is an error, a missing field is nil, raw reads see through.
    b"return y",
    b"\n\nreturn _G.y",
    b"local f = function() return _G.zz end\n\nreturn f()",
    b"local ok, e = pcall(function() return y end) return e",
    b"return rawget(_G, 'y')",
    b"return rawget(_G, 'redis') == redis",
    b"return rawget(_G, 'KEYS') == KEYS",
    b"return rawget(string, 'len') == string.len",
    b"return rawget(getmetatable(''), '__index') == string",
    b"return string.foo",
    b"return {rawequal(_G, _G._G), _G == _G._G, type(_G)}",
    b"return string.len('abc') + ('abcd'):len()",
    b"return getmetatable('').__index == string",
    b"return {rawequal(string, getmetatable('').__index)}",
    b"return getmetatable(_G)",
    b"return {type(getmetatable(_G)), type(getmetatable(_G).__index)}",
    b"return getmetatable(getmetatable(_G))",
    b"return {getmetatable(string), getmetatable(redis), getmetatable(math)}",
    b"local o = {} for k, v in pairs(getmetatable(_G)) do o[#o+1] = k .. '=' .. type(v) end"
    b" return o",
    b"local o = {} for k, v in pairs(getmetatable('')) do o[#o+1] = k .. '=' .. type(v) end"
    b" return o",
    b"local t = setmetatable({}, getmetatable(_G)) return t.x",
    b"local t = setmetatable({}, getmetatable('')) return t.len('ab')",
    b"local mt = getmetatable(_G) local t = setmetatable({}, mt) return getmetatable(t) == mt",
    b"return next(_G) ~= nil",
    b"return #_G + #string + table.maxn(_G) + select('#', unpack(redis))",
    b"return table.concat(string)",
    b"return {table.remove(string), table.remove(math, 1)}",
    b"table.sort(math) return 1",
    # The libraries' fields, as walks see them.
    b"local o = {} for k in pairs(string) do o[#o+1] = k end table.sort(o) return o",
    b"local o = {} for k in pairs(math) do o[#o+1] = k end table.sort(o) return o",
    b"local o = {} for k in pairs(table) do o[#o+1] = k end table.sort(o) return o",
    b"local o = {} table.foreach(string, function(k) o[#o+1] = k end) table.sort(o) return o",
    b"local k, v = next(getmetatable('')) return {k, type(v)}",
    # What the script owns stays writable.
    b"local x = 1 x = 2 return x",
    b"local t = {} t.x = 1 rawset(t, 'y', 2) return t.x + t.y",
    b"local function f() return 1 end return f()",
    b"KEYS[1] = 'x' return KEYS[1]",
    b"ARGV[1] = 'x' rawset(ARGV, 2, 'y') return ARGV",
    b"table.insert(ARGV, 'x') return ARGV",
    b"setmetatable(KEYS, {}) return 1",
    b"local t = setmetatable({}, {__index = string}) t.len = 1 return t.len",
    b"local t = setmetatable({}, {__metatable = 'no'}) return {getmetatable(t),"
    b" pcall(setmetatable, t, {})}",
    # Lua's own argument errors, through the sandbox's rawget/rawset/...
    b"rawset(5, 'x', 1)",
    b"rawset({}, 'x')",
    b"rawset({}, nil, 1)",
    b"rawset({}, 0/0, 1)",
    b"return rawget({})",
    b"return rawget(5, 1)",
    b"return getmetatable()",
    b"setmetatable(5, {})",
    b"setmetatable({}, 5)",
    b"local ok, e = pcall(rawget, {}) return e",
    b"local t = setmetatable({}, {__metatable = 1})\nsetmetatable(t, {})",
    b"return rawset({}, 'k', 'v').k",
    b"local t = {} return setmetatable(t, nil) == t",
]


def test_reads_and_the_scripts_own_writes_go_as_in_redis(diff: Differential) -> None:
    for body in READS_AND_OWN_WRITES:
        diff.check(b"EVAL", body, b"0")


REPLIES_READ_RAW = [
    b"return _G",
    b"return string",
    b"return {string, redis}",
    b"return setmetatable({}, {__index = function(t, k) if k == 'err' then return 'E x' end end})",
    b"return setmetatable({ok = 'fine'}, {__index = function() error('x') end})",
    b"return setmetatable({1, 2}, {__index = function(t, k) return k end})",
    b"return setmetatable({}, {__index = function() while true do end end})",
    b"return {1, setmetatable({2}, {__index = function(t, k) return {k} end})}",
    b"error(true)",
    b"error(false)",
]


def test_replies_are_read_raw_as_in_redis(diff: Differential) -> None:
    """A metamethod run while the reply is read would run outside the instruction budget
    (one that never ends, or invents an element for every index, would hang the replica)."""
    for body in REPLIES_READ_RAW:
        diff.check(b"EVAL", body, b"0")


CALLS_ERRORS = [
    # redis.pcall's table for a command's error, or one Redis refused to run, also holds
    # ``ignore_error_stats_update = true`` (after ``err``: cjson and pairs see Redis's
    # order); the errors of the call's own arguments do not.
    b"return cjson.encode(redis.pcall('NOSUCH'))",
    b"return cjson.encode(redis.pcall('GET'))",
    b"return cjson.encode(redis.pcall('SHUTDOWN'))",
    b"return cjson.encode(redis.pcall('DEBUG', 'SLEEP', '0'))",  # not the keyspace refusal
    b"return redis.call('DEBUG', 'OBJECT', KEYS[1])",
    b"return cjson.encode(redis.pcall('BLPOP', KEYS[1], '0'))",
    b"return cjson.encode(redis.pcall('PING', 'a', 'b'))",
    b"return cjson.encode(redis.pcall('SELECT', '99'))",
    b"redis.call('SET', KEYS[1], 'a') return cjson.encode(redis.pcall('INCR', KEYS[1]))",
    b"redis.call('SET', KEYS[1], 'a') return cjson.encode({redis.pcall('LPOP', KEYS[1])})",
    b"return cjson.encode(redis.pcall({}))",
    b"return cjson.encode(redis.pcall())",
    b"local o = {} for k in pairs(redis.pcall('NOSUCH')) do o[#o+1] = k end return o",
    b"return redis.pcall('NOSUCH').ignore_error_stats_update",
    b"return {redis.pcall('INCR', KEYS[1], 'x'), redis.pcall('GET')}",
    b"local ok, e = pcall(redis.call, 'NOSUCH') return {type(e), e}",
    b"redis.call('SET', KEYS[1], 'a') local ok, e = pcall(redis.call, 'INCR', KEYS[1])"
    b" return {type(e), e}",
    # Numbers as arguments are written %.17g, as glibc writes them (0/0 is -nan).
    b"redis.call('SET', KEYS[1], 0.1) return redis.call('GET', KEYS[1])",
    b"redis.call('SET', KEYS[1], 1e20) return redis.call('GET', KEYS[1])",
    b"redis.call('SET', KEYS[1], 0/0) return redis.call('GET', KEYS[1])",
    b"redis.call('SET', KEYS[1], -(0/0)) return redis.call('GET', KEYS[1])",
    b"redis.call('SET', KEYS[1], -1/0) return redis.call('GET', KEYS[1])",
    b"redis.call('SET', KEYS[1], 2^63) return redis.call('GET', KEYS[1])",
    b"return redis.call('ECHO', 5.5)",
    # A malformed key count names no key: the command refuses it with its own error (it
    # is not refused as touching undeclared keys).
    b"return redis.pcall('LMPOP', '9', KEYS[1], 'LEFT')",
    b"return redis.pcall('LMPOP', 'abc', KEYS[1], 'LEFT')",
    b"return redis.pcall('ZUNION', '0', KEYS[1])",
    b"return redis.pcall('ZINTERCARD', '5', KEYS[1], 'x')",
    b"return redis.pcall('SINTERCARD', '-1', KEYS[1])",
    b"return redis.pcall('ZMPOP', '2', KEYS[1])",
    b"return redis.call('BLMPOP', '0', '3', KEYS[1], 'LEFT')",
]


def test_command_errors_reach_scripts_as_in_redis(diff: Differential) -> None:
    for body in CALLS_ERRORS:
        diff.check(b"EVAL", body, b"1", b"k")


TYPED_REPLIES = [
    # Tables asking for a RESP3 type, read in Redis's order of checks (err, ok, double,
    # big_number, verbatim_string, map, set, then an array), whatever the script's
    # protocol: RESP2 clients get a bulk string, a flat array or an array.
    b"return {double=3.5}",
    b"return {double=3}",
    b"return {double=1e300}",
    b"return {double=1/0}",
    b"return {double=-1/0}",
    b"return {double=0/0}",
    b"return {double='3.5'}",
    b"return {double=true}",
    b"return {big_number='123456789012345678901234567890'}",
    b"return {big_number='abc\\r\\nd'}",
    b"return {big_number=5}",
    b"return {verbatim_string={format='txt', string='abc'}}",
    b"return {verbatim_string={format='markdown', string='abc'}}",
    b"return {verbatim_string={format='t', string='abc'}}",
    b"return {verbatim_string={format='', string='abc'}}",
    b"return {verbatim_string={format=1, string='abc'}}",
    b"return {verbatim_string={format='txt'}}",
    b"return {verbatim_string='x'}",
    b"return {map={a=1}}",
    b"return {map={a=1, b={1, 2}, c=false, d={ok='x'}}}",
    b"return {map={}}",
    b"return {map={[1]='x', [2]='y'}}",
    b"return {map={[1.5]='x', [true]='y'}}",
    b"return {map={[{}]='x'}}",
    b"return {map={a={map={b=1}}}}",
    b"return {map={f=print}}",
    b"return {map=5, 1}",
    b"return {set={a=true}}",
    b"return {set={a=true, b=false, [3]=1}}",
    b"return {set={}}",
    b"return {set={x=true}, 1, 2}",
    b"return {1, {double=2.5}, {map={k='v'}}, {set={s=true}}}",
    b"return {double=1, ok='x'}",
    b"return {double=1, err='x'}",
    b"return {map={a=1}, double=2}",
    b"return {map={a=1}, set={b=true}}",
    b"return {big_number='1', double=2}",
    b"return {verbatim_string={format='txt', string='abc'}, big_number='1'}",
    b"return {map={a=1}, verbatim_string={format='txt', string='x'}}",
]


def test_typed_replies_as_in_redis(diff: Differential) -> None:
    for body in TYPED_REPLIES:
        diff.check(b"EVAL", body, b"0")
    diff.check(b"EVAL", b"return {verbatim_string={format=ARGV[1], string='abc'}}", b"0", b"t\0x")

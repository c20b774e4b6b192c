"""Redis 7 functions against redis-server 7.0.15, in RESP2 and RESP3, byte for byte.

FUNCTION LOAD's checks in Redis's order (the shebang line, the name, the engine, a
library that exists, the code compiled and run, no functions, a function another
library has), ``redis.register_function``'s every refusal, what a library's top level
may touch (only ``redis.register_function``, ``redis.log`` and the versions), FCALL and
FCALL_RO's replies and errors (``script: <function>, on @user_function:<line>.``),
FUNCTION LIST, STATS, DELETE, FLUSH, DUMP and RESTORE. Library order in FUNCTION LIST
is a hash table's in Redis, so each listing here holds one library.
"""

from __future__ import annotations

import pytest

from tests.commands.differential import Differential
from tests.redis_server import Parsed, parse_reply

LIBRARY = b"""#!lua name=mylib
local function helper(k) return redis.call('GET', k) end
redis.register_function('setter', function(keys, args)
  return redis.call('SET', keys[1], args[1])
end)
redis.register_function{
  function_name='getter', callback=function(keys, args) return helper(keys[1]) end,
  flags={'no-writes'}, description='reads one key'}
redis.register_function('tail', function(keys, args) return redis.call('nosuch') end)
redis.register_function('pc', function(keys, args) return redis.pcall('nosuch') end)
redis.register_function('tail2', function(keys, args)
  local x = 1
  return redis.call('nosuch', x)
end)
redis.register_function('arith', function(keys, args)
  local x = 1
  return nil + x
end)
redis.register_function('shapes', function(keys, args)
  return {1, 'a', {2, {3}}, redis.status_reply('FINE'), #keys, #args}
end)
redis.register_function('globals', function(keys, args) return type(KEYS) end)
redis.register_function('assign', function(keys, args) x = 5 return 1 end)
redis.register_function('errs', function(keys, args) return redis.error_reply('MY own') end)
redis.register_function('raise', function(keys, args)
  error('boom')
end)
redis.register_function('late', function(keys, args) return redis.register_function end)
redis.register_function('incr', function(keys, args) return redis.pcall('INCR', keys[1]) end)
redis.register_function{function_name='ro_writer', flags={'no-writes'},
  callback=function(keys, args) return redis.call('SET', keys[1], 'x') end}
redis.register_function('libs', function(keys, args)
  return {string.format('%05d', 42), math.floor(2.5), table.concat({'a', 'b'}, '-')}
end)
"""


def _fresh(diff: Differential) -> None:
    """Both sides without libraries or keys (FLUSHALL keeps functions, as in Redis)."""
    assert diff.redis.call(b"FUNCTION", b"FLUSH") == b"+OK\r\n"
    diff.model.call([b"FUNCTION", b"FLUSH"])


def _load(*lines: bytes, name: bytes = b"zz") -> bytes:
    return b"#!lua name=" + name + b"\n" + b"\n".join(lines)


LOAD_CASES = [
    _load(b"redis.register_function('f', function() return 1 end)"),
    b"return 1",
    b"  #!lua name=zz\nredis.register_function('f', function() return 1 end)",
    b"#!lua name=zz",
    b"#!lua\nredis.register_function('f', function() return 1 end)",
    b"#!lua name=zz foo=bar\n",
    b"#!lua name=zz name=yy\n",
    b"#!lua name=\n",
    b"#!lua name=a-b\n",
    b"#!lua name=a-b foo\n",
    b"#!js name=zz\n",
    b"#!js name=a-b\n",
    b"#!LUA NAME=zz\nredis.register_function('f', function() return 1 end)",
    b'#!lua "name=q q"\n',
    b'#!lua "name=zz\n',
    b"#!lua name=zz\n",
    _load(b"syntax error here"),
    _load(b"redis.call('set', 'a', 'b')"),
    _load(b"local s = string.format('%d', 1)"),
    _load(b"error('boom')"),
    _load(b"local x = nosuch"),
    _load(b"local x = nil + 1"),
    _load(b"x = 1"),
    _load(b"redis.foo = 1"),
    _load(b"redis.log(redis.LOG_WARNING)"),
    _load(b"redis.register_function()"),
    _load(b"redis.register_function('a', function() end, 3)"),
    _load(b"redis.register_function('f')"),
    _load(b"redis.register_function('f', 1)"),
    _load(b"redis.register_function(1, function() end)"),
    _load(b"redis.register_function(1.5, function() end)"),
    _load(b"redis.register_function('', function() end)"),
    _load(b"redis.register_function('bad-name', function() end)"),
    _load(b"redis.register_function({}, function() end)"),
    _load(b"redis.register_function{}"),
    _load(b"redis.register_function{callback=function() end}"),
    _load(b"redis.register_function{function_name='a'}"),
    _load(b"redis.register_function{function_name=1, callback=function() end}"),
    _load(b"redis.register_function{function_name='a', callback=1}"),
    _load(b"redis.register_function{function_name='a', callback=function() end, description=1}"),
    _load(b"redis.register_function{function_name='a', callback=function() end, flags=1}"),
    _load(b"redis.register_function{function_name='a', callback=function() end, flags={1}}"),
    _load(b"redis.register_function{function_name='a', callback=function() end, flags={'x'}}"),
    _load(b"redis.register_function{function_name='a', callback=function() end, [1]=2}"),
    _load(b"redis.register_function{function_name='a', callback=function() end, foo=1}"),
    _load(
        b"redis.register_function('f', function() end)",
        b"redis.register_function('f', function() end)",
    ),
    _load(
        b"redis.register_function('f', function() end)",
        b"redis.register_function('F', function() end)",
    ),
    _load(b"local t = {} t.x = 1 redis.register_function('a', function() end) return 5"),
    _load(
        b"redis.log(redis.LOG_NOTICE, 'loading') redis.register_function('v', function() "
        b"return redis.REDIS_VERSION_NUM end)"
    ),
    _load(b""),
    _load(b"-- nothing but a comment"),
]


def _functions_in_any_order(reply: bytes) -> Parsed:
    """A FUNCTION LIST reply with each library's functions sorted: Redis lists them in
    its hash table's order, epaxosdb in the order they were registered."""

    def canonical(parsed: Parsed) -> Parsed:
        if not isinstance(parsed.value, list):
            return parsed
        items = [canonical(item) for item in parsed.value]
        for index in range(0, len(items) - 1, 2):
            if items[index].value == b"functions":
                items[index + 1] = Parsed(items[index + 1].kind, items[index + 1].sorted_items())
        return Parsed(parsed.kind, items)

    return canonical(parse_reply(reply)[0])


def check_listing(diff: Differential, *options: bytes) -> None:
    theirs, ours = diff.both(b"FUNCTION", b"LIST", *options)
    assert _functions_in_any_order(ours) == _functions_in_any_order(theirs), (options, theirs, ours)


@pytest.mark.parametrize("code", LOAD_CASES)
def test_function_load_answers_as_redis(diff: Differential, code: bytes) -> None:
    _fresh(diff)
    diff.check(b"FUNCTION", b"LOAD", code)
    check_listing(diff, b"WITHCODE")


def test_function_load_refuses_what_exists_unless_replaced(diff: Differential) -> None:
    _fresh(diff)
    first = _load(b"redis.register_function('f', function() return 1 end)", name=b"one")
    diff.check(b"FUNCTION", b"LOAD", first)
    diff.check(b"FUNCTION", b"LOAD", first)
    # Redis checks for the library before it runs the code: broken code says "exists".
    diff.check(b"FUNCTION", b"LOAD", _load(b"broken code", name=b"one"))
    # A function another library has.
    diff.check(b"FUNCTION", b"LOAD", _load(b"redis.register_function('F', function() end)"))
    diff.check(b"FUNCTION", b"LOAD", b"REPLACE", _load(b"broken code", name=b"one"))
    replaced = _load(b"redis.register_function('g', function() return 2 end)", name=b"one")
    diff.check(b"FUNCTION", b"LOAD", b"replace", replaced)
    diff.check(b"FCALL", b"f", b"0")
    diff.check(b"FCALL", b"g", b"0")
    diff.check(b"FUNCTION", b"LOAD", b"REPLACE", b"REPLACE", first)
    diff.check(b"FUNCTION", b"LOAD", b"NOW", first)
    diff.check(b"FUNCTION", b"LOAD", b"REPLACE")
    diff.check(b"FUNCTION", b"LOAD")


@pytest.mark.parametrize(
    "call",
    [
        (b"FCALL", b"setter", b"1", b"k", b"v"),
        (b"FCALL", b"getter", b"1", b"k"),
        (b"FCALL", b"GETTER", b"1", b"k"),
        (b"FCALL_RO", b"getter", b"1", b"k"),
        (b"FCALL_RO", b"setter", b"1", b"k", b"v"),
        (b"FCALL", b"tail", b"0"),
        (b"FCALL", b"pc", b"0"),
        (b"FCALL", b"tail2", b"0"),
        (b"FCALL", b"arith", b"0"),
        (b"FCALL", b"shapes", b"2", b"a", b"b", b"c"),
        (b"FCALL", b"globals", b"0"),
        (b"FCALL", b"assign", b"0"),
        (b"FCALL", b"errs", b"0"),
        (b"FCALL", b"raise", b"0"),
        (b"FCALL", b"late", b"0"),
        (b"FCALL", b"incr", b"1", b"k"),
        (b"FCALL", b"ro_writer", b"1", b"k"),
        (b"FCALL", b"libs", b"0"),
        (b"FCALL", b"nosuch", b"0"),
        (b"FCALL", b"nosuch", b"x"),
        (b"FCALL", b"getter", b"x", b"k"),
        (b"FCALL", b"getter", b"-1", b"k"),
        (b"FCALL", b"getter", b"3", b"k"),
        (b"FCALL", b"getter"),
        (b"FCALL",),
    ],
)
def test_fcall_answers_as_redis(diff: Differential, call: tuple[bytes, ...]) -> None:
    _fresh(diff)
    diff.check(b"FUNCTION", b"LOAD", LIBRARY)
    diff.check(b"SET", b"k", b"text")
    diff.check(*call)
    diff.check(b"GET", b"k")


def test_function_list_and_stats_answer_as_redis(diff: Differential) -> None:
    _fresh(diff)
    diff.check(b"FUNCTION", b"STATS")
    diff.check(b"FUNCTION", b"LIST")
    single = (
        b"#!lua name=one\nredis.register_function{function_name='f', description='d', "
        b"callback=function() end, flags={'allow-stale', 'no-writes', 'no-writes'}}"
    )
    diff.check(b"FUNCTION", b"LOAD", single)
    diff.check(b"FUNCTION", b"LIST", b"WITHCODE")  # one function: byte for byte
    diff.check(b"FUNCTION", b"DELETE", b"one")
    diff.check(b"FUNCTION", b"LOAD", LIBRARY)
    for options in (
        (),
        (b"WITHCODE",),
        (b"LIBRARYNAME", b"my*"),
        (b"libraryname", b"MY*", b"withcode"),
        (b"LIBRARYNAME", b"other*"),
        (b"LIBRARYNAME",),
        (b"WITHCODE", b"WITHCODE"),
        (b"LIBRARYNAME", b"a", b"LIBRARYNAME", b"b"),
        (b"foo",),
    ):
        check_listing(diff, *options)
    diff.check(b"FUNCTION", b"STATS")
    diff.check(b"FUNCTION", b"STATS", b"extra")
    diff.check(b"FUNCTION", b"KILL")
    diff.check(b"FUNCTION", b"HELP")
    diff.check(b"FUNCTION", b"NOSUCH")


def test_function_delete_and_flush_answer_as_redis(diff: Differential) -> None:
    _fresh(diff)
    diff.check(b"FUNCTION", b"LOAD", LIBRARY)
    diff.check(b"FUNCTION", b"DELETE", b"MYLIB")
    diff.check(b"FUNCTION", b"DELETE", b"mylib")
    diff.check(b"FCALL", b"getter", b"1", b"k")
    diff.check(b"FUNCTION", b"DELETE", b"mylib")
    diff.check(b"FUNCTION", b"LOAD", LIBRARY)
    for mode in ((b"foo",), (b"SYNC", b"ASYNC"), (b"async",), (b"SYNC",), ()):
        diff.check(b"FUNCTION", b"FLUSH", *mode)
    diff.check(b"FUNCTION", b"STATS")


def test_flushall_keeps_functions_as_redis_does(diff: Differential) -> None:
    _fresh(diff)
    diff.check(b"FUNCTION", b"LOAD", LIBRARY)
    diff.check(b"FLUSHALL")
    diff.check(b"FCALL", b"getter", b"1", b"k")


def test_function_dump_payloads_are_redis_payloads(diff: Differential) -> None:
    """Each side's DUMP is restored by the other into the same libraries; an empty
    registry dumps the same bytes; bad payloads and policies get Redis's errors."""
    _fresh(diff)
    diff.check(b"FUNCTION", b"DUMP")
    one = _load(b"redis.register_function('f', function() return 1 end)", name=b"one")
    two = _load(b"redis.register_function('g', function() return 2 end)", name=b"two")
    diff.check(b"FUNCTION", b"LOAD", one)
    ours = diff.model.call([b"FUNCTION", b"DUMP"])
    theirs = diff.redis.call(b"FUNCTION", b"DUMP")
    assert isinstance(ours, bytes)
    assert theirs == b"$%d\r\n%s\r\n" % (len(ours), ours)  # one library: same bytes
    diff.check(b"FUNCTION", b"LOAD", two)
    payload = diff.redis.call(b"FUNCTION", b"DUMP")
    dumped = payload[payload.index(b"\r\n") + 2 : -2]
    # One library of the payload present, so that APPEND refuses it by name: with two,
    # Redis names the one its hash table lists first, an order that changes per process.
    diff.check(b"FUNCTION", b"DELETE", b"two")
    for policy in ((), (b"APPEND",), (b"REPLACE",), (b"FLUSH",), (b"nope",), (b"FLUSH", b"x")):
        diff.check(b"FUNCTION", b"RESTORE", dumped, *policy)
        diff.check(b"FUNCTION", b"LIST", b"LIBRARYNAME", b"one")
        diff.check(b"FUNCTION", b"LIST", b"LIBRARYNAME", b"two")
    diff.check(b"FUNCTION", b"FLUSH")
    ours_two = diff.model.call([b"FUNCTION", b"DUMP"])
    assert isinstance(ours_two, bytes)
    diff.check(b"FUNCTION", b"RESTORE", ours_two)  # restores nothing: both are empty now
    diff.check(b"FUNCTION", b"RESTORE", dumped)
    diff.check(b"FCALL", b"g", b"0")
    diff.check(b"FUNCTION", b"RESTORE", b"garbage")
    diff.check(b"FUNCTION", b"RESTORE", dumped[:-1] + bytes([dumped[-1] ^ 1]))
    # A payload with a key's object in it, not a library.
    diff.check(b"SET", b"k", b"v")
    key_dump = diff.redis.call(b"DUMP", b"k")
    diff.check(b"FUNCTION", b"RESTORE", key_dump[key_dump.index(b"\r\n") + 2 : -2])

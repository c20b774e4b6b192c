"""EVAL and EVAL_RO: replies against redis-server 7.0, and what keeps replicas identical.

The differential cases compare the encoded replies byte for byte, error texts
included (``... script: <sha1>, on @user_script:<line>.``). The rest check what
replicating a script instead of its effects requires: a fresh sandbox per call,
randomness and time from the command, bounded work, and only declared keys.
"""

from __future__ import annotations

import gc

import pytest
from lupa import lua51

from epaxosdb.commands import execute, prepare, scripting
from protocol.messages import Command
from protocol.replies import Error, Reply, SimpleString
from storage.buffered import NeedsTransaction
from storage.interface import KeyValueView
from storage.memory import MemoryStore
from tests.commands.differential import Differential, Model

SAME_AS_REDIS: list[tuple[bytes, ...]] = [
    (b"SET", b"s", b"str"),
    (b"EVAL", b"return redis.call('INCR', KEYS[1])", b"1", b"s"),
    (b"EVAL", b"return redis.pcall('INCR', KEYS[1])", b"1", b"s"),
    (b"EVAL", b"local ok, e = pcall(redis.call, 'INCR', KEYS[1]); return e", b"1", b"s"),
    (b"EVAL", b"local v = redis.call('HGETALL', KEYS[1])\nreturn v", b"1", b"s"),
    (b"EVAL", b"return error('boom')", b"0"),
    (b"EVAL", b"error('x', 0)", b"0"),
    (b"EVAL", b"error({err='CUSTOM thing'})", b"0"),
    (b"EVAL", b"\n\nreturn x", b"0"),
    (b"EVAL", b"x = 1", b"0"),
    (b"EVAL", b"return 1 +", b"0"),
    (b"EVAL", b"return 1", b"-1"),
    (b"EVAL", b"return 1", b"2", b"a"),
    (b"EVAL", b"return 1", b"x"),
    (b"EVAL", b"return {1,2,3.7,'a',nil,5}", b"0"),
    (b"EVAL", b"return {1,{2,{3}},'x'}", b"0"),
    (b"EVAL", b"return true", b"0"),
    (b"EVAL", b"return false", b"0"),
    (b"EVAL", b"return nil", b"0"),
    (b"EVAL", b"return 3.99", b"0"),
    (b"EVAL", b"return -3.99", b"0"),
    (b"EVAL", b"return 2^63", b"0"),
    (b"EVAL", b"return 0/0", b"0"),
    (b"EVAL", b"return {err='My Error'}", b"0"),
    (b"EVAL", b"return {1, {err='x y'}, {ok='fine'}}", b"0"),
    (b"EVAL", b"return redis.error_reply('E2 bad')", b"0"),
    (b"EVAL", b"return redis.error_reply('inner')", b"0"),
    (b"EVAL", b"return redis.error_reply('-dash x')", b"0"),
    (b"EVAL", b"return redis.status_reply('FINE')", b"0"),
    (b"EVAL", b"return redis.sha1hex('abc')", b"0"),
    (b"EVAL", b"return redis.call('nosuch')", b"0"),
    (b"EVAL", b"return redis.pcall('nosuch')", b"0"),
    (b"EVAL", b"return redis.call('get')", b"0"),
    (b"EVAL", b"return redis.call('SET', 'a', {})", b"0"),
    (b"EVAL", b"return redis.call('blpop', KEYS[1], 0)", b"1", b"q"),
    (b"EVAL", b"return redis.call('eval', 'return 1', 0)", b"0"),
    (b"EVAL_RO", b"return redis.call('set', KEYS[1], 1)", b"1", b"a"),
    (b"EVAL", b"return redis.call('ping')", b"0"),
    (b"EVAL", b"return redis.call('get', KEYS[1])", b"1", b"missing"),
    (b"EVAL", b"return tostring(redis.call('get', KEYS[1]))", b"1", b"missing"),
    (b"EVAL", b"return redis.call('set', KEYS[1], 3.5)", b"1", b"k"),
    (b"GET", b"k"),
    (b"EVAL", b"return redis.call('set', KEYS[1], 1e20)", b"1", b"k"),
    (b"GET", b"k"),
    (b"EVAL", b"return redis.call('set', KEYS[1], 0.1)", b"1", b"k"),
    (b"GET", b"k"),
    (b"EVAL", b"return redis.call('set', KEYS[1], 'v', 'EX', 0)", b"1", b"k"),
    (b"EVAL", b"return redis.call('zadd', KEYS[1], 1, 'a', 2.5, 'b')", b"1", b"z"),
    (b"EVAL", b"return redis.call('zrange', KEYS[1], 0, -1, 'withscores')", b"1", b"z"),
    (b"EVAL", b"return redis.call('zscore', KEYS[1], 'b')", b"1", b"z"),
    (b"EVAL", b"return redis.call('hset', KEYS[1], 'f', 'v')", b"1", b"h"),
    (b"EVAL", b"return redis.call('hgetall', KEYS[1])", b"1", b"h"),
    (b"EVAL", b"return redis.call('incrbyfloat', KEYS[1], '1.5')", b"1", b"f"),
    (b"EVAL", b"return ARGV", b"0", b"a", b"b"),
    (b"EVAL", b"return #KEYS + #ARGV", b"2", b"a", b"b", b"c"),
    (b"EVAL", b"return string.format('%d-%s', 5, 'z') .. table.concat({'a', 'b'}, ',')", b"0"),
    (b"EVAL", b"return type(os)", b"0"),
    (b"EVAL", b"return redis.call('exists', KEYS[1], KEYS[2])", b"2", b"s", b"zz"),
    (b"EVAL", b"redis.call('del', KEYS[1]) return redis.call('exists', KEYS[1])", b"1", b"s"),
    (b"EVAL_RO", b"return redis.call('get', KEYS[1])", b"1", b"k"),
    (b"EVAL", b"return redis.call('XADD', KEYS[1], '1-1', 'f', 'v')", b"1", b"st"),
    (b"EVAL", b"return redis.call('XREAD', 'STREAMS', KEYS[1], '0')", b"1", b"st"),
    (b"EVAL", b"return redis.call('XREAD', 'BLOCK', 0, 'STREAMS', KEYS[1], '0')", b"1", b"st"),
    (b"EVAL", b"return _VERSION", b"0"),
    (b"EVAL", b"return getmetatable('').__index == string", b"0"),
    (b"EVAL", b"return redis.sha1hex()", b"0"),
    (b"EVAL", b"return redis.sha1hex(1, 2)", b"0"),
    (b"EVAL", b"error()", b"0"),
    (b"EVAL", b"return redis.status_reply()", b"0"),
    (b"EVAL", b"return redis.error_reply(1)", b"0"),
    (b"EVAL", b"return redis.pcall('ping', 'a', 'b')", b"0"),
    (b"EVAL", b"return redis.call('select', 0)", b"0"),
    (b"EVAL", b"return redis.pcall('select', 'x')", b"0"),
    # Redis 7.0 shebangs: flags, and errors that keep the script's line numbers.
    (b"EVAL", b"#!lua flags=no-writes\nreturn redis.call('set', KEYS[1], 'v')", b"1", b"k"),
    (b"EVAL", b"#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", b"1", b"k"),
    (b"EVAL", b"#!lua\nreturn 1", b"0"),
    (b"EVAL", b"#!lua flags=no-writes,allow-oom\nreturn 2", b"0"),
    (b"EVAL", b"#!lua  flags=\nreturn 3", b"0"),
    (b"EVAL", b"#!lua flags=bogus\nreturn 1", b"0"),
    (b"EVAL", b"#!lua name=x\nreturn 1", b"0"),
    (b"EVAL", b"#!python\nreturn 1", b"0"),
    (b"EVAL", b"#!lua flags=no-writes", b"0"),
    (b"EVAL", b"#!lua flags=no-writes\n\nerror('boom')", b"0"),
    (b"EVAL_RO", b"#!lua\nreturn redis.call('get', KEYS[1])", b"1", b"k"),
    (b"EVAL_RO", b"#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", b"1", b"k"),
]


def test_eval_replies_like_redis(diff: Differential) -> None:
    for args in SAME_AS_REDIS:
        diff.check(*args)


def run(model: Model, body: bytes, *keys_then_args: bytes, numkeys: int = 1) -> Reply:
    return model.call([b"EVAL", body, str(numkeys).encode(), *keys_then_args])


def test_a_script_may_touch_only_the_keys_it_declares() -> None:
    model = Model()
    reply = run(model, b"return redis.call('SET', 'other', 'v')", b"declared")
    assert isinstance(reply, Error) and reply.text.startswith(scripting.UNDECLARED_KEY)
    assert model.call([b"EXISTS", b"other"]) == 0
    # Keys of every kind of key spec are checked: RENAME's second key, MSET's pairs.
    reply = run(model, b"return redis.call('MSET', KEYS[1], 1, 'other', 2)", b"a")
    assert isinstance(reply, Error) and reply.text.startswith(scripting.UNDECLARED_KEY)
    assert run(model, b"return redis.call('MSET', KEYS[1], 1, KEYS[2], 2)", b"a", b"b", numkeys=2)
    assert model.call([b"MGET", b"a", b"b"]) == [b"1", b"2"]


@pytest.mark.parametrize(
    "call",
    [b"'KEYS', '*'", b"'SCAN', 0", b"'DBSIZE'", b"'FLUSHALL'", b"'RANDOMKEY'"],
)
def test_commands_over_the_whole_keyspace_are_refused_in_scripts(call: bytes) -> None:
    reply = run(Model(), b"return redis.call(" + call + b")", b"k")
    assert isinstance(reply, Error) and reply.text.startswith(scripting.WHOLE_KEYSPACE)


def test_publish_and_connection_commands_are_refused_in_scripts() -> None:
    model = Model()
    for call in (b"'PUBLISH', KEYS[1], 'm'", b"'CLIENT', 'ID'", b"'SUBSCRIBE', KEYS[1]"):
        reply = run(model, b"return redis.call(" + call + b")", b"k")
        assert isinstance(reply, Error) and reply.text.startswith(scripting.NOT_ALLOWED), call


def test_asking_for_resp3_in_a_script_is_refused_with_one_error_code() -> None:
    """Was ``ERR user_script:1: ERR epaxosdb...`` (QA): the code once, as Lua errors read."""
    reply = run(Model(), b"redis.setresp(3) return 1", numkeys=0)
    assert isinstance(reply, Error)
    assert reply.text.startswith("ERR user_script:1: " + scripting.RESP3_UNSUPPORTED)
    assert reply.text.count("ERR") == 1
    assert run(Model(), b"redis.setresp(2) return 1", numkeys=0) == 1


def test_time_in_a_script_is_the_commands_timestamp() -> None:
    model = Model()
    reply = model.call([b"EVAL", b"return redis.call('TIME')", b"0"], now_ms=1_700_000_123_456)
    assert reply == [b"1700000123", b"456000"]


def _execute(store: MemoryStore, body: bytes, cmd_id: int, *keys: bytes) -> Reply:
    op = prepare([b"EVAL", body, str(len(keys)).encode(), *keys], 1_000)
    assert not isinstance(op, Error)
    cmd = Command(origin=1, id=cmd_id, time_ms=1_000, ops=(op,))
    return store.write(lambda txn: execute(txn, cmd))


def test_math_random_is_the_same_on_every_replica_and_new_for_each_command() -> None:
    body = b"local v = math.random(1000000) redis.call('SET', KEYS[1], v) return v"
    first, second = MemoryStore(), MemoryStore()
    assert _execute(first, body, 7, b"k") == _execute(second, body, 7, b"k")
    draws = {_execute(first, body, cmd_id, b"k") for cmd_id in range(8, 20)}
    assert len(draws) > 1


def test_tostring_of_a_table_does_not_reveal_its_address() -> None:
    assert run(Model(), b"return tostring({})", numkeys=0) == b"table"
    assert run(Model(), b"return tostring(function() end)", numkeys=0) == b"function"


def test_nothing_survives_from_one_script_to_the_next() -> None:
    """Globals and libraries are read-only (as in Redis 7.0, compared in
    ``test_differential_scripting_sandbox``), ``table.insert`` into one included; what a
    script may change is its own."""
    model = Model()
    for body in (
        b"string.leak = 1", b"leak = 1", b"rawset(_G, 'leak', 1)", b"table.insert(string, 1)"
    ):
        reply = run(model, body, numkeys=0)
        assert isinstance(reply, Error) and "Attempt to modify a readonly table" in reply.text
    changes = (
        b"KEYS[2] = 'extra' setmetatable(ARGV, {__index = function() return 'x' end})"
        b" return {#KEYS, ARGV[1]}"
    )
    assert run(model, changes, b"k") == [2, b"x"]
    assert run(model, b"return {#KEYS, ARGV[1] == nil, string[1] == nil}", b"k") == [1, 1, 1]


def test_an_error_value_without_an_err_field_says_its_type_not_its_address() -> None:
    """Redis 7.0.15 crashes on ``error({})``; here no metamethod runs while the value is
    read (one that never ends would hang every replica, past the instruction budget)."""
    looping = b"setmetatable({}, {__index = function() while true do end end})"
    for body, text in (
        (b"error(" + looping + b")", "ERR table"),
        (b"error(function() end)", "ERR function"),
        (b"error({err = 5})", "ERR table"),
        (b"error(setmetatable({err = 'E raw'}, getmetatable(" + looping + b")))", "E raw"),
    ):
        reply = run(Model(), body, numkeys=0)
        assert isinstance(reply, Error) and reply.text.startswith(text + " script: "), body


def test_a_walk_over_the_globals_and_libraries_is_the_same_in_every_sandbox() -> None:
    """The walks see the read-only tables' real fields, keyed by strings: one order."""
    body = (
        b"local o = {} for _, t in ipairs({_G, redis, string, table, math}) do"
        b" for k in pairs(t) do o[#o+1] = k end end return table.concat(o, ',')"
    )
    replies = {_execute(MemoryStore(), body, 7) for _ in range(5)}
    assert len(replies) == 1
    names = replies.pop()
    assert isinstance(names, bytes) and b"redis" in names.split(b",") and b"call" in names


def test_the_sandbox_chunk_is_loaded_without_its_debug_information() -> None:
    """Stripped, it loads faster; what it computes and its functions' source name (which
    the error handler and the budget's hook go by) stay, its lines and locals' names go."""
    source = (
        "local function f(a, b) local c = a * b return c + 1 end "
        "return f(6, 7), debug.getinfo(f, 'S').source, select(2, pcall(f, nil, 1))"
    )
    full = scripting._lua_bytecode(source)
    stripped = scripting._stripped(full)
    assert len(stripped) < len(full)
    lua = scripting._runtime()
    assert lua.globals().loadstring(full)() == (
        43,
        b"=epaxosdb",
        b"epaxosdb:1: attempt to perform arithmetic on local 'a' (a nil value)",
    )
    assert lua.globals().loadstring(stripped)() == (
        43,
        b"=epaxosdb",
        b"epaxosdb:0: attempt to perform arithmetic on a nil value",
    )
    assert len(scripting._bytecode()) < len(scripting._lua_bytecode(scripting._CHUNK))
    assert scripting._stripped(b"\x1bLuaR\x00junk") == b"\x1bLuaR\x00junk"  # not 5.1's


def test_a_script_that_never_ends_fails_on_its_instruction_budget() -> None:
    forever = b"while true do pcall(function() while true do end end) end"
    for body in (b"while true do end", forever):
        reply = run(Model(), body, numkeys=0)
        assert isinstance(reply, Error) and reply.text.startswith(scripting.BUDGET_EXCEEDED), body


def test_a_script_that_allocates_without_end_fails_on_its_memory_limit() -> None:
    reply = run(Model(), b"return string.rep('x', 1e9)", numkeys=0)
    assert isinstance(reply, Error) and "not enough memory" in reply.text


def test_a_table_that_contains_itself_is_not_a_reply() -> None:
    reply = run(Model(), b"local t = {} t[1] = t return t", numkeys=0)
    assert isinstance(reply, list)
    depth = 0
    while isinstance(reply, list):
        reply, depth = reply[0], depth + 1
    assert reply == Error("ERR reached lua stack limit") and depth == scripting.NESTING_MAX


class _NeedsTransactionView:
    """A view whose reads ask for a transaction, like a buffered view does."""

    def get(self, key: bytes) -> None:
        raise NeedsTransaction("test")

    def __getattr__(self, name: str) -> object:
        raise NeedsTransaction(name)


def test_a_step_that_needs_a_transaction_leaves_the_script_even_through_pcall() -> None:
    body = b"pcall(redis.call, 'GET', KEYS[1]) return redis.pcall('GET', KEYS[1])"
    view: KeyValueView = _NeedsTransactionView()  # type: ignore[assignment]
    with pytest.raises(NeedsTransaction):
        scripting.cmd_eval(view, (b"EVAL", body, b"1", b"k"), 0, 1)


def test_a_script_that_does_not_compile_is_refused_before_it_is_proposed() -> None:
    op = prepare([b"EVAL", b"return +", b"0"], 0)
    assert isinstance(op, Error) and op.text.startswith("ERR Error compiling script")


def test_eval_runs_on_every_replica_and_eval_ro_only_where_it_was_sent() -> None:
    from epaxosdb.commands import is_read_only

    def cmd(name: bytes) -> Command:
        return Command(1, 1, 0, ((name, b"return 1", b"0"),))

    assert not is_read_only(cmd(b"EVAL"))
    assert is_read_only(cmd(b"EVAL_RO"))


def test_status_replies_and_pcall_errors_convert_both_ways() -> None:
    model = Model()
    assert run(model, b"return redis.call('SET', KEYS[1], 'v')", b"k") == SimpleString(b"OK")
    reply = run(model, b"local e = redis.pcall('INCR', KEYS[1]) return e.err", b"k")
    assert reply == b"ERR value is not an integer or out of range"


def test_a_script_that_calls_commands_without_end_fails_on_its_call_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(scripting, "CALLS_MAX", 1_000)
    model = Model()
    for body, key in (
        (b"for i = 1, 1e9 do redis.call('INCR', KEYS[1]) end", b"n"),
        (b"for i = 1, 1e9 do redis.pcall('INCR', KEYS[1]) end", b"m"),
        (b"for i = 1, 1e9 do pcall(redis.call, 'INCR', KEYS[1]) end", b"o"),
    ):
        reply = model.call([b"EVAL", body, b"1", key])
        assert isinstance(reply, Error) and reply.text.startswith(scripting.CALLS_EXCEEDED), body
        assert model.call([b"GET", key]) == b"1000"


def test_a_body_that_is_lua_bytecode_is_read_as_text_and_refused(diff: Differential) -> None:
    """Loading bytecode would skip the compiler's checks (a classic way out of Lua
    sandboxes): like Redis, the body is compiled as source and fails on its first byte."""
    dumped = b"\x1bLuaQ\x00\x01\x04\x08\x04\x08\x00"
    diff.check(b"EVAL", dumped, b"0")
    diff.check(b"EVAL", b"\x1bjunk", b"0")


WALKS_SAME_AS_REDIS: list[bytes] = [
    # Keys that are strings, numbers or booleans sit where their hash puts them, the same
    # in every Lua 5.1: the walks give Redis's order.
    b"local t = {a=1, b=2, c=3, d=4, e=5, [1]=1, [2]=2, [7]=7, [2.5]=0, [-1]=9, [true]=1,"
    b" [false]=0} local o = {} for k in pairs(t) do o[#o+1] = tostring(k) end"
    b" return table.concat(o, ',')",
    b"local t = {} for i = 1, 40 do t['k'..i] = i t[i * 7] = i end t.k3 = nil local o = {}"
    b" local k = next(t) while k do o[#o+1] = tostring(k) k = next(t, k) end"
    b" return table.concat(o, ',')",
    b"local t = {x=1, y=2, z=3} local o = {} for k in pairs(t) do for k2, v in pairs(t) do"
    b" o[#o+1] = k .. k2 .. v end end return table.concat(o, ',')",
    b"local o = {} table.foreach({x=1, y=2, [10]=3}, function(k, v) o[#o+1] = tostring(k) end)"
    b" return table.concat(o, ',')",
    b"return table.foreach({a=1, b=2, c=3}, function(k, v) if v == 2 then return k end end)",
    b"return {next({})}",
    b"return next({}, 'x')",
    # Lua's own errors for what is not a table, at the script's line.
    b"local x = pairs()",
    b"local x = pairs(nil)",
    b"\nlocal x = next(5)",
    b"return next()",
    b"return {pcall(pairs, 1)}",
    b"local f = pairs({})\nlocal x = f(nil)",
    b"local x = table.foreach({})",
    b"return table.foreach({}, 1)",
]


def test_walks_over_strings_numbers_and_booleans_go_as_in_redis(diff: Differential) -> None:
    for body in WALKS_SAME_AS_REDIS:
        diff.check(b"EVAL", body, b"0")


UNORDERED_WALKS = [
    b"local t = {} for i = 1, 10 do t[{}] = i end\n"
    b"for _ in pairs(t) do redis.call('INCR', KEYS[1]) end",
    b"local t = {a=1, b=2, c=3} t[function() end] = 4\n"
    b"for _ in pairs(t) do redis.call('INCR', KEYS[1]) end",
    b"local t = {a=1, b=2, c=3, [{}]=4}\nlocal k = next(t) while k ~= nil do"
    b" redis.call('INCR', KEYS[1]) k = next(t, k) end",
    b"local t = {a=1, b=2, [{}]=3}\n"
    b"table.foreach(t, function() redis.call('INCR', KEYS[1]) end)",
]


@pytest.mark.parametrize("body", UNORDERED_WALKS)
def test_a_walk_over_keys_that_are_tables_or_functions_fails_before_its_first_key(
    body: bytes,
) -> None:
    """Their order is their addresses, which differ between replicas: the whole table is
    checked before the walk hands out a key, so no replica runs a step of the loop."""
    model = Model()
    reply = run(model, body, b"n")
    assert isinstance(reply, Error) and reply.text.startswith(scripting.UNORDERED_KEYS)
    assert reply.text.endswith(", on @user_script:2.")  # the loop's line
    assert model.call([b"GET", b"n"]) is None


def test_a_step_that_could_land_anywhere_in_such_a_table_fails_too() -> None:
    for body in (
        b"local t = {a=1, b=2, [{}]=3} return next(t, 'a')",  # no walk began: checked first
        b"local k = {} local t = {a=1, [k]=2} return next(t, k)",
        b"local k = {} local t = {a=1, b=2, [k]=3} t[k] = nil for _ in pairs(t) do end"
        b" return next(t, k)",  # a key that has left the table: Lua goes on from its slot
        b"local f = pairs({}) return f({[{}]=1})",  # the iterator pairs gives is guarded too
    ):
        reply = run(Model(), body, numkeys=0)
        assert isinstance(reply, Error) and reply.text.startswith(scripting.UNORDERED_KEYS), body


def test_a_script_may_catch_the_refusal_and_go_on() -> None:
    body = b"local ok, e = pcall(pairs({}), {[{}] = 1}) return {tostring(ok), e}"
    assert run(Model(), body, numkeys=0) == [b"false", scripting.UNORDERED_KEYS.encode()]


def test_a_walk_comes_out_the_same_in_every_fresh_sandbox() -> None:
    """Each replica runs the script in a Lua state of its own, where tables and functions
    sit at other addresses: the outcome of a walk must not depend on them."""
    keyed_by_tables = (
        b"local t = {} for i = 1, 20 do t[{}] = i end local o = {}"
        b" local ok, e = pcall(function() for _, v in pairs(t) do o[#o+1] = v end end)"
        b" return {tostring(ok), table.concat(o, ','), e}"
    )
    keyed_by_strings = (
        b"local t, o = {}, {} for i = 1, 50 do t['k' .. i] = i t[i + 0.5] = i end"
        b" for k in pairs(t) do o[#o+1] = tostring(k) end return table.concat(o, ',')"
    )
    for body in (keyed_by_tables, keyed_by_strings):
        replies = [_execute(MemoryStore(), body, 7) for _ in range(10)]
        assert all(reply == replies[0] for reply in replies), body
    assert replies[0] != b""
    assert _execute(MemoryStore(), keyed_by_tables, 7) == [
        b"false",
        b"",  # not one value before the error
        scripting.UNORDERED_KEYS.encode(),
    ]


def test_pairs_and_next_in_loops_give_what_lua_gives() -> None:
    body = (
        b"local t = {a=1, b=2, c=3, [1]=10, [true]=100} local s, n = 0, 0"
        b" for k, v in pairs(t) do for k2, v2 in pairs(t) do n = n + 1 end s = s + v end"
        b" local k, v = next(t) local m = 0 while k ~= nil do m = m + v k, v = next(t, k) end"
        b" local f = table.foreach(t, function(k, v) if v == 10 then return k end end)"
        b" for k in pairs(t) do t[k] = nil end"  # clearing fields while walking is allowed
        b" return {s, n, m, f, next(t) == nil}"
    )
    assert run(Model(), body, numkeys=0) == [116, 25, 116, 1, 1]


@pytest.mark.parametrize(
    "body",
    [
        b"return redis.call('SET', KEYS[1], ARGV[1])",
        b"return redis.pcall('INCR', KEYS[1])",
        b"return math.random(10)",
        b"return {cjson.decode('[1, {\"a\": 2}]'), cjson.encode({1})}",
        b"return {struct.unpack('>I', struct.pack('>I', 7))}",
        b"return {cmsgpack.unpack(cmsgpack.pack(1)), bit.band(1, 3), bit.tohex('zz')}",
        b"error('raised')",
        b"x = 1",
    ],
)
def test_a_scripts_lua_state_is_freed_when_it_ends_not_left_to_the_cyclic_collector(
    body: bytes,
) -> None:
    """The Lua state holds the Python objects the sandbox hands it, and those that
    reach back to it (the call, the libraries' Python sides, their meter) let go of it
    when the call ends. Otherwise every call's state, 70 KB and more, waited for
    Python's cyclic collector: a replica under EVAL load held 200 MB of dead states."""
    model = Model()
    gc.collect()
    gc.disable()
    try:
        for _ in range(5):
            run(model, body, b"k", b"v")
        alive = [o for o in gc.get_objects() if type(o) is lua51.LuaRuntime]
    finally:
        gc.enable()
    assert alive == []

"""``execute``: deterministic, clock-free, and reads never change the state."""

from __future__ import annotations

import pytest

from epaxosdb.commands import (
    COMMANDS,
    command_access,
    execute,
    expired_sweep_op,
    is_read_only,
    prepare,
    settle_expiry_of,
)
from epaxosdb.commands.keyspace import REPEATED_MEMBERS_TOO_MANY
from protocol.messages import Command
from protocol.replies import OK, Error, Published, Reply
from storage.interface import Value, ValueType
from storage.memory import MemoryStore
from tests.commands.differential import injected_value
from tests.commands.test_differential_random import Generator

T0 = 1_700_000_000_000


def run(store: MemoryStore, time_ms: int, *ops: tuple[bytes, ...], cmd_id: int = 1) -> Reply:
    cmd = Command(origin=1, id=cmd_id, time_ms=time_ms, ops=ops, multi=len(ops) > 1)
    return store.write(lambda txn: execute(txn, cmd))


def changed_keys_within_writes(store: MemoryStore, requests: list[tuple[int, list[bytes]]]) -> int:
    """Run each ``(time, args)`` request that prepares; check that every key whose value
    changed is among its op's declared writes (what EPaxos orders it by) — except
    keys it found expired and deleted (``settle_expiry``), which must be among the
    keys it names — and that a read-only op changed nothing else. Returns how many
    key changes were seen."""
    changed_total = 0
    for step, (now, args) in enumerate(requests):
        op = prepare(args, now)
        if isinstance(op, Error):
            continue
        cmd = Command(origin=1, id=step, time_ms=now, ops=(op,))
        before = dict(store.kv_items())
        run(store, now, op, cmd_id=step)
        after = dict(store.kv_items())
        changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        settled = {k for k in changed if k not in after and 0 < before[k].expire_ms <= now}
        access = command_access(cmd)
        assert access.global_write or changed - settled <= access.writes, (args, changed, access)
        everywhere = access.global_read or access.global_write
        assert everywhere or settled <= access.reads | access.writes, (args, settled, access)
        assert not is_read_only(cmd) or changed == settled, args
        changed_total += len(changed)
    return changed_total


def string(payload: bytes, expire_ms: int = 0) -> Value:
    return Value(ValueType.STRING, expire_ms, payload)


def put(store: MemoryStore, key: bytes, value: Value) -> None:
    store.write(lambda txn: txn.put(key, value))


def test_same_command_on_two_copies_of_a_state_gives_same_reply_and_state() -> None:
    store = MemoryStore()
    generator = Generator(seed=11)
    for step in range(1500):
        mode, args = generator.request()
        now = T0 + step * 997
        if mode == "inject":
            put(store, args[1], injected_value(ValueType(int(args[2]))))
            continue
        op = prepare(args, now)
        if isinstance(op, Error):
            continue
        twin = store.clone()
        reply = run(store, now, op, cmd_id=step)
        assert run(twin, now, op, cmd_id=step) == reply, args
        assert twin.kv_items() == store.kv_items(), args


def test_expiry_is_judged_against_the_command_timestamp() -> None:
    store = MemoryStore()
    assert run(store, T0, (b"SET", b"k", b"v", b"PXAT", b"%d" % (T0 + 1000))) == OK
    assert run(store, T0 + 999, (b"GET", b"k")) == b"v"
    assert run(store, T0 + 500, (b"PTTL", b"k")) == 500
    assert run(store, T0 + 500, (b"TTL", b"k")) == 1
    assert run(store, T0 + 999, (b"DBSIZE",)) == 1
    assert run(store, T0 + 1000, (b"GET", b"k")) is None
    assert run(store, T0 + 1000, (b"EXISTS", b"k")) == 0
    assert run(store, T0 + 1000, (b"DBSIZE",)) == 0
    # Once a command in the order found it expired, it stays gone for earlier stamps.
    assert run(store, T0 + 999, (b"DBSIZE",)) == 0


@pytest.mark.parametrize(
    "op",
    [
        (b"GET", b"k"),
        (b"TTL", b"k"),
        (b"EXISTS", b"j", b"k"),
        (b"KEYS", b"*"),
        (b"SCAN", b"0"),
        (b"RANDOMKEY",),
        (b"DBSIZE",),
        (b"PERSIST", b"k"),
        (b"SET", b"k", b"w", b"XX"),
    ],
)
def test_a_command_that_finds_a_key_expired_deletes_it(op: tuple[bytes, ...]) -> None:
    store = MemoryStore()
    put(store, b"k", string(b"v", T0))
    put(store, b"other", string(b"x", T0 + 10))
    run(store, T0 + 1, op)
    assert store.kv_items() == [(b"other", string(b"x", T0 + 10))]


def test_a_persist_ordered_after_a_read_that_found_the_key_expired_finds_nothing() -> None:
    """The race QA found: a PERSIST stamped before the deadline, ordered after a GET
    stamped after it. The key must stay gone, as the GET reported."""
    store = MemoryStore()
    put(store, b"k", string(b"v", T0))
    assert run(store, T0 + 2, (b"GET", b"k")) is None
    assert run(store, T0 - 2, (b"PERSIST", b"k")) == 0
    assert run(store, T0 - 2, (b"EXPIRE", b"k", b"100")) == 0
    assert run(store, T0 - 2, (b"GET", b"k")) is None
    assert store.kv_items() == []


def test_a_key_not_yet_expired_at_the_command_time_stays() -> None:
    store = MemoryStore()
    put(store, b"k", string(b"v", T0))
    assert run(store, T0 - 1, (b"GET", b"k")) == b"v"
    assert run(store, T0 - 1, (b"KEYS", b"*")) == [b"k"]
    assert store.kv_items() == [(b"k", string(b"v", T0))]


@pytest.mark.parametrize(
    "ops",
    [
        ((b"GET", b"k"),),
        ((b"MGET", b"j", b"k"),),
        ((b"WATCHCHECK", b"j", b"stale-digest"), (b"GET", b"k")),
        ((b"DBSIZE",),),
    ],
)
def test_a_read_only_command_settles_expiry_at_every_replica(
    ops: tuple[tuple[bytes, ...], ...],
) -> None:
    """Its handlers run only at its proposer; the others delete what it found expired
    (``settle_expiry_of``) and end in the same state — a MULTI whose WATCH check
    fails included."""
    cmd = Command(origin=1, id=1, time_ms=T0 + 1, ops=ops, multi=len(ops) > 1)
    assert is_read_only(cmd)
    proposer, other = MemoryStore(), MemoryStore()
    for store in (proposer, other):
        put(store, b"j", string(b"x", T0))
        put(store, b"k", string(b"v", T0))
    proposer.write(lambda txn: execute(txn, cmd))
    other.write(lambda txn: settle_expiry_of(txn, cmd))
    assert proposer.kv_items() == other.kv_items()
    assert b"k" not in dict(other.kv_items())


def test_writes_treat_expired_keys_as_absent() -> None:
    store = MemoryStore()
    put(store, b"k", string(b"5", T0))
    assert run(store, T0, (b"INCR", b"k")) == 1
    assert run(store, T0, (b"TTL", b"k")) == -1
    put(store, b"k", string(b"v", T0))
    assert run(store, T0, (b"SET", b"k", b"w", b"NX")) == OK
    put(store, b"k", string(b"v", T0))
    assert run(store, T0, (b"DEL", b"k")) == 0
    assert store.kv_items() == []


def test_a_set_with_a_past_deadline_leaves_no_key() -> None:
    store = MemoryStore()
    assert run(store, T0, (b"SET", b"k", b"v", b"PXAT", b"%d" % (T0 - 5))) == OK
    assert store.kv_items() == []


def test_sweep_deletes_only_keys_expired_at_its_own_time() -> None:
    store = MemoryStore()
    put(store, b"old", string(b"1", T0 - 10))
    put(store, b"later", string(b"2", T0 + 10))
    put(store, b"plain", string(b"3"))
    assert store.read(lambda kv: expired_sweep_op(kv, T0 - 100, 10)) is None
    op = store.read(lambda kv: expired_sweep_op(kv, T0, 10))
    assert op == (b"DELEXPIRED", b"old")
    both = store.read(lambda kv: expired_sweep_op(kv, T0 + 10, 1))
    assert both == (b"DELEXPIRED", b"old")  # capped at the limit
    put(store, b"later", string(b"rewritten"))
    assert run(store, T0, (b"DELEXPIRED", b"old", b"later", b"missing")) == 1
    assert {key for key, _ in store.kv_items()} == {b"later", b"plain"}


def test_sweep_is_an_internal_write_no_client_can_send() -> None:
    assert isinstance(prepare([b"DELEXPIRED", b"k"], T0), Error)
    cmd = Command(origin=1, id=1, time_ms=T0, ops=((b"DELEXPIRED", b"k"),))
    assert not is_read_only(cmd)
    assert command_access(cmd).writes == {b"k"}


def test_publish_runs_on_every_replica_changes_nothing_and_answers_what_to_deliver() -> None:
    store = MemoryStore()
    cmd = Command(origin=1, id=1, time_ms=T0, ops=((b"PUBLISH", b"ch", b"hello"),))
    assert not is_read_only(cmd)  # every replica delivers to its own subscribers
    assert run(store, T0, (b"PUBLISH", b"ch", b"hello")) == Published(b"ch", b"hello")
    assert store.kv_items() == []


def test_randomkey_is_a_function_of_state_and_command_identity() -> None:
    store = MemoryStore()
    for i in range(50):
        put(store, b"key%d" % i, string(b"v"))
    picks = {run(store, T0, (b"RANDOMKEY",), cmd_id=i) for i in range(40)}
    twin = store.clone()
    assert [run(twin, T0, (b"RANDOMKEY",), cmd_id=i) for i in range(40)] == [
        run(store, T0, (b"RANDOMKEY",), cmd_id=i) for i in range(40)
    ]
    assert len(picks) > 10


def test_randomkey_never_returns_an_expired_key() -> None:
    store = MemoryStore()
    for i in range(30):
        put(store, b"gone%d" % i, string(b"v", T0 - 1))
    assert run(store, T0, (b"RANDOMKEY",)) is None
    put(store, b"alive", string(b"v"))
    assert {run(store, T0, (b"RANDOMKEY",), cmd_id=i) for i in range(20)} == {b"alive"}


def test_a_transaction_replies_per_op_and_keeps_going_after_a_run_time_error() -> None:
    store = MemoryStore()
    put(store, b"h", Value(ValueType.HASH, 0, b"opaque"))
    reply = run(
        store,
        T0,
        (b"SET", b"a", b"1"),
        (b"INCR", b"h"),
        (b"ERRORREPLY", b"ERR syntax error"),
        (b"INCR", b"a"),
    )
    assert reply == [
        OK,
        Error("WRONGTYPE Operation against a key holding the wrong kind of value"),
        Error("ERR syntax error"),
        2,
    ]


def test_an_op_without_a_handler_replies_an_error() -> None:
    store = MemoryStore()
    assert isinstance(run(store, T0, (b"PING",)), Error)


def test_stored_non_string_values_are_typed() -> None:
    store = MemoryStore()
    for value_type, name in [
        (ValueType.LIST, b"list"),
        (ValueType.SET, b"set"),
        (ValueType.HASH, b"hash"),
        (ValueType.ZSET, b"zset"),
        (ValueType.STREAM, b"stream"),
    ]:
        put(store, b"k", Value(value_type, 0, b"x"))
        reply = run(store, T0, (b"TYPE", b"k"))
        assert getattr(reply, "text", None) == name


SAMPLE_ARGS: dict[bytes, list[bytes]] = {
    b"publish": [b"ch", b"m"],
    b"spublish": [b"ch", b"m"],
    b"get": [b"k"], b"set": [b"k", b"v"], b"setnx": [b"k", b"v"], b"setex": [b"k", b"1", b"v"],
    b"psetex": [b"k", b"1", b"v"], b"getset": [b"k", b"v"], b"getdel": [b"k"], b"getex": [b"k"],
    b"mget": [b"k"], b"mset": [b"k", b"v"], b"msetnx": [b"k", b"v"], b"del": [b"k"],
    b"unlink": [b"k"], b"exists": [b"k"], b"touch": [b"k"], b"incr": [b"k"], b"decr": [b"k"],
    b"incrby": [b"k", b"1"], b"decrby": [b"k", b"1"], b"incrbyfloat": [b"k", b"1"],
    b"append": [b"k", b"v"], b"strlen": [b"k"], b"getrange": [b"k", b"0", b"1"],
    b"setrange": [b"k", b"0", b"v"], b"keys": [b"*"], b"scan": [b"0"], b"type": [b"k"],
    b"lcs": [b"k", b"j", b"IDX"],
    b"rename": [b"k", b"j"], b"renamenx": [b"k", b"j"], b"expire": [b"k", b"1"],
    b"pexpire": [b"k", b"1"], b"expireat": [b"k", b"1"], b"pexpireat": [b"k", b"1"],
    b"expiretime": [b"k"], b"pexpiretime": [b"k"], b"ttl": [b"k"], b"pttl": [b"k"],
    b"persist": [b"k"], b"dbsize": [], b"debug": [b"DIGEST"], b"flushdb": [], b"flushall": [],
    b"randomkey": [],
    b"setbit": [b"k", b"3", b"1"], b"getbit": [b"k", b"3"], b"bitcount": [b"k"],
    b"bitpos": [b"k", b"1"], b"bitop": [b"AND", b"d", b"k"],
    b"bitfield": [b"k", b"GET", b"u8", b"0", b"INCRBY", b"i5", b"#3", b"7"],
    b"bitfield_ro": [b"k", b"GET", b"i8", b"0", b"GET", b"u4", b"#1"],
    b"pfadd": [b"h", b"a"], b"pfcount": [b"h"], b"pfmerge": [b"h", b"k"],
    b"hset": [b"h", b"f", b"v"], b"hmset": [b"h", b"f", b"v"], b"hsetnx": [b"h", b"f", b"v"],
    b"hget": [b"h", b"f"], b"hmget": [b"h", b"f"], b"hdel": [b"h", b"f"],
    b"hexists": [b"h", b"f"], b"hstrlen": [b"h", b"f"], b"hlen": [b"h"], b"hgetall": [b"h"],
    b"hkeys": [b"h"], b"hvals": [b"h"], b"hincrby": [b"h", b"f", b"1"],
    b"hincrbyfloat": [b"h", b"f", b"1"], b"hscan": [b"h", b"0"],
    b"hrandfield": [b"h", b"-3", b"WITHVALUES"],
    b"sadd": [b"s", b"m"], b"srem": [b"s", b"m"], b"smembers": [b"s"], b"sismember": [b"s", b"m"],
    b"smismember": [b"s", b"m"], b"scard": [b"s"], b"sinter": [b"s"], b"sunion": [b"s"],
    b"sdiff": [b"s"], b"sinterstore": [b"d", b"s"], b"sunionstore": [b"d", b"s"],
    b"sdiffstore": [b"d", b"s"], b"smove": [b"s", b"d", b"m"], b"spop": [b"s"],
    b"srandmember": [b"s"], b"sscan": [b"s", b"0"],
    b"lpush": [b"l", b"e"], b"rpush": [b"l", b"e"], b"lpushx": [b"l", b"e"],
    b"rpushx": [b"l", b"e"], b"lpop": [b"l"], b"rpop": [b"l"], b"llen": [b"l"],
    b"lindex": [b"l", b"0"], b"lset": [b"l", b"0", b"e"], b"lrange": [b"l", b"0", b"-1"],
    b"ltrim": [b"l", b"0", b"1"], b"lrem": [b"l", b"0", b"e"],
    b"linsert": [b"l", b"BEFORE", b"p", b"e"], b"lpos": [b"l", b"e"],
    b"lmove": [b"l", b"m", b"LEFT", b"RIGHT"], b"rpoplpush": [b"l", b"m"],
    b"blpop": [b"l", b"m", b"0"], b"brpop": [b"l", b"0"],
    b"blmove": [b"l", b"m", b"LEFT", b"RIGHT", b"0"], b"brpoplpush": [b"l", b"m", b"0"],
    b"copy": [b"k", b"j"],
    b"dump": [b"k"], b"restore": [b"k", b"0", b"\x00\x05hello\n\x00cr\xdfve4 \n", b"REPLACE"],
    b"zadd": [b"z", b"1", b"m"], b"zincrby": [b"z", b"1", b"m"], b"zcard": [b"z"],
    b"zscore": [b"z", b"m"], b"zmscore": [b"z", b"m"], b"zrem": [b"z", b"m"],
    b"zrank": [b"z", b"m"], b"zrevrank": [b"z", b"m"], b"zcount": [b"z", b"-inf", b"+inf"],
    b"zlexcount": [b"z", b"-", b"+"], b"zrange": [b"z", b"0", b"-1", b"WITHSCORES"],
    b"zrangestore": [b"d", b"z", b"0", b"-1"], b"zrevrange": [b"z", b"0", b"-1"],
    b"zrangebyscore": [b"z", b"-inf", b"+inf"], b"zrevrangebyscore": [b"z", b"+inf", b"-inf"],
    b"zrangebylex": [b"z", b"-", b"+"], b"zrevrangebylex": [b"z", b"+", b"-"],
    b"zremrangebyrank": [b"z", b"0", b"1"], b"zremrangebyscore": [b"z", b"0", b"1"],
    b"zremrangebylex": [b"z", b"-", b"+"], b"zpopmin": [b"z"], b"zpopmax": [b"z", b"2"],
    b"zrandmember": [b"z", b"2", b"WITHSCORES"], b"zscan": [b"z", b"0"],
    b"zunion": [b"2", b"z", b"s", b"WITHSCORES"], b"zinter": [b"1", b"z"],
    b"zdiff": [b"2", b"z", b"s"], b"zunionstore": [b"d", b"2", b"z", b"s", b"WEIGHTS", b"1", b"2"],
    b"zinterstore": [b"d", b"1", b"z", b"AGGREGATE", b"MAX"], b"zdiffstore": [b"d", b"1", b"z"],
    b"zintercard": [b"2", b"z", b"s", b"LIMIT", b"1"], b"sintercard": [b"1", b"s"],
    b"geoadd": [b"g", b"13.36", b"38.11", b"m"], b"geopos": [b"g", b"m"],
    b"geodist": [b"g", b"m", b"n", b"km"], b"geohash": [b"g", b"m"],
    b"geosearch": [b"g", b"FROMLONLAT", b"13", b"38", b"BYRADIUS", b"200", b"km", b"WITHDIST"],
    b"geosearchstore": [b"d", b"g", b"FROMMEMBER", b"m", b"BYBOX", b"9", b"9", b"km"],
    b"georadius": [b"g", b"13", b"38", b"200", b"km", b"STOREDIST", b"d"],
    b"georadius_ro": [b"g", b"13", b"38", b"200", b"km", b"COUNT", b"1"],
    b"georadiusbymember": [b"g", b"m", b"200", b"km", b"STORE", b"d"],
    b"georadiusbymember_ro": [b"g", b"m", b"200", b"km", b"WITHCOORD"],
    b"zmpop": [b"2", b"z", b"y", b"MIN", b"COUNT", b"2"], b"lmpop": [b"1", b"l", b"LEFT"],
    b"bzpopmin": [b"z", b"y", b"0"], b"bzpopmax": [b"z", b"0.5"],
    b"bzmpop": [b"0", b"2", b"z", b"y", b"MAX", b"COUNT", b"2"],
    b"blmpop": [b"1.5", b"1", b"l", b"RIGHT"],
    b"xadd": [b"x", b"MAXLEN", b"~", b"10", b"*", b"f", b"v"], b"xdel": [b"x", b"1-1"],
    b"xtrim": [b"x", b"MINID", b"5"], b"xlen": [b"x"], b"xrange": [b"x", b"-", b"+"],
    b"xrevrange": [b"x", b"+", b"-", b"COUNT", b"1"],
    b"xread": [b"COUNT", b"1", b"BLOCK", b"10", b"STREAMS", b"x", b"k", b"0", b"0-1"],
    b"xreadgroup": [b"GROUP", b"g", b"c", b"BLOCK", b"10", b"STREAMS", b"x", b"k", b">", b"0"],
    b"xack": [b"x", b"g", b"1-1"], b"xpending": [b"x", b"g", b"IDLE", b"5", b"-", b"+", b"10"],
    b"xclaim": [b"x", b"g", b"c", b"0", b"1-1", b"FORCE"], b"xsetid": [b"x", b"1-1"],
    b"xautoclaim": [b"x", b"g", b"c", b"0", b"0", b"COUNT", b"5"],
    b"xgroup|create": [b"x", b"g", b"$", b"MKSTREAM"], b"xgroup|setid": [b"x", b"g", b"0"],
    b"xgroup|destroy": [b"x", b"g"], b"xgroup|createconsumer": [b"x", b"g", b"c"],
    b"xgroup|delconsumer": [b"x", b"g", b"c"], b"xgroup|help": [],
    b"xinfo|stream": [b"x", b"FULL"], b"xinfo|groups": [b"x"], b"xinfo|consumers": [b"x", b"g"],
    b"xinfo|help": [],
    b"memory|usage": [b"k", b"SAMPLES", b"0"], b"memory|help": [],
    b"object|encoding": [b"k"], b"object|refcount": [b"k"], b"object|freq": [b"k"],
    b"object|idletime": [b"k"], b"object|help": [], b"substr": [b"k", b"0", b"-1"],
    b"sort": [b"l", b"BY", b"w_*", b"GET", b"#", b"STORE", b"d"],
    b"sort_ro": [b"l", b"BY", b"nosort", b"GET", b"h_*->f"],
    b"eval": [b"return redis.call('SET', KEYS[1], ARGV[1])", b"1", b"k", b"v"],
    b"eval_ro": [b"return redis.call('GET', KEYS[1])", b"1", b"k"],
    b"fcall": [b"f", b"1", b"k", b"v"], b"fcall_ro": [b"f", b"1", b"k"],
    b"function|load": [b"#!lua name=l\nredis.register_function('f', function() end)"],
    b"function|delete": [b"l"], b"function|flush": [b"SYNC"], b"function|list": [b"WITHCODE"],
    b"function|dump": [], b"function|restore": [bytes.fromhex("0a005d9b5c400f7fa2da")],
    b"function|stats": [], b"function|kill": [], b"function|help": [],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SAMPLE_ARGS))
def test_read_only_means_no_writes_in_access_and_runs_on_a_read_view(name: bytes) -> None:
    op = prepare([*name.split(b"|"), *SAMPLE_ARGS[name]], T0)  # xgroup|create: XGROUP CREATE
    assert not isinstance(op, Error)
    cmd = Command(origin=1, id=1, time_ms=T0, ops=(op,))
    assert is_read_only(cmd) == command_access(cmd).read_only
    store = MemoryStore()
    put(store, b"k", string(b"5", T0 + 10_000))
    if is_read_only(cmd):
        store.read(lambda kv: execute(kv, cmd))  # a read view refuses every write
    else:
        store.write(lambda txn: execute(txn, cmd))


def test_every_data_command_has_a_sample() -> None:
    specs = [*COMMANDS, *(sub for spec in COMMANDS for sub in spec.subcommands)]
    data = {s.name for s in specs if s.handler is not None and "internal" not in s.flags}
    assert data == set(SAMPLE_ARGS)


@pytest.mark.parametrize(
    ("fill", "name", "option"),
    [(b"ZADD", b"ZRANDMEMBER", b"WITHSCORES"), (b"HSET", b"HRANDFIELD", b"WITHVALUES")],
)
def test_zrandmember_and_hrandfield_pick_from_the_command_seed_alike_on_every_replica(
    fill: bytes, name: bytes, option: bytes
) -> None:
    """Same command, same picks on every replica; other commands pick otherwise; the
    repeated picks are capped before the command is proposed (``REPEATED_MEMBERS_MAX``)."""
    store = MemoryStore()
    run(store, T0, (fill, b"z", *(part for i in range(20) for part in (b"%d" % i, b"m%d" % i))))
    twin = store.clone()
    picks = set()
    for i in range(10):
        for count in ([], [b"3"], [b"-4", option]):
            op = (name, b"z", *count)
            reply = run(store, T0, op, cmd_id=i)
            assert reply == run(twin, T0, op, cmd_id=i)
            picks.add(repr(reply))
    assert len(picks) > 3, "different commands should not all pick alike"
    distinct = run(store, T0, (name, b"z", b"5"), cmd_id=3)
    assert isinstance(distinct, list) and len(set(distinct)) == 5  # type: ignore[arg-type]
    assert prepare([name, b"z", b"-1000000", option], T0) == (name, b"z", b"-1000000", option)
    assert prepare([name, b"z", b"-1000001"], T0) == REPEATED_MEMBERS_TOO_MANY


def test_spop_and_srandmember_pick_from_the_command_seed_alike_on_every_replica() -> None:
    """Two replicas executing the same SPOP remove the same members; another command
    (another seed) may pick others; SRANDMEMBER's picks follow the seed the same way."""
    members = [b"m%d" % i for i in range(20)]
    store = MemoryStore()
    run(store, T0, (b"SADD", b"s", *members))
    twin = store.clone()
    assert run(store, T0, (b"SPOP", b"s", b"3"), cmd_id=7) == run(
        twin, T0, (b"SPOP", b"s", b"3"), cmd_id=7
    )
    assert store.kv_items() == twin.kv_items()
    assert run(store, T0, (b"SCARD", b"s")) == 17
    picks = {
        tuple(run(store, T0, (b"SRANDMEMBER", b"s", b"-4"), cmd_id=i))  # type: ignore[arg-type]
        for i in range(10)
    }
    assert len(picks) > 1, "different commands should not all pick alike"
    for i in range(10):
        srandmember = (b"SRANDMEMBER", b"s", b"5")
        assert run(store, T0, srandmember, cmd_id=i) == run(twin, T0, srandmember, cmd_id=i)

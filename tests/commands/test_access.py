"""``access_of``: which keys each command reads and writes (EPaxos's interference relation)."""

from __future__ import annotations

import random

import pytest

from epaxosdb.commands import (
    COMMANDS,
    access_of,
    batch_access,
    command_access,
    prepare,
)
from epaxosdb.commands.blocking import SOURCE_TYPES, retry_name
from epaxosdb.commands.pubsub import channel_key, shard_channel_key
from epaxosdb.core.conflicts import batch_access as union_of_accesses
from protocol.messages import Access, Command
from protocol.replies import Error
from storage.memory import MemoryStore
from tests.commands.test_differential_random import Generator
from tests.commands.test_execution import changed_keys_within_writes

EXPECTED: list[tuple[tuple[bytes, ...], Access]] = [
    # PUBLISH orders by channel, in a key space of its own (``pubsub.channel_key``).
    ((b"PUBLISH", b"news", b"hi"), Access(writes=frozenset({channel_key(b"news")}))),
    # SPUBLISH likewise; its shard channel is no data key (Redis flags it ``not_key``).
    ((b"SPUBLISH", b"news", b"hi"), Access(writes=frozenset({shard_channel_key(b"news")}))),
    ((b"GET", b"k"), Access(reads=frozenset({b"k"}))),
    ((b"SET", b"k", b"v", b"GET"), Access(writes=frozenset({b"k"}))),
    ((b"SETNX", b"k", b"v"), Access(writes=frozenset({b"k"}))),
    ((b"GETSET", b"k", b"v"), Access(writes=frozenset({b"k"}))),
    ((b"GETDEL", b"k"), Access(writes=frozenset({b"k"}))),
    ((b"GETEX", b"k"), Access(writes=frozenset({b"k"}))),
    ((b"MGET", b"a", b"b", b"a"), Access(reads=frozenset({b"a", b"b"}))),
    ((b"MSET", b"a", b"1", b"b", b"2"), Access(writes=frozenset({b"a", b"b"}))),
    ((b"MSETNX", b"a", b"1", b"b", b"2"), Access(writes=frozenset({b"a", b"b"}))),
    ((b"DEL", b"a", b"b"), Access(writes=frozenset({b"a", b"b"}))),
    ((b"UNLINK", b"a"), Access(writes=frozenset({b"a"}))),
    ((b"EXISTS", b"a", b"b"), Access(reads=frozenset({b"a", b"b"}))),
    ((b"TOUCH", b"a"), Access(reads=frozenset({b"a"}))),
    ((b"INCR", b"k"), Access(writes=frozenset({b"k"}))),
    ((b"DECR", b"k"), Access(writes=frozenset({b"k"}))),
    ((b"INCRBY", b"k", b"2"), Access(writes=frozenset({b"k"}))),
    ((b"DECRBY", b"k", b"2"), Access(writes=frozenset({b"k"}))),
    ((b"INCRBYFLOAT", b"k", b"2"), Access(writes=frozenset({b"k"}))),
    ((b"APPEND", b"k", b"x"), Access(writes=frozenset({b"k"}))),
    ((b"STRLEN", b"k"), Access(reads=frozenset({b"k"}))),
    ((b"GETRANGE", b"k", b"0", b"1"), Access(reads=frozenset({b"k"}))),
    ((b"LCS", b"k", b"j", b"IDX"), Access(reads=frozenset({b"k", b"j"}))),
    ((b"SETRANGE", b"k", b"0", b"x"), Access(writes=frozenset({b"k"}))),
    ((b"TYPE", b"k"), Access(reads=frozenset({b"k"}))),
    ((b"SETBIT", b"k", b"7", b"1"), Access(writes=frozenset({b"k"}))),
    ((b"HSET", b"k", b"f", b"v"), Access(writes=frozenset({b"k"}))),
    ((b"HMSET", b"k", b"f", b"v"), Access(writes=frozenset({b"k"}))),
    ((b"HSETNX", b"k", b"f", b"v"), Access(writes=frozenset({b"k"}))),
    ((b"HDEL", b"k", b"f"), Access(writes=frozenset({b"k"}))),
    ((b"HINCRBY", b"k", b"f", b"1"), Access(writes=frozenset({b"k"}))),
    ((b"HINCRBYFLOAT", b"k", b"f", b"1"), Access(writes=frozenset({b"k"}))),
    ((b"HGET", b"k", b"f"), Access(reads=frozenset({b"k"}))),
    ((b"HMGET", b"k", b"f", b"g"), Access(reads=frozenset({b"k"}))),
    ((b"HEXISTS", b"k", b"f"), Access(reads=frozenset({b"k"}))),
    ((b"HSTRLEN", b"k", b"f"), Access(reads=frozenset({b"k"}))),
    ((b"HLEN", b"k"), Access(reads=frozenset({b"k"}))),
    ((b"HGETALL", b"k"), Access(reads=frozenset({b"k"}))),
    ((b"HKEYS", b"k"), Access(reads=frozenset({b"k"}))),
    ((b"HVALS", b"k"), Access(reads=frozenset({b"k"}))),
    ((b"HSCAN", b"k", b"0"), Access(reads=frozenset({b"k"}))),
    ((b"HRANDFIELD", b"k", b"-2", b"WITHVALUES"), Access(reads=frozenset({b"k"}))),
    ((b"SADD", b"k", b"m"), Access(writes=frozenset({b"k"}))),
    ((b"LPUSH", b"k", b"e"), Access(writes=frozenset({b"k"}))),
    ((b"RPUSH", b"k", b"e"), Access(writes=frozenset({b"k"}))),
    ((b"LPUSHX", b"k", b"e"), Access(writes=frozenset({b"k"}))),
    ((b"RPUSHX", b"k", b"e"), Access(writes=frozenset({b"k"}))),
    ((b"LPOP", b"k"), Access(writes=frozenset({b"k"}))),
    ((b"RPOP", b"k", b"2"), Access(writes=frozenset({b"k"}))),
    ((b"LSET", b"k", b"0", b"e"), Access(writes=frozenset({b"k"}))),
    ((b"LTRIM", b"k", b"0", b"1"), Access(writes=frozenset({b"k"}))),
    ((b"LREM", b"k", b"0", b"e"), Access(writes=frozenset({b"k"}))),
    ((b"LINSERT", b"k", b"BEFORE", b"p", b"e"), Access(writes=frozenset({b"k"}))),
    ((b"LMOVE", b"a", b"b", b"LEFT", b"RIGHT"), Access(writes=frozenset({b"a", b"b"}))),
    ((b"RPOPLPUSH", b"a", b"b"), Access(writes=frozenset({b"a", b"b"}))),
    ((b"BLPOP", b"a", b"b", b"0"), Access(writes=frozenset({b"a", b"b"}))),
    ((b"BRPOP", b"a", b"0.5"), Access(writes=frozenset({b"a"}))),
    ((b"BLMOVE", b"a", b"b", b"LEFT", b"RIGHT", b"0"), Access(writes=frozenset({b"a", b"b"}))),
    ((b"BRPOPLPUSH", b"a", b"b", b"0"), Access(writes=frozenset({b"a", b"b"}))),
    ((b"LLEN", b"k"), Access(reads=frozenset({b"k"}))),
    ((b"LINDEX", b"k", b"0"), Access(reads=frozenset({b"k"}))),
    ((b"LRANGE", b"k", b"0", b"-1"), Access(reads=frozenset({b"k"}))),
    ((b"LPOS", b"k", b"e"), Access(reads=frozenset({b"k"}))),
    ((b"SREM", b"k", b"m"), Access(writes=frozenset({b"k"}))),
    ((b"SPOP", b"k"), Access(writes=frozenset({b"k"}))),
    ((b"SMOVE", b"a", b"b", b"m"), Access(writes=frozenset({b"a", b"b"}))),
    ((b"SMEMBERS", b"k"), Access(reads=frozenset({b"k"}))),
    ((b"SISMEMBER", b"k", b"m"), Access(reads=frozenset({b"k"}))),
    ((b"SMISMEMBER", b"k", b"m"), Access(reads=frozenset({b"k"}))),
    ((b"SCARD", b"k"), Access(reads=frozenset({b"k"}))),
    ((b"SRANDMEMBER", b"k", b"2"), Access(reads=frozenset({b"k"}))),
    ((b"SSCAN", b"k", b"0"), Access(reads=frozenset({b"k"}))),
    ((b"SINTER", b"a", b"b"), Access(reads=frozenset({b"a", b"b"}))),
    ((b"SUNION", b"a", b"b"), Access(reads=frozenset({b"a", b"b"}))),
    ((b"SDIFF", b"a", b"b"), Access(reads=frozenset({b"a", b"b"}))),
    (
        (b"SINTERSTORE", b"d", b"a", b"b"),
        Access(reads=frozenset({b"a", b"b"}), writes=frozenset({b"d"})),
    ),
    ((b"SUNIONSTORE", b"d", b"a"), Access(reads=frozenset({b"a"}), writes=frozenset({b"d"}))),
    ((b"SDIFFSTORE", b"d", b"d"), Access(writes=frozenset({b"d"}))),
    ((b"ZADD", b"k", b"1", b"m"), Access(writes=frozenset({b"k"}))),
    ((b"ZINCRBY", b"k", b"1", b"m"), Access(writes=frozenset({b"k"}))),
    ((b"ZREM", b"k", b"m"), Access(writes=frozenset({b"k"}))),
    ((b"ZPOPMIN", b"k"), Access(writes=frozenset({b"k"}))),
    ((b"ZPOPMAX", b"k", b"2"), Access(writes=frozenset({b"k"}))),
    ((b"ZREMRANGEBYRANK", b"k", b"0", b"1"), Access(writes=frozenset({b"k"}))),
    ((b"ZREMRANGEBYSCORE", b"k", b"0", b"1"), Access(writes=frozenset({b"k"}))),
    ((b"ZREMRANGEBYLEX", b"k", b"-", b"+"), Access(writes=frozenset({b"k"}))),
    ((b"ZCARD", b"k"), Access(reads=frozenset({b"k"}))),
    ((b"ZSCORE", b"k", b"m"), Access(reads=frozenset({b"k"}))),
    ((b"ZMSCORE", b"k", b"m", b"n"), Access(reads=frozenset({b"k"}))),
    ((b"ZRANK", b"k", b"m"), Access(reads=frozenset({b"k"}))),
    ((b"ZREVRANK", b"k", b"m"), Access(reads=frozenset({b"k"}))),
    ((b"ZCOUNT", b"k", b"0", b"1"), Access(reads=frozenset({b"k"}))),
    ((b"ZLEXCOUNT", b"k", b"-", b"+"), Access(reads=frozenset({b"k"}))),
    ((b"ZRANGE", b"k", b"0", b"-1", b"WITHSCORES"), Access(reads=frozenset({b"k"}))),
    ((b"ZREVRANGE", b"k", b"0", b"-1"), Access(reads=frozenset({b"k"}))),
    ((b"ZRANGEBYSCORE", b"k", b"0", b"1"), Access(reads=frozenset({b"k"}))),
    ((b"ZREVRANGEBYSCORE", b"k", b"1", b"0"), Access(reads=frozenset({b"k"}))),
    ((b"ZRANGEBYLEX", b"k", b"-", b"+"), Access(reads=frozenset({b"k"}))),
    ((b"ZREVRANGEBYLEX", b"k", b"+", b"-"), Access(reads=frozenset({b"k"}))),
    ((b"ZRANDMEMBER", b"k", b"2"), Access(reads=frozenset({b"k"}))),
    ((b"ZSCAN", b"k", b"0"), Access(reads=frozenset({b"k"}))),
    (
        (b"ZRANGESTORE", b"d", b"k", b"0", b"-1"),
        Access(reads=frozenset({b"k"}), writes=frozenset({b"d"})),
    ),
    ((b"ZRANGESTORE", b"k", b"k", b"0", b"1"), Access(writes=frozenset({b"k"}))),
    # keynum key specs: the counted keys, and nothing the count leaves out
    ((b"ZUNION", b"2", b"a", b"b", b"WITHSCORES"), Access(reads=frozenset({b"a", b"b"}))),
    ((b"ZINTER", b"1", b"a", b"WEIGHTS", b"2"), Access(reads=frozenset({b"a"}))),
    ((b"ZDIFF", b"2", b"a", b"a"), Access(reads=frozenset({b"a"}))),
    (
        (b"ZUNIONSTORE", b"d", b"2", b"a", b"b", b"WEIGHTS", b"1", b"2"),
        Access(reads=frozenset({b"a", b"b"}), writes=frozenset({b"d"})),
    ),
    (
        (b"ZINTERSTORE", b"d", b"1", b"a", b"AGGREGATE", b"MAX"),
        Access(reads=frozenset({b"a"}), writes=frozenset({b"d"})),
    ),
    (
        (b"ZDIFFSTORE", b"a", b"2", b"a", b"b"),
        Access(reads=frozenset({b"b"}), writes=frozenset({b"a"})),
    ),
    ((b"ZINTERCARD", b"2", b"a", b"b", b"LIMIT", b"1"), Access(reads=frozenset({b"a", b"b"}))),
    ((b"SINTERCARD", b"1", b"a", b"LIMIT", b"1"), Access(reads=frozenset({b"a"}))),
    ((b"ZMPOP", b"2", b"a", b"b", b"MIN", b"COUNT", b"2"), Access(writes=frozenset({b"a", b"b"}))),
    ((b"LMPOP", b"1", b"a", b"LEFT"), Access(writes=frozenset({b"a"}))),
    ((b"BZPOPMIN", b"a", b"b", b"0"), Access(writes=frozenset({b"a", b"b"}))),
    ((b"BZPOPMAX", b"a", b"1.5"), Access(writes=frozenset({b"a"}))),
    ((b"BZMPOP", b"0", b"2", b"a", b"b", b"MAX"), Access(writes=frozenset({b"a", b"b"}))),
    ((b"BLMPOP", b"5", b"1", b"a", b"RIGHT", b"COUNT", b"2"), Access(writes=frozenset({b"a"}))),
    ((b"XADD", b"s", b"MAXLEN", b"~", b"10", b"*", b"f", b"v"), Access(writes=frozenset({b"s"}))),
    ((b"XDEL", b"s", b"1-1"), Access(writes=frozenset({b"s"}))),
    ((b"XTRIM", b"s", b"MINID", b"5"), Access(writes=frozenset({b"s"}))),
    ((b"XLEN", b"s"), Access(reads=frozenset({b"s"}))),
    ((b"XRANGE", b"s", b"-", b"+", b"COUNT", b"2"), Access(reads=frozenset({b"s"}))),
    ((b"XREVRANGE", b"s", b"+", b"-"), Access(reads=frozenset({b"s"}))),
    # XREAD's keys follow its STREAMS keyword: the first half of what comes after it.
    (
        (b"XREAD", b"COUNT", b"2", b"BLOCK", b"0", b"STREAMS", b"a", b"b", b"0", b"1-1"),
        Access(reads=frozenset({b"a", b"b"})),
    ),
    ((b"XREAD", b"STREAMS", b"STREAMS", b"0"), Access(reads=frozenset({b"STREAMS"}))),
    ((b"XREAD", b"STREAMS", b"a", b"b", b"c"), Access(reads=frozenset({b"a"}))),
    (  # refused by prepare (one argument after STREAMS): every argument, to be safe
        (b"XREAD", b"COUNT", b"1", b"STREAMS", b"a"),
        Access(reads=frozenset({b"COUNT", b"1", b"STREAMS", b"a"})),
    ),
    ((b"XREAD", b"COUNT", b"1"), Access()),
    # XREADGROUP moves its groups and fills their PELs: it writes every stream it names,
    # though Redis's key spec says RO (``KeySpec.written``).
    (
        (b"XREADGROUP", b"GROUP", b"g", b"c", b"STREAMS", b"a", b"b", b">", b"0"),
        Access(writes=frozenset({b"a", b"b"})),
    ),
    (  # its keyword search starts at the fifth argument: a group named STREAMS is no key
        (b"XREADGROUP", b"GROUP", b"STREAMS", b"c", b"STREAMS", b"a", b">"),
        Access(writes=frozenset({b"a"})),
    ),
    (  # a blocked XREADGROUP's later attempts: the same arguments, the same keys
        (b"XREADGROUP_RETRY", b"GROUP", b"g", b"STREAMS", b"STREAMS", b"a", b"b", b">", b"0"),
        Access(writes=frozenset({b"a", b"b"})),
    ),
    ((b"XACK", b"s", b"g", b"1-1"), Access(writes=frozenset({b"s"}))),
    ((b"XCLAIM", b"s", b"g", b"c", b"0", b"1-1"), Access(writes=frozenset({b"s"}))),
    ((b"XAUTOCLAIM", b"s", b"g", b"c", b"0", b"0"), Access(writes=frozenset({b"s"}))),
    ((b"XPENDING", b"s", b"g"), Access(reads=frozenset({b"s"}))),
    ((b"XSETID", b"s", b"1-1"), Access(writes=frozenset({b"s"}))),
    # XGROUP and XINFO ops name their sub-command (in any case) and its key after it.
    ((b"XGROUP", b"CREATE", b"s", b"g", b"$"), Access(writes=frozenset({b"s"}))),
    ((b"XGROUP", b"setid", b"s", b"g", b"0"), Access(writes=frozenset({b"s"}))),
    ((b"XGROUP", b"DESTROY", b"s", b"g"), Access(writes=frozenset({b"s"}))),
    ((b"XGROUP", b"CREATECONSUMER", b"s", b"g", b"c"), Access(writes=frozenset({b"s"}))),
    ((b"XGROUP", b"DELCONSUMER", b"s", b"g", b"c"), Access(writes=frozenset({b"s"}))),
    ((b"XGROUP", b"HELP"), Access()),
    ((b"XGROUP", b"NOSUCH", b"s"), Access()),
    ((b"XGROUP",), Access()),
    ((b"XINFO", b"STREAM", b"s", b"FULL"), Access(reads=frozenset({b"s"}))),
    ((b"XINFO", b"Groups", b"s"), Access(reads=frozenset({b"s"}))),
    ((b"XINFO", b"CONSUMERS", b"s", b"g"), Access(reads=frozenset({b"s"}))),
    ((b"XINFO", b"HELP"), Access()),
    ((b"MEMORY", b"USAGE", b"k", b"SAMPLES", b"5"), Access(reads=frozenset({b"k"}))),
    ((b"MEMORY", b"help"), Access()),
    ((b"OBJECT", b"ENCODING", b"k"), Access(reads=frozenset({b"k"}))),
    ((b"OBJECT", b"idletime", b"k"), Access(reads=frozenset({b"k"}))),
    ((b"OBJECT", b"REFCOUNT", b"k"), Access(reads=frozenset({b"k"}))),
    ((b"OBJECT", b"Freq", b"k"), Access(reads=frozenset({b"k"}))),
    ((b"OBJECT", b"HELP"), Access()),
    ((b"SUBSTR", b"k", b"0", b"-1"), Access(reads=frozenset({b"k"}))),
    ((b"GETBIT", b"k", b"7"), Access(reads=frozenset({b"k"}))),
    ((b"BITCOUNT", b"k", b"0", b"-1", b"BIT"), Access(reads=frozenset({b"k"}))),
    ((b"BITPOS", b"k", b"1", b"0"), Access(reads=frozenset({b"k"}))),
    (
        (b"BITOP", b"AND", b"d", b"a", b"b"),
        Access(reads=frozenset({b"a", b"b"}), writes=frozenset({b"d"})),
    ),
    ((b"BITOP", b"OR", b"a", b"a"), Access(writes=frozenset({b"a"}))),
    # BITFIELD is a write whatever its subcommands (Redis's RW spec); BITFIELD_RO reads.
    ((b"BITFIELD", b"k", b"GET", b"u8", b"0"), Access(writes=frozenset({b"k"}))),
    ((b"BITFIELD", b"k", b"SET", b"i8", b"0", b"1"), Access(writes=frozenset({b"k"}))),
    ((b"BITFIELD_RO", b"k", b"GET", b"u8", b"0"), Access(reads=frozenset({b"k"}))),
    ((b"PFADD", b"k", b"x", b"y"), Access(writes=frozenset({b"k"}))),
    # PFCOUNT writes its cached cardinality: Redis's RW spec, for one key or several.
    ((b"PFCOUNT", b"a", b"b"), Access(writes=frozenset({b"a", b"b"}))),
    (
        (b"PFMERGE", b"d", b"a", b"b"),
        Access(reads=frozenset({b"a", b"b"}), writes=frozenset({b"d"})),
    ),
    ((b"GEOADD", b"g", b"1", b"2", b"m"), Access(writes=frozenset({b"g"}))),
    ((b"GEOPOS", b"g", b"m", b"n"), Access(reads=frozenset({b"g"}))),
    ((b"GEODIST", b"g", b"m", b"n", b"km"), Access(reads=frozenset({b"g"}))),
    ((b"GEOHASH", b"g", b"m"), Access(reads=frozenset({b"g"}))),
    (
        (b"GEOSEARCH", b"g", b"FROMMEMBER", b"m", b"BYRADIUS", b"1", b"km"),
        Access(reads=frozenset({b"g"})),
    ),
    (  # the op keeps the client's spelling of the name (GEOSEARCH quotes it in errors)
        (b"geoSearchStore", b"d", b"g", b"FROMLONLAT", b"1", b"2", b"BYBOX", b"1", b"1", b"m"),
        Access(reads=frozenset({b"g"}), writes=frozenset({b"d"})),
    ),
    ((b"GEORADIUS_RO", b"g", b"1", b"2", b"3", b"km", b"ASC"), Access(reads=frozenset({b"g"}))),
    ((b"GEORADIUSBYMEMBER_RO", b"g", b"m", b"3", b"km"), Access(reads=frozenset({b"g"}))),
    # GEORADIUS writes a destination found after its first STORE and first STOREDIST
    # keyword (Redis's key specs); without either it reads only, though flagged write.
    ((b"GEORADIUS", b"g", b"1", b"2", b"3", b"km"), Access(reads=frozenset({b"g"}))),
    (
        (b"GEORADIUS", b"g", b"1", b"2", b"3", b"km", b"COUNT", b"2", b"STORE", b"d"),
        Access(reads=frozenset({b"g"}), writes=frozenset({b"d"})),
    ),
    (
        (b"GEORADIUS", b"g", b"1", b"2", b"3", b"km", b"storedist", b"d", b"STORE", b"e"),
        Access(reads=frozenset({b"g"}), writes=frozenset({b"d", b"e"})),
    ),
    (  # only the first STORE names a key: the handler refuses to write ``e`` (``geo``)
        (b"GEORADIUS", b"g", b"1", b"2", b"3", b"km", b"STORE", b"d", b"STORE", b"e"),
        Access(reads=frozenset({b"g"}), writes=frozenset({b"d"})),
    ),
    (  # a keyword as the last argument names nothing (the command is a syntax error)
        (b"GEORADIUS", b"g", b"1", b"2", b"3", b"km", b"STORE"),
        Access(reads=frozenset({b"g"})),
    ),
    (  # the search starts at the options: a unit or member spelled STORE is no keyword
        (b"GEORADIUSBYMEMBER", b"g", b"STORE", b"3", b"km", b"STOREDIST", b"STORE"),
        Access(reads=frozenset({b"g"}), writes=frozenset({b"STORE"})),
    ),
    ((b"COPY", b"a", b"b"), Access(reads=frozenset({b"a"}), writes=frozenset({b"b"}))),
    ((b"RENAME", b"a", b"b"), Access(writes=frozenset({b"a", b"b"}))),
    ((b"RENAMENX", b"a", b"b"), Access(writes=frozenset({b"a", b"b"}))),
    ((b"DUMP", b"k"), Access(reads=frozenset({b"k"}))),
    ((b"RESTORE", b"k", b"0", b"payload", b"REPLACE"), Access(writes=frozenset({b"k"}))),
    ((b"PEXPIREAT", b"k", b"5", b"NX"), Access(writes=frozenset({b"k"}))),
    ((b"EXPIRE", b"k", b"5"), Access(writes=frozenset({b"k"}))),
    ((b"PEXPIRE", b"k", b"5"), Access(writes=frozenset({b"k"}))),
    ((b"EXPIREAT", b"k", b"5"), Access(writes=frozenset({b"k"}))),
    ((b"PERSIST", b"k"), Access(writes=frozenset({b"k"}))),
    ((b"TTL", b"k"), Access(reads=frozenset({b"k"}))),
    ((b"PTTL", b"k"), Access(reads=frozenset({b"k"}))),
    ((b"EXPIRETIME", b"k"), Access(reads=frozenset({b"k"}))),
    ((b"PEXPIRETIME", b"k"), Access(reads=frozenset({b"k"}))),
    ((b"KEYS", b"*"), Access(global_read=True)),
    ((b"SCAN", b"0"), Access(global_read=True)),
    ((b"DBSIZE",), Access(global_read=True)),
    ((b"DEBUG", b"DIGEST"), Access(global_read=True)),
    ((b"DEBUG", b"DIGEST-VALUE", b"k"), Access(global_read=True)),  # one shape per command
    ((b"RANDOMKEY",), Access(global_read=True)),
    ((b"FLUSHDB",), Access(global_write=True)),
    ((b"FLUSHALL", b"ASYNC"), Access(global_write=True)),
    ((b"DELEXPIRED", b"a", b"b"), Access(writes=frozenset({b"a", b"b"}))),
    ((b"ERRORREPLY", b"ERR x"), Access()),
    ((b"WATCH", b"a"), Access(reads=frozenset({b"a"}))),
    ((b"WATCHREAD", b"a", b"b"), Access(reads=frozenset({b"a", b"b"}))),
    ((b"WATCHCHECK", b"a", b"d1", b"b", b"d2"), Access(reads=frozenset({b"a", b"b"}))),
    ((b"PING",), Access()),
    ((b"EVAL", b"return 1", b"2", b"a", b"b", b"x"), Access(writes=frozenset({b"a", b"b"}))),
    ((b"EVAL", b"return 1", b"0", b"x"), Access()),
    ((b"EVAL", b"return 1", b"-1", b"a"), Access(writes=frozenset({b"a"}))),
    ((b"EVAL_RO", b"return 1", b"1", b"a", b"x"), Access(reads=frozenset({b"a"}))),
    # FCALL names its keys as EVAL does; a call's function, looked up where it runs,
    # is ordered by the FUNCTION commands that change the libraries, which are
    # keyspace-wide writes (FUNCTION LIST, DUMP and STATS keyspace-wide reads).
    ((b"FCALL", b"f", b"2", b"a", b"b", b"x"), Access(writes=frozenset({b"a", b"b"}))),
    ((b"FCALL", b"f", b"0", b"x"), Access()),
    ((b"FCALL_RO", b"f", b"1", b"a", b"x"), Access(reads=frozenset({b"a"}))),
    ((b"FUNCTION", b"LOAD", b"#!lua name=x\n"), Access(global_write=True)),
    ((b"FUNCTION", b"load", b"REPLACE", b"#!lua name=x\n"), Access(global_write=True)),
    ((b"FUNCTION", b"DELETE", b"x"), Access(global_write=True)),
    ((b"FUNCTION", b"FLUSH"), Access(global_write=True)),
    ((b"FUNCTION", b"RESTORE", b"payload"), Access(global_write=True)),
    ((b"FUNCTION", b"LIST"), Access(global_read=True)),
    ((b"FUNCTION", b"DUMP"), Access(global_read=True)),
    ((b"FUNCTION", b"STATS"), Access(global_read=True)),
    ((b"FUNCTION", b"KILL"), Access()),
    ((b"FUNCTION", b"HELP"), Access()),
    # SORT: its key and its last STORE's destination; BY and GET patterns that can read
    # keys no argument names read the whole keyspace (a nosort BY, GET # and patterns
    # without * read nothing); a refused SORT stays local.
    ((b"SORT", b"k"), Access(reads=frozenset({b"k"}))),
    ((b"SORT", b"k", b"DESC", b"STORE", b"d"), Access(frozenset({b"k"}), frozenset({b"d"}))),
    ((b"SORT", b"k", b"STORE", b"d", b"STORE", b"k"), Access(writes=frozenset({b"k"}))),
    ((b"SORT", b"k", b"BY", b"w_*"), Access(reads=frozenset({b"k"}), global_read=True)),
    ((b"SORT", b"k", b"GET", b"o_*->f"), Access(reads=frozenset({b"k"}), global_read=True)),
    (
        (b"SORT", b"k", b"get", b"#", b"GET", b"*", b"STORE", b"d"),
        Access(frozenset({b"k"}), frozenset({b"d"}), global_read=True),
    ),
    ((b"SORT", b"k", b"BY", b"w_*", b"BY", b"nosort"), Access(reads=frozenset({b"k"}))),
    ((b"SORT", b"k", b"BY", b"x", b"GET", b"#", b"GET", b"c"), Access(reads=frozenset({b"k"}))),
    ((b"SORT", b"k", b"BY", b"w_*", b"FOO"), Access(reads=frozenset({b"k"}))),
    ((b"SORT_RO", b"k", b"BY", b"w_*"), Access(reads=frozenset({b"k"}), global_read=True)),
    ((b"SORT_RO", b"k", b"GET", b"#", b"LIMIT", b"0", b"1"), Access(reads=frozenset({b"k"}))),
    ((b"SORT_RO", b"k", b"STORE", b"d"), Access(reads=frozenset({b"k"}))),
]
EXPECTED += [  # a blocked command's later attempts (its twin) touch what it touches
    ((retry_name(op[0]), *op[1:]), access)
    for op, access in list(EXPECTED)
    if op[0] in SOURCE_TYPES
]


@pytest.mark.parametrize(("op", "expected"), EXPECTED, ids=lambda v: repr(v)[:30])
def test_access_names_the_keys_read_and_written(op: tuple[bytes, ...], expected: Access) -> None:
    assert access_of(op) == expected


def test_every_executable_command_has_an_expected_access() -> None:
    covered = {op[0].lower() for op, _ in EXPECTED}
    covered |= {b"|".join(op[:2]).lower() for op, _ in EXPECTED if len(op) > 1}
    specs = [*COMMANDS, *(sub for spec in COMMANDS for sub in spec.subcommands)]
    executable = {spec.name for spec in specs if spec.handler is not None}
    assert executable - covered == {b"setex", b"psetex"}  # proposed as SET


def test_a_transaction_accesses_the_union_of_its_ops_with_writes_winning() -> None:
    cmd = Command(
        origin=1,
        id=1,
        time_ms=0,
        ops=((b"GET", b"a"), (b"INCR", b"a"), (b"MGET", b"b", b"c"), (b"DEL", b"c")),
        multi=True,
    )
    assert command_access(cmd) == Access(reads=frozenset({b"b"}), writes=frozenset({b"a", b"c"}))


def _generated_commands(seed: int, count: int) -> list[Command]:
    """Commands as the runtime proposes them, plus raw ones (lower-case names, any arity)."""
    generator = Generator(seed=seed)
    rng = random.Random(seed)
    out: list[Command] = []
    while len(out) < count:
        mode, args = generator.request()
        if mode == "inject":
            continue
        op = prepare(args, 1_700_000_000_000)
        raw = tuple(args)
        if rng.random() < 0.2:
            op = (raw[0].lower(), *raw[1:])
        elif isinstance(op, Error):
            op = raw
        if rng.random() < 0.1:
            out.append(Command(1, len(out), 0, (op, (b"GET", generator.key())), multi=True))
        else:
            out.append(Command(1, len(out), 0, (op,)))
    return out


def test_a_batch_accesses_the_union_of_its_commands() -> None:
    """``batch_access`` (one pass, the core's per-instance call) equals the union of
    ``command_access`` over the batch, for batches of every size and any commands."""
    cmds = _generated_commands(seed=11, count=4000)
    rng = random.Random(11)
    start = 0
    batches = 0
    while start < len(cmds):
        size = rng.choice((1, 2, 3, 16, 400))
        batch = cmds[start : start + size]
        start += size
        batches += 1
        assert batch_access(batch) == union_of_accesses([command_access(c) for c in batch]), batch
    assert batches > 20


def test_keys_a_command_changes_are_always_among_its_writes() -> None:
    """Run generated commands; every key whose stored value changed must be in ``writes``
    (or be one it found expired and deleted, among the keys it names)."""
    generator = Generator(seed=7)
    rng = random.Random(7)
    requests: list[tuple[int, list[bytes]]] = []
    for step in range(3000):
        mode, args = generator.request()
        if mode != "inject":
            requests.append((1_700_000_000_000 + step * rng.randint(0, 5000), args))
    assert changed_keys_within_writes(MemoryStore(), requests) > 500


MALFORMED_COUNTS = [b"0", b"-1", b"abc", b"01", b"", b"1x", b"5", b"4294967297", b"9" * 30]
"""Counts every keynum command refuses: not an integer, below 1, more keys than follow."""


@pytest.mark.parametrize("count", MALFORMED_COUNTS)
def test_a_malformed_key_count_names_every_argument_after_it(count: bytes) -> None:
    """The command will be refused, but interference is decided before that and must be
    a superset of anything the op could name: every argument from the first key on (see
    ``access``'s docstring). The destination of a STORE form is still written."""
    tail = (b"a", b"b", b"WEIGHTS", b"1")
    everything = frozenset(tail)
    assert access_of((b"ZUNION", count, *tail)) == Access(reads=everything)
    assert access_of((b"zinterstore", b"d", count, *tail)) == Access(
        reads=everything, writes=frozenset({b"d"})
    )
    assert access_of((b"ZINTERCARD", count, *tail)) == Access(reads=everything)
    assert access_of((b"SINTERCARD", count, *tail)) == Access(reads=everything)
    assert access_of((b"ZMPOP", count, b"a", b"MIN")) == Access(writes=frozenset({b"a", b"MIN"}))
    assert access_of((b"LMPOP", count, b"a", b"b", b"LEFT")) == Access(
        writes=frozenset({b"a", b"b", b"LEFT"})
    )
    for name in (b"ZUNION", b"ZUNIONSTORE", b"SINTERCARD", b"ZMPOP", b"LMPOP"):
        refused = prepare([name, *([b"d"] if name.endswith(b"STORE") else []), count, *tail], 0)
        assert isinstance(refused, Error), (name, count)
    for name, side in ((b"BZMPOP", b"MIN"), (b"BLMPOP", b"LEFT")):  # the timeout comes first
        assert access_of((name, b"0", count, b"a", side)) == Access(writes=frozenset({b"a", side}))
        assert isinstance(prepare([name, b"0", count, b"a", side], 0), Error), (name, count)


@pytest.mark.parametrize(
    "op",
    [(b"ZUNION",), (b"ZUNIONSTORE", b"d"), (b"ZMPOP", b"1"), (b"lmpop",), (b"SINTERCARD", b"2")],
    ids=repr,
)
def test_a_key_count_that_is_missing_or_names_nothing_does_not_crash(
    op: tuple[bytes, ...],
) -> None:
    """Ops that never passed the arity check (a raw op from a peer) still get an access."""
    expected = Access(writes=frozenset({b"d"})) if op[0] == b"ZUNIONSTORE" else Access()
    assert access_of(op) == expected


def test_a_well_formed_key_count_names_exactly_the_counted_keys() -> None:
    """Options after the keys are not keys: ``WEIGHTS`` and ``MIN`` interfere with nothing."""
    access = access_of((b"ZUNIONSTORE", b"d", b"1", b"a", b"WEIGHTS", b"2", b"AGGREGATE", b"MIN"))
    assert access == Access(reads=frozenset({b"a"}), writes=frozenset({b"d"}))
    cmds = [Command(1, 1, 0, ((b"ZMPOP", b"1", b"a", b"MIN"), (b"GET", b"MIN")), multi=True)]
    assert batch_access(cmds) == Access(reads=frozenset({b"MIN"}), writes=frozenset({b"a"}))

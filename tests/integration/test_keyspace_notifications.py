"""Keyspace notifications compared with redis-server.

The same commands go to one epaxosdb replica and to a real Redis, each with
``notify-keyspace-events`` set (``KEgx``, ``KEA``, a few type classes) and a
client subscribed to every keyspace and keyevent channel: the two must
deliver the same messages in the same order (a PUBLISH to a channel of the
test's own marks the end). The class epaxosdb does not deliver (``m``) is
refused by CONFIG SET, not accepted silently.
"""

from __future__ import annotations

import contextlib
import shlex
import threading
import time
from collections.abc import Callable

import pytest
import redis

from tests.integration.cluster import ProcessCluster
from tests.redis_server import RedisServer
from tests.redis_server import redis_server as redis_server

END = "end-of-commands"


def _commands(client: redis.Redis) -> None:
    """Commands that cause generic, expired and new-key events, and some that cause none."""
    run = client.execute_command
    for args in (
        ("SET", "a", "1"),
        ("DEL", "a", "missing", "a"),
        ("SET", "a", "1", "EX", "100"),
        ("SETEX", "b", "100", "v"),
        ("EXPIRE", "a", "200"),
        ("EXPIRE", "a", "300", "NX"),
        ("PEXPIREAT", "missing", "1"),
        ("PERSIST", "b"),
        ("PERSIST", "b"),
        ("EXPIRE", "a", "0"),
        ("RENAME", "b", "c"),
        ("RENAMENX", "c", "c"),
        ("COPY", "c", "d"),
        ("GETDEL", "d"),
        ("GETEX", "c", "EX", "100"),
        ("GETEX", "c", "PERSIST"),
        ("GETEX", "c", "PERSIST"),
        ("SET", "f", "v", "NX", "EX", "10"),
        ("SET", "f", "v", "NX", "EX", "10"),
        ("SET", "f", "w", "XX", "PX", "10000"),
        ("SET", "f", "x", "KEEPTTL"),
        ("RPUSH", "l", "x", "y"),
        ("LPOP", "l", "2"),
        ("SADD", "s", "m"),
        ("SPOP", "s"),
        ("HSET", "h", "f", "v"),
        ("HDEL", "h", "f"),
        ("ZADD", "z", "1", "m"),
        ("ZPOPMIN", "z"),
        ("SADD", "t", "m"),
        ("SINTERSTORE", "t", "nothing", "t"),
        ("SET", "e", "1", "PX", "30"),
    ):
        run(*args)
    time.sleep(0.3)
    run("EXISTS", "e")  # expired by now (by this, or by the expiry sweep before it)
    dumped = client.dump("c")
    run("RESTORE", "r", "0", dumped)
    run("RESTORE", "r", "0", dumped, "REPLACE")
    pipe = client.pipeline(transaction=True)
    pipe.delete("r")
    pipe.execute_command("SET", "m", "1", "EX", "50")
    pipe.execute_command("EXPIRE", "m", "-1")
    pipe.execute()
    run("SET", "x", "1", "PX", "30")
    time.sleep(0.3)
    run("SET", "x", "2")  # overwrites an expired key: Redis first says it expired
    client.publish(END, "")


class _Listener:
    """A client subscribed to every keyspace and keyevent channel and to ``END``."""

    def __init__(self, client: redis.Redis) -> None:
        self._pubsub = client.pubsub()
        self._pubsub.psubscribe("__key*__:*")
        self._pubsub.subscribe(END)
        for _ in range(2):
            assert self._pubsub.get_message(timeout=5.0) is not None  # the subscriptions

    def until_end(self) -> list[tuple[bytes, bytes]]:
        """``(channel, message)`` of every event delivered before ``END``."""
        messages: list[tuple[bytes, bytes]] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            message = self._pubsub.get_message(timeout=1.0)
            if message is None:
                continue
            if message["channel"] == END.encode():
                self._pubsub.close()
                return messages
            messages.append((message["channel"], message["data"]))
        pytest.fail("the end-of-commands message never came")


def _events(client: redis.Redis) -> list[tuple[bytes, bytes]]:
    assert client.config_set("notify-keyspace-events", "KEgxn")
    assert client.config_get("notify-keyspace-events") == {"notify-keyspace-events": "gxnKE"}
    listener = _Listener(client)
    _commands(client)
    messages = listener.until_end()
    client.config_set("notify-keyspace-events", "")
    return messages


def test_generic_expired_and_new_key_events_are_redis_s(
    cluster1: ProcessCluster, redis_server: RedisServer
) -> None:
    ours = _events(cluster1.client(1, socket_timeout=30))
    theirs = _events(redis.Redis(port=redis_server.port, socket_timeout=30))
    assert ours == theirs
    assert (b"__keyevent@0__:expired", b"e") in ours
    assert (b"__keyevent@0__:rename_from", b"b") in ours


def test_a_character_of_no_class_is_refused(cluster1: ProcessCluster) -> None:
    client = cluster1.client(1)
    with pytest.raises(redis.ResponseError, match="Invalid event class character"):
        client.config_set("notify-keyspace-events", "KEq")
    assert client.config_get("notify-keyspace-events") == {"notify-keyspace-events": ""}


@pytest.mark.parametrize(
    ("flags", "shown"),
    [
        ("KEA", "AKE"), ("KEg$lshzxetd", "AKE"), ("E$lz", "$lzE"), ("Kted", "etdK"), ("A", "A"),
        ("KEn", "nKE"), ("AnE", "AE"), ("gnK", "gnK"), ("KEm", "KEm"), ("mA", "Am"),
        ("Exm", "xEm"),
    ],
)
def test_classes_read_back_as_redis_writes_them(
    cluster1: ProcessCluster, redis_server: RedisServer, flags: str, shown: str
) -> None:
    for client in (cluster1.client(1), redis.Redis(port=redis_server.port)):
        assert client.config_set("notify-keyspace-events", flags)
        assert client.config_get("notify-keyspace-events") == {"notify-keyspace-events": shown}
        client.config_set("notify-keyspace-events", "")


_EVERY_CLASS = """
    SET a 1 | SET a 2 EX 100 | SET a 3 NX | SET a 3 XX GET | SET a 4 NX GET | SETNX a 1
    SETNX n1 1 | SETEX b 100 v | PSETEX b 100 v | MSET a 1 b 2 a 3 | MSETNX a 1 z9 1
    MSETNX q1 1 q2 2 | GETSET a 5 | GETDEL q1 | GETEX a EX 10 | GETEX a PERSIST
    SET c 1 KEEPTTL | GETEX c PXAT 1 | SETRANGE a 0 "" | SETRANGE newk 0 "" | SETRANGE a 1 xy
    SETRANGE nr 3 x | INCR i | DECRBY i 3 | INCRBYFLOAT i 1.5 | INCRBYFLOAT nf abc
    APPEND a zz | APPEND newap x | HSET a f v | SETBIT bits 3 1 | SETBIT bits 3 1
    SETBIT bits 100 0 | SETBIT sb 0 0 | BITFIELD bf GET u8 0 | BITFIELD bf SET u8 0 1
    BITFIELD bf INCRBY u2 0 5 OVERFLOW FAIL INCRBY u2 0 5 | BITFIELD bf2 OVERFLOW FAIL INCRBY u2 0 9
    BITOP AND bo bits bf | BITOP AND bo nothing | PFADD hll a b | PFADD hll a | PFADD hnew
    PFMERGE hll2 hll | PFMERGE hll3 | PFCOUNT hll
    RPUSH l a b c | LPUSH l z | LPUSHX nol a | RPUSHX l q | LINSERT l BEFORE a x
    LINSERT l BEFORE nope x | LINSERT nol BEFORE a b | LSET l 0 y | LSET nol 0 y | LREM l 1 nope
    LREM l 1 y | LTRIM l 0 100 | LTRIM nolist 0 1 | LTRIM l 1 2 | LPOP l | RPOP l 5 | LPOP l
    RPUSH l a b
    LMOVE l l2 LEFT RIGHT | RPOPLPUSH l l2 | LMOVE l2 l2 LEFT LEFT | LMPOP 2 nol l2 LEFT COUNT 5
    BLPOP l2 nol 0.01 | RPUSH l3 a | BRPOP l3 0.01 | RPUSH l4 a | BLMOVE l4 l5 LEFT LEFT 0.01
    BRPOPLPUSH l5 l5 0.01 | BLMPOP 0.01 1 l5 RIGHT | RPUSH l a b a c | LREM l 0 a | LTRIM l 5 6
    HSET h f v | HSET h f v | HMSET h g v | HSETNX h f x | HSETNX h n x | HINCRBY h c 1
    HINCRBYFLOAT h c 1.5 | HDEL h nope | HDEL h f g n c
    SADD s a b | SADD s a | SREM s nope | SREM s a | SPOP s | SADD s a b c | SPOP s 0 | SPOP s 2
    SPOP s 5 | SPOP nos 2 | SADD s a b | SMOVE s s2 a | SMOVE s s2 b | SMOVE s2 s2 a
    SMOVE nos s2 a | SADD s1 a b | SADD s2 b | SMOVE s1 s2 b | SADD s3 x | SINTERSTORE s3 s2 s2
    SINTERSTORE s3 nothing | SUNIONSTORE s4 s2 | SDIFFSTORE s4 s2 s2
    ZADD z 1 a 2 b | ZADD z 1 a | ZADD z 3 a | ZADD z CH 4 a | ZADD z NX 5 a | ZADD z XX 6 a
    ZADD z INCR 1 a | ZADD z INCR 0 a | ZADD z NX INCR 1 a | ZADD z GT 1 a | ZADD z 5 INCR
    ZINCRBY z 2 b | ZINCRBY z 0 b | ZINCRBY znew 1 m | ZREM z nope | ZREM z b
    ZADD z 1 a 2 b 3 c 4 d 5 e | ZREMRANGEBYSCORE z 100 200 | ZREMRANGEBYSCORE z 1 1
    ZREMRANGEBYRANK z 0 0 | ZREMRANGEBYLEX z [c [c | ZPOPMIN z | ZPOPMAX z 5 | ZPOPMIN z
    ZADD z 1 a 2 b | ZMPOP 1 z MIN | BZPOPMIN z 0.01 | BZPOPMAX z 0.01 | ZADD z 1 a 2 b
    BZMPOP 0.01 1 z MAX COUNT 9 | ZADD z 1 a 2 b | ZUNIONSTORE z2 1 z | ZINTERSTORE z2 2 z nope
    ZADD z2 1 a | ZDIFFSTORE z2 1 z | ZRANGESTORE z3 z 0 -1 | ZRANGESTORE z3 z 5 6
    ZREMRANGEBYRANK z 0 -1
    GEOADD g 13.361389 38.115556 Palermo | GEOADD g 13.361389 38.115556 Palermo
    GEOADD g CH 15.087269 37.502669 Palermo | GEOADD g XX 15.087269 37.502669 Palermo
    GEORADIUS g 15 37 200 km STORE g2 | GEORADIUSBYMEMBER g Palermo 10 km STOREDIST g4
    GEOSEARCHSTORE g3 g FROMLONLAT 15 37 BYRADIUS 200 km
    GEOSEARCHSTORE g3 g FROMLONLAT 100 10 BYRADIUS 1 km
    XADD x 1-1 f v | XADD x MAXLEN 1 2-1 f v | XADD x2 NOMKSTREAM * f v | XTRIM x MAXLEN 10
    XTRIM x MAXLEN 0 | XADD x 3-1 f v | XDEL x 9-9 | XDEL x 3-1 | XSETID x 5-5
    XGROUP CREATE x g1 $ | XGROUP CREATE x2 g1 $ MKSTREAM | XGROUP CREATECONSUMER x g1 c1
    XGROUP CREATECONSUMER x g1 c1 | XGROUP SETID x g1 0 | XADD x 6-1 f v | XADD y 1-1 f v
    XGROUP CREATE y g1 0 | XREADGROUP GROUP g1 c2 COUNT 1 STREAMS x y > >
    XREADGROUP GROUP g1 c2 STREAMS x y > > | XCLAIM x g1 c3 0 6-1 | XAUTOCLAIM x g1 c4 0 0
    XACK x g1 6-1 | XGROUP DELCONSUMER x g1 c1 | XGROUP DELCONSUMER x g1 nobody
    XGROUP DESTROY x g1 | XGROUP DESTROY x g1
    RPUSH sl 3 1 2 | SORT sl STORE sl2 | SORT nol STORE sl2 | SET cp 1 | COPY cp cp2
    RENAME cp cp3 | DEL cp2 cp3 nope | EXPIRE a 100 | PERSIST a | EXPIRE a 0
    EVAL "redis.call('rpush', KEYS[1], 'a') redis.call('lpop', KEYS[1]) return 1" 1 el
    EVAL "redis.call('set', KEYS[1], 'v') redis.call('expire', KEYS[1], 9) return 1" 1 es
    EVAL_RO "return redis.call('get', KEYS[1])" 1 es
    FCALL events 2 ef efl | FCALL_RO reads 1 ef | FCALL_RO reads 1 nothere | FLUSHALL
"""
"""Every command that causes an event of some class, and ways of it causing none.
(Leaves out what the README lists as different: XADD and XTRIM with ``~`` trim
exactly; a SET whose time to live has already passed is heard ``expired`` at once.)"""


EVENTS_LIBRARY = """#!lua name=events
redis.register_function('events', function(keys)
  redis.call('rpush', keys[2], 'a')
  redis.call('lpop', keys[2])
  redis.call('set', keys[1], 'v')
  return redis.call('expire', keys[1], 9)
end)
redis.register_function{function_name='reads', flags={'no-writes'},
  callback=function(keys) return redis.call('get', keys[1]) end}
"""
"""Functions whose calls cause events, and a read (``keymiss`` for a key not there)."""


def _every_class(client: redis.Redis) -> list[object]:
    """Run ``_EVERY_CLASS`` and a MULTI; their replies (errors as their text)."""
    replies: list[object] = []
    for line in _EVERY_CLASS.split("\n"):
        for command in filter(None, (part.strip() for part in line.split("|"))):
            try:
                reply = client.execute_command(*shlex.split(command))
            except redis.ResponseError as error:  # a wrong type, a bad index: no event
                reply = str(error)
            random_members = command.startswith("SPOP") and isinstance(reply, list)
            replies.append(len(reply) if random_members else reply)
    pipe = client.pipeline(transaction=True)
    pipe.rpush("m", "a").lpop("m").sadd("ms", "x").execute_command("EXPIRE", "ms", "-1")
    replies.append(pipe.execute())
    client.publish(END, "")
    return replies


def _class_events(
    client: redis.Redis, flags: str
) -> tuple[list[tuple[bytes, bytes]], list[object]]:
    client.flushall()
    client.function_load(EVENTS_LIBRARY, replace=True)  # loading one causes no event
    assert client.config_set("notify-keyspace-events", flags)
    listener = _Listener(client)
    replies = _every_class(client)
    messages = listener.until_end()
    client.config_set("notify-keyspace-events", "")
    return messages, replies


@pytest.mark.parametrize("flags", ["KEA", "E$lz", "Kshtg", "KEn", "KEAn", "KEAm"])
def test_every_class_of_event_is_redis_s(
    cluster1: ProcessCluster, redis_server: RedisServer, flags: str
) -> None:
    ours, our_replies = _class_events(cluster1.client(1, socket_timeout=30), flags)
    server = redis.Redis(port=redis_server.port, socket_timeout=30)
    theirs, their_replies = _class_events(server, flags)
    assert our_replies == their_replies
    assert ours == theirs
    assert len(ours) > 50  # the commands do cause events of these classes


_READS = """
    SET have 1 | HSET h f v | RPUSH l a | GET nokey | GET have | MGET a have b
    EXISTS x have y x | TYPE nokey | TYPE have | TTL nokey | PTTL have | HGET nokey f
    HGET h nofield | HMGET nokey f g | LRANGE nol 0 -1 | LRANGE l 5 6 | OBJECT ENCODING nokey
    STRLEN nokey | GETDEL nokey | SET k2 v GET | SUNIONSTORE d s1 s2 | COPY nokey dst
    XREAD STREAMS nostream 0 | PFCOUNT nohll | DUMP nokey | SISMEMBER nos m | ZSCORE noz m
    GETRANGE nokey 0 5 | BITCOUNT nokey | LINDEX nol 0 | SMEMBERS nos | HGETALL nokey
    EVAL_RO "return redis.call('get', KEYS[1])" 1 scriptmiss
    EVAL "redis.call('get', KEYS[1]) return redis.call('set', KEYS[1], 'v')" 1 sm2
    SET ex 1 PX 1 | DEBUG SLEEP 0 | GET ex
"""
"""Reads that find their keys and reads that do not (``keymiss``), a write that reads
(``SET ... GET``), reads in scripts, and an expired key read (``expired`` first)."""


def _miss_events(client: redis.Redis, flags: str) -> list[tuple[bytes, bytes]]:
    client.flushall()
    assert client.config_set("notify-keyspace-events", flags)
    listener = _Listener(client)
    for line in _READS.split("\n"):
        for command in filter(None, (part.strip() for part in line.split("|"))):
            if command.startswith("DEBUG"):
                time.sleep(0.01)  # until ex has expired on both (PX 1)
                continue
            with contextlib.suppress(redis.ResponseError):
                client.execute_command(*shlex.split(command))
    pipe = client.pipeline(transaction=True)
    pipe.get("in-multi").set("in-multi", "v").get("in-multi")
    pipe.execute()
    client.publish(END, "")
    messages = listener.until_end()
    client.config_set("notify-keyspace-events", "")
    return messages


@pytest.mark.parametrize("flags", ["KEm", "Em", "KExm"])
def test_key_misses_are_heard_as_redis_says_them(
    cluster1: ProcessCluster, redis_server: RedisServer, flags: str
) -> None:
    ours = _miss_events(cluster1.client(1, socket_timeout=30), flags)
    theirs = _miss_events(redis.Redis(port=redis_server.port, socket_timeout=30), flags)
    assert ours == theirs
    assert (b"__keyevent@0__:keymiss", b"scriptmiss") in ours
    assert (b"__keyevent@0__:keymiss", b"have") not in ours


def _served_when_pushed(client: redis.Redis, waiter: redis.Redis) -> list[tuple[bytes, bytes]]:
    """A BLPOP waiting on an empty list, served by an RPUSH from another client."""
    client.flushall()
    assert client.config_set("notify-keyspace-events", "KEA")
    listener = _Listener(client)
    popped: list[object] = []
    thread = threading.Thread(target=lambda: popped.append(waiter.blpop(["q"], timeout=20)))
    thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and client.execute_command("CLIENT", "LIST").count(
        b"cmd=blpop"
    ) < 1:
        time.sleep(0.02)
    client.rpush("q", "x")
    thread.join(timeout=20)
    client.publish(END, "")
    messages = listener.until_end()
    client.config_set("notify-keyspace-events", "")
    assert popped == [(b"q", b"x")]
    return messages


def test_a_blocked_pop_is_heard_when_it_is_served(
    cluster1: ProcessCluster, redis_server: RedisServer
) -> None:
    ours = _served_when_pushed(cluster1.client(1), cluster1.client(1, socket_timeout=30))
    server = redis_server.port
    theirs = _served_when_pushed(redis.Redis(port=server), redis.Redis(port=server))
    assert ours == theirs
    assert [channel for channel, _ in ours if channel.startswith(b"__keyevent")] == [
        b"__keyevent@0__:rpush", b"__keyevent@0__:lpop", b"__keyevent@0__:del"
    ]


def test_every_replica_delivers_the_same_events_in_the_same_order(
    make_cluster: Callable[[int], ProcessCluster],
) -> None:
    """Events are caused where commands execute: on every replica, in the one order of
    execution, whichever replica the commands went through."""
    cluster = make_cluster(3)
    listeners = []
    for i in (1, 3):
        client = cluster.client(i, socket_timeout=30)
        assert client.config_set("notify-keyspace-events", "Egx")
        listeners.append(_Listener(client))
    writer = cluster.client(2, socket_timeout=30)
    for n in range(20):
        # Every odd key gets a time to live: long enough to be deleted, not expired, by
        # the next round however slow the machine, except the last one, which expires.
        writer.set(f"k{n}", "v", px=(50 if n == 19 else 10_000) if n % 2 else None)
        writer.delete(f"k{n - 1}")
    time.sleep(0.2)
    # The last key has expired: a read through replica 2 finds it so on every replica
    # (its handler runs there only; the others settle what it names).
    assert writer.exists("k19") == 0
    writer.publish(END, "")
    seen = [listener.until_end() for listener in listeners]
    assert seen[0] == seen[1]
    events = [channel.rsplit(b":", 1)[1] for channel, _ in seen[0]]
    assert events.count(b"del") == 19 and events.count(b"expire") == 10
    assert seen[0][-1] == (b"__keyevent@0__:expired", b"k19")


def test_a_key_nobody_reads_is_heard_expired_when_the_sweep_deletes_it(
    cluster1: ProcessCluster,
) -> None:
    client = cluster1.client(1, socket_timeout=30)
    assert client.config_set("notify-keyspace-events", "Ex")
    pubsub = client.pubsub()
    pubsub.subscribe("__keyevent@0__:expired")
    assert pubsub.get_message(timeout=5.0) is not None
    client.set("unread", "v", px=100)
    deadline = time.monotonic() + 10
    message = None
    while message is None and time.monotonic() < deadline:
        message = pubsub.get_message(timeout=1.0)
    pubsub.close()
    client.config_set("notify-keyspace-events", "")
    assert message is not None and message["data"] == b"unread"

"""What ``execute`` counts for INFO: expired keys, and keyspace hits and misses.

The pure layer keeps no counter of its own: these tests hand ``execute`` a
``Tally`` and check what it adds up to. What Redis itself counts for the same
commands is checked against redis-server in
``tests/integration/test_info_stats.py``.
"""

from __future__ import annotations

import pytest

from epaxosdb.commands import execute, expired_sweep_op, is_read_only, prepare, settle_expiry_of
from epaxosdb.commands.hashes import encode_hash
from epaxosdb.commands.notifications import Notices
from epaxosdb.commands.tally import LOOKUPS, Tally, judge_of
from protocol.messages import Command
from protocol.replies import Error, Reply
from storage.interface import Value, ValueType
from storage.memory import MemoryStore

T0 = 1_700_000_000_000
LATER = T0 + 10_000
"""When every key stored with ``EXPIRING`` is expired."""
EXPIRING = T0 + 5_000


def put(store: MemoryStore, key: bytes, value: Value) -> None:
    store.write(lambda txn: txn.put(key, value))


def string(payload: bytes, expire_ms: int = 0) -> Value:
    return Value(ValueType.STRING, expire_ms, payload)


def command(time_ms: int, *requests: list[bytes], cmd_id: int = 1) -> Command:
    ops = []
    for args in requests:
        op = prepare(args, time_ms)
        assert not isinstance(op, Error), (args, op)
        ops.append(op)
    return Command(origin=1, id=cmd_id, time_ms=time_ms, ops=tuple(ops), multi=len(ops) > 1)


def run(
    store: MemoryStore, cmd: Command, tally: Tally, *, mine: bool = True
) -> Reply:
    """Execute ``cmd`` as a replica does: its proposer (``mine``) counts lookups too."""
    reads = tally if mine else None
    return store.write(lambda txn: execute(txn, cmd, None, None, tally, reads))


def counted(store: MemoryStore, time_ms: int, *requests: list[bytes]) -> Tally:
    tally = Tally()
    run(store, command(time_ms, *requests), tally)
    return tally


def keys(*names: str) -> list[bytes]:
    return [name.encode() for name in names]


@pytest.fixture
def store() -> MemoryStore:
    """A string ``s``, a hash ``h`` (field ``f``), and ``e1``..``e4`` expiring at
    ``EXPIRING``."""
    memory = MemoryStore()
    put(memory, b"s", string(b"v"))
    put(memory, b"h", Value(ValueType.HASH, 0, encode_hash({b"f": b"v"})))
    for index in range(1, 5):
        put(memory, b"e%d" % index, string(b"x", EXPIRING))
    return memory


@pytest.mark.parametrize(
    ("request_", "hits", "misses"),
    [
        (keys("GET", "s"), 1, 0),
        (keys("GET", "nope"), 0, 1),
        (keys("GET", "h"), 1, 0),  # WRONGTYPE: Redis found the key
        (keys("MGET", "s", "nope", "s"), 2, 1),
        (keys("EXISTS", "s", "nope", "s"), 2, 1),
        (keys("TOUCH", "s", "nope"), 1, 1),
        (keys("TYPE", "s"), 1, 0),
        (keys("TYPE", "nope"), 0, 1),
        (keys("TTL", "s"), 1, 0),
        (keys("PTTL", "nope"), 0, 1),
        (keys("HGET", "h", "f"), 1, 0),
        (keys("HGET", "h", "other"), 1, 0),  # the key is there, the field is not
        (keys("HGET", "nope", "f"), 0, 1),
        (keys("HMGET", "h", "f", "g"), 1, 0),
        (keys("LRANGE", "nope", "0", "-1"), 0, 1),
        (keys("SMEMBERS", "nope"), 0, 1),
        (keys("ZSCORE", "nope", "m"), 0, 1),
        (keys("STRLEN", "s"), 1, 0),
        (keys("SINTER", "nope", "h"), 1, 1),
        (keys("LCS", "s", "nope"), 1, 1),
        (keys("OBJECT", "ENCODING", "s"), 1, 0),
        (keys("XREAD", "STREAMS", "nope", "0"), 0, 2),  # Redis looks each stream up twice
        (keys("MEMORY", "USAGE", "s"), 0, 0),  # Redis does not count it
        (keys("GETDEL", "nope"), 0, 1),
        (keys("GETDEL", "s"), 1, 0),
        (keys("GETEX", "s", "PERSIST"), 1, 0),
        (keys("GETSET", "nope", "v"), 0, 1),
        (keys("SET", "s", "w", "GET"), 1, 0),
        (keys("SET", "nope", "w", "NX", "GET"), 0, 1),
        (keys("COPY", "s", "d"), 1, 0),
        (keys("PFMERGE", "d", "nope"), 0, 2),  # Redis reads the destination too
        (keys("SET", "s", "w"), 0, 0),
        (keys("SET", "s", "w", "PX", "100"), 0, 0),
        (keys("INCR", "n"), 0, 0),
        (keys("DEL", "s"), 0, 0),
        (keys("RENAME", "s", "t"), 0, 0),
        (keys("HSET", "h", "f", "w"), 0, 0),
        (keys("KEYS", "*"), 0, 0),
        (keys("DBSIZE"), 0, 0),
    ],
    ids=lambda value: b" ".join(value).decode() if isinstance(value, list) else None,
)
def test_lookups_count_as_redis_counts_them(
    store: MemoryStore, request_: list[bytes], hits: int, misses: int
) -> None:
    tally = counted(store, T0, request_)
    assert (tally.hits, tally.misses) == (hits, misses)
    assert tally.expired == 0


def test_sunionstore_counts_its_sources() -> None:
    memory = MemoryStore()
    run(memory, command(T0, keys("SADD", "a", "m")), Tally())
    tally = counted(memory, T0, keys("SUNIONSTORE", "d", "a", "nope", "a"))
    assert (tally.hits, tally.misses) == (2, 1)


def test_only_the_proposer_counts_lookups(store: MemoryStore) -> None:
    tally = Tally()
    run(store, command(T0, keys("GET", "s")), tally, mine=False)
    run(store, command(T0, keys("HGET", "nope", "f")), tally, mine=False)
    assert tally == Tally()


def test_a_transaction_counts_each_op_against_the_state_before_it(store: MemoryStore) -> None:
    tally = counted(
        store,
        T0,
        keys("GET", "s"),
        keys("DEL", "s"),
        keys("GET", "s"),
        keys("HGET", "h", "f"),
        keys("SET", "t", "v"),
        keys("TYPE", "t"),
    )
    assert (tally.hits, tally.misses) == (3, 1)


def test_a_script_counts_the_commands_it_calls(store: MemoryStore) -> None:
    script = b"redis.call('GET', KEYS[1]); redis.call('HGET', KEYS[2], 'f'); return 1"
    tally = counted(store, T0, [b"EVAL", script, b"2", b"s", b"nope"])
    assert (tally.hits, tally.misses) == (1, 1)
    tally = counted(store, T0, [b"EVAL_RO", b"return redis.call('EXISTS', KEYS[1])", b"1", b"s"])
    assert (tally.hits, tally.misses) == (1, 0)


@pytest.mark.parametrize(
    ("request_", "expired"),
    [
        (keys("GET", "e1"), 1),
        (keys("EXISTS", "e1", "e2", "s"), 2),
        (keys("HGET", "e1", "f"), 1),
        (keys("SET", "e1", "v"), 1),  # blind: overwritten while expired
        (keys("SET", "e1", "v", "PX", "100000"), 1),
        (keys("SETEX", "e1", "100", "v"), 1),
        (keys("MSET", "e1", "a", "e2", "b", "e1", "c"), 2),  # e1 found expired once
        (keys("DEL", "e1", "s", "e1"), 1),
        (keys("UNLINK", "e1", "e2"), 2),
        (keys("INCR", "e1"), 1),
        (keys("RENAME", "s", "e1"), 1),
        (keys("EXPIRE", "e1", "100"), 1),
        (keys("KEYS", "*"), 4),  # settles the whole keyspace
        (keys("FLUSHALL"), 0),  # drops them with the rest, as Redis does, uncounted
        (keys("GET", "s"), 0),
    ],
    ids=lambda value: b" ".join(value).decode() if isinstance(value, list) else None,
)
def test_expired_keys_count_each_key_removed_because_it_expired(
    store: MemoryStore, request_: list[bytes], expired: int
) -> None:
    tally = counted(store, LATER, request_)
    assert tally.expired == expired


def test_expired_keys_are_counted_at_every_replica(store: MemoryStore) -> None:
    """A read another replica proposed is only settled here, and counts the same."""
    cmd = command(LATER, keys("MGET", "e1", "e2", "s"))
    assert is_read_only(cmd)
    tally = Tally()
    store.write(lambda txn: settle_expiry_of(txn, cmd, None, tally))
    assert tally == Tally(expired=2)


def test_a_transaction_counts_a_key_once_even_when_ops_overwrite_it_twice(
    store: MemoryStore,
) -> None:
    tally = counted(store, LATER, keys("SET", "e1", "a"), keys("SET", "e1", "b"), keys("GET", "e1"))
    assert tally.expired == 1
    assert (tally.hits, tally.misses) == (1, 0)


def test_the_sweep_counts_what_it_deletes(store: MemoryStore) -> None:
    op = store.read(lambda kv: expired_sweep_op(kv, LATER, 100))
    assert op is not None
    tally = Tally()
    reply = run(store, Command(origin=1, id=9, time_ms=LATER, ops=(op,)), tally, mine=False)
    assert reply == 4
    assert tally.expired == 4
    assert store.read(lambda kv: kv.count()) == 2


def test_nothing_is_counted_expired_before_its_time(store: MemoryStore) -> None:
    requests = (keys("GET", "e1"), keys("SET", "e2", "v"), keys("DEL", "e3"), keys("KEYS", "*"))
    for request in requests:
        assert counted(store, T0, request).expired == 0


def test_overwriting_an_expired_key_is_heard_once_as_expired(store: MemoryStore) -> None:
    """The blind writes' expired keys are now removed before the op, as Redis's lookup
    removes them: keyspace notifications say ``expired`` once per key."""
    notices = Notices(flags=0xFFFF)
    cmd = command(LATER, keys("MSET", "e1", "a", "e1", "b"))
    store.write(lambda txn: execute(txn, cmd, None, notices, Tally()))
    assert [event for _, event, key in notices.events if key == b"e1"].count(b"expired") == 1


def test_every_rule_is_looked_up_by_the_name_prepare_gives() -> None:
    assert all(name == name.upper() for name in LOOKUPS)
    assert b"SET" not in LOOKUPS  # a plain SET must find nothing to do (``judge_of``)
    assert judge_of(MemoryStore().read(lambda kv: kv), (b"SET", b"k", b"v"), T0, Tally()) is None


def test_tally_adds_and_resets() -> None:
    total = Tally(expired=1, hits=2, misses=3)
    total.add(Tally(expired=10, hits=20, misses=30))
    assert total == Tally(expired=11, hits=22, misses=33)
    total.reset()
    assert total == Tally()

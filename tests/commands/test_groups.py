"""Consumer groups against the model alone: what a differential test cannot compare.

Every time a group records comes from the executing command's timestamp, so two replicas
that execute the same commands hold byte-identical streams — delivery counts and times
included — and idle times are exact differences of timestamps; the stored form holds
groups, consumers and pending entries, round-trips and refuses damage; XREADGROUP writes
the streams it reads (EPaxos must order it like a write) and waits like a pop.
"""

from __future__ import annotations

import random
import struct

import msgpack
import pytest

from epaxosdb.commands import blocking_wait, command_access, prepare
from epaxosdb.commands.groups import (
    AUTOCLAIM_ALLOCATION_MAX,
    BLOCKED_NO_GROUP,
    BLOCKED_NO_KEY,
    RETRY,
    XAUTOCLAIM_MEMORY,
    rax_shape,
)
from epaxosdb.commands.streams import (
    Consumer,
    Group,
    Pending,
    Stream,
    decode_stream,
    encode_stream,
)
from protocol.messages import Command
from protocol.replies import NULL_ARRAY, Error, Map, NestedMap, Reply
from storage.interface import StorageError, Value, ValueType
from storage.memory import MemoryStore
from tests.commands.test_execution import changed_keys_within_writes, run

T0 = 1_700_000_000_000


def call(store: MemoryStore, *args: bytes, time_ms: int = T0, cmd_id: int = 1) -> Reply:
    op = prepare(list(args), time_ms)
    return op if isinstance(op, Error) else run(store, time_ms, op, cmd_id=cmd_id)


def stored(store: MemoryStore, key: bytes = b"s") -> Stream:
    value = store.read(lambda kv: kv.get(key))
    assert value is not None and value.type == ValueType.STREAM
    return decode_stream(value.payload)


def fields(reply: Reply) -> dict[bytes, Reply]:
    assert isinstance(reply, Map)
    return {key: value for key, value in reply.items}  # type: ignore[misc]


def test_delivery_and_seen_times_are_the_commands_timestamps() -> None:
    store = MemoryStore()
    call(store, b"XADD", b"s", b"1-1", b"f", b"v")
    call(store, b"XADD", b"s", b"2-1", b"f", b"v")
    call(store, b"XGROUP", b"CREATE", b"s", b"g", b"0")
    call(store, b"XREADGROUP", b"GROUP", b"g", b"c", b"STREAMS", b"s", b">", time_ms=T0 + 100)
    group = stored(store).groups[b"g"]
    assert group.pel == {(1, 1): Pending(b"c", T0 + 100, 1), (2, 1): Pending(b"c", T0 + 100, 1)}
    assert group.consumers == {b"c": Consumer(T0 + 100)}
    # Idle times are exact differences of timestamps.
    pending = call(store, b"XPENDING", b"s", b"g", b"-", b"+", b"10", time_ms=T0 + 350)
    assert pending == [[b"1-1", b"c", 250, 1], [b"2-1", b"c", 250, 1]]
    (consumer,) = call(store, b"XINFO", b"CONSUMERS", b"s", b"g", time_ms=T0 + 400)  # type: ignore[misc]
    assert fields(consumer)[b"idle"] == 300
    # A history read delivers again: one more delivery, at its own timestamp.
    call(store, b"XREADGROUP", b"GROUP", b"g", b"c", b"STREAMS", b"s", b"1-1", time_ms=T0 + 500)
    assert stored(store).groups[b"g"].pel[(2, 1)] == Pending(b"c", T0 + 500, 2)
    # XCLAIM's IDLE and TIME set the delivery time from the command's timestamp too.
    call(store, b"XCLAIM", b"s", b"g", b"d", b"0", b"1-1", b"IDLE", b"1000", time_ms=T0 + 600)
    assert stored(store).groups[b"g"].pel[(1, 1)] == Pending(b"d", T0 - 400, 2)
    call(store, b"XCLAIM", b"s", b"g", b"d", b"0", b"2-1", b"TIME", b"%d" % (T0 + 9999),
         time_ms=T0 + 700)  # fmt: skip
    assert stored(store).groups[b"g"].pel[(2, 1)] == Pending(b"d", T0 + 700, 3)  # future: now
    # An earlier timestamp than a recorded one (another replica's clock): idle is 0.
    assert call(store, b"XPENDING", b"s", b"g", b"-", b"+", b"1", time_ms=T0) == [
        [b"1-1", b"d", 400, 2]
    ]
    assert call(store, b"XPENDING", b"s", b"g", b"2", b"+", b"1", time_ms=T0) == [
        [b"2-1", b"d", 0, 3]
    ]


GROUP_COMMANDS = [
    [b"XADD", b"s", b"*", b"f", b"%(n)d"],
    [b"XADD", b"t", b"*", b"f", b"%(n)d"],
    [b"XGROUP", b"CREATE", b"%(key)s", b"%(group)s", b"%(id)s", b"MKSTREAM"],
    [b"XGROUP", b"SETID", b"%(key)s", b"%(group)s", b"%(id)s"],
    [b"XGROUP", b"DESTROY", b"%(key)s", b"%(group)s"],
    [b"XGROUP", b"CREATECONSUMER", b"%(key)s", b"%(group)s", b"%(consumer)s"],
    [b"XGROUP", b"DELCONSUMER", b"%(key)s", b"%(group)s", b"%(consumer)s"],
    [b"XREADGROUP", b"GROUP", b"%(group)s", b"%(consumer)s", b"COUNT", b"2",
     b"STREAMS", b"%(key)s", b">"],
    [b"XREADGROUP", b"GROUP", b"%(group)s", b"%(consumer)s", b"NOACK",
     b"STREAMS", b"s", b"t", b">", b">"],
    [b"XREADGROUP", b"GROUP", b"%(group)s", b"%(consumer)s", b"STREAMS", b"%(key)s", b"%(id)s"],
    [b"XACK", b"%(key)s", b"%(group)s", b"%(id)s"],
    [b"XCLAIM", b"%(key)s", b"%(group)s", b"%(consumer)s", b"%(idle)d", b"%(id)s", b"%(id2)s"],
    [b"XCLAIM", b"%(key)s", b"%(group)s", b"%(consumer)s", b"0", b"%(id)s", b"FORCE",
     b"IDLE", b"%(idle)d"],
    [b"XCLAIM", b"%(key)s", b"%(group)s", b"%(consumer)s", b"0", b"%(id)s", b"RETRYCOUNT",
     b"%(n)d", b"JUSTID", b"LASTID", b"%(id2)s"],
    [b"XAUTOCLAIM", b"%(key)s", b"%(group)s", b"%(consumer)s", b"%(idle)d", b"0", b"COUNT",
     b"2"],
    [b"XPENDING", b"%(key)s", b"%(group)s", b"IDLE", b"%(idle)d", b"-", b"+", b"5"],
    [b"XINFO", b"STREAM", b"%(key)s", b"FULL"],
    [b"XINFO", b"GROUPS", b"%(key)s"],
    [b"XDEL", b"%(key)s", b"%(id)s"],
    [b"XTRIM", b"%(key)s", b"MAXLEN", b"%(small)d"],
    [b"XSETID", b"%(key)s", b"%(id)s"],
    [b"DEL", b"%(key)s"],
]  # fmt: skip


FREQUENT = [GROUP_COMMANDS[i] for i in (0, 1, 2, 2, 7, 7, 9, 9, 11)] * 2
"""Adds, creations and reads again, so groups live long enough to fill their PELs."""


def _random_requests(seed: int, count: int) -> list[tuple[int, list[bytes]]]:
    """``(timestamp, request)`` pairs: timestamps that sometimes go back (clocks differ)."""
    rng = random.Random(seed)
    now = T0
    out: list[tuple[int, list[bytes]]] = []
    for n in range(count):
        now += rng.choice([0, 1, 7, 500, -3])
        values: dict[bytes, object] = {
            b"n": n,
            b"key": rng.choice([b"s", b"t"]),
            b"group": rng.choice([b"g", b"h"]),
            b"consumer": rng.choice([b"alice", b"bob", b"carol"]),
            b"id": rng.choice([b"0", b"$", b"%d" % (now - 200), b"%d-0" % now, b"1-1"]),
            b"id2": rng.choice([b"0-1", b"%d" % (now - 5), b"%d-1" % now]),
            b"idle": rng.choice([0, 5, 300]),
            b"small": rng.randint(0, 4),
        }
        template = rng.choice(GROUP_COMMANDS + FREQUENT)
        out.append((now, [part % values if b"%" in part else part for part in template]))
    return out


def test_two_replicas_running_the_same_commands_end_byte_identical() -> None:
    """The same commands at the same timestamps on two stores: the same replies and the
    same stored bytes after every step, delivery counts and times included; and the
    state is not trivial (groups with pending entries delivered more than once)."""
    first, second = MemoryStore(), MemoryStore()
    most_deliveries = most_pending = 0
    for step, (now, args) in enumerate(_random_requests(seed=3, count=1500)):
        replies = [call(store, *args, time_ms=now, cmd_id=step) for store in (first, second)]
        assert replies[0] == replies[1], args
        state = dict(first.kv_items())
        assert state == dict(second.kv_items()), (step, args)
        for value in state.values():
            for group in decode_stream(value.payload).groups.values():
                most_pending = max(most_pending, len(group.pel))
                counts = [p.delivery_count for p in group.pel.values()]
                most_deliveries = max([most_deliveries, *counts])
    assert most_pending >= 3 and most_deliveries >= 3


def test_group_commands_change_only_keys_they_declare_as_written() -> None:
    """Every key whose value changed is among the op's writes (XREADGROUP included,
    though Redis's key spec says RO), and read-only ones run on a read view."""
    store = MemoryStore()
    store.write(lambda txn: txn.put(b"str", Value(ValueType.STRING, 0, b"x")))
    changed_total = changed_keys_within_writes(store, _random_requests(seed=9, count=800))
    assert changed_total > 200


def test_an_attempt_that_delivers_nothing_writes_nothing() -> None:
    """A blocked XREADGROUP's empty attempt must not write: a write wakes the next
    waiter, whose empty attempt would wake the first again, for ever."""
    store = MemoryStore()
    call(store, b"XGROUP", b"CREATE", b"s", b"g", b"$", b"MKSTREAM")
    before = dict(store.kv_items())
    op = (RETRY, b"GROUP", b"g", b"c", b"BLOCK", b"0", b"STREAMS", b"s", b">")
    assert run(store, T0 + 5, op) == NULL_ARRAY
    assert dict(store.kv_items()) == before


def test_xreadgroup_block_waits_like_a_pop_and_marks_its_later_attempts() -> None:
    plain = prepare([b"xreadgroup", b"GROUP", b"g", b"c", b"STREAMS", b"a", b">"], T0)
    assert plain == (b"XREADGROUP", b"GROUP", b"g", b"c", b"STREAMS", b"a", b">")
    assert blocking_wait(plain) is None
    args = [b"XREADGROUP", b"GROUP", b"g", b"c", b"BLOCK", b"1500", b"STREAMS", b"a", b"b"]
    blocked = prepare([*args, b">", b"0"], T0)
    assert not isinstance(blocked, Error)
    wait = blocking_wait(blocked)
    assert wait is not None
    assert (wait.keys, wait.timeout_ms, wait.consumes) == ((b"a", b"b"), 1500, True)
    assert wait.empty == wait.timed_out == NULL_ARRAY
    assert wait.retry == (RETRY, *blocked[1:])
    assert command_access(Command(1, 1, T0, (wait.retry,))).writes == {b"a", b"b"}
    refused = prepare([RETRY.lower(), *args[1:], b">", b"0"], T0)  # clients cannot call it
    assert isinstance(refused, Error) and refused.text.startswith("ERR unknown command")


def test_later_attempts_answer_what_redis_answers_a_client_it_unblocks() -> None:
    store = MemoryStore()
    call(store, b"XGROUP", b"CREATE", b"s", b"g", b"$", b"MKSTREAM")
    retry = (RETRY, b"GROUP", b"g", b"c", b"STREAMS", b"s", b">")
    call(store, b"XGROUP", b"DESTROY", b"s", b"g")
    assert run(store, T0, retry) == BLOCKED_NO_GROUP
    call(store, b"DEL", b"s")
    assert run(store, T0, retry) == BLOCKED_NO_KEY
    call(store, b"SET", b"s", b"x")
    assert run(store, T0, retry) == BLOCKED_NO_KEY
    # Woken without COUNT, it reads at most 1,000 entries (Redis's blocked default).
    call(store, b"DEL", b"s")
    call(store, b"XGROUP", b"CREATE", b"s", b"g", b"$", b"MKSTREAM")
    for n in range(1, 1003):
        call(store, b"XADD", b"s", b"%d-1" % n, b"f", b"v")
    reply = run(store, T0, retry)
    assert isinstance(reply, NestedMap)
    assert len(reply.items[0][1]) == 1000  # type: ignore[arg-type]


def test_the_stored_form_round_trips_groups_consumers_and_pending_entries() -> None:
    u64 = (1 << 64) - 1
    stream = Stream(
        {(1, 1): (b"f", b"v"), (2, 0): (b"a", b"b")},
        (7, 7),
        (9, 9),  # XSETID may leave the last ID below the largest deleted one
        5,
        {
            b"": Group((0, 0)),
            b"g": Group(
                (u64, u64),
                12,
                {(1, 1): Pending(b"bob", -5, 1), (3, 3): Pending(b"", T0, -(1 << 63))},
                {b"": Consumer(T0), b"bob": Consumer(0), b"zed": Consumer(1 << 62)},
            ),
        },
    )
    payload = encode_stream(stream)
    decoded = decode_stream(payload)
    assert decoded == stream
    assert list(decoded.groups) == [b"", b"g"]
    assert list(decoded.groups[b"g"].consumers) == [b"", b"bob", b"zed"]
    # Without groups, the stored form is the one streams had before groups existed.
    plain = Stream({(1, 1): (b"f", b"v")}, (1, 1), (0, 0), 1)
    items = msgpack.unpackb(encode_stream(plain))
    assert len(items[0]) == 40 and len(items) == 4
    assert decode_stream(encode_stream(plain)) == plain


_GROUPED = struct.Struct(">QQQQQQI")


def _grouped(entries: int, groups: int, *items: bytes) -> bytes:
    return msgpack.packb([_GROUPED.pack(5, 5, 0, 0, 9, entries, groups), *items])


_ENTRY = (1).to_bytes(8, "big") + (1).to_bytes(8, "big") + (1).to_bytes(4, "big")


def _group(consumers: int, pending: int, entries_read: int = -1) -> bytes:
    return struct.pack(">QQqII", 0, 0, entries_read, consumers, pending)


def _pending(ms: int, owner: int) -> bytes:
    return struct.pack(">QQqqI", ms, 0, T0, 1, owner)


_SEEN = struct.pack(">q", T0)


@pytest.mark.parametrize(
    "payload",
    [
        _grouped(0, 0),  # a grouped header announcing no group
        _grouped(1, 1, _group(0, 0), b"g"),  # an entry announced, none there
        _grouped(0, 1),  # a group announced, none there
        _grouped(0, 1, _group(0, 0)),  # a group without its name
        _grouped(0, 2, _group(0, 0), b"h", _group(0, 0), b"g"),  # groups out of order
        _grouped(0, 2, _group(0, 0), b"g", _group(0, 0), b"g"),  # a group twice
        _grouped(0, 1, _group(1, 0), b"g"),  # a consumer announced, none there
        _grouped(0, 1, _group(2, 0), b"g", _SEEN, b"b", _SEEN, b"a"),  # consumers out of order
        _grouped(0, 1, _group(1, 0), b"g", b"short", b"c"),  # a consumer's header damaged
        _grouped(0, 1, _group(1, 1), b"g", _SEEN, b"c"),  # a pending entry announced, none
        _grouped(0, 1, _group(1, 1), b"g", _SEEN, b"c", _pending(1, 1)),  # no such consumer
        _grouped(0, 1, _group(0, 1), b"g", _pending(1, 0)),  # pending, with no consumer at all
        _grouped(0, 1, _group(1, 2), b"g", _SEEN, b"c", _pending(2, 0), _pending(1, 0)),
        _grouped(0, 1, _group(0, 0), b"g", b"extra"),  # items after the groups
        msgpack.packb([_GROUPED.pack(5, 5, 0, 0, 9, 0, 1)[:-1]]),  # a header one byte short
    ],
    ids=lambda p: p.hex()[-24:],
)
def test_a_damaged_group_is_a_storage_error(payload: bytes) -> None:
    with pytest.raises(StorageError):
        decode_stream(payload)


@pytest.mark.parametrize("entries_read", [-2, -(2**63)])
def test_a_group_keeps_any_entries_read(entries_read: int) -> None:
    """Below -1 too: Redis's counter wraps past 2**63 - 1 (ENTRIESREAD 9223372036854775807,
    then a read), and so does ours."""
    stream = decode_stream(_grouped(0, 1, _group(0, 0, entries_read), b"g"))
    assert stream.groups[b"g"].entries_read == entries_read


def test_a_stream_entry_may_precede_groups_in_the_stored_form() -> None:
    payload = _grouped(1, 1, _ENTRY, b"f", b"v", _group(1, 1), b"g", _SEEN, b"c", _pending(1, 0))
    stream = decode_stream(payload)
    assert stream.entries == {(1, 1): (b"f", b"v")}
    assert stream.groups[b"g"].pel == {(1, 0): Pending(b"c", T0, 1)}


def test_radix_tree_shape_of_small_and_larger_streams() -> None:
    """Exact for what fits one of Redis's nodes (checked against redis-server by the
    differential tests); one node key per 100 entries beyond."""
    assert rax_shape(Stream()) == (0, 1)
    one = Stream({(5, 0): (b"f", b"v"), (6, 0): (b"f", b"v")}, (6, 0))
    assert rax_shape(one) == (1, 2)
    many = Stream({(n, 0): (b"f", b"v") for n in range(1, 302)}, (301, 0))
    keys, nodes = rax_shape(many)
    assert keys == 4 and nodes > 2 * keys


def test_xautoclaim_refuses_a_count_it_would_not_serve() -> None:
    store = MemoryStore()
    call(store, b"XGROUP", b"CREATE", b"s", b"g", b"$", b"MKSTREAM")
    args = [b"XAUTOCLAIM", b"s", b"g", b"c", b"0", b"0", b"COUNT"]
    assert call(store, *args, b"%d" % (AUTOCLAIM_ALLOCATION_MAX + 1)) == XAUTOCLAIM_MEMORY
    assert call(store, *args, b"%d" % AUTOCLAIM_ALLOCATION_MAX) == [b"0-0", [], []]

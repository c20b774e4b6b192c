"""The epaxosdb side of a differential test, and how its replies are compared.

``Model`` runs requests the way a replica does — ``prepare`` with the wall
clock, then ``execute`` of a ``Command`` stamped with the same time — against
a ``MemoryStore``. Read-only commands run through ``store.read``, whose view
refuses writes, so a read that tried to modify state would fail the test.

``Differential`` sends each request to redis-server and to the model and
compares the encoded replies byte for byte (``protocol.resp.encode_reply``),
or as sets, or within a tolerance for TTLs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from epaxosdb.commands import (
    command_reply,
    execute,
    is_read_only,
    prepare,
    prepare_queued,
    settle_expiry_of,
)
from epaxosdb.commands.hashes import encode_hash
from epaxosdb.commands.lists import encode_list
from epaxosdb.commands.sets import encode_set
from epaxosdb.commands.zsets import encode_zset
from protocol.messages import Command
from protocol.replies import Error, Reply
from protocol.resp import encode_reply
from storage.interface import Store, Value, ValueType
from storage.memory import MemoryStore
from tests.redis_server import Parsed, RawConnection, parse_reply

TTL_TOLERANCE_S = 1
"""TTL rounds to the nearest second at two slightly different instants."""
PTTL_TOLERANCE_MS = 500
"""Both sides read their clocks a few ms apart; a loaded machine stretches that."""
TIMES_TOLERANCE_MS = 500
"""The same for consumer groups' idle, seen and delivery times."""
TIME_KEYS = frozenset({b"idle", b"seen-time", b"delivery-time"})

NON_STRING_SETUP: dict[ValueType, tuple[bytes, ...]] = {
    ValueType.LIST: (b"RPUSH", b"<key>", b"a"),
    ValueType.SET: (b"SADD", b"<key>", b"a"),
    ValueType.HASH: (b"HSET", b"<key>", b"f", b"v"),  # the model stores the same hash
    ValueType.ZSET: (b"ZADD", b"<key>", b"1", b"a"),
}
"""How redis-server builds a value of each other type; the model stores an opaque one."""


def injected_value(value_type: ValueType) -> Value:
    """What the model stores for ``NON_STRING_SETUP[value_type]``: a real hash ``{f: v}``,
    set ``{a}``, list ``[a]`` or sorted set ``{a: 1}`` (their commands read them)."""
    if value_type == ValueType.HASH:
        return Value(value_type, 0, encode_hash({b"f": b"v"}))
    if value_type == ValueType.SET:
        return Value(value_type, 0, encode_set(dict.fromkeys([b"a"])))
    if value_type == ValueType.LIST:
        return Value(value_type, 0, encode_list([b"a"]))
    if value_type == ValueType.ZSET:
        return Value(value_type, 0, encode_zset({b"a": 1.0}))
    raise ValueError(f"no injected value for {value_type!r}")


def wall_ms() -> int:
    return time.time_ns() // 1_000_000



def execute_like_a_replica(store: Store, cmd: Command) -> Reply:
    """Execute ``cmd`` as its proposer does. A read-only command's handlers run on a
    view that refuses writes — which proves they write nothing — after
    ``settle_expiry_of`` has deleted, in a write, the keys it finds expired."""
    if is_read_only(cmd):
        store.write(lambda txn: settle_expiry_of(txn, cmd))
        return store.read(lambda kv: execute(kv, cmd))
    return store.write(lambda txn: execute(txn, cmd))

class Model:
    """epaxosdb's command layer over a MemoryStore, driven like a replica drives it."""

    def __init__(self) -> None:
        self.store = MemoryStore()
        self.next_id = 1

    def call(self, args: Sequence[bytes], now_ms: int | None = None) -> Reply:
        now = wall_ms() if now_ms is None else now_ms
        if args and args[0].lower() == b"command":
            return command_reply(args)
        op = prepare(args, now)
        if isinstance(op, Error):
            return op
        return self.run(Command(origin=1, id=self.next_id, time_ms=now, ops=(op,)))

    def run(self, cmd: Command) -> Reply:
        self.next_id += 1
        return execute_like_a_replica(self.store, cmd)

    def put(self, key: bytes, value: Value) -> None:
        self.store.write(lambda txn: txn.put(key, value))


class Differential:
    """One redis-server connection and one model, fed the same requests."""

    def __init__(self, redis: RawConnection, protocol: int) -> None:
        self.redis = redis
        self.protocol = protocol
        self.model = Model()
        self.redis.call(b"FLUSHALL")

    def ours(self, *args: bytes) -> bytes:
        """Our raw reply, encoded for this connection's protocol."""
        return encode_reply(self.model.call(args), self.protocol)

    def both(self, *args: bytes) -> tuple[bytes, bytes]:
        """Redis's raw reply and ours."""
        return self.redis.call(*args), self.ours(*args)

    def ours_exec(self, queued: Sequence[Sequence[bytes]]) -> bytes:
        """The model's EXEC of ``queued``, as the front end builds it: each command
        prepared with one timestamp, all proposed as one MULTI command."""
        now = wall_ms()
        ops = []
        for args in queued:
            op = prepare_queued(args, now)
            assert not isinstance(op, Error), args
            ops.append(op)
        cmd = Command(origin=1, id=self.model.next_id, time_ms=now, ops=tuple(ops), multi=True)
        return encode_reply(self.model.run(cmd), self.protocol)

    def check_exec(self, lines: Sequence[Sequence[bytes]]) -> None:
        """Each command queues on redis-server (and passes the front end's queue-time
        check), and EXEC answers the same on both sides."""
        from epaxosdb.commands import queue_error

        assert self.redis.call(b"MULTI") == b"+OK\r\n"
        for args in lines:
            assert self.redis.call(*args) == b"+QUEUED\r\n", args
            assert queue_error(args) is None, args
        assert self.ours_exec(lines) == self.redis.call(b"EXEC")

    def check(self, *args: bytes, context: str = "") -> bytes:
        theirs, ours = self.both(*args)
        assert ours == theirs, _mismatch(args, theirs, ours, context)
        return ours

    def check_unordered(self, *args: bytes, context: str = "") -> None:
        """Same reply up to the order of an array's elements (KEYS)."""
        theirs, ours = self.both(*args)
        assert _canonical(theirs) == _canonical(ours), _mismatch(args, theirs, ours, context)

    def check_ttl(self, *args: bytes, tolerance: int, context: str = "") -> None:
        """Same integer reply within ``tolerance`` (TTL, PTTL, EXPIRETIME...), or same bytes."""
        theirs, ours = self.both(*args)
        if theirs == ours:
            return
        message = _mismatch(args, theirs, ours, context)
        assert theirs[:1] == ours[:1] == b":", message
        a, b = int(theirs[1:-2]), int(ours[1:-2])
        assert a >= 0 and b >= 0 and abs(a - b) <= tolerance, message

    def check_size(self, *args: bytes, context: str = "") -> None:
        """A positive integer on both (MEMORY USAGE: sizes of two different stores), or the
        same bytes (nil, an error)."""
        theirs, ours = self.both(*args)
        if theirs == ours:
            return
        message = _mismatch(args, theirs, ours, context)
        assert theirs[:1] == ours[:1] == b":", message
        assert int(theirs[1:-2]) > 0 and int(ours[1:-2]) > 0, message

    def check_times(
        self, *args: bytes, context: str = "", ignored: frozenset[bytes] = frozenset()
    ) -> None:
        """Same reply but for the times in it (consumer groups' idle and delivery times,
        read from two clocks), which may differ by ``TIMES_TOLERANCE_MS`` (``_times_agree``),
        and for the values of the map fields named in ``ignored``, which are not compared
        (XINFO STREAM's ``radix-tree-keys`` once Redis's layout is estimated here)."""
        theirs, ours = self.both(*args)
        if theirs == ours:
            return
        message = _mismatch(args, theirs, ours, context)
        expected, got = parse_reply(theirs)[0], parse_reply(ours)[0]
        if ignored:
            expected, got = _without(expected, ignored), _without(got, ignored)
        assert _times_agree(expected, got), message

    def check_scan(self, *options: bytes, context: str = "") -> None:
        """A full SCAN iteration with ``options`` returns the same key set on both sides."""
        theirs = self._full_scan(self.redis.call, (b"SCAN",), options)
        ours = self._full_scan(self.ours, (b"SCAN",), options)
        assert theirs == ours, f"SCAN {options!r} differs {context}: {theirs} != {ours}"

    def check_collection_scan(
        self, name: bytes, key: bytes, *options: bytes, context: str = ""
    ) -> None:
        """A full HSCAN or ZSCAN (pairs) or SSCAN iteration returns the same on both sides.

        Redis answers a small hash or set in one step and a large one (a hash
        value over 64 bytes, a set with a non-integer) in several, in its hash
        table's order."""
        command, pairs = (name, key), name in (b"HSCAN", b"ZSCAN")
        theirs = self._full_scan(self.redis.call, command, options, pairs=pairs)
        ours = self._full_scan(self.ours, command, options, pairs=pairs)
        assert theirs == ours, f"{name!r} {key!r} {options!r} differs {context}: {theirs} != {ours}"

    def check_pairs(self, *args: bytes, context: str = "") -> None:
        """Same field/value pairs in any order (HGETALL: Redis's order is its hash table's
        once a hash is large; ZRANDMEMBER WITHSCORES, whose RESP3 pairs are flattened)."""
        theirs, ours = self.both(*args)
        assert _canonical_pairs(theirs) == _canonical_pairs(ours), _mismatch(
            args, theirs, ours, context
        )

    def check_request(self, mode: str, args: list[bytes], context: str = "") -> None:
        """Compare one generated request the way its ``mode`` says (see the generator)."""
        if mode == "ttl":
            self.check_ttl(*args, tolerance=TTL_TOLERANCE_S, context=context)
        elif mode == "pttl":
            self.check_ttl(*args, tolerance=PTTL_TOLERANCE_MS, context=context)
        elif mode == "keys":
            self.check_unordered(*args, context=context)
        elif mode == "pairs":
            self.check_pairs(*args, context=context)
        elif mode == "scan":
            self.check_scan(*args[2:], context=context)
            self.check(b"SCAN", b"0", *args[2:], b"COUNT", b"0", context=context)
        elif mode == "collection_scan":
            self.check_collection_scan(args[0], args[1], *args[3:], context=context)
        elif mode == "random":
            self.check_randomkey(context=context)
        else:
            self.check(*args, context=context)

    def check_randomkey(self, context: str = "") -> None:
        """RANDOMKEY picks differently, but both return nil on empty, else an existing key."""
        theirs, ours = self.both(b"RANDOMKEY")
        theirs_key = parse_reply(theirs)[0].value
        ours_key = parse_reply(ours)[0].value
        assert (theirs_key is None) == (ours_key is None), _mismatch(
            (b"RANDOMKEY",), theirs, ours, context
        )
        for key in (theirs_key, ours_key):
            if isinstance(key, bytes):
                self.check(b"EXISTS", key, context=context)

    def put_non_string(self, key: bytes, value_type: ValueType) -> None:
        """Give ``key`` a value of another type on both sides (WRONGTYPE checks)."""
        self.redis.call(b"DEL", key)
        setup = tuple(key if a == b"<key>" else a for a in NON_STRING_SETUP[value_type])
        self.redis.call(*setup)
        self.model.put(key, injected_value(value_type))

    @staticmethod
    def _full_scan(
        call: Callable[..., bytes],
        command: tuple[bytes, ...],
        options: Sequence[bytes],
        pairs: bool = False,
    ) -> set[bytes] | set[tuple[bytes, bytes]]:
        """Everything a SCAN-like iteration from cursor 0 returns (keys or members, or
        HSCAN's pairs);
        an error reply as ``{b"error:..."}``."""
        found: list[bytes] = []
        cursor = b"0"
        for _ in range(100_000):
            reply, _ = parse_reply(call(*command, cursor, *options))
            if reply.kind == "-":
                return {b"error:" + _bytes(reply.value)}
            cursor_item, batch = _items(reply.value)
            found.extend(_bytes(item.value) for item in _items(batch.value))
            cursor = _bytes(cursor_item.value)
            if cursor == b"0":
                if pairs:
                    return set(zip(found[::2], found[1::2], strict=True))
                return set(found)
        raise AssertionError(f"{command[0].decode()} did not finish")


def _bytes(value: object) -> bytes:
    assert isinstance(value, bytes), value
    return value


def _items(value: object) -> list[Parsed]:
    assert isinstance(value, list), value
    return value


def _canonical(raw: bytes) -> Parsed:
    parsed, _ = parse_reply(raw)
    if isinstance(parsed.value, list):
        return Parsed(parsed.kind, parsed.sorted_items())
    return parsed


def _flatten_pairs(parsed: Parsed) -> Parsed:
    """A RESP3 array of two-element arrays as the flat array RESP2 has instead."""
    items = parsed.value
    if parsed.kind != "*" or not isinstance(items, list) or not items:
        return parsed
    if not all(item.kind == "*" and isinstance(item.value, list) and len(item.value) == 2
               for item in items):  # fmt: skip
        return parsed
    return Parsed("*", [part for item in items for part in _items(item.value)])


def _canonical_pairs(raw: bytes) -> Parsed | list[tuple[str, str]]:
    parsed = _flatten_pairs(parse_reply(raw)[0])
    if not isinstance(parsed.value, list):
        return parsed
    items = [repr(item) for item in parsed.value]
    return sorted(zip(items[::2], items[1::2], strict=True))


def _mismatch(args: Sequence[bytes], theirs: bytes, ours: bytes, context: str) -> str:
    return f"{context} {list(args)!r}:\n  redis:    {theirs!r}\n  epaxosdb: {ours!r}"


def _times_agree(theirs: Parsed, ours: Parsed) -> bool:
    """Equal replies, except that an integer in a time's place may differ by up to
    ``TIMES_TOLERANCE_MS``: the value after a ``TIME_KEYS`` field of an XINFO map, the
    third of an XPENDING entry or of a group's pending entry in XINFO STREAM FULL
    (``[id, consumer, time, count]``), the second of a consumer's (``[id, time, count]``)."""
    if theirs.kind != ours.kind:
        return False
    if not isinstance(theirs.value, list) or not isinstance(ours.value, list):
        return theirs == ours
    items, others = theirs.value, ours.value
    if len(items) != len(others):
        return False
    timed = _time_positions(items)
    for index, (a, b) in enumerate(zip(items, others, strict=True)):
        if index in timed and a.kind == b.kind == ":":
            assert isinstance(a.value, bytes) and isinstance(b.value, bytes)
            if abs(int(a.value) - int(b.value)) > TIMES_TOLERANCE_MS:
                return False
        elif not _times_agree(a, b):
            return False
    return True


def _without(parsed: Parsed, ignored: frozenset[bytes]) -> Parsed:
    """``parsed`` with the value after each field named in ``ignored`` (at any depth)
    replaced by a null."""
    if not isinstance(parsed.value, list):
        return parsed
    items = [_without(item, ignored) for item in parsed.value]
    for i, item in enumerate(items[:-1]):
        if item.kind == "$" and item.value in ignored:
            items[i + 1] = Parsed("_", b"")
    return Parsed(parsed.kind, items)


def _time_positions(items: list[Parsed]) -> set[int]:
    kinds = "".join(item.kind for item in items)
    if kinds == "$$::":
        return {2}
    if kinds == "$::":
        return {1}
    return {i + 1 for i, item in enumerate(items) if item.kind == "$" and item.value in TIME_KEYS}

"""``Workspace``: a MULTI, pipelined run or script keeps the collections it changes decoded.

What must hold: running ops inside a workspace ends in exactly the state and
replies that running them without one does (the workspace changes only how
often a collection is encoded), a collection changed many times by one
command is encoded once, and the audit the tests run under catches a handler
that changes a loaded collection without storing it.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from epaxosdb.commands import execute, execution, prepare, scripting, workspace
from epaxosdb.commands.sets import SETS
from epaxosdb.commands.zsets import ZSETS
from protocol.messages import Command
from protocol.replies import OK, Error, Reply, Set, SimpleString
from protocol.resp import encode_reply
from storage.interface import KeyValueView, Value, ValueType
from storage.memory import MemoryStore
from tests.commands.differential import injected_value
from tests.commands.test_differential_random import KEYS, Generator

T0 = 1_700_000_000_000


class _Passthrough:
    """Stands in for ``Workspace`` where a test wants the ops run without one: every call
    goes straight to the store, as it did before workspaces existed."""

    def __init__(self, kv: KeyValueView) -> None:
        self._kv = kv

    def __getattr__(self, name: str) -> Any:
        return getattr(self._kv, name)

    def op_done(self, op: tuple[bytes, ...] = ()) -> None:
        pass

    def end(self, failure: BaseException | None) -> None:
        pass

    def __enter__(self) -> _Passthrough:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def _collection_request(rng: random.Random) -> list[bytes]:
    """Reads and writes of streams (with groups), hashes, lists, sets and sorted sets, each
    family on keys of its own most of the time, so most of them succeed; the differential
    generator adds everything else, and the wrong types."""
    family = rng.choice(["x", "h", "s", "z", "l"])
    key = rng.choice([family.encode() + b"0", family.encode() + b"1", rng.choice(KEYS)])
    other = family.encode() + rng.choice([b"0", b"1"])
    entry = b"%d-%d" % (T0 + rng.randrange(40), rng.randrange(2))
    choices = {
        "x": [
            [b"XADD", key, b"*", b"f", b"%d" % rng.randrange(100)],
            [b"XADD", key, b"MAXLEN", b"3", b"*", b"f", b"v"],
            [b"XDEL", key, entry],
            [b"XTRIM", key, b"MAXLEN", b"2"],
            [b"XGROUP", b"CREATE", key, b"g", b"0", b"MKSTREAM"],
            [b"XREADGROUP", b"GROUP", b"g", b"c", b"COUNT", b"2", b"STREAMS", key, b">"],
            [b"XACK", key, b"g", entry],
            [b"XLEN", key],
            [b"XRANGE", key, b"-", b"+"],
            [b"XPENDING", key, b"g"],
            [b"XPENDING", key, b"g", b"-", b"+", b"10"],
            [b"XINFO", b"STREAM", key, b"FULL"],
            [b"XINFO", b"GROUPS", key],
            [b"XINFO", b"CONSUMERS", key, b"g"],
            [b"XCLAIM", key, b"g", b"d", b"0", entry],
        ],
        "h": [
            [b"HSET", key, b"f%d" % rng.randrange(5), b"%d" % rng.randrange(100)],
            [b"HINCRBY", key, b"f%d" % rng.randrange(5), b"%d" % rng.randrange(-3, 4)],
            [b"HDEL", key, b"f%d" % rng.randrange(5)],
            [b"HGETALL", key],
            [b"HKEYS", key],
        ],
        "s": [
            [b"SADD", key, b"%d" % rng.randrange(20)],
            [b"SREM", key, b"%d" % rng.randrange(20)],
            [b"SMOVE", key, other, b"%d" % rng.randrange(20)],
            [b"SUNIONSTORE", other, key, other],
            [b"SMEMBERS", key],
        ],
        "z": [
            [b"ZADD", key, b"%d" % rng.randrange(20), b"m%d" % rng.randrange(5)],
            [b"ZINCRBY", key, b"1", b"m%d" % rng.randrange(5)],
            [b"ZPOPMIN", key],
            [b"ZRANGESTORE", other, key, b"0", b"2"],
            [b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"],
        ],
        "l": [
            [b"RPUSH", key, *[b"%d" % rng.randrange(9) for _ in range(rng.randrange(1, 4))]],
            [b"LPUSH", key, *[b"%d" % rng.randrange(9) for _ in range(rng.randrange(1, 4))]],
            [b"LPUSHX", key, b"x"],
            [b"LPOP", key],
            [b"RPOP", key, b"%d" % rng.randrange(4)],
            [b"LSET", key, b"%d" % rng.randrange(-4, 4), b"s"],
            [b"LTRIM", key, b"%d" % rng.randrange(-3, 3), b"%d" % rng.randrange(-3, 6)],
            [b"LREM", key, b"%d" % rng.randrange(-2, 3), b"%d" % rng.randrange(9)],
            [b"LINSERT", key, b"BEFORE", b"%d" % rng.randrange(9), b"i"],
            [b"LMOVE", key, other, rng.choice([b"LEFT", b"RIGHT"]), b"RIGHT"],
            [b"RPOPLPUSH", key, key],
            [b"BLMPOP", b"0", b"2", key, other, b"LEFT", b"COUNT", b"2"],
            [b"LRANGE", key, b"%d" % rng.randrange(-5, 3), b"%d" % rng.randrange(-3, 8)],
            [b"LINDEX", key, b"%d" % rng.randrange(-5, 5)],
            [b"LPOS", key, b"%d" % rng.randrange(9), b"RANK", b"-1", b"COUNT", b"0"],
            [b"LLEN", key],
        ],
    }[family]
    common = [[b"TYPE", key], [b"DUMP", key], [b"COPY", key, other], [b"RENAME", key, other]]
    return rng.choice(choices + common)


def _ops(seed: int, count: int) -> list[tuple[bytes, ...]]:
    """``count`` prepared ops from the differential generator and the mix above;
    values of other types are injected with SET-like ops of our own (``INJECT``)."""
    generator = Generator(seed)
    rng = random.Random(seed)
    ops: list[tuple[bytes, ...]] = []
    while len(ops) < count:
        if rng.random() < 0.5:
            args = _collection_request(rng)
        else:
            mode, args = generator.request()
            if mode == "inject":
                ops.append((b"INJECT", args[1], args[2]))
                continue
        op = prepare(args, T0 + len(ops))
        if not isinstance(op, Error):
            ops.append(op)
    return ops


def _run(ops: list[tuple[bytes, ...]], chunks: list[int]) -> tuple[list[bytes], list[object]]:
    """Run ``ops`` as multi commands of the given sizes; the encoded replies (RESP3) and
    the final state."""
    store = MemoryStore()
    replies: list[bytes] = []
    at = 0
    for index, size in enumerate(chunks):
        batch = ops[at : at + size]
        at += size
        pending: list[tuple[bytes, ...]] = []
        for op in [*batch, None]:
            if op is not None and op[0] != b"INJECT":
                pending.append(op)
                continue
            if pending:
                cmd = Command(1, index * 1000 + at, T0 + at, tuple(pending), multi=True)
                reply = store.write(lambda txn, cmd=cmd: execute(txn, cmd))
                assert isinstance(reply, list)
                replies += [encode_reply(item, 3) for item in reply]
                pending = []
            if op is not None:
                value = injected_value(ValueType(int(op[2])))
                store.write(lambda txn, key=op[1], value=value: txn.put(key, value))
    return replies, list(store.kv_items())


def _chunks(seed: int, total: int) -> list[int]:
    rng = random.Random(seed)
    sizes: list[int] = []
    while sum(sizes) < total:
        sizes.append(rng.choice([1, 2, 5, 20, 100]))
    return sizes


@pytest.mark.parametrize("audit", [True, False], ids=["audited", "as-in-production"])
@pytest.mark.parametrize("seed", range(1, 9))
def test_ops_in_a_workspace_end_as_they_do_without_one(
    seed: int, audit: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audited, every op runs in a workspace; as in production, only MULTIs that change
    collections do (``execution.HOLDING``), the others straight on the store."""
    ops = _ops(seed, 1500)
    chunks = _chunks(seed, len(ops))
    with monkeypatch.context() as patch:
        patch.setattr(workspace, "AUDIT", audit)
        held_replies, held_state = _run(ops, chunks)
    with monkeypatch.context() as patch:
        patch.setattr(execution, "Workspace", _Passthrough)
        patch.setattr(scripting, "workspace_for", lambda kv: (_Passthrough(kv), False))
        patch.setattr(workspace, "AUDIT", False)
        plain_replies, plain_state = _run(ops, chunks)
    assert len(held_replies) == len(plain_replies)
    for index, (held, plain) in enumerate(zip(held_replies, plain_replies, strict=True)):
        assert held == plain, (index, ops[index] if index < len(ops) else None)
    assert held_state == plain_state


def _count_encodings(monkeypatch: pytest.MonkeyPatch, kind: Any) -> list[int]:
    calls = [0]
    encode = kind._encode_items

    def counting(items: list[bytes]) -> bytes:
        calls[0] += 1
        return encode(items)

    monkeypatch.setattr(kind, "_encode_items", counting)
    monkeypatch.setattr(workspace, "AUDIT", False)  # the audit encodes to compare
    return calls


def test_a_multi_that_adds_to_one_sorted_set_many_times_encodes_it_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _count_encodings(monkeypatch, ZSETS)
    ops = tuple((b"ZADD", b"z", b"%d" % i, b"m%d" % i) for i in range(2000))
    store = MemoryStore()
    reply = store.write(lambda txn: execute(txn, Command(1, 1, T0, ops, multi=True)))
    assert reply == [1] * 2000
    assert calls[0] == 1
    stored = store.read(lambda kv: kv.get(b"z"))
    assert stored is not None
    assert len(ZSETS.decode(stored.payload)) == 2000


def test_a_script_that_adds_to_one_set_many_times_encodes_it_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _count_encodings(monkeypatch, SETS)
    body = b"for i=1,3000 do redis.call('SADD', KEYS[1], i) end return redis.call('SCARD', KEYS[1])"
    store = MemoryStore()
    op = prepare([b"EVAL", body, b"1", b"s"], T0)
    assert not isinstance(op, Error)
    reply = store.write(lambda txn: execute(txn, Command(1, 1, T0, (op,))))
    assert reply == 3000
    assert calls[0] == 1


def test_a_script_inside_a_multi_works_in_the_multis_workspace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _count_encodings(monkeypatch, SETS)
    body = b"redis.call('SADD', KEYS[1], ARGV[1]) return redis.call('SCARD', KEYS[1])"
    ops: list[tuple[bytes, ...]] = []
    for i in range(50):
        op = prepare([b"EVAL", body, b"1", b"s", b"%d" % i], T0)
        assert not isinstance(op, Error)
        ops += [op, (b"SADD", b"s", b"x%d" % i)]
    store = MemoryStore()
    reply = store.write(lambda txn: execute(txn, Command(1, 1, T0, tuple(ops), multi=True)))
    assert reply == [n for i in range(50) for n in (2 * i + 1, 1)]
    assert calls[0] == 1


def test_what_reads_the_store_directly_sees_the_held_collection() -> None:
    """TYPE, TTL, DUMP, DBSIZE, SCAN, RENAME and an expiry set in between meet the set as a
    store would hold it, though its adds were not encoded yet."""
    ops: tuple[tuple[bytes, ...], ...] = (
        (b"SADD", b"s", b"a", b"b"),
        (b"TYPE", b"s"),
        (b"DBSIZE",),
        (b"SADD", b"s", b"c"),
        (b"SCAN", b"0", b"COUNT", b"100"),
        (b"PEXPIREAT", b"s", b"%d" % (T0 + 60_000)),
        (b"SADD", b"s", b"d"),
        (b"PTTL", b"s"),
        (b"RENAME", b"s", b"t"),
        (b"SADD", b"t", b"e"),
        (b"SCARD", b"t"),
        (b"EXISTS", b"s"),
        (b"SPOP", b"t", b"10"),
        (b"EXISTS", b"t"),
        (b"SADD", b"u", b"z"),
    )
    store = MemoryStore()
    reply = store.write(lambda txn: execute(txn, Command(1, 1, T0, ops, multi=True)))
    assert isinstance(reply, list)
    assert reply[:5] == [2, SimpleString(b"set"), 1, 1, [b"0", [b"s"]]]
    assert reply[5:12] == [1, 1, 60_000, OK, 1, 5, 0]
    popped = reply[12]
    assert isinstance(popped, Set)
    assert sorted(popped.items) == [b"a", b"b", b"c", b"d", b"e"]  # type: ignore[type-var]
    assert reply[13:] == [0, 1]
    assert [key for key, _ in store.kv_items()] == [b"u"]


def test_a_held_collection_past_its_expiry_reads_as_missing() -> None:
    """As ``live`` judges a stored value: expired at the op's time is absent, for a
    changing load and a reading one alike."""
    store = MemoryStore()

    def look(txn: KeyValueView) -> tuple[object, object]:
        ws = workspace.Workspace(txn)
        ws.hold(b"s", SETS, ValueType.SET, {b"a": None}, T0 + 5, stored=None)
        return SETS.load(ws, b"s", T0 + 10), SETS.load_shared(ws, b"s", T0 + 10)

    assert store.write(look) == ((None, {}), {})


def test_the_audit_catches_a_handler_that_changes_a_collection_it_does_not_store(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A deliberately broken SREM that removes the member and then answers an error
    without storing: inside a workspace the removal would leak into the next op."""

    def broken_srem(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
        found = SETS.load(kv, args[1], now_ms)
        assert not isinstance(found, Error)
        found[1].pop(args[2], None)
        return Error("ERR refused after changing")

    monkeypatch.setitem(execution._HANDLERS, b"SREM", broken_srem)
    store = MemoryStore()
    store.write(lambda txn: execute(txn, Command(1, 1, T0, ((b"SADD", b"s", b"a", b"b"),))))
    cmd = Command(1, 2, T0, ((b"SREM", b"s", b"a"), (b"SCARD", b"s")), multi=True)
    with pytest.raises(workspace.UnstoredChange, match="without storing it"):
        store.write(lambda txn: execute(txn, cmd))
    monkeypatch.setattr(workspace, "AUDIT", False)
    leaked = store.write(lambda txn: execute(txn, Command(1, 3, T0, cmd.ops, multi=True)))
    assert leaked == [Error("ERR refused after changing"), 1]  # what the audit prevents


def test_deleting_a_held_collection_the_store_never_saw_reports_it_existed() -> None:
    def delete_twice(txn: KeyValueView) -> tuple[bool, bool, Value | None]:
        ws = workspace.Workspace(txn)
        ws.hold(b"s", SETS, ValueType.SET, {b"a": None}, 0, stored=None)
        first, second = ws.delete(b"s"), ws.delete(b"s")
        ws.close()
        return first, second, txn.get(b"s")

    assert MemoryStore().write(delete_twice) == (True, False, None)


@pytest.mark.parametrize("path", ["prepared", "in transaction"])
def test_a_step_whose_commands_change_one_hash_encodes_it_once(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One loop turn's commands, from many clients, share the step's workspace (``node``):
    a hot hash is encoded once per turn, whichever way the turn is applied."""
    from epaxosdb.commands.hashes import HASHES
    from epaxosdb.core.ready import Executed, Ready
    from epaxosdb.node import apply_in_transaction, commit_prepared, prepare_ready
    from protocol.messages import InstanceId

    calls = _count_encodings(monkeypatch, HASHES)
    ready = Ready(
        to_execute=[
            Executed(InstanceId(2, i), (Command(2, i, T0, ((b"HSET", b"h", b"f%d" % i, b"v"),)),))
            for i in range(100)
        ]
    )
    store = MemoryStore()
    if path == "prepared":
        prepared = prepare_ready(store, ready, 1)
        assert prepared is not None
        commit_prepared(store, prepared)
    else:
        apply_in_transaction(store, ready, 1)
    assert calls[0] == 1
    stored = store.read(lambda kv: kv.get(b"h"))
    assert stored is not None
    assert HASHES.decode(stored.payload) == {b"f%d" % i: b"v" for i in range(100)}


def test_changing_a_collection_in_a_workspace_leaves_its_copies_alone() -> None:
    """COPY stores the very same payload under the new key, and a decoded payload is
    remembered for the next reader: what a workspace changes must be its own copy."""
    store = MemoryStore()
    commands: list[tuple[tuple[bytes, ...], ...]] = [
        ((b"SADD", b"s", b"a"), (b"HSET", b"h", b"f", b"1")),
        ((b"COPY", b"s", b"t"), (b"COPY", b"h", b"i")),
        ((b"SMEMBERS", b"t"), (b"HGETALL", b"i")),  # the copies' payloads are remembered
        ((b"SADD", b"s", b"b"), (b"HSET", b"h", b"f", b"2")),
        ((b"SMEMBERS", b"t"), (b"HGETALL", b"i")),
    ]
    replies = [
        store.write(lambda txn, i=i, ops=ops: execute(txn, Command(1, i, T0, ops, multi=True)))
        for i, ops in enumerate(commands)
    ]
    assert replies[4] == replies[2]
    assert replies[3] == [1, 0]


def test_a_sorted_sets_order_read_in_a_workspace_follows_later_changes() -> None:
    """Readers of a sorted set remember its order by the contents' identity (``zsets``);
    in a workspace those contents change after a read, so the order must be forgotten."""
    ops: tuple[tuple[bytes, ...], ...] = (
        (b"ZADD", b"z", b"1", b"a", b"2", b"c"),
        (b"ZRANGE", b"z", b"0", b"-1"),
        (b"ZRANK", b"z", b"c"),
        (b"ZADD", b"z", b"0", b"b"),
        (b"ZRANGE", b"z", b"0", b"-1"),
        (b"ZRANK", b"z", b"c"),
        (b"ZINCRBY", b"z", b"5", b"b"),
        (b"ZREVRANGE", b"z", b"0", b"0"),
    )
    store = MemoryStore()
    reply = store.write(lambda txn: execute(txn, Command(1, 1, T0, ops, multi=True)))
    assert reply == [2, [b"a", b"c"], 1, 1, [b"b", b"a", b"c"], 2, 5.0, [b"b"]]


def test_the_function_libraries_pass_through_a_workspace_and_leave_what_it_holds() -> None:
    """A FUNCTION LOAD inside a MULTI changes the registry of the store below, at once,
    and the collections the workspace holds are still written when it closes."""

    def load_between(txn: KeyValueView) -> tuple[bytes, bytes]:
        ws = workspace.Workspace(txn)
        ws.hold(b"s", SETS, ValueType.SET, {b"a": None}, 0, stored=None)
        ws.set_functions(b"libraries")
        seen = ws.functions(), txn.functions()
        ws.close()
        return seen

    store = MemoryStore()
    assert store.write(load_between) == (b"libraries", b"libraries")
    assert [key for key, _ in store.kv_items()] == [b"s"]
    assert store.read(lambda view: view.functions()) == b"libraries"

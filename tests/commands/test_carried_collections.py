"""Collections carried decoded from one loop step to the next (``storage.buffered``).

The consensus loop defers the key-value effects of the steps it executes
(``node.DeferredApply``); a hash, set, sorted set or stream a step changed
stays decoded in those deferred writes, and the next step that changes it
takes the decoded contents over. What must hold: a run of steps ends in
exactly the replies and the state of the same commands executed one by one
straight on a store, whatever the flush points, keyspace-wide commands (which
make a step run again inside a transaction) and raw reads (DUMP, TYPE, MEMORY
USAGE) in between; nothing carried ever reaches the store; and a big
collection changed by one command per step is encoded once per flush.
"""

from __future__ import annotations

import random

import pytest

from epaxosdb import commands, node
from epaxosdb.commands import execute, execution, prepare, scripting, workspace
from epaxosdb.commands.hashes import HASHES
from epaxosdb.core.ready import Executed, Ready
from epaxosdb.node import DeferredApply, FlushPolicy
from protocol.messages import Command, InstanceId
from protocol.replies import Error, Reply
from protocol.resp import encode_reply
from storage.buffered import CARRIED
from storage.interface import Store, Txn, Value, ValueType
from storage.memory import MemoryStore
from tests.commands.differential import injected_value
from tests.commands.test_workspace import (
    T0,
    _collection_request,
    _count_encodings,
    _ops,
    _Passthrough,
)

WIDE = [(b"DBSIZE",), (b"KEYS", b"*"), (b"SCAN", b"0", b"COUNT", b"5"), (b"RANDOMKEY",)]
"""Keyspace-wide reads: a step holding one runs again inside a transaction."""


RARER = frozenset({b"RENAME", b"DUMP", b"COPY", b"TYPE", b"INJECT"})


def _steps(seed: int, count: int) -> list[list[tuple[tuple[bytes, ...], ...]]]:
    """Steps of commands (each one op, or a MULTI of several) over ``_ops``'s mix, with
    keyspace-wide reads and MEMORY USAGE sprinkled in; an ``INJECT`` op is a step alone."""
    rng = random.Random(seed)
    # Fewer of what takes a collection's payload (RENAME, DUMP...) or flushes (INJECT)
    # than ``_ops`` draws, and more changes of the same few collections, so that changes
    # are carried over many steps.
    mixed = iter(_ops(seed, count))
    ops: list[tuple[bytes, ...]] = []
    while len(ops) < count:
        if rng.random() < 0.6:
            op = prepare(_collection_request(rng), T0 + len(ops))
            if isinstance(op, Error) or op[0] in RARER:
                continue
        else:
            op = next(mixed)
            if op[0] in RARER and rng.random() < 0.75:
                continue
        ops.append(op)
    steps: list[list[tuple[tuple[bytes, ...], ...]]] = []
    at = 0
    while at < len(ops):
        step: list[tuple[tuple[bytes, ...], ...]] = []
        for _ in range(rng.choice([1, 1, 1, 2, 3, 8])):
            if at >= len(ops):
                break
            if ops[at][0] == b"INJECT":
                if not step:
                    step.append((ops[at],))
                    at += 1
                break
            size = rng.choice([1, 1, 1, 1, 3])
            cmd = tuple(ops[at : at + size])
            if any(op[0] == b"INJECT" for op in cmd):
                cmd = tuple(ops[at : at + 1])
            at += len(cmd)
            roll = rng.random()
            if roll < 0.03:
                cmd = (*cmd, rng.choice(WIDE))
            elif roll < 0.08:
                cmd = (*cmd, (b"MEMORY", b"USAGE", cmd[-1][1] if len(cmd[-1]) > 1 else b"h0"))
            step.append(cmd)
        steps.append(step)
    return steps


def _inject(store: Store, op: tuple[bytes, ...]) -> None:
    value = injected_value(ValueType(int(op[2])))
    store.write(lambda txn: txn.put(op[1], value))


def _run_deferred(
    steps: list[list[tuple[tuple[bytes, ...], ...]]], seed: int
) -> tuple[list[bytes], list[tuple[bytes, Value]]]:
    """Each step through ``DeferredApply`` (flushes where its policy or a random idle
    says), as the loop runs them; the encoded replies (RESP3) and the final state."""
    rng = random.Random(seed)
    store = MemoryStore()
    keys_max, instances_max = [(16384, 256), (16, 256), (4, 3)][seed % 3]
    policy = FlushPolicy(keys_max=keys_max, instances_max=instances_max)
    apply = DeferredApply(store, 1, policy)
    replies: list[bytes] = []
    ids = 0
    for index, step in enumerate(steps):
        if step[0][0][0] == b"INJECT":
            apply.flush()
            _inject(store, step[0][0])
            continue
        executed = []
        for ops in step:
            ids += 1
            cmd = Command(1, ids, T0 + index, ops, multi=len(ops) > 1)
            executed.append(Executed(InstanceId(1, ids), (cmd,)))
        outbox, _, _ = apply.apply(Ready(to_execute=executed), idle=rng.random() < 0.02)
        replies += [encode_reply(reply, 3) for _, reply in outbox.replies]
    apply.flush()
    return replies, list(store.kv_items())


Steps = list[list[tuple[tuple[bytes, ...], ...]]]


def _run_plain(
    steps: Steps, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[bytes], list[tuple[bytes, Value]]]:
    """Each command executed straight on the store, in its own transaction, and with no
    workspace at all."""
    with monkeypatch.context() as patch:
        patch.setattr(execution, "Workspace", _Passthrough)
        patch.setattr(node, "Workspace", _Passthrough)
        patch.setattr(scripting, "workspace_for", lambda kv: (_Passthrough(kv), False))
        patch.setattr(workspace, "AUDIT", False)
        return _run_one_by_one(steps)


def _run_one_by_one(steps: Steps) -> tuple[list[bytes], list[tuple[bytes, Value]]]:
    store = MemoryStore()
    replies: list[bytes] = []
    ids = 0
    for index, step in enumerate(steps):
        if step[0][0][0] == b"INJECT":
            _inject(store, step[0][0])
            continue
        for ops in step:
            ids += 1
            cmd = Command(1, ids, T0 + index, ops, multi=len(ops) > 1)
            replies.append(encode_reply(_execute_on(store, cmd), 3))
    return replies, list(store.kv_items())


@pytest.mark.parametrize("audit", [True, False], ids=["audited", "as-in-production"])
@pytest.mark.parametrize("seed", range(1, 7))
def test_steps_that_carry_collections_end_as_commands_run_one_by_one(
    seed: int, audit: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = _steps(seed, 1500)
    adopted = [0]
    adopt = workspace.Workspace.adopt

    def counting(self: workspace.Workspace, key: bytes) -> workspace.Held | None:
        held = adopt(self, key)
        adopted[0] += held is not None
        return held

    with monkeypatch.context() as patch:
        patch.setattr(workspace, "AUDIT", audit)
        patch.setattr(workspace.Workspace, "adopt", counting)
        carried_replies, carried_state = _run_deferred(steps, seed)
    # The run does carry collections from step to step (far less often when it flushes
    # every third step).
    assert adopted[0] >= (1 if seed % 3 == 2 else 50)
    plain_replies, plain_state = _run_plain(steps, monkeypatch)
    commands = [ops for step in steps for ops in step if ops[0][0] != b"INJECT"]
    assert len(carried_replies) == len(plain_replies)
    for index, (carried, plain) in enumerate(zip(carried_replies, plain_replies, strict=True)):
        assert carried == plain, (index, commands[index])
    assert carried_state == plain_state
    assert not any(value.payload is CARRIED for _, value in carried_state)


def test_the_check_catches_a_step_that_changes_carried_contents_and_runs_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Broken on purpose: steps holding keyspace-wide commands take carried collections
    over too. Those steps run again inside a transaction, after their first run changed
    the pending contents in place, so the changes count twice: the test above must see
    it."""
    monkeypatch.setattr(commands, "is_keyspace_wide", lambda cmd: False)
    steps = _steps(4, 1500)
    broken = _run_deferred(steps, 4)
    plain = _run_plain(steps, monkeypatch)
    assert broken != plain


def _hset_steps(count: int, fields: int) -> list[Ready]:
    """One HSET per step on a hash of ``fields`` fields (set up by the first step)."""
    fill = (b"HSET", b"h", *[part for i in range(fields) for part in (b"f%d" % i, b"v")])
    cmds = [Command(1, 1, T0, (fill,))] + [
        Command(1, i, T0 + i, ((b"HSET", b"h", b"x%d" % i, b"v"),)) for i in range(2, count + 2)
    ]
    return [Ready(to_execute=[Executed(InstanceId(1, cmd.id), (cmd,))]) for cmd in cmds]


def _execute_on(store: Store, cmd: Command) -> Reply:
    def transaction(txn: Txn) -> Reply:
        return execute(txn, cmd)

    return store.write(transaction)


def _execute_plainly(store: Store, ready: Ready) -> None:
    for ex in ready.to_execute:
        for cmd in ex.cmds:
            _execute_on(store, cmd)


def test_a_hash_changed_by_one_command_per_step_is_encoded_once_per_flush(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _count_encodings(monkeypatch, HASHES)
    store = MemoryStore()
    apply = DeferredApply(store, 1, FlushPolicy(instances_max=100))
    for ready in _hset_steps(249, 1000):
        apply.apply(ready)
    assert calls[0] == 2  # the flushes after the 100th and the 200th step
    apply.flush()
    assert calls[0] == 3
    stored = store.read(lambda kv: kv.get(b"h"))
    assert stored is not None
    assert len(HASHES.decode(stored.payload)) == 1000 + 249


def test_a_raw_read_of_a_carried_hash_encodes_it_once_and_sees_every_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DUMP needs the payload: it gets the encoding of the contents as the earlier steps
    left them (the DUMP of the same commands run straight on a store); the next change
    carries the hash decoded again."""
    dump = Command(1, 100, T0 + 100, ((b"DUMP", b"h"), (b"HLEN", b"h")), multi=True)
    plain = MemoryStore()
    for ready in _hset_steps(3, 10):
        _execute_plainly(plain, ready)
    dumped = _execute_on(plain, dump)
    calls = _count_encodings(monkeypatch, HASHES)
    store = MemoryStore()
    apply = DeferredApply(store, 1)
    for ready in _hset_steps(3, 10):
        apply.apply(ready)
    assert calls[0] == 0
    outbox, _, _ = apply.apply(Ready(to_execute=[Executed(InstanceId(1, 100), (dump,))]))
    assert calls[0] == 1
    assert outbox.replies[0][1] == dumped
    change = Command(1, 101, T0 + 101, ((b"HSET", b"h", b"y", b"v"), (b"HLEN", b"h")), multi=True)
    outbox, _, _ = apply.apply(Ready(to_execute=[Executed(InstanceId(1, 101), (change,))]))
    assert outbox.replies[0][1] == [1, 14]
    assert calls[0] == 1
    apply.flush()
    assert calls[0] == 2
    stored = store.read(lambda kv: kv.get(b"h"))
    assert stored is not None and HASHES.decode(stored.payload)[b"y"] == b"v"


def test_memory_usage_of_a_carried_hash_is_that_of_its_encoding() -> None:
    store = MemoryStore()
    apply = DeferredApply(store, 1)
    for ready in _hset_steps(2, 50):
        apply.apply(ready)
    usage = Command(1, 100, T0 + 100, ((b"MEMORY", b"USAGE", b"h"),))
    carried, _, _ = apply.apply(Ready(to_execute=[Executed(InstanceId(1, 100), (usage,))]))
    apply.flush()
    stored = _execute_on(store, usage._replace(id=101))
    assert carried.replies[0][1] == stored


def test_a_set_whose_ttl_each_write_renews_is_encoded_once_per_flush(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SADD then EXPIRE, one MULTI per step (a set of who is online, kept a minute past its
    last write): the new expiry is given to the decoded set, not to an encoding of it."""
    from epaxosdb.commands.sets import SETS

    calls = _count_encodings(monkeypatch, SETS)
    store = MemoryStore()
    apply = DeferredApply(store, 1, FlushPolicy(instances_max=50))
    for i in range(1, 121):
        deadline = b"%d" % (T0 + 60_000 + i)
        ops = ((b"SADD", b"online", b"u%d" % i), (b"PEXPIREAT", b"online", deadline))
        if i % 30 == 0:
            ops += ((b"PERSIST", b"online"),)
        cmd = Command(1, i, T0 + i, ops, multi=True)
        outbox, _, _ = apply.apply(Ready(to_execute=[Executed(InstanceId(1, i), (cmd,))]))
        assert outbox.replies[0][1] == [1, 1, *([1] if i % 30 == 0 else [])]
    assert calls[0] == 2  # the flushes after the 50th and the 100th step
    apply.flush()
    stored = store.read(lambda kv: kv.get(b"online"))
    assert stored is not None and stored.expire_ms == 0  # the last PERSIST, at step 120
    assert len(SETS.decode(stored.payload)) == 120

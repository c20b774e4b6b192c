"""The apply path: persist → execute → release, for both drivers.

The trio runtime and the deterministic simulator hand this module each
``Ready`` the core produced, through ``DeferredApply``. Every step's
instance records, metadata and deletions are written by one transaction
(one fsync) before its messages and replies are handed back; the key-value
effects of the commands it executed, and their executed marks, are written
together by the same or a later transaction (see ``DeferredApply``). A crash
before a transaction commits loses that step, which the core tolerates; a
crash after it loses only unsent messages, which the protocol tolerates, and
deferred effects, which the restarted core re-creates by executing again.

A step comes in two halves: ``prepare_ready`` executes the commands
against a ``BufferedView`` (the last commit, plus the deferred writes of
earlier steps, plus this step's own writes) and needs no write transaction;
``commit`` then writes records, metadata, deletions and whatever effects are
due, in one transaction. A step whose commands need the whole keyspace
(SCAN, DBSIZE, FLUSHALL, the expiry sweep...) cannot run on a buffered view:
``prepare_ready`` returns ``None`` and ``apply_in_transaction`` runs it
inside its transaction, after every deferred effect. ``apply_ready`` is the
plain path — every step's effects in its own transaction — kept as the
reference the deferred path is tested against.

Read-only commands change nothing, so only the replica whose client asked
runs them; every other replica just marks their instance executed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from epaxosdb import commands
from epaxosdb.commands import workspace
from epaxosdb.commands.event_rules import KEY_MISS
from epaxosdb.commands.notifications import Notices
from epaxosdb.commands.scripting import Guard
from epaxosdb.commands.tally import Tally
from epaxosdb.commands.workspace import UnstoredChange, Workspace
from epaxosdb.core.ready import Ready
from protocol.messages import Command, InstanceId, Message, ReplicaId
from protocol.replies import Error, Published, Reply
from storage.buffered import CARRIED, BufferedView, Carry, NeedsTransaction, Writes, resolve_carried
from storage.changes import ChangeRecorder
from storage.interface import NO_EXPIRY, KeyValueView, StorageError, Store, Txn


@dataclass(slots=True)
class Outbox:
    messages: list[tuple[ReplicaId, Message]] = field(default_factory=list)
    replies: list[tuple[Command, Reply]] = field(default_factory=list)
    """Replies to commands proposed at this replica, in execution order."""
    failures: list[tuple[Command, str]] = field(default_factory=list)
    """Commands whose handler raised (a bug): answered with an error, logged by the driver."""
    published: list[Published] = field(default_factory=list)
    """Messages the step's PUBLISHes (anyone's) posted, in execution order: the driver
    delivers them to its subscribers and fills in their ``receivers``."""
    slow: list[tuple[Command, int, float]] = field(default_factory=list)
    """Ops of this replica's commands that ran for at least the ``Stopwatch``'s
    threshold: the command, the op's index in it, and its seconds (SLOWLOG)."""
    changed: dict[bytes, None] | None = field(default_factory=dict)
    """The keys a step that executed inside its transaction changed (``None``: all of
    them, FLUSHALL); a buffered step's are its ``Prepared.writes``."""
    tally: Tally = field(default_factory=Tally)
    """What the step counted for INFO (``commands.tally``): the keys it removed because
    they expired, and its own clients' commands' keyspace hits and misses. The driver
    adds it to the replica's once the step is done; a step executed again (a buffered
    attempt abandoned for a transaction) counts afresh."""


@dataclass(frozen=True, slots=True)
class Stopwatch:
    """How the runtime watches commands as they execute: it times its own clients' ops
    for SLOWLOG (its clock, and the threshold in seconds, negative: none is timed),
    hears the keyspace events every command causes (``notifications``: the
    ``commands.notifications`` flags it delivers, 0: none), both read once per step,
    and holds its own clients' read-only scripts to their users' rules (``guard``).
    The simulator gives none: its steps take no time that matters, and nobody
    subscribes."""

    clock: Callable[[], float]
    threshold_s: Callable[[], float]
    notifications: Callable[[], int] = lambda: 0
    guard: Callable[[Command], Guard | None] = lambda cmd: None
    """What refuses, inside this replica's own client's read-only script, the commands its
    user may not run (ACL; ``None``: a user allowed every command)."""


@dataclass(slots=True)
class Prepared:
    """A step whose commands already ran: what its transaction must write, what leaves after."""

    ready: Ready
    writes: Writes
    """The step's net key-value effect (``None``: the key was deleted)."""
    outbox: Outbox
    writes_floor: int = NO_EXPIRY
    """A lower bound of the nonzero expiries in ``writes`` (``BufferedView.writes_floor``)."""
    carried: Carry = field(default_factory=dict)
    """What stands behind the placeholders in ``writes`` (``BufferedView.carried``)."""


@dataclass(slots=True)
class Effects:
    """Key-value writes and the marks of the instances that made them: always one transaction.

    That pairing is what lets a restart trust the marks: an instance marked
    executed has its effects in the store, and one that is not is executed
    again (the core re-executes committed, unmarked instances on restore).
    """

    writes: Writes = field(default_factory=dict)
    executed: list[InstanceId] = field(default_factory=list)
    payload_bytes: int = 0
    """Rough size of the values in ``writes`` (for a caller that bounds what it holds)."""
    expiry_floor: int = NO_EXPIRY
    """A lower bound of the nonzero expiries in ``writes``: lets later steps, which read
    ``writes`` back through a ``BufferedView``, skip expiry checks cheaply."""
    carried: Carry = field(default_factory=dict)
    """What stands behind the placeholders in ``writes``: collections kept decoded from
    step to step until they are written (``storage.buffered``)."""

    @classmethod
    def of(cls, prepared: Prepared) -> Effects:
        inst = [ex.inst for ex in prepared.ready.to_execute]
        effects = cls(
            prepared.writes, inst, expiry_floor=prepared.writes_floor, carried=prepared.carried
        )
        effects.resolve()
        return effects

    def add(self, prepared: Prepared) -> None:
        """Fold a later step in: its writes win over earlier ones for the same key."""
        writes = prepared.writes
        self.writes.update(writes)
        self.expiry_floor = min(self.expiry_floor, prepared.writes_floor)
        self.executed.extend(ex.inst for ex in prepared.ready.to_execute)
        size = 0
        for value in writes.values():
            if value is not None:
                size += len(value.payload)
        if prepared.carried or self.carried:
            size += self._carry(writes, prepared.carried)
        self.payload_bytes += size

    def _carry(self, writes: Writes, theirs: Carry) -> int:
        """Keep what stands behind a later step's placeholders, forget what its real
        values replaced; the rough size of what is newly carried (once while it stays)."""
        carried = self.carried
        size = 0
        for key, value in writes.items():
            if value is not None and value.payload is CARRIED:
                if key not in carried:
                    size += theirs[key].size_hint()
                carried[key] = theirs[key]
            else:
                carried.pop(key, None)
        return size

    def resolve(self) -> None:
        """Encode what is carried: the writes are about to be given to a transaction."""
        if self.carried:
            resolve_carried(self.writes, self.carried)

    def __bool__(self) -> bool:
        return bool(self.writes or self.executed)


def needs_write(ready: Ready) -> bool:
    """Whether the step has anything to make durable (else it costs no transaction)."""
    return bool(ready.to_persist or ready.meta or ready.to_execute or ready.to_delete)


def _handler_failure(exc: Exception) -> tuple[Reply, str]:
    """A handler bug's error reply (the same on every replica) and what to log."""
    detail = f"{type(exc).__name__}: {exc}"
    return Error(f"ERR internal error while executing the command ({detail})"), detail


def _execute(
    kv: KeyValueView,
    ready: Ready,
    me: ReplicaId,
    out: Outbox,
    stopwatch: Stopwatch | None = None,
) -> None:
    """Run the step's commands in order; collect replies to this replica's own.

    A handler bug becomes an error reply, deterministically everywhere, and
    must not take the replica down. ``NeedsTransaction`` is not a bug: it
    passes through so the caller can run the step inside a transaction. Nor
    is a ``StorageError`` (a corrupt record, a failed read): it is not the
    same everywhere, it may have left the transaction unusable, and replying
    as if the command had run would hide a damaged replica — it stops the
    replica instead.
    """
    # Callers may run this more than once for one step (a retried transaction,
    # a buffered attempt abandoned): start clean.
    out.replies.clear()
    out.failures.clear()
    out.published.clear()
    out.slow.clear()
    out.tally = Tally()
    holds = commands.holds_collections
    if workspace.AUDIT or any(holds(cmd) for ex in ready.to_execute for cmd in ex.cmds):
        # Collections carried over from earlier steps (``storage.buffered``) are changed
        # in place, so only by a step that cannot be thrown away for a transaction.
        wide = commands.is_keyspace_wide
        adopt = not any(wide(cmd) for ex in ready.to_execute for cmd in ex.cmds)
        with Workspace(kv, carry=True, adopt=adopt) as ws:
            _execute_in(ws, ready, me, out, stopwatch)
    else:
        _execute_in(kv, ready, me, out, stopwatch)


def _execute_in(
    kv: KeyValueView, ready: Ready, me: ReplicaId, out: Outbox, stopwatch: Stopwatch | None
) -> None:
    """``_execute``'s loop, in one workspace for the whole step when any of its commands
    changes collections: one that many of them change (a hot hash, a leaderboard) is
    encoded once."""
    execute, is_read_only, reply_to = commands.execute, commands.is_read_only, out.replies.append
    settle_expiry_of = commands.settle_expiry_of
    tally = out.tally
    clock, threshold = (stopwatch.clock, stopwatch.threshold_s()) if stopwatch else (None, -1.0)
    flags = stopwatch.notifications() if stopwatch else 0
    tally.missed = [] if flags & KEY_MISS else None  # keymiss events name the keys
    guard_of = stopwatch.guard if stopwatch else None
    notices: Notices | None = None
    for ex in ready.to_execute:
        for cmd in ex.cmds:
            mine = cmd.origin == me
            if flags:
                notices = Notices(flags)
            try:
                if not mine and is_read_only(cmd):
                    # Its handlers run at its proposer; what it found expired goes here too.
                    settle_expiry_of(kv, cmd, notices, tally)
                    if notices is not None:
                        out.published += _noticed_publications(cmd, None, notices)
                    continue
                guard = guard_of(cmd) if mine and guard_of is not None else None
                if mine and clock is not None and threshold >= 0:
                    reply = _execute_timed(
                        kv, cmd, clock, threshold, out.slow, notices, tally, guard
                    )
                else:
                    reply = execute(kv, cmd, None, notices, tally, tally if mine else None, guard)
            except (NeedsTransaction, StorageError, UnstoredChange):
                raise
            except Exception as exc:  # a handler bug must not take the replica down
                reply, detail = _handler_failure(exc)
                out.failures.append((cmd, detail))
            if notices is not None:
                out.published += _noticed_publications(cmd, reply, notices)
            elif type(reply) is Published or (cmd.multi and type(reply) is list):
                out.published += publications(reply)
            if mine:
                reply_to((cmd, reply))


def _noticed_publications(cmd: Command, reply: Reply, notices: Notices) -> list[Published]:
    """What ``cmd`` published and the keyspace events it caused, in the order they
    happened: op by op (a MULTI's settling first), each op's events before what it
    published."""
    by_op = notices.published()
    replies = reply if cmd.multi and type(reply) is list else [reply]
    messages = by_op.get(-1, [])
    for index, item in enumerate(replies):
        messages += by_op.get(index, ())
        if type(item) is Published:
            messages.append(item)
    return messages


def _execute_timed(
    kv: KeyValueView,
    cmd: Command,
    clock: Callable[[], float],
    threshold: float,
    slow: list[tuple[Command, int, float]],
    notices: Notices | None,
    tally: Tally,
    guard: Guard | None,
) -> Reply:
    """``commands.execute`` of this replica's own ``cmd`` with each op timed; the ops
    that reached ``threshold`` seconds go to ``slow``."""
    started = clock()
    if not cmd.multi:
        reply = commands.execute(kv, cmd, None, notices, tally, tally, guard)
        seconds = clock() - started
        if seconds >= threshold:
            slow.append((cmd, 0, seconds))
        return reply
    last = started

    def lap(index: int) -> None:
        nonlocal last
        now = clock()
        if now - last >= threshold:
            slow.append((cmd, index, now - last))
        last = now

    return commands.execute(kv, cmd, lap, notices, tally, tally, guard)


def publications(reply: Reply) -> list[Published]:
    """What a command's reply says it published: PUBLISH's own reply, or the PUBLISHes
    among a MULTI's (or a pipelined run's) replies."""
    if type(reply) is Published:
        return [reply]
    if type(reply) is list:
        return [item for item in reply if type(item) is Published]
    return []


def prepare_ready(
    store: Store,
    ready: Ready,
    me: ReplicaId,
    pending: Sequence[Writes] = (),
    pending_floor: int | None = None,
    stopwatch: Stopwatch | None = None,
    pending_carry: Sequence[Carry] = (),
) -> Prepared | None:
    """Execute ``ready``'s commands outside any write transaction; ``None`` if they cannot be.

    ``pending`` holds the net effects of earlier steps that were prepared but
    are not committed yet, newest first; the caller must commit this step
    after them (``pending_floor``: a lower bound of their nonzero expiries, if
    known). Nothing is written here.
    """
    out = Outbox(messages=ready.messages)
    if not ready.to_execute:
        return Prepared(ready, {}, out)

    def run(base: KeyValueView) -> Prepared | None:
        view = BufferedView(base, pending, pending_floor, pending_carry)
        try:
            _execute(view, ready, me, out, stopwatch)
        except NeedsTransaction:
            return None
        return Prepared(ready, view.writes, out, view.writes_floor, view.carried)

    return store.read(run)


def needs_commit(ready: Ready, effects: Effects | None) -> bool:
    """Whether ``commit(store, ready, effects)`` has anything to write."""
    return bool(ready.to_persist or ready.meta or ready.to_delete or effects)


def commit(store: Store, ready: Ready, effects: Effects | None) -> bool:
    """One transaction: ``ready``'s records, metadata and deletions, plus ``effects``.

    ``effects`` are key-value writes with the marks of the instances they
    came from — ``ready``'s own, or (when the caller defers them) those of
    several steps; they always land together. Returns whether anything
    was written (a step with nothing durable costs no fsync).
    """
    if not needs_commit(ready, effects):
        return False

    def transaction(txn: Txn) -> None:
        _write_records(txn, ready)
        if effects:
            _apply_effects(txn, effects)
        if ready.to_delete:
            # After the marks: an instance may execute and be collected in one step.
            txn.delete_instances(ready.to_delete)

    store.write(transaction)
    return True


def _write_records(txn: Txn, ready: Ready) -> None:
    """The part of every step's transaction that messages and replies rely on."""
    if ready.to_persist:
        txn.put_instances(ready.to_persist)
    for name, value in ready.meta.items():
        txn.set_meta(name, value)


def commit_prepared(store: Store, prepared: Prepared) -> None:
    """Make a prepared step durable with its own effects: one transaction, one fsync."""
    commit(store, prepared.ready, Effects.of(prepared))


def _apply_effects(txn: Txn, effects: Effects) -> None:
    if effects.writes:
        txn.apply_writes(effects.writes)
    if effects.executed:
        txn.mark_executed(effects.executed)


def apply_in_transaction(
    store: Store,
    ready: Ready,
    me: ReplicaId,
    before: Effects | None = None,
    stopwatch: Stopwatch | None = None,
) -> Outbox:
    """Persist and execute ``ready`` inside one write transaction (any command may run).

    Every earlier step must be committed, except for ``before``: effects of
    earlier steps not yet in the store, applied first in the same
    transaction, so the commands see everything that executed before them.
    """
    out = Outbox(messages=ready.messages)
    if not (needs_write(ready) or before):
        return out

    def transaction(txn: Txn) -> None:
        _write_records(txn, ready)
        if before:
            _apply_effects(txn, before)
        recorder = ChangeRecorder(txn)
        _execute(recorder, ready, me, out, stopwatch)
        out.changed = None if recorder.cleared else recorder.changed
        if ready.to_execute:
            txn.mark_executed(ex.inst for ex in ready.to_execute)
        if ready.to_delete:
            txn.delete_instances(ready.to_delete)

    store.write(transaction)
    return out


def apply_ready(store: Store, ready: Ready, me: ReplicaId) -> Outbox:
    """Make ``ready`` durable and execute it in one transaction; return what may now leave."""
    prepared = prepare_ready(store, ready, me)
    if prepared is None:
        return apply_in_transaction(store, ready, me)
    commit_prepared(store, prepared)
    return prepared.outbox


@dataclass(frozen=True, slots=True)
class FlushPolicy:
    """When deferred key-value effects must be written (see ``DeferredApply``)."""

    keys_max: int = 32768
    """Deferred key-value writes that make the next transaction write them all.

    Writing many random keys in one transaction shares B-tree pages between
    them, so each costs fewer page writes than when every small batch writes
    its own (ecosystem.md §6.2: the cost is per page and per commit). The
    bigger the batch, the longer the loop waits for it: 16,384 -> 32,768 took
    a replica from 102,145 to 118,168 pipelined SETs/s and a 3-replica cluster
    from 55,991 to 61,920, p99 78 -> 87 ms; 65,536 gained little more for one
    replica and nothing for three, whose p99 went to 144 ms (tools/bench_acceptance.py,
    -P 16, medians of 3 rounds, 2026-11-29)."""
    instances_max: int = 256
    """Deferred executed instances that force a flush: bounds what a restart re-executes."""
    bytes_max: int = 16 << 20
    """Deferred value bytes that force a flush: bounds the memory the deferred writes hold."""
    when_idle: bool = True
    """Flush when the driver says the replica is idle (the load paused): the disk
    catches up when it costs nobody anything. The simulator turns it off at times,
    so that crashes find effects deferred for longer."""


class DeferredApply:
    """The apply path both drivers take: execute each step, defer its key-value effects.

    A step's records and metadata always go into its own transaction, so every
    vote, commit and command a message or reply relies on is durable before
    it leaves. The key-value writes of the commands it executed, and the
    marks saying those instances ran, gather in memory (later steps read them
    back through a ``BufferedView``) and are written together by a later
    step's transaction: once ``policy`` says enough has gathered, when the
    driver says the replica is idle (the load paused), and whenever a step's
    commands need the whole keyspace (then the step executes inside its
    transaction, after the deferred effects: ``apply_in_transaction``). Log GC
    does not force a flush: it deletes only instances below the watermark every
    replica reported *durably* executed (``Replica.executed_durable``), whose
    effects were flushed before that watermark could pass them.

    Effects and marks always land together. A replica that crashes before
    they land restarts with those instances committed but not marked
    executed; the core executes them again, before anything that depends on
    them, into the same state (execution is deterministic). The log is the
    durable truth and the key-value state on disk trails it by at most
    ``policy``. The simulator drives this class too, crashes included.
    """

    def __init__(
        self,
        store: Store,
        me: ReplicaId,
        policy: FlushPolicy | None = None,
        stopwatch: Stopwatch | None = None,
    ) -> None:
        self._store = store
        self._me = me
        self.policy = policy or FlushPolicy()
        self.stopwatch = stopwatch
        """Times this replica's commands for SLOWLOG (the runtime's; none in the simulator)."""
        self.unflushed = Effects()
        """Effects of executed steps that no transaction has been given yet."""

    def prepare(self, ready: Ready, idle: bool = False) -> tuple[Prepared | None, Effects | None]:
        """Execute ``ready``; return it (``None``: run it in a transaction) and the
        deferred effects its transaction must write (``None``: none this time).

        ``idle`` is the driver's judgement that the load paused. Only the driver can
        tell: a step that executes nothing says little in a cluster, where most
        steps under load only carry votes, and flushing on such steps would write
        a few thousand keys at a time instead of ``policy.keys_max``."""
        unflushed = self.unflushed
        prepared = prepare_ready(
            self._store,
            ready,
            self._me,
            (unflushed.writes,),
            unflushed.expiry_floor,
            self.stopwatch,
            (unflushed.carried,),
        )
        if prepared is not None:
            unflushed.add(prepared)
            policy = self.policy
            full = (
                len(unflushed.writes) >= policy.keys_max
                or len(unflushed.executed) >= policy.instances_max
                or unflushed.payload_bytes >= policy.bytes_max
            )
            if not (full or (idle and policy.when_idle)):
                return prepared, None
        if not unflushed:
            return prepared, None
        self.unflushed = Effects()
        unflushed.resolve()
        return prepared, unflushed

    def flush(self) -> Effects | None:
        """Write every deferred effect now (clean shutdown, or a checker comparing stores)."""
        effects, self.unflushed = self.unflushed, Effects()
        if not effects:
            return None
        effects.resolve()
        self._store.write(lambda txn: _apply_effects(txn, effects))
        return effects

    def apply(self, ready: Ready, idle: bool = False) -> tuple[Outbox, Effects | None, bool]:
        """``prepare`` and the transaction in one call (a driver with no threads).

        Returns what may leave, the deferred effects written now, and whether
        the step executed inside its transaction (its own marks are then
        durable too)."""
        prepared, flush = self.prepare(ready, idle)
        if prepared is None:
            outbox = apply_in_transaction(self._store, ready, self._me, flush, self.stopwatch)
            return outbox, flush, True
        commit(self._store, ready, flush)
        return prepared.outbox, flush, False

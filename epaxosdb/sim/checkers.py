"""Invariants of brief §10.2, checked incrementally while the simulator runs.

The checker sees only what crosses a replica's boundary — records it made
durable, messages it released, batches it executed — never the core's
private state, so it judges the protocol the way the rest of the world would.
Every hook is proportional to what happened in the step, so checking after
every step stays cheap:

* ``on_persist`` — ballots never decrease and ``vbal <= bal``; status never
  decreases; committed values agree everywhere (agreement, stability);
  committed commands were proposed by a client (nontriviality); any two
  interfering committed instances see each other (visibility).
* ``on_send`` — every vote, promise, commit and PreAccept a replica releases
  is covered by what it has made durable; no replica ever proposes two
  batches for one of its own instances (instance uniqueness).
* ``on_execute`` — no command runs twice at a replica; interfering instances
  run in the same order everywhere; an instance runs only after the
  interfering instances it depends on (execution consistency and safety).

``final`` adds what needs quiescence: equal key-value states and liveness.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from epaxosdb.core.conflicts import batch_access
from epaxosdb.core.ready import Executed
from protocol.messages import (
    Accept,
    AcceptReply,
    Access,
    Command,
    Commit,
    InstanceId,
    InstanceRecord,
    Message,
    PreAccept,
    PreAcceptReply,
    PrepareReply,
    ReplicaId,
    Status,
    SyncReply,
)

_Execution = tuple[InstanceId, list[tuple[ReplicaId, int]], list[bytes]]
"""One instance a replica executed: its id, its commands' ids, the keys it wrote."""


class InvariantViolation(AssertionError):
    def __init__(self, invariant: str, detail: str) -> None:
        super().__init__(f"{invariant}: {detail}")
        self.invariant = invariant
        self.detail = detail


@dataclass
class _KeyIndex:
    """Committed instances touching one key, per row, as sorted instance numbers."""

    writers: list[list[int]]
    readers: list[list[int]]


@dataclass
class CheckerStatistics:
    commits_checked: int = 0
    messages_checked: int = 0
    executions_checked: int = 0
    visibility_pairs: int = 0


@dataclass
class Checkers:
    replica_ids: tuple[ReplicaId, ...]
    access_fn: Callable[[Command], Access]
    disks: dict[ReplicaId, dict[InstanceId, InstanceRecord]] = field(default_factory=dict)
    committed: dict[InstanceId, InstanceRecord] = field(default_factory=dict)
    proposed: set[tuple[ReplicaId, int]] = field(default_factory=set)
    stats: CheckerStatistics = field(default_factory=CheckerStatistics)

    def __post_init__(self) -> None:
        self._pos = {r: p for p, r in enumerate(self.replica_ids)}
        for r in self.replica_ids:
            self.disks.setdefault(r, {})
        self._keys: dict[bytes, _KeyIndex] = {}
        self._access: dict[InstanceId, Access] = {}
        self._b0_batches: dict[InstanceId, tuple[Command, ...]] = {}
        self._executed_cmds: dict[ReplicaId, set[tuple[ReplicaId, int]]] = {
            r: set() for r in self.replica_ids
        }
        self._executed_insts: dict[ReplicaId, set[InstanceId]] = {
            r: set() for r in self.replica_ids
        }
        self._write_order: dict[bytes, list[InstanceId]] = {}
        self._write_count: dict[ReplicaId, dict[bytes, int]] = {r: {} for r in self.replica_ids}
        self._read_position: dict[tuple[InstanceId, bytes], int] = {}
        self._volatile: dict[ReplicaId, list[_Execution]] = {r: [] for r in self.replica_ids}
        """Per replica, executions whose marks are not durable yet, oldest first: what a
        crash undoes (the replica then executes those instances again)."""
        self._wiped: set[ReplicaId] = set()
        self._empty: set[ReplicaId] = set()
        """Wiped and not yet restored from a snapshot."""
        self._collected: set[InstanceId] = set()
        """Instances some replica deleted: every replica had executed them, so anything
        committed afterwards runs after them everywhere, dependency or not."""
        self._lacking: dict[InstanceId, set[ReplicaId]] = {}
        """Per deleted instance: replicas left behind without it on disk when it was
        deleted, until they have it there (a snapshot from one of them lacks it too)."""

    # --- helpers --------------------------------------------------------------

    def _fail(self, invariant: str, detail: str) -> None:
        raise InvariantViolation(invariant, detail)

    def access(self, rec: InstanceRecord) -> Access:
        acc = self._access.get(rec.id)
        if acc is None:
            cmds = rec.cmds or ()
            acc = batch_access([self.access_fn(c) for c in cmds]) if cmds else Access()
            self._access[rec.id] = acc
        return acc

    def note_proposed(self, cmd: Command) -> None:
        self.proposed.add((cmd.origin, cmd.id))

    # --- persistence ----------------------------------------------------------

    def on_persist(self, r: ReplicaId, records: Iterable[InstanceRecord]) -> None:
        disk = self.disks[r]
        for rec in records:
            prev = disk.get(rec.id)
            if rec.vbal > rec.bal:
                self._fail(
                    "ballots", f"replica {r} stored {rec.id} with vbal {rec.vbal} > bal {rec.bal}"
                )
            if prev is not None:
                if rec.bal < prev.bal or rec.vbal < prev.vbal:
                    self._fail(
                        "ballots",
                        f"replica {r} lowered the ballots of {rec.id}: "
                        f"bal {prev.bal}->{rec.bal}, vbal {prev.vbal}->{rec.vbal}",
                    )
                if rec.status < prev.status:
                    self._fail("stability", f"replica {r} moved {rec.id} from {prev.status.name} "
                               f"back to {rec.status.name}")
                if prev.status >= Status.COMMITTED and (prev.cmds, prev.seq, prev.deps) != (
                    rec.cmds, rec.seq, rec.deps
                ):
                    self._fail("stability", f"replica {r} changed committed {rec.id}")
            disk[rec.id] = rec
            if rec.status >= Status.COMMITTED:
                self._on_commit(r, rec)

    def _on_commit(self, r: ReplicaId, rec: InstanceRecord) -> None:
        known = self.committed.get(rec.id)
        if known is not None:
            if (known.cmds, known.seq, known.deps) != (rec.cmds, rec.seq, rec.deps):
                self._fail(
                    "agreement",
                    f"{rec.id} committed as seq={known.seq} deps={known.deps} "
                    f"cmds={_ids(known.cmds)} and at replica {r} as seq={rec.seq} "
                    f"deps={rec.deps} cmds={_ids(rec.cmds)}",
                )
            return
        self.stats.commits_checked += 1
        self.committed[rec.id] = rec
        for c in rec.cmds or ():
            if (c.origin, c.id) not in self.proposed:
                self._fail("nontriviality", f"{rec.id} committed command {c.origin}/{c.id} "
                           "that no client proposed")
        self._check_visibility(rec)

    def _check_visibility(self, g: InstanceRecord) -> None:
        if not g.cmds:
            return
        acc = self.access(g)
        n = len(self.replica_ids)
        gp = self._pos[g.id.replica]
        for key, writes in [(k, True) for k in acc.writes] + [(k, False) for k in acc.reads]:
            idx = self._keys.get(key)
            if idx is None:
                idx = self._keys[key] = _KeyIndex([[] for _ in range(n)], [[] for _ in range(n)])
            for q in range(n):
                lists = (idx.writers[q], idx.readers[q]) if writes else (idx.writers[q],)
                row = self.replica_ids[q]
                for lst in lists:
                    start = bisect.bisect_right(lst, g.deps[q])
                    for j in lst[start:]:
                        d = self.committed[InstanceId(row, j)]
                        self.stats.visibility_pairs += 1
                        if d.id in self._collected and not self._lacking.get(d.id):
                            continue  # every replica ran d, g runs after it everywhere
                        if d.id != g.id and g.id.index > d.deps[gp]:
                            self._fail(
                                "visibility",
                                f"interfering {g.id} (deps {g.deps}) and {d.id} "
                                f"(deps {d.deps}) do not depend on each other (key {key!r})",
                            )
            target = idx.writers[gp] if writes else idx.readers[gp]
            bisect.insort(target, g.id.index)

    # --- messages ---------------------------------------------------------------

    def on_send(self, r: ReplicaId, m: Message) -> None:
        """``m`` is about to leave replica ``r``: what it claims must be durable there."""
        self.stats.messages_checked += 1
        disk = self.disks[r]
        if isinstance(m, SyncReply):
            for c in m.commits:
                self.on_send(r, c)
            return
        if isinstance(m, PreAcceptReply | AcceptReply | PrepareReply):
            if not m.ok:
                return
            rec = disk.get(m.inst)
            if rec is None:
                self._fail("durability", f"replica {r} sent {type(m).__name__} for {m.inst} "
                           "with nothing on disk")
                return
            committed = rec.status >= Status.COMMITTED
            if rec.bal < m.ballot and not committed:
                self._fail("durability", f"replica {r} promised {m.ballot} for {m.inst} but its "
                           f"disk holds bal {rec.bal}")
            if isinstance(m, PreAcceptReply):
                superseded = rec.vbal > m.ballot or rec.status > Status.PREACCEPTED
                same = rec.vbal == m.ballot and (rec.seq, rec.deps) == (m.seq, m.deps)
                if not (superseded or same):
                    self._fail("durability", f"replica {r} voted seq={m.seq} deps={m.deps} at "
                               f"{m.ballot} for {m.inst}; its disk holds {rec}")
            elif isinstance(m, AcceptReply) and not (committed or rec.vbal >= m.ballot):
                self._fail("durability", f"replica {r} accepted {m.inst} at {m.ballot}; its disk "
                           f"holds vbal {rec.vbal}")
        elif isinstance(m, Commit):
            rec = disk.get(m.inst)
            if rec is None or rec.status < Status.COMMITTED or (rec.cmds, rec.seq, rec.deps) != (
                m.cmds, m.seq, m.deps
            ):
                self._fail("durability", f"replica {r} sent Commit for {m.inst} without the "
                           f"commit on disk ({rec})")
        elif isinstance(m, PreAccept | Accept):
            rec = disk.get(m.inst)
            if rec is None or (rec.vbal < m.ballot and rec.status < Status.COMMITTED):
                self._fail("durability", f"replica {r} sent {type(m).__name__} for {m.inst} at "
                           f"{m.ballot} before persisting its own vote ({rec})")
            if isinstance(m, PreAccept) and m.ballot.is_initial() and m.inst.replica == r:
                first = self._b0_batches.setdefault(m.inst, m.cmds)
                if first != m.cmds and self._reused_after_wipe(r, m.inst):
                    self._b0_batches[m.inst] = m.cmds
                elif first != m.cmds:
                    self._fail("instance uniqueness", f"replica {r} proposed two batches in "
                               f"{m.inst}: {_ids(first)} and {_ids(m.cmds)}")

    def _reused_after_wipe(self, r: ReplicaId, inst: InstanceId) -> bool:
        """A replica that lost its disk may number an instance again that nobody else
        ever stored: no vote was cast for the first batch, so nothing can have chosen it."""
        if r not in self._wiped or inst in self.committed:
            return False
        return all(inst not in disk for q, disk in self.disks.items() if q != r)

    def on_delete(
        self, r: ReplicaId, ids: Iterable[InstanceId], left_behind: frozenset[ReplicaId]
    ) -> None:
        """GC safety: an instance is deleted only once every replica has executed it,
        but those ``r`` left behind (at most F: ``core.laggards``).

        A replica that lost its disk gets what was deleted from its snapshot, which
        ``on_snapshot`` checks. One left behind may never get it: that it then runs
        nothing out of order is what the execution checks see."""
        if len(left_behind) > (len(self.replica_ids) - 1) // 2:
            self._fail("gc safety", f"replica {r} left {sorted(left_behind)} behind, more than F")
        ids = list(ids)
        volatile = {q: {v[0] for v in vs} for q, vs in self._volatile.items()} if ids else {}
        for iid in ids:
            lacking = self._lacking.setdefault(iid, set())
            for other, done in self._executed_insts.items():
                if other in self._empty:
                    continue
                if iid not in done and other not in left_behind:
                    self._fail("gc safety", f"replica {r} deleted {iid} before replica {other} "
                               "executed it")
                if other in left_behind and (iid not in done or iid in volatile[other]):
                    lacking.add(other)  # a crash may still undo an execution not on disk
            self._collected.add(iid)

    # --- execution --------------------------------------------------------------

    def on_execute(self, r: ReplicaId, executed: list[Executed]) -> None:
        batch = {ex.inst for ex in executed}
        done_cmds = self._executed_cmds[r]
        done = self._executed_insts[r]
        for ex in executed:
            self.stats.executions_checked += 1
            if ex.inst in done:
                self._fail("execution", f"replica {r} executed {ex.inst} twice")
            rec = self.committed.get(ex.inst)
            if rec is None:
                self._fail("execution", f"replica {r} executed {ex.inst}, which is not committed")
                return
            if ex.cmds != (rec.cmds or ()):
                self._fail("execution", f"replica {r} executed {ex.inst} with another batch")
            cmd_keys = []
            for c in ex.cmds:
                key = (c.origin, c.id)
                if key in done_cmds:
                    self._fail("nontriviality", f"replica {r} executed command {key} twice")
                done_cmds.add(key)
                cmd_keys.append(key)
            self._check_dependencies_ran(r, rec, done, batch)
            written = self._check_order(r, rec)
            done.add(ex.inst)
            self._volatile[r].append((ex.inst, cmd_keys, written))

    def on_flush(self, r: ReplicaId, executed: Iterable[InstanceId]) -> None:
        """These instances' effects and marks reached the store: a crash keeps them now.

        Deferred effects are flushed oldest first, so what stays volatile is always
        a suffix of the replica's execution history."""
        durable = set(executed)
        if durable:
            self._volatile[r] = [v for v in self._volatile[r] if v[0] not in durable]
            for inst in durable:
                lacking = self._lacking.get(inst)
                if lacking:
                    lacking.discard(r)

    def on_crash(self, r: ReplicaId) -> None:
        """Forget executions the crash undid: the replica will run them again."""
        counts = self._write_count[r]
        for inst, cmd_keys, written in reversed(self._volatile[r]):
            self._executed_insts[r].discard(inst)
            self._executed_cmds[r].difference_update(cmd_keys)
            for key in written:
                counts[key] -= 1
        self._volatile[r] = []

    def on_wipe(self, r: ReplicaId) -> None:
        """``r`` lost its disk: it holds nothing and has executed nothing any more."""
        self._wiped.add(r)
        self._empty.add(r)
        for lacking in self._lacking.values():
            lacking.discard(r)
        self.disks[r] = {}
        self._executed_insts[r] = set()
        self._executed_cmds[r] = set()
        self._write_count[r] = {}
        self._volatile[r] = []

    def on_snapshot(self, r: ReplicaId, source: ReplicaId) -> None:
        """``r`` installed ``source``'s durable state: its committed records, and exactly
        the executions whose effects had reached ``source``'s store."""
        self.disks[r] = {
            i: rec for i, rec in self.disks[source].items() if rec.status >= Status.COMMITTED
        }
        volatile = self._volatile[source]
        undone = {inst for inst, _, _ in volatile}
        self._executed_insts[r] = self._executed_insts[source] - undone
        self._executed_cmds[r] = self._executed_cmds[source] - {
            c for _, cmds, _ in volatile for c in cmds
        }
        counts = dict(self._write_count[source])
        for _, _, written in volatile:
            for key in written:
                counts[key] -= 1
        self._write_count[r] = counts
        self._volatile[r] = []
        self._empty.discard(r)
        # A source that was left behind (and does not know yet) may lack deleted
        # instances; the joiner then lacks them too, as its source did.
        missing = set()
        for i in self._collected - self._executed_insts[r]:
            if source in self._lacking.get(i, ()):
                self._lacking[i].add(r)
            else:
                missing.add(i)
        if missing:
            self._fail("gc safety", f"replica {r} installed a snapshot of replica {source} "
                       f"without {sorted(missing)[:3]}, which were deleted")

    def _check_dependencies_ran(
        self, r: ReplicaId, x: InstanceRecord, done: set[InstanceId], batch: set[InstanceId]
    ) -> None:
        """Execution safety: the latest interfering instance x depends on, per row and key,
        ran before x here or runs in the same step (its SCC)."""
        if not x.cmds:
            return
        acc = self.access(x)
        keys = [(k, True) for k in acc.writes] + [(k, False) for k in acc.reads]
        for key, writes in keys:
            idx = self._keys.get(key)
            if idx is None:
                continue
            for q, row in enumerate(self.replica_ids):
                lists = (idx.writers[q], idx.readers[q]) if writes else (idx.writers[q],)
                for lst in lists:
                    i = bisect.bisect_right(lst, x.deps[q]) - 1
                    if i < 0:
                        continue
                    wid = InstanceId(row, lst[i])
                    if wid != x.id and wid not in done and wid not in batch:
                        self._fail("execution safety", f"replica {r} executed {x.id} before "
                                   f"{wid}, which it depends on through key {key!r}")

    def _check_order(self, r: ReplicaId, x: InstanceRecord) -> list[bytes]:
        """Execution consistency: per key, the same sequence of writes at every replica, and
        every read between the same two writes. Returns the keys ``x`` wrote."""
        if not x.cmds:
            return []
        acc = self.access(x)
        counts = self._write_count[r]
        for key in acc.reads:
            pos = counts.get(key, 0)
            seen = self._read_position.setdefault((x.id, key), pos)
            if seen != pos:
                self._fail("execution consistency", f"{x.id} read {key!r} after {seen} writes "
                           f"at one replica and after {pos} at replica {r}")
        for key in acc.writes:
            pos = counts.get(key, 0)
            order = self._write_order.setdefault(key, [])
            if pos < len(order):
                if order[pos] != x.id:
                    self._fail("execution consistency", f"write #{pos} to {key!r} is {order[pos]} "
                               f"elsewhere but {x.id} at replica {r}")
            else:
                order.append(x.id)
            counts[key] = pos + 1
        return list(acc.writes)


def _ids(cmds: tuple[Command, ...] | None) -> str:
    if cmds is None:
        return "?"
    if not cmds:
        return "NO-OP"
    return ",".join(f"{c.origin}/{c.id}" for c in cmds)

"""A hand-driven cluster of cores for scenario tests (raft interaction tests, h11 ConnectionPair).

Each replica's "disk" is a dict of the records and metadata its Readys
persisted; messages a Ready releases wait in ``wire`` until a test delivers,
drops or reorders them. ``crash`` throws away everything but the disk;
``restart`` rebuilds the core from the disk alone, exactly as the runtime
does. Commands are tiny: ``("SET", key, value)`` writes a key, ``("GET",
key)`` reads it, ``("FLUSH",)`` writes everything.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from epaxosdb.core.config import ReplicaConfig
from epaxosdb.core.ready import SnapshotWanted
from epaxosdb.core.replica import Replica
from epaxosdb.core.state import (
    META_GC_FLOOR,
    META_GC_WATERMARK,
    META_JOIN_BOUND,
    META_NEXT_INSTANCE,
    encode_rows,
)
from protocol.messages import (
    Access,
    Command,
    InstanceId,
    InstanceRecord,
    Message,
    ReplicaId,
    Status,
)


def access(cmd: Command) -> Access:
    reads: set[bytes] = set()
    writes: set[bytes] = set()
    global_write = False
    for op in cmd.ops:
        if op[0] == b"SET":
            writes.add(op[1])
        elif op[0] == b"GET":
            reads.add(op[1])
        elif op[0] == b"FLUSH":
            global_write = True
    return Access(frozenset(reads - writes), frozenset(writes), False, global_write)


_ids = iter(range(1, 1 << 62))


def set_cmd(origin: ReplicaId, key: str, value: str = "v") -> Command:
    return Command(origin, next(_ids), 0, ((b"SET", key.encode(), value.encode()),))


def get_cmd(origin: ReplicaId, key: str) -> Command:
    return Command(origin, next(_ids), 0, ((b"GET", key.encode()),))


@dataclass
class Disk:
    records: dict[InstanceId, InstanceRecord] = field(default_factory=dict)
    meta: dict[str, bytes] = field(default_factory=dict)
    executed: set[InstanceId] = field(default_factory=set)

    def load(self) -> list[InstanceRecord]:
        out = []
        for iid, rec in self.records.items():
            if iid in self.executed:
                rec = replace(rec, status=Status.EXECUTED)
            out.append(rec)
        return out


@dataclass
class Envelope:
    src: ReplicaId
    dst: ReplicaId
    msg: Message

    def __repr__(self) -> str:
        return f"{self.src}->{self.dst} {self.msg}"


MessageFilter = Callable[[Envelope], bool]


class Harness:
    def __init__(self, n: int = 3, seed: int = 0, **config: object) -> None:
        self.ids = tuple(range(1, n + 1))
        self.config_overrides = config
        self.rng = random.Random(seed)
        self.disks = {r: Disk() for r in self.ids}
        self.replicas: dict[ReplicaId, Replica | None] = {}
        self.wire: list[Envelope] = []
        self.executed: dict[ReplicaId, list[tuple[InstanceId, Command]]] = {r: [] for r in self.ids}
        self.marks_deferred: set[ReplicaId] = set()
        """Replicas whose executed marks wait in ``marks_pending`` (a deferring driver)."""
        self.marks_pending: dict[ReplicaId, list[InstanceId]] = {r: [] for r in self.ids}
        self.new_disks: set[ReplicaId] = set()
        """Replicas whose disk was replaced (``lose_disk``): they join when restarted."""
        self.rejoined: list[ReplicaId] = []
        """Replicas that were left behind and discarded their state (``Ready.rejoin``)."""
        self.history: list[Envelope] = []
        """Every message any replica ever released, in order."""
        for r in self.ids:
            self.replicas[r] = Replica(
                self.config(r), rng=random.Random(self.rng.random()), access=access
            )
        self.process_all()
        self.stabilize()  # the start-up sync exchange: every replica leaves "loading"
        self.history.clear()

    def config(self, r: ReplicaId) -> ReplicaConfig:
        """Scenario tests inspect every instance at the end, so log GC is off unless asked."""
        settings = {"gc_interval_ticks": 10**9, **self.config_overrides}
        return ReplicaConfig(r, self.ids, **settings)  # type: ignore[arg-type]

    def replica(self, r: ReplicaId) -> Replica:
        rep = self.replicas[r]
        assert rep is not None, f"replica {r} is crashed"
        return rep

    # --- driving --------------------------------------------------------------

    def process(self, r: ReplicaId) -> None:
        rep = self.replicas[r]
        if rep is None:
            return
        ready = rep.ready()
        disk = self.disks[r]
        for rec in ready.to_persist:
            disk.records[rec.id] = rec
        disk.meta.update(ready.meta)
        for iid in ready.to_delete:
            disk.records.pop(iid, None)
            disk.executed.discard(iid)
        for ex in ready.to_execute:
            disk.executed.add(ex.inst)
            for c in ex.cmds:
                self.executed[r].append((ex.inst, c))
        for dst, m in ready.messages:
            env = Envelope(r, dst, m)
            self.wire.append(env)
            self.history.append(env)
        rep.advance(ready)
        if r in self.marks_deferred:
            self.marks_pending[r] += [ex.inst for ex in ready.to_execute]
        else:
            rep.executed_durable(ex.inst for ex in ready.to_execute)  # marked in the same step
        if ready.snapshot is not None:
            self.install_snapshot(r, ready.snapshot)
        if ready.rejoin:
            self.rejoined.append(r)
            self.lose_disk(r)  # what the runtime's discard leaves: an empty store
            self.restart(r)

    def install_snapshot(self, r: ReplicaId, wanted: SnapshotWanted) -> None:
        """What ``epaxosdb.snapshot.install`` does, on these dict disks: the first live
        source's committed records and GC watermark, then a restart with the bound."""
        source = next(
            (s for s in wanted.sources if (c := self.replicas[s]) is not None and not c.joining),
            None,
        )
        if source is None:
            return
        theirs = self.disks[source]
        disk = self.disks[r] = Disk()
        disk.records = {i: x for i, x in theirs.records.items() if x.status >= Status.COMMITTED}
        disk.executed = {i for i in theirs.executed if i in disk.records}
        disk.meta = {
            META_GC_WATERMARK: theirs.meta.get(META_GC_WATERMARK, b""),
            META_GC_FLOOR: theirs.meta.get(META_GC_FLOOR, b""),
            META_NEXT_INSTANCE: str(wanted.bound[self.ids.index(r)] + 1).encode(),
            META_JOIN_BOUND: encode_rows(wanted.bound),
        }
        self.restart(r)

    def process_all(self) -> None:
        for r in self.ids:
            self.process(r)

    def propose(self, r: ReplicaId, *cmds: Command) -> None:
        self.replica(r).propose(cmds)
        self.process(r)

    def recover(self, r: ReplicaId, iid: InstanceId) -> None:
        self.replica(r).recover(iid)
        self.process(r)

    def deliver(self, match: MessageFilter | None = None, *, limit: int | None = None) -> int:
        """Deliver (in order) the messages now on the wire that match; return how many."""
        todo = [e for e in self.wire if match is None or match(e)]
        if limit is not None:
            todo = todo[:limit]
        for e in todo:
            self.wire.remove(e)
        for e in todo:
            rep = self.replicas[e.dst]
            if rep is None:
                continue
            rep.step(e.msg)
            self.process(e.dst)
        return len(todo)

    def drop(self, match: MessageFilter) -> int:
        before = len(self.wire)
        self.wire = [e for e in self.wire if not match(e)]
        return before - len(self.wire)

    def tick(self, ticks: int = 1, only: Iterable[ReplicaId] | None = None) -> None:
        targets = tuple(only) if only is not None else self.ids
        for _ in range(ticks):
            for r in targets:
                rep = self.replicas[r]
                if rep is not None:
                    rep.tick()
                    self.process(r)

    def stabilize(self, rounds: int = 200, tick_every: int = 0) -> None:
        """Deliver until the wire is empty (optionally ticking), bounded by ``rounds``."""
        for i in range(rounds):
            if not self.wire:
                if not tick_every:
                    return
                self.tick()
                if not self.wire:
                    continue
            self.deliver()
            if tick_every and i % tick_every == 0:
                self.tick()

    def crash(self, r: ReplicaId) -> None:
        self.replicas[r] = None
        self.wire = [e for e in self.wire if e.dst != r and e.src != r]

    def restart(self, r: ReplicaId) -> None:
        disk = self.disks[r]
        self.replicas[r] = Replica.restore(
            self.config(r), disk.load(), dict(disk.meta),
            rng=random.Random(self.rng.random()), access=access,
            new_disk=r in self.new_disks,
        )
        self.process(r)

    def lose_disk(self, r: ReplicaId) -> None:
        """Replica ``r`` crashes and its disk is replaced by a new, empty one."""
        if self.replicas[r] is not None:
            self.crash(r)
        self.disks[r] = Disk()
        self.new_disks.add(r)

    # --- observing ------------------------------------------------------------

    def record(self, r: ReplicaId, iid: InstanceId) -> InstanceRecord | None:
        rep = self.replicas[r]
        if rep is not None:
            return rep.record(iid)
        return self.disks[r].records.get(iid)

    def committed(self, iid: InstanceId) -> dict[ReplicaId, InstanceRecord]:
        out = {}
        for r in self.ids:
            rec = self.record(r, iid)
            if rec is not None and rec.status >= Status.COMMITTED:
                out[r] = rec
        return out

    def assert_agreement(self) -> None:
        """Every replica holding an instance committed holds the same value (invariant 1)."""
        seen: dict[InstanceId, tuple[object, ...]] = {}
        for r in self.ids:
            rep = self.replicas[r]
            recs = (
                [x.record() for x in rep.instances.values()]
                if rep is not None
                else list(self.disks[r].records.values())
            )
            for rec in recs:
                if rec.status < Status.COMMITTED:
                    continue
                value = (rec.cmds, rec.seq, rec.deps)
                other = seen.setdefault(rec.id, value)
                assert other == value, f"{rec.id}: {other} != {value} (at replica {r})"

    def executed_ids(self, r: ReplicaId) -> list[tuple[ReplicaId, int]]:
        return [(c.origin, c.id) for _, c in self.executed[r]]


def to(dst: ReplicaId, kind: type | None = None) -> MessageFilter:
    return lambda e: e.dst == dst and (kind is None or isinstance(e.msg, kind))


def from_(src: ReplicaId, kind: type | None = None) -> MessageFilter:
    return lambda e: e.src == src and (kind is None or isinstance(e.msg, kind))


def of(kind: type) -> MessageFilter:
    return lambda e: isinstance(e.msg, kind)


def interferes(a: Command, b: Command) -> bool:
    return access(a).interferes(access(b))


def assert_visibility(h: Harness) -> None:
    """Invariant 4: of two committed interfering instances, one is in the other's deps."""
    committed: dict[InstanceId, InstanceRecord] = {}
    for r in h.ids:
        for iid in {i for d in (h.disks[r].records,) for i in d}:
            rec = h.record(r, iid)
            if rec is not None and rec.status >= Status.COMMITTED and rec.cmds:
                committed[iid] = rec
    pos = {r: p for p, r in enumerate(h.ids)}
    items = list(committed.values())
    for i, g in enumerate(items):
        for d in items[i + 1:]:
            assert g.cmds is not None and d.cmds is not None
            if not any(interferes(a, b) for a in g.cmds for b in d.cmds):
                continue
            sees = d.id.index <= g.deps[pos[d.id.replica]] or (
                g.id.index <= d.deps[pos[g.id.replica]]
            )
            assert sees, f"neither of {g.id} and {d.id} depends on the other: {g} / {d}"


def assert_votes_durable(h: Harness, sent: Iterable[Envelope]) -> None:
    """Invariant 7: every vote or promise a replica sent is covered by its disk."""
    from protocol.messages import AcceptReply, PreAcceptReply, PrepareReply

    for e in sent:
        m = e.msg
        if not isinstance(m, PreAcceptReply | AcceptReply | PrepareReply) or not m.ok:
            continue
        rec = h.disks[e.src].records.get(m.inst)
        assert rec is not None, f"{e}: nothing on disk"
        assert rec.bal >= m.ballot, f"{e}: disk promise {rec.bal} is below the reply"
        if isinstance(m, PreAcceptReply):
            superseded = rec.vbal > m.ballot or rec.status > Status.PREACCEPTED
            assert superseded or (rec.vbal == m.ballot and rec.deps == m.deps), e

"""The EPaxos replica: a pure state machine (propose, step, tick, ready, advance).

Messages and ticks go in; ``ready()`` says what to persist, send and execute.
No I/O, no clock, no global randomness (the ``random.Random`` is passed in):
the trio runtime and the deterministic simulator drive the very same object.

The handlers live in modules named after the roles a replica plays —
``leader``, ``acceptor``, ``recoverer``, ``catchup``, ``collector`` — over the
shared ``state``; this module is the public face: restart, the five verbs,
and introspection.

Protocol summary (details in brief §2–§6 and the modules named here):

* **Normal case.** A proposal becomes an instance in this replica's row with
  attributes from the conflict index (``conflicts``); it is persisted, then
  PreAccepted by every peer. Identical replies from a fast quorum (N−1; for
  N=3 one reply that left the attributes unchanged) commit it in one round
  trip (``quorum``); otherwise the merged attributes are Accepted by a
  majority and committed in two.
* **Recovery.** An uncommitted instance that blocks execution, or whose leader
  went quiet, is recovered with explicit Prepare at a fresh ballot, following
  the decision table in ``recovery`` (``bal``/``vbal`` kept apart).
* **Execution.** Committed instances run in the order ``execution`` finds.
  Clients get their reply after execution.
* **Durability.** Every vote, promise and commit is in ``Ready.to_persist``
  before (or with) any message that relies on it; the driver persists before
  it sends.
* **Catch-up.** A replica that lacks commits asks a peer with ``SyncRequest``;
  a restarted replica is *loading* until it has heard the committed
  watermarks of a majority and executed up to them.
* **Admission control.** At most ``inflight_max`` own instances are
  unexecuted at a time, which bounds the size of any SCC.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from protocol.messages import (
    NOOP,
    Accept,
    AcceptReply,
    Command,
    Commit,
    Heartbeat,
    InstanceId,
    InstanceRecord,
    JoinReply,
    JoinRequest,
    Message,
    PreAccept,
    PreAcceptReply,
    Prepare,
    PrepareReply,
    ReplicaId,
    Status,
    SyncReply,
    SyncRequest,
)

from .acceptor import Acceptor
from .catchup import CatchUp
from .collector import LogCollector
from .config import ReplicaConfig
from .instance import Instance, Phase
from .joining import Joiner
from .leader import Leader
from .ready import Executed, Ready
from .recoverer import Recoverer
from .state import (
    META_GC_FLOOR,
    META_GC_WATERMARK,
    META_JOIN_BOUND,
    META_JOINING,
    META_NEXT_INSTANCE,
    AccessFn,
    BatchAccessFn,
    SafetyViolation,
    decode_rows,
)

__all__ = ["AccessFn", "BatchAccessFn", "Replica", "ReplicaStatistics", "SafetyViolation"]


@dataclass(frozen=True, slots=True)
class ReplicaStatistics:
    replica_id: ReplicaId
    replicas: int
    fast_quorum: int
    instances_proposed: int
    fast_path_commits: int
    slow_path_commits: int
    recovery_commits: int
    recoveries_started: int
    instances_committed: int
    instances_executed: int
    execute_lag: int
    max_scc_size: int
    scc_size_bound: int
    """No SCC can exceed this: N × inflight_max (admission control, brief §4.3)."""
    commit_to_execute_ticks_max: int
    commit_to_execute_ticks_mean: float
    blocked_instances: int
    proposals_waiting: int
    own_unexecuted: int
    invalid_messages: int
    loading: bool
    loading_progress: float
    instances_in_memory: int
    conflict_index_keys: int
    gc_watermarks: tuple[int, ...]


class Replica(Leader, Acceptor, Recoverer, CatchUp, LogCollector, Joiner):
    """One replica of the cluster: the public face of the state machine."""

    @classmethod
    def restore(
        cls,
        config: ReplicaConfig,
        records: Iterable[InstanceRecord],
        meta: dict[str, bytes],
        *,
        rng: random.Random,
        access: AccessFn,
        batch_access: BatchAccessFn | None = None,
        new_disk: bool = False,
    ) -> Replica:
        """Rebuild a replica from its durable state alone (brief §5.4).

        The conflict index is rebuilt from the records; own unfinished
        instances are recovered at a new ballot, never resumed at ballot 0;
        instance numbers continue after the highest one ever used. A replica
        on a ``new_disk`` (created by this start, so it may replace one that
        lost its own) that holds nothing yet, or one restored from a snapshot
        and not caught up to its join bound, joins (``joining``) before it
        votes. One that ran on this disk before and holds nothing never voted.
        """
        r = cls(config, rng=rng, access=access, batch_access=batch_access)
        r._messages.clear()
        records = list(records)
        next_index = int(meta.get(META_NEXT_INSTANCE) or b"0")
        bound = decode_rows(meta.get(META_JOIN_BOUND), r._n, "join bound")
        fresh = not records and next_index == 0 and not meta.get(META_GC_WATERMARK)
        new_disk = new_disk or bool(meta.get(META_JOINING))
        if r._n > 1 and fresh and new_disk and bound is None:
            r._joining = True
            r._meta[META_JOINING] = b"1"
            r._join_tick()
            return r
        if bound is None and meta.get(META_JOINING):
            r._meta[META_JOINING] = b""  # a one-replica cluster: nobody to join
        if bound is not None:
            r._join_bound = bound
            next_index = max(next_index, bound[r._pos[r.me]] + 1)
            for p in range(r._n):
                r._known_max[p] = max(r._known_max[p], bound[p])
            r._join_tick()
        for rec in records:
            if len(rec.deps) != r._n or rec.id.replica not in r._pos:
                raise ValueError(f"record {rec.id} does not fit this cluster's configuration")
            x = Instance.from_record(rec, 0)
            r.instances[x.id] = x
            if x.cmds is not None:
                r._add_to_index(x)
            r._note_known(x.id)
            r._note_deps(x.deps)
            if x.id.replica == r.me:
                next_index = max(next_index, x.id.index + 1)
        r._next_index = next_index
        r._floor = decode_rows(meta.get(META_GC_FLOOR), r._n, "GC floor")
        gc = decode_rows(meta.get(META_GC_WATERMARK), r._n, "GC watermark")
        if gc is not None:
            r._gc_wm = gc
            for p in range(r._n):
                r._durable_wm[p] = max(r._durable_wm[p], gc[p])
                r._executor.watermarks[p] = max(r._executor.watermarks[p], gc[p])
                r._committed_upto[p] = max(r._committed_upto[p], gc[p])
                r._known_max[p] = max(r._known_max[p], gc[p])
        r._executor.restore()
        r.executed_durable(i for i, x in r.instances.items() if x.status == Status.EXECUTED)
        for x in r.instances.values():
            if x.status == Status.COMMITTED:
                r._executor.committed(x.id)
            elif x.status != Status.EXECUTED:
                delay = 0 if x.id.replica == r.me else r._recovery_delay(x)
                r._watch[x.id] = delay
            if x.id.replica == r.me and x.status != Status.EXECUTED:
                r._own_unexecuted.add(x.id.index)
        for p in range(r._n):
            r._advance_committed(p)
        if r._loading:
            for peer in r._peers:
                r._send(peer, r._sync_request(()))
        return r

    def executed_durable(self, ids: Iterable[InstanceId]) -> None:
        """The driver wrote these instances' executed marks (with their effects) to disk.

        Marks may land after execution (``node.DeferredApply``); until they do, a crash
        makes this replica execute the instance again. Only durably executed
        instances count in the watermark this replica gossips for log GC, so no
        replica deletes — nor drops from its conflict index — an instance that
        another might still have to execute after a restart."""
        rows = set()
        for iid in ids:
            p = self._pos[iid.replica]
            if iid.index > self._durable_wm[p]:
                self._durable_above.add(iid)
                rows.add(p)
        for p in rows:
            self._advance_durable(p)

    def propose(self, cmds: Iterable[Command]) -> None:
        """Queue client commands; they become instances at the next ``ready()``."""
        self._proposals.extend(cmds)

    def tick(self) -> None:
        self.now += 1
        now = self.now
        for iid in list(self._leading):
            x = self.instances[iid]
            lead = x.lead
            if lead is None:
                self._leading.discard(iid)
                continue
            if (
                lead.phase is Phase.PREACCEPT
                and lead.fast_deadline is not None
                and now >= lead.fast_deadline
            ):
                self._finish_preaccept(x, timed_out=True)
                continue
            if now - lead.last_send >= self.config.retransmit_ticks:
                self._retransmit(x, lead)
        voting = self._voting()
        if self._joining:
            if now - self._last_sync_tick >= self.config.sync_interval_ticks:
                self._last_sync_tick = now
                self._join_tick()
            return
        if voting:
            self._arm_recoveries()
        if now - self._last_sync_tick >= self.config.sync_interval_ticks:
            self._periodic_sync()
            if not voting:
                self._join_tick()
        if now - self._last_gc_tick >= self.config.gc_interval_ticks:
            self._last_gc_tick = now
            if self._peers:
                self._broadcast(Heartbeat(self.me, tuple(self._durable_wm)))
            self._collect_garbage()

    def _arm_recoveries(self) -> None:
        """Recover what blocks execution, and what waited long enough (``_watch``)."""
        now = self.now
        for b in self._executor.blockers():
            if b not in self._watch and b not in self._leading:
                self._watch[b] = now + self._recovery_delay(self.instances.get(b))
        if self._watch:
            budget = self.config.recoveries_max - len(self._leading_recoveries())
            for iid, due in list(self._watch.items()):
                if budget <= 0:
                    break
                if due <= now:
                    x = self._get(iid)
                    if x.committed:
                        del self._watch[iid]
                        continue
                    self._start_recovery(x)
                    budget -= 1

    def recover(self, iid: InstanceId) -> None:
        """Start explicit Prepare for ``iid`` now, instead of waiting for a timer.

        Ticks normally decide this; tests and operators may force it. A joining
        replica recovers nothing: its own promises would stand for forgotten ones."""
        if self._voting() and iid.index > self._gc_wm[self._pos[iid.replica]]:
            self._start_recovery(self._get(iid))

    def step(self, m: Message) -> None:
        if not self._valid(m):
            self._stats["invalid_messages"] += 1
            return
        self._heard_at[m.sender] = self.now
        if self._collected(m):
            return
        if not self._voting() and not self._may_learn(m):
            return
        match m:
            case PreAccept():
                self._on_pre_accept(m)
            case PreAcceptReply():
                self._on_pre_accept_reply(m)
            case Accept():
                self._on_accept(m)
            case AcceptReply():
                self._on_accept_reply(m)
            case Commit():
                self._on_commit(m)
            case Prepare():
                self._on_prepare(m)
            case PrepareReply():
                self._on_prepare_reply(m)
            case SyncRequest():
                self._on_sync_request(m)
            case SyncReply():
                self._on_sync_reply(m)
            case Heartbeat():
                self._peer_executed[m.sender] = m.executed
                self._learn_of_executed(m.executed)
            case JoinRequest():
                self._on_join_request(m)
            case JoinReply():
                self._on_join_reply(m)

    def _may_learn(self, m: Message) -> bool:
        """What a joining replica takes in (``joining``): no request for a vote or a
        promise, unless the instance is committed here and the answer is that
        fact; and before its snapshot nothing but the join exchange, since it
        must not execute anything onto an empty state."""
        if self._joining:
            return isinstance(m, JoinRequest | JoinReply)
        if isinstance(m, PreAccept | Accept | Prepare):
            x = self.instances.get(m.inst)
            return x is not None and x.committed
        return True

    def ready(self) -> Ready:
        voting = self._voting()
        if voting:
            self._flush_proposals()
        executed = self._executor.run()
        to_execute = []
        for x in executed:
            delay = self.now - x.commit_tick
            self._exec_delay_sum += delay
            if delay > self._exec_delay_max:
                self._exec_delay_max = delay
            cmds = x.cmds if x.cmds is not None else NOOP
            to_execute.append(Executed(x.id, cmds))
            if x.id.replica == self.me:
                self._own_unexecuted.discard(x.id.index)
        if executed and voting:
            self._flush_proposals()
        if self._join_bound is not None:
            self._check_joined()
        records = []
        for x in self._dirty.values():
            self._note_deps(x.deps)
            rec = x.record()
            if rec.status == Status.EXECUTED:
                rec = InstanceRecord(
                    rec.id, Status.COMMITTED, rec.cmds, rec.seq, rec.deps, rec.bal, rec.vbal,
                    rec.eq,
                )
            records.append(rec)
        if self._loading:
            self._check_loaded()
        ready = Ready(
            to_persist=records,
            meta=self._meta,
            messages=self._messages,
            to_execute=to_execute,
            committed=self._committed_now,
            to_delete=self._to_delete,
            snapshot=self._snapshot_wanted,
            rejoin=self._rejoin,
        )
        self._snapshot_wanted = None
        self._to_delete = []
        self._dirty = {}
        self._meta = {}
        self._messages = []
        self._committed_now = []
        return ready

    def advance(self, ready: Ready) -> None:
        """The driver has made ``ready`` durable and released it. Nothing is left to do:
        the core already moved on when it produced it (kept for the contract's symmetry)."""

    def has_pending_proposals(self) -> bool:
        return bool(self._proposals)

    def wants_ticks(self) -> bool:
        """Whether anything here waits on the clock.

        It does while proposals wait to become instances, while loading, while
        an execution is blocked on a dependency, and while this replica knows of
        an instance above a row's committed watermark — one it leads
        (retransmits, the fast-path wait), one it voted for (its leader may go
        quiet), one a peer's message named (catch-up). When none of that
        holds, ticks only pace the heartbeat that feeds log GC and the periodic
        sync; those are fine arriving less often, so a driver may slow its
        ticks down then (the runtime does: an idle replica sleeps).
        """
        if self._proposals or self.loading or self._executor.blocked_count():
            return True
        return any(
            known > committed
            for known, committed in zip(self._known_max, self._committed_upto, strict=True)
        )

    @property
    def loading(self) -> bool:
        """Not serving clients: catching up after a restart, or joining (not voting)."""
        return self._loading or not self._voting()

    @property
    def joining(self) -> bool:
        """Started on an empty directory and not yet a voting member (``joining``)."""
        return not self._voting()

    @property
    def join_state(self) -> str:
        """Where joining stands, for logs and INFO ("" once a voting member)."""
        if self._rejoin:
            return "left behind by every peer: rebuilding"
        if self._join_bound is not None:
            return "catching up to the join bound " + ",".join(map(str, self._join_bound))
        if not self._joining:
            return ""
        if self._join_bound_found is not None:
            return "waiting for a snapshot"
        return f"asking every peer ({len(self._join_replies)} of {len(self._peers)} answered)"

    @property
    def executed_watermarks(self) -> tuple[int, ...]:
        return tuple(self._executor.watermarks)

    def gc_waits_for(self) -> tuple[ReplicaId, ...]:
        """Peers that hold log GC back here: silent so far, or behind this replica in
        some row, and not left behind (``laggards``). Until a peer is left behind,
        every instance since it went away stays in memory and on disk here."""
        own = self._durable_wm
        return tuple(
            peer for peer in self._peers
            if peer not in self._left_behind
            and ((e := self._peer_executed.get(peer)) is None
                 or any(e[p] < own[p] for p in range(self._n)))
        )  # fmt: skip

    @property
    def gc_floor(self) -> tuple[int, ...]:
        """Per row: what a peer left behind may lack (``laggards``); all -1 when none."""
        return tuple(self._floor) if self._floor is not None else self._no_deps

    @property
    def gc_watermarks(self) -> tuple[int, ...]:
        """Per row: instances up to here were executed everywhere and deleted here."""
        return tuple(self._gc_wm)

    def executed(self, iid: InstanceId) -> bool:
        """Has this replica executed ``iid`` (possibly deleting it since)?"""
        if iid.index <= self._gc_wm[self._pos[iid.replica]]:
            return True
        x = self.instances.get(iid)
        return x is not None and x.status == Status.EXECUTED

    @property
    def next_instance(self) -> int:
        """The index this replica's next own instance will get (every lower one is used)."""
        return self._next_index

    def highest_known(self, replica: ReplicaId) -> int:
        """The highest index of ``replica``'s instances heard of here (-1: none).

        Instances come into existence only at their owner, so the owner's
        ``next_instance`` is above this — unless the owner forgot some of its
        own (a stale copy of its data directory), which peers check for."""
        return self._known_max[self._pos[replica]]

    @property
    def committed_watermarks(self) -> tuple[int, ...]:
        return tuple(self._committed_upto)

    def record(self, iid: InstanceId) -> InstanceRecord | None:
        x = self.instances.get(iid)
        return None if x is None else x.record()

    def statistics(self) -> ReplicaStatistics:
        s = self._stats
        executed = self._executor.executed_total
        return ReplicaStatistics(
            replica_id=self.me,
            replicas=self._n,
            fast_quorum=self.config.fast_quorum,
            instances_proposed=s["instances_proposed"],
            fast_path_commits=s["fast_path_commits"],
            slow_path_commits=s["slow_path_commits"],
            recovery_commits=s["recovery_commits"],
            recoveries_started=s["recoveries_started"],
            instances_committed=s["instances_committed"],
            instances_executed=executed,
            execute_lag=sum(1 for x in self.instances.values() if x.status == Status.COMMITTED),
            max_scc_size=self._executor.max_scc_size,
            scc_size_bound=self._n * self.config.inflight_max,
            commit_to_execute_ticks_max=self._exec_delay_max,
            commit_to_execute_ticks_mean=self._exec_delay_sum / max(executed, 1),
            blocked_instances=self._executor.blocked_count(),
            proposals_waiting=len(self._proposals),
            own_unexecuted=len(self._own_unexecuted),
            invalid_messages=s["invalid_messages"],
            loading=self.loading,
            loading_progress=self._loading_progress(),
            instances_in_memory=len(self.instances),
            conflict_index_keys=len(self._index),
            gc_watermarks=tuple(self._gc_wm),
        )

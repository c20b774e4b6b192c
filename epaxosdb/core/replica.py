"""The EPaxos replica: a pure state machine (propose, step, tick, ready, advance).

Messages and ticks go in; ``ready()`` says what to persist, send and execute.
No I/O, no clock, no global randomness (the ``random.Random`` is passed in):
the trio runtime and the deterministic simulator drive the very same object.

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
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from protocol.messages import (
    NOOP,
    Accept,
    AcceptReply,
    Access,
    Ballot,
    Command,
    Commit,
    Deps,
    Heartbeat,
    InstanceId,
    InstanceRecord,
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

from .config import ReplicaConfig
from .conflicts import ConflictIndex, batch_access
from .execution import Executor
from .instance import Instance, Leading, Phase
from .quorum import fast_commit_attributes, fast_path_possible, merge_attributes
from .ready import Executed, Ready
from .recovery import Action, decide

AccessFn = Callable[[Command], Access]

META_NEXT_INSTANCE = "next_instance"
META_GC_WATERMARK = "gc_watermark"

_EMPTY = Access()


class SafetyViolation(AssertionError):
    """The core saw two different committed values for one instance: stop, loudly."""


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
    commit_to_execute_ticks_max: int
    commit_to_execute_ticks_mean: float
    blocked_instances: int
    proposals_waiting: int
    own_unexecuted: int
    invalid_messages: int
    loading: bool
    loading_progress: float
    instances_in_memory: int
    gc_watermarks: tuple[int, ...]


class Replica:
    def __init__(
        self,
        config: ReplicaConfig,
        *,
        rng: random.Random,
        access: AccessFn,
    ) -> None:
        self.config = config
        self.me = config.replica_id
        self._rng = rng
        self._access_fn = access
        self._rows = config.replica_ids
        self._pos = {r: p for p, r in enumerate(self._rows)}
        self._peers = config.peers
        self._n = config.n
        self._f = config.f
        self._no_deps: Deps = (-1,) * self._n

        self.instances: dict[InstanceId, Instance] = {}
        self._index = ConflictIndex(self._n)
        self._executor = Executor(self._rows, self.instances, self._instance_access)
        self.now = 0
        self._next_index = 0

        self._proposals: deque[Command] = deque()
        self._proposed: dict[int, tuple[Command, ...]] = {}
        """Own instances proposed by this incarnation: re-proposed if they become NO-OPs."""
        self._own_unexecuted: set[int] = set()
        self._leading: set[InstanceId] = set()
        self._watch: dict[InstanceId, int] = {}
        """Uncommitted instances this replica does not drive → tick at which to recover."""

        self._committed_upto = [-1] * self._n
        self._known_max = [-1] * self._n
        self._last_sync_tick = 0
        self._last_sync_committed: list[int] = [-1] * self._n

        self._gc_wm = [-1] * self._n
        """Per row: every instance up to here was executed by every replica and deleted."""
        self._peer_executed: dict[ReplicaId, Deps] = {}
        self._to_delete: list[InstanceId] = []
        self._last_gc_tick = 0

        self._loading = self._n > 1
        self._sync_heard: dict[ReplicaId, Deps] = {}
        self._sync_target: list[int] = [-1] * self._n

        # Pending output, emptied by ready().
        self._dirty: dict[InstanceId, Instance] = {}
        self._meta: dict[str, bytes] = {}
        self._messages: list[tuple[ReplicaId, Message]] = []
        self._committed_now: list[InstanceId] = []

        self._exec_delay_sum = 0
        self._exec_delay_max = 0
        self._stats = {
            "instances_proposed": 0,
            "fast_path_commits": 0,
            "slow_path_commits": 0,
            "recovery_commits": 0,
            "recoveries_started": 0,
            "instances_committed": 0,
            "invalid_messages": 0,
        }

        if self._loading:
            for peer in self._peers:
                self._send(peer, self._sync_request(()))

    # ------------------------------------------------------------------ restart

    @classmethod
    def restore(
        cls,
        config: ReplicaConfig,
        records: Iterable[InstanceRecord],
        meta: dict[str, bytes],
        *,
        rng: random.Random,
        access: AccessFn,
    ) -> Replica:
        """Rebuild a replica from its durable state alone (brief §5.4).

        The conflict index is rebuilt from the records; own unfinished
        instances are recovered at a new ballot, never resumed at ballot 0;
        instance numbers continue after the highest one ever used.
        """
        r = cls(config, rng=rng, access=access)
        r._messages.clear()
        next_index = int(meta.get(META_NEXT_INSTANCE, b"0"))
        for rec in records:
            if len(rec.deps) != r._n or rec.id.replica not in r._pos:
                raise ValueError(f"record {rec.id} does not fit this cluster's configuration")
            x = Instance.from_record(rec, 0)
            r.instances[x.id] = x
            if x.cmds is not None:
                r._add_to_index(x)
            r._note_known(x.id)
            if x.id.replica == r.me:
                next_index = max(next_index, x.id.index + 1)
        r._next_index = next_index
        if META_GC_WATERMARK in meta:
            gc = [int(x) for x in meta[META_GC_WATERMARK].decode().split(",")]
            if len(gc) != r._n:
                raise ValueError("the stored GC watermark does not fit this cluster")
            r._gc_wm = gc
            for p in range(r._n):
                r._executor.watermarks[p] = max(r._executor.watermarks[p], gc[p])
                r._committed_upto[p] = max(r._committed_upto[p], gc[p])
                r._known_max[p] = max(r._known_max[p], gc[p])
        r._executor.restore()
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

    # ------------------------------------------------------------------ inputs

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
        if now - self._last_sync_tick >= self.config.sync_interval_ticks:
            self._periodic_sync()
        if now - self._last_gc_tick >= self.config.gc_interval_ticks:
            self._last_gc_tick = now
            if self._peers:
                self._broadcast(Heartbeat(self.me, tuple(self._executor.watermarks)))
            self._collect_garbage()

    def recover(self, iid: InstanceId) -> None:
        """Start explicit Prepare for ``iid`` now, instead of waiting for a timer.

        Ticks normally decide this; tests and operators may force it."""
        if iid.index > self._gc_wm[self._pos[iid.replica]]:
            self._start_recovery(self._get(iid))

    def step(self, m: Message) -> None:
        if not self._valid(m):
            self._stats["invalid_messages"] += 1
            return
        if self._collected(m):
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

    # ------------------------------------------------------------------ outputs

    def ready(self) -> Ready:
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
        if executed:
            self._flush_proposals()
        records = []
        for x in self._dirty.values():
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
        )
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

    # ------------------------------------------------------------------ introspection

    @property
    def loading(self) -> bool:
        return self._loading

    @property
    def executed_watermarks(self) -> tuple[int, ...]:
        return tuple(self._executor.watermarks)

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
            commit_to_execute_ticks_max=self._exec_delay_max,
            commit_to_execute_ticks_mean=self._exec_delay_sum / max(executed, 1),
            blocked_instances=self._executor.blocked_count(),
            proposals_waiting=len(self._proposals),
            own_unexecuted=len(self._own_unexecuted),
            invalid_messages=s["invalid_messages"],
            loading=self._loading,
            loading_progress=self._loading_progress(),
            instances_in_memory=len(self.instances),
            gc_watermarks=tuple(self._gc_wm),
        )

    # ------------------------------------------------------------------ helpers

    def _send(self, dst: ReplicaId, m: Message) -> None:
        self._messages.append((dst, m))

    def _broadcast(self, m: Message) -> None:
        for peer in self._peers:
            self._messages.append((peer, m))

    def _persist(self, x: Instance) -> None:
        self._dirty[x.id] = x

    def _get(self, iid: InstanceId) -> Instance:
        x = self.instances.get(iid)
        if x is None:
            x = self.instances[iid] = Instance(iid, self._n, self.now)
            self._note_known(iid)
        return x

    def _note_known(self, iid: InstanceId) -> None:
        p = self._pos[iid.replica]
        if iid.index > self._known_max[p]:
            self._known_max[p] = iid.index

    def _instance_access(self, x: Instance) -> Access:
        acc = x.access
        if acc is None:
            if not x.cmds:
                acc = _EMPTY
            else:
                fn = self._access_fn
                acc = batch_access([fn(c) for c in x.cmds])
            x.access = acc
        return acc

    def _add_to_index(self, x: Instance) -> None:
        if x.cmds:
            self._index.add(self._pos[x.id.replica], x.id.index, self._instance_access(x), x.seq)

    def _set_payload(self, x: Instance, cmds: tuple[Command, ...]) -> None:
        if x.cmds != cmds:
            if x.cmds is not None and cmds and x.cmds:
                raise SafetyViolation(f"instance {x.id} carried two different batches")
            had = x.cmds is not None
            x.cmds = cmds
            x.access = None
            if not had:
                self._executor.payload_known(x.id)

    def _recovery_delay(self, x: Instance | None = None) -> int:
        """Ticks to wait before recovering: randomized, and doubling with every
        recovery of the same instance seen so far, so that duelling recoverers
        spread out until one of them has time to finish (Paxos's back-off)."""
        c = self.config
        attempts = 0 if x is None else min(x.recovery_attempts, 6)
        base = c.recovery_ticks << attempts
        return base + self._rng.randint(0, (base >> 1) + c.recovery_jitter_ticks)

    def _touch(self, x: Instance) -> None:
        x.progress_tick = self.now
        if x.id in self._watch:
            self._watch[x.id] = self.now + self._recovery_delay(x)

    def _watch_instance(self, x: Instance) -> None:
        if not x.committed and x.lead is None:
            self._watch.setdefault(x.id, self.now + self._recovery_delay(x))

    def _promise(self, x: Instance, b: Ballot) -> None:
        """Raise ``bal`` to ``b``; a leader outbid on its own instance stops driving it (P6)."""
        if b > x.bal:
            x.bal = b
        if b.round > x.max_round_seen:
            x.max_round_seen = b.round
        if x.lead is not None and x.lead.ballot < x.bal:
            self._drop_lead(x)

    def _drop_lead(self, x: Instance) -> None:
        x.lead = None
        self._leading.discard(x.id)
        self._watch_instance(x)

    def _leading_recoveries(self) -> list[InstanceId]:
        return [
            i for i in self._leading
            if (lead := self.instances[i].lead) is not None and not lead.fast_path_allowed
        ]

    def _commit_msg(self, x: Instance) -> Commit:
        assert x.cmds is not None
        return Commit(self.me, x.id, x.cmds, x.seq, x.deps)

    def _valid(self, m: Message) -> bool:
        pos = self._pos
        if m.sender not in pos or m.sender == self.me:
            return False
        if isinstance(m, Heartbeat):
            return len(m.executed) == self._n
        if isinstance(m, SyncRequest | SyncReply):
            if len(m.committed) != self._n:
                return False
            if isinstance(m, SyncReply):
                return all(self._valid(c) for c in m.commits)
            return all(i.replica in pos and i.index >= 0 for i in m.wanted)
        inst = m.inst
        if inst.replica not in pos or inst.index < 0:
            return False
        if (
            isinstance(m, PreAccept | PreAcceptReply | Accept | Commit | PrepareReply)
            and len(m.deps) != self._n
        ):
            return False
        if isinstance(m, Commit):
            return True
        ballot = m.ballot
        if ballot.replica not in pos:
            return False
        if isinstance(m, PreAccept | Accept) and ballot.is_initial():
            return ballot.replica == inst.replica
        return True

    # ------------------------------------------------------------------ leader: phase 1

    def _flush_proposals(self) -> None:
        cfg = self.config
        while self._proposals and len(self._own_unexecuted) < cfg.inflight_max:
            batch: list[Command] = []
            while self._proposals and len(batch) < cfg.batch_max:
                batch.append(self._proposals.popleft())
            self._start_instance(tuple(batch))

    def _start_instance(self, cmds: tuple[Command, ...]) -> None:
        index = self._next_index
        self._next_index += 1
        self._meta[META_NEXT_INSTANCE] = str(self._next_index).encode()
        iid = InstanceId(self.me, index)
        x = self.instances[iid] = Instance(iid, self._n, self.now)
        self._note_known(iid)
        x.cmds = cmds
        seq, deps = self._index.attributes(self._instance_access(x), 0, self._no_deps)
        b0 = Ballot.initial(self.me)
        x.status = Status.PREACCEPTED
        x.seq, x.deps = seq, deps
        x.bal = x.vbal = b0
        x.eq = True
        self._add_to_index(x)
        self._persist(x)
        self._proposed[index] = cmds
        self._own_unexecuted.add(index)
        self._stats["instances_proposed"] += 1
        lead = x.lead = Leading(b0, Phase.PREACCEPT, self.now)
        lead.orig_seq, lead.orig_deps = seq, deps
        self._leading.add(iid)
        if self._n == 1:
            self._stats["fast_path_commits"] += 1
            self._commit(x, cmds, seq, deps, broadcast=False)
            return
        self._broadcast(PreAccept(self.me, iid, b0, cmds, seq, deps))

    def _reply_for_phase(
        self, m: PreAcceptReply | AcceptReply | PrepareReply, phase: Phase
    ) -> tuple[Instance, Leading] | None:
        """The instance and our leadership if ``m`` answers the phase we are driving now.

        A NACK means someone holds a higher ballot: stop driving and back off. A reply
        to an older ballot of ours is stale (P3) and ignored."""
        x = self.instances.get(m.inst)
        if x is None or x.lead is None or x.lead.phase is not phase:
            return None
        if not m.ok:
            self._outbid(x, m.ballot)
            return None
        if m.ballot != x.lead.ballot:
            return None
        self._touch(x)
        return x, x.lead

    def _on_pre_accept_reply(self, m: PreAcceptReply) -> None:
        found = self._reply_for_phase(m, Phase.PREACCEPT)
        if found is not None:
            x, lead = found
            lead.preaccept_replies[m.sender] = m
            self._finish_preaccept(x, timed_out=False)

    def _finish_preaccept(self, x: Instance, *, timed_out: bool) -> None:
        lead = x.lead
        assert lead is not None and x.cmds is not None
        replies = list(lead.preaccept_replies.values())
        cfg = self.config
        if lead.fast_path_allowed:
            attrs = fast_commit_attributes(self._n, cfg.fast_path_eq_rule, replies)
            if attrs is not None:
                self._stats["fast_path_commits"] += 1
                self._commit(x, x.cmds, attrs[0], attrs[1], broadcast=True)
                return
            outstanding = len(self._peers) - len(replies)
            if len(replies) < self._f:
                return
            if (
                not timed_out
                and outstanding > 0
                and cfg.fast_wait_ticks > 0
                and fast_path_possible(self._n, cfg.fast_path_eq_rule, replies, outstanding)
            ):
                if lead.fast_deadline is None:
                    # +1: the current tick is already partly over, so wait whole ticks.
                    lead.fast_deadline = self.now + cfg.fast_wait_ticks + 1
                return
            seq, deps = merge_attributes(lead.orig_seq, lead.orig_deps, replies)
        else:
            if len(replies) < self._f:
                return
            seq, deps = merge_attributes(x.seq, x.deps, replies)
        self._begin_accept(x, x.cmds, seq, deps)

    # ------------------------------------------------------------------ leader: phase 2

    def _begin_accept(self, x: Instance, cmds: tuple[Command, ...], seq: int, deps: Deps) -> None:
        lead = x.lead
        assert lead is not None
        lead.phase = Phase.ACCEPT
        lead.fast_deadline = None
        lead.accept_oks = set()
        lead.last_send = self.now
        self._set_payload(x, cmds)
        x.status = Status.ACCEPTED
        x.seq, x.deps = seq, deps
        x.vbal = lead.ballot
        x.eq = False
        self._add_to_index(x)
        self._persist(x)
        if self._f == 0:
            self._leader_commit(x)
            return
        self._broadcast(Accept(self.me, x.id, lead.ballot, cmds, seq, deps))

    def _on_accept_reply(self, m: AcceptReply) -> None:
        found = self._reply_for_phase(m, Phase.ACCEPT)
        if found is not None:
            x, lead = found
            lead.accept_oks.add(m.sender)
            if len(lead.accept_oks) >= self._f:
                self._leader_commit(x)

    def _leader_commit(self, x: Instance) -> None:
        lead = x.lead
        assert lead is not None and x.cmds is not None
        if lead.fast_path_allowed:
            self._stats["slow_path_commits"] += 1
        else:
            self._stats["recovery_commits"] += 1
        self._commit(x, x.cmds, x.seq, x.deps, broadcast=True)

    def _outbid(self, x: Instance, ballot: Ballot) -> None:
        if ballot.round > x.max_round_seen:
            x.max_round_seen = ballot.round
        if x.lead is not None:
            self._drop_lead(x)
        self._touch(x)

    def _retransmit(self, x: Instance, lead: Leading) -> None:
        lead.last_send = self.now
        assert x.cmds is not None or lead.phase is Phase.PREPARE
        if lead.phase is Phase.PREACCEPT:
            assert x.cmds is not None
            if lead.fast_path_allowed:
                m: Message = PreAccept(
                    self.me, x.id, lead.ballot, x.cmds, lead.orig_seq, lead.orig_deps
                )
            else:
                m = PreAccept(self.me, x.id, lead.ballot, x.cmds, x.seq, x.deps)
            answered: set[ReplicaId] = set(lead.preaccept_replies)
        elif lead.phase is Phase.ACCEPT:
            assert x.cmds is not None
            m = Accept(self.me, x.id, lead.ballot, x.cmds, x.seq, x.deps)
            answered = lead.accept_oks
        else:
            m = Prepare(self.me, x.id, lead.ballot)
            answered = set(lead.prepare_replies)
        for peer in self._peers:
            if peer not in answered:
                self._send(peer, m)

    # ------------------------------------------------------------------ commit

    def _on_commit(self, m: Commit) -> None:
        x = self._get(m.inst)
        self._commit(x, m.cmds, m.seq, m.deps, broadcast=False)

    def _commit(
        self, x: Instance, cmds: tuple[Command, ...], seq: int, deps: Deps, *, broadcast: bool
    ) -> None:
        if x.committed:
            if (x.cmds, x.seq, x.deps) != (cmds, seq, deps):
                raise SafetyViolation(
                    f"instance {x.id} committed as seq={x.seq} deps={x.deps} "
                    f"and again as seq={seq} deps={deps}"
                )
            return
        if x.cmds is not None and x.cmds != cmds and cmds and x.cmds:
            raise SafetyViolation(f"instance {x.id} committed with a batch it never carried")
        had_payload = x.cmds is not None
        if x.cmds != cmds:
            x.cmds = cmds
            x.access = None
        x.seq, x.deps = seq, deps
        x.status = Status.COMMITTED
        x.commit_tick = self.now
        if x.lead is not None:
            x.lead = None
            self._leading.discard(x.id)
        self._watch.pop(x.id, None)
        self._add_to_index(x)
        self._persist(x)
        self._note_known(x.id)
        if broadcast:
            self._broadcast(Commit(self.me, x.id, cmds, seq, deps))
        self._stats["instances_committed"] += 1
        self._committed_now.append(x.id)
        if not had_payload:
            self._executor.payload_known(x.id)
        self._executor.committed(x.id)
        self._advance_committed(self._pos[x.id.replica])
        if x.id.replica == self.me:
            proposed = self._proposed.pop(x.id.index, None)
            if proposed is not None and proposed != cmds:
                # Recovery replaced our batch with a NO-OP: propose it again (brief §3.6).
                self._proposals.extendleft(reversed(proposed))

    def _advance_committed(self, p: int) -> None:
        row = self._rows[p]
        j = self._committed_upto[p]
        instances = self.instances
        while True:
            nxt = instances.get(InstanceId(row, j + 1))
            if nxt is None or nxt.status < Status.COMMITTED:
                break
            j += 1
        self._committed_upto[p] = j

    # ------------------------------------------------------------------ acceptor

    def _on_pre_accept(self, m: PreAccept) -> None:
        x = self._get(m.inst)
        self._touch(x)
        if m.ballot < x.bal:
            nack = PreAcceptReply(self.me, m.inst, x.bal, False, x.seq, x.deps, False)
            self._send(m.sender, nack)
            return
        if x.committed:
            self._send(m.sender, self._commit_msg(x))
            return
        if x.vbal == m.ballot and x.status >= Status.PREACCEPTED:
            if x.status == Status.PREACCEPTED:
                # A duplicate: answer with the vote already cast, never a recomputed one (P27).
                self._send(
                    m.sender, PreAcceptReply(self.me, m.inst, x.bal, True, x.seq, x.deps, x.eq)
                )
            return
        self._promise(x, m.ballot)
        self._set_payload(x, m.cmds)
        seq, deps = self._index.attributes(self._instance_access(x), m.seq, m.deps)
        if x.status == Status.ACCEPTED:
            # A recovery re-running phase 1 at a higher ballot (its quorum saw no
            # ACCEPTED vote, so ours was not chosen and never will be). Promise and
            # answer, but keep the accepted vote: status never moves backwards.
            self._persist(x)
            self._send(m.sender, PreAcceptReply(self.me, m.inst, m.ballot, True, seq, deps, False))
            return
        x.eq = seq == m.seq and deps == m.deps
        x.status = Status.PREACCEPTED
        x.seq, x.deps = seq, deps
        x.vbal = m.ballot
        self._add_to_index(x)
        self._persist(x)
        self._watch_instance(x)
        self._send(m.sender, PreAcceptReply(self.me, m.inst, m.ballot, True, seq, deps, x.eq))

    def _on_accept(self, m: Accept) -> None:
        x = self._get(m.inst)
        self._touch(x)
        if m.ballot < x.bal:
            self._send(m.sender, AcceptReply(self.me, m.inst, x.bal, False))
            return
        if x.committed:
            self._send(m.sender, self._commit_msg(x))
            return
        if not (x.status == Status.ACCEPTED and x.vbal == m.ballot):
            self._promise(x, m.ballot)
            self._set_payload(x, m.cmds)
            x.status = Status.ACCEPTED
            x.seq, x.deps = m.seq, m.deps
            x.vbal = m.ballot
            x.eq = False
            self._add_to_index(x)
            self._persist(x)
            self._watch_instance(x)
        self._send(m.sender, AcceptReply(self.me, m.inst, m.ballot, True))

    def _on_prepare(self, m: Prepare) -> None:
        x = self._get(m.inst)
        if m.ballot > x.bal:
            x.recovery_attempts += 1  # someone else is recovering it: give them time
        self._touch(x)
        if m.ballot < x.bal:
            self._send(
                m.sender,
                PrepareReply(
                    self.me, m.inst, x.bal, False, x.status, None, 0, self._no_deps, x.vbal, False
                ),
            )
            return
        if not x.committed and m.ballot > x.bal:
            self._promise(x, m.ballot)
            self._persist(x)
        self._watch_instance(x)
        self._send(m.sender, self._prepare_reply(x, m.ballot))

    def _prepare_reply(self, x: Instance, ballot: Ballot) -> PrepareReply:
        return PrepareReply(
            self.me, x.id, ballot, True, x.status, x.cmds, x.seq, x.deps, x.vbal, x.eq
        )

    # ------------------------------------------------------------------ recovery

    def _start_recovery(self, x: Instance) -> None:
        """Explicit Prepare at a ballot above every round seen for ``x`` (brief §3)."""
        self._watch.pop(x.id, None)
        if x.committed or x.lead is not None:
            return
        x.recovery_attempts += 1
        b = Ballot(0, max(x.bal.round, x.max_round_seen) + 1, self.me)
        self._promise(x, b)
        self._persist(x)
        lead = x.lead = Leading(b, Phase.PREPARE, self.now)
        self._leading.add(x.id)
        lead.prepare_replies[self.me] = self._prepare_reply(x, b)
        self._stats["recoveries_started"] += 1
        self._broadcast(Prepare(self.me, x.id, b))
        self._finish_prepare(x)

    def _on_prepare_reply(self, m: PrepareReply) -> None:
        x = self.instances.get(m.inst)
        if x is None:
            return
        if m.ok and m.status >= Status.COMMITTED and m.cmds is not None:
            # A committed value is a fact whatever ballot we are at.
            self._commit(x, m.cmds, m.seq, m.deps, broadcast=False)
            return
        found = self._reply_for_phase(m, Phase.PREPARE)
        if found is not None:
            x, lead = found
            lead.prepare_replies[m.sender] = m
            self._finish_prepare(x)

    def _finish_prepare(self, x: Instance) -> None:
        lead = x.lead
        assert lead is not None
        if len(lead.prepare_replies) < self._f + 1:
            return
        d = decide(
            list(lead.prepare_replies.values()),
            owner=x.id.replica,
            n=self._n,
            f=self._f,
            eq_rule=self.config.fast_path_eq_rule,
        )
        if d.action is Action.COMMIT:
            self._stats["recovery_commits"] += 1
            self._commit(x, d.cmds, d.seq, d.deps, broadcast=True)
        elif d.action in (Action.ACCEPT, Action.NOOP):
            self._begin_accept(x, d.cmds, d.seq, d.deps)
        else:
            self._set_payload(x, d.cmds)
            seq, deps = self._index.attributes(self._instance_access(x), d.seq, d.deps)
            x.status = Status.PREACCEPTED
            x.seq, x.deps = seq, deps
            x.vbal = lead.ballot
            x.eq = False
            self._add_to_index(x)
            self._persist(x)
            lead.phase = Phase.PREACCEPT
            lead.preaccept_replies = {}
            lead.orig_seq, lead.orig_deps = seq, deps
            lead.last_send = self.now
            self._broadcast(PreAccept(self.me, x.id, lead.ballot, d.cmds, seq, deps))

    # ------------------------------------------------------------------ log GC

    def _collected(self, m: Message) -> bool:
        """Is ``m`` about an instance every replica executed and this one deleted?

        Such a message is a late duplicate: acting on it would resurrect the instance."""
        inst = getattr(m, "inst", None)
        if inst is None:
            return False
        return bool(inst.index <= self._gc_wm[self._pos[inst.replica]])

    def _collect_garbage(self) -> None:
        """Delete instances at or below the executed-everywhere watermark (brief §6).

        The watermark is the minimum, over every replica, of the executed watermark
        it last gossiped; until every peer has reported, nothing is deleted. Below it
        no dependency can be unexecuted anywhere and no recovery needs the votes.
        """
        if len(self._peer_executed) < len(self._peers):
            return
        own = self._executor.watermarks
        target = [
            min([own[p], *(e[p] for e in self._peer_executed.values())]) for p in range(self._n)
        ]
        instances = self.instances
        for p, row in enumerate(self._rows):
            for j in range(self._gc_wm[p] + 1, target[p] + 1):
                x = instances.pop(InstanceId(row, j), None)
                if x is None:
                    continue
                assert x.status == Status.EXECUTED, f"GC reached unexecuted {x}"
                self._watch.pop(x.id, None)
                self._index.forget(self._instance_access(x), target)
                self._to_delete.append(x.id)
            if target[p] > self._gc_wm[p]:
                self._gc_wm[p] = target[p]
                self._meta[META_GC_WATERMARK] = ",".join(map(str, self._gc_wm)).encode()

    # ------------------------------------------------------------------ catch-up

    def _sync_request(self, wanted: tuple[InstanceId, ...]) -> SyncRequest:
        return SyncRequest(self.me, tuple(self._committed_upto), wanted)

    def _periodic_sync(self) -> None:
        self._last_sync_tick = self.now
        if not self._peers:
            return
        if self._loading:
            for peer in self._peers:
                if peer not in self._sync_heard:
                    self._send(peer, self._sync_request(()))
            return
        wanted = tuple(
            b for b in self._executor.blockers()
            if (x := self.instances.get(b)) is None or not x.committed
        )[: self.config.sync_batch_max]
        # A row is lagging when something above its committed watermark is known
        # and the watermark has not moved since the last look.
        lagging = any(
            self._known_max[p] > self._committed_upto[p] == self._last_sync_committed[p]
            for p in range(self._n)
        )
        self._last_sync_committed = list(self._committed_upto)
        if wanted or lagging:
            self._send(self._rng.choice(self._peers), self._sync_request(wanted))

    def _on_sync_request(self, m: SyncRequest) -> None:
        limit = self.config.sync_batch_max
        commits: list[Commit] = []
        seen: set[InstanceId] = set()
        for iid in m.wanted:
            x = self.instances.get(iid)
            if x is not None and x.committed and iid not in seen:
                commits.append(self._commit_msg(x))
                seen.add(iid)
        more = False
        scan_budget = limit * 4
        for p, row in enumerate(self._rows):
            j = m.committed[p] + 1
            top = self._known_max[p]
            while j <= top:
                if len(commits) >= limit or scan_budget <= 0:
                    more = True
                    break
                scan_budget -= 1
                iid = InstanceId(row, j)
                j += 1
                x = self.instances.get(iid)
                if x is not None and x.committed and iid not in seen:
                    commits.append(self._commit_msg(x))
            if more:
                break
        self._send(m.sender, SyncReply(self.me, tuple(self._committed_upto), tuple(commits), more))

    def _on_sync_reply(self, m: SyncReply) -> None:
        for c in m.commits:
            if not self._collected(c):
                self._on_commit(c)
        if self._loading:
            self._sync_heard[m.sender] = m.committed
            for p in range(self._n):
                if m.committed[p] > self._sync_target[p]:
                    self._sync_target[p] = m.committed[p]
        if m.more:
            self._send(m.sender, self._sync_request(()))

    def _check_loaded(self) -> None:
        if len(self._sync_heard) < self._f:
            return
        wm = self._executor.watermarks
        if all(wm[p] >= self._sync_target[p] for p in range(self._n)):
            self._loading = False

    def _loading_progress(self) -> float:
        if not self._loading:
            return 1.0
        wm = self._executor.watermarks
        total = sum(t + 1 for t in self._sync_target)
        if total == 0:
            return 0.0
        done = sum(min(wm[p], self._sync_target[p]) + 1 for p in range(self._n))
        return done / total

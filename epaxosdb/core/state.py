"""The state every part of a replica shares, and the steps they all take.

A ``Replica`` is one state machine; its handlers live in a few modules named
after the roles it plays (``leader``, ``acceptor``, ``recoverer``, ``catchup``,
``collector``). This base holds what they share: the instances, the conflict
index, the executor, the pending output, and the transitions more than one
role makes — promising a ballot, driving an Accept phase, committing.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterable, Sequence

from protocol.messages import (
    Accept,
    AcceptReply,
    Access,
    Ballot,
    Command,
    Commit,
    Deps,
    Heartbeat,
    InstanceId,
    JoinReply,
    JoinRequest,
    Message,
    PreAccept,
    PreAcceptReply,
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
from .ready import SnapshotWanted

AccessFn = Callable[[Command], Access]
BatchAccessFn = Callable[[Sequence[Command]], Access]

JOIN_RECOVERIES_MAX = 256
"""Instances of a joiner's row a peer arms for recovery per ``JoinRequest`` or sync
request (``_recover_for_joiner``)."""
META_NEXT_INSTANCE = "next_instance"
META_GC_WATERMARK = "gc_watermark"
META_JOIN_BOUND = "join_bound"
"""Set by a snapshot install, cleared once the replica has every commit up to it
(``joining``); empty means none."""
META_JOINING = "joining"
"""``b"1"`` on a data directory that must join before it votes (``joining``): written
when the directory is created — by the driver, in the same transaction as anything
else it first writes there — and cleared only once the replica is a member. A new
directory stays new however often the replica starts on it before then: a second
start must not take it for a member that simply never voted."""
META_GC_FLOOR = "gc_floor"
"""Per row, the highest instance deleted while a peer that had not executed it was
left behind (``laggards``); empty while every peer has executed everything deleted."""

_EMPTY = Access()


def encode_rows(rows: Sequence[int] | None) -> bytes:
    """A per-row vector as stored in the metadata (``None``: empty)."""
    return b"" if rows is None else ",".join(map(str, rows)).encode()


def decode_rows(raw: bytes | None, n: int, what: str) -> list[int] | None:
    """A stored per-row vector (``None`` when empty); ``what`` names it in the error."""
    if not raw:
        return None
    rows = [int(x) for x in raw.decode().split(",")]
    if len(rows) != n:
        raise ValueError(f"the stored {what} does not fit this cluster")
    return rows


class SafetyViolation(AssertionError):
    """The core saw two different committed values for one instance: stop, loudly."""


class ReplicaState:
    """What every role of the replica reads and changes; see the module docstring."""

    def __init__(
        self,
        config: ReplicaConfig,
        *,
        rng: random.Random,
        access: AccessFn,
        batch_access: BatchAccessFn | None = None,
    ) -> None:
        self.config = config
        self.me = config.replica_id
        self._rng = rng
        self._access_fn = access
        self._batch_access_fn = batch_access or self._union_of_accesses
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
        self._srtt8: int | None = None
        self._rttvar4 = 0
        """Round trips to peers, in ticks (8× the smoothed mean, 4× the mean deviation, as
        Jacobson's estimator keeps them in integers): see ``_recovery_delay``."""

        self._committed_upto = [-1] * self._n
        self._known_max = [-1] * self._n
        self._deps_top = [-1] * self._n
        """Per row: the highest instance any stored instance, or any reply tallied here,
        depends on (what a joiner's bound must cover: ``joining``); never lowered."""
        self._last_sync_tick = 0
        self._last_sync_committed: list[int] = [-1] * self._n

        self._durable_wm = [-1] * self._n
        """Per row: every instance up to here is executed *and its mark is on disk* here —
        what this replica gossips, since a crash makes it execute anything above again."""
        self._durable_above: set[InstanceId] = set()
        self._gc_wm = [-1] * self._n
        """Per row: every instance up to here was executed by every replica and deleted."""
        self._peer_executed: dict[ReplicaId, Deps] = {}
        self._to_delete: list[InstanceId] = []
        self._last_gc_tick = 0

        self._heard_at: dict[ReplicaId, int] = {q: 0 for q in self._peers}
        """Per peer: the tick of its latest message (a long silence leaves it behind)."""
        self._left_behind: frozenset[ReplicaId] = frozenset()
        """Peers the latest log GC did not wait for (``laggards``)."""
        self._floor: list[int] | None = None
        """``META_GC_FLOOR``: what a peer left behind may lack; new attributes reach it."""
        self._peer_logs: dict[ReplicaId, tuple[Deps, Deps, int]] = {}
        """Per voting peer: its committed and GC watermarks, as its latest SyncReply said,
        and the tick that reply arrived (an old word may predate the peer's restart)."""
        self._rejoin = False
        """Every peer deleted instances this replica never committed: it must rebuild."""

        self._joining = False
        """Started on an empty directory and not yet told whether the cluster is new
        (``joining``): votes on nothing, proposes nothing."""
        self._join_replies: dict[ReplicaId, JoinReply] = {}
        self._join_bound_found: Deps | None = None
        self._join_bound: list[int] | None = None
        """Restored from a snapshot: no votes until every instance up to here is
        committed here."""
        self._snapshot_wanted: SnapshotWanted | None = None

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

    def _union_of_accesses(self, cmds: Sequence[Command]) -> Access:
        """A batch's access from the per-command function (when no batch one is given)."""
        fn = self._access_fn
        return batch_access([fn(c) for c in cmds])

    def _instance_access(self, x: Instance) -> Access:
        acc = x.access
        if acc is None:
            acc = self._batch_access_fn(x.cmds) if x.cmds else _EMPTY
            x.access = acc
        return acc

    def _add_to_index(self, x: Instance) -> None:
        # The index keeps maxima, so adding the same (access, index, seq) twice is a
        # no-op: a commit that keeps the pre-accepted attributes skips it.
        if x.cmds and x.indexed_seq != x.seq:
            self._index.add(self._pos[x.id.replica], x.id.index, self._instance_access(x), x.seq)
            x.indexed_seq = x.seq

    def _note_deps(self, deps: Deps) -> None:
        """A vote names these dependencies: what a joiner's bound must cover (seed 379,
        N=5: a laggard's own instance was known to a peer only through the deps of a
        reply it held while answering the laggard's JoinRequest)."""
        top = self._deps_top
        for p, d in enumerate(deps):
            if d > top[p]:
                top[p] = d

    def _attributes(self, access: Access, seq: int, deps: Deps) -> tuple[int, Deps]:
        """``(seq, deps)`` for ``access`` as this replica sees it, for a command it leads
        or votes on.

        While peers are left behind (``laggards``), the deps reach at least the GC
        floor, whoever asks: the conflict index no longer names the deleted
        instances, and every replica executes this command, a laggard that never
        executed them included, which must not run it before them. (Raising them only
        when leading, or voting for a peer that may lack them, was not enough, seed
        20435, N=3: a vote for a leader that had executed 2.3 left 2.3 out of 1.34's
        deps, while the laggard held 2.3 unexecuted and could have run 1.34 first.)"""
        seq, deps = self._index.attributes(access, seq, deps)
        floor = self._floor
        if floor is not None:
            deps = tuple([d if d >= f else f for d, f in zip(deps, floor, strict=True)])
        return seq, deps

    def _behind(self, peer: ReplicaId, floor: list[int]) -> bool:
        """Whether ``peer`` may lack instances deleted here (below the GC ``floor``)."""
        executed = self._peer_executed.get(peer)
        return executed is None or any(e < f for e, f in zip(executed, floor, strict=True))

    def _voting(self) -> bool:
        """Whether this replica's votes may count: not while it joins or rebuilds
        (``joining``, ``laggards``)."""
        return not (self._joining or self._rejoin) and self._join_bound is None

    def _set_payload(self, x: Instance, cmds: tuple[Command, ...]) -> None:
        if x.cmds != cmds:
            if x.cmds is not None and cmds and x.cmds:
                raise SafetyViolation(f"instance {x.id} carried two different batches")
            had = x.cmds is not None
            x.cmds = cmds
            x.access = None
            x.indexed_seq = None
            if not had:
                self._executor.payload_known(x.id)

    def _recovery_delay(self, x: Instance | None = None) -> int:
        """Ticks to wait before recovering: randomized, and doubling with every
        recovery of the same instance seen so far, so that duelling recoverers
        spread out until one of them has time to finish (Paxos's back-off).

        Never less than two round-trip timeouts as this replica measures them: a
        leader needs two round trips to commit on the slow path, and recovering
        sooner than that takes over instances whose leaders are merely far away —
        with a ``recovery_ticks`` below the network's round trip every instance
        was recovered, by several replicas at once, and commits crawled."""
        c = self.config
        attempts = 0 if x is None else min(x.recovery_attempts, 6)
        base = max(c.recovery_ticks, 2 * self.round_trip_timeout()) << attempts
        return base + self._rng.randint(0, (base >> 1) + c.recovery_jitter_ticks)

    def _recover_for_joiner(self, wanted: Iterable[InstanceId]) -> None:
        """Arm recovery of a joiner's own instances it cannot settle itself (it recovers
        nothing): its predecessor's unfinished ones, holes included, at most
        ``JOIN_RECOVERIES_MAX`` at a time."""
        armed = 0
        for iid in wanted:
            if armed >= JOIN_RECOVERIES_MAX:
                break
            if iid.index <= self._committed_upto[self._pos[iid.replica]]:
                # Committed here, and maybe deleted by log GC since: recovering it would
                # make it anew (seeds 54708, 54753: a ballot lowered).
                continue
            x = self.instances.get(iid)
            if iid in self._watch or (x is not None and (x.committed or x.lead is not None)):
                continue
            self._watch[iid] = self.now + self._recovery_delay(x)
            armed += 1

    def _own_bound_wanted(self) -> tuple[InstanceId, ...]:
        """A restored joiner's own instances up to its bound not committed here: named in
        its sync requests, so that members recover them even when none of them knows
        them any more (seed 54936: the one member that held the predecessor's instance
        lost its disk too, after it had given the bound; nothing else would ever name
        the instance, and the joiner waited on it for good)."""
        bound = self._join_bound
        if bound is None:
            return ()
        own = self._pos[self.me]
        first = self._committed_upto[own] + 1
        last = min(bound[own], first + self.config.sync_batch_max - 1)
        return tuple(InstanceId(self.me, j) for j in range(first, last + 1))

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
        if isinstance(m, JoinRequest):
            return True
        if isinstance(m, JoinReply):
            return m.next_instance >= 0 and len(m.known) == self._n
        if isinstance(m, SyncRequest | SyncReply):
            if len(m.committed) != self._n:
                return False
            if isinstance(m, SyncReply):
                return len(m.collected) in (0, self._n) and all(
                    self._valid(c) for c in m.commits
                )
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
        if not x.lead.retransmitted:
            self._sample_round_trip(self.now - x.lead.last_send)
        self._touch(x)
        return x, x.lead

    def _sample_round_trip(self, ticks: int) -> None:
        """Fold one request-to-reply time into the estimate (Jacobson/Karels)."""
        if self._srtt8 is None:
            self._srtt8, self._rttvar4 = ticks << 3, ticks << 1
            return
        delta = ticks - (self._srtt8 >> 3)
        self._srtt8 += delta
        self._rttvar4 += abs(delta) - (self._rttvar4 >> 2)

    def round_trip_timeout(self) -> int:
        """Smoothed round trip plus four deviations: how long a reply may fairly take."""
        return 0 if self._srtt8 is None else (self._srtt8 >> 3) + self._rttvar4

    def _begin_accept(self, x: Instance, cmds: tuple[Command, ...], seq: int, deps: Deps) -> None:
        lead = x.lead
        assert lead is not None
        lead.phase = Phase.ACCEPT
        lead.fast_deadline = None
        lead.accept_oks = set()
        lead.last_send = self.now
        lead.retransmitted = False
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
            x.indexed_seq = None
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

    def _prepare_reply(self, x: Instance, ballot: Ballot) -> PrepareReply:
        return PrepareReply(
            self.me, x.id, ballot, True, x.status, x.cmds, x.seq, x.deps, x.vbal, x.eq
        )

    def _sync_request(self, wanted: tuple[InstanceId, ...]) -> SyncRequest:
        return SyncRequest(self.me, tuple(self._committed_upto), wanted)

    def _collected(self, m: Message) -> bool:
        """Is ``m`` about an instance every replica executed and this one deleted?

        Such a message is a late duplicate: acting on it would resurrect the instance."""
        inst = getattr(m, "inst", None)
        if inst is None:
            return False
        return bool(inst.index <= self._gc_wm[self._pos[inst.replica]])

    def _advance_durable(self, p: int) -> None:
        row = self._rows[p]
        wm = self._durable_wm[p]
        above = self._durable_above
        while InstanceId(row, wm + 1) in above:
            wm += 1
            above.discard(InstanceId(row, wm))
        self._durable_wm[p] = wm

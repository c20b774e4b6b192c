"""Static configuration of one replica's core: who is in the cluster and every limit.

Quorum sizes follow DESIGN.md §3.1: slow quorum F+1, fast quorum N−1 (the
"simple" quorum, which recovers without TryPreAccept). Every duration is in
ticks — the core never sees a clock; the driver decides how long a tick is
(the trio runtime: ``tick_interval_s``; the simulator: one step).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from protocol.messages import ReplicaId


@dataclass(frozen=True, slots=True)
class ReplicaConfig:
    replica_id: ReplicaId
    replica_ids: tuple[ReplicaId, ...]

    batch_max: int = 1024
    """Most client commands in one instance: a batch conflicts with the union of its keys."""

    batch_bytes_max: int = 16 << 20
    """Most argument bytes in one instance (a larger command goes alone), so that large
    values do not make PreAccept, Accept and Commit frames approach the peer frame limit."""

    inflight_max: int = 32
    """Most own instances proposed but not yet executed here. This is the admission
    control that bounds strongly connected components: an SCC only holds instances
    that were unexecuted at their owner at the same time, so no SCC exceeds
    ``N * inflight_max`` instances (brief §4.3, efficient/epaxos#14)."""

    fast_wait_ticks: int = 2
    """After a majority of PreAccept replies, how many whole ticks to wait for the
    rest of the fast quorum before taking the slow path."""

    retransmit_ticks: int = 20
    """Resend the current phase's message to peers that have not answered."""

    learn_ticks: int = 10
    """An instance that blocks execution and is not committed here: ask peers for it."""

    recovery_ticks: int = 60
    """An uncommitted instance with no progress for this long is recovered (Prepare)."""

    recovery_jitter_ticks: int = 40
    """Random extra delay before a recovery, and back-off after a lost ballot duel."""

    recoveries_max: int = 32
    """Most recoveries this replica runs at once."""

    sync_interval_ticks: int = 50
    """How often a replica that knows it lacks commits asks a peer for them."""

    sync_batch_max: int = 256
    """Most commits in one SyncReply."""

    sync_bytes_max: int = 64 << 20
    """Most argument bytes in one SyncReply (it always carries at least one commit): a
    reply that outgrew the peer frame limit would be refused forever."""

    gc_interval_ticks: int = 100
    """How often a replica gossips its executed watermarks and deletes what every replica
    has executed (log GC)."""

    leave_behind_ticks: int = 0
    """A peer this replica has heard nothing from for this long stops holding back log
    GC (0: never): the log it would need is deleted, and when it returns it rebuilds
    from a snapshot (``laggards``). At most F peers are left behind at once."""

    leave_behind_instances: int = 0
    """...and only while this replica holds at least this many instances: below it, a
    silent peer can still catch up from the log, which is cheaper than a snapshot."""

    leave_behind_bytes: int = 0
    """...or at least this many bytes of commands in them (0: instances alone decide).
    Instances hold their commands' arguments, in memory and on disk, so with large
    values a count of instances says little: 10,000 SETs of 4 MB are 40 GB."""

    fast_path_eq_rule: bool = True
    """N=3 only: fast-commit only on a reply that left the attributes unchanged
    (rule (a) of brief §2.4). Turning it off is a deliberately broken variant used
    to show that the simulator catches the N=3 trap (P7)."""

    n: int = field(init=False)
    f: int = field(init=False)
    fast_quorum: int = field(init=False)
    slow_quorum: int = field(init=False)

    def __post_init__(self) -> None:
        ids = tuple(sorted(self.replica_ids))
        if len(set(ids)) != len(ids) or not ids:
            raise ValueError(f"replica ids must be distinct and non-empty: {self.replica_ids}")
        if any(i <= 0 for i in ids):
            raise ValueError(f"replica ids are positive integers: {self.replica_ids}")
        if self.replica_id not in ids:
            raise ValueError(f"replica {self.replica_id} is not in the cluster {ids}")
        if len(ids) % 2 == 0:
            raise ValueError(f"a cluster has an odd number of replicas, not {len(ids)}")
        for name in ("batch_max", "inflight_max", "retransmit_ticks", "recovery_ticks",
                     "recoveries_max", "sync_batch_max", "sync_interval_ticks",
                     "gc_interval_ticks", "batch_bytes_max", "sync_bytes_max"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("leave_behind_ticks", "leave_behind_instances", "leave_behind_bytes"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        n = len(ids)
        f = (n - 1) // 2
        object.__setattr__(self, "replica_ids", ids)
        object.__setattr__(self, "n", n)
        object.__setattr__(self, "f", f)
        object.__setattr__(self, "fast_quorum", max(n - 1, 1))
        object.__setattr__(self, "slow_quorum", f + 1)

    @property
    def peers(self) -> tuple[ReplicaId, ...]:
        return tuple(r for r in self.replica_ids if r != self.replica_id)

    def position(self, replica: ReplicaId) -> int:
        """Index of a replica's row in a deps vector."""
        return self.replica_ids.index(replica)

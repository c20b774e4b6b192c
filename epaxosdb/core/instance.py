"""One instance as a replica holds it in memory: the durable vote plus volatile bookkeeping.

The durable part (status, cmds, seq, deps, ``bal``, ``vbal``, ``eq``) is
exactly ``InstanceRecord`` and is written to disk whenever it changes.
Ballot rules every handler follows (brief §3.2, P2, P6):

* a message with a ballot below ``bal`` is refused with a NACK carrying ``bal``;
* a vote at ballot ``b`` sets ``bal = vbal = b``; a promise sets only ``bal``;
* nothing ever moves ``status`` back from COMMITTED, nor changes committed
  attributes.

``Leading`` is the bookkeeping of the replica that is driving the instance at
some ballot — its original leader at the initial ballot, or a recoverer. It is
never persisted: a restarted replica recovers its own unfinished instances at
a new ballot instead of resuming (brief §5.4).
"""

from __future__ import annotations

from enum import Enum

from protocol.messages import (
    NOOP,
    ZERO_BALLOT,
    Access,
    Ballot,
    Command,
    Deps,
    InstanceId,
    InstanceRecord,
    PreAcceptReply,
    PrepareReply,
    Status,
)


class Phase(Enum):
    PREACCEPT = "preaccept"
    ACCEPT = "accept"
    PREPARE = "prepare"


class Leading:
    """Volatile state of the replica driving an instance at ``ballot``."""

    __slots__ = (
        "accept_oks",
        "ballot",
        "fast_deadline",
        "last_send",
        "orig_deps",
        "orig_seq",
        "phase",
        "preaccept_replies",
        "prepare_replies",
        "retransmitted",
    )

    def __init__(self, ballot: Ballot, phase: Phase, now: int) -> None:
        self.ballot = ballot
        self.phase = phase
        self.last_send = now
        self.retransmitted = False
        """The current phase's messages went out again: its replies time nothing (Karn)."""
        self.fast_deadline: int | None = None
        self.orig_seq = 0
        self.orig_deps: Deps = ()
        self.preaccept_replies: dict[int, PreAcceptReply] = {}
        self.accept_oks: set[int] = set()
        self.prepare_replies: dict[int, PrepareReply] = {}

    @property
    def fast_path_allowed(self) -> bool:
        """Only the initial ballot may commit on the fast path (brief §3.3 step 5)."""
        return self.ballot.is_initial()


class Instance:
    __slots__ = (
        "access",
        "bal",
        "cmds",
        "commit_tick",
        "deps",
        "eq",
        "id",
        "indexed_seq",
        "lead",
        "max_round_seen",
        "progress_tick",
        "recover_at",
        "recovery_attempts",
        "seq",
        "status",
        "vbal",
    )

    def __init__(self, iid: InstanceId, n: int, now: int) -> None:
        self.id = iid
        self.status = Status.NONE
        self.cmds: tuple[Command, ...] | None = None
        self.seq = 0
        self.deps: Deps = (-1,) * n
        self.bal: Ballot = ZERO_BALLOT
        self.vbal: Ballot = ZERO_BALLOT
        self.eq = False
        self.access: Access | None = None
        self.indexed_seq: int | None = None
        """The ``seq`` this instance's ``access`` was last added to the conflict index
        with (``None``: not since ``access`` was last set): adding it again changes nothing."""
        self.lead: Leading | None = None
        self.max_round_seen = 0
        self.progress_tick = now
        self.recover_at: int | None = None
        self.commit_tick = 0
        self.recovery_attempts = 0
        """Recoveries of this instance seen or started here: backs the next one off."""

    @property
    def committed(self) -> bool:
        return self.status >= Status.COMMITTED

    @property
    def is_noop(self) -> bool:
        return self.cmds == NOOP

    def record(self) -> InstanceRecord:
        return InstanceRecord(
            self.id, self.status, self.cmds, self.seq, self.deps, self.bal, self.vbal, self.eq
        )

    @classmethod
    def from_record(cls, rec: InstanceRecord, now: int) -> Instance:
        inst = cls(rec.id, len(rec.deps), now)
        inst.status = rec.status
        inst.cmds = rec.cmds
        inst.seq = rec.seq
        inst.deps = rec.deps
        inst.bal = rec.bal
        inst.vbal = rec.vbal
        inst.eq = rec.eq
        inst.max_round_seen = rec.bal.round
        return inst

    def __repr__(self) -> str:
        n = "?" if self.cmds is None else len(self.cmds)
        return (
            f"Instance({self.id} {self.status.name} cmds={n} seq={self.seq} deps={self.deps} "
            f"bal={self.bal} vbal={self.vbal} eq={self.eq})"
        )

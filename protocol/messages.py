"""Values that cross a boundary between replicas, or between a replica and its disk.

Everything here is a frozen, slotted value with no behaviour beyond cheap
derived properties: the EPaxos core (``epaxosdb.core``) consumes and produces
these, the peer codec (``protocol.peer``) turns them into frames, and the
storage layer persists ``InstanceRecord`` values. Vocabulary follows the
EPaxos paper: an *instance* ``(replica, index)`` holds a *batch* of client
commands with attributes ``seq`` and ``deps``; ballots order competing
leaders of one instance.

Two ballots per instance (``bal`` = highest promise, ``vbal`` = ballot of the
last vote) are Sutra's fix for the original protocol's recovery bug; they are
kept apart everywhere, including on disk (pitfall P25).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from itertools import chain
from operator import attrgetter
from typing import NamedTuple

ReplicaId = int
"""Small positive integer naming a replica; rows of the instance space are keyed by it."""


class InstanceId(NamedTuple):
    """The ``index``-th slot of the instance row owned by ``replica``."""

    replica: ReplicaId
    index: int  # type: ignore[assignment]  # shadows tuple.index on purpose: the paper's name

    def __str__(self) -> str:
        return f"{self.replica}.{self.index}"


class Ballot(NamedTuple):
    """``(epoch, round, replica)``, compared lexicographically.

    The initial ballot of instance ``(r, i)`` is ``(0, 0, r)``; a recovery by
    replica ``R`` uses ``(0, k, R)`` with ``k`` above every round it has seen.
    The epoch stays 0 until membership change exists.
    """

    epoch: int
    round: int
    replica: ReplicaId

    @staticmethod
    def initial(owner: ReplicaId) -> Ballot:
        return Ballot(0, 0, owner)

    def is_initial(self) -> bool:
        return self.epoch == 0 and self.round == 0

    def __str__(self) -> str:
        return f"{self.epoch}.{self.round}.{self.replica}"


ZERO_BALLOT = Ballot(0, 0, 0)
"""Below every real ballot: the ``bal``/``vbal`` of an instance nobody has voted on."""


class Status(IntEnum):
    """Life cycle of an instance at one replica; never decreases."""

    NONE = 0
    PREACCEPTED = 1
    ACCEPTED = 2
    COMMITTED = 3
    EXECUTED = 4


class Command(NamedTuple):
    """One client request as it is replicated (a NamedTuple: built per request, so cheap).

    ``ops`` holds one normalized Redis command (relative expiries already made
    absolute), or the queued commands of a MULTI/EXEC when ``multi`` is set;
    the reply of a ``multi`` command is the array of its ops' replies.
    ``time_ms`` is the proposer's wall clock when it proposed: every
    time-dependent decision at execution ("is this key expired?") uses it, so
    executing a command never reads a clock. ``(origin, id)`` is unique over
    the cluster's whole life: it routes the reply back to the client that
    waits at ``origin`` and lets checkers prove nothing executes twice.
    """

    origin: ReplicaId
    id: int
    time_ms: int
    ops: tuple[tuple[bytes, ...], ...]
    multi: bool = False


def command_bytes(cmd: Command) -> int:
    """Argument bytes one command carries.

    A plain loop for one op: for a command of a few arguments it costs half of
    what a generator expression does; a command of many ops (a MULTI, a client's
    pipelined run) is summed in C instead."""
    ops = cmd.ops
    if len(ops) == 1:
        n = 0
        for arg in ops[0]:
            n += len(arg)
        return n
    return sum(map(len, _chain(ops)))


def payload_bytes(cmds: Iterable[Command]) -> int:
    """Argument bytes a batch carries: what its messages' size grows with.

    Summed in C, with no Python step per command or argument (and no copy): this
    runs for every batch proposed and persisted."""
    return sum(map(len, _chain(_chain(map(_ops, cmds)))))


_chain = chain.from_iterable
_ops = attrgetter("ops")


NOOP: tuple[Command, ...] = ()
"""The empty batch: what recovery commits in an instance whose command nobody holds.

It means only "nothing to execute"; it never clears or resets anything (P11)."""


class Access(NamedTuple):
    """Which keys a command (or a batch) reads and writes: the interference relation.

    Two commands interfere when they share a key and at least one writes it.
    ``global_read`` commands (KEYS, SCAN, DBSIZE, RANDOMKEY) behave as if they
    read every key; ``global_write`` ones (FLUSHALL, FLUSHDB) as if they wrote
    every key. ``reads`` excludes keys that are also in ``writes``.
    """

    reads: frozenset[bytes] = frozenset()
    writes: frozenset[bytes] = frozenset()
    global_read: bool = False
    global_write: bool = False

    @property
    def read_only(self) -> bool:
        return not self.writes and not self.global_write

    def union(self, other: Access) -> Access:
        writes = self.writes | other.writes
        return Access(
            reads=(self.reads | other.reads) - writes,
            writes=writes,
            global_read=self.global_read or other.global_read,
            global_write=self.global_write or other.global_write,
        )

    def interferes(self, other: Access) -> bool:
        if self.global_write or other.global_write:
            return True
        if self.global_read and other.writes:
            return True
        if other.global_read and self.writes:
            return True
        if self.writes and (
            not self.writes.isdisjoint(other.writes) or not self.writes.isdisjoint(other.reads)
        ):
            return True
        return bool(other.writes) and not other.writes.isdisjoint(self.reads)


EMPTY_ACCESS = Access()


class AccessUnion:
    """The union of many accesses, gathered in place (a batch's interference footprint).

    Built once per batch rather than pairwise: ``reads`` and ``writes`` are
    open sets a caller may add single keys to directly; ``access()`` freezes
    them, dropping from the reads what is also written.
    """

    __slots__ = ("global_read", "global_write", "reads", "writes")

    def __init__(self) -> None:
        self.reads: set[bytes] = set()
        self.writes: set[bytes] = set()
        self.global_read = False
        self.global_write = False

    def add(self, access: Access) -> None:
        self.reads |= access.reads
        self.writes |= access.writes
        self.global_read = self.global_read or access.global_read
        self.global_write = self.global_write or access.global_write

    def access(self) -> Access:
        return Access(
            frozenset(self.reads - self.writes),
            frozenset(self.writes),
            self.global_read,
            self.global_write,
        )

Deps = tuple[int, ...]
"""Per-row dependency vector, indexed by the row's position in the sorted replica ids.

``deps[p] = j`` means: depends on every interfering instance ``(row p, <= j)``;
``-1`` means none (prefix semantics, brief §1.5)."""


@dataclass(frozen=True, slots=True)
class InstanceRecord:
    """The durable state of one instance at one replica.

    ``cmds`` is ``None`` only while the replica has promised a ballot for an
    instance whose payload it has never seen (status NONE).
    """

    id: InstanceId
    status: Status
    cmds: tuple[Command, ...] | None
    seq: int
    deps: Deps
    bal: Ballot
    vbal: Ballot
    eq: bool = False


# --- peer messages -----------------------------------------------------------
#
# Every message names its sender. Replies carry the receiver's ``bal`` as
# ``ballot`` so that a NACK tells the would-be leader which ballot to beat.


@dataclass(frozen=True, slots=True)
class PreAccept:
    sender: ReplicaId
    inst: InstanceId
    ballot: Ballot
    cmds: tuple[Command, ...]
    seq: int
    deps: Deps


@dataclass(frozen=True, slots=True)
class PreAcceptReply:
    sender: ReplicaId
    inst: InstanceId
    ballot: Ballot
    ok: bool
    seq: int
    deps: Deps
    eq: bool


@dataclass(frozen=True, slots=True)
class Accept:
    sender: ReplicaId
    inst: InstanceId
    ballot: Ballot
    cmds: tuple[Command, ...]
    seq: int
    deps: Deps


@dataclass(frozen=True, slots=True)
class AcceptReply:
    sender: ReplicaId
    inst: InstanceId
    ballot: Ballot
    ok: bool


@dataclass(frozen=True, slots=True)
class Commit:
    """Always carries the full payload: there are no short commits (P11, P23)."""

    sender: ReplicaId
    inst: InstanceId
    cmds: tuple[Command, ...]
    seq: int
    deps: Deps


@dataclass(frozen=True, slots=True)
class Prepare:
    sender: ReplicaId
    inst: InstanceId
    ballot: Ballot


@dataclass(frozen=True, slots=True)
class PrepareReply:
    """Reports ``vbal``, the ballot of the reported vote, never the new promise (P1)."""

    sender: ReplicaId
    inst: InstanceId
    ballot: Ballot
    ok: bool
    status: Status
    cmds: tuple[Command, ...] | None
    seq: int
    deps: Deps
    vbal: Ballot
    eq: bool


@dataclass(frozen=True, slots=True)
class SyncRequest:
    """Catch-up: "send me the commits I lack".

    ``committed`` is the sender's contiguous committed watermark per row
    (position-indexed like ``deps``); ``wanted`` names specific instances it
    is blocked on.
    """

    sender: ReplicaId
    committed: Deps
    wanted: tuple[InstanceId, ...]


@dataclass(frozen=True, slots=True)
class SyncReply:
    """A batch of commits for a SyncRequest.

    ``committed`` is the responder's own contiguous committed watermark per
    row, which tells a restarted replica how far it must catch up; ``more``
    says the responder stopped at its batch limit. ``collected`` is its log GC
    watermark (empty while it is not a voting member): below it the responder
    can give nothing, which tells a replica that was left behind that it must
    rebuild from a snapshot (``core.laggards``).
    """

    sender: ReplicaId
    committed: Deps
    commits: tuple[Commit, ...]
    more: bool
    collected: Deps = ()


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Periodic gossip of the sender's executed watermark per row.

    The minimum over all replicas is the executed-everywhere watermark below which
    instances are deleted (log GC, brief §6): nothing can depend on them any more.
    """

    sender: ReplicaId
    executed: Deps


@dataclass(frozen=True, slots=True)
class JoinRequest:
    """A replica started on an empty data directory asks to join (``core.joining``).

    It may be new, or a replacement for one that lost its disk and with it every
    vote it made; until the answers say which, it votes on nothing."""

    sender: ReplicaId


@dataclass(frozen=True, slots=True)
class JoinReply:
    """What a member knows that bounds a joining replica's forgotten past.

    ``next_instance`` is the number the responder's next own instance will get
    (the joiner's predecessor can only have voted on lower ones of its row);
    ``known`` the highest instance of each row it has heard of, as an instance
    or as a dependency (position-indexed like ``deps``); ``pristine`` says it
    has never held an instance, executed or deleted one; ``joining`` that it
    is rebuilding itself, so its knowledge does not count.
    """

    sender: ReplicaId
    next_instance: int
    known: Deps
    pristine: bool
    joining: bool


Message = (
    PreAccept
    | PreAcceptReply
    | Accept
    | AcceptReply
    | Commit
    | Prepare
    | PrepareReply
    | SyncRequest
    | SyncReply
    | Heartbeat
    | JoinRequest
    | JoinReply
)

"""``Ready``: everything the driver must do after feeding the core, in order.

The contract (raft's Ready/Advance, adapted; DESIGN.md §2):

1. Make ``to_persist``, ``meta`` and ``to_delete`` durable in one write
   transaction, and run ``to_execute`` in order. The key-value effects of the
   executed commands and the marks saying those instances ran may be written
   by a later transaction (``node.DeferredApply``), but always together, and
   all of them before any transaction that deletes instances: an instance
   whose mark is lost in a crash is simply executed again after the restart,
   into the same state, because its COMMITTED record is durable.
2. Only then send ``messages`` and release client replies. Every vote,
   promise and commit a message relies on is in ``to_persist`` of this Ready
   or an earlier one (brief §5.3; the simulator checks it after every step).
3. Call ``advance(ready)``.

Nothing may be fed to the core between ``ready()`` and ``advance()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from protocol.messages import Command, Deps, InstanceId, InstanceRecord, Message, ReplicaId


@dataclass(frozen=True, slots=True)
class Executed:
    """A committed instance whose batch runs now (empty for a NO-OP)."""

    inst: InstanceId
    cmds: tuple[Command, ...]


@dataclass(frozen=True, slots=True)
class SnapshotWanted:
    """A joining replica asks its driver for a peer's state (``core.joining``).

    The driver copies one of ``sources`` (peers that hold data; try them in
    order) into the store — its key-value state, its committed instances, its
    GC watermark — with ``bound`` as ``META_JOIN_BOUND``, then restores the
    replica from the store."""

    bound: Deps
    sources: tuple[ReplicaId, ...]


@dataclass(slots=True)
class Ready:
    to_persist: list[InstanceRecord] = field(default_factory=list)
    meta: dict[str, bytes] = field(default_factory=dict)
    messages: list[tuple[ReplicaId, Message]] = field(default_factory=list)
    to_execute: list[Executed] = field(default_factory=list)
    committed: list[InstanceId] = field(default_factory=list)
    """Instances that committed at this replica during this step (for metrics)."""
    to_delete: list[InstanceId] = field(default_factory=list)
    """Instances every replica has executed: delete them (log GC), in the same transaction."""
    snapshot: SnapshotWanted | None = None
    """Set while a joining replica waits for a snapshot (asked again now and then)."""
    rejoin: bool = False
    """This replica was left behind (``laggards``): every peer deleted instances it
    never committed. After this Ready the driver discards the store's state and
    restores the replica as one on a new disk, which joins again from a snapshot."""

    def __bool__(self) -> bool:
        return bool(
            self.to_persist or self.meta or self.messages or self.to_execute or self.to_delete
            or self.snapshot is not None or self.rejoin
        )

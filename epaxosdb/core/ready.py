"""``Ready``: everything the driver must do after feeding the core, in order.

The contract (raft's Ready/Advance, adapted; DESIGN.md §2):

1. Persist ``to_persist`` and ``meta`` and apply ``to_execute`` — in ONE
   durable write transaction: apply each executed batch's commands in order
   and mark the instance executed in the same transaction, so a crash can
   neither apply a command twice nor lose the record that it ran.
2. Only then send ``messages`` and release client replies. Every vote,
   promise and commit a message relies on is in ``to_persist`` of this Ready
   or an earlier one (brief §5.3; the simulator checks it after every step).
3. Call ``advance(ready)``.

Nothing may be fed to the core between ``ready()`` and ``advance()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from protocol.messages import Command, InstanceId, InstanceRecord, Message, ReplicaId


@dataclass(frozen=True, slots=True)
class Executed:
    """A committed instance whose batch runs now (empty for a NO-OP)."""

    inst: InstanceId
    cmds: tuple[Command, ...]


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

    def __bool__(self) -> bool:
        return bool(
            self.to_persist or self.meta or self.messages or self.to_execute or self.to_delete
        )

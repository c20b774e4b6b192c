"""CLIENT PAUSE: this replica's clients wait, all of them or those that write.

Redis uses a pause to let a replica catch up before a failover; here it holds
the commands this replica's clients send (the other replicas serve theirs), so
an operator can stop one replica's writes — to take a consistent look at it, or
to drain it before maintenance — without stopping the process. As in Redis
7.0: ``ALL`` holds every command (CLIENT UNPAUSE too, so only the timeout ends
such a pause); ``WRITE`` holds the commands that would change the data or
publish (writes, scripts, PUBLISH, an EXEC with any of those queued) and lets
reads through; a command held is processed in full, as if just sent, when the
pause ends; a second PAUSE replaces the mode and keeps the later end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import trio

from epaxosdb import commands
from epaxosdb.commands.spec import CommandSpec


@dataclass
class ClientPause:
    """The pause in force, if any: until when (trio's clock) and which commands."""

    until: float | None = None
    writes_only: bool = False

    def start(self, seconds: float, writes_only: bool) -> None:
        end = trio.current_time() + seconds
        if self.until is None or self.until < end:
            self.until = end
        self.writes_only = writes_only

    def lift(self) -> None:
        self.until = None

    @property
    def active(self) -> bool:
        """Whether a pause may be in force (it may have ended without anyone looking)."""
        return self.until is not None

    def holds(self, spec: CommandSpec, queued: Sequence[Sequence[bytes]] | None) -> float | None:
        """Until when a command of ``spec`` waits (``queued``: the MULTI an EXEC runs), or
        ``None`` if it goes now."""
        until = self.until
        if until is None:
            return None
        if trio.current_time() >= until:
            self.until = None
            return None
        if not self.writes_only or _writes(spec, queued):
            return until
        return None


def _writes(spec: CommandSpec, queued: Sequence[Sequence[bytes]] | None) -> bool:
    """Whether running ``spec`` may change the data or publish (Redis's ``write`` and
    ``may_replicate`` commands): for EXEC, whether anything it runs may."""
    if spec.runs_everywhere:
        return True
    if spec.name != b"exec" or not queued:
        return False
    for request in queued:
        found = commands.resolve(request)
        if isinstance(found, CommandSpec) and found.runs_everywhere:
            return True
    return False

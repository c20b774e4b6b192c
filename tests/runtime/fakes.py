"""Test doubles for the client front end.

``FakeBackend`` stands where the consensus loop stands in production: it
stamps commands and, on ``submit``, runs them with the real command handlers
(``epaxosdb.commands.execute``) against a ``MemoryStore``. Replies come back
at once by default; with ``hold=True`` they wait until the test calls
``release()``, optionally in another order, to show that the front end keeps
request order whatever order completions arrive in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from epaxosdb import commands
from epaxosdb.runtime.backend import InfoFields
from protocol.messages import Command
from protocol.replies import Error, Reply
from storage.memory import MemoryStore

LOADING = Error("LOADING Redis is loading the dataset in memory")


@dataclass
class FakeBackend:
    replica_id: int = 1
    loading: bool = False
    hold: bool = False
    store: MemoryStore = field(default_factory=MemoryStore)
    submitted: list[Command] = field(default_factory=list)
    held: list[tuple[Command, Callable[[Reply], None]]] = field(default_factory=list)
    _next_id: int = 0

    def stamp(
        self, ops: tuple[tuple[bytes, ...], ...], time_ms: int, multi: bool = False
    ) -> Command:
        self._next_id += 1
        return Command(self.replica_id, self._next_id, time_ms, ops, multi)

    def submit(self, cmd: Command, on_done: Callable[[Reply], None]) -> None:
        self.submitted.append(cmd)
        if self.loading:
            on_done(LOADING)
        elif self.hold:
            self.held.append((cmd, on_done))
        else:
            on_done(self.execute(cmd))

    def execute(self, cmd: Command) -> Reply:
        return self.store.write(lambda txn: commands.execute(txn, cmd))

    def release(self, *, reverse: bool = False) -> int:
        """Execute the held commands in submission order; call back in ``reverse`` if asked."""
        held, self.held = self.held, []
        results = [(on_done, self.execute(cmd)) for cmd, on_done in held]
        for on_done, reply in reversed(results) if reverse else results:
            on_done(reply)
        return len(results)

    def info_sections(self) -> Mapping[str, InfoFields]:
        keys = self.store.read(lambda kv: kv.count())
        keyspace: InfoFields = [("db0", f"keys={keys},expires=0,avg_ttl=0")] if keys else []
        return {
            "EPaxos": [("replica_id", self.replica_id), ("instances_committed", self._next_id)],
            "Keyspace": keyspace,
        }

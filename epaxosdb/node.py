"""``apply_ready``: the one place that knows the order persist → execute → release.

Both drivers — the trio runtime and the deterministic simulator — call this
with the ``Ready`` the core produced. One write transaction (one fsync) holds
the instance records, the metadata, the key-value effects of every command
that executes now, and the marks saying those instances ran; only after it
commits are the messages handed back for sending and the replies for
releasing. A crash before the commit loses the whole step, which the core
tolerates; a crash after it loses only unsent messages, which the protocol
tolerates.

Read-only commands change nothing, so only the replica whose client asked
runs them; every other replica just marks their instance executed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from epaxosdb import commands
from epaxosdb.core.ready import Ready
from protocol.messages import Command, Message, ReplicaId
from protocol.replies import Error, Reply
from storage.interface import Store, Txn


@dataclass(slots=True)
class Outbox:
    messages: list[tuple[ReplicaId, Message]] = field(default_factory=list)
    replies: list[tuple[Command, Reply]] = field(default_factory=list)
    """Replies to commands proposed at this replica, in execution order."""
    failures: list[tuple[Command, str]] = field(default_factory=list)
    """Commands whose handler raised (a bug): answered with an error, logged by the driver."""


def execute_command(txn: Txn, cmd: Command) -> tuple[Reply, str | None]:
    """Run one command; a handler bug becomes an error reply, deterministically everywhere."""
    try:
        return commands.execute(txn, cmd), None
    except Exception as exc:  # a handler bug must not take the replica down
        detail = f"{type(exc).__name__}: {exc}"
        return Error(f"ERR internal error while executing the command ({detail})"), detail


def apply_ready(store: Store, ready: Ready, me: ReplicaId) -> Outbox:
    """Make ``ready`` durable and execute it in one transaction; return what may now leave."""
    out = Outbox(messages=ready.messages)
    if not (ready.to_persist or ready.meta or ready.to_execute):
        return out

    def transaction(txn: Txn) -> None:
        # ``store.write`` may re-run this after growing a full map: start clean.
        out.replies.clear()
        out.failures.clear()
        if ready.to_persist:
            txn.put_instances(ready.to_persist)
        for name, value in ready.meta.items():
            txn.set_meta(name, value)
        for ex in ready.to_execute:
            for cmd in ex.cmds:
                mine = cmd.origin == me
                if not mine and commands.is_read_only(cmd):
                    continue
                reply, failure = execute_command(txn, cmd)
                if failure is not None:
                    out.failures.append((cmd, failure))
                if mine:
                    out.replies.append((cmd, reply))
        if ready.to_execute:
            txn.mark_executed(ex.inst for ex in ready.to_execute)

    store.write(transaction)
    return out

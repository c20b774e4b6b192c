"""Running committed commands against the key-value state: ``execute``.

Execution is a pure function of (state, command): handlers read no clock —
``cmd.time_ms`` is "now" for every expiry decision — and no global random
source — RANDOMKEY seeds from ``(cmd.origin, cmd.id)``. So every replica
that executes a write ends in the same state with the same reply. Read-only
commands run only at the replica that proposed them; they never modify the
store, not even to drop an expired key.

This is the hot path: one dict lookup and one call per op.
"""

from __future__ import annotations

from protocol.messages import Command
from protocol.replies import NULL_ARRAY, Reply
from storage.interface import KeyValueView

from . import errors
from .spec import CommandSpec, Handler
from .table import COMMANDS
from .watch import WATCHCHECK, unchanged


def _sub_name(sub: CommandSpec) -> bytes:
    return sub.upper.partition(b"|")[2]


_CONTAINERS: dict[bytes, dict[bytes, CommandSpec]] = {
    spec.upper: {_sub_name(sub): sub for sub in spec.subcommands}
    for spec in COMMANDS
    if any(sub.handler is not None for sub in spec.subcommands)
}
"""XGROUP and XINFO: containers whose sub-commands are data commands. Their ops are
``(CONTAINER, sub, ...)``: the sub-command in any case."""


def _container_handler(subs: dict[bytes, CommandSpec]) -> Handler:
    handlers = {name: sub.handler for name, sub in subs.items() if sub.handler is not None}

    def handler(kv: KeyValueView, op: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
        sub = handlers.get(op[1].upper()) if len(op) > 1 else None
        return errors.unknown_command(op) if sub is None else sub(kv, op, now_ms, seed)

    return handler


_HANDLERS: dict[bytes, Handler] = {
    spec.upper: spec.handler for spec in COMMANDS if spec.handler is not None
}
_HANDLERS.update({name: _container_handler(subs) for name, subs in _CONTAINERS.items()})
_WRITES: frozenset[bytes] = frozenset(spec.upper for spec in COMMANDS if spec.runs_everywhere)
_READS: frozenset[bytes] = frozenset(
    spec.upper for spec in COMMANDS if not spec.runs_everywhere and spec.upper not in _CONTAINERS
)
_SUB_WRITES: dict[bytes, frozenset[bytes]] = {
    name: frozenset(sub_name for sub_name, sub in subs.items() if sub.runs_everywhere)
    for name, subs in _CONTAINERS.items()
}


def execute(kv: KeyValueView, cmd: Command) -> Reply:
    """Run ``cmd.ops`` in order; a MULTI replies with the list of its ops' replies.

    A run-time error inside a MULTI is that item's reply; the other ops still
    run, as in Redis. A MULTI whose first op is ``WATCHCHECK`` (EXEC after
    WATCH) runs nothing and replies the null array when a watched key
    changed; otherwise its reply leaves the check's out, so it lines up with
    the commands the client queued. Deciding here, inside the replicated
    command, is what makes every replica decide the same (see ``watch``).
    """
    now_ms = cmd.time_ms
    seed = (cmd.origin << 64) | cmd.id
    if not cmd.multi:
        (op,) = cmd.ops
        handler = _HANDLERS.get(op[0]) or _HANDLERS.get(op[0].upper())
        if handler is None:
            return errors.unknown_command(op)
        return handler(kv, op, now_ms, seed)
    ops = cmd.ops
    first = 0
    if ops and ops[0][0] == WATCHCHECK:
        if not unchanged(kv, ops[0], now_ms):
            return NULL_ARRAY
        first = 1
    replies: list[Reply] = []
    for index in range(first, len(ops)):
        op = ops[index]
        handler = _HANDLERS.get(op[0]) or _HANDLERS.get(op[0].upper())
        if handler is None:
            replies.append(errors.unknown_command(op))
        else:
            replies.append(handler(kv, op, now_ms, (seed << 16) + index))
    return replies


def is_read_only(cmd: Command) -> bool:
    """True when no op of ``cmd`` can change the state or publish (only its proposer
    executes it)."""
    for op in cmd.ops:
        name = op[0]
        if name in _WRITES or (name not in _READS and name.upper() in _WRITES):
            return False
        sub_writes = _SUB_WRITES.get(name.upper()) if name not in _READS else None
        if sub_writes and len(op) > 1 and op[1].upper() in sub_writes:
            return False
    return True

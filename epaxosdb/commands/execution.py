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
from .spec import Handler
from .table import COMMANDS
from .watch import WATCHCHECK, unchanged

_HANDLERS: dict[bytes, Handler] = {
    spec.upper: spec.handler for spec in COMMANDS if spec.handler is not None
}
_WRITES: frozenset[bytes] = frozenset(spec.upper for spec in COMMANDS if spec.runs_everywhere)
_READS: frozenset[bytes] = frozenset(spec.upper for spec in COMMANDS if not spec.runs_everywhere)


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
    return True

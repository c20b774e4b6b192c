"""Redis commands for epaxosdb: the command table and pure, deterministic handlers.

The public API other layers code against:

* ``lookup(name)`` — the ``CommandSpec`` row of a client command.
* ``prepare(args, now_ms)`` — at the proposing replica: Redis's errors for
  bad requests, else the normalized op to replicate (absolute expiries).
* ``access_of(op)`` / ``command_access(cmd)`` / ``batch_access(cmds)`` — keys
  read and written: what EPaxos uses to decide interference.
* ``execute(kv, cmd)`` — run a committed command against a ``KeyValueView``.
* ``is_read_only(cmd)`` — whether only the proposer needs to run its handlers
  (the others ``settle_expiry_of(kv, cmd)``: delete what it found expired).
* ``expired_sweep_op(kv, now_ms, limit)`` — the internal op that deletes
  expired keys, proposed periodically by the runtime.
* ``command_reply(args)`` — COMMAND and its sub-commands.
* ``blocking_wait(op)`` — what a blocked BLPOP, BZPOPMIN, BLMPOP... waits for
  between its attempts (the waiting itself is the runtime's); ``undo_pop(op,
  reply)`` — the op that puts back what an attempt popped for a client gone.
* ``queue_error`` / ``prepare_queued`` / ``refused_in_multi`` — MULTI's queue-time checks.
* ``script_compile_error(body)`` — the error a script gets (a bad shebang, a Lua compile
  error) from EVAL and SCRIPT LOAD, or ``None``.
* ``watchread_op(keys)`` / ``watchcheck_op(pairs)`` — WATCH as a replicated
  read of per-key digests, and the op that makes EXEC run only if none
  changed (see ``watch``).
"""

from .access import access_of, batch_access, command_access
from .blocking import blocking_wait, undo_pop, undo_summary
from .docs import command_reply
from .execution import (
    execute,
    holds_collections,
    is_keyspace_wide,
    is_read_only,
    settle_expiry_of,
)
from .expiry import expired_sweep_op
from .integers import parse_db_index
from .proposal import prepare, resolve
from .scripting import compile_error as script_compile_error
from .spec import Arg, CommandSpec, Handler, KeySpec
from .table import COMMANDS, lookup
from .transactions import prepare_queued, queue_error, refused_in_multi
from .watch import watchcheck_op, watchread_op

__all__ = [
    "COMMANDS",
    "Arg",
    "CommandSpec",
    "Handler",
    "KeySpec",
    "access_of",
    "batch_access",
    "blocking_wait",
    "command_access",
    "command_reply",
    "execute",
    "expired_sweep_op",
    "holds_collections",
    "is_keyspace_wide",
    "is_read_only",
    "lookup",
    "parse_db_index",
    "prepare",
    "prepare_queued",
    "queue_error",
    "refused_in_multi",
    "resolve",
    "script_compile_error",
    "settle_expiry_of",
    "undo_pop",
    "undo_summary",
    "watchcheck_op",
    "watchread_op",
]

"""MULTI/EXEC: which errors abort a transaction, and which become per-item replies.

Redis checks a command twice. When it is queued after MULTI, only unknown
commands, wrong arity and commands that may not run inside a transaction
(``no_multi``: SHUTDOWN) are refused (``-ERR ...`` now, then
``-EXECABORT`` at EXEC). Everything else — a syntax error, a bad number, an
invalid expire time — is only discovered when EXEC runs it, and is returned
as that item's reply while the other commands run. ``prepare`` finds many of
those errors early; inside a transaction they must not abort it, so
``prepare_queued`` turns them into an internal ``ERRORREPLY`` op that
replies the same error when the transaction executes.

The front end queues ``args`` after ``queue_error`` accepts them, and at EXEC
calls ``prepare_queued`` on each with the EXEC timestamp, then proposes one
``Command(multi=True)`` with all the ops. Connection commands (PING, ECHO...)
come back as ops without a handler; the front end must answer those itself.
After WATCH, the front end puts a ``WATCHCHECK`` op in front of the queued
ops (``watch.watchcheck_op``); ``execute`` then runs them only if no watched
key changed.
"""

from __future__ import annotations

from collections.abc import Sequence

from protocol.replies import Error

from .errors import NOT_IN_MULTI, error_op
from .proposal import prepare, resolve
from .spec import CommandSpec


def queue_error(args: Sequence[bytes]) -> Error | None:
    """The error Redis gives when ``args`` is queued inside MULTI, or ``None`` if it queues."""
    spec = resolve(args)
    return spec if isinstance(spec, Error) else refused_in_multi(spec)


def refused_in_multi(spec: CommandSpec) -> Error | None:
    """The error for a command that may not run inside MULTI (``no_multi``: SHUTDOWN)."""
    return NOT_IN_MULTI if "no_multi" in spec.flags else None


def prepare_queued(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    """Normalize a queued command; only queue-time errors come back as ``Error``."""
    spec = resolve(args)
    if isinstance(spec, Error):
        return spec
    queued = spec.prepare_queued
    op = queued(args, now_ms) if queued is not None else prepare(args, now_ms)
    if isinstance(op, Error):
        return error_op(op)
    return op

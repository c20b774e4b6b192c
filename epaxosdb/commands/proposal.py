"""From a client's request to the op that gets replicated: ``prepare``.

``prepare`` runs once, at the replica a client talks to, before anything is
proposed. It answers every error that does not depend on stored state —
unknown command, wrong arity, syntax, bad numbers, bad expiry times — with
Redis's exact text, so no consensus round is spent on them. What it returns
is the *normalized op*: the name upper-cased, options spelled canonically,
and relative expiries made absolute from ``now_ms`` (``SET k v EX 10`` →
``SET k v PXAT <ms>``, ``EXPIRE k 10`` → ``PEXPIREAT k <ms>``). Executing
the op then needs no clock, so every replica computes the same result.
"""

from __future__ import annotations

from collections.abc import Sequence

from protocol.replies import Error

from . import errors
from .spec import CommandSpec
from .table import BY_NAME


def resolve(args: Sequence[bytes]) -> CommandSpec | Error:
    """The spec ``args`` call, after Redis's queue-time checks (``processCommand``).

    Unknown command, unknown sub-command of a container (CLIENT, COMMAND,
    CONFIG) and wrong arity are reported here; for a container called with a
    sub-command the sub-command's spec is returned.
    """
    if not args:
        return errors.unknown_command([b""])
    spec = BY_NAME.get(args[0].lower())
    if spec is None or "internal" in spec.flags:
        return errors.unknown_command(args)
    if spec.subcommands and len(args) >= 2:
        sub = spec.subcommand(args[1])
        if sub is None:
            return errors.unknown_subcommand(spec.name, args[1])
        spec = sub
    if not spec.arity_ok(len(args)):
        if spec.name == b"exec":
            return errors.EXEC_WRONG_ARITY
        return errors.wrong_arity(spec.name)
    return spec


def prepare(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    """Validate a client request and normalize it into the op to replicate.

    ``now_ms`` is the proposer's wall clock, the same value the front end
    stamps on the ``Command`` (``time_ms``).
    """
    spec = resolve(args)
    if isinstance(spec, Error):
        return spec
    if spec.prepare is not None:
        return spec.prepare(args, now_ms)
    return (args[0].upper(), *args[1:])

"""Recording client operations as a checkable history, Jepsen style.

A simulated (or real) client calls ``invoke`` before it sends a command and
then exactly one of: ``complete`` when the reply arrives, ``indeterminate``
when it gives up without knowing (timeout, broken connection, crashed
replica), or ``discard`` when the command certainly never took effect (an
error returned before it was proposed). ``operations()`` turns the record into
``linearizability.Operation`` values; an operation still pending at that point
is indeterminate too, since the run ended before anyone learnt its fate.

Why a recorder and not ad-hoc lists: the bookkeeping that is easy to get
wrong lives here once, with its rules checked: every token is finished at most
once, a reply's time is not before its call, and a transaction's replies are
projected onto its keys the same way everywhere (``project_transaction``).
Times are whatever the caller uses: integer ticks in the simulator, float
seconds against real processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NewType

from .linearizability import (
    STEPS_MAX_PER_KEY,
    UNKNOWN,
    CheckResult,
    Marker,
    Operation,
    Strategy,
    check,
    project_transaction,
)

OperationToken = NewType("OperationToken", int)
"""Names one invocation; returned by ``invoke`` and passed back to finish it."""

Command = tuple[bytes, str, tuple[object, ...]]
"""``(key, kind, args)``: one single-key command, as in ``Operation``."""


@dataclass(slots=True)
class _Invocation:
    client: int
    commands: tuple[Command, ...]
    transaction: bool
    call: float
    result: object = UNKNOWN
    ret: float | None = None
    finished: bool = False
    discarded: bool = False


class HistoryRecorder:
    """Invocations and their outcomes, in invocation order."""

    def __init__(self) -> None:
        self._invocations: list[_Invocation] = []

    def invoke(
        self, client: int, key: bytes, kind: str, args: tuple[object, ...], now: float
    ) -> OperationToken:
        """A client is about to send one single-key command."""
        return self._add(_Invocation(client, ((key, kind, args),), False, now))

    def invoke_transaction(
        self, client: int, commands: Sequence[Command], now: float
    ) -> OperationToken:
        """A client is about to send an atomic group (MULTI/EXEC, or MSET split
        into SETs). ``complete`` then takes one reply per command."""
        if not commands:
            raise ValueError("a transaction needs at least one command")
        return self._add(_Invocation(client, tuple(commands), True, now))

    def complete(self, token: OperationToken, result: object, now: float) -> None:
        """The reply arrived at ``now``. A reply that arrives after the client gave
        up (``indeterminate``) still counts: it is more than the client knew."""
        invocation = self._pending(token, allow_indeterminate=True)
        if now < invocation.call:
            raise ValueError(f"operation {token} completes at {now}, before its call")
        if invocation.transaction:
            if not isinstance(result, Sequence) or isinstance(result, bytes | str):
                raise ValueError(f"a transaction completes with one reply per command: {result!r}")
            if len(result) != len(invocation.commands):
                raise ValueError(
                    f"{len(invocation.commands)} commands but {len(result)} replies: {result!r}"
                )
            result = tuple(result)
        invocation.result, invocation.ret, invocation.finished = result, now, True

    def indeterminate(self, token: OperationToken) -> None:
        """The client gave up without learning whether the command took effect."""
        invocation = self._pending(token, allow_indeterminate=False)
        invocation.finished = True

    def discard(self, token: OperationToken) -> None:
        """The command certainly never took effect; it leaves no trace in the history."""
        invocation = self._pending(token, allow_indeterminate=False)
        invocation.finished = invocation.discarded = True

    @property
    def pending(self) -> int:
        """Invocations not yet finished one way or another."""
        return sum(not invocation.finished for invocation in self._invocations)

    def operations(self) -> list[Operation]:
        """The history so far; anything unfinished is indeterminate."""
        operations: list[Operation] = []
        for invocation in self._invocations:
            if invocation.discarded:
                continue
            known = invocation.ret is not None
            if invocation.transaction:
                results: Sequence[object] | Literal[Marker.UNKNOWN] = UNKNOWN
                if known:
                    assert isinstance(invocation.result, tuple)
                    results = invocation.result
                operations += project_transaction(
                    invocation.client, invocation.commands, results, invocation.call, invocation.ret
                )
            else:
                ((key, kind, args),) = invocation.commands
                result = invocation.result if known else UNKNOWN
                operations.append(
                    Operation(
                        invocation.client, key, kind, args, result, invocation.call, invocation.ret
                    )
                )
        return operations

    def check(
        self,
        *,
        steps_max_per_key: int = STEPS_MAX_PER_KEY,
        strategy: Strategy = Strategy.AUTO,
    ) -> CheckResult:
        """Check the history so far for per-key linearizability."""
        return check(self.operations(), steps_max_per_key=steps_max_per_key, strategy=strategy)

    def _add(self, invocation: _Invocation) -> OperationToken:
        self._invocations.append(invocation)
        return OperationToken(len(self._invocations) - 1)

    def _pending(self, token: OperationToken, *, allow_indeterminate: bool) -> _Invocation:
        if not 0 <= token < len(self._invocations):
            raise ValueError(f"unknown operation token {token}")
        invocation = self._invocations[token]
        late_reply = allow_indeterminate and invocation.ret is None and not invocation.discarded
        if invocation.finished and not late_reply:
            raise ValueError(f"operation {token} was already finished")
        return invocation

"""Explicit Prepare: what a recoverer does with F+1 promises (pure decision table).

The table is brief §3.3 (the simple-quorum variant, no TryPreAccept), with the
two corrections the original lacked: ACCEPTED values are compared by ``vbal``,
the ballot of the vote, never by the promise (Sutra's fix, P1), and replies
are grouped by their attributes instead of being matched against the
recoverer's own partial state (efficient/epaxos#29, P24).

=====  ========================================  =================================
step   condition on the replies                  action
=====  ========================================  =================================
1      some reply COMMITTED or EXECUTED          commit its attributes
2      some reply ACCEPTED                       Accept the one with largest vbal
3      the owner replied (not committed)         go to 5 or 6: having promised,
                                                 it can no longer fast-commit
4      ≥ F identical initial-ballot PREACCEPTED  Accept that group's attributes
       votes from non-owners (N=3: eq votes)
5      some reply holds the command              PreAccept again at the new
                                                 ballot, no fast path
6      nobody holds it                           commit a NO-OP
=====  ========================================  =================================
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from protocol.messages import NOOP, Command, Deps, PrepareReply, ReplicaId, Status


class Action(Enum):
    COMMIT = "commit"
    ACCEPT = "accept"
    PREACCEPT = "preaccept"
    NOOP = "noop"


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    cmds: tuple[Command, ...]
    seq: int
    deps: Deps
    step: int
    """Row of the decision table that applied (for logs and tests)."""


def decide(
    replies: Sequence[PrepareReply],
    *,
    owner: ReplicaId,
    n: int,
    f: int,
    eq_rule: bool,
) -> Decision:
    """Apply the decision table to promises for one ballot (the recoverer's own included)."""
    noop_deps: Deps = (-1,) * n
    for r in replies:
        if r.status >= Status.COMMITTED and r.cmds is not None:
            return Decision(Action.COMMIT, r.cmds, r.seq, r.deps, 1)

    accepted = [r for r in replies if r.status == Status.ACCEPTED and r.cmds is not None]
    if accepted:
        best = max(accepted, key=lambda r: r.vbal)
        assert best.cmds is not None
        return Decision(Action.ACCEPT, best.cmds, best.seq, best.deps, 2)

    owner_replied = any(r.sender == owner for r in replies)
    if not owner_replied:
        votes = [
            r
            for r in replies
            if r.status == Status.PREACCEPTED
            and r.vbal.is_initial()
            and r.sender != owner
            and r.cmds is not None
            and (r.eq or not (eq_rule and n == 3))
        ]
        groups = Counter((r.cmds, r.seq, r.deps) for r in votes)
        for (cmds, seq, deps), count in groups.most_common(1):
            if count >= f and cmds is not None:
                return Decision(Action.ACCEPT, cmds, seq, deps, 4)

    holders = [r for r in replies if r.cmds is not None and r.status >= Status.PREACCEPTED]
    if holders:
        seq = max(r.seq for r in holders)
        deps = tuple(max(r.deps[p] for r in holders) for p in range(n))
        cmds = holders[0].cmds
        assert cmds is not None
        return Decision(Action.PREACCEPT, cmds, seq, deps, 5 if not owner_replied else 3)

    return Decision(Action.NOOP, NOOP, 0, noop_deps, 6)

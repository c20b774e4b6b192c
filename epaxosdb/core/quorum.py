"""Quorum arithmetic for the fast and slow paths (pure functions).

Fast path with the simple quorum N−1 (brief §2.4): the leader commits after
PreAccept replies at the initial ballot from N−2 peers that all carry the
same ``(seq, deps)``. For N=3 that is a single reply, and "identical replies"
is vacuous — the N=3 trap (P7) — so under rule (a) the reply must also have
left the leader's attributes unchanged (``eq``), and recovery counts only
such votes. The decision depends only on the set of replies, never on the
order they arrived in (P9).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from protocol.messages import Deps, PreAcceptReply


def fast_votes_needed(n: int) -> int:
    """PreAccept replies (leader excluded) the fast path needs: N−2, and 0 alone."""
    return max(n - 2, 0)


def _groups(replies: Iterable[PreAcceptReply]) -> Counter[tuple[int, Deps]]:
    return Counter((r.seq, r.deps) for r in replies if r.ok)


def fast_commit_attributes(
    n: int, eq_rule: bool, replies: Iterable[PreAcceptReply]
) -> tuple[int, Deps] | None:
    """The attributes to fast-commit with, or ``None`` if these replies do not allow it."""
    replies = [r for r in replies if r.ok]
    if n == 3 and eq_rule:
        for r in replies:
            if r.eq:
                return r.seq, r.deps
        return None
    need = fast_votes_needed(n)
    if need == 0:
        return None
    for attrs, count in _groups(replies).most_common(1):
        if count >= need:
            return attrs
    return None


def fast_path_possible(
    n: int, eq_rule: bool, replies: Iterable[PreAcceptReply], outstanding: int
) -> bool:
    """Could replies still to come (``outstanding`` peers) complete a fast quorum?"""
    replies = [r for r in replies if r.ok]
    if fast_commit_attributes(n, eq_rule, replies) is not None:
        return True
    if n == 3 and eq_rule:
        return outstanding > 0
    best = max(_groups(replies).values(), default=0)
    return best + outstanding >= fast_votes_needed(n)


def merge_attributes(
    seq: int, deps: Deps, replies: Iterable[PreAcceptReply]
) -> tuple[int, Deps]:
    """Slow-path attributes: the largest seq and the element-wise largest deps (P26)."""
    out_seq = seq
    out = list(deps)
    for r in replies:
        if not r.ok:
            continue
        if r.seq > out_seq:
            out_seq = r.seq
        for p, v in enumerate(r.deps):
            if v > out[p]:
                out[p] = v
    return out_seq, tuple(out)

"""Per-key linearizability of Redis string histories, checked the way Porcupine does.

Why this exists: the simulator and the process-level tests record what clients
asked and what they were told, and the only honest verdict on a replicated
register is "is there one sequential order, consistent with real time, that
explains every reply?". No maintained Python checker exists (ecosystem.md
§4.3), so this is a small one.

How it decides:

* **P-compositionality.** Linearizability is local: a history is linearizable
  iff its projection on every key is. So operations are partitioned by key and
  each key is searched on its own. Multi-key atomic operations (MSET, a
  MULTI/EXEC touching several keys) are projected onto each key with
  ``project_transaction``; what is checked for them is *per-key*
  linearizability, a necessary condition for the transaction's atomicity, not a
  sufficient one.
* **Wing-Gong / Lowe search with a memo**, as in Porcupine: the calls and
  returns of one key form a linked list in time order; the search repeatedly
  linearizes some pending call whose model step reproduces its reply, lifting
  it out of the list, and backtracks when it meets a return whose call was not
  linearized. A set of ``(linearized-bitset, register value)`` pairs already
  explored prunes the search; a step budget turns a search that would not end
  in reasonable time into ``Verdict.UNKNOWN`` instead.
* **Indeterminate operations** (``ret is None`` or ``result is UNKNOWN``: the
  connection broke or timed out) may have taken effect at any time after their
  call, or never: they complete at +infinity and their reply is not checked.
  Since an unchecked operation can always be placed last, a key is linearizable
  as soon as every *determinate* operation is placed. They are what makes the
  search hard (each one stays a candidate forever), so: indeterminate reads
  are dropped; indeterminate blind writes whose value no reply names are
  dropped when nothing on the key can observe them otherwise (the etcd trick,
  ``_unobservable_writes``); identical indeterminate commands are treated as
  interchangeable; and when the depth-first search has spent a tenth of the
  budget, a breadth-first *frontier* search (Lowe's just-in-time
  linearization, with subsumption of configurations that spent fewer optional
  operations) takes over, because it never backtracks into the distant past
  (``Strategy``).
* **Real-time order** is strict: A precedes B iff ``A.ret < B.call``. Intervals
  that touch (``A.ret == B.call``, common with integer ticks) are concurrent, so
  the checker never rejects a history a correct system could produce.

The register model follows Redis 7 string semantics: GET, SET [NX|XX] [GET]
[KEEPTTL], GETSET, SETNX, DEL, GETDEL, INCR/DECR/INCRBY/DECRBY (with the
"not an integer" and "overflow" errors, which must be explained like any other
reply), APPEND, STRLEN, EXISTS, and MULTI (an atomic sequence of the above on
one key). Expiry is not modelled: histories with EX/PX options are refused.

Every reduction is checked against brute force over all orders in
``tests/sim/test_linearizability.py``, for each ``Strategy``.

The Redis register model lives in ``register``, the recorded operation in
``operations`` and the failure rendering in ``timeline``; their public names
are re-exported here.
"""

from __future__ import annotations

import enum
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final, Literal, TypeAlias

from .operations import IMPOSSIBLE, UNCHECKED, UNKNOWN, Marker, Operation, short
from .register import (
    Compiled,
    State,
    StepFn,
    compile_operation,
    model_reply,
    step_fn,
)
from .timeline import render_timeline

__all__ = [
    "STEPS_MAX_PER_KEY", "UNCHECKED", "UNKNOWN", "CheckResult", "KeyResult", "Marker",
    "Operation", "Strategy", "Verdict", "check", "check_key", "model_reply",
    "project_transaction", "render_timeline",
]


STEPS_MAX_PER_KEY: Final = 1_000_000
"""Default search budget per key; about a second of CPU in CPython. Histories
designed to be cheap (unique written values, a few hundred ops per key) need a
few steps per operation."""


class Strategy(enum.Enum):
    """Which search decides. AUTO runs the depth-first search alone when every
    operation is determinate; otherwise a tenth of the budget depth-first (it
    finds witnesses fastest) and the rest breadth-first over time (it refutes
    histories with indeterminate operations that depth-first cannot). The
    others exist to test and compare the two searches."""

    AUTO = "auto"
    DEPTH_FIRST = "depth-first"
    FRONTIER = "frontier"


class Verdict(enum.Enum):
    LINEARIZABLE = "linearizable"
    NOT_LINEARIZABLE = "not linearizable"
    UNKNOWN = "unknown (search budget exhausted)"


@dataclass(frozen=True, slots=True)
class KeyResult:
    """The verdict on one key.

    ``linearized`` is a witness order when the key is linearizable, otherwise
    the longest linearizable prefix the search found; ``unplaced`` is then the
    pending operation with the earliest return, which no order extending that
    prefix can explain.
    """

    key: bytes
    verdict: Verdict
    history: tuple[Operation, ...]
    linearized: tuple[Operation, ...]
    unplaced: Operation | None
    explanation: str
    steps: int

    def render(self, width: int = 48, ops_max: int = 60) -> str:
        """A text timeline of this key's history, for test failure messages."""
        header = f"key {self.key!r}: {self.verdict.value}"
        if self.explanation:
            header += f"\n  {self.explanation}"
        timeline = render_timeline(
            self.history,
            linearized=self.linearized,
            unplaced=self.unplaced,
            width=width,
            ops_max=ops_max,
        )
        return f"{header}\n{timeline}"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The verdict on a whole history: the worst verdict over its keys."""

    verdict: Verdict
    keys: tuple[KeyResult, ...]

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.LINEARIZABLE

    @property
    def failure(self) -> KeyResult | None:
        """The first key (in key order) that is not linearizable, else the first unknown one."""
        for wanted in (Verdict.NOT_LINEARIZABLE, Verdict.UNKNOWN):
            for result in self.keys:
                if result.verdict is wanted:
                    return result
        return None

    @property
    def key(self) -> bytes | None:
        failure = self.failure
        return None if failure is None else failure.key

    @property
    def explanation(self) -> str:
        failure = self.failure
        return "" if failure is None else failure.explanation

    def render(self) -> str:
        failure = self.failure
        summary = f"history of {len(self.keys)} key(s): {self.verdict.value}"
        return summary if failure is None else f"{summary}\n{failure.render()}"

    def __str__(self) -> str:
        return self.render()


# --- the search --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Outcome:
    verdict: Verdict
    order: list[int]
    steps: int
    unplaced: int | None = None  # set by the frontier search, which knows it


def _search(
    steps: Sequence[StepFn],
    calls: Sequence[float],
    rets: Sequence[float],
    reads: Sequence[bool],
    classes: Sequence[int],
    initial: State,
    steps_max: int,
) -> _Outcome:
    """Lowe's refinement of Wing-Gong: a doubly linked list of call/return
    entries in time order; linearizing a call lifts it and its return out.

    Two reductions, both sound because they only skip work whose outcome
    another branch or memo entry already decides:

    * a pending *read* whose reply matches the current value is linearized
      without trying alternatives at that point (backtracking passes over it):
      any completion that places it later can place it here instead, since it
      changes nothing and, being a candidate, no pending operation must precede
      it;
    * indeterminate operations with the same command (``classes``; -1 for
      determinate ones) are interchangeable once called, so the memo records
      how many of each class were spent, as the bits of the earliest-called
      ones, rather than which: two timed-out INCRs spent in either order are
      one configuration, not two.

    Returns LINEARIZABLE with a witness order (operation indexes), or the
    verdict with the longest linearizable prefix found.
    """
    n = len(steps)
    head, tail = 0, 2 * n + 1
    # Entries: e < n is the call of op e; e >= n the return of op e - n. At equal
    # times calls sort first, so touching intervals count as concurrent.
    entries = sorted(
        range(2 * n),
        key=lambda e: (calls[e], 0, e) if e < n else (rets[e - n], 1, e),
    )
    node_op = [0] * (tail + 1)
    node_is_call = [False] * (tail + 1)
    match = [0] * (tail + 1)
    call_node = [0] * n
    for position, entry in enumerate(entries, start=1):
        if entry < n:
            node_op[position], node_is_call[position] = entry, True
            call_node[entry] = position
        else:
            node_op[position] = entry - n
            match[call_node[entry - n]] = position
    nxt = [*range(1, tail + 1), tail]
    prv = [head, *range(tail)]

    finite = [not math.isinf(r) for r in rets]
    pending = sum(finite)
    members: dict[int, list[int]] = defaultdict(list)
    for op in sorted(range(n), key=lambda op: (calls[op], op)):
        if classes[op] >= 0:
            members[classes[op]].append(op)
    spent = dict.fromkeys(members, 0)
    state = initial
    linearized = 0  # determinate ops placed, plus the canonical bits of the optional ones
    explored: set[tuple[int, State]] = set()
    stack: list[tuple[int, State]] = []  # (call node linearized, value before it)
    order: list[int] = []
    best: list[int] = []
    count = 0
    node = nxt[head]
    while pending:
        count += 1
        if count > steps_max:
            return _Outcome(Verdict.UNKNOWN, best, count)
        if node_is_call[node]:
            op = node_op[node]
            new = steps[op](state)
            if new is not IMPOSSIBLE:
                group = classes[op]
                placed = op if group < 0 else members[group][spent[group]]
                memo = (linearized | (1 << placed), new)
                if memo not in explored:
                    explored.add(memo)
                    stack.append((node, state))
                    order.append(op)
                    if len(order) > len(best):
                        best = order.copy()
                    linearized, state = memo
                    pending -= finite[op]
                    if group >= 0:
                        spent[group] += 1
                    back = match[node]
                    nxt[prv[node]], prv[nxt[node]] = nxt[node], prv[node]
                    nxt[prv[back]], prv[nxt[back]] = nxt[back], prv[back]
                    node = nxt[head]
                    continue
            node = nxt[node]
        else:
            assert node != tail, "a pending determinate op always has its return in the list"
            while True:  # undo the last choice; a forced read was no choice
                if not stack:
                    return _Outcome(Verdict.NOT_LINEARIZABLE, best, count)
                node, state = stack.pop()
                op = order.pop()
                group = classes[op]
                if group >= 0:
                    spent[group] -= 1
                placed = op if group < 0 else members[group][spent[group]]
                linearized &= ~(1 << placed)
                pending += finite[op]
                back = match[node]
                nxt[prv[back]] = prv[nxt[back]] = back
                nxt[prv[node]] = prv[nxt[node]] = node
                if not reads[op]:
                    break
            node = nxt[node]
    return _Outcome(Verdict.LINEARIZABLE, order, count)


Trail: TypeAlias = "tuple[int, Trail] | None"
"""The linearization that led to a configuration, newest operation first."""


def _unwind(trail: Trail) -> list[int]:
    order = []
    while trail is not None:
        op, trail = trail
        order.append(op)
    order.reverse()
    return order


_Table: TypeAlias = dict[tuple[State, int], list[tuple[int, Trail]]]
"""(value, determinate set) -> the optional sets spent to get there, each minimal."""


def _admit(
    table: _Table,
    state: State,
    determinate: int,
    optional: int,
    trail: Trail,
) -> bool:
    """Record a configuration unless one with the same value and determinate
    set spent a subset of its optional operations (and so can do all it can)."""
    entries = table.get((state, determinate))
    if entries is None:
        table[state, determinate] = [(optional, trail)]
        return True
    if any(not used & ~optional for used, _ in entries):
        return False
    entries[:] = [(used, t) for used, t in entries if optional & ~used]
    entries.append((optional, trail))
    return True


def _frontier_search(
    steps: Sequence[StepFn],
    calls: Sequence[float],
    rets: Sequence[float],
    classes: Sequence[int],
    initial: State,
    steps_max: int,
) -> _Outcome:
    """Lowe's just-in-time linearization, breadth first over time.

    The frontier holds every configuration (value, determinate operations
    linearized early, optional operations spent) possible just after the last
    return. At the return of X, each configuration that has not placed X may
    place any pending operations and then must place X. Nothing is ever
    revisited, unlike the depth-first search, which may backtrack hundreds of
    operations to reconsider an indeterminate write and then replay everything
    after it. Configurations are merged when one subsumes another: same value,
    same determinate set, fewer optional operations spent; and of several
    interchangeable optional operations (same class) only the earliest unspent
    one is tried. Steps count model applications, like the depth-first search.
    """
    n = len(steps)
    entries = sorted(
        range(2 * n),
        key=lambda e: (calls[e], 0, e) if e < n else (rets[e - n], 1, e),
    )
    frontier: _Table = {(initial, 0): [(0, None)]}
    live: list[int] = []  # determinate operations called and not yet returned
    called: dict[int, list[int]] = {}  # class -> its optional operations called, in order
    masks: dict[int, int] = {}  # class -> bits of those operations
    count = 0
    for entry in entries:
        if entry < n:
            if classes[entry] < 0:
                live.append(entry)
            else:
                called.setdefault(classes[entry], []).append(entry)
                masks[classes[entry]] = masks.get(classes[entry], 0) | 1 << entry
            continue
        done = entry - n
        if math.isinf(rets[done]):
            break  # only optional operations remain: they can be left unplaced
        live.remove(done)
        done_bit = 1 << done
        successors: _Table = {}
        seen: _Table = {}
        queue: list[tuple[State, int, int, Trail]] = []
        for (state, determinate), options in frontier.items():
            for optional, trail in options:
                if determinate & done_bit:
                    _admit(successors, state, determinate & ~done_bit, optional, trail)
                elif _admit(seen, state, determinate, optional, trail):
                    queue.append((state, determinate, optional, trail))
        head = 0  # breadth first, so configurations that spent less come first
        while head < len(queue):
            state, determinate, optional, trail = queue[head]
            head += 1
            if count > steps_max:
                return _Outcome(Verdict.UNKNOWN, _unwind(trail), count)
            count += 1
            placed = steps[done](state)
            if placed is not IMPOSSIBLE:
                _admit(successors, placed, determinate, optional, (done, trail))
            for op in live:
                bit = 1 << op
                if not determinate & bit:
                    count += 1
                    new = steps[op](state)
                    if new is not IMPOSSIBLE and _admit(
                        seen, new, determinate | bit, optional, (op, trail)
                    ):
                        queue.append((new, determinate | bit, optional, (op, trail)))
            for group, members in called.items():
                spent = (optional & masks[group]).bit_count()  # always the earliest ones
                if spent < len(members):
                    op = members[spent]
                    bit = 1 << op
                    count += 1
                    new = steps[op](state)
                    if new is not IMPOSSIBLE and _admit(
                        seen, new, determinate, optional | bit, (op, trail)
                    ):
                        queue.append((new, determinate, optional | bit, (op, trail)))
        if not successors:
            longest = max(
                (trail for options in frontier.values() for _, trail in options),
                key=lambda trail: len(_unwind(trail)),
            )
            return _Outcome(Verdict.NOT_LINEARIZABLE, _unwind(longest), count, done)
        frontier = successors
    witness = next(iter(frontier.values()))[0][1]
    return _Outcome(Verdict.LINEARIZABLE, _unwind(witness), count)


def _checked_reply(op: Operation, compiled: Compiled) -> object:
    return UNCHECKED if op.indeterminate else compiled.normalise(op.result)


def _unobservable_writes(entries: Sequence[tuple[Operation, Compiled]]) -> set[int]:
    """Indexes of indeterminate blind writes that no reply can tell from never having run.

    This is what makes timed-out writes cheap with unique written values, as
    etcd's robustness tests do for Porcupine: an indeterminate ``SET k v`` whose
    ``v`` no reply names is dropped. Sound when every operation on the key is
    blind (or writes nothing) and *transparent* (its reply is constant, the old
    value, or unchecked): in any linearization placing the write, the value it
    leaves until the next write is seen only by replies that would name it;
    there are none, so the same order without it explains every reply.
    """
    for op, compiled in entries:
        if compiled.writes and not compiled.blind:
            return set()
        if not compiled.transparent and _checked_reply(op, compiled) is not UNCHECKED:
            return set()
    named = [_checked_reply(op, compiled) for op, compiled in entries]
    return {
        index
        for index, (op, compiled) in enumerate(entries)
        if op.indeterminate and compiled.blind and compiled.transition(None)[0] not in named
    }


def check_key(
    key: bytes,
    history: Sequence[Operation],
    *,
    initial: State = None,
    steps_max: int = STEPS_MAX_PER_KEY,
    strategy: Strategy = Strategy.AUTO,
) -> KeyResult:
    """Is this one key's history linearizable against the register model?"""
    entries = [(op, compile_operation(op.kind, op.args)) for op in history]
    entries = [(op, c) for op, c in entries if c.writes or not op.indeterminate]
    unobservable = _unobservable_writes(entries)
    entries = [entry for index, entry in enumerate(entries) if index not in unobservable]
    ops = [op for op, _ in entries]
    step_fns = [step_fn(compiled, op) for op, compiled in entries]
    reads = [not compiled.writes for _, compiled in entries]
    signatures: dict[tuple[str, str], int] = {}
    classes = [
        signatures.setdefault((op.kind.upper(), repr(op.args)), len(signatures))
        if op.indeterminate
        else -1
        for op in ops
    ]
    calls = [op.call for op in ops]
    rets = [math.inf if op.indeterminate or op.ret is None else op.ret for op in ops]
    if strategy is Strategy.AUTO and all(group < 0 for group in classes):
        strategy = Strategy.DEPTH_FIRST
    if strategy is Strategy.FRONTIER:
        outcome = _frontier_search(step_fns, calls, rets, classes, initial, steps_max)
    elif strategy is Strategy.DEPTH_FIRST:
        outcome = _search(step_fns, calls, rets, reads, classes, initial, steps_max)
    else:
        first = _search(step_fns, calls, rets, reads, classes, initial, steps_max // 10)
        outcome = first
        if first.verdict is Verdict.UNKNOWN:
            outcome = _frontier_search(
                step_fns, calls, rets, classes, initial, steps_max - first.steps
            )
            outcome = replace(outcome, steps=outcome.steps + first.steps)
    linearized = tuple(ops[i] for i in outcome.order)
    if outcome.verdict is Verdict.LINEARIZABLE:
        return KeyResult(key, outcome.verdict, tuple(history), linearized, None, "", outcome.steps)
    state = initial
    for op in linearized:
        state, _ = model_reply(op, state)
    placed = set(outcome.order)
    pending = [i for i in range(len(ops)) if i not in placed and not math.isinf(rets[i])]
    if outcome.unplaced is not None:
        unplaced: Operation | None = ops[outcome.unplaced]
    else:
        unplaced = ops[min(pending, key=lambda i: (rets[i], i))] if pending else None
    explanation = _explain(outcome, linearized, state, unplaced)
    return KeyResult(
        key, outcome.verdict, tuple(history), linearized, unplaced, explanation, outcome.steps
    )


def _explain(
    outcome: _Outcome, linearized: tuple[Operation, ...], state: State, unplaced: Operation | None
) -> str:
    if outcome.verdict is Verdict.UNKNOWN:
        return (
            f"gave up after {outcome.steps} search steps; the longest linearizable prefix "
            f"found has {len(linearized)} operation(s)"
        )
    where = f"after the {len(linearized)} operation(s) numbered below, the register holds "
    where += f"{short(state)}"
    if unplaced is None:
        return where
    _, reply = model_reply(unplaced, state)
    return (
        f"{where}; client {unplaced.client}'s {unplaced.describe()} (marked !!) cannot come "
        f"next (it would reply {short(reply)}), whatever pending operations go first"
    )


def check(
    history: Iterable[Operation],
    *,
    initial: Mapping[bytes, bytes] | None = None,
    steps_max_per_key: int = STEPS_MAX_PER_KEY,
    strategy: Strategy = Strategy.AUTO,
) -> CheckResult:
    """Check a whole history, key by key (P-compositionality).

    ``initial`` gives the value of keys that existed before the history began.
    """
    by_key: dict[bytes, list[Operation]] = defaultdict(list)
    for op in history:
        by_key[op.key].append(op)
    start = initial or {}
    results = tuple(
        check_key(
            key,
            by_key[key],
            initial=start.get(key),
            steps_max=steps_max_per_key,
            strategy=strategy,
        )
        for key in sorted(by_key)
    )
    verdicts = {result.verdict for result in results}
    for verdict in (Verdict.NOT_LINEARIZABLE, Verdict.UNKNOWN):
        if verdict in verdicts:
            return CheckResult(verdict, results)
    return CheckResult(Verdict.LINEARIZABLE, results)


def project_transaction(
    client: int,
    commands: Sequence[tuple[bytes, str, tuple[object, ...]]],
    results: Sequence[object] | Literal[Marker.UNKNOWN],
    call: float,
    ret: float | None,
) -> list[Operation]:
    """Project an atomic multi-key operation onto its keys.

    ``commands`` are single-key ``(key, kind, args)`` in execution order (split
    MSET into SETs first; a multi-key DEL's count cannot be split, so give each
    key's DEL the result UNCHECKED). Each key gets one operation over the same
    interval: the command itself, or a MULTI of its commands on that key, so the
    steps on one key stay atomic. This checks per-key linearizability only.
    """
    if results is not UNKNOWN and len(results) != len(commands):
        raise ValueError(f"{len(commands)} commands but {len(results)} results")
    per_key: dict[bytes, list[tuple[str, tuple[object, ...], object]]] = {}
    for index, (key, kind, args) in enumerate(commands):
        result = UNKNOWN if results is UNKNOWN else results[index]
        per_key.setdefault(key, []).append((kind, args, result))
    projected = []
    for key, steps in per_key.items():
        if len(steps) == 1:
            kind, args, result = steps[0]
            projected.append(Operation(client, key, kind, args, result, call, ret))
            continue
        multi_args = tuple((kind, args) for kind, args, _ in steps)
        multi_result: object = (
            UNKNOWN if results is UNKNOWN else tuple(result for _, _, result in steps)
        )
        projected.append(Operation(client, key, "MULTI", multi_args, multi_result, call, ret))
    return projected

"""A text timeline of one key's history, for linearizability failure messages."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .operations import Operation


def _time(value: float) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def render_timeline(
    history: Sequence[Operation],
    *,
    linearized: Sequence[Operation] = (),
    unplaced: Operation | None = None,
    width: int = 48,
    ops_max: int = 60,
) -> str:
    """One line per operation, in call order, with its interval drawn on a shared
    axis. ``#n`` is the operation's place in ``linearized``; ``!!`` marks
    ``unplaced``; ``>`` an indeterminate operation that may land any time later.
    When there are more than ``ops_max`` operations, those closest before the
    unplaced one (or the last ones) are shown."""
    ops = sorted(history, key=lambda op: (op.call, op.ret if op.ret is not None else math.inf))
    if not ops:
        return "  (no operations)"
    origin = ops[0].call
    end = max([op.call for op in ops] + [op.ret for op in ops if op.ret is not None])
    span = (end - origin) or 1

    def column(t: float) -> int:
        return round((t - origin) / span * (width - 1))

    places = {id(op): f"#{n}" for n, op in enumerate(linearized, start=1)}
    omitted = 0
    if len(ops) > ops_max:
        last = len(ops)
        where = [i for i, op in enumerate(ops) if op is unplaced]
        if where:
            last = min(len(ops), where[0] + ops_max // 4 + 1)
        omitted = max(0, last - ops_max)
        ops = ops[omitted:last]
    intervals = [
        f"[{_time(op.call - origin)}, {'?' if op.ret is None else _time(op.ret - origin)}]"
        for op in ops
    ]
    interval_width = max(len("interval"), *(len(text) for text in intervals))
    lines = [
        f"  times are relative to {_time(origin)}"
        + (f"; {omitted} earlier operation(s) not shown" if omitted else ""),
        f"  {'#':>4}  {'client':<6}  {'interval':<{interval_width}}  "
        f"{'timeline':<{width}}  operation",
    ]
    for op, interval in zip(ops, intervals, strict=True):
        start = column(op.call)
        if op.ret is None:
            bar = " " * start + "[" + "-" * (width - start - 2) + ">"
        elif column(op.ret) == start:
            bar = " " * start + "|"
        else:
            stop = column(op.ret)
            bar = " " * start + "[" + "=" * (stop - start - 1) + "]"
        mark = "!!" if op is unplaced else places.get(id(op), "")
        lines.append(
            f"  {mark:>4}  c{op.client:<5}  {interval:<{interval_width}}  {bar:<{width}}  "
            f"{op.describe()}"
        )
    return "\n".join(lines)

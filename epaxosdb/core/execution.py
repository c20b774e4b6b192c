"""Execution order: strongly connected components of the committed dependency graph.

An edge ``u → w`` exists when ``w`` is an instance of row ``p`` with index at
most ``u.deps[p]`` that interferes with ``u`` (prefix semantics, brief §4.1).
Tarjan's algorithm completes SCCs in reverse topological order, so each SCC
can run as soon as it is complete: every instance it depends on outside it has
already run. Inside an SCC the order is ``(seq, replica, index)`` — ``seq``
alone with an unstable sort made replicas disagree (P17) — and a batch's
commands run in batch order.

The search is iterative (a chain of 50,000 instances must not overflow
Python's stack, P20) and never waits: when it meets a dependency that is not
committed here, or whose payload is unknown, the instances on the search stack
are all *blocked on* it and the search stops (P18). They are retried when it
commits; until then the replica arms learn and recovery timers for it. An
uncommitted dependency blocks only the instances that can reach it.

A dependency that is known but not yet committed, and whose known batch does
not interfere, is skipped: its final value is either that batch (the only one
its leader ever proposed) or a NO-OP, and neither interferes. An uncommitted
NO-OP is never skipped: a NO-OP accepted at one ballot can lose to the
original batch at a higher one (seed 1909), and that batch may interfere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from protocol.messages import Access, InstanceId, ReplicaId, Status

from .instance import Instance


class _Blocked(Exception):
    def __init__(self, blocker: InstanceId) -> None:
        self.blocker = blocker


class Executor:
    def __init__(
        self,
        row_ids: tuple[ReplicaId, ...],
        instances: dict[InstanceId, Instance],
        access_of: Callable[[Instance], Access],
    ) -> None:
        self._rows = row_ids
        self._instances = instances
        self._access_of = access_of
        self.watermarks = [-1] * len(row_ids)
        """Per row: every instance up to here has executed at this replica."""
        self._roots: list[InstanceId] = []
        self._blocked_by: dict[InstanceId, InstanceId] = {}
        self._waiters: dict[InstanceId, list[InstanceId]] = {}
        self.max_scc_size = 0
        self.executed_total = 0

    # --- inputs -------------------------------------------------------------

    def committed(self, iid: InstanceId) -> None:
        """An instance committed here: try to run it, and whatever waited for it."""
        self._roots.append(iid)
        waiting = self._waiters.pop(iid, None)
        if waiting:
            for w in waiting:
                self._blocked_by.pop(w, None)
            self._roots.extend(waiting)

    def payload_known(self, iid: InstanceId) -> None:
        """A blocking instance's batch became known: it may turn out not to interfere."""
        if iid in self._waiters:
            self.committed(iid)

    def restore(self) -> None:
        """On restart: recompute the watermarks from instances loaded as EXECUTED."""
        for p in range(len(self._rows)):
            self._advance(p)

    # --- queries ------------------------------------------------------------

    def blockers(self) -> list[InstanceId]:
        """Instances that some committed instance waits for."""
        return list(self._waiters)

    def blocked_count(self) -> int:
        return len(self._blocked_by)

    # --- the search ---------------------------------------------------------

    def run(self) -> list[Instance]:
        """Execute everything that can execute now; return it in execution order."""
        out: list[Instance] = []
        while self._roots:
            roots = sorted(set(self._roots), key=lambda i: (i.index, i.replica))
            self._roots.clear()
            for iid in roots:
                inst = self._instances.get(iid)
                if inst is None or inst.status != Status.COMMITTED:
                    continue
                blocker = self._blocked_by.get(iid)
                if blocker is not None and not self._is_settled(blocker):
                    continue
                self._strongconnect(inst, out)
        return out

    def _is_settled(self, iid: InstanceId) -> bool:
        w = self._instances.get(iid)
        return w is not None and w.status >= Status.COMMITTED

    def _edges(self, u: Instance) -> Iterator[Instance]:
        ua = self._access_of(u)
        instances = self._instances
        for p, row in enumerate(self._rows):
            hi = u.deps[p]
            j = self.watermarks[p] + 1
            while j <= hi:
                wid = InstanceId(row, j)
                j += 1
                w = instances.get(wid)
                if w is u:
                    continue
                if w is None or w.cmds is None:
                    raise _Blocked(wid)
                status = w.status
                if status == Status.EXECUTED or not self._may_interfere(ua, w):
                    continue
                if status != Status.COMMITTED:
                    raise _Blocked(wid)
                blocker = self._blocked_by.get(wid)
                if blocker is not None and not self._is_settled(blocker):
                    raise _Blocked(blocker)
                yield w

    def _may_interfere(self, ua: Access, w: Instance) -> bool:
        """Whether ``w``'s final batch can interfere with ``ua``. A known batch is final or
        becomes a NO-OP; an uncommitted NO-OP may still become the original batch."""
        if not w.cmds:
            return w.status != Status.COMMITTED
        return ua.interferes(self._access_of(w))

    def _strongconnect(self, root: Instance, out: list[Instance]) -> None:
        order: dict[InstanceId, int] = {root.id: 0}
        low: dict[InstanceId, int] = {root.id: 0}
        stack: list[Instance] = [root]
        on_stack: set[InstanceId] = {root.id}
        work: list[tuple[Instance, Iterator[Instance]]] = [(root, self._edges(root))]
        while work:
            v, edges = work[-1]
            try:
                w = next(edges)
            except StopIteration:
                work.pop()
                if work:
                    parent = work[-1][0].id
                    if low[v.id] < low[parent]:
                        low[parent] = low[v.id]
                if low[v.id] == order[v.id]:
                    scc: list[Instance] = []
                    while True:
                        x = stack.pop()
                        on_stack.discard(x.id)
                        scc.append(x)
                        if x is v:
                            break
                    self._execute(scc, out)
                continue
            except _Blocked as blocked:
                waiters = self._waiters.setdefault(blocked.blocker, [])
                for x in stack:
                    self._blocked_by[x.id] = blocked.blocker
                    waiters.append(x.id)
                return
            if w.id not in order:
                order[w.id] = low[w.id] = len(order)
                stack.append(w)
                on_stack.add(w.id)
                work.append((w, self._edges(w)))
            elif w.id in on_stack and order[w.id] < low[v.id]:
                low[v.id] = order[w.id]

    def _execute(self, scc: list[Instance], out: list[Instance]) -> None:
        if len(scc) > 1:
            scc.sort(key=lambda i: (i.seq, i.id.replica, i.id.index))
        if len(scc) > self.max_scc_size:
            self.max_scc_size = len(scc)
        for inst in scc:
            inst.status = Status.EXECUTED
            self._blocked_by.pop(inst.id, None)
            out.append(inst)
            self.executed_total += 1
            self._advance(self._rows.index(inst.id.replica))

    def _advance(self, p: int) -> None:
        row = self._rows[p]
        wm = self.watermarks[p]
        instances = self._instances
        while True:
            nxt = instances.get(InstanceId(row, wm + 1))
            if nxt is None or nxt.status != Status.EXECUTED:
                break
            wm += 1
        self.watermarks[p] = wm

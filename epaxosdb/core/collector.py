"""Log GC: deleting what every replica has executed (brief §6).

Replicas gossip their durably executed watermarks (``Heartbeat``); below the minimum
over all of them nothing can be unexecuted anywhere, no dependency can point
at an unexecuted instance and no recovery needs the votes, so the instances
go, from memory, disk and the conflict index. A peer that stays away long
enough is left out of the minimum (``laggards``).
"""

from __future__ import annotations

from protocol.messages import (
    InstanceId,
    Status,
)

from .laggards import Laggards
from .state import META_GC_WATERMARK, encode_rows


class LogCollector(Laggards):
    def _collect_garbage(self) -> None:
        """Delete instances at or below the executed-everywhere watermark (brief §6).

        The watermark is the minimum, over every replica, of the *durably* executed
        watermark it last gossiped (``executed_durable``); until every peer has
        reported, nothing is deleted. Below it no replica can ever execute anything
        again, even after a crash, no dependency can be unexecuted anywhere and no
        recovery needs the votes. Peers left behind (``laggards``) are not waited for.
        """
        self._drop_floor_if_caught_up()
        behind = self._left_behind = self._laggards()
        waited = [e for q, e in self._peer_executed.items() if q not in behind]
        if len(waited) < len(self._peers) - len(behind):
            return
        own = self._durable_wm
        target = [min([own[p], *(e[p] for e in waited)]) for p in range(self._n)]
        if behind:
            self._raise_floor(target, behind)
        instances = self.instances
        for p, row in enumerate(self._rows):
            for j in range(self._gc_wm[p] + 1, target[p] + 1):
                x = instances.pop(InstanceId(row, j), None)
                if x is None:
                    continue
                assert x.status == Status.EXECUTED, f"GC reached unexecuted {x}"
                self._watch.pop(x.id, None)
                self._index.forget(self._instance_access(x), target)
                self._to_delete.append(x.id)
            if target[p] > self._gc_wm[p]:
                self._gc_wm[p] = target[p]
                self._meta[META_GC_WATERMARK] = encode_rows(self._gc_wm)

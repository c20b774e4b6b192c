"""Log GC: deleting what every replica has executed (brief §6).

Replicas gossip their durably executed watermarks (``Heartbeat``); below the minimum
over all of them nothing can be unexecuted anywhere, no dependency can point
at an unexecuted instance and no recovery needs the votes, so the instances
go, from memory, disk and the conflict index.
"""

from __future__ import annotations

from protocol.messages import (
    InstanceId,
    Status,
)

from .state import META_GC_WATERMARK, ReplicaState


class LogCollector(ReplicaState):
    def _collect_garbage(self) -> None:
        """Delete instances at or below the executed-everywhere watermark (brief §6).

        The watermark is the minimum, over every replica, of the *durably* executed
        watermark it last gossiped (``executed_durable``); until every peer has
        reported, nothing is deleted. Below it no replica can ever execute anything
        again, even after a crash, no dependency can be unexecuted anywhere and no
        recovery needs the votes.
        """
        if len(self._peer_executed) < len(self._peers):
            return
        own = self._durable_wm
        target = [
            min([own[p], *(e[p] for e in self._peer_executed.values())]) for p in range(self._n)
        ]
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
                self._meta[META_GC_WATERMARK] = ",".join(map(str, self._gc_wm)).encode()

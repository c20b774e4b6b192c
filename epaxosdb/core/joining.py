"""Joining: a replica on an empty data directory, new or replacing one that lost its disk.

A replica's votes live on its disk. One that comes back on an empty directory
has forgotten them, and trusting it at once can undo a commit: a PreAccept it
answers without knowing an instance its predecessor voted for lets two
interfering commands commit without seeing each other (quorum intersection
held only through the forgotten vote), and a Prepare it answers with "nothing"
can make a recovery choose another value for a chosen instance. So an empty
replica starts as a *joiner* that votes on nothing, proposes nothing and
recovers nothing; it only learns.

1. It asks every peer (``JoinRequest``). Each answers with its next own
   instance number, the highest instance of the joiner's row it has heard of
   (as an instance, or as a dependency of one: seed 316), and whether it has
   never held anything (*pristine*).
2. If every peer answered and every one is pristine, the cluster is new:
   the joiner is a member at once (every replica of a new cluster starts so,
   which is why a new cluster starts only once all its replicas have).
   Fewer answers never settle it, however empty they are: a peer that never
   held anything cannot tell a new cluster from one that ran without it
   (simulator seed 62221, 3 replicas: a replacement heard only from such a
   peer while the one replica holding its predecessor's commit was down,
   took the cluster for new, and a command committed with that peer without
   depending on the forgotten commit).
3. Otherwise it waits for *every* peer. Its predecessor can only have voted
   on instances below each member's next number, and made none of its own
   above the highest any member heard of (an instance nobody else saw has no
   vote but its owner's and was never committed). That vector is the *join
   bound*. Peers that are joining too answer, but only members count: with at
   most F replicas rebuilding at once, every committed instance had a vote
   from a member, which knows it; with more, the joiner waits (their
   forgotten votes may be all a commit had). The joiner asks the driver for a
   snapshot of one member that holds data (``Ready.snapshot``): its key-value
   state and committed instances. The driver installs it with the bound
   (``META_JOIN_BOUND``) and restores the replica from its store.
4. Restored with a bound, it still votes on nothing until every instance up
   to the bound is committed here (learnt by catch-up). From then on its
   conflict index holds everything its predecessor could have voted for, so
   its votes mean what they say. Its own row continues above the bound.

Peers help: a ``JoinRequest`` resets what they believe the joiner executed
(so log GC waits for its new reports instead of trusting its predecessor's)
and makes them recover the joiner's unfinished instances up to the highest
they know, holes included, since nobody else will (the predecessor is gone).
"""

from __future__ import annotations

from protocol.messages import Deps, InstanceId, JoinReply, JoinRequest

from .ready import SnapshotWanted
from .state import META_JOIN_BOUND, META_JOINING, ReplicaState


class Joiner(ReplicaState):
    def _join_tick(self) -> None:
        """Ask again (lost messages, peers down) and check whether joining is over."""
        if self._joining and self._join_bound_found is not None:
            self._snapshot_wanted = self._snapshot_request(self._join_bound_found)
            return
        if self._joining:
            self._decide_join()
            if not self._joining or self._join_bound_found is not None:
                return
        for peer in self._peers:
            if self._join_bound is not None or peer not in self._join_replies:
                self._send(peer, JoinRequest(self.me))

    def _on_join_request(self, m: JoinRequest) -> None:
        p = self._pos[m.sender]
        self._peer_executed[m.sender] = self._no_deps
        # It rebuilds: what it said of its log is void, and until it votes again it has
        # no say in whether this replica must rebuild too (``laggards``; seed 398).
        self._peer_logs.pop(m.sender, None)
        # An instance can be known here only as a dependency: its owner voted on one of
        # ours after making it, and its PreAccept was lost (seed 316).
        known = [max(k, d) for k, d in zip(self._known_max, self._deps_top, strict=True)]
        self._recover_for_joiner(
            InstanceId(m.sender, j) for j in range(self._committed_upto[p] + 1, known[p] + 1)
        )
        pristine = (
            self._next_index == 0
            and not self.instances
            and all(k < 0 for k in self._known_max)
            and all(g < 0 for g in self._gc_wm)
        )
        reply = JoinReply(self.me, self._next_index, tuple(known), pristine, not self._voting())
        self._send(m.sender, reply)

    def _on_join_reply(self, m: JoinReply) -> None:
        if not self._joining or self._join_bound_found is not None:
            return
        self._join_replies[m.sender] = m
        self._decide_join()

    def _decide_join(self) -> None:
        replies = list(self._join_replies.values())
        if len(replies) < len(self._peers):
            return  # however empty the answers so far: see step 2
        if all(r.pristine for r in replies):
            self._joining = False  # a new cluster
            self._meta[META_JOINING] = b""
            return
        members = [r for r in replies if not r.joining]
        if len(replies) - len(members) + 1 > self._f:
            # More replicas rebuild at once than the cluster tolerates: a commit may have
            # had only their forgotten votes. Ask the joiners again later, in case they
            # became members meanwhile (they cannot have, if they wait on us alike).
            for r in replies:
                if r.joining:
                    del self._join_replies[r.sender]
            return
        # A member's own row ends below its next number; a joiner's row, and ours, end
        # at the highest instance any member knows of (made by the predecessor, voted
        # on by a member if it was ever committed).
        bound = [max(r.known[q] for r in members) for q in range(self._n)]
        for r in members:
            bound[self._pos[r.sender]] = r.next_instance - 1
        self._join_bound_found = tuple(bound)
        self._snapshot_wanted = self._snapshot_request(self._join_bound_found)

    def _snapshot_request(self, bound: Deps) -> SnapshotWanted:
        holders = [r for r in self._join_replies.values() if not (r.pristine or r.joining)]
        self._rng.shuffle(holders)
        # The peer that knows most first: it has least to catch up, and one that was
        # left behind (``laggards``) without knowing it yet knows least.
        holders.sort(key=lambda r: sum(r.known), reverse=True)
        return SnapshotWanted(bound, tuple(r.sender for r in holders))

    def _check_joined(self) -> None:
        """A restored joiner becomes a voter once it has every commit up to its bound."""
        bound = self._join_bound
        if bound is None:
            return
        if all(self._committed_upto[p] >= bound[p] for p in range(self._n)):
            self._join_bound = None
            self._meta[META_JOIN_BOUND] = b""
            self._meta[META_JOINING] = b""

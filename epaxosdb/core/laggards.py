"""Laggards: a replica that stays away does not make its peers keep the log forever.

Log GC deletes what every replica has executed, so one replica that is down
(or cut off) would make the others keep, in memory and on disk, every
instance from then on. Instead a peer silent for ``leave_behind_ticks``, once
this replica holds ``leave_behind_instances`` instances (or instances whose
commands add up to ``leave_behind_bytes``), is *left behind*: GC stops
waiting for it. At most F peers are left behind at once, so a majority
still executed everything deleted — counting those left behind earlier that
have not yet executed up to the GC floor (they still lack what was deleted).

What a left-behind replica lacks can be named by nobody any more, so two
things keep it from acting on a log with holes:

* **The GC floor.** Deleted instances leave the conflict index, so a command
  proposed afterwards need not depend on them; a replica that never executed
  them could run it first. So while a peer may lack them, attributes reach
  the floor — the highest instance deleted with someone left behind —
  whenever this replica leads a command or votes for one, whoever leads it:
  the laggard executes every command (``ReplicaState._attributes``; seed
  20435). The laggard then blocks on the first hole below the floor instead
  of running anything past it. Once every peer reports having executed up to
  the floor, it is dropped.
* **Rejoining.** ``SyncReply`` carries the sender's GC watermark. When the
  next instance of some row that this replica lacks has been deleted by a
  peer and every other peer has deleted it too or never had it, no one can
  ever give it: the replica asks its driver to discard its state and start
  again as one on a new disk (``Ready.rejoin`` → ``joining``), which takes a
  snapshot. Its forgotten votes are covered as a lost disk's are; that
  counts against the F replicas that may rebuild at once, which is why it
  decides only on the word of *every* peer, each a voting member. A joiner
  restored from a snapshot that lacks what the members since deleted has no
  votes to forget, and starts over on the word of the members that answered.
"""

from __future__ import annotations

from protocol.messages import Deps, ReplicaId, SyncReply, payload_bytes

from .state import META_GC_FLOOR, ReplicaState, encode_rows

WORD_FRESH_SYNCS = 4
"""Sync intervals a peer's word counts for when deciding to rebuild (``_fresh_words``)."""


class Laggards(ReplicaState):
    def _laggards(self) -> frozenset[ReplicaId]:
        """The peers log GC leaves behind now: silent long enough, at most F of them,
        once the log held for them is large enough."""
        cfg = self.config
        if cfg.leave_behind_ticks <= 0:
            return frozenset()
        now = self.now
        silent = frozenset(
            q for q in self._peers if now - self._heard_at[q] >= cfg.leave_behind_ticks
        )
        if not silent:
            return frozenset()
        # A peer left behind earlier that has not executed up to the floor yet (down
        # still, or rebuilding) still lacks what was deleted without it: it holds one
        # of the F places. Leaving another behind as well could make more than F
        # rebuild at once, which the cluster waits out for good (seed 108089, N=3:
        # replica 1 left 3 behind, then 2 while 3 still lacked an instance, and both
        # had to rebuild).
        floor = self._floor
        lacking = frozenset(q for q in self._peers if floor is not None and self._behind(q, floor))
        if len(silent | lacking) > self._f:
            return frozenset()
        if len(self.instances) >= cfg.leave_behind_instances:
            return silent
        if cfg.leave_behind_bytes and self._held_bytes() >= cfg.leave_behind_bytes:
            return silent
        return frozenset()

    def _held_bytes(self) -> int:
        """Argument bytes of the commands in the instances held: counted only while a
        peer is silent, once per GC round (a pass over the log, in C per instance)."""
        return sum(
            payload_bytes(x.cmds) for x in self.instances.values() if x.cmds is not None
        )

    def _raise_floor(self, target: list[int], behind: frozenset[ReplicaId]) -> None:
        """GC deletes up to ``target`` without waiting for the peers ``behind``."""
        floor = self._floor if self._floor is not None else [-1] * self._n
        executed = [self._peer_executed.get(q, self._no_deps) for q in behind]
        raised = False
        for p, t in enumerate(target):
            lacking = min(e[p] for e in executed)
            if t > self._gc_wm[p] and t > floor[p] and t > lacking:
                floor[p] = t
                raised = True
        if raised:
            self._floor = floor
            self._meta[META_GC_FLOOR] = encode_rows(floor)

    def _drop_floor_if_caught_up(self) -> None:
        """Every peer executed everything deleted: commands need not reach the floor."""
        floor = self._floor
        if floor is None or len(self._peer_executed) < len(self._peers):
            return
        if any(self._behind(q, floor) for q in self._peers):
            return
        self._floor = None
        self._meta[META_GC_FLOOR] = encode_rows(None)

    def _note_collected(self, m: SyncReply) -> None:
        """A peer told what it deleted and committed: can anyone still give what this
        replica lacks? If every peer has deleted, or never had, the next instance of
        some row, and one of them deleted it, nobody ever will: rejoin. (Two laggards
        cannot give each other what they both lack: seed 66, N=5.)"""
        if m.collected:
            self._peer_logs[m.sender] = (m.committed, m.collected, self.now)
        else:
            self._peer_logs.pop(m.sender, None)  # not voting: it has no say
        if self._rejoin or self._joining:
            return
        logs = list(self._fresh_words().values())
        # A member rebuilds on the word of every peer: it forgets its votes. A joiner
        # restored from a snapshot has none, so the word of the members that answered
        # is enough, and it must not wait for the others: they may be joiners, or
        # members that lack the same instances, waiting in turn for it to vote (seed
        # 20689, N=5: two joiners and a restarted member lacked an instance the two
        # other members had deleted, and each waited on the others for good).
        if self._join_bound is None and len(logs) < len(self._peers):
            return
        for p in range(self._n):
            j = self._committed_upto[p] + 1
            gone = any(collected[p] >= j for _, collected in logs)
            if gone and not any(c[p] < j <= committed[p] for committed, c in logs):
                self._rejoin = True
                return

    def _fresh_words(self) -> dict[ReplicaId, tuple[Deps, Deps]]:
        """The peers' words recent enough to rebuild on.

        "I never had it" is true only of the moment it was said: a word older than
        the instance in question says nothing of it, and its sender may have lost
        its disk since and be rebuilding too. Rebuilding on such a word made two of
        three replicas rebuild at once, which the cluster waits out for good (seed
        50043, N=3: a laggard counted a peer's word from before that peer executed,
        and then lost, what the third replica deleted)."""
        oldest = self.now - WORD_FRESH_SYNCS * self.config.sync_interval_ticks
        return {q: (c, g) for q, (c, g, at) in self._peer_logs.items() if at >= oldest}

    def _words_wanted(self) -> list[ReplicaId]:
        """Peers to ask for a fresh word: a fresh one says an instance this replica
        lacks was deleted, and a rebuild waits on theirs (``_fresh_words``)."""
        if self._rejoin or self._joining:
            return []
        fresh = self._fresh_words()
        upto = self._committed_upto
        if not any(g[p] > upto[p] for _, g in fresh.values() for p in range(self._n)):
            return []
        return [q for q in self._peers if q not in fresh]

    def _collected_here(self) -> Deps:
        """What a ``SyncReply`` says was deleted here (nothing while not voting)."""
        return tuple(self._gc_wm) if self._voting() else ()

    @property
    def left_behind(self) -> frozenset[ReplicaId]:
        """Peers that may lack instances deleted here: left behind and not rebuilt yet."""
        floor = self._floor
        if floor is None:
            return frozenset()
        return frozenset(q for q in self._peers if self._behind(q, floor))

    @property
    def known_left_behind(self) -> frozenset[ReplicaId]:
        """``left_behind`` less the peers that have not reported since this replica
        started: what logs and INFO name. A replica restored from a snapshot inherits
        its source's floor before any peer has told it anything, and ``left_behind``
        (rightly, for its votes) counts them all until they do."""
        return frozenset(q for q in self.left_behind if q in self._peer_executed)

    @property
    def gc_passes(self) -> frozenset[ReplicaId]:
        """The peers the latest log GC did not wait for (at most F)."""
        return self._left_behind

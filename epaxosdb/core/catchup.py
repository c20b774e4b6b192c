"""Catch-up: learning commits this replica missed, and *loading* after a restart.

A replica that knows of instances it has not seen committed, or whose
execution waits for one, asks a peer with ``SyncRequest`` (its committed
watermarks and the instances it waits for); the peer answers with batches of
Commits. A restarted replica is *loading* until it has heard the committed
watermarks of a majority and executed up to them.
"""

from __future__ import annotations

from protocol.messages import (
    Commit,
    InstanceId,
    SyncReply,
    SyncRequest,
    payload_bytes,
)

from .instance import Instance
from .laggards import Laggards


class CatchUp(Laggards):
    def catch_up_again(self) -> None:
        """Load again, as after a restart: hear a majority's committed watermarks and
        execute up to them before serving clients.

        For a driver that was stopped long enough for its peers to leave it behind
        (SIGSTOP, a frozen machine). Serving at once would start client commands —
        blocking pops' retries, due by then — that a rebuild, once this replica
        learns it must, would orphan: their instances commit elsewhere and land in
        the snapshot, and what they popped is never put back (a QA run lost one
        element per blocked client). Loading, it asks every peer for its word first."""
        if self._n == 1 or self._loading or not self._voting():
            return
        self._loading = True
        self._sync_heard = {}
        self._sync_target = [-1] * self._n
        for peer in self._peers:
            self._send(peer, self._sync_request(()))

    def _periodic_sync(self) -> None:
        self._last_sync_tick = self.now
        if not self._peers:
            return
        if self._loading:
            for peer in self._peers:
                if peer not in self._sync_heard:
                    self._send(peer, self._sync_request(()))
        wanted = tuple(
            b for b in self._executor.blockers()
            if (x := self.instances.get(b)) is None or not x.committed
        )[: self.config.sync_batch_max]
        own = self._own_bound_wanted()
        if own:
            wanted = (*own, *wanted)[: self.config.sync_batch_max]
        # A row is lagging when something above its committed watermark is known (or,
        # while loading, a peer reported commits there) and the watermark has not moved
        # since the last look. Asking again here is what resumes a catch-up whose
        # chain of "more" replies broke (a lost reply, a dropped connection).
        target = self._sync_target
        lagging = any(
            max(self._known_max[p], target[p]) > self._committed_upto[p]
            == self._last_sync_committed[p]
            for p in range(self._n)
        )
        self._last_sync_committed = list(self._committed_upto)
        if wanted or lagging:
            self._send(self._rng.choice(self._peers), self._sync_request(wanted))
        for peer in self._words_wanted():
            self._send(peer, self._sync_request(()))

    def _learn_of_executed(self, executed: tuple[int, ...]) -> None:
        """A peer executed instances up to ``executed``: they exist and are committed.

        Raising the known maxima makes the periodic sync see a lagging row, so a
        replica that was cut off (a partition, SIGSTOP) while the others kept
        writing catches up as soon as it hears a heartbeat, not only when new
        traffic happens to name a missed instance. The peer still has them: log
        GC deletes only what this replica reported executed too. The own row is
        left alone: nobody can know more of it than its owner's log, and a
        replica whose log is behind its peers' is refused at the handshake.
        """
        known = self._known_max
        own = self._pos[self.me]
        for p, top in enumerate(executed):
            if top > known[p] and p != own:
                known[p] = top

    def _on_sync_request(self, m: SyncRequest) -> None:
        cfg = self.config
        if self._voting():
            # A restored joiner names its own unsettled instances: settle them for it.
            self._recover_for_joiner(i for i in m.wanted if i.replica == m.sender)
        commits: list[Commit] = []
        seen: set[InstanceId] = set()
        size = 0

        def full() -> bool:
            return len(commits) >= cfg.sync_batch_max or size >= cfg.sync_bytes_max

        def room_for(x: Instance) -> int | None:
            """``x``'s bytes if it fits beside what the reply holds (the first always
            does): with one more large instance the reply could outgrow the peer frame."""
            extra = payload_bytes(x.cmds or ())
            return extra if not commits or size + extra <= cfg.sync_bytes_max else None

        more = False
        for iid in m.wanted:
            x = self.instances.get(iid)
            if x is not None and x.committed and iid not in seen and not full():
                extra = room_for(x)
                if extra is None:
                    more = True
                    break
                commits.append(self._commit_msg(x))
                size += extra
                seen.add(iid)
        scan_budget = cfg.sync_batch_max * 4
        for p, row in enumerate(self._rows):
            j = m.committed[p] + 1
            top = self._known_max[p]
            while j <= top:
                if full() or scan_budget <= 0:
                    more = True
                    break
                scan_budget -= 1
                iid = InstanceId(row, j)
                j += 1
                x = self.instances.get(iid)
                if x is not None and x.committed and iid not in seen:
                    extra = room_for(x)
                    if extra is None:
                        more = True
                        break
                    commits.append(self._commit_msg(x))
                    size += extra
            if more:
                break
        reply = SyncReply(
            self.me, tuple(self._committed_upto), tuple(commits), more, self._collected_here()
        )
        self._send(m.sender, reply)

    def _on_sync_reply(self, m: SyncReply) -> None:
        for c in m.commits:
            if not self._collected(c):
                self._on_commit(c)
        if self._loading:
            self._sync_heard[m.sender] = m.committed
            for p in range(self._n):
                if m.committed[p] > self._sync_target[p]:
                    self._sync_target[p] = m.committed[p]
        if m.more:
            self._send(m.sender, self._sync_request(()))
        self._note_collected(m)

    def _check_loaded(self) -> None:
        if len(self._sync_heard) < self._f:
            return
        wm = self._executor.watermarks
        if all(wm[p] >= self._sync_target[p] for p in range(self._n)):
            self._loading = False

    def _loading_progress(self) -> float:
        if not self._loading:
            return 1.0
        wm = self._executor.watermarks
        total = sum(t + 1 for t in self._sync_target)
        if total == 0:
            return 0.0
        done = sum(min(wm[p], self._sync_target[p]) + 1 for p in range(self._n))
        return done / total

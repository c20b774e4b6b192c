"""The acceptor: votes and promises on other replicas' instances (brief §2.3, §3.2).

A vote at ballot ``b`` sets ``bal = vbal = b``; a promise sets only ``bal``; a
message below ``bal`` gets a NACK carrying ``bal``; a duplicate PreAccept is
answered with the vote already cast (P27); nothing moves a status backwards.
"""

from __future__ import annotations

from protocol.messages import (
    EMPTY_ACCESS,
    Accept,
    AcceptReply,
    PreAccept,
    PreAcceptReply,
    Prepare,
    PrepareReply,
    Status,
)

from .state import ReplicaState


class Acceptor(ReplicaState):
    def _on_pre_accept(self, m: PreAccept) -> None:
        x = self._get(m.inst)
        self._touch(x)
        if m.ballot < x.bal:
            nack = PreAcceptReply(self.me, m.inst, x.bal, False, x.seq, x.deps, False)
            self._send(m.sender, nack)
            return
        if x.committed:
            self._send(m.sender, self._commit_msg(x))
            return
        if x.vbal == m.ballot and x.status >= Status.PREACCEPTED:
            if x.status == Status.PREACCEPTED:
                # A duplicate: answer with the vote already cast, never a recomputed one (P27).
                self._send(
                    m.sender, PreAcceptReply(self.me, m.inst, x.bal, True, x.seq, x.deps, x.eq)
                )
            return
        self._promise(x, m.ballot)
        if x.status == Status.ACCEPTED:
            # A recovery re-running phase 1 at a higher ballot (its quorum saw no
            # ACCEPTED vote, so ours was not chosen and never will be). Promise and
            # answer, but keep the accepted vote — status, and payload with it: a vote
            # is (payload, seq, deps) at vbal, and taking this PreAccept's batch into a
            # NO-OP vote made a vote no leader ever proposed, which a later recovery
            # then committed with the NO-OP's empty deps (seed 2246).
            access = self._batch_access_fn(m.cmds) if m.cmds else EMPTY_ACCESS
            seq, deps = self._attributes(access, m.seq, m.deps)
            self._persist(x)
            self._send(m.sender, PreAcceptReply(self.me, m.inst, m.ballot, True, seq, deps, False))
            return
        self._set_payload(x, m.cmds)
        seq, deps = self._attributes(self._instance_access(x), m.seq, m.deps)
        x.eq = seq == m.seq and deps == m.deps
        x.status = Status.PREACCEPTED
        x.seq, x.deps = seq, deps
        x.vbal = m.ballot
        self._add_to_index(x)
        self._persist(x)
        self._watch_instance(x)
        self._send(m.sender, PreAcceptReply(self.me, m.inst, m.ballot, True, seq, deps, x.eq))

    def _on_accept(self, m: Accept) -> None:
        x = self._get(m.inst)
        self._touch(x)
        if m.ballot < x.bal:
            self._send(m.sender, AcceptReply(self.me, m.inst, x.bal, False))
            return
        if x.committed:
            self._send(m.sender, self._commit_msg(x))
            return
        if not (x.status == Status.ACCEPTED and x.vbal == m.ballot):
            self._promise(x, m.ballot)
            self._set_payload(x, m.cmds)
            x.status = Status.ACCEPTED
            x.seq, x.deps = m.seq, m.deps
            x.vbal = m.ballot
            x.eq = False
            self._add_to_index(x)
            self._persist(x)
            self._watch_instance(x)
        self._send(m.sender, AcceptReply(self.me, m.inst, m.ballot, True))

    def _on_prepare(self, m: Prepare) -> None:
        x = self._get(m.inst)
        if m.ballot > x.bal:
            x.recovery_attempts += 1  # someone else is recovering it: give them time
        self._touch(x)
        if m.ballot < x.bal:
            self._send(
                m.sender,
                PrepareReply(
                    self.me, m.inst, x.bal, False, x.status, None, 0, self._no_deps, x.vbal, False
                ),
            )
            return
        if not x.committed and m.ballot > x.bal:
            self._promise(x, m.ballot)
            self._persist(x)
        self._watch_instance(x)
        self._send(m.sender, self._prepare_reply(x, m.ballot))

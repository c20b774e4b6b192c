"""Explicit Prepare: finishing an instance whose leader went quiet (brief §3).

The recoverer promises itself a ballot above every round it has seen, asks
every peer, and applies the decision table of ``recovery`` to the first F+1
promises: commit, Accept, PreAccept again without the fast path, or NO-OP.
"""

from __future__ import annotations

from protocol.messages import (
    Ballot,
    PreAccept,
    Prepare,
    PrepareReply,
    Status,
)

from .instance import Instance, Leading, Phase
from .recovery import Action, decide
from .state import ReplicaState


class Recoverer(ReplicaState):
    def _start_recovery(self, x: Instance) -> None:
        """Explicit Prepare at a ballot above every round seen for ``x`` (brief §3)."""
        self._watch.pop(x.id, None)
        if x.committed or x.lead is not None:
            return
        x.recovery_attempts += 1
        b = Ballot(0, max(x.bal.round, x.max_round_seen) + 1, self.me)
        self._promise(x, b)
        self._persist(x)
        lead = x.lead = Leading(b, Phase.PREPARE, self.now)
        self._leading.add(x.id)
        lead.prepare_replies[self.me] = self._prepare_reply(x, b)
        self._stats["recoveries_started"] += 1
        self._broadcast(Prepare(self.me, x.id, b))
        self._finish_prepare(x)

    def _on_prepare_reply(self, m: PrepareReply) -> None:
        x = self.instances.get(m.inst)
        if x is None:
            return
        if m.ok and m.status >= Status.COMMITTED and m.cmds is not None:
            # A committed value is a fact whatever ballot we are at.
            self._commit(x, m.cmds, m.seq, m.deps, broadcast=False)
            return
        found = self._reply_for_phase(m, Phase.PREPARE)
        if found is not None:
            x, lead = found
            lead.prepare_replies[m.sender] = m
            self._note_deps(m.deps)
            self._finish_prepare(x)

    def _finish_prepare(self, x: Instance) -> None:
        lead = x.lead
        assert lead is not None
        if len(lead.prepare_replies) < self._f + 1:
            return
        d = decide(
            list(lead.prepare_replies.values()),
            owner=x.id.replica,
            n=self._n,
            f=self._f,
            eq_rule=self.config.fast_path_eq_rule,
        )
        if d.action is Action.COMMIT:
            self._stats["recovery_commits"] += 1
            self._commit(x, d.cmds, d.seq, d.deps, broadcast=True)
        elif d.action in (Action.ACCEPT, Action.NOOP):
            self._begin_accept(x, d.cmds, d.seq, d.deps)
        else:
            self._set_payload(x, d.cmds)
            seq, deps = self._attributes(self._instance_access(x), d.seq, d.deps)
            x.status = Status.PREACCEPTED
            x.seq, x.deps = seq, deps
            x.vbal = lead.ballot
            x.eq = False
            self._add_to_index(x)
            self._persist(x)
            lead.phase = Phase.PREACCEPT
            lead.preaccept_replies = {}
            lead.orig_seq, lead.orig_deps = seq, deps
            lead.last_send = self.now
            lead.retransmitted = False
            self._broadcast(PreAccept(self.me, x.id, lead.ballot, d.cmds, seq, deps))

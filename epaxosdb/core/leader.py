"""The command leader: new instances, the fast and slow paths (brief §2).

A batch of client commands becomes an instance in this replica's row with
attributes from the conflict index; it is persisted, PreAccepted by every
peer, and committed after identical replies from a fast quorum (N−1; for N=3
one reply that left the attributes unchanged, the ``eq`` rule), or after an
Accept round with the merged attributes. At most ``inflight_max`` own
instances are unexecuted at once (admission control, which bounds SCCs).
"""

from __future__ import annotations

from itertools import islice

from protocol.messages import (
    Accept,
    AcceptReply,
    Ballot,
    Command,
    InstanceId,
    Message,
    PreAccept,
    PreAcceptReply,
    Prepare,
    ReplicaId,
    Status,
    command_bytes,
    payload_bytes,
)

from .instance import Instance, Leading, Phase
from .quorum import fast_commit_attributes, fast_path_possible, merge_attributes
from .state import META_NEXT_INSTANCE, ReplicaState


class Leader(ReplicaState):
    def _flush_proposals(self) -> None:
        cfg = self.config
        proposals = self._proposals
        while proposals and len(self._own_unexecuted) < cfg.inflight_max:
            take = min(len(proposals), cfg.batch_max)
            if payload_bytes(islice(proposals, take)) <= cfg.batch_bytes_max:
                # What the loop below takes when the bytes do not stop it (the usual case),
                # sized in one call instead of one per command.
                self._start_instance(tuple([proposals.popleft() for _ in range(take)]))
                continue
            batch: list[Command] = [proposals.popleft()]
            size = command_bytes(batch[0])
            while proposals and len(batch) < cfg.batch_max:
                size += command_bytes(proposals[0])
                if size > cfg.batch_bytes_max:
                    break
                batch.append(proposals.popleft())
            self._start_instance(tuple(batch))

    def _start_instance(self, cmds: tuple[Command, ...]) -> None:
        # Past any number of this row seen anywhere: normally a no-op, but a replica
        # that rebuilt may learn of its predecessor's instances after its join bound.
        own = self._pos[self.me]
        index = max(self._next_index, self._known_max[own] + 1, self._deps_top[own] + 1)
        self._next_index = index + 1
        self._meta[META_NEXT_INSTANCE] = str(self._next_index).encode()
        iid = InstanceId(self.me, index)
        x = self.instances[iid] = Instance(iid, self._n, self.now)
        self._note_known(iid)
        x.cmds = cmds
        seq, deps = self._attributes(self._instance_access(x), 0, self._no_deps)
        b0 = Ballot.initial(self.me)
        x.status = Status.PREACCEPTED
        x.seq, x.deps = seq, deps
        x.bal = x.vbal = b0
        x.eq = True
        self._add_to_index(x)
        self._persist(x)
        self._proposed[index] = cmds
        self._own_unexecuted.add(index)
        self._stats["instances_proposed"] += 1
        lead = x.lead = Leading(b0, Phase.PREACCEPT, self.now)
        lead.orig_seq, lead.orig_deps = seq, deps
        self._leading.add(iid)
        if self._n == 1:
            self._stats["fast_path_commits"] += 1
            self._commit(x, cmds, seq, deps, broadcast=False)
            return
        self._broadcast(PreAccept(self.me, iid, b0, cmds, seq, deps))

    def _on_pre_accept_reply(self, m: PreAcceptReply) -> None:
        found = self._reply_for_phase(m, Phase.PREACCEPT)
        if found is not None:
            x, lead = found
            lead.preaccept_replies[m.sender] = m
            self._note_deps(m.deps)
            self._finish_preaccept(x, timed_out=False)

    def _finish_preaccept(self, x: Instance, *, timed_out: bool) -> None:
        lead = x.lead
        assert lead is not None and x.cmds is not None
        replies = list(lead.preaccept_replies.values())
        cfg = self.config
        if lead.fast_path_allowed:
            attrs = fast_commit_attributes(self._n, cfg.fast_path_eq_rule, replies)
            if attrs is not None:
                self._stats["fast_path_commits"] += 1
                self._commit(x, x.cmds, attrs[0], attrs[1], broadcast=True)
                return
            outstanding = len(self._peers) - len(replies)
            if len(replies) < self._f:
                return
            if (
                not timed_out
                and outstanding > 0
                and cfg.fast_wait_ticks > 0
                and fast_path_possible(self._n, cfg.fast_path_eq_rule, replies, outstanding)
            ):
                if lead.fast_deadline is None:
                    # +1: the current tick is already partly over, so wait whole ticks.
                    lead.fast_deadline = self.now + cfg.fast_wait_ticks + 1
                return
            seq, deps = merge_attributes(lead.orig_seq, lead.orig_deps, replies)
        else:
            if len(replies) < self._f:
                return
            seq, deps = merge_attributes(x.seq, x.deps, replies)
        self._begin_accept(x, x.cmds, seq, deps)

    def _on_accept_reply(self, m: AcceptReply) -> None:
        found = self._reply_for_phase(m, Phase.ACCEPT)
        if found is not None:
            x, lead = found
            lead.accept_oks.add(m.sender)
            if len(lead.accept_oks) >= self._f:
                self._leader_commit(x)

    def _retransmit(self, x: Instance, lead: Leading) -> None:
        lead.last_send = self.now
        lead.retransmitted = True
        assert x.cmds is not None or lead.phase is Phase.PREPARE
        if lead.phase is Phase.PREACCEPT:
            assert x.cmds is not None
            if lead.fast_path_allowed:
                m: Message = PreAccept(
                    self.me, x.id, lead.ballot, x.cmds, lead.orig_seq, lead.orig_deps
                )
            else:
                m = PreAccept(self.me, x.id, lead.ballot, x.cmds, x.seq, x.deps)
            answered: set[ReplicaId] = set(lead.preaccept_replies)
        elif lead.phase is Phase.ACCEPT:
            assert x.cmds is not None
            m = Accept(self.me, x.id, lead.ballot, x.cmds, x.seq, x.deps)
            answered = lead.accept_oks
        else:
            m = Prepare(self.me, x.id, lead.ballot)
            answered = set(lead.prepare_replies)
        for peer in self._peers:
            if peer not in answered:
                self._send(peer, m)

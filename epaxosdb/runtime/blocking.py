"""Blocked clients: BLPOP, BZPOPMIN and friends wait at their replica, never in the log.

A blocking pop cannot sit in the replicated log waiting for a push: every
replica executes the log in one order, and no command may stall the ones
behind it. So the log only ever holds *attempts*. An attempt is the blocking
command executed as Redis runs it inside MULTI — it pops if a list or sorted
set holds an element and otherwise answers "empty" and changes nothing — and,
like every write, it executes identically on every replica, so exactly one
attempt gets each element. Between attempts the client waits here, at the
replica it is connected to.

What ends a wait is a change to one of its keys. Every replica executes
every write, so a push through any replica reaches the blocked client's
replica as an executed command; the consensus loop reports the keys each
turn wrote (``BlockedClients.changed``), and the first client waiting on
such a key (first come, first served, as in Redis) makes a new attempt. If
it pops, its pop writes the key again and wakes the next one; if it finds
the list empty, someone else got there first and it waits again. A key that
changes while an attempt is in flight is remembered, and the attempt that
comes back empty is followed by another at once. A client that leaves the
wait owing a wake-up — told of a change it did not act on (it timed out or
went away meanwhile), or one that popped from one of several keys while
others may hold elements too — hands it to the next client waiting on its
keys, so an element never waits behind a client that is gone. (A turn that
ran in one transaction does not say which keys it wrote: every blocked
client attempts once.) As a last safety net each blocked client also
retries every ``RETRY_INTERVAL_S``.

XREAD BLOCK waits the same way, but its attempts only read: one XADD may
serve every client reading that stream, so a change wakes every *reader*
waiting on the key (``BlockedPop.consumes`` is false for them), besides the
first client waiting to pop from it, and a reader never owes a wake-up.
XREADGROUP BLOCK consumes like a pop (an entry delivered to one consumer of
a group is not delivered to another), and its attempt writes the stream, so
a client of another group is woken next. A wait that ends in an error (the
stream or the group is gone) passes its wake-up on: every client waiting on
that stream learns of it, as Redis unblocks them all.

An attempt the replica refuses with ``-LOADING`` (catching up after being
stopped for long: ``Replica.catch_up_again``) or ``-NOQUORUM`` (it hears from
no majority) proposed nothing: the client keeps waiting, and every blocked
client attempts again once the replica serves.

The timeout is the client's: when it passes with no attempt in flight the
client gets the timeout reply. With an attempt in flight, the attempt's
outcome wins — if it popped, dropping its reply would lose the element. The
same holds when the client goes away (end of input, a broken connection):
no further attempt starts, and one in flight runs its course.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import trio

from protocol.replies import Error, Reply

NOT_PROPOSED = ("LOADING", "NOQUORUM")
"""Error codes of replies to an attempt that was never proposed: the client waits on."""
RETRY_INTERVAL_S = 30.0
"""How often a blocked client attempts again with no change reported to it: rarely, since
each attempt is a replicated write, and idle workers may wait for hours."""

Propose = Callable[[Callable[[Reply], None]], None]
"""Submit one attempt; its reply is passed to the callback."""


class BlockedPop:
    """One client waiting in a blocking command (see the module docstring)."""

    def __init__(
        self,
        keys: tuple[bytes, ...],
        propose: Propose,
        finish: Callable[[Reply], None],
        empty: Reply,
        timed_out: Reply,
        deadline: float,
        consumes: bool = True,
        refusal: Callable[[], Error | None] | None = None,
    ) -> None:
        self.keys = keys
        self.consumes = consumes
        """Whether an attempt takes what it finds (BLPOP) or only reads it (XREAD)."""
        self._refusal = refusal
        """An answer that ends the wait without an attempt, judged from what the replica
        has executed (``commands.refused_when_served``); asked before each attempt
        but the first, which runs the command itself."""
        self._propose = propose
        self._finish = finish
        self._empty = empty
        """What an attempt that popped nothing answers."""
        self.deadline = deadline
        """trio time at which the wait times out (``math.inf``: never)."""
        self._retry_at = math.inf
        self._in_flight = False
        self._changed = False
        self._stopping = False
        self._stop_reply: Reply = timed_out
        self._notified = False
        """A change was reported after the last attempt started (see ``owes_wake_up``)."""
        self._popped = False
        self._failed = False
        """The wait ended with an error (a deleted stream, a destroyed group)."""
        self._attempts = 0
        self.done = False

    def start(self) -> None:
        self._attempt()

    def wake_at(self) -> float:
        """When ``tick`` has something to do (the deadline or the next retry)."""
        if self._stopping:
            return math.inf  # only the attempt in flight can end the wait now
        return min(self.deadline, self._retry_at)

    def tick(self, now: float) -> None:
        """The time from ``wake_at`` has come: time out, or retry."""
        if self.done or self._stopping:
            return
        if now >= self.deadline:
            self.stop()
        elif now >= self._retry_at:
            self.key_changed()

    @property
    def owes_wake_up(self) -> bool:
        """Whether the clients behind this one on its keys must be told of a change when
        it leaves: it was told of one it did not act on, it popped from one key of
        several (the others may hold elements too), or its wait ended in an error (which
        may end theirs too). A reader took nothing, and the others waiting were told of
        the change as it was."""
        return self.consumes and (
            self._notified or self._failed or (self._popped and len(self.keys) > 1)
        )

    def key_changed(self) -> None:
        """One of the keys may have gained an element: attempt (again)."""
        self._notified = True
        if self.done or self._stopping:
            return
        if self._in_flight:
            self._changed = True
        else:
            self._serve()

    def stop(self, reply: Reply | None = None) -> None:
        """End the wait with the timeout reply (or ``reply``) — once the attempt in flight,
        if any, has come back empty; if it popped, its reply is the answer."""
        if self.done or self._stopping:
            return
        self._stopping = True
        if reply is not None:
            self._stop_reply = reply
        if not self._in_flight:
            self._end(self._stop_reply)

    def _attempt(self) -> None:
        self._attempts += 1
        self._in_flight = True
        self._changed = self._notified = False
        self._retry_at = trio.current_time() + RETRY_INTERVAL_S
        self._propose(self._attempted)

    def _attempted(self, reply: Reply) -> None:
        self._in_flight = False
        if self.done:
            return
        if type(reply) is Error and reply.text.startswith(NOT_PROPOSED):
            # Nothing was proposed: the replica catches up (it was stopped for long), or
            # hears from no majority (``loop.quorum_silence``). Keep waiting: once it
            # serves again it wakes every blocked client, and a write wakes those of its
            # keys (the periodic retry is the last resort).
            if self._stopping:
                self._end(self._stop_reply)
            return
        if reply != self._empty:
            # an element, an error, or an unknown outcome
            self._popped = type(reply) is not Error
            self._failed = not self._popped
            self._end(reply)
        elif self._stopping:
            self._end(self._stop_reply)
        elif self._changed:
            self._serve()

    def _serve(self) -> None:
        """Attempt again, unless the state executed so far answers the client already."""
        refused = self._refusal() if self._refusal is not None else None
        if refused is None:
            self._attempt()
        else:
            self._failed = True  # what it would have taken is still there for the others
            self._end(refused)

    def _end(self, reply: Reply) -> None:
        self.done = True
        self._finish(reply)


class BlockedClients:
    """Who waits on which key, first come first served (one per front end)."""

    def __init__(self) -> None:
        self._by_key: dict[bytes, dict[BlockedPop, None]] = {}
        """Clients waiting to pop, per key, in arrival order."""
        self._readers_by_key: dict[bytes, dict[BlockedPop, None]] = {}
        """Clients waiting to read (XREAD BLOCK), per key: a change wakes them all."""
        self._all: set[BlockedPop] = set()
        self.with_timeout = 0
        """How many of them wait with a timeout (INFO ``clients_in_timeout_table``: Redis
        keeps those in its timeout table, the others wait for good)."""

    def __len__(self) -> int:
        return len(self._all)

    def _index(self, blocked: BlockedPop) -> dict[bytes, dict[BlockedPop, None]]:
        return self._by_key if blocked.consumes else self._readers_by_key

    def add(self, blocked: BlockedPop) -> None:
        if blocked in self._all:
            return
        self._all.add(blocked)
        if blocked.deadline != math.inf:
            self.with_timeout += 1
        index = self._index(blocked)
        for key in blocked.keys:
            index.setdefault(key, {})[blocked] = None

    def remove(self, blocked: BlockedPop) -> None:
        """Forget ``blocked`` (it may have been removed already), passing on the wake-up
        it owes, if any."""
        if blocked not in self._all:
            return
        self._all.discard(blocked)
        if blocked.deadline != math.inf:
            self.with_timeout -= 1
        index = self._index(blocked)
        for key in blocked.keys:
            waiting = index.get(key)
            if waiting is None:
                continue  # a key named twice (XREAD STREAMS s s 0 0)
            waiting.pop(blocked, None)
            if not waiting:
                del index[key]
        if blocked.owes_wake_up:
            self.changed(blocked.keys)

    def changed(self, keys: Iterable[bytes]) -> None:
        """Keys that executed commands wrote: wake the first client waiting to pop from
        each, and every client waiting to read it."""
        by_key, readers_by_key = self._by_key, self._readers_by_key
        for key in keys:
            waiting = by_key.get(key)
            if waiting:
                next(iter(waiting)).key_changed()
            if readers_by_key:
                readers = readers_by_key.get(key)
                if readers:
                    for reader in list(readers):
                        reader.key_changed()

    def changed_all(self) -> None:
        """Some keys changed, which ones is not known: every blocked client attempts."""
        for index in (self._by_key, self._readers_by_key):
            for waiting in list(index.values()):
                for blocked in list(waiting):
                    blocked.key_changed()

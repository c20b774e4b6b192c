"""Simulated Redis clients: closed-loop, seeded, recording a checkable history.

Each client issues one operation at a time against a randomly chosen live
replica — so reads often go to a different replica than the write before
them — over a small key space, so that commands collide. Written values are
unique (``c<client>.<n>``), which keeps the linearizability search cheap:
every read names the write it saw.

An operation whose reply never arrives — its replica crashed, or it timed out
— is recorded as indeterminate: it may still take effect later, and the
checker accepts either outcome.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from epaxosdb import commands
from protocol.messages import Command, ReplicaId
from protocol.replies import Error, Reply

from .history import HistoryRecorder, OperationToken
from .linearizability import Operation

TICK_MS = 10
"""Simulated wall-clock milliseconds per tick, for command timestamps."""

KINDS = ("GET", "SET", "INCR", "DEL", "SETNX", "GETSET", "APPEND", "MSET", "SETNX_OPT", "GETDEL")

GETSET_SCRIPT = (
    b"local old = redis.call('GET', KEYS[1])\n"
    b"local now = redis.call('TIME')\n"
    b"local at = now[1] * 1000 + 1000000000 + math.random(1000000)\n"
    b"redis.call('SET', KEYS[1], ARGV[1], 'PXAT', at)\n"
    b"return old\n"
)
"""GETSET as a Lua script, sent by odd-numbered clients: what the history records is a
GETSET, and what every replica stores includes an expiry drawn from the script's
``TIME`` and ``math.random`` (days away: it never expires in a run), so a script that
ran differently on two replicas leaves unequal states, which ``final`` compares."""


@dataclass(frozen=True, slots=True)
class WorkloadProfile:
    clients: int = 6
    keys: int = 4
    think_ticks_max: int = 10
    timeout_ticks: int = 400
    weights: tuple[int, ...] = (30, 20, 15, 5, 5, 5, 5, 5, 5, 4)
    """Relative frequency of each of ``KINDS``."""
    conflict: float | None = None
    """The paper's interference knob: when set, a command goes to one hot key with this
    probability and to a key never used before otherwise (``keys`` is then ignored)."""
    home_replicas: bool = False
    """Clients stay with one replica (client i with replica i mod N) instead of roaming."""
    expiring_keys: int = 0
    """When positive, also send traffic on this many keys of their own that get TTLs of a
    few ticks (see ``Workload._expiring``). Off unless asked for, so that every seed
    replays the schedule it had before this traffic existed."""

    @classmethod
    def random(cls, rng: random.Random, n: int) -> WorkloadProfile:
        return cls(
            clients=rng.randint(n, 4 * n),
            keys=rng.choice((1, 2, 3, 5, 8)),
            think_ticks_max=rng.choice((0, 2, 10, 30)),
            timeout_ticks=rng.choice((150, 400, 1000)),
            weights=tuple(rng.randint(0, 10) + (10 if k in ("GET", "SET") else 0) for k in KINDS),
        )


@dataclass(slots=True)
class _Pending:
    cmd: Command
    replica: ReplicaId
    token: OperationToken
    keys: int
    """How many single-key steps the history records for it (MSET: one per key)."""
    call: int
    deadline: int


@dataclass(slots=True)
class _Client:
    id: int
    next_at: int = 0
    written: int = 0
    pending: _Pending | None = None


@dataclass(slots=True)
class WorkloadStatistics:
    issued: int = 0
    completed: int = 0
    errors: int = 0
    timed_out: int = 0
    lost: int = 0


class Workload:
    def __init__(self, profile: WorkloadProfile, rng: random.Random, first_id: int = 1) -> None:
        self.profile = profile
        self._rng = rng
        self._clients = [_Client(i) for i in range(profile.clients)]
        self._keys = [f"k{i}".encode() for i in range(profile.keys)]
        self._next_id = first_id
        self._fresh = 0
        self._by_id: dict[int, _Client] = {}
        self._recorder = HistoryRecorder()
        self.proposed: dict[tuple[ReplicaId, int], Command] = {}
        self.stats = WorkloadStatistics()
        self.stopped = False
        self._ttl_rng = random.Random(rng.random()) if profile.expiring_keys else None
        self._ttl_keys = [f"t{i}".encode() for i in range(profile.expiring_keys)]
        self._ttl_waiting: tuple[int, ReplicaId, int] | None = None
        """The TTL command in flight: its id, replica and when to stop waiting for it."""
        self.healed_at: int | None = None
        """Set when the liveness phase starts: commands issued later never time out on
        the client side, so the run converges only once every one of them completed
        (``outstanding`` is zero)."""

    # --- issuing --------------------------------------------------------------

    def due(self, now: int, replicas: list[ReplicaId]) -> list[tuple[ReplicaId, Command]]:
        """Commands that clients send now, each to one of ``replicas``."""
        if self.stopped or not replicas:
            return []
        out = []
        for c in self._clients:
            if c.pending is None and c.next_at <= now:
                if self.profile.home_replicas:
                    home = sorted(replicas)[c.id % len(replicas)] if replicas else None
                    if home is None:
                        continue
                    replica = home
                else:
                    replica = self._rng.choice(replicas)
                cmd, spec = self._make(c, replica, now)
                timeout = self.profile.timeout_ticks if self.healed_at is None else 10**9
                if len(spec) == 1:
                    key, kind, args = spec[0]
                    token = self._recorder.invoke(c.id, key, kind, args, now)
                else:
                    token = self._recorder.invoke_transaction(c.id, spec, now)
                c.pending = _Pending(cmd, replica, token, len(spec), now, now + timeout)
                self._by_id[cmd.id] = c
                self.proposed[(cmd.origin, cmd.id)] = cmd
                self.stats.issued += 1
                out.append((replica, cmd))
        if self._ttl_rng is not None:
            out += self._expiring(now, replicas, self._ttl_rng)
        return out

    def _expiring(
        self, now: int, replicas: list[ReplicaId], rng: random.Random
    ) -> list[tuple[ReplicaId, Command]]:
        """Fire-and-forget commands on keys that expire a few ticks after they are set.

        Their replies are not checked (the history model has no expiry), but what
        they leave must be the same on every replica, which ``final`` compares:
        whether a key is expired depends on each command's own timestamp, and a
        command that finds a key expired deletes it at every replica, a read
        included, though a read's handler runs only where it was proposed. A
        replica that skipped that, or judged expiry by its own clock, would keep
        a key the others deleted. Drawn from their own generator, so the checked
        clients' choices stay the same with or without them; sent one at a time,
        like a client's, so that they cannot pile up faster than the cluster
        commits them.
        """
        waiting = self._ttl_waiting
        if waiting is not None:
            if now < waiting[2]:
                return []
            self._ttl_waiting = None  # it timed out: go on
        if rng.random() >= 0.5:
            return []
        key = rng.choice(self._ttl_keys)
        ttl_ms = b"%d" % (rng.randint(1, 6) * TICK_MS)
        args = rng.choice(
            (
                [b"SET", key, b"v", b"PX", ttl_ms],
                [b"SET", key, b"w", b"XX", b"PX", ttl_ms],
                [b"PEXPIRE", key, ttl_ms],
                [b"PERSIST", key],
                [b"GET", key],
                [b"PTTL", key],
                [b"MGET", *self._ttl_keys],
                [b"EXISTS", key],
                [b"DBSIZE"],
            )
        )
        op = commands.prepare(args, now * TICK_MS)
        if isinstance(op, Error):
            raise AssertionError(f"the workload built an invalid command {args!r}: {op.text}")
        cmd = Command(rng.choice(replicas), self._next_id, now * TICK_MS, (op,))
        self._next_id += 1
        self.proposed[(cmd.origin, cmd.id)] = cmd
        self._ttl_waiting = (cmd.id, cmd.origin, now + self.profile.timeout_ticks)
        return [(cmd.origin, cmd)]

    def _key(self) -> bytes:
        conflict = self.profile.conflict
        if conflict is None:
            return self._rng.choice(self._keys)
        if self._rng.random() < conflict:
            return b"hot"
        self._fresh += 1
        return b"u%d" % self._fresh

    def _value(self, c: _Client) -> bytes:
        c.written += 1
        return f"c{c.id}.{c.written}".encode()

    def _make(
        self, c: _Client, replica: ReplicaId, now: int
    ) -> tuple[Command, list[tuple[bytes, str, tuple[object, ...]]]]:
        rng = self._rng
        kind = rng.choices(KINDS, weights=self.profile.weights)[0]
        key = self._key()
        args: list[bytes]
        spec: list[tuple[bytes, str, tuple[object, ...]]]
        if kind == "MSET":
            k2 = self._key()
            v1, v2 = self._value(c), self._value(c)
            args = [b"MSET", key, v1, k2, v2]
            spec = [(key, "SET", (v1,)), (k2, "SET", (v2,))]
        elif kind == "SETNX_OPT":
            v = self._value(c)
            args = [b"SET", key, v, b"NX"]
            spec = [(key, "SET", (v, "NX"))]
        elif kind == "GETSET" and c.id % 2:
            v = self._value(c)
            args = [b"EVAL", GETSET_SCRIPT, b"1", key, v]
            spec = [(key, kind, (v,))]
        elif kind in ("SET", "SETNX", "GETSET", "APPEND"):
            v = self._value(c)
            args = [kind.encode(), key, v]
            spec = [(key, kind, (v,))]
        else:
            args = [kind.encode(), key]
            spec = [(key, kind, ())]
        now_ms = now * TICK_MS
        op = commands.prepare(args, now_ms)
        if isinstance(op, Error):
            raise AssertionError(f"the workload built an invalid command {args!r}: {op.text}")
        cmd = Command(replica, self._next_id, now_ms, (op,))
        self._next_id += 1
        return cmd, spec

    # --- outcomes -------------------------------------------------------------

    def on_reply(self, cmd: Command, reply: Reply, now: int) -> None:
        if self._ttl_waiting is not None and self._ttl_waiting[0] == cmd.id:
            self._ttl_waiting = None
            return
        c = self._by_id.pop(cmd.id, None)
        if c is None or c.pending is None or c.pending.cmd.id != cmd.id:
            return  # a reply to an abandoned (timed-out) request
        p = c.pending
        c.pending = None
        c.next_at = now + self._rng.randint(0, self.profile.think_ticks_max)
        self.stats.completed += 1
        if isinstance(reply, Error):
            self.stats.errors += 1
        # An MSET is recorded as one SET per key, each answered with the MSET's reply.
        self._recorder.complete(p.token, reply if p.keys == 1 else (reply,) * p.keys, now)

    def on_lost(self, replica: ReplicaId, now: int) -> None:
        """The replica crashed: its clients never learn their outcome."""
        if self._ttl_waiting is not None and self._ttl_waiting[1] == replica:
            self._ttl_waiting = None
        for c in self._clients:
            if c.pending is not None and c.pending.replica == replica:
                self._abandon(c, now)
                self.stats.lost += 1

    def on_time(self, now: int) -> None:
        for c in self._clients:
            if c.pending is not None and c.pending.deadline <= now:
                self._abandon(c, now)
                self.stats.timed_out += 1

    def _abandon(self, c: _Client, now: int) -> None:
        p = c.pending
        assert p is not None
        self._by_id.pop(p.cmd.id, None)
        c.pending = None
        c.next_at = now + 1
        self._recorder.indeterminate(p.token)

    @property
    def history(self) -> list[Operation]:
        """Every operation so far; those still waiting count as indeterminate."""
        return self._recorder.operations()

    @property
    def outstanding(self) -> int:
        return sum(1 for c in self._clients if c.pending is not None)

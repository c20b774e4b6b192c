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
from collections.abc import Callable
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
    few ticks (see ``ttl_command``). Off unless asked for, so that every seed
    replays the schedule it had before this traffic existed."""
    list_keys: int = 0
    """When positive, also send list commands on this many keys of their own (see
    ``list_command``); off unless asked for, like ``expiring_keys``."""
    collection_keys: int = 0
    """When positive, also send hash, set and sorted set commands on this many keys of
    their own (see ``collection_command``); off unless asked for, like ``list_keys``."""
    function_keys: int = 0
    """When positive, also load, replace and delete a function library and call its
    functions on this many keys of their own (see ``function_command``); off unless
    asked for, like ``list_keys``."""

    @classmethod
    def random(cls, rng: random.Random, n: int) -> WorkloadProfile:
        return cls(
            clients=rng.randint(n, 4 * n),
            keys=rng.choice((1, 2, 3, 5, 8)),
            think_ticks_max=rng.choice((0, 2, 10, 30)),
            timeout_ticks=rng.choice((150, 400, 1000)),
            weights=tuple(rng.randint(0, 10) + (10 if k in ("GET", "SET") else 0) for k in KINDS),
        )


def ttl_command(rng: random.Random, keys: list[bytes]) -> list[bytes]:
    """A command on keys that expire a few ticks after they are set.

    Whether a key is expired depends on each command's own timestamp, and a
    command that finds a key expired deletes it at every replica, a read
    included, though a read's handler runs only where it was proposed. A
    replica that skipped that, or judged expiry by its own clock, would keep a
    key the others deleted.
    """
    key = rng.choice(keys)
    ttl_ms = b"%d" % (rng.randint(1, 6) * TICK_MS)
    return rng.choice(
        (
            [b"SET", key, b"v", b"PX", ttl_ms],
            [b"SET", key, b"w", b"XX", b"PX", ttl_ms],
            [b"PEXPIRE", key, ttl_ms],
            [b"PERSIST", key],
            [b"GET", key],
            [b"PTTL", key],
            [b"MGET", *keys],
            [b"EXISTS", key],
            [b"DBSIZE"],
        )
    )


def list_command(rng: random.Random, keys: list[bytes]) -> list[bytes]:
    """A list command: pushes outnumber pops, so lists grow past the sizes where their
    stored form changes (16 elements; elements of 256 bytes and more), and commands
    that move elements between lists make two lists' orders depend on each other."""
    key, other = rng.choice(keys), rng.choice(keys)

    def elements(most: int) -> list[bytes]:
        return [
            b"%d" % rng.randrange(1000) * (300 if rng.random() < 0.1 else 1)
            for _ in range(rng.randint(1, most))
        ]

    def index() -> bytes:
        return b"%d" % rng.randint(-40, 40)

    def side() -> bytes:
        return rng.choice((b"LEFT", b"RIGHT"))

    count = b"%d" % rng.randint(1, 3)
    kind = rng.choices(_LIST_KINDS, weights=_LIST_WEIGHTS)[0]
    if kind in (b"LPUSH", b"RPUSH"):
        return [kind, key, *elements(4)]
    if kind in (b"LPOP", b"RPOP"):
        return [kind, key, count] if rng.random() < 0.5 else [kind, key]
    if kind == b"LMOVE":
        return [kind, key, other, side(), side()]
    if kind == b"RPOPLPUSH":
        return [kind, key, other]
    if kind == b"LMPOP":
        return [kind, b"2", key, other, side().lower(), b"COUNT", count]
    if kind == b"LSET":
        return [kind, key, index(), *elements(1)]
    if kind == b"LTRIM":
        return [kind, key, b"%d" % rng.randint(0, 2), b"%d" % rng.randint(-3, 60)]
    if kind == b"LINSERT":
        return [kind, key, rng.choice((b"BEFORE", b"AFTER")), *elements(1), *elements(1)]
    if kind == b"LREM":
        return [kind, key, b"%d" % rng.randint(-2, 2), *elements(1)]
    if kind == b"LINDEX":
        return [kind, key, index()]
    if kind == b"PEXPIRE":
        return [kind, key, b"%d" % rng.randint(1, 2000)]
    return [kind, key, index(), index()]  # LRANGE


def collection_command(rng: random.Random, keys: list[bytes]) -> list[bytes]:
    """A hash, set or sorted set command: adds outnumber removals, so the collections
    grow and a loop turn changes each of them many times over, as the replicas keep them
    decoded from turn to turn between their deferred writes (``storage.buffered``);
    a TTL renewed now and then, and a copy under another name, read its value whole."""
    key = rng.choice(keys)
    member = b"m%d" % rng.randrange(200)
    kind = rng.choices(_COLLECTION_KINDS, weights=_COLLECTION_WEIGHTS)[0]
    if kind == b"HSET":
        return [kind, key + b":h", member, b"%d" % rng.randrange(1000)]
    if kind == b"HINCRBY":
        return [kind, key + b":h", b"count", b"%d" % rng.randint(-2, 5)]
    if kind == b"HDEL":
        return [kind, key + b":h", member]
    if kind in (b"SADD", b"SREM"):
        return [kind, key + b":s", member]
    if kind == b"ZADD":
        return [kind, key + b":z", b"%d" % rng.randrange(100), member]
    if kind == b"ZINCRBY":
        return [kind, key + b":z", b"1", member]
    if kind == b"PEXPIRE":
        return [kind, key + rng.choice((b":h", b":s", b":z")), b"%d" % rng.randint(1, 5000)]
    return [kind, key + b":s", key + b":copy", b"REPLACE"]  # COPY


FUNCTION_LIBRARY_VERSIONS = tuple(
    b"#!lua name=simlib\n"
    b"redis.register_function('step', function(keys, args)\n"
    b"  local t = redis.call('TIME')\n"
    b"  return redis.call('APPEND', keys[1], '%s' .. args[1] .. '.' .. math.random(99) .. '.'"
    b" .. t[2] .. ';')\n"
    b"end)\n"
    b"redis.register_function{function_name='peek', flags={'no-writes'},\n"
    b"  callback=function(keys) return redis.call('STRLEN', keys[1]) end}\n" % tag
    for tag in (b"v1:", b"v2:")
)
"""Two versions of one library whose ``step`` appends what it is (and a draw of
``math.random`` and ``TIME``, which are the command's on every replica) to its key."""


def function_command(rng: random.Random, keys: list[bytes]) -> list[bytes]:
    """A FUNCTION LOAD REPLACE of one of two versions of a library, its FUNCTION DELETE,
    or an FCALL of it on these keys. Replicas must order every call against every load
    and delete alike: a call that ran another version, or found no function, on one
    replica than on another leaves different values, which ``final`` compares (and so are
    the libraries themselves)."""
    kind = rng.choices(_FUNCTION_KINDS, weights=_FUNCTION_WEIGHTS)[0]
    if kind == b"LOAD":
        return [b"FUNCTION", b"LOAD", b"REPLACE", rng.choice(FUNCTION_LIBRARY_VERSIONS)]
    if kind == b"DELETE":
        return [b"FUNCTION", b"DELETE", b"simlib"]
    key = rng.choice(keys)
    if kind == b"FCALL_RO":
        return [kind, b"peek", b"1", key]
    return [kind, b"step", b"1", key, b"%d" % rng.randrange(100)]


_FUNCTION_KINDS = (b"LOAD", b"DELETE", b"FCALL", b"FCALL_RO")
_FUNCTION_WEIGHTS = (3, 1, 20, 3)


COLLECTION_STREAMS = 4
"""How many collection commands may be in flight at once (each stream has one)."""
FUNCTION_STREAMS = 3
"""The same for function loads and calls."""

_COLLECTION_KINDS = (
    b"HSET", b"HINCRBY", b"HDEL", b"SADD", b"SREM", b"ZADD", b"ZINCRBY", b"PEXPIRE", b"COPY",
)  # fmt: skip
_COLLECTION_WEIGHTS = (30, 10, 5, 30, 5, 25, 10, 2, 2)


_LIST_KINDS = (
    b"LPUSH", b"RPUSH", b"LPOP", b"RPOP", b"LMOVE", b"RPOPLPUSH", b"LMPOP", b"LSET",
    b"LTRIM", b"LINSERT", b"LREM", b"LINDEX", b"PEXPIRE", b"LRANGE",
)  # fmt: skip
_LIST_WEIGHTS = (30, 30, 6, 6, 5, 5, 3, 4, 2, 3, 3, 4, 1, 4)


@dataclass(slots=True)
class _SideStream:
    """Unchecked traffic on keys of its own: its generator, keys, and what to send."""

    rng: random.Random
    keys: list[bytes]
    build: Callable[[random.Random, list[bytes]], list[bytes]]
    waiting: tuple[int, ReplicaId, int] | None = None
    """The command in flight: its id, replica and when to stop waiting for it."""


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
        self._side = [
            _SideStream(random.Random(rng.random()), [f"{prefix}{i}".encode() for i in range(n)],
                        build)
            for prefix, n, build in (
                ("t", profile.expiring_keys, ttl_command),
                ("l", profile.list_keys, list_command),
                # Several streams on the same keys, so that a collection gets changed by
                # commands of one loop turn and of the next, from different replicas.
                *[("c", profile.collection_keys, collection_command)] * COLLECTION_STREAMS,
                *[("f", profile.function_keys, function_command)] * FUNCTION_STREAMS,
            )
            if n
        ]  # fmt: skip
        """Unchecked traffic besides the clients' (``_side_commands``); each stream's
        generator is drawn only when it is asked for, so seeds replay as before."""
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
        for stream in self._side:
            out += self._side_commands(stream, now, replicas)
        return out

    def _side_commands(
        self, stream: _SideStream, now: int, replicas: list[ReplicaId]
    ) -> list[tuple[ReplicaId, Command]]:
        """Fire-and-forget commands of one side stream, one in flight at a time, like a
        client's, so that they cannot pile up faster than the cluster commits them.

        Their replies are not checked (the history model knows only registers), but
        what they leave must be the same on every replica, which ``final`` compares.
        """
        waiting = stream.waiting
        if waiting is not None:
            if now < waiting[2]:
                return []
            stream.waiting = None  # it timed out: go on
        rng = stream.rng
        if rng.random() >= 0.5:
            return []
        args = stream.build(rng, stream.keys)
        op = commands.prepare(args, now * TICK_MS)
        if isinstance(op, Error):
            raise AssertionError(f"the workload built an invalid command {args!r}: {op.text}")
        cmd = Command(rng.choice(replicas), self._next_id, now * TICK_MS, (op,))
        self._next_id += 1
        self.proposed[(cmd.origin, cmd.id)] = cmd
        stream.waiting = (cmd.id, cmd.origin, now + self.profile.timeout_ticks)
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
        for stream in self._side:
            if stream.waiting is not None and stream.waiting[0] == cmd.id:
                stream.waiting = None
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
        for stream in self._side:
            if stream.waiting is not None and stream.waiting[1] == replica:
                stream.waiting = None
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

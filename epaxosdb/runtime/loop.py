"""The consensus loop: the one task that owns the core, and the Backend the front end calls.

Inputs — client proposals, peer messages, ticks — are appended to in-memory
queues by whoever produces them and wake the loop. Each turn the loop drains
*everything* that arrived (so all that came in during the previous fsync
forms the next batch: group commit and batching for free), takes one
``Ready`` and executes its commands (``node.prepare_ready``, against the
store plus the effects not yet written: ``storage.buffered``), then commits
the turn — one LMDB write transaction, one fsync (``node.commit``); small
ones right here, long ones in a worker thread (``_commits_inline``) — and
only then sends the messages and releases the replies (DESIGN.md §2).

Deferred key-value effects (``node.DeferredApply``, which the simulator
drives too). A turn's transaction always holds its instance records and
metadata, so every vote, commit and command a message or reply relies on is
durable before it leaves; the key-value writes and executed marks are
written together by a later turn, which costs far fewer B-tree page writes
for random keys. A crash before they land only means the core executes
those committed instances again after the restart, into the same state.
INFO's key counts add what is deferred; other readers of the store itself —
the expiry sweeper, ``epaxosdb inspect`` — may lag by it.

Not done, measured: preparing turn N+1 while turn N's fsync runs (no CPU,
no GIL) — the commands would read N's writes from memory just the same —
made batches smaller and cost more CPU per request than it overlapped on a
busy 2-core machine; and it would feed the core between ``ready()`` and
``advance()``, which its contract forbids.

The queues are bounded by the front end's per-client in-flight limit and by
the peers' frame reader.

Replies are released after execution, for every command. A command that has
not executed within ``command_timeout_s`` is answered with an explicit
"outcome unknown" error — never a plain failure, because it may still
commit (RedisRaft's Jepsen finding, ecosystem.md §2.1).
"""

from __future__ import annotations

import gc
import logging
import tempfile
import time
from collections import deque
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import partial
from itertools import chain
from pathlib import Path
from typing import BinaryIO, TypeVar

import trio

from epaxosdb import commands
from epaxosdb.commands import notifications
from epaxosdb.commands.access import access_of
from epaxosdb.commands.functions import counts as function_counts
from epaxosdb.commands.scripting import Guard
from epaxosdb.commands.tally import Tally
from epaxosdb.core.ready import Ready, SnapshotWanted
from epaxosdb.core.replica import Replica
from epaxosdb.node import (
    DeferredApply,
    Effects,
    FlushPolicy,
    Outbox,
    Prepared,
    Stopwatch,
    apply_in_transaction,
    commit,
    needs_commit,
)
from protocol.messages import Command, InstanceId, Message, ReplicaId, payload_bytes
from protocol.replies import Error, Published, Reply
from storage.buffered import BufferedView, Writes
from storage.interface import KeyValueView, Store

from .allocator import release_free_memory
from .backend import Client, InfoFields, OnReply
from .blocking import BlockedClients
from .latency import LatencyMonitor, command_event, either_threshold_s
from .peers import PeerStatistics
from .pubsub import Subscriptions
from .slowlog import SlowLog
from .tracking import Tracking

log = logging.getLogger("epaxosdb.loop")
T = TypeVar("T")

LOADING = Error("LOADING Redis is loading the dataset in memory")
PAUSE_SLACK_S = 0.5
"""How late past its idle pace the ticker may come before this process counts as having
been stopped (a busy loop delays it too)."""
GROWTH_WARNING_INSTANCES = 100_000
"""Instances held in memory (log not yet collected) above which GC's laggard is named."""
GROWTH_WARNING_EVERY_S = 60.0
GROWTH_CHECK_TURNS = 1024
INCARNATION_SHIFT = 40
"""Command ids are ``incarnation << 40 | counter``: unique across restarts."""

GC_THRESHOLDS = (500_000, 20, 100)
"""CPython's collector thresholds while serving (the default is (700, 10, 10))."""

IDLE_TICK_EVERY = 10
"""An idle replica (``Replica.wants_ticks`` false, no command waiting) ticks once per
this many tick intervals: trio wakes the process a tenth as often, and what ticks
still pace — the heartbeat for log GC, the periodic sync — only runs later."""

IDLE_AFTER_TICKS = 10
"""Consecutive quiet ticks before the ticker slows down. Under load the replica is
quiet only for moments between turns; slowing down and being woken again each time
would cost more than the ticks it saves (a trio cancellation is not cheap)."""

IDLE_FLUSH_AFTER_TICKS = 3
"""Consecutive quiet ticks (no command waiting, nothing the core waits on) after
which the load counts as paused and deferred key-value effects are flushed. A
turn that executes nothing is no such sign: in a cluster most turns under load
carry only votes, and flushing on those wrote a few thousand keys at a time,
each flush costing nearly what one of ``FlushPolicy.keys_max`` keys does."""

GATHER_PASSES = 2
"""Scheduler passes a woken loop lets go by before its turn. The first client whose
request wakes it is seldom alone: the others' requests of the same moment are
readable a pass or two later, and a turn that waits for them shares one fsync and
one instance among more commands. Side by side (tools/bench_acceptance.py, one
replica, 50 clients, medians of 3 rounds, 2026-11-29): commands per fsync at -P 16
from about 530 to 725; CPU per request lower at -P 1 (34.4 -> 31.2 us per SET) and
-P 16 (6.1 -> 5.9 us per GET); throughput up at -P 1 (24,552 -> 27,952 SETs/s) and
-P 16 GET (153,492 -> 162,338/s), level at -P 16 SET."""

INLINE_COMMIT_COMMANDS_MAX = 4096
INLINE_COMMIT_BYTES_MAX = 1 << 20
"""A turn's transaction runs in the loop's own thread when it persists at most this
many commands and bytes of arguments, and flushes and deletes nothing (see
``_commits_inline``); larger ones go to a worker thread. Pipelined load makes
turns of several hundred small commands, and those too are cheaper inline:
redis-benchmark -P 16 SET against one replica, side by side over 3 rounds with
the old limit of 64, went from 43,375 to 49,591 ops/s and 21.5 to 18.4 us of
CPU per request (tools/bench_acceptance.py)."""

_chain = chain.from_iterable

SWEEP_INTERVAL_S = 1.0
SWEEP_KEYS_MAX = 256
SWEEP_WAIT_S = 5.0
"""How long a sweep that found a full batch waits for it to execute before looking
again (an answer normally comes in milliseconds; a replica without a quorum gets
none until the command times out)."""


def _keep_reply(into: list[Reply], event: trio.Event, reply: Reply) -> None:
    into.append(reply)
    event.set()


def tune_garbage_collector() -> None:
    """Make CPython's cyclic collector run far less often on a serving replica.

    Every request allocates dozens of short-lived container objects (parsed
    arguments, commands, replies, trio bookkeeping), nearly all freed by
    reference counting. With the default thresholds a young collection runs
    every few dozen requests and promotes survivors that full collections
    then traverse again and again together with the core's long-lived
    instances: measured at a quarter of the CPU per request under
    redis-benchmark (-P 16 SET: 31 -> 23 us of CPU per request). ``freeze``
    moves the start-up heap (modules, configuration) out of every later
    full collection. Process-wide, so called once, by ``run``.

    The first threshold counts *net* new tracked objects, and almost nothing a
    replica allocates is cyclic garbage (a run of 300,000 mixed commands, 20,000
    reconnections, 150,000 failing commands and 60,000 scripts left under 60
    objects for the collector, 2026-11-29, once scripts' Lua states stopped
    being cycles). What reaches a threshold of 50,000 is the live working set
    swelling and shrinking: the deferred key writes (then 16,384 values and their
    ops until a bulk write) and the commands in flight. Each young collection then
    traversed those 50,000 live objects for nothing: under -P 16 SETs, 54
    of them in 1.2 million requests, up to 34 ms each, and two older-generation
    ones of 70 ms. At 500,000 that oscillation never reaches the threshold (no
    collection at all in the same run: 0.5 to 1 us less CPU per SET and GET; nor
    in 600,000 such SETs with 32,768 deferred writes, ``gc.callbacks`` watching),
    and what does — lasting growth, or garbage that is cyclic after all — is
    collected at most 500,000 objects at a time.
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _commits_inline(ready: Ready, flush: Effects | None) -> bool:
    """Whether this turn's transaction is small enough to run without a worker thread.

    Handing a transaction to a worker thread and back costs more than the
    transaction itself when it holds a few small records: measured in-process
    with one client, about 150 us of CPU and as much wall time per request
    (a third of each). The fsync releases the GIL either way; what the thread
    buys is a loop that keeps reading sockets while a long transaction runs —
    a flush of deferred writes, log GC, a batch carrying large values — so
    those still go to one. A worker thread also pays for every Python step of
    the transaction (encoding records, each LMDB call that drops the GIL) by
    waiting for the GIL the loop's thread holds: a turn of 450 pipelined SETs
    took 4 ms there against under 1 ms inline.
    """
    if flush or ready.to_delete:
        return False
    batches = [record.cmds for record in ready.to_persist if record.cmds]
    if sum(map(len, batches)) > INLINE_COMMIT_COMMANDS_MAX:
        return False
    return payload_bytes(_chain(batches)) <= INLINE_COMMIT_BYTES_MAX


def outcome_unknown(timeout_s: float, read_only: bool = False) -> Error:
    """The reply to a command that did not execute in time: it may still commit, so it
    is never reported as failed (a read changes nothing either way: retry it)."""
    if read_only:
        return Error(
            f"UNCERTAIN the read did not execute within {timeout_s:g}s (the replica could "
            "not reach a quorum, or is overloaded); it changed nothing: retry it"
        )
    return Error(
        f"UNCERTAIN outcome unknown: the command was proposed but did not execute within "
        f"{timeout_s:g}s; it may still take effect"
    )


NO_QUORUM_AFTER_S = 2.0
"""How long this replica may hear from too few peers (every reachable peer speaks at
least every ``peers.KEEPALIVE_S``) before it refuses new commands
(``ConsensusLoop.quorum_silence``)."""
DEAF_AFTER_S = 0.5
"""A gap this long in this process's own activity (stopped, or its thread held by one
long step) means it may not have read what its peers sent meanwhile: their silence
counts again from then on (``run_listening_clock``)."""
LISTENING_CLOCK_S = 0.1
"""How often ``run_listening_clock`` looks at the time."""


def no_quorum(silent_s: float, peers_heard: int, peers_needed: int) -> Error:
    """The reply to a command this replica refuses because it hears from no majority: it
    was never proposed, so nothing changed, and another replica may serve it."""
    return Error(
        f"NOQUORUM this replica has heard from {peers_heard} of the {peers_needed} other "
        f"replicas a command needs for {silent_s:.0f}s: the command was not proposed "
        "(nothing changed); send it to another replica, or retry"
    )


REBUILDING = Error(
    "UNCERTAIN outcome unknown: this replica was left behind and is rebuilding from a "
    "snapshot; the command may still take effect"
)


@dataclass(slots=True)
class _Waiter:
    on_done: Callable[[Reply], None]
    submitted: float
    deadline: float
    cmd: Command
    on_late: Callable[[Reply], None] | None = None
    client: Client | None = None


LATE_OUTCOMES_MAX = 100_000
"""``on_late`` callbacks kept for commands answered "outcome unknown" (``Backend.submit``):
the oldest go first, so a replica cut off for days holds a bounded number."""


class LatencyWindow:
    """The most recent samples, for p50/p99 in INFO (bounded memory)."""

    def __init__(self, size: int = 4096) -> None:
        self._samples: deque[float] = deque(maxlen=size)

    def add(self, value: float) -> None:
        self._samples.append(value)

    def percentile(self, p: float) -> float:
        if not self._samples:
            return 0.0
        ordered = sorted(self._samples)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


class ConsensusLoop:
    def __init__(
        self,
        core: Replica,
        store: Store,
        *,
        incarnation: int,
        send: Callable[[ReplicaId, Message], None],
        tick_interval_s: float,
        command_timeout_s: float = 10.0,
        peers_connected: Callable[[], int] = lambda: 0,
        peer_statistics: Callable[[], PeerStatistics] | None = None,
        reply_batch: Callable[[], AbstractContextManager[None]] = nullcontext,
        blocked: BlockedClients | None = None,
        subscriptions: Subscriptions | None = None,
        tracking: Tracking | None = None,
        want_snapshot: Callable[[SnapshotWanted], None] | None = None,
        rebuild: Callable[[], Replica] | None = None,
        slowlog: SlowLog | None = None,
        latency_monitor: LatencyMonitor | None = None,
        scratch_dir: Path | None = None,
        tally: Tally | None = None,
    ) -> None:
        self._core = core
        self._scratch_dir = scratch_dir
        """Where ``scratch_file`` makes its files: the data dir, whose disk holds data anyway
        (``/tmp`` may be memory)."""
        self._next_core: Replica | None = None
        self._want_snapshot = want_snapshot
        """Where a joining core's ``Ready.snapshot`` goes (``runtime.snapshots``)."""
        self._rebuild = rebuild
        """For a core that was left behind (``Ready.rejoin``): discards the store's state
        and returns the core restored as on a new disk (blocking)."""
        self._store = store
        self._me = core.me
        self._send = send
        self._tick_s = tick_interval_s
        self._timeout_s = command_timeout_s
        self._peers_connected = peers_connected
        self._heard: dict[ReplicaId, float] = {}
        """When bytes from each peer last arrived (monotonic): ``quorum_silence``."""
        self._listening_since = time.monotonic()
        """Since when this replica has been reading its peers without a gap
        (``DEAF_AFTER_S``, seen by ``_note_alive``): silence before that proves nothing."""
        self._refused_no_quorum = False
        """A command was refused for ``quorum_silence`` since a peer last spoke."""
        self._peer_statistics = peer_statistics
        """The peer transport's counters, for INFO (frames, refusals, TLS failures)."""
        self._reply_batch = reply_batch
        """Wraps the release of a turn's replies (``ClientRegistry.reply_batch``)."""
        self._blocked = blocked
        """Clients in BLPOP and friends, told which keys each turn wrote (``_wake_blocked``)."""
        self._subscriptions = subscriptions
        """Pub/sub subscribers on this replica: PUBLISH delivers to them as it executes."""
        self._tracking = tracking
        """CLIENT TRACKING: told which keys each turn changed (``_release``)."""
        self._next_id = incarnation << INCARNATION_SHIFT
        self._proposals: list[Command] = []
        self._inbox: list[Message] = []
        self._ticks_due = 0
        self._wake = trio.Event()
        self._waiting: dict[int, _Waiter] = {}
        self._saves: list[Callable[[], None]] = []
        """SAVE/BGSAVE callbacks for the next turn, which flushes deferred effects."""
        self._saving_now = False
        self.last_save_s = int(time.time())
        """LASTSAVE: when the store last held every executed effect (start-up, a save)."""
        """Commands awaiting their reply, in submission order: every command gets the same
        timeout, so this is also deadline order, and the expired ones are its first entries
        (no second structure holding an entry per command for the whole timeout)."""
        self._late: dict[int, Callable[[Reply], None]] = {}
        """``on_late`` of commands answered "outcome unknown", oldest first."""
        self.commit_latency = LatencyWindow()
        self._counters = {
            "turns": 0,
            "ticks": 0,
            "fsyncs": 0,
            "replies": 0,
            "uncertain": 0,
            "refused_no_quorum": 0,
            "handler_failures": 0,
            "transaction_turns": 0,
            "flushes": 0,
            "flushed_keys": 0,
        }
        self.apply_latency = LatencyWindow()
        self._busy = {"core_s": 0.0, "execute_s": 0.0, "apply_s": 0.0, "release_s": 0.0}
        self._slowlog = slowlog
        """Where this replica's clients' slow ops go (``_log_slow``)."""
        self.tally = tally if tally is not None else Tally()
        """INFO's ``expired_keys``, ``keyspace_hits`` and ``keyspace_misses``: every turn
        adds what its commands counted (``Outbox.tally``). The front end's, which CONFIG
        RESETSTAT zeroes, when it gives one."""
        self._monitor = latency_monitor
        """LATENCY's events: slow ops as for SLOWLOG, and each turn's commit."""
        self._stopwatch = (
            Stopwatch(
                time.perf_counter,
                self._timing_threshold_s,
                self._keyspace_events,
                self._script_guard,
            )
            if slowlog is not None or latency_monitor is not None or subscriptions is not None
            else None
        )
        self._apply = DeferredApply(store, self._me, FlushPolicy(), self._stopwatch)
        self._turn_open = False
        self._rebuilding = False
        """The store is being rebuilt from a peer's snapshot (``_rebuild_left_behind``)."""
        self._flushing: Effects | None = None
        """Effects the transaction being committed writes (INFO counts them meanwhile)."""
        self._was_loading = core.loading
        self._paused_s = 0.0
        """How long the process was just stopped (SIGSTOP, a frozen machine), if it was."""
        self._alive_at = time.monotonic()
        """When this process last ran: the ticker comes by at least every idle tick."""
        self._left_behind_seen: frozenset[ReplicaId] = frozenset()
        self._catching_up = False
        """The current turn started while the core was loading (see ``_deliver``)."""
        self._last_progress_log = 0.0
        self._last_growth_warning = 0.0
        self._idle_sleep: trio.CancelScope | None = None
        """The ticker's sleep while the replica is idle (see ``run_ticker``)."""
        self._quiet_ticks = 0
        """Ticks in a row at which nothing waited on the clock (see ``run_ticker``)."""

    # --- Backend -------------------------------------------------------------------

    @property
    def replica_id(self) -> int:
        return self._me

    @property
    def replicas(self) -> int:
        return self._core.config.n

    @property
    def loading(self) -> bool:
        return self._core.loading

    def stamp(
        self, ops: tuple[tuple[bytes, ...], ...], time_ms: int, multi: bool = False
    ) -> Command:
        self._next_id += 1
        return Command(self._me, self._next_id, time_ms, ops, multi)

    def save(self, on_done: Callable[[], None]) -> None:
        """SAVE/BGSAVE: write every deferred key-value effect into the store at the next
        turn (as when the load pauses), then call ``on_done``. Nothing waits on the
        data file otherwise — the log holds every acknowledged write — but after a
        save the store alone holds the whole state (``epaxosdb inspect`` reads it)."""
        self._saves.append(on_done)
        self._quiet_ticks = 0
        self._wake.set()

    def scratch_file(self) -> BinaryIO:
        """``Backend.scratch_file``: a temporary file in the data dir, gone once closed."""
        return tempfile.TemporaryFile(dir=self._scratch_dir, prefix="scratch-")

    def read_state(self, fn: Callable[[KeyValueView], T]) -> T:
        """``Backend.read_state``: one read transaction of the store (call it from a worker
        thread: it runs beside the turns, which LMDB lets one writer and readers do)."""
        return self._store.read(fn)

    def read_executed(self, fn: Callable[[KeyValueView], T]) -> T | None:
        """``Backend.read_executed``: the store read through the effects it lacks. Not
        while a turn is open: the deferred effects then hold its own, whose records
        are still on their way to the disk."""
        if self._turn_open or self._rebuilding:
            return None  # (or the store is being replaced by a peer's snapshot)
        layers = self._pending_effects()
        return self._store.read(
            lambda base: fn(
                BufferedView(base, [e.writes for e in layers], None, [e.carried for e in layers])
            )
        )

    @property
    def saving(self) -> bool:
        """A save was asked for and has not completed."""
        return bool(self._saves) or self._saving_now

    def submit(
        self,
        cmd: Command,
        on_done: OnReply,
        on_late: OnReply | None = None,
        client: Client | None = None,
    ) -> None:
        now = time.monotonic()
        self._note_alive(now)
        if self._core.loading or self._reload_due():
            on_done(LOADING)
            return
        if (silence := self.quorum_silence(now)) is not None:
            self._counters["refused_no_quorum"] += 1
            self._refused_no_quorum = True
            on_done(no_quorum(*silence))
            return
        self._waiting[cmd.id] = _Waiter(
            on_done, now, now + self._timeout_s, cmd, on_late, client
        )
        self._proposals.append(cmd)
        self._quiet_ticks = 0
        self._wake.set()
        if self._idle_sleep is not None:
            self._idle_sleep.cancel()  # a reply is now awaited: tick at full rate

    def _script_guard(self, cmd: Command) -> Guard | None:
        """The ACL guard of the client that sent ``cmd``, for its read-only scripts (called
        from the thread that executes a step: a dict read and an attribute)."""
        waiter = self._waiting.get(cmd.id)
        client = None if waiter is None else waiter.client
        return None if client is None else client.script_guard

    def _peer_fields(self) -> list[tuple[str, int]]:
        """INFO's view of the peer transport: what it sent and took, what it dropped (a
        full queue, a peer down) and whom it refused (a bad handshake, a malformed frame,
        a failed TLS handshake): where to look when peers do not stay connected."""
        if self._peer_statistics is None:
            return []
        p = self._peer_statistics()
        return [
            ("peer_frames_sent", p.frames_sent),
            ("peer_frames_received", p.frames_received),
            ("peer_frames_dropped_full", p.dropped_full),
            ("peer_frames_dropped_disconnected", p.dropped_disconnected),
            ("peer_rejected_connections", p.rejected_connections),
            ("peer_protocol_errors", p.protocol_errors),
            ("peer_tls_failures", p.tls_failures),
        ]

    def _function_counts(self) -> InfoFields:
        """INFO memory's function counts, as Redis 7.0 reports them, from the libraries
        as last committed (they change only inside write transactions)."""
        libraries, functions = function_counts(self._store.read(lambda kv: kv.functions()))
        return [("number_of_functions", functions), ("number_of_libraries", libraries)]

    def info_sections(self) -> Mapping[str, InfoFields]:
        s = self._core.statistics()
        keys, expires = self._store.key_counts(self._pending_writes())
        keyspace: InfoFields = [("db0", f"keys={keys},expires={expires},avg_ttl=0")] if keys else []
        wm = self._core.executed_watermarks
        return {
            "EPaxos": [
                ("replica_id", s.replica_id),
                ("replicas", s.replicas),
                ("fast_quorum", s.fast_quorum),
                ("instances_proposed", s.instances_proposed),
                ("fast_path_commits", s.fast_path_commits),
                ("slow_path_commits", s.slow_path_commits),
                ("recovery_commits", s.recovery_commits),
                ("recoveries_started", s.recoveries_started),
                ("instances_committed", s.instances_committed),
                ("instances_executed", s.instances_executed),
                ("commit_latency_p50_ms", round(self.commit_latency.percentile(50) * 1000, 3)),
                ("commit_latency_p99_ms", round(self.commit_latency.percentile(99) * 1000, 3)),
                ("execute_lag", s.execute_lag),
                ("max_scc_size", s.max_scc_size),
                ("scc_size_bound", s.scc_size_bound),
                ("instances_in_memory", s.instances_in_memory),
                ("conflict_index_keys", s.conflict_index_keys),
                ("gc_watermarks", ",".join(str(x) for x in s.gc_watermarks)),
                ("gc_waits_for", ",".join(str(x) for x in self._core.gc_waits_for())),
                ("gc_left_behind", ",".join(str(x) for x in sorted(self._core.known_left_behind))),
                ("blocked_instances", s.blocked_instances),
                ("proposals_waiting", s.proposals_waiting),
                ("commands_in_flight", len(self._waiting)),
                ("peers_connected", self._peers_connected()),
                ("peers_heard", self._peers_heard(time.monotonic())),
                *self._peer_fields(),
                ("executed_watermarks", ",".join(str(x) for x in wm)),
                ("loading", int(s.loading)),
                ("joining", int(self._core.joining)),
                ("loading_progress", round(s.loading_progress, 4)),
                ("loop_turns", self._counters["turns"]),
                ("loop_ticks", self._counters["ticks"]),
                ("fsyncs", self._counters["fsyncs"]),
                ("apply_latency_p50_ms", round(self.apply_latency.percentile(50) * 1000, 3)),
                ("apply_latency_p99_ms", round(self.apply_latency.percentile(99) * 1000, 3)),
                ("loop_core_s", round(self._busy["core_s"], 3)),
                ("loop_execute_s", round(self._busy["execute_s"], 3)),
                ("loop_apply_s", round(self._busy["apply_s"], 3)),
                ("loop_release_s", round(self._busy["release_s"], 3)),
                ("loop_transaction_turns", self._counters["transaction_turns"]),
                ("loop_flushes", self._counters["flushes"]),
                ("deferred_writes", len(self._apply.unflushed.writes)),
                ("loop_flushed_keys", self._counters["flushed_keys"]),
                ("uncertain_replies", self._counters["uncertain"]),
                ("refused_no_quorum", self._counters["refused_no_quorum"]),
                ("invalid_peer_messages", s.invalid_messages),
            ],
            "Keyspace": keyspace,
            "Memory": self._function_counts(),
            "Persistence": [
                ("rdb_bgsave_in_progress", int(self.saving)),
                ("rdb_last_save_time", self.last_save_s),
            ],
        }

    # --- inputs from peers and the clock ---------------------------------------------

    @property
    def core(self) -> Replica:
        return self._core

    def replace_core(self, core: Replica) -> None:
        """Run ``core`` from the next turn on (restored after a snapshot install)."""
        self._next_core = core
        self._wake.set()

    def quorum_silence(self, now: float) -> tuple[float, int, int] | None:
        """``(seconds, peers heard, peers needed)`` when fewer peers than a quorum needs
        besides this replica have spoken in the last ``NO_QUORUM_AFTER_S`` of this
        replica's listening; ``None`` otherwise.

        Evidence, not a guess: every reachable peer speaks several times a second, idle
        or not (``peers.KEEPALIVE_S``), so the silence of the peers a quorum needs means
        they are stopped, partitioned away, or refusing this replica's build. A command
        would only wait out the timeout and get "outcome unknown", so it is refused at
        once, before it is proposed, and its client can go to another replica. Silence
        counts only from ``_listening_since``: while this replica itself was stopped or
        busy, its peers' words may be waiting unread (callers note ``now`` with
        ``_note_alive`` first, so a gap just ended counts even before the clock saw it)."""
        needed = (self._core.config.n - 1) // 2
        if not needed:
            return None
        if self._listening_since > now - NO_QUORUM_AFTER_S:
            return None
        heard = self._peers_heard(now)
        if heard >= needed:
            return None
        recent = sorted(self._heard.values(), reverse=True)
        quorum_heard_at = recent[needed - 1] if len(recent) >= needed else float("-inf")
        silent_s = now - max(quorum_heard_at, self._listening_since)
        return silent_s, heard, needed

    async def run_listening_clock(self) -> None:
        """Notes this process alive every ``LISTENING_CLOCK_S``, whatever the ticker's pace
        (an idle ticker may sleep for seconds with a long ``tick_ms``), so that
        ``_note_alive`` sees every gap of ``DEAF_AFTER_S`` or more: SIGSTOP, a frozen
        machine, a step that holds the thread."""
        while True:
            await trio.sleep(LISTENING_CLOCK_S)
            self._note_alive(time.monotonic())

    def _peers_heard(self, now: float) -> int:
        """INFO's ``peers_heard``: the peers heard within ``NO_QUORUM_AFTER_S``, which
        ``quorum_silence`` counts."""
        return sum(1 for at in self._heard.values() if at >= now - NO_QUORUM_AFTER_S)

    def heard(self, peer: ReplicaId) -> None:
        """Bytes from ``peer`` arrived (``PeerNetwork``'s ``on_heard``)."""
        now = self._heard[peer] = time.monotonic()
        if not self._refused_no_quorum:
            return
        self._note_alive(now)
        if self.quorum_silence(now) is None:
            # A quorum is heard again: blocked clients whose attempts were refused try
            # again. (Not at every keepalive of a peer too few to make one.)
            self._refused_no_quorum = False
            if self._blocked:
                self._blocked.changed_all()

    def deliver(self, msg: Message) -> None:
        self._inbox.append(msg)
        self._quiet_ticks = 0
        self._wake.set()

    async def run_ticker(self) -> None:
        """The only clock reader that drives the core: one tick every ``tick_interval_s``,
        or every ``IDLE_TICK_EVERY`` of them once the replica has been idle for
        ``IDLE_AFTER_TICKS``.

        An idle sleep is cut short by the loop as soon as work arrives, and full-rate
        ticks resume from then on, so no timer of the new work waits for the slow
        cadence. Idle time is not replayed as a burst of ticks either: the core's
        clock simply runs slower while nothing waits on it."""
        next_at = trio.current_time()
        while True:
            self._quiet_ticks = 0 if self._wants_ticks() else self._quiet_ticks + 1
            idle = self._quiet_ticks > IDLE_AFTER_TICKS
            if self._quiet_ticks == IDLE_AFTER_TICKS + 1:
                release_free_memory()  # once per idle spell: what a burst freed goes back
            next_at += self._tick_s * (IDLE_TICK_EVERY if idle else 1)
            with trio.CancelScope() as scope:
                self._idle_sleep = scope if idle else None
                await trio.sleep_until(next_at)
            self._idle_sleep = None
            self._note_alive(time.monotonic())
            now = trio.current_time()
            if scope.cancelled_caught:
                next_at = now  # work arrived: the next tick is one interval away
                self._quiet_ticks = 0
                continue
            if now - next_at > 10 * self._tick_s:
                next_at = now  # we were stopped (SIGSTOP): don't replay a burst of ticks
            self._ticks_due += 1
            self._counters["ticks"] += 1
            self._wake.set()

    @property
    def ticker_idle(self) -> bool:
        """The ticker is in a slow, idle-time sleep."""
        return self._idle_sleep is not None

    def _wants_ticks(self) -> bool:
        return bool(self._waiting) or self._core.wants_ticks()

    def _end_idle_sleep(self) -> None:
        """The turn gave the core something that waits on the clock: tick at full rate."""
        if self._idle_sleep is not None and self._wants_ticks():
            self._idle_sleep.cancel()

    async def run_sweeper(self) -> None:
        """Propose deletion of expired keys now and then, so that expiry is replicated.

        Every second; and while a look finds a full batch, again as soon as that
        batch has executed, so that keys expiring by the hundred thousand leave in
        seconds rather than minutes. Until they leave, every command that names
        one deletes it first (``commands.execution``), and a keyspace-wide one
        deletes them all in one go: sweeping them early keeps that cost off
        clients."""
        while True:
            await trio.sleep(SWEEP_INTERVAL_S)
            while not self._core.loading:
                now_ms = int(time.time() * 1000)
                pending = self._pending_writes()
                # The store lags the deferred effects: a key swept a moment ago may still
                # be listed there. Look far enough to get past every such key.
                limit = SWEEP_KEYS_MAX + sum(map(len, pending))

                def find(
                    kv: KeyValueView, now_ms: int = now_ms, limit: int = limit
                ) -> tuple[bytes, ...] | None:
                    return commands.expired_sweep_op(kv, now_ms, limit)

                op = await trio.to_thread.run_sync(self._store.read, find)
                if op is None:
                    break
                listed = len(op) - 1
                keys = [k for k in op[1:] if not any(layer.get(k, 1) is None for layer in pending)]
                if not keys:
                    break
                op = (op[0], *keys[:SWEEP_KEYS_MAX])
                executed, replies = trio.Event(), list[Reply]()
                self.submit(self.stamp((op,), now_ms), partial(_keep_reply, replies, executed))
                if listed < limit and len(keys) <= SWEEP_KEYS_MAX:
                    break  # that was every expired key
                with trio.move_on_after(SWEEP_WAIT_S):
                    await executed.wait()
                if replies and type(replies[0]) is Error:
                    # Refused before it was proposed (-NOQUORUM, -LOADING) or of unknown
                    # outcome: look again at the next interval, not at once, in a loop.
                    break

    def _pending_effects(self) -> list[Effects]:
        """Effects executed but not yet in the store, newest first."""
        pending = [self._apply.unflushed]
        if self._flushing is not None:
            pending.append(self._flushing)
        return pending

    def _pending_writes(self) -> list[Writes]:
        """The key-value writes of ``_pending_effects``."""
        return [effects.writes for effects in self._pending_effects()]

    # --- the loop ----------------------------------------------------------------------

    async def run(self) -> None:
        """The loop (see the module docstring); runs until cancelled."""
        tune_garbage_collector()
        core = self._core
        while True:
            await self._wake.wait()
            for _ in range(GATHER_PASSES):
                await trio.lowlevel.checkpoint()
            self._wake = trio.Event()
            if self._next_core is not None:
                core = self._core = self._next_core
                self._next_core = None
                log.info("restored from the snapshot; catching up before voting")
            self._counters["turns"] += 1
            self._note_alive(time.monotonic())
            if self._paused_s:
                self._after_pause(core)
            t0 = time.perf_counter()
            # A turn that starts catching up delivers none of its messages, even the turn
            # whose executions end the catching up: they were published long ago.
            self._catching_up = core.loading
            if self._proposals:
                proposals, self._proposals = self._proposals, []
                core.propose(proposals)
            if self._inbox:
                inbox, self._inbox = self._inbox, []
                for m in inbox:
                    core.step(m)
            while self._ticks_due:
                self._ticks_due -= 1
                core.tick()
                self._expire_waiters()
            ready = core.ready()
            if ready.snapshot is not None and self._want_snapshot is not None:
                self._want_snapshot(ready.snapshot)
            t1 = time.perf_counter()
            # Once a turn has executed commands it must also commit them: a shutdown
            # waits for the turn, so deferred effects only ever belong to turns whose
            # records are durable (which is what lets a clean stop flush them).
            saves, self._saves = self._saves, []
            self._saving_now = bool(saves)
            with trio.CancelScope(shield=True):
                self._turn_open = True
                prepared, flush = self._apply.prepare(
                    ready, idle=bool(saves) or self._quiet_ticks >= IDLE_FLUSH_AFTER_TICKS
                )
                self._flushing = flush
                t2 = time.perf_counter()
                durable = list(flush.executed) if flush else []
                if prepared is None:
                    outbox = await trio.to_thread.run_sync(
                        apply_in_transaction, self._store, ready, self._me, flush, self._stopwatch
                    )
                    durable += [ex.inst for ex in ready.to_execute]
                    self._counters["fsyncs"] += 1
                    self._counters["transaction_turns"] += 1
                else:
                    outbox = prepared.outbox
                    if needs_commit(ready, flush):
                        if _commits_inline(ready, flush):
                            commit(self._store, ready, flush)
                        else:
                            await trio.to_thread.run_sync(commit, self._store, ready, flush)
                        self._counters["fsyncs"] += 1
                self._turn_open = False
            self._flushing = None
            if flush:
                self._counters["flushes"] += 1
                self._counters["flushed_keys"] += len(flush.writes)
            t3 = time.perf_counter()
            self.apply_latency.add(t3 - t1)
            if self._monitor is not None:
                self._monitor.add("commit", t3 - t2, int(time.time()))
            if saves:
                self._saved(saves)
            self._release(ready, outbox, prepared)
            if self._blocked and ready.to_execute:
                self._wake_blocked(prepared)
            core.advance(ready)
            if durable:
                core.executed_durable(durable)
            if ready.rejoin and self._rebuild is not None:
                core = self._core = await self._rebuild_left_behind(self._rebuild)
            t4 = time.perf_counter()
            busy = self._busy
            busy["core_s"] += t1 - t0
            busy["execute_s"] += t2 - t1
            busy["apply_s"] += t3 - t2
            busy["release_s"] += t4 - t3
            self._log_loading()
            self._log_left_behind()
            if self._counters["turns"] % GROWTH_CHECK_TURNS == 0:
                self._warn_log_growth()
            self._end_idle_sleep()
            if self._proposals or self._inbox or self._ticks_due or core.has_pending_proposals():
                self._wake.set()

    def _saved(self, saves: list[Callable[[], None]]) -> None:
        """This turn wrote every deferred effect: the saves asked for before it are done."""
        self.last_save_s = int(time.time())
        self._saving_now = False
        for done in saves:
            done()

    async def _rebuild_left_behind(self, rebuild: Callable[[], Replica]) -> Replica:
        """Discard this replica's state and join again (``core.laggards``).

        Deferred effects belong to the state thrown away; commands waiting for a
        reply may still execute elsewhere, so their outcome is unknown."""
        log.warning(
            "left behind: every peer deleted log entries this replica never got; "
            "discarding its state to rebuild from a peer's snapshot"
        )
        self._apply = DeferredApply(self._store, self._me, FlushPolicy(), self._stopwatch)
        self._rebuilding = True
        try:
            with trio.CancelScope(shield=True):
                core = await trio.to_thread.run_sync(rebuild)
        finally:
            self._rebuilding = False
        waiting, self._waiting = self._waiting, {}
        self._late = {}  # what they did is in the snapshot, never executed here
        if self._tracking is not None:
            self._tracking.flush_all()  # every key may hold something else now
        for waiter in waiting.values():
            self._counters["uncertain"] += 1
            waiter.on_done(REBUILDING)
        return core

    def flush_deferred(self) -> None:
        """Write the deferred key-value effects now (clean shutdown: nothing to redo after).

        Not after a turn that failed half-way: its effects may belong to instances whose
        records never reached the disk; a restart will execute what is missing instead."""
        if self._turn_open:
            log.warning("not flushing deferred effects: the last turn did not complete")
            return
        flushed = self._apply.flush()
        if flushed:
            self._core.executed_durable(flushed.executed)

    def _release(self, ready: Ready, outbox: Outbox, prepared: Prepared | None) -> None:
        """Send the turn's messages, deliver what it published, answer its clients, and
        tell tracking clients which keys it changed: its net writes when it executed on
        a buffered view, what its transaction recorded when it ran in one (everything,
        for a FLUSHALL). Replies and invalidations go out together, at the end of one
        reply batch."""
        for dst, m in outbox.messages:
            self._send(dst, m)
        self._note_commits(ready.committed)
        self.tally.add(outbox.tally)
        if outbox.slow:
            self._log_slow(outbox.slow)
        tracking = self._tracking if self._tracking is not None and self._tracking.active else None
        authors = self._authors(ready) if tracking is not None and tracking.noloop else None
        if outbox.replies or outbox.published or tracking is not None:
            waiting = self._waiting
            with self._reply_batch():
                if outbox.published:
                    self._deliver(outbox.published)
                for cmd, reply in outbox.replies:
                    waiter = waiting.pop(cmd.id, None)
                    if waiter is not None:
                        self._counters["replies"] += 1
                        waiter.on_done(reply)
                    elif self._late:
                        on_late = self._late.pop(cmd.id, None)
                        if on_late is not None:
                            on_late(reply)
                if tracking is not None:
                    tracking.step_done(
                        outbox.changed if prepared is None else prepared.writes, authors
                    )
        for cmd, detail in outbox.failures:
            self._counters["handler_failures"] += 1
            log.error("command %r raised in its handler: %s", cmd.ops[:1], detail)

    def _authors(self, ready: Ready) -> dict[bytes, set[int | None]]:
        """Who wrote each key the turn's commands declare they write: the ID of this
        replica's client that sent the command, ``None`` for anyone else's (NOLOOP
        tracking spares a client its own writes). Read before the replies go out,
        while the waiting commands still name their clients."""
        authors: dict[bytes, set[int | None]] = {}
        waiting = self._waiting
        for ex in ready.to_execute:
            for cmd in ex.cmds:
                waiter = waiting.get(cmd.id) if cmd.origin == self._me else None
                client = waiter.client if waiter is not None else None
                author = client.id if client is not None else None
                for op in cmd.ops:
                    for key in access_of(op).writes:
                        authors.setdefault(key, set()).add(author)
        return authors

    def _keyspace_events(self) -> int:
        """What the stopwatch reports: the keyspace notifications to gather, none while no
        client subscribes to anything or while catching up (nothing is delivered then)."""
        subscriptions = self._subscriptions
        if subscriptions is None or not subscriptions or self._catching_up:
            return 0
        flags = subscriptions.keyspace_events
        return flags if notifications.delivered(flags) else 0

    def _timing_threshold_s(self) -> float:
        """What the stopwatch reports: ops slow enough for SLOWLOG or for the monitor."""
        return either_threshold_s(
            self._slowlog.threshold_s() if self._slowlog is not None else -1.0,
            self._monitor.threshold_s() if self._monitor is not None else -1.0,
        )

    def _log_slow(self, slow: list[tuple[Command, int, float]]) -> None:
        """SLOWLOG the slow ops of commands a client still waits for (the expiry
        sweeper's have no client; one answered "outcome unknown" has gone), and
        give the monitor each op's time as a ``command`` or ``fast-command`` event."""
        slowlog, monitor = self._slowlog, self._monitor
        now_s = int(time.time())
        for cmd, index, seconds in slow:
            op = cmd.ops[index]
            if monitor is not None:
                monitor.add(command_event(op), seconds, now_s)
            waiter = self._waiting.get(cmd.id)
            client = waiter.client if waiter is not None else None
            if client is not None and slowlog is not None and slowlog.slow(seconds):
                slowlog.add(op, seconds, client.addr, client.name, now_s)

    def _deliver(self, published: list[Published]) -> None:
        """Hand what this turn's PUBLISHes posted to this replica's subscribers, in
        execution order, before any reply of the turn (as Redis does); a PUBLISH's
        reply is then the number of receivers. Not while catching up (see
        ``pubsub``): those messages were posted long ago."""
        subscriptions = self._subscriptions
        if not subscriptions or self._catching_up:
            return
        publish = subscriptions.publish
        for message in published:
            message.receivers = publish(message.channel, message.message)

    def _wake_blocked(self, prepared: Prepared | None) -> None:
        """Tell blocked clients which keys this turn's commands wrote: exactly those
        (the turn's net writes) when it executed on a buffered view; when it ran in a
        transaction that is not known, so every blocked client attempts once more."""
        assert self._blocked is not None
        if prepared is not None:
            if prepared.writes:
                self._blocked.changed(prepared.writes)
        else:
            self._blocked.changed_all()

    def _note_commits(self, committed: list[InstanceId]) -> None:
        """Commit latency of own instances: from the submission of their first command."""
        if not committed:
            return
        now = time.monotonic()
        instances = self._core.instances
        for iid in committed:
            x = instances.get(iid)
            if x is None or x.id.replica != self._me or not x.cmds:
                continue
            waiter = self._waiting.get(x.cmds[0].id)
            if waiter is not None:
                self.commit_latency.add(now - waiter.submitted)

    def _expire_waiters(self) -> None:
        now = time.monotonic()
        expired: list[int] = []
        for cid, waiter in self._waiting.items():
            if waiter.deadline > now:
                break
            expired.append(cid)
        for cid in expired:
            waiter = self._waiting.pop(cid)
            self._counters["uncertain"] += 1
            read_only = commands.is_read_only(waiter.cmd)
            waiter.on_done(outcome_unknown(self._timeout_s, read_only))
            if waiter.on_late is not None:
                late = self._late
                late[cid] = waiter.on_late
                if len(late) > LATE_OUTCOMES_MAX:
                    del late[next(iter(late))]

    def _log_left_behind(self) -> None:
        """Say when log GC starts and stops passing a silent replica (``core.laggards``)."""
        now = self._core.known_left_behind
        if now == self._left_behind_seen:
            return
        for peer in sorted(now - self._left_behind_seen):
            log.warning(
                "replica %d left behind: silent too long, so its log is no longer kept for "
                "it; it rebuilds from a snapshot when it returns",
                peer,
            )
        for peer in sorted(self._left_behind_seen - now):
            log.info("replica %d has everything deleted while it was left behind", peer)
        self._left_behind_seen = now

    def _warn_log_growth(self) -> None:
        """Say who holds log GC back once the log held in memory grows large."""
        now = time.monotonic()
        if now - self._last_growth_warning < GROWTH_WARNING_EVERY_S:
            return
        held = len(self._core.instances)
        if held < GROWTH_WARNING_INSTANCES:
            return
        waits_for = self._core.gc_waits_for()
        if waits_for:
            self._last_growth_warning = now
            log.warning(
                "%d instances held: log GC waits for replica %s; bring it back (one that "
                "lost its disk rebuilds when started on an empty data directory)",
                held,
                ", ".join(map(str, waits_for)),
            )

    def _note_alive(self, now: float) -> None:
        """This process runs at ``now`` (``time.monotonic``): a gap since it last ran far
        beyond the ticker's pace means it was stopped meanwhile; any gap of
        ``DEAF_AFTER_S`` means it read nothing its peers sent meanwhile, so their silence
        counts only from now (``quorum_silence``)."""
        gap = now - self._alive_at
        self._alive_at = now
        if gap > DEAF_AFTER_S:
            self._listening_since = now
        if gap > IDLE_TICK_EVERY * self._tick_s + PAUSE_SLACK_S:
            self._paused_s = max(self._paused_s, gap)

    def _reload_due(self) -> bool:
        """The process was stopped for so long that its peers may have left it behind:
        it must load again (``_after_pause``, at the next turn) before proposing."""
        if not self._paused_s:
            return False
        leave_behind_s = self._core.config.leave_behind_ticks * self._tick_s
        return leave_behind_s > 0 and self._paused_s >= leave_behind_s / 2

    def _after_pause(self, core: Replica) -> None:
        """The process was stopped: if for long enough that its peers may have left it
        behind, load again before serving (``Replica.catch_up_again``). Proposals are
        refused with -LOADING from the moment the stop is seen (``submit``), so none
        slips in before the core loads."""
        due, paused_s = self._reload_due(), self._paused_s
        self._paused_s = 0.0
        if not due or core.loading:
            return
        log.warning(
            "this replica was stopped for %.1f s: catching up before serving again "
            "(its peers may have left it behind meanwhile)",
            paused_s,
        )
        core.catch_up_again()

    def _log_loading(self) -> None:
        loading = self._core.loading
        if self._was_loading and not loading:
            log.info(
                "caught up: serving clients (executed watermarks %s)",
                self._core.executed_watermarks,
            )
            if self._blocked:
                self._blocked.changed_all()  # their attempts got -LOADING meanwhile
        elif loading:
            now = time.monotonic()
            if now - self._last_progress_log >= 1.0:
                self._last_progress_log = now
                joining = self._core.join_state
                if joining:
                    log.info("joining the cluster: %s", joining)
                else:
                    s = self._core.statistics()
                    log.info(
                        "catching up: %.1f%% (executed %d, blocked %d)",
                        100 * s.loading_progress,
                        s.instances_executed,
                        s.blocked_instances,
                    )
        self._was_loading = loading

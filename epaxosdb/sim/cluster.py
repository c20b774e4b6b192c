"""SimCluster: N real cores over MemoryStores, a seeded network, crashes and restarts.

One ``step()`` is one tick of simulated time:

1. the network evolves (partitions, clogs) and delivers what is due;
2. clients whose think time is over send their next command;
3. every live replica ticks;
4. faults strike: a replica may crash — before it persists this step's work,
   or after persisting but before its messages leave — and a crashed one may
   restart from its store alone;
5. every live replica's ``Ready`` goes through the same apply path the trio
   runtime uses (``node.DeferredApply``: records durable every step,
   key-value effects and executed marks deferred to a later flush); its
   messages enter the network and its replies reach the clients. A crash
   loses whatever was not flushed, exactly as a process crash would.

Checkers see every durable record, released message and executed batch.
Everything is drawn from one seed, so a run replays exactly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from epaxosdb import commands, snapshot
from epaxosdb.core.config import ReplicaConfig
from epaxosdb.core.ready import Ready, SnapshotWanted
from epaxosdb.core.replica import Replica
from epaxosdb.core.state import META_JOINING
from epaxosdb.node import DeferredApply, FlushPolicy, Outbox
from protocol.messages import InstanceId, ReplicaId
from storage.memory import MemoryStore

from .checkers import Checkers
from .network import NetworkProfile, SimNetwork
from .workload import Workload, WorkloadProfile


@dataclass(frozen=True, slots=True)
class FaultProfile:
    crash_probability: float = 0.0
    """Per step, the chance that one live replica crashes."""
    restart_ticks_max: int = 200
    crash_before_persist: float = 0.5
    """Share of crashes that lose the step's unpersisted work (the rest lose only messages)."""
    minority_only: bool = True
    """Keep at least a majority up, so the cluster can make progress during the safety phase."""
    wipe_share: float = 0.0
    """Share of crashes that also lose the disk: the replica restarts on a new, empty
    one and joins again from a peer's snapshot (``core.joining``). At most F replicas
    are without their disk at once, what the protocol tolerates."""

    @classmethod
    def random(cls, rng: random.Random) -> FaultProfile:
        return cls(
            crash_probability=rng.choice((0.0, 0.0005, 0.002, 0.01)),
            restart_ticks_max=rng.choice((20, 100, 400)),
            crash_before_persist=rng.random(),
            minority_only=rng.random() < 0.8,
        )


@dataclass(frozen=True, slots=True)
class CoreProfile:
    batch_max: int = 8
    inflight_max: int = 4
    fast_wait_ticks: int = 1
    retransmit_ticks: int = 20
    recovery_ticks: int = 60
    recovery_jitter_ticks: int = 40
    sync_interval_ticks: int = 50
    gc_interval_ticks: int = 100
    flush_keys_max: int = 16
    flush_instances_max: int = 4
    flush_when_idle: bool = True
    """Small flush thresholds by default, so crashes often find deferred effects."""
    batch_bytes_max: int = 16 << 20
    sync_bytes_max: int = 64 << 20
    """Byte budgets (not drawn from the seed; tests shrink them to split every batch)."""
    leave_behind_ticks: int = 0
    leave_behind_instances: int = 0
    leave_behind_bytes: int = 0
    """Leaving silent peers behind (``core.laggards``); drawn last, see ``SimProfile``."""

    @classmethod
    def random(cls, rng: random.Random) -> CoreProfile:
        return cls(
            batch_max=rng.choice((1, 2, 8, 64)),
            inflight_max=rng.choice((1, 2, 4, 16)),
            fast_wait_ticks=rng.choice((0, 1, 3)),
            retransmit_ticks=rng.choice((5, 20, 60)),
            recovery_ticks=rng.choice((15, 60, 150)),
            recovery_jitter_ticks=rng.choice((5, 40)),
            sync_interval_ticks=rng.choice((10, 50)),
            gc_interval_ticks=rng.choice((10, 100, 1000)),
            flush_keys_max=rng.choice((1, 4, 64, 10_000)),
            flush_instances_max=rng.choice((1, 3, 30, 10_000)),
            flush_when_idle=rng.random() < 0.5,
        )

    def config(self, replica_id: ReplicaId, ids: tuple[ReplicaId, ...]) -> ReplicaConfig:
        return ReplicaConfig(
            replica_id,
            ids,
            batch_max=self.batch_max,
            inflight_max=self.inflight_max,
            fast_wait_ticks=self.fast_wait_ticks,
            retransmit_ticks=self.retransmit_ticks,
            recovery_ticks=self.recovery_ticks,
            recovery_jitter_ticks=self.recovery_jitter_ticks,
            sync_interval_ticks=self.sync_interval_ticks,
            gc_interval_ticks=self.gc_interval_ticks,
            batch_bytes_max=self.batch_bytes_max,
            sync_bytes_max=self.sync_bytes_max,
            leave_behind_ticks=self.leave_behind_ticks,
            leave_behind_instances=self.leave_behind_instances,
            leave_behind_bytes=self.leave_behind_bytes,
        )


@dataclass(frozen=True, slots=True)
class SimProfile:
    replicas: int
    network: NetworkProfile
    faults: FaultProfile
    workload: WorkloadProfile
    core: CoreProfile

    @classmethod
    def random(cls, rng: random.Random, replicas: int) -> SimProfile:
        network = NetworkProfile.random(rng)
        faults = FaultProfile.random(rng)
        workload = WorkloadProfile.random(rng, replicas)
        core = CoreProfile.random(rng)
        # Drawn last, and used only when positive, so that a seed without lost disks
        # replays the schedule it had before disks could be lost.
        faults = replace(faults, wipe_share=rng.choice((0.0, 0.0, 0.2, 0.5)))
        # Likewise for leaving silent peers behind (``core.laggards``).
        leave_ticks = rng.choice((0, 0, 60, 200))
        if leave_ticks:
            core = replace(
                core,
                leave_behind_ticks=leave_ticks,
                leave_behind_instances=rng.choice((0, 10, 50)),
            )
            # Drawn after the rest, so that the draws above replay as before.
            core = replace(core, leave_behind_bytes=rng.choice((0, 0, 400)))
        return cls(replicas=replicas, network=network, faults=faults, workload=workload,
                   core=core)

    @classmethod
    def quiet(cls, replicas: int, **workload: object) -> SimProfile:
        """No faults at all: for measuring the protocol's behaviour, not its robustness."""
        return cls(
            replicas=replicas,
            network=NetworkProfile.perfect(),
            faults=FaultProfile(),
            workload=WorkloadProfile(**workload),  # type: ignore[arg-type]
            core=CoreProfile(),
        )


@dataclass
class SimNode:
    id: ReplicaId
    store: MemoryStore
    core: Replica | None
    apply: DeferredApply
    down_until: int = 0
    crashes: int = 0
    amnesiac: bool = False
    """Lost its disk and has not become a voting member again."""


@dataclass
class ClusterStatistics:
    steps: int = 0
    crashes: int = 0
    restarts: int = 0
    messages: int = 0
    wipes: int = 0
    snapshots: int = 0
    rejoins: int = 0


class SimCluster:
    def __init__(self, profile: SimProfile, seed: int) -> None:
        self.profile = profile
        self.seed = seed
        rng = random.Random(seed)
        self._rng = random.Random(rng.random())
        self.ids: tuple[ReplicaId, ...] = tuple(range(1, profile.replicas + 1))
        self.network = SimNetwork(self.ids, random.Random(rng.random()), profile.network)
        self.workload = Workload(profile.workload, random.Random(rng.random()))
        self.checkers = Checkers(self.ids, commands.command_access)
        self._core_seed = random.Random(rng.random())
        self.nodes = {
            r: SimNode(r, store, None, self._applier(r, store))
            for r in self.ids
            for store in (MemoryStore(),)
        }
        for r in self.ids:
            self.nodes[r].core = Replica(
                self._config(r),
                rng=self._new_rng(),
                access=commands.command_access,
                batch_access=commands.batch_access,
            )
        self.now = 0
        self.stats = ClusterStatistics()
        self.faults_enabled = True
        self.liveness_phase = False

    def _config(self, r: ReplicaId) -> ReplicaConfig:
        return self.profile.core.config(r, self.ids)

    def _applier(self, r: ReplicaId, store: MemoryStore) -> DeferredApply:
        core = self.profile.core
        policy = FlushPolicy(
            keys_max=core.flush_keys_max,
            instances_max=core.flush_instances_max,
            when_idle=core.flush_when_idle,
        )
        return DeferredApply(store, r, policy)

    def _new_rng(self) -> random.Random:
        return random.Random(self._core_seed.random())

    # --- the loop -----------------------------------------------------------------

    def live(self) -> list[ReplicaId]:
        return [r for r in self.ids if self.nodes[r].core is not None]

    def step(self) -> None:
        self.now += 1
        now = self.now
        self.stats.steps += 1
        self.network.tick(now)
        for _src, dst, msg in self.network.deliverable(now):
            core = self.nodes[dst].core
            if core is not None:
                core.step(msg)
        serving = [r for r in self.live() if not self._core(r).loading]
        for replica, cmd in self.workload.due(now, serving):
            self.checkers.note_proposed(cmd)
            self._core(replica).propose([cmd])
        for r in self.live():
            self._core(r).tick()
        if self.faults_enabled:
            self._maybe_crash()
        self._maybe_restart()
        for r in self.live():
            self.process(r)
        self.workload.on_time(now)

    def _core(self, r: ReplicaId) -> Replica:
        core = self.nodes[r].core
        assert core is not None
        return core

    def process(self, r: ReplicaId) -> None:
        """Persist → execute → release, exactly as the runtime does (node.DeferredApply)."""
        core = self._core(r)
        ready = core.ready()
        outbox, durable = self._apply(r, ready, idle=not core.wants_ticks())
        self._release(r, outbox)
        core.advance(ready)
        if durable:
            core.executed_durable(durable)
        node = self.nodes[r]
        if node.amnesiac and not core.joining:
            node.amnesiac = False
        if ready.snapshot is not None:
            self._install_snapshot(r, ready.snapshot)
        if ready.rejoin:
            self._rejoin(r)

    def _rejoin(self, r: ReplicaId) -> None:
        """A replica left behind by every peer discards its state and joins again, as the
        runtime does: its store emptied (what it had executed and voted is gone), the
        core restored as on a new disk. Commands it was serving get no reply."""
        node = self.nodes[r]
        # The runtime sends the new core's JoinRequests on the connections the old one
        # used, after its last messages: a peer answers knowing them. This network
        # reorders, so the old messages are dropped instead, as a broken connection would.
        self.network.crash(r)
        snapshot.discard(node.store, incomplete=True)
        node.apply = self._applier(r, node.store)
        node.amnesiac = True
        self.checkers.on_wipe(r)
        self.workload.on_lost(r, self.now)
        self.stats.rejoins += 1
        self.restart(r)

    def _install_snapshot(self, r: ReplicaId, wanted: SnapshotWanted) -> None:
        """Copy the first source's durable state, as the runtime transfers its file: one
        that is up and a member (it may have lost its own disk since it answered)."""
        source = next(
            (s for s in wanted.sources if (c := self.nodes[s].core) is not None and not c.joining),
            None,
        )
        if source is None:
            return  # asked again later
        store = self.nodes[source].store
        snapshot.install(
            self.nodes[r].store,
            snapshot.snapshot_of(store),
            wanted.bound,
            self.ids.index(r),
        )
        self.checkers.on_snapshot(r, source)
        self.stats.snapshots += 1
        self.nodes[r].apply = self._applier(r, self.nodes[r].store)
        self.restart(r)

    def _apply(self, r: ReplicaId, ready: Ready, idle: bool) -> tuple[Outbox, list[InstanceId]]:
        """Apply one step and tell the checkers what became durable and what ran; also
        return the instances whose executed marks reached the store. ``idle``: the
        replica waits on nothing (the runtime's judgement is a few quiet ticks)."""
        outbox, flushed, in_transaction = self.nodes[r].apply.apply(ready, idle)
        durable = list(flushed.executed) if flushed else []
        if in_transaction:
            durable += [ex.inst for ex in ready.to_execute]
        checkers = self.checkers
        checkers.on_persist(r, ready.to_persist)
        checkers.on_execute(r, ready.to_execute)
        checkers.on_flush(r, durable)
        checkers.on_delete(r, ready.to_delete, self._core(r).gc_passes)
        return outbox, durable

    def _release(self, r: ReplicaId, outbox: Outbox) -> None:
        for dst, m in outbox.messages:
            self.checkers.on_send(r, m)
            self.network.send(self.now, r, dst, m)
            self.stats.messages += 1
        for cmd, reply in outbox.replies:
            self.workload.on_reply(cmd, reply, self.now)
        if outbox.failures:
            cmd, detail = outbox.failures[0]
            raise AssertionError(f"command {cmd.ops!r} raised in its handler: {detail}")

    # --- faults -------------------------------------------------------------------

    def _maybe_crash(self) -> None:
        faults = self.profile.faults
        if faults.crash_probability <= 0 or self._rng.random() >= faults.crash_probability:
            return
        live = self.live()
        if faults.minority_only and len(self.ids) - len(live) >= (len(self.ids) - 1) // 2:
            return
        if not live:
            return
        r = self._rng.choice(live)
        if self._rng.random() < faults.crash_before_persist:
            self.crash(r)  # this step's inputs die with the process
        else:
            # Persisted, but the process died before sending anything.
            core = self._core(r)
            self._apply(r, core.ready(), idle=not core.wants_ticks())
            self.crash(r)
        rebuilding = sum(n.amnesiac for n in self.nodes.values())
        if (
            faults.wipe_share > 0
            and self._rng.random() < faults.wipe_share
            and rebuilding < (len(self.ids) - 1) // 2
            and not self._may_rejoin()
        ):
            self.wipe(r)

    def _may_rejoin(self) -> bool:
        """Whether some replica was left behind and may still rebuild: it will count
        against the F that may rebuild at once, so no disk is lost meanwhile."""
        return any(self._core(r).left_behind for r in self.live())

    def wipe(self, r: ReplicaId) -> None:
        """A crashed replica's disk is gone: it comes back on an empty one."""
        node = self.nodes[r]
        assert node.core is None
        node.store = MemoryStore()
        # As the runtime creates a data directory: marked new until the replica has
        # joined, so every restart before then joins again (the store says so, not us).
        node.store.write(lambda txn: txn.set_meta(META_JOINING, b"1"))
        node.apply = self._applier(r, node.store)
        node.amnesiac = True
        self.checkers.on_wipe(r)
        self.stats.wipes += 1

    def crash(self, r: ReplicaId) -> None:
        """The process dies: everything but its store is lost, deferred effects included."""
        node = self.nodes[r]
        node.core = None
        node.apply = self._applier(r, node.store)
        self.checkers.on_crash(r)
        node.crashes += 1
        node.down_until = self.now + self._rng.randint(1, self.profile.faults.restart_ticks_max)
        self.network.crash(r)
        self.workload.on_lost(r, self.now)
        self.stats.crashes += 1

    def _maybe_restart(self) -> None:
        for r in self.ids:
            node = self.nodes[r]
            if node.core is None and (node.down_until <= self.now or self.liveness_phase):
                self.restart(r)

    def restart(self, r: ReplicaId) -> None:
        node = self.nodes[r]
        recovered = node.store.load()
        node.core = Replica.restore(
            self._config(r), recovered.records, recovered.meta,
            rng=self._new_rng(), access=commands.command_access,
            batch_access=commands.batch_access,
        )
        self.stats.restarts += 1

    def heal(self) -> None:
        """Start the liveness phase: no more faults, every replica back, the network whole."""
        self.faults_enabled = False
        self.liveness_phase = True
        self.network.heal()
        self._maybe_restart()

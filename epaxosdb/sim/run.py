"""One simulated run: a safety phase with faults, then a liveness phase without.

``run(seed, replicas=N, steps=S)`` draws every parameter from the seed —
network, faults, workload, core limits — runs ``S`` steps with faults on,
then heals the network, restarts every replica and requires the cluster to
converge within ``liveness_ticks``: every instance any replica knows is
committed and executed everywhere, every command issued after healing
completes, key-value states are byte-equal, and the clients' history is
linearizable. Any violation stops the run and reports the replay line.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field, replace

from epaxosdb.core.replica import SafetyViolation

from .checkers import InvariantViolation
from .cluster import SimCluster, SimProfile
from .linearizability import Verdict, check


@dataclass
class RunResult:
    seed: int
    replicas: int
    steps: int
    ok: bool
    failure: str | None = None
    invariant: str | None = None
    liveness_ticks: int = 0
    wall_s: float = 0.0
    operations: int = 0
    linearizability: str = ""
    counters: dict[str, int] = field(default_factory=dict)
    expiring_keys: int = 0
    list_keys: int = 0
    collection_keys: int = 0
    function_keys: int = 0

    @property
    def replay(self) -> str:
        extra = f" --expiring-keys {self.expiring_keys}" if self.expiring_keys else ""
        extra += f" --list-keys {self.list_keys}" if self.list_keys else ""
        extra += f" --collection-keys {self.collection_keys}" if self.collection_keys else ""
        extra += f" --function-keys {self.function_keys}" if self.function_keys else ""
        return (
            f"epaxosdb simulate --seed {self.seed} --replicas {self.replicas} "
            f"--steps {self.steps}{extra}"
        )

    def summary(self) -> str:
        status = "ok" if self.ok else f"FAILED ({self.invariant}): {self.failure}"
        return (
            f"seed={self.seed} replicas={self.replicas} steps={self.steps} {status} "
            f"ops={self.operations} liveness={self.liveness_ticks} ticks "
            f"wall={self.wall_s:.2f}s"
        )


class LivenessFailure(AssertionError):
    pass


def profile_for(seed: int, replicas: int) -> SimProfile:
    return SimProfile.random(random.Random(seed * 1009 + replicas), replicas)


def run(
    seed: int,
    *,
    replicas: int = 3,
    steps: int = 2000,
    liveness_ticks: int = 6000,
    profile: SimProfile | None = None,
    check_history: bool = True,
    expiring_keys: int = 0,
    list_keys: int = 0,
    collection_keys: int = 0,
    function_keys: int = 0,
) -> RunResult:
    """One seeded run; ``expiring_keys`` adds TTL traffic, ``list_keys`` list traffic,
    ``collection_keys`` hash, set and sorted set traffic, ``function_keys`` function
    libraries and calls (``workload.ttl_command``, ``workload.list_command``,
    ``workload.collection_command``, ``workload.function_command``)."""
    started = time.perf_counter()
    profile = profile or profile_for(seed, replicas)
    if expiring_keys or list_keys or collection_keys or function_keys:
        workload = replace(
            profile.workload,
            expiring_keys=expiring_keys,
            list_keys=list_keys,
            collection_keys=collection_keys,
            function_keys=function_keys,
        )
        profile = replace(profile, workload=workload)
    result = RunResult(
        seed,
        replicas,
        steps,
        ok=False,
        expiring_keys=expiring_keys,
        list_keys=list_keys,
        collection_keys=collection_keys,
        function_keys=function_keys,
    )
    cluster = SimCluster(profile, seed)
    try:
        for _ in range(steps):
            cluster.step()
        result.liveness_ticks = _liveness(cluster, liveness_ticks)
        _check_converged(cluster)
        if check_history:
            verdict = check(cluster.workload.history)
            result.linearizability = verdict.verdict.value
            if verdict.verdict is Verdict.NOT_LINEARIZABLE:
                raise InvariantViolation("linearizability", verdict.render())
        result.ok = True
    except InvariantViolation as exc:
        result.invariant = exc.invariant
        result.failure = exc.detail
    except LivenessFailure as exc:
        result.invariant = "liveness"
        result.failure = str(exc)
    except SafetyViolation as exc:
        result.invariant = "agreement (core tripwire)"
        result.failure = str(exc)
    result.wall_s = time.perf_counter() - started
    result.operations = len(cluster.workload.history)
    result.counters = _counters(cluster)
    return result


def _liveness(cluster: SimCluster, budget: int) -> int:
    """Heal, keep clients going a while, then stop them and wait for convergence."""
    cluster.heal()
    start = cluster.now
    cluster.workload.healed_at = start
    for _ in range(min(budget // 4, 500)):
        cluster.step()
    cluster.workload.stopped = True
    while cluster.now - start < budget:
        cluster.step()
        if cluster.now % 25 == 0 and _quiescent(cluster):
            break
    else:
        raise LivenessFailure(
            f"not converged {budget} ticks after healing: {_lag_report(cluster)}"
        )
    return cluster.now - start


def _known_instances(cluster: SimCluster) -> set[object]:
    known: set[object] = set()
    for r in cluster.ids:
        core = cluster.nodes[r].core
        if core is not None:
            known.update(core.instances)
    return known


def _quiescent(cluster: SimCluster) -> bool:
    if cluster.workload.outstanding:
        return False
    cores = [cluster.nodes[r].core for r in cluster.ids]
    if any(c is None or c.loading or c.has_pending_proposals() for c in cores):
        return False
    known = _known_instances(cluster)
    for c in cores:
        assert c is not None
        for iid in known:
            if not c.executed(iid):  # type: ignore[arg-type]
                return False
    return True


def _lag_report(cluster: SimCluster) -> str:
    known = _known_instances(cluster)
    parts = []
    for r in cluster.ids:
        c = cluster.nodes[r].core
        if c is None:
            parts.append(f"r{r}=down")
            continue
        missing = [i for i in known if not c.executed(i)]  # type: ignore[arg-type]
        st = c.statistics()
        parts.append(
            f"r{r}: loading={c.loading} unexecuted={len(missing)} e.g. {sorted(missing)[:3]} "  # type: ignore[type-var]
            f"blocked={st.blocked_instances} waiting={st.proposals_waiting}"
        )
    parts.append(f"clients outstanding={cluster.workload.outstanding}")
    return "; ".join(parts)


def _check_converged(cluster: SimCluster) -> None:
    for r in cluster.ids:
        flushed = cluster.nodes[r].apply.flush()
        if flushed:
            cluster.checkers.on_flush(r, flushed.executed)
            core = cluster.nodes[r].core
            if core is not None:
                core.executed_durable(flushed.executed)
    states = {r: cluster.nodes[r].store.kv_items() for r in cluster.ids}
    first = states[cluster.ids[0]]
    for r in cluster.ids[1:]:
        if states[r] != first:
            a, b = dict(first), dict(states[r])
            diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))[:5]
            raise InvariantViolation(
                "execution consistency",
                f"key-value states of replicas {cluster.ids[0]} and {r} differ at {diff}",
            )
    libraries = {r: cluster.nodes[r].store.read(lambda view: view.functions()) for r in cluster.ids}
    for r in cluster.ids[1:]:
        if libraries[r] != libraries[cluster.ids[0]]:
            raise InvariantViolation(
                "execution consistency",
                f"the function libraries of replicas {cluster.ids[0]} and {r} differ",
            )


def _counters(cluster: SimCluster) -> dict[str, int]:
    out: dict[str, int] = {
        "crashes": cluster.stats.crashes,
        "wipes": cluster.stats.wipes,
        "snapshots": cluster.stats.snapshots,
        "rejoins": cluster.stats.rejoins,
        "messages": cluster.stats.messages,
        "ops_completed": cluster.workload.stats.completed,
        "ops_lost": cluster.workload.stats.lost,
        "ops_timed_out": cluster.workload.stats.timed_out,
    }
    for r in cluster.ids:
        c = cluster.nodes[r].core
        if c is None:
            continue
        s = c.statistics()
        out["instances_proposed"] = out.get("instances_proposed", 0) + s.instances_proposed
        out["fast_path_commits"] = out.get("fast_path_commits", 0) + s.fast_path_commits
        out["slow_path_commits"] = out.get("slow_path_commits", 0) + s.slow_path_commits
        out["recovery_commits"] = out.get("recovery_commits", 0) + s.recovery_commits
        out["recoveries_started"] = out.get("recoveries_started", 0) + s.recoveries_started
        out["max_scc_size"] = max(out.get("max_scc_size", 0), s.max_scc_size)
    return out

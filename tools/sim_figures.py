"""The simulator figures quoted in the notes: fast-path share, SCC sizes, execution delay,
recovery under loss, and simulated steps per second.

    .venv/bin/python tools/sim_figures.py [--steps 3000] [--seeds 5]

Runs without faults unless stated; clients stay with one replica (5 per replica) and
write (SET) either distinct keys (0% conflicts) or one hot key (100%).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from statistics import median

from epaxosdb.sim.cluster import SimCluster, SimProfile
from epaxosdb.sim.network import NetworkProfile
from epaxosdb.sim.run import _check_converged, _liveness
from epaxosdb.sim.workload import KINDS, WorkloadProfile

SET_ONLY = tuple(100 if k == "SET" else 0 for k in KINDS)


def measure(replicas: int, conflict: float, steps: int, seed: int, loss: float = 0.0) -> dict:
    profile = SimProfile.quiet(replicas)
    profile = replace(
        profile,
        workload=WorkloadProfile(
            clients=5 * replicas, think_ticks_max=0, timeout_ticks=10**9, weights=SET_ONLY,
            conflict=conflict, home_replicas=True,
        ),
        network=NetworkProfile(loss_probability=loss),
    )
    cluster = SimCluster(profile, seed)
    started = time.perf_counter()
    for _ in range(steps):
        cluster.step()
    ticks = steps + _liveness(cluster, 20_000)
    wall = time.perf_counter() - started
    _check_converged(cluster)
    fast = slow = recovered = proposed = scc = delay_max = 0
    delays = []
    for r in cluster.ids:
        core = cluster.nodes[r].core
        assert core is not None
        s = core.statistics()
        fast += s.fast_path_commits
        slow += s.slow_path_commits
        recovered += s.recoveries_started
        proposed += s.instances_proposed
        scc = max(scc, s.max_scc_size)
        delay_max = max(delay_max, s.commit_to_execute_ticks_max)
        delays.append(s.commit_to_execute_ticks_mean)
    return {
        "fast_share": fast / max(fast + slow, 1),
        "instances": proposed,
        "recovery_share": recovered / max(proposed, 1),
        "max_scc": scc,
        "exec_delay_max": delay_max,
        "exec_delay_mean": sum(delays) / len(delays),
        "ops": cluster.workload.stats.completed,
        "steps_per_s": ticks / wall,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    rows = []
    for n in (3, 5):
        for conflict, loss in ((0.0, 0.0), (1.0, 0.0), (0.0, 0.01)):
            runs = [measure(n, conflict, args.steps, seed, loss) for seed in range(args.seeds)]
            row = {k: median(r[k] for r in runs) for k in runs[0]}
            rows.append((n, conflict, loss, row))
            print(
                f"N={n} conflict={conflict:.0%} loss={loss:.0%}: "
                f"fast path {row['fast_share']:.1%} of {row['instances']:.0f} instances, "
                f"recoveries/instance {row['recovery_share']:.3f}, max SCC {row['max_scc']:.0f}, "
                f"commit->execute mean {row['exec_delay_mean']:.1f} max "
                f"{row['exec_delay_max']:.0f} ticks, {row['steps_per_s']:.0f} steps/s "
                f"(median of {args.seeds} seeds)",
                flush=True,
            )


if __name__ == "__main__":
    main()

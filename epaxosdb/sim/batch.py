"""Run many simulator seeds, in parallel worker processes, and report failures."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable

from .run import RunResult, run

Job = tuple[int, int, int, int, int, int, int]
"""``(seed, replicas, steps, expiring_keys, list_keys, collection_keys, function_keys)``."""


def run_job(job: Job) -> RunResult:
    seed, replicas, steps, expiring_keys, list_keys, collection_keys, function_keys = job
    return run(
        seed,
        replicas=replicas,
        steps=steps,
        expiring_keys=expiring_keys,
        list_keys=list_keys,
        collection_keys=collection_keys,
        function_keys=function_keys,
    )


def run_many(
    seeds: list[int],
    sizes: list[int],
    steps: int,
    *,
    jobs: int = 1,
    verbose: bool = False,
    echo: Callable[[str], None] = print,
    expiring_keys: int = 0,
    list_keys: int = 0,
    collection_keys: int = 0,
    function_keys: int = 0,
) -> list[RunResult]:
    """Run every (seed, size); print each failure with its replay line; return the failures."""
    side = (expiring_keys, list_keys, collection_keys, function_keys)
    work = [(seed, n, steps, *side) for n in sizes for seed in seeds]
    started = time.perf_counter()
    failures: list[RunResult] = []
    total_steps = 0
    if jobs > 1:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            results = pool.imap_unordered(run_job, work, chunksize=4)
            failures, total_steps = _collect(results, verbose, echo)
    else:
        failures, total_steps = _collect(map(run_job, work), verbose, echo)
    wall = time.perf_counter() - started
    echo(
        f"{len(work)} runs ({len(seeds)} seeds x sizes {sizes}, {steps} steps each): "
        f"{len(work) - len(failures)} ok, {len(failures)} failed in {wall:.1f}s "
        f"({total_steps / wall:.0f} simulated steps/s)"
    )
    return failures


def _collect(
    results: object, verbose: bool, echo: Callable[[str], None]
) -> tuple[list[RunResult], int]:
    failures = []
    total = 0
    for r in results:  # type: ignore[attr-defined]
        total += r.steps + r.liveness_ticks
        if not r.ok:
            failures.append(r)
            echo(r.summary())
            echo(f"  replay: {r.replay}")
        elif verbose:
            echo(r.summary())
    return failures, total

"""Any command line's cost on one replica, side by side for several source trees.

``bench_acceptance.py`` runs redis-benchmark's built-in tests (``-t set,get``);
this runs whole command lines instead — an EVAL, an FCALL, an XADD with options —
which redis-benchmark sends with ``__rand_int__`` replaced per request (``-r``).
For each tree it starts a single-replica epaxosdb on free ports and, round after
round (trees alternating, so they share the machine's mood), reports ops/s and
the replica's CPU time per request (user+sys from ``/proc``), the figure to
compare builds by on a shared machine.

    .venv/bin/python tools/bench_commands.py [--tree DIR ...] [--pipeline 1 16]
        [--requests 20000] [--rounds 2] [--setup "FUNCTION LOAD ..." ...]
        ["EVAL 'return redis.call(\\"SET\\",KEYS[1],ARGV[1])' 1 k:__rand_int__ v" ...]

``--setup`` command lines run once on each new replica (through redis-cli) before
the benchmark: to load a function library for an FCALL, say. Without command
lines it runs an EVAL that SETs its key, an EVAL that returns 1,
and a plain SET for scale. Timing lives here, never in tests.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_acceptance import REPO, Server, cpu_seconds, start_epaxosdb

DEFAULT_COMMANDS = (
    "EVAL \"return redis.call('SET', KEYS[1], ARGV[1])\" 1 k:__rand_int__ v",
    'EVAL "return 1" 0',
    "SET k:__rand_int__ v",
)


def measure(
    server: Server, command: list[str], pipeline: int, requests: int
) -> tuple[float, float]:
    """``(ops/s, µs of replica CPU per request)`` of one redis-benchmark run."""
    cpu_before, started = cpu_seconds(server.proc.pid), time.monotonic()
    options = ["-p", str(server.port), "-n", str(requests), "-c", "50", "-P", str(pipeline)]
    subprocess.run(
        ["redis-benchmark", *options, "-r", "100000", "-q", *command],
        check=True,
        capture_output=True,
        timeout=600,
    )
    elapsed = time.monotonic() - started
    cpu = cpu_seconds(server.proc.pid) - cpu_before
    return requests / elapsed, 1e6 * cpu / requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("commands", nargs="*", default=list(DEFAULT_COMMANDS))
    parser.add_argument("--tree", type=Path, action="append", default=None)
    parser.add_argument("--pipeline", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--setup", action="append", default=[], help="run once per replica")
    args = parser.parse_args()
    trees = [tree.resolve() for tree in (args.tree or [REPO])]
    results: dict[tuple[int, str, int], list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-commands-") as tmp:
        for round_ in range(args.rounds):
            for index, tree in enumerate(trees):
                server = start_epaxosdb(f"r{round_}t{index}", tree, Path(tmp))
                try:
                    for setup in args.setup:
                        subprocess.run(
                            ["redis-cli", "-p", str(server.port), *shlex.split(setup)],
                            check=True,
                            capture_output=True,
                            timeout=60,
                        )
                    for command in args.commands:
                        for pipeline in args.pipeline:
                            result = measure(
                                server, shlex.split(command), pipeline, args.requests
                            )
                            results.setdefault((index, command, pipeline), []).append(result)
                            print(
                                f"round {round_ + 1} {tree} -P {pipeline} {command}: "
                                f"{result[0]:,.0f}/s, {result[1]:.1f} us CPU per request",
                                flush=True,
                            )
                finally:
                    server.stop()
    print(f"\nmedians of {args.rounds} round(s):")
    for (index, command, pipeline), runs in sorted(results.items(), key=lambda kv: kv[0][1:]):
        rate = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        print(f"  {trees[index]} -P {pipeline:<2} {rate:>9,.0f}/s {cpu:7.1f} us  {command}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

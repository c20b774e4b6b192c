"""Per-command latency on one large string, end to end, for one or more trees side by side.

Starts a cluster of ``--replicas`` from each ``--tree``, stores one value of
``--mb`` megabytes, and times ``--rounds`` calls of each command with
redis-py against replica 1 (the median, in ms). Commands that ask what a key
is (EXISTS, TYPE, TTL, STRLEN) should not cost in proportion to its size.

    .venv/bin/python tools/bench_large_values.py --tree /tmp/old --tree . [--mb 64]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_acceptance import REPO, start_epaxosdb

COMMANDS: list[tuple[str, ...]] = [
    ("EXISTS", "big"),
    ("TYPE", "big"),
    ("TTL", "big"),
    ("STRLEN", "big"),
    ("GETRANGE", "big", "0", "9"),
    ("GETBIT", "big", "100"),
    ("GET", "big"),
    ("DEL", "absent", "big-copy"),
]


def measure(client: redis.Redis, command: tuple[str, ...], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        if command[0] == "DEL":
            client.copy("big", "big-copy")
        started = time.perf_counter()
        client.execute_command(*command)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, action="append")
    parser.add_argument("--mb", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--replicas", type=int, default=1)
    args = parser.parse_args()
    trees: list[Path] = args.tree or [REPO]
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-large-") as work:
        for n, tree in enumerate(trees):
            server = start_epaxosdb(f"tree{n}", tree.resolve(), Path(work), args.replicas)
            try:
                client = redis.Redis(port=server.port, socket_timeout=120)
                client.set("big", b"v" * (args.mb << 20), ex=3600)
                results[str(tree)] = {
                    " ".join(command): measure(client, command, args.rounds)
                    for command in COMMANDS
                }
                client.close()
            finally:
                server.stop()
    names = list(results)
    print(f"median ms per command, {args.mb} MB string, {args.replicas} replica(s)")
    print("command".ljust(24) + "".join(name[-28:].rjust(30) for name in names))
    for command in COMMANDS:
        label = " ".join(command)
        print(label.ljust(24) + "".join(f"{results[name][label]:30.2f}" for name in names))
    return 0


if __name__ == "__main__":
    sys.exit(main())

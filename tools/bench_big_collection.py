"""One client changing one big hash one HSET at a time, side by side with fsync-always Redis.

A hash is stored as one value, so what a write costs depends on how often
the value is encoded: once per write, once per loop turn, or once per bulk
write of deferred effects (``storage/buffered.py``). A single client that
waits for each reply gives every HSET a loop turn of its own, which is the
case that tells them apart. For each ``--fields`` size, every server gets a
hash of that many fields (``redis-cli --pipe``), then ``redis-benchmark -c 1
-P 1 -n N hset h x:__rand_int__ v`` runs against each in turn, ``--rounds``
times. Servers: one single-replica epaxosdb per ``--tree`` and one
``redis-server --appendonly yes --appendfsync always``, all started and
stopped here by their PIDs.

    .venv/bin/python tools/bench_big_collection.py [--tree DIR ...]
        [--fields 1000 10000 100000] [--requests 1000] [--rounds 2] [--no-redis]

Timing lives here, never in tests.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_acceptance import REPO, Server, start_epaxosdb, start_redis


def fill(port: int, fields: int) -> None:
    """A hash ``h`` of ``fields`` fields, replacing what was there."""
    subprocess.run(["redis-cli", "-p", str(port), "DEL", "h"], capture_output=True, check=True)
    lines = "".join(f"HSET h f{i} v{i}\n" for i in range(fields))
    pipe = ["redis-cli", "-p", str(port), "--pipe"]
    subprocess.run(pipe, input=lines.encode(), capture_output=True, check=True)


def hset_one_by_one(port: int, requests: int) -> tuple[float, str, str]:
    """ops/s, p50 and p99 (ms) of one client's HSETs of new fields."""
    command = ["redis-benchmark", "-p", str(port), "-c", "1", "-n", str(requests)]
    out = subprocess.run(
        [*command, "-r", "1000000", "--csv", "hset", "h", "x:__rand_int__", "v"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    row = out.strip().splitlines()[-1].replace('"', "").split(",")
    return float(row[1]), row[4], row[6]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", type=Path, help="source tree (default: this)")
    parser.add_argument("--fields", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-redis", action="store_true")
    args = parser.parse_args()
    trees = args.tree or [REPO]
    with tempfile.TemporaryDirectory(prefix="bench-big-collection-") as tmp:
        workdir = Path(tmp)
        servers: list[Server] = []
        try:
            for index, tree in enumerate(trees):
                servers.append(start_epaxosdb(f"epaxosdb{index}", tree, workdir))
            if not args.no_redis:
                servers.append(start_redis(workdir))
            for fields in args.fields:
                for server in servers:
                    fill(server.port, fields)
                for round_ in range(args.rounds):
                    for server in servers:
                        rps, p50, p99 = hset_one_by_one(server.port, args.requests)
                        print(
                            f"fields={fields} round={round_} {server.name:10s} "
                            f"{rps:9.1f} HSET/s p50={p50} ms p99={p99} ms",
                            flush=True,
                        )
        finally:
            for server in servers:
                server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

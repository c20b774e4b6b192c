"""Clients changing one big hash or list one write at a time, side by side with fsync-always Redis.

A hash or a list is stored as one value, so what a write costs depends on
how often the value is encoded (or, for a list, copied): once per write,
once per loop turn, or once per bulk write of deferred effects
(``storage/buffered.py``). A single client that waits for each reply gives
every write a loop turn of its own, which is the case that tells them apart;
a few clients make turns of a few writes each. For each ``--fields`` size,
every server gets a hash of that many fields or a list of that many elements
(``redis-cli --pipe``), then ``redis-benchmark -c C -P 1 -n N hset h
x:__rand_int__ v`` (``--kind list``: ``lpush q x:__rand_int__``) runs
against each in turn, for each ``--clients`` count, ``--rounds`` times.
Servers: one single-replica epaxosdb per ``--tree`` and one ``redis-server
--appendonly yes --appendfsync always``, all started and stopped here by
their PIDs.

    .venv/bin/python tools/bench_big_collection.py [--tree DIR ...] [--kind hash|list]
        [--fields 1000 10000 100000] [--clients 1] [--requests 1000] [--rounds 2]
        [--no-redis]

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

KINDS = {
    "hash": ("h", "HSET h f{0} v{0}\n", ["hset", "h", "x:__rand_int__", "v"]),
    "list": ("q", "RPUSH q e{0}\n", ["lpush", "q", "x:__rand_int__"]),
}
"""kind → (its key, a line of the fill, the write benchmarked)."""


def fill(port: int, kind: str, fields: int) -> None:
    """A hash ``h`` of ``fields`` fields or a list ``q`` of as many elements, replacing
    what was there."""
    key, line, _ = KINDS[kind]
    subprocess.run(["redis-cli", "-p", str(port), "DEL", key], capture_output=True, check=True)
    lines = "".join(line.format(i) for i in range(fields))
    pipe = ["redis-cli", "-p", str(port), "--pipe"]
    subprocess.run(pipe, input=lines.encode(), capture_output=True, check=True)


def write_one_by_one(port: int, kind: str, clients: int, requests: int) -> tuple[float, str, str]:
    """ops/s, p50 and p99 (ms) of ``clients`` clients' writes, each waiting for its reply."""
    command = ["redis-benchmark", "-p", str(port), "-c", str(clients), "-n", str(requests)]
    out = subprocess.run(
        [*command, "-r", "1000000", "--csv", *KINDS[kind][2]],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    row = out.strip().splitlines()[-1].replace('"', "").split(",")
    return float(row[1]), row[4], row[6]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", type=Path, help="source tree (default: this)")
    parser.add_argument("--kind", choices=sorted(KINDS), default="hash")
    parser.add_argument("--fields", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--clients", type=int, nargs="+", default=[1])
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
            name = KINDS[args.kind][2][0].upper()
            for fields in args.fields:
                for clients in args.clients:
                    for server in servers:
                        fill(server.port, args.kind, fields)
                    for round_ in range(args.rounds):
                        for server in servers:
                            rps, p50, p99 = write_one_by_one(
                                server.port, args.kind, clients, args.requests
                            )
                            print(
                                f"size={fields} clients={clients} round={round_} "
                                f"{server.name:10s} {rps:9.1f} {name}/s p50={p50} ms p99={p99} ms",
                                flush=True,
                            )
        finally:
            for server in servers:
                server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

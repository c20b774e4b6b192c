"""Profile one live epaxosdb replica under redis-benchmark with py-spy.

Starts a replica from ``--tree`` on free ports, drives it with
``redis-benchmark -t TEST -r 1000000 -d 16 -c C -P P -n N`` in the
background, samples it with ``py-spy record -f raw`` (optionally ``--gil``:
only samples holding the GIL, which shows what competes for it), and prints
where the samples fall: per thread, by leaf function, and by inclusive
function. The raw file is kept for flame graphs.

    .venv/bin/python tools/profile_replica.py [--tree DIR] [--seconds 10] [--gil]
        [--pipeline 16] [--clients 50] [--test set] [--raw out.txt]
        [--command "EVAL 'return redis.call(\\"SET\\",KEYS[1],ARGV[1])' 1 k:__rand_int__ v"]

``--command`` replaces ``-t TEST`` with that command line (split as a shell would),
which redis-benchmark sends with ``__rand_int__`` replaced per request.
"""

from __future__ import annotations

import argparse
import collections
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_acceptance import REPO, start_epaxosdb

PY_SPY = REPO / ".venv" / "bin" / "py-spy"


def summarise(raw: Path, top: int) -> None:
    by_thread: collections.Counter[str] = collections.Counter()
    leaf: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        by_thread[frames[0]] += count
        leaf[frames[-1]] += count
        for frame in set(frames[1:]):
            inclusive[frame] += count
    print(f"{total} samples")
    for title, counter in (("threads", by_thread), ("leaf", leaf), ("inclusive", inclusive)):
        print(f"\n-- {title}")
        for name, n in counter.most_common(top):
            print(f"{100 * n / total:6.1f}%  {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, default=REPO)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--pipeline", type=int, default=16)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--test", default="set")
    parser.add_argument("--command", default=None, help="a command line instead of --test")
    parser.add_argument("--gil", action="store_true")
    parser.add_argument("--idle", action="store_true")
    parser.add_argument("--native", action="store_true", help="C frames too (py-spy --native)")
    parser.add_argument(
        "--replicas", type=int, default=1, help="cluster size; replica 1 is driven and sampled"
    )
    parser.add_argument("--raw", type=Path, default=None)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="profile-replica-") as tmp:
        server = start_epaxosdb("profiled", args.tree.resolve(), Path(tmp), args.replicas)
        raw = args.raw or Path(tmp) / "raw.txt"
        bench = subprocess.Popen(
            [
                "redis-benchmark",
                "-p",
                str(server.port),
                *(["-t", args.test] if args.command is None else []),
                "-n",
                "100000000",
                "-r",
                "1000000",
                "-d",
                "16",
                "-c",
                str(args.clients),
                "-P",
                str(args.pipeline),
                "-q",
                *(shlex.split(args.command) if args.command is not None else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(3)  # let the keyspace grow past the first pages
            spy = [
                str(PY_SPY),
                "record",
                "-p",
                str(server.proc.pid),
                "-d",
                str(args.seconds),
                "-f",
                "raw",
                "-o",
                str(raw),
                "-t",
                "-r",
                "200",
            ]
            if args.gil:
                spy.append("--gil")
            if args.idle:
                spy.append("--idle")
            if args.native:
                spy.append("--native")
            subprocess.run(spy, check=True, capture_output=True)
        finally:
            bench.terminate()
            bench.wait()
            print(server.info("epaxos").get("loop_apply_s"), "apply s")
            server.stop()
        summarise(raw, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The floor under any trio + hiredis server: what one that does nothing reaches.

Runs, side by side in one run, the issue's ``redis-benchmark -t set -n N -r
1000000 -d 16 -c 50 -P p`` against fsync-always Redis and against a trio
server that parses requests with hiredis and answers each with ``+OK`` —
no command table, no consensus, no storage. Its throughput bounds what any
replica built on this stack can reach on this machine, and its CPU per
request is the part of epaxosdb's that the network path alone costs (set it
beside ``tools/bench_acceptance.py``'s figures).

    .venv/bin/python tools/bench_floor.py [--pipeline 1 16] [--requests 200000] [--rounds 3]

``--serve PORT`` runs the floor server itself (what the benchmark starts).
Timing lives here, never in tests.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import hiredis
import trio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_acceptance import PYTHON, Server, free_port, run_benchmark, start_redis, wait_ready


async def _answer(stream: trio.SocketStream) -> None:
    reader = hiredis.Reader()
    while True:
        data = await stream.receive_some(65536)
        if not data:
            return
        reader.feed(data)
        replies = []
        while (request := reader.gets()) is not False:
            replies.append(b"+PONG\r\n" if request[0].upper() == b"PING" else b"+OK\r\n")
        if replies:
            await stream.send_all(b"".join(replies))


async def _serve(port: int) -> None:
    await trio.serve_tcp(_answer, port, host="127.0.0.1")


def start_floor() -> Server:
    port = free_port()
    proc = subprocess.Popen(
        [str(PYTHON), __file__, "--serve", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_ready(port, proc)
    return Server("floor", port, proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--pipeline", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.serve is not None:
        trio.run(_serve, args.serve)
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        servers = [start_redis(Path(tmp)), start_floor()]
        try:
            results = [
                run_benchmark(server, "set", pipeline, args.requests)
                for _ in range(args.rounds)
                for pipeline in args.pipeline
                for server in servers
            ]
        finally:
            for server in servers:
                server.stop()
    for pipeline in args.pipeline:
        for server in servers:
            mine = [r for r in results if r.pipeline == pipeline and r.server == server.name]
            rps = statistics.median(r.rps for r in mine)
            cpu = statistics.median(r.cpu_us_per_req for r in mine)
            p50 = statistics.median(r.p50_ms for r in mine)
            print(
                f"{server.name:>6} P={pipeline:<2} set {rps:10.0f}/s p50={p50:.3f} ms"
                f" cpu={cpu:.1f}us/req"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Emulate a wide-area deployment on one machine: per-link delay proxies between replicas.

EPaxos's case rests on wide-area latency (paper Fig. 4): a replica commits in
one round trip to its closest fast quorum instead of going through a distant
leader. To see that on one machine, every replica-to-replica byte has to take
as long as it would between two data centres. This tool puts a userspace TCP
proxy (trio) on every replica pair and delays each direction by half the pair's
round-trip time from a latency matrix, optionally scaled down (``--scale 0.1``
turns the paper's 85 ms CA–VA into 8.5 ms) so runs stay short.

How the proxies get in the path: between replicas ``i < j`` there is exactly
one TCP connection, dialled by ``i`` (``epaxosdb/runtime/peers.py``). So each
replica gets its own cluster file in which replica ``j``'s peer address, for
every ``j > i``, is the proxy for the pair ``(i, j)``; its own address is its
real listener. All files share an explicit ``[cluster] id``, so the replicas
agree on the cluster identity although their files differ. Clients are not
delayed: as in the paper, each site's clients sit next to their replica.

    .venv/bin/python tools/wan_proxy.py local --matrix paper5 --scale 0.1 \
        --port 7400 --data-dir /tmp/wan5
    # then, in another shell, 10 clients per site, per-site latency in the table:
    .venv/bin/epaxosdb bench --port 7400 --port 7401 --port 7402 --port 7403 --port 7404 \
        --clients 50 --duration 20 --conflict 0

``local`` writes the files, starts the proxies and one ``epaxosdb serve`` per
replica, waits for PING and runs until Ctrl-C (then stops the replicas by PID).
``proxies`` does the same without starting replicas, for running them by hand
(``epaxosdb serve --config DIR/cluster-N.toml --id N``). ``show`` prints a
matrix and the round trips each replica's fast and slow paths need.

Matrices: ``paper3`` (CA, VA, EU) and ``paper5`` (VA, CA, OR, JP, EU) from the
paper's Fig. 4 annotations (brief §9.1); entries the figure does not give are
estimates, marked in ``MATRICES``. Or a JSON file
``{"sites": [...], "rtt_ms": [[...], ...]}`` (symmetric or not: row i, column j
is the round trip seen from i; each direction gets half of its own row's entry).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import trio

from epaxosdb.local import answers_ping

log = logging.getLogger("wan_proxy")

CHUNK_BYTES = 256 << 10
QUEUE_CHUNKS = 4096
"""Chunks in flight per direction; beyond it the proxy stops reading (TCP backpressure)."""
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
UPSTREAM_CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Matrix:
    sites: tuple[str, ...]
    rtt_ms: tuple[tuple[float, ...], ...]
    notes: str = ""

    def __post_init__(self) -> None:
        n = len(self.sites)
        if n not in (3, 5, 7):
            raise ValueError(f"a WAN emulation needs 3, 5 or 7 sites, not {n}")
        if len(self.rtt_ms) != n or any(len(row) != n for row in self.rtt_ms):
            raise ValueError("rtt_ms must be an N×N matrix matching sites")
        if any(v < 0 for row in self.rtt_ms for v in row):
            raise ValueError("round-trip times are not negative")

    def one_way_s(self, src: int, dst: int, scale: float) -> float:
        """Delay for bytes from site index ``src`` to ``dst``: half the RTT seen from ``src``."""
        return self.rtt_ms[src][dst] * scale / 2000.0


def _symmetric(sites: tuple[str, ...], pairs: dict[tuple[str, str], float], notes: str) -> Matrix:
    index = {s: i for i, s in enumerate(sites)}
    rows = [[0.0] * len(sites) for _ in sites]
    for (a, b), rtt in pairs.items():
        rows[index[a]][index[b]] = rows[index[b]][index[a]] = rtt
    return Matrix(sites, tuple(tuple(r) for r in rows), notes)


MATRICES: dict[str, Matrix] = {
    "paper3": _symmetric(
        ("CA", "VA", "EU"),
        {("CA", "VA"): 85, ("VA", "EU"): 90, ("CA", "EU"): 156},
        "EPaxos paper Fig. 4, 3-site annotations",
    ),
    "paper5": _symmetric(
        ("VA", "CA", "OR", "JP", "EU"),
        {
            ("VA", "CA"): 85, ("VA", "EU"): 90, ("CA", "EU"): 156, ("CA", "OR"): 21,
            ("CA", "JP"): 118, ("OR", "JP"): 127, ("JP", "EU"): 278,
            # Not annotated in the figure; estimates (seed blog's OR–VA 74, typical
            # us-east↔ap-northeast and us-west↔eu-west round trips):
            ("VA", "OR"): 74, ("VA", "JP"): 160, ("OR", "EU"): 160,
        },
        "EPaxos paper Fig. 4 annotations; VA–OR, VA–JP, OR–EU estimated",
    ),
}


def load_matrix(name: str) -> Matrix:
    if name in MATRICES:
        return MATRICES[name]
    data = json.loads(Path(name).read_text())
    return Matrix(
        tuple(str(s) for s in data["sites"]),
        tuple(tuple(float(v) for v in row) for row in data["rtt_ms"]),
        f"from {name}",
    )


# --- layout: ports and cluster files ----------------------------------------------------


@dataclass(frozen=True)
class Layout:
    matrix: Matrix
    scale: float
    base_port: int
    directory: Path
    tick_ms: int | None = None
    """Written into ``[cluster] tick_ms`` if set. The leader waits at most
    ``fast_wait_ticks`` (1) ticks after a majority for the rest of its fast quorum,
    so on a WAN the tick decides how often a conflict-free command still takes
    the slow path."""

    @property
    def n(self) -> int:
        return len(self.matrix.sites)

    def client_port(self, rid: int) -> int:
        return self.base_port + rid - 1

    def peer_port(self, rid: int) -> int:
        return self.base_port + 1000 + rid - 1

    def pairs(self) -> list[tuple[int, int]]:
        return [(i, j) for i in range(1, self.n + 1) for j in range(i + 1, self.n + 1)]

    def proxy_port(self, i: int, j: int) -> int:
        return self.base_port + 2000 + self.pairs().index((i, j))

    def cluster_text(self, me: int) -> str:
        """Replica ``me``'s cluster file: higher ids are reached through the pair's proxy."""
        lines = [
            "# generated by tools/wan_proxy.py; peers with a higher id go through a delay proxy",
            "[cluster]",
            f'id = "wan-emulation-{self.n}-{self.base_port}"',
            *([f"tick_ms = {self.tick_ms}"] if self.tick_ms is not None else []),
            "",
        ]
        for rid in range(1, self.n + 1):
            peer = self.proxy_port(me, rid) if rid > me else self.peer_port(rid)
            lines += [
                "[[replica]]",
                f"id = {rid}",
                f'client = "127.0.0.1:{self.client_port(rid)}"',
                f'peer = "127.0.0.1:{peer}"',
                f'data_dir = "data/{rid}"',
                "",
            ]
        return "\n".join(lines)

    def write_files(self) -> list[Path]:
        self.directory.mkdir(parents=True, exist_ok=True)
        paths = []
        for rid in range(1, self.n + 1):
            path = self.directory / f"cluster-{rid}.toml"
            path.write_text(self.cluster_text(rid))
            paths.append(path)
        return paths


def expected_paths(matrix: Matrix, scale: float) -> list[tuple[str, float, float]]:
    """Per site: the RTT its fast path waits for, and a slow path's two round trips.

    Fast quorum is N−1 (DESIGN.md §3.1): the leader needs the N−2 closest
    peers. When it gives up waiting for them, it goes on with a majority (its
    F closest peers) and adds an Accept round to a majority: two of those RTTs.
    """
    n = len(matrix.sites)
    out = []
    for i, site in enumerate(matrix.sites):
        peers = sorted(matrix.rtt_ms[i][j] * scale for j in range(n) if j != i)
        fast = peers[n - 3] if n > 2 else 0.0
        majority = peers[(n - 1) // 2 - 1]
        out.append((site, fast, 2 * majority))
    return out


# --- the proxy ----------------------------------------------------------------------------


async def _pump(src: trio.SocketStream, dst: trio.SocketStream, delay_s: float) -> None:
    """Copy ``src`` to ``dst``, each chunk released ``delay_s`` after it arrived, in order."""
    send, receive = trio.open_memory_channel[tuple[float, bytes]](QUEUE_CHUNKS)

    async def deliver() -> None:
        async with receive:
            async for due, data in receive:
                await trio.sleep_until(due)
                await dst.send_all(data)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(deliver)
        async with send:
            while data := await src.receive_some(CHUNK_BYTES):
                await send.send((trio.current_time() + delay_s, data))


async def _handle(
    downstream: trio.SocketStream, target: int, forward_s: float, backward_s: float
) -> None:
    try:
        with trio.fail_after(UPSTREAM_CONNECT_TIMEOUT_S):
            upstream = await trio.open_tcp_stream("127.0.0.1", target)
    except (OSError, trio.TooSlowError):
        await downstream.aclose()
        return
    try:
        async with trio.open_nursery() as nursery:

            async def one_way(src: trio.SocketStream, dst: trio.SocketStream, d: float) -> None:
                with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                    await _pump(src, dst, d)
                nursery.cancel_scope.cancel()  # either side gone: the link is gone

            nursery.start_soon(one_way, downstream, upstream, forward_s)
            nursery.start_soon(one_way, upstream, downstream, backward_s)
    finally:
        await trio.aclose_forcefully(upstream)
        await trio.aclose_forcefully(downstream)


async def run_proxies(layout: Layout, task_status: trio.TaskStatus[None]) -> None:
    async with trio.open_nursery() as nursery:
        for i, j in layout.pairs():
            forward = layout.matrix.one_way_s(i - 1, j - 1, layout.scale)
            backward = layout.matrix.one_way_s(j - 1, i - 1, layout.scale)
            listeners = await trio.open_tcp_listeners(layout.proxy_port(i, j), host="127.0.0.1")

            async def handler(
                stream: trio.SocketStream, j: int = j, f: float = forward, b: float = backward
            ) -> None:
                await _handle(stream, layout.peer_port(j), f, b)

            nursery.start_soon(trio.serve_listeners, handler, listeners)
            log.info("proxy %d→%d on :%d: +%.1f ms / +%.1f ms", i, j,
                     layout.proxy_port(i, j), forward * 1e3, backward * 1e3)
        task_status.started()


# --- replicas -----------------------------------------------------------------------------



def start_replicas(layout: Layout, files: list[Path]) -> dict[int, subprocess.Popen[bytes]]:
    procs = {}
    for rid, path in enumerate(files, start=1):
        logfile = (layout.directory / f"replica-{rid}.log").open("ab")
        procs[rid] = subprocess.Popen(
            [sys.executable, "-m", "epaxosdb", "serve", "--config", str(path), "--id", str(rid),
             "--log-level", "warning"],
            stdout=logfile, stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches this tool, which stops them in order
        )
        logfile.close()
    return procs


def stop_replicas(procs: dict[int, subprocess.Popen[bytes]]) -> None:
    for p in procs.values():
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for rid, p in procs.items():
        try:
            p.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            log.warning("replica %d (pid %d) ignored SIGTERM; killing it", rid, p.pid)
            p.kill()
            p.wait(STOP_TIMEOUT_S)


async def serve(layout: Layout, with_replicas: bool) -> int:
    files = layout.write_files()
    procs: dict[int, subprocess.Popen[bytes]] = {}
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(run_proxies, layout)
            if with_replicas:
                procs = start_replicas(layout, files)
                deadline = trio.current_time() + READY_TIMEOUT_S
                waiting = set(procs)
                while waiting:
                    for rid in sorted(waiting):
                        if procs[rid].poll() is not None:
                            log.error("replica %d exited with code %s; see %s", rid,
                                      procs[rid].returncode,
                                      layout.directory / f"replica-{rid}.log")
                            return 1
                        if await trio.to_thread.run_sync(answers_ping, layout.client_port(rid)):
                            waiting.discard(rid)
                    if trio.current_time() > deadline:
                        log.error("replicas %s did not answer PING in time", sorted(waiting))
                        return 1
                    await trio.sleep(0.1)
            print(describe(layout, with_replicas), flush=True)
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    break
            nursery.cancel_scope.cancel()
    finally:
        stop_replicas(procs)
    return 0


def describe(layout: Layout, running: bool) -> str:
    m = layout.matrix
    lines = [
        f"WAN emulation: {layout.n} sites, RTTs from {m.notes}, scaled ×{layout.scale:g}",
        f"files in {layout.directory}",
        "site  replica  client port  fast path (1 RTT)  slow path (2 majority RTTs)",
    ]
    for rid, (site, fast, slow) in enumerate(expected_paths(m, layout.scale), start=1):
        lines.append(f"{site:<5} {rid:<8} {layout.client_port(rid):<12} "
                     f"{fast:>8.1f} ms    {slow:>8.1f} ms")
    ports = " ".join(f"--port {layout.client_port(r)}" for r in range(1, layout.n + 1))
    if running:
        lines.append(f"bench: epaxosdb bench {ports} --clients {10 * layout.n} --duration 20")
    else:
        lines.append("start each replica with: epaxosdb serve --config "
                     f"{layout.directory}/cluster-N.toml --id N")
    lines.append("Ctrl-C stops the proxies" + (" and the replicas" if running else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("mode", choices=["local", "proxies", "show"])
    parser.add_argument("--matrix", default="paper5",
                        help="paper3, paper5, or a JSON file {sites, rtt_ms}")
    parser.add_argument("--scale", type=float, default=0.1,
                        help="multiply every RTT by this (0.1: the paper's 85 ms becomes 8.5 ms)")
    parser.add_argument("--port", type=int, default=7400,
                        help="client port of replica 1; peers +1000, proxies +2000")
    parser.add_argument("--data-dir", type=Path, default=Path("epaxosdb-wan"))
    parser.add_argument("--tick-ms", type=int, default=None,
                        help="[cluster] tick_ms for the replicas (default: epaxosdb's, 10)")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s: %(message)s")
    if not 0 <= args.scale <= 100:
        parser.error("--scale must be between 0 and 100")
    layout = Layout(load_matrix(args.matrix), args.scale, args.port, args.data_dir.resolve(),
                    args.tick_ms)
    if args.mode == "show":
        print(describe(layout, running=False))
        return 0
    return trio.run(serve, layout, args.mode == "local")


if __name__ == "__main__":
    sys.exit(main())

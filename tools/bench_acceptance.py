"""The issue's acceptance benchmark: one epaxosdb replica against fsync-always Redis.

Starts, on free ports, one ``redis-server --appendonly yes --appendfsync
always --save ""`` and one single-replica epaxosdb per ``--tree`` (a source
tree to run, default this checkout; give several to compare builds side by
side in one run on the same noisy machine), then runs ``redis-benchmark -t
set,get -n N -r 1000000 -d 16 -c 50 -P p`` against each, round-robin, for
every ``-P`` and ``--rounds`` times. Every process is started and stopped
here by its PID.

Besides redis-benchmark's ops/s, p50 and p99, it reports the server's CPU
time per request (user+sys from ``/proc/PID/stat`` over the run): on a
2-core machine shared with other work, throughput is noisy while CPU per
request is not, so that is the figure to compare builds by.

    .venv/bin/python tools/bench_acceptance.py [--tree DIR ...] [--pipeline 1 16]
        [--requests 200000] [--rounds 3] [--tests set,get] [--json]

With ``--tls-peers`` each tree runs twice, as a plain cluster and as one
whose replicas talk mutual TLS (``[cluster] tls_peers``, certificates from a
throw-away ``trustme`` CA), named NAME and NAME+tls, so the cost of TLS
between replicas is measured side by side in one run (use ``--replicas 3``:
a single replica has no peers).

Timing lives here, never in tests.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = REPO / ".venv" / "bin" / "python"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
START_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cpu_seconds(pid: int, tid: int | None = None) -> float:
    """user+sys CPU so far of a process and all its threads, or of one thread."""
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_mb(pid: int, field_name: str) -> float:
    """A ``/proc/PID/status`` memory field (``VmHWM``: peak RSS; ``RssAnon``: heap) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        out = subprocess.run(
            ["redis-cli", "-p", str(port), "ping"], capture_output=True, timeout=5
        ).stdout
        if out.strip() == b"PONG":
            return
        time.sleep(0.2)
    raise RuntimeError(f"server on port {port} did not answer PING")


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    others: list[subprocess.Popen[bytes]] = field(default_factory=list)
    """Further replicas of the same cluster."""

    def stop(self) -> None:
        for proc in (self.proc, *self.others):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in (self.proc, *self.others):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def info(self, section: str) -> dict[str, str]:
        out = subprocess.run(
            ["redis-cli", "-p", str(self.port), "info", section], capture_output=True, timeout=10
        ).stdout.decode()
        pairs = (line.split(":", 1) for line in out.splitlines() if ":" in line)
        return {k: v.strip() for k, v in pairs}


def start_redis(workdir: Path) -> Server:
    port = free_port()
    d = workdir / "redis"
    d.mkdir()
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(d),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_ready(port, proc)
    return Server("redis", port, proc)


def peer_certificates(directory: Path) -> str:
    """``[cluster]`` lines for ``tls_peers`` with a fresh CA and one certificate for every
    replica, written under ``directory``."""
    import trustme  # the test extra: only --tls-peers needs it

    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    replica = ca.issue_cert("127.0.0.1")
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    replica.cert_chain_pems[0].write_to_path(str(directory / "replica.pem"))
    replica.private_key_pem.write_to_path(str(directory / "replica.key"))
    return (
        f'[cluster]\ntls_peers = true\ntls_cert_file = "{directory / "replica.pem"}"\n'
        f'tls_key_file = "{directory / "replica.key"}"\n'
        f'tls_ca_cert_file = "{directory / "ca.pem"}"\n\n'
    )


def start_epaxosdb(
    name: str, tree: Path, workdir: Path, replicas: int = 1, *, tls_peers: bool = False
) -> Server:
    """A cluster of ``replicas`` on loopback; the benchmark talks to replica 1 only.

    The other replicas run as further processes (stopped with the first);
    the CPU figures are replica 1's. ``tls_peers``: the replicas talk mutual TLS.
    """
    d = workdir / name
    d.mkdir()
    ports = [(free_port(), free_port()) for _ in range(replicas)]
    config = d / "cluster.toml"
    header = peer_certificates(d / "tls") if tls_peers else ""
    config.write_text(
        header
        + "".join(
            f'[[replica]]\nid = {i}\nclient = "127.0.0.1:{client}"\n'
            f'peer = "127.0.0.1:{peer}"\ndata_dir = "d{i}"\n\n'
            for i, (client, peer) in enumerate(ports, start=1)
        )
    )
    env = dict(os.environ, PYTHONPATH=str(tree))
    procs = []
    for i in range(1, replicas + 1):
        with open(d / f"stderr{i}.log", "wb") as stderr:
            procs.append(
                subprocess.Popen(
                    [
                        str(PYTHON),
                        "-m",
                        "epaxosdb",
                        "serve",
                        "--config",
                        str(config),
                        "--id",
                        str(i),
                    ],
                    cwd=d,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                )
            )
    wait_ready(ports[0][0], procs[0])
    return Server(name, ports[0][0], procs[0], procs[1:])


@dataclass
class Result:
    server: str
    pipeline: int
    test: str
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us_per_req: float
    extra: dict[str, float] = field(default_factory=dict)


def run_benchmark(
    server: Server,
    test: str,
    pipeline: int,
    requests: int,
    *,
    clients: int = 50,
    hot_key: bool = False,
) -> Result:
    """One redis-benchmark run; ``hot_key`` drops ``-r`` so every request hits one key
    (the 100%-conflict case)."""
    before = cpu_seconds(server.proc.pid)
    main_before = cpu_seconds(server.proc.pid, server.proc.pid)
    info_before = server.info("epaxos") if server.name != "redis" else {}
    out = subprocess.run(
        [
            "redis-benchmark",
            "-p",
            str(server.port),
            "-t",
            test,
            "-n",
            str(requests),
            *([] if hot_key else ["-r", "1000000"]),
            "-d",
            "16",
            "-c",
            str(clients),
            "-P",
            str(pipeline),
            "--csv",
        ],
        capture_output=True,
        timeout=1800,
        check=True,
    ).stdout.decode()
    cpu = cpu_seconds(server.proc.pid) - before
    main_cpu = cpu_seconds(server.proc.pid, server.proc.pid) - main_before
    rows = list(csv.DictReader(io.StringIO(out)))
    row = rows[-1]  # LRANGE_* runs are preceded by the LPUSH that fills their list
    extra: dict[str, float] = {}
    if info_before:
        after = server.info("epaxos")
        for k in (
            "loop_turns",
            "fsyncs",
            "instances_executed",
            "loop_core_s",
            "loop_execute_s",
            "loop_flushes",
            "loop_flushed_keys",
            "loop_apply_s",
            "loop_release_s",
        ):
            if k in after and k in info_before:
                extra[k] = round(float(after[k]) - float(info_before[k]), 3)
        extra["main_thread_us_per_req"] = round(1e6 * main_cpu / requests, 1)
        extra["peak_rss_mb"] = memory_mb(server.proc.pid, "VmHWM")
        extra["anon_rss_mb"] = memory_mb(server.proc.pid, "RssAnon")
        if extra.get("fsyncs"):
            extra["cmds_per_fsync"] = round(requests / extra["fsyncs"], 1)
    return Result(
        server.name,
        pipeline,
        test,
        float(row["rps"]),
        float(row["p50_latency_ms"]),
        float(row["p99_latency_ms"]),
        1e6 * cpu / requests,
        extra,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tree",
        action="append",
        type=Path,
        default=None,
        help="epaxosdb source tree to run (repeatable); default: this repo",
    )
    parser.add_argument("--name", action="append", default=None, help="label per --tree")
    parser.add_argument("--pipeline", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--tests", default="set,get")
    parser.add_argument("--no-redis", action="store_true")
    parser.add_argument("--clients", type=int, default=50, help="redis-benchmark -c")
    parser.add_argument(
        "--hot-key", action="store_true", help="no -r: every request to one key (100%% conflict)"
    )
    parser.add_argument(
        "--replicas", type=int, default=1, help="cluster size (the issue's figure is 1)"
    )
    parser.add_argument(
        "--tls-peers",
        action="store_true",
        help="run each tree twice: plain, and with mutual TLS between replicas (NAME+tls)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON line per result")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="keep data dirs and logs here (default: temp)"
    )
    args = parser.parse_args()
    trees: list[Path] = args.tree or [REPO]
    names: list[str] = args.name or [
        f"epaxosdb{i}" if len(trees) > 1 else "epaxosdb" for i in range(len(trees))
    ]
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-acceptance-") as tmp:
        work = Path(tmp) if args.workdir is None else args.workdir
        work.mkdir(parents=True, exist_ok=True)
        servers: list[Server] = []
        try:
            if not args.no_redis:
                servers.append(start_redis(work))
            for name, tree in zip(names, trees, strict=True):
                servers.append(start_epaxosdb(name, tree.resolve(), work, args.replicas))
                if args.tls_peers:
                    servers.append(
                        start_epaxosdb(
                            f"{name}+tls", tree.resolve(), work, args.replicas, tls_peers=True
                        )
                    )
            for _ in range(args.rounds):
                for pipeline in args.pipeline:
                    for test in args.tests.split(","):
                        for server in servers:
                            r = run_benchmark(
                                server, test, pipeline, args.requests,
                                clients=args.clients, hot_key=args.hot_key,
                            )
                            results.append(r)
                            line = (
                                json.dumps(r.__dict__)
                                if args.json
                                else (
                                    f"{r.server:>12} P={r.pipeline:<2} {r.test:<3} "
                                    f"{r.rps:>9.0f}/s p50={r.p50_ms:.3f} p99={r.p99_ms:.3f} "
                                    f"cpu={r.cpu_us_per_req:.1f}us/req {r.extra or ''}"
                                )
                            )
                            print(line, flush=True)
        finally:
            for server in servers:
                server.stop()
    print("\nmedians:")
    medians: dict[tuple[int, str, str], float] = {}
    for pipeline, test, name in sorted({(r.pipeline, r.test, r.server) for r in results}):
        rs = [r for r in results if (r.pipeline, r.test, r.server) == (pipeline, test, name)]
        medians[pipeline, test, name] = statistics.median(r.rps for r in rs)
        print(
            f"{name:>12} P={pipeline:<2} {test:<3} "
            f"{medians[pipeline, test, name]:>9.0f}/s "
            f"p50={statistics.median(r.p50_ms for r in rs):.3f} "
            f"p99={statistics.median(r.p99_ms for r in rs):.3f} "
            f"cpu={statistics.median(r.cpu_us_per_req for r in rs):.1f}us/req"
        )
    for (pipeline, test, name), rps in medians.items():
        redis_rps = medians.get((pipeline, test, "redis"))
        if name != "redis" and redis_rps:
            print(f"{name:>10} P={pipeline:<2} {test:<3} {100 * rps / redis_rps:5.1f}% of redis")
        plain_rps = medians.get((pipeline, test, name.removesuffix("+tls")))
        if name.endswith("+tls") and plain_rps:
            print(
                f"{name:>10} P={pipeline:<2} {test:<3} {100 * rps / plain_rps:5.1f}% of "
                f"{name.removesuffix('+tls')} (TLS between replicas)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

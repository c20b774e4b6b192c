"""``epaxosdb local``: a whole cluster on this machine, one process per replica.

Replica ``i`` serves clients on ``port + i - 1`` and peers on ``port + 1000 +
i - 1``; its data lives in ``<data-dir>/<i>``; the generated cluster file is
``<data-dir>/cluster.toml``. Running it again on the same data dir recovers
the data. Ctrl-C (SIGINT) or SIGTERM stops every replica cleanly.
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from epaxosdb.clusterfile import ClusterFileError, load_cluster, render_cluster

log = logging.getLogger("epaxosdb.local")

READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0


def cluster_file(replicas: int, port: int, data_dir: Path) -> Path:
    """Write (or check) the cluster file for a local cluster of ``replicas``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "cluster.toml"
    text = render_cluster(
        [
            (i, f"127.0.0.1:{port + i - 1}", f"127.0.0.1:{port + 1000 + i - 1}", str(i))
            for i in range(1, replicas + 1)
        ]
    )
    if path.exists():
        try:
            existing = load_cluster(path)
        except ClusterFileError as exc:
            raise SystemExit(f"{path} exists but is not a valid cluster file: {exc}") from None
        if len(existing.replicas) != replicas:
            raise SystemExit(
                f"{data_dir} holds a {len(existing.replicas)}-replica cluster; run with "
                f"--replicas {len(existing.replicas)} or choose another --data-dir"
            )
        ports = [(r.id, r.client.port, r.peer.port) for r in existing.replicas]
        if ports != [(i, port + i - 1, port + 1000 + i - 1) for i in range(1, replicas + 1)]:
            # The cluster's identity comes from its file: other ports make another
            # cluster, which the replicas' data directories would refuse. The file stays
            # as it is (a cluster may be running from it).
            first = existing.replicas[0].client.port
            raise SystemExit(
                f"{data_dir} holds a cluster on client ports from {first} (see {path}); "
                f"run with --port {first} or choose another --data-dir"
            )
        return path
    path.write_text(text)
    return path


def answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def run_local(replicas: int, port: int, data_dir: Path, log_level: str) -> int:
    data_dir = data_dir.resolve()
    config = cluster_file(replicas, port, data_dir)
    procs: dict[int, subprocess.Popen[bytes]] = {}
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for i in range(1, replicas + 1):
        procs[i] = subprocess.Popen(
            [sys.executable, "-m", "epaxosdb", "serve", "--config", str(config), "--id", str(i),
             "--log-level", log_level],
            start_new_session=True,  # Ctrl-C reaches us; we stop the replicas in order
        )
    deadline = time.monotonic() + READY_TIMEOUT_S
    ready: set[int] = set()
    while len(ready) < replicas and not stopping and time.monotonic() < deadline:
        for i, p in procs.items():
            if p.poll() is not None:
                log.error("replica %d exited with code %d during start-up", i, p.returncode)
                _stop_all(procs)
                return 1
            if i not in ready and answers_ping(port + i - 1):
                ready.add(i)
        time.sleep(0.1)
    if len(ready) < replicas and not stopping:
        log.error("replicas %s did not answer PING within %.0fs", sorted(set(procs) - ready),
                  READY_TIMEOUT_S)
        _stop_all(procs)
        return 1
    if not stopping:
        noun = "replica" if replicas == 1 else "replicas"
        lines = [f"epaxosdb: {replicas} {noun} running, data in {data_dir}"]
        for i in range(1, replicas + 1):
            lines.append(f"  replica {i}:  redis-cli -p {port + i - 1}    (pid {procs[i].pid})")
        lines.append("Ctrl-C stops the cluster; running it again recovers the data.")
        print("\n".join(lines), flush=True)
    reported: set[int] = set()
    while not stopping:
        for i, p in procs.items():
            if p.poll() is not None and i not in reported:
                reported.add(i)
                log.warning(
                    "replica %d exited with code %d; the others keep serving. Start it "
                    "again (it recovers from its data dir) with: "
                    "%s -m epaxosdb serve --config %s --id %d",
                    i, p.returncode, sys.executable, config, i,
                )
        if len(reported) == replicas:
            return 1
        time.sleep(0.2)
    return _stop_all(procs)


def _stop_all(procs: dict[int, subprocess.Popen[bytes]]) -> int:
    for p in procs.values():
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    code = 0
    for i, p in procs.items():
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.error("replica %d did not stop within %.0fs; killing it", i, STOP_TIMEOUT_S)
            p.kill()
            p.wait()
            code = 1
    log.info("all replicas stopped")
    return code

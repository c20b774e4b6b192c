"""``epaxosdb local``: a whole cluster on this machine, one process per replica.

Replica ``i`` serves clients on ``port + i - 1`` and peers on ``port + 1000 +
i - 1``; its data lives in ``<data-dir>/<i>``; the generated cluster file is
``<data-dir>/cluster.toml``. Running it again on the same data dir recovers
the data. Ctrl-C (SIGINT), SIGTERM or SIGHUP (its terminal closed) stops every
replica cleanly; if ``local`` dies without stopping them (``kill -9``), each
replica is sent SIGTERM by the kernel (Linux: ``PR_SET_PDEATHSIG``).

Before writing or starting anything it refuses ports past 65535 and ports
another process listens on (an earlier ``local`` still running, say, whose
replicas would otherwise answer this one's PINGs).

With ``--tls-cert-file``/``--tls-key-file``/``--tls-ca-cert-file`` (``LocalTls``)
replica ``i`` also serves TLS clients on ``port + 10 + i - 1`` (6389-6391 for
the default cluster), with those files for every replica; the files are checked
before anything starts. The cluster file then names them; a later run with
other TLS options (or none) rewrites its TLS lines and keeps the rest, as the
cluster's identity does not depend on them. ``--tls-peers`` makes the replicas
talk to each other over mutual TLS with the same files (``tls_peers``), which
needs the CA to check each other's certificate.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from epaxosdb.certificates import CertificateError, peer_contexts, server_context
from epaxosdb.clusterfile import (
    ClusterConfig,
    ClusterFileError,
    TlsSettings,
    derive_cluster_id,
    load_cluster,
    render_cluster,
)

log = logging.getLogger("epaxosdb.local")

READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0


PEER_PORT_OFFSET = 1000
TLS_PORT_OFFSET = 10
"""Replica i's TLS port is ``port + 10 + i - 1``: past the plain ports of 7 replicas."""


class LocalRefused(SystemExit):
    """A start refused before anything was written or started; the CLI exits 2."""


@dataclass(frozen=True)
class LocalTls:
    """The TLS files every replica of a local cluster serves with (absolute paths)."""

    cert_file: Path
    key_file: Path
    ca_cert_file: Path | None
    auth_clients: str = "yes"
    peers: bool = False
    """Replicas talk mutual TLS with these files too (``tls_peers``)."""

    @property
    def settings(self) -> TlsSettings:
        return TlsSettings(self.cert_file, self.key_file, self.ca_cert_file, self.auth_clients)

    def check(self) -> None:
        """Refuse files the replicas could not serve with, before anything starts."""
        try:
            server_context(self.settings)
        except CertificateError as exc:
            raise LocalRefused(f"cannot serve TLS clients: {exc}") from None
        if self.peers:
            try:
                peer_contexts(self.settings)
            except CertificateError as exc:
                raise LocalRefused(f"cannot speak TLS to peers: {exc}") from None

    def redis_cli(self, port: int) -> str:
        """The redis-cli line that reaches TLS port ``port`` with these files."""
        trust = f"--cacert {self.ca_cert_file}" if self.ca_cert_file else "--insecure"
        mine = f" --cert {self.cert_file} --key {self.key_file}"
        return f"redis-cli --tls {trust}{'' if self.auth_clients == 'no' else mine} -p {port}"


def tls_port(port: int, i: int) -> int:
    """Replica ``i``'s TLS port when replica 1's client port is ``port``."""
    return port + TLS_PORT_OFFSET + i - 1


def ports(replicas: int, port: int, tls: bool = False) -> list[int]:
    """Every port the cluster listens on: client ports, peer ports, then TLS ports."""
    clients = [port + i for i in range(replicas)]
    tls_ports = [tls_port(port, i) for i in range(1, replicas + 1)] if tls else []
    return clients + [p + PEER_PORT_OFFSET for p in clients] + tls_ports


def check_port_range(replicas: int, port: int) -> None:
    """Refuse a ``--port`` whose client or peer ports fall outside 1..65535."""
    highest = port + PEER_PORT_OFFSET + replicas - 1
    if port < 1:
        raise LocalRefused(f"--port {port} does not fit: ports start at 1")
    if highest > 65535:
        raise LocalRefused(
            f"--port {port} does not fit: {replicas} replicas listen on client ports "
            f"{port}-{port + replicas - 1} and peer ports {port + PEER_PORT_OFFSET}-{highest}, "
            f"and ports end at 65535 (use --port {65535 - PEER_PORT_OFFSET - replicas + 1} "
            "or lower)"
        )


def ports_in_use(replicas: int, port: int, tls: bool = False) -> list[tuple[int, str]]:
    """The ports of the cluster that cannot be listened on now, with the reason.

    The test binds 127.0.0.1 as the replicas will (with ``SO_REUSEADDR``, as trio's
    listeners do: a port left in TIME_WAIT by a stopped cluster is free, a port
    something listens on — on 127.0.0.1 or on every address — is not)."""
    busy = []
    for p in ports(replicas, port, tls):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", p))
            except OSError as exc:
                busy.append((p, exc.strerror or str(exc)))
    return busy


def cluster_file(
    replicas: int, port: int, data_dir: Path, tls: LocalTls | None = None
) -> Path:
    """Write (or check) the cluster file for a local cluster of ``replicas``, serving TLS
    clients too with ``tls``. An existing file is kept unless its TLS settings differ."""
    check_port_range(replicas, port)
    existing = _check_existing(replicas, port, data_dir)
    path = data_dir / "cluster.toml"
    wanted_peers = tls is not None and tls.peers
    if (
        existing is not None
        and _tls_of(existing) == _wanted_tls(replicas, port, tls)
        and existing.tls_peers == wanted_peers
    ):
        return path
    settings: dict[str, str | int | bool] = {}
    tick_ms = None
    if existing is not None:
        # Rewritten for other TLS options: what else the file set stays.
        if existing.cluster_id != derive_cluster_id(existing.replicas):
            raise LocalRefused(
                f"{path} names its cluster ([cluster] id), which this rewrite would lose: "
                "put the TLS settings in it by hand"
            )
        tick_ms = existing.tick_ms
        if existing.secret:
            settings["secret"] = existing.secret.decode()
        if existing.requirepass:
            settings["requirepass"] = existing.requirepass
        settings.update((k, v) for k, v in existing.settings.items() if isinstance(v, int))
    if tls is not None:
        settings["tls_cert_file"] = str(tls.cert_file)
        settings["tls_key_file"] = str(tls.key_file)
        if tls.ca_cert_file is not None:
            settings["tls_ca_cert_file"] = str(tls.ca_cert_file)
        settings["tls_auth_clients"] = tls.auth_clients
        if tls.peers:
            settings["tls_peers"] = True
    text = render_cluster(
        [
            (i, f"127.0.0.1:{port + i - 1}",
             f"127.0.0.1:{port + PEER_PORT_OFFSET + i - 1}", str(i))
            for i in range(1, replicas + 1)
        ],
        tls_clients={
            i: f"127.0.0.1:{tls_port(port, i)}" for i in range(1, replicas + 1)
        } if tls is not None else None,
        settings=settings,
        **({"tick_ms": tick_ms} if tick_ms is not None else {}),
    )  # fmt: skip
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _tls_of(cluster: ClusterConfig) -> list[tuple[int, int, TlsSettings] | None]:
    return [
        (r.id, r.tls_client.port, r.tls) if r.tls_client is not None else None
        for r in cluster.replicas
    ]


def _wanted_tls(
    replicas: int, port: int, tls: LocalTls | None
) -> list[tuple[int, int, TlsSettings] | None]:
    return [
        (i, tls_port(port, i), tls.settings) if tls is not None else None
        for i in range(1, replicas + 1)
    ]


def _check_existing(replicas: int, port: int, data_dir: Path) -> ClusterConfig | None:
    """Refuse a data dir whose cluster file describes another cluster (it is kept); the
    cluster it describes, if any."""
    path = data_dir / "cluster.toml"
    if not path.exists():
        return None
    try:
        existing = load_cluster(path)
    except ClusterFileError as exc:
        raise LocalRefused(
            f"{path} exists but is not a valid cluster file: {exc} (delete it if no "
            "cluster runs from it)"
        ) from None
    if len(existing.replicas) != replicas:
        raise LocalRefused(
            f"{data_dir} holds a {len(existing.replicas)}-replica cluster; run with "
            f"--replicas {len(existing.replicas)} or choose another --data-dir"
        )
    have = [(r.id, r.client and r.client.port, r.peer.port) for r in existing.replicas]
    want = [(i, port + i - 1, port + PEER_PORT_OFFSET + i - 1) for i in range(1, replicas + 1)]
    if have != want:
        # The cluster's identity comes from its file: other ports make another
        # cluster, which the replicas' data directories would refuse. The file stays
        # as it is (a cluster may be running from it).
        first = have[0][1]
        raise LocalRefused(
            f"{data_dir} holds a cluster on client ports from {first} (see {path}); "
            f"run with --port {first} or choose another --data-dir"
        )
    return existing


def answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


PR_SET_PDEATHSIG = 1


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the kernel send the child SIGTERM when ``local`` dies,
    however it dies (Linux only; elsewhere ``None``). The child runs in its own
    session, out of reach of the terminal's signals, so nothing else would."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before the fork
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        if prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:  # local died before the prctl: nobody would tell us
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def run_local(
    replicas: int, port: int, data_dir: Path, log_level: str, tls: LocalTls | None = None
) -> int:
    data_dir = data_dir.resolve()
    check_port_range(replicas, port)
    _check_existing(replicas, port, data_dir)
    if tls is not None:
        tls.check()
    busy = ports_in_use(replicas, port, tls is not None)
    if busy:
        listed = ", ".join(f"{p} ({reason})" for p, reason in busy)
        raise LocalRefused(
            f"cannot start: ports {listed} are not free (another epaxosdb local, or another "
            "server, listens on them); stop it, or choose other ports with --port (this "
            f"cluster needs client ports {port}-{port + replicas - 1} and peer ports "
            f"{port + PEER_PORT_OFFSET}-{port + PEER_PORT_OFFSET + replicas - 1}"
            + (f", TLS ports {tls_port(port, 1)}-{tls_port(port, replicas)})" if tls else ")")
        )
    config = cluster_file(replicas, port, data_dir, tls)
    procs: dict[int, subprocess.Popen[bytes]] = {}
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)
    preexec = _die_with_parent()
    for i in range(1, replicas + 1):
        procs[i] = subprocess.Popen(
            [sys.executable, "-m", "epaxosdb", "serve", "--config", str(config), "--id", str(i),
             "--log-level", log_level],
            start_new_session=True,  # Ctrl-C reaches us; we stop the replicas in order
            preexec_fn=preexec,
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
            if tls is not None:
                lines.append(f"              {tls.redis_cli(tls_port(port, i))}")
        if tls is not None and tls.peers:
            lines.append("Replicas talk to each other over mutual TLS (tls_peers).")
        lines.append("Ctrl-C stops the cluster; running it again recovers the data.")
        print("\n".join(lines), flush=True)
    reported: set[int] = set()
    while not stopping:
        for i, p in procs.items():
            if p.poll() is not None and i not in reported:
                reported.add(i)
                running = replicas - len(reported)
                others = (
                    f"{running} other {'replica keeps' if running == 1 else 'replicas keep'} "
                    "serving" if running else "no replica is running any more"
                )
                log.warning(
                    "replica %d exited with code %d; %s. Start it again (it recovers from "
                    "its data dir) with: %s -m epaxosdb serve --config %s --id %d",
                    i, p.returncode, others, sys.executable, config, i,
                )  # fmt: skip
        if len(reported) == replicas:
            log.error("every replica has exited; stopping")
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

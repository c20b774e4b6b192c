"""``epaxosdb local`` refuses, before writing or starting anything, ports it cannot use.

A QA run started ``local`` while another cluster served on the same ports: the old
replicas answered its PINGs, it announced "3 replicas running", and then reported its
own replicas' exits (port in use).
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from epaxosdb.cli import EXIT_REFUSED
from epaxosdb.local import PEER_PORT_OFFSET, ports_in_use

TIMEOUT_S = 60


def test_ports_in_use_names_a_port_something_listens_on() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert port in [p for p, _ in ports_in_use(1, port)]
        base = port - PEER_PORT_OFFSET  # the peer port of replica 1
        assert port in [p for p, _ in ports_in_use(3, base)]
    assert port not in [p for p, _ in ports_in_use(1, port)], "free once closed"


def test_local_refuses_a_peer_port_in_use_before_writing_or_starting_anything(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "epaxosdb-data"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "epaxosdb", "local", "--port", str(port - PEER_PORT_OFFSET),
             "--data-dir", str(data_dir)],
            capture_output=True, text=True, timeout=TIMEOUT_S,
        )  # fmt: skip
    assert done.returncode == EXIT_REFUSED, done.stderr
    assert f"ports {port} (" in done.stderr or f", {port} (" in done.stderr, done.stderr
    assert "are not free" in done.stderr and "Traceback" not in done.stderr
    assert "running" not in done.stdout
    assert not data_dir.exists(), "nothing is written for a refused start"


def test_local_refuses_a_port_range_past_65535_with_exit_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "epaxosdb", "local", "--port", "65000",
         "--data-dir", str(tmp_path / "d")],
        capture_output=True, text=True, timeout=TIMEOUT_S,
    )  # fmt: skip
    assert done.returncode == EXIT_REFUSED, done.stderr
    assert "ports end at 65535" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "d").exists()


def test_local_refuses_tls_peers_without_the_files_it_needs(tmp_path: Path) -> None:
    """Mutual TLS between replicas needs a certificate, its key and the CA that checks
    the other side's: refused as a usage error naming them, before anything is written."""
    for extra in ([], ["--tls-cert-file", "c.pem", "--tls-key-file", "k.pem",
                       "--tls-auth-clients", "no"]):  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-m", "epaxosdb", "local", "--port", "17300", "--tls-peers",
             "--data-dir", str(tmp_path / "d"), *extra],
            capture_output=True, text=True, timeout=TIMEOUT_S,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert "--tls-peers needs --tls-cert-file, --tls-key-file and --tls-ca-cert-file" in (
            done.stderr
        )
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "d").exists()

"""``make run`` in miniature: ``epaxosdb local`` starts, Ctrl-C stops it, a rerun recovers.

The README's ``make run`` is ``epaxosdb local`` on ports 6379-6381, which a
test cannot assume are free, so this runs ``epaxosdb local --port BASE``
with BASE..BASE+2 (clients) and BASE+1000..BASE+1002 (peers) checked free.
It uses the tools a user would: ``redis-cli`` to write through one replica
and read through another. Ctrl-C is a SIGINT to the ``local`` process (its
replicas run in their own sessions, as the terminal's signal would not
reach them either); it must stop every replica and exit 0.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import trustme

from tests.integration.cluster import ping_raw, port_is_free, redis_cli, tool, wait_until

REPLICAS = 3
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 40.0
PORT_ATTEMPTS = 200


def free_base_port(replicas: int = REPLICAS) -> int:
    """A base port whose client ports, peer ports (+1000) and TLS ports (+10) are all free."""
    rng = random.Random()
    for _ in range(PORT_ATTEMPTS):
        base = rng.randrange(20_000, 40_000)
        ports = [base + offset + i for i in range(replicas) for offset in (0, 10, 1000)]
        if all(port_is_free(p) for p in ports):
            return base
    raise RuntimeError("no free range of ports for epaxosdb local")


class LocalCluster:
    """One ``epaxosdb local`` process and the replica pids it reported (for clean-up)."""

    def __init__(
        self, base: int, data_dir: Path, log: Path, replicas: int = REPLICAS, *extra: str
    ) -> None:
        self.base = base
        self.log = log
        self.replicas = replicas
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "epaxosdb", "local", "--port", str(base),
                 "--data-dir", str(data_dir), "--replicas", str(replicas), *extra],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )  # fmt: skip
        self.replica_pids: list[int] = []

    def wait_ready(self) -> None:
        def all_pong() -> bool:
            assert self.process.poll() is None, f"epaxosdb local exited\n{self.output()}"
            return all(
                ping_raw(self.base + i).startswith(b"+PONG") for i in range(self.replicas)
            )

        wait_until(all_pong, START_TIMEOUT_S, f"epaxosdb local answering PING\n{self.output()}")
        wait_until(lambda: "running, data in" in self.output(), 30, "the start-up banner")
        for i in range(self.replicas):
            info = redis_cli(self.base + i, "INFO", "server").stdout.decode()
            pid = next(ln for ln in info.splitlines() if ln.startswith("process_id:"))
            self.replica_pids.append(int(pid.split(":")[1]))

    def interrupt(self, signum: int = signal.SIGINT) -> int:
        """Ctrl-C: SIGINT to ``local``; returns its exit code (bounded wait)."""
        self.process.send_signal(signum)
        return self.process.wait(STOP_TIMEOUT_S)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-5000:]

    def kill_leftovers(self) -> None:
        """After a failure: stop ``local`` and the replicas it started, by PID."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT_S)
        for pid in self.replica_pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _gone(pid: int) -> bool:
    return not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def local_runs(tmp_path: Path) -> Iterator[list[LocalCluster]]:
    runs: list[LocalCluster] = []
    try:
        yield runs
    finally:
        for run in runs:
            run.kill_leftovers()


def test_local_cluster_replicates_stops_on_ctrl_c_and_recovers_on_rerun(
    tmp_path: Path, local_runs: list[LocalCluster]
) -> None:
    base = free_base_port()
    data_dir = tmp_path / "epaxosdb-data"
    log = tmp_path / "local.log"

    first = LocalCluster(base, data_dir, log)
    local_runs.append(first)
    first.wait_ready()
    wait_until(lambda: "3 replicas running" in first.output(), 30, "the start-up banner")
    written = redis_cli(base + 1, "SET", "a", "1")
    assert written.stdout == b"OK\n", written
    read = redis_cli(base + 2, "--no-raw", "GET", "a")
    assert read.stdout == b'"1"\n', read
    assert first.interrupt() == 0, first.output()
    for pid in first.replica_pids:
        wait_until(partial(_gone, pid), 10, f"replica pid {pid} gone after Ctrl-C")

    second = LocalCluster(base, data_dir, log)
    local_runs.append(second)
    second.wait_ready()
    for i in range(REPLICAS):
        recovered = redis_cli(base + i, "--no-raw", "GET", "a")
        assert recovered.stdout == b'"1"\n', (i, recovered, second.output())
    assert second.interrupt() == 0, second.output()


def test_a_replica_killed_under_local_can_be_started_again_with_the_command_it_logs(
    tmp_path: Path, local_runs: list[LocalCluster]
) -> None:
    """What a user of ``make run`` does to see a replica crash and come back.

    The banner names each replica's pid; after a ``kill -9`` the cluster keeps
    serving and ``local`` logs the exact command that starts that replica
    again, which recovers from its data dir and serves the same data.
    """
    base = free_base_port()
    cluster = LocalCluster(base, tmp_path / "epaxosdb-data", tmp_path / "local.log")
    local_runs.append(cluster)
    cluster.wait_ready()
    wait_until(lambda: "3 replicas running" in cluster.output(), 30, "the start-up banner")
    victim = cluster.replica_pids[1]
    assert f"redis-cli -p {base + 1}    (pid {victim})" in cluster.output()
    assert redis_cli(base, "SET", "before", "1").stdout == b"OK\n"

    os.kill(victim, signal.SIGKILL)
    marker = "Start it again (it recovers from its data dir) with: "
    wait_until(lambda: marker in cluster.output(), 30, "local noticing the dead replica")
    assert redis_cli(base + 2, "SET", "while-down", "2").stdout == b"OK\n"
    command = cluster.output().split(marker, 1)[1].splitlines()[0].split()
    assert command[1:4] == ["-m", "epaxosdb", "serve"] and command[-2:] == ["--id", "2"]

    with (tmp_path / "restarted.log").open("ab") as out:
        restarted = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
        )
    try:
        def serves_both() -> bool:
            got = [redis_cli(base + 1, "GET", key).stdout for key in ("before", "while-down")]
            return got == [b"1\n", b"2\n"]

        wait_until(serves_both, START_TIMEOUT_S, "the restarted replica serving the data")
    finally:
        restarted.send_signal(signal.SIGTERM)
        assert restarted.wait(STOP_TIMEOUT_S) == 0
    assert cluster.interrupt() == 0, cluster.output()


def test_sighup_to_local_stops_every_replica_cleanly(
    tmp_path: Path, local_runs: list[LocalCluster]
) -> None:
    """Closing the terminal sends SIGHUP; ``local`` died of it and left its replicas
    running as orphans (a QA run)."""
    cluster = LocalCluster(free_base_port(1), tmp_path / "data", tmp_path / "local.log", 1)
    local_runs.append(cluster)
    cluster.wait_ready()
    assert cluster.interrupt(signal.SIGHUP) == 0, cluster.output()
    for pid in cluster.replica_pids:
        wait_until(partial(_gone, pid), 10, f"replica pid {pid} gone after SIGHUP")
    assert "stopped cleanly" in cluster.output()


def test_replicas_die_with_local_when_it_is_killed_with_sigkill(
    tmp_path: Path, local_runs: list[LocalCluster]
) -> None:
    """No handler runs on SIGKILL: the kernel tells each replica (PR_SET_PDEATHSIG), which
    then stops as on SIGTERM."""
    cluster = LocalCluster(free_base_port(), tmp_path / "data", tmp_path / "local.log")
    local_runs.append(cluster)
    cluster.wait_ready()
    cluster.process.kill()
    cluster.process.wait(STOP_TIMEOUT_S)
    for pid in cluster.replica_pids:
        wait_until(partial(_gone, pid), STOP_TIMEOUT_S, f"replica pid {pid} gone with local")
    assert cluster.output().count("stopped cleanly") == REPLICAS, cluster.output()


def test_local_says_so_when_every_replica_has_exited(
    tmp_path: Path, local_runs: list[LocalCluster]
) -> None:
    """It said "the others keep serving" about the last one too."""
    cluster = LocalCluster(free_base_port(1), tmp_path / "data", tmp_path / "local.log", 1)
    local_runs.append(cluster)
    cluster.wait_ready()
    os.kill(cluster.replica_pids[0], signal.SIGKILL)
    assert cluster.process.wait(STOP_TIMEOUT_S) == 1, cluster.output()
    assert "no replica is running any more" in cluster.output()
    assert "keep serving" not in cluster.output() and "keeps serving" not in cluster.output()


def test_a_second_local_on_the_ports_of_a_running_one_is_refused(
    tmp_path: Path, local_runs: list[LocalCluster]
) -> None:
    """The running cluster used to answer the second one's PINGs: it announced replicas
    that were in fact exiting on a port in use."""
    base = free_base_port(1)
    first = LocalCluster(base, tmp_path / "first", tmp_path / "first.log", 1)
    local_runs.append(first)
    first.wait_ready()
    second = LocalCluster(base, tmp_path / "second", tmp_path / "second.log", 1)
    local_runs.append(second)
    assert second.process.wait(STOP_TIMEOUT_S) == 2, second.output()
    assert "are not free" in second.output() and "running" not in second.output()
    assert not (tmp_path / "second").exists()
    assert ping_raw(base).startswith(b"+PONG")
    assert first.interrupt() == 0, first.output()


def test_local_with_tls_options_serves_tls_ports_and_prints_the_redis_cli_line(
    tmp_path: Path, local_runs: list[LocalCluster]
) -> None:
    """``--tls-*`` gives replica i a TLS port at PORT+10+i-1 next to its plain one, and
    the banner's ``redis-cli --tls ...`` line works as printed; a rerun without them
    serves plain ports only, on the same data."""
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    files = {name: tmp_path / f"{name}.pem" for name in ("ca", "cert", "key")}
    ca.cert_pem.write_to_path(str(files["ca"]))
    leaf.cert_chain_pems[0].write_to_path(str(files["cert"]))
    leaf.private_key_pem.write_to_path(str(files["key"]))
    base = free_base_port()
    data_dir = tmp_path / "epaxosdb-data"
    log = tmp_path / "local.log"
    tls_options = ("--tls-cert-file", str(files["cert"]), "--tls-key-file", str(files["key"]),
                   "--tls-ca-cert-file", str(files["ca"]))  # fmt: skip

    first = LocalCluster(base, data_dir, log, REPLICAS, *tls_options)
    local_runs.append(first)
    first.wait_ready()
    expected = (
        f"redis-cli --tls --cacert {files['ca']} --cert {files['cert']} --key {files['key']}"
    )
    lines = [ln.strip() for ln in first.output().splitlines() if "--tls" in ln]
    assert lines == [f"{expected} -p {base + 10 + i}" for i in range(REPLICAS)], first.output()
    written = subprocess.run(
        [*lines[0].replace("redis-cli", tool("redis-cli"), 1).split(), "SET", "t", "tls"],
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert written.stdout == b"OK\n", written
    tls_args = lines[2].split()[1:-2]
    read = redis_cli(base + 12, *tls_args, "GET", "t")
    assert read.stdout == b"tls\n", read
    assert redis_cli(base + 1, "GET", "t").stdout == b"tls\n"
    assert first.interrupt() == 0, first.output()
    for pid in first.replica_pids:
        wait_until(partial(_gone, pid), 10, f"replica pid {pid} gone after Ctrl-C")

    second = LocalCluster(base, data_dir, log)
    local_runs.append(second)
    second.wait_ready()
    assert redis_cli(base, "GET", "t").stdout == b"tls\n"
    assert "tls_client" not in (data_dir / "cluster.toml").read_text()
    assert port_is_free(base + 10), "without --tls-* options there is no TLS port"
    assert second.interrupt() == 0, second.output()
    for pid in second.replica_pids:
        wait_until(partial(_gone, pid), 10, f"replica pid {pid} gone after Ctrl-C")

    # --tls-peers: the replicas talk mutual TLS with the same files, on the same data.
    third = LocalCluster(
        base, data_dir, tmp_path / "local-peers.log", REPLICAS, *tls_options, "--tls-peers"
    )
    local_runs.append(third)
    third.wait_ready()
    assert "Replicas talk to each other over mutual TLS" in third.output()
    assert "tls_peers = true" in (data_dir / "cluster.toml").read_text()
    assert redis_cli(base + 2, "GET", "t").stdout == b"tls\n"
    assert redis_cli(base, "SET", "peers", "over tls").stdout == b"OK\n"
    assert redis_cli(base + 2, "GET", "peers").stdout == b"over tls\n"
    assert redis_cli(base + 1, "CONFIG", "GET", "tls-replication").stdout == (
        b"tls-replication\nyes\n"
    )
    assert third.interrupt() == 0, third.output()

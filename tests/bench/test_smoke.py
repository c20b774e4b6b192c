"""One short real run: a 1-replica epaxosdb process started here, driven by ``epaxosdb bench``.

This checks that the pieces fit — worker processes, RESP over real sockets,
INFO deltas, the JSON line — not how fast anything is: timing belongs in
benchmarks, so nothing below asserts on latency or throughput values.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from epaxosdb.bench import command
from epaxosdb.bench.plot import load_pyplot
from epaxosdb.clusterfile import render_cluster
from epaxosdb.local import answers_ping
from tests.redis_server import free_port

READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0



@pytest.fixture
def replica_port(tmp_path: Path) -> Iterator[int]:
    """A 1-replica cluster in its own process; stopped by its PID afterwards."""
    port, peer = free_port(), free_port()
    config = tmp_path / "cluster.toml"
    config.write_text(
        render_cluster([(1, f"127.0.0.1:{port}", f"127.0.0.1:{peer}", "data1")])
    )
    log = (tmp_path / "replica.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "epaxosdb", "serve", "--config", str(config), "--id", "1",
         "--log-level", "warning"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not answers_ping(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(
                    f"replica did not answer PING (exit code {proc.poll()}):\n"
                    + (tmp_path / "replica.log").read_text()
                )
            time.sleep(0.1)
        yield port
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(STOP_TIMEOUT_S)
        log.close()


@pytest.mark.slow
def test_a_two_second_run_against_one_replica_prints_one_json_line_with_every_figure(
    replica_port: int, tmp_path: Path
) -> None:
    plot = tmp_path / "latency.png"
    result = CliRunner().invoke(command, [
        "--port", str(replica_port), "--clients", "4", "--duration", "2", "--processes", "2",
        "--read-ratio", "0.5", "--conflict", "25", "--value-size", "32", "--pipeline", "2",
        "--json", "--plot", str(plot),
    ])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert report["ops"] > 0
    assert report["errors"]["total"] == 0 and report["errors"]["unfinished"] == 0
    assert report["latency"]["count"] >= report["ops"]
    assert report["generator"]["processes"] == 2
    epaxos = report["epaxos"]
    assert epaxos["available"] is True
    assert epaxos["instances_proposed"] > 0
    assert report["replicas"][0]["replica_id"] == 1
    assert report["replicas"][0]["clients"] == 4
    if load_pyplot() is None:
        assert "matplotlib is not installed" in result.output and not plot.exists()
    else:
        assert plot.stat().st_size > 0


def test_a_port_nobody_listens_on_is_a_clear_error_not_a_traceback() -> None:
    result = CliRunner().invoke(command, ["--port", str(free_port()), "--duration", "1"])
    assert result.exit_code == 1
    assert "does not answer INFO" in result.output

"""A replica that cannot go on says why in one log line and exits with the documented code.

Trio reports a task's failure wrapped in exception groups; without
unwrapping them a port already in use or a damaged data directory ended in
a page of traceback and exit code 1 whatever the cause. These run the real
``epaxosdb serve`` and read what an operator would read: the exit code and
the log.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from epaxosdb.cli import EXIT_FAILURE, EXIT_REFUSED
from tests.damage import damage_value_record
from tests.integration.cluster import ProcessCluster
from tests.redis_server import free_port

EXIT_TIMEOUT_S = 30.0


def test_a_client_port_already_in_use_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "cluster.toml"
        config.write_text(
            "[[replica]]\nid = 1\n"
            f'client = "127.0.0.1:{port}"\npeer = "127.0.0.1:{free_port()}"\n'
            f'data_dir = "{tmp_path / "data"}"\n'
        )
        done = subprocess.run(
            [sys.executable, "-m", "epaxosdb", "serve", "--config", str(config), "--id", "1"],
            capture_output=True,
            text=True,
            timeout=EXIT_TIMEOUT_S,
            check=False,
        )
    assert done.returncode == EXIT_REFUSED, done.stderr
    assert f"cannot listen for RESP clients on 127.0.0.1:{port}: " in done.stderr, done.stderr
    assert "in use" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr


def test_a_corrupt_value_record_stops_the_replica_with_a_storage_failure(
    make_cluster: Callable[[int], ProcessCluster],
) -> None:
    cluster = make_cluster(1)
    payload = b"damaged-" + secrets.token_hex(16).encode()
    client = cluster.client(1)
    client.set("victim", payload)
    client.set("bystander", b"fine")
    cluster.terminate(1)  # a clean stop writes the deferred key-value effects
    damage_value_record(cluster.replicas[1].data_dir, payload)

    cluster.restart(1)
    cluster.wait_serving(1, timeout_s=60)
    assert cluster.client(1).get("bystander") == b"fine"
    with pytest.raises(redis.exceptions.ConnectionError):
        cluster.client(1).get("victim")
    process = cluster.replicas[1].process
    assert process is not None
    deadline = time.monotonic() + EXIT_TIMEOUT_S
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.returncode == EXIT_FAILURE, cluster.log_tail(1)
    log = cluster.log_tail(1)
    assert "storage failure, stopping: corrupt value record: unknown type tag 127" in log, log
    assert "Traceback" not in log, log

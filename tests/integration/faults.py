"""What the fault-injection tests share: the nemesis, its timings, and how a client
tells an operation that failed from one whose outcome is unknown.

A broken connection, a timeout or ``-UNCERTAIN`` is *indeterminate*: the
command may have taken effect at any time after it was sent, or never.
``-LOADING``, ``-NOQUORUM`` and a refused connection are definite failures: the
command was never proposed.
"""

from __future__ import annotations

import os
import random
import shutil
import threading
import time
from collections.abc import Callable
from typing import Any

import redis

from tests.integration.cluster import ProcessCluster

SEED = int(os.environ.get("EPAXOSDB_NEMESIS_SEED", "0")) or random.randrange(1, 1 << 30)
FAULT_ROUNDS = 4
FAULT_S = 2.5
"""How long a replica stays dead or stopped."""
HEALTHY_S = 1.5
"""How long the cluster runs with all replicas between faults."""
CLIENT_TIMEOUT_S = 12.0
"""Longer than the replica's 10 s deadline, so its UNCERTAIN reply can be seen."""
SERVE_AGAIN_S = 60.0
LEAVE_BEHIND_MS = 1500

DEFINITE_FAILURES = ("LOADING", "NOQUORUM")
"""Error replies sent before a command is proposed: it certainly did not take effect."""


def refused(exc: BaseException) -> bool:
    """The connection was never made, so the command was never sent."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError) or "Connection refused" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def attempt(action: Callable[[], object]) -> tuple[str, object]:
    """Run one command: ``("ok", reply)``; ``("failed", None)`` when it certainly did not
    happen; ``("unsure", None)`` when it may have. Other errors are raised."""
    try:
        return "ok", action()
    except redis.BusyLoadingError:  # -LOADING (redis-py files it under ConnectionError)
        return "failed", None
    except redis.ResponseError as exc:
        if str(exc).startswith(DEFINITE_FAILURES):
            return "failed", None
        if str(exc).startswith("UNCERTAIN"):
            return "unsure", None
        raise
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        return ("failed" if refused(exc) else "unsure"), None


def nemesis(cluster: ProcessCluster, log: list[str]) -> None:
    """One fault at a time, always a minority, always healed before the next: kill -9 and
    restart, SIGSTOP and SIGCONT, or kill -9, delete the data directory and restart (the
    replica joins again from a peer's snapshot)."""
    rng = random.Random(SEED)
    for round_ in range(FAULT_ROUNDS):
        time.sleep(HEALTHY_S)
        victim = rng.choice(list(cluster))
        if round_ % 3 == 2:
            log.append(f"kill -9 replica {victim} and delete its data directory")
            cluster.kill9(victim)
            shutil.rmtree(cluster.replicas[victim].data_dir)
            time.sleep(FAULT_S)
            cluster.restart(victim)
        elif round_ % 3 == 0:
            log.append(f"kill -9 replica {victim}")
            cluster.kill9(victim)
            time.sleep(FAULT_S)
            cluster.restart(victim)
        else:
            log.append(f"SIGSTOP replica {victim}")
            cluster.stop(victim)
            time.sleep(FAULT_S)
            cluster.cont(victim)
        cluster.wait_serving(victim, SERVE_AGAIN_S)
    time.sleep(HEALTHY_S)


def rebuilds(cluster: ProcessCluster) -> int:
    """How often a replica found itself left behind and rebuilt (from the logs)."""
    return sum(cluster.log_count(i, "left behind: every peer deleted") for i in cluster)



Worker = Callable[[ProcessCluster, Any, int, threading.Event], None]
"""``work(cluster, run, who, stop)``: one client's loop, recording into ``run``."""


def worker_threads(
    cluster: ProcessCluster, run: object, stop: threading.Event, *crews: tuple[Worker, int]
) -> list[threading.Thread]:
    """Daemon threads, not started: for each ``(work, count)``, ``count`` clients
    ``work(cluster, run, who, stop)`` numbered from 0, running until ``stop``."""
    return [
        threading.Thread(target=work, args=(cluster, run, who, stop), daemon=True)
        for work, count in crews
        for who in range(count)
    ]

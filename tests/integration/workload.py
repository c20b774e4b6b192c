"""Client load for fault tests: writer threads that remember exactly what was acknowledged.

A ``WriteLoad`` runs one thread per (replica, writer) pair; each writes
unique keys (``<prefix>:<replica>:<writer>:<n>`` = ``v<n>``) one at a time
through its own redis-py client with retries off. A write is *acknowledged*
only when the reply is ``OK``; anything else (an error reply, a broken
connection, a timeout) is recorded as a failure with the time it happened,
and the thread carries on with the next key after a short pause, so a
killed replica's writers resume once it is back. A failed write is
indeterminate — it may still take effect — so checks only ever demand that
acknowledged writes are present.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import redis

from tests.integration.cluster import ProcessCluster, wait_until

JOIN_TIMEOUT_S = 60.0
PAUSE_AFTER_FAILURE_S = 0.05


@dataclass
class Writer:
    replica: int
    index: int
    acked: list[tuple[float, str, str]] = field(default_factory=list)
    """(monotonic time of the reply, key, value) of every acknowledged write."""
    failures: list[tuple[float, str]] = field(default_factory=list)
    """(monotonic time, what happened) of every write that was not acknowledged."""


class WriteLoad:
    """Writer threads against some replicas of a cluster (see the module docstring)."""

    def __init__(
        self,
        cluster: ProcessCluster,
        replicas: list[int],
        *,
        writers_per_replica: int = 2,
        prefix: str = "load",
        socket_timeout_s: float = 15.0,
    ) -> None:
        self._cluster = cluster
        self._prefix = prefix
        self._timeout = socket_timeout_s
        self._stop = threading.Event()
        self.writers = [Writer(r, w) for r in replicas for w in range(writers_per_replica)]
        self._threads = [
            threading.Thread(target=self._run, args=(w,), daemon=True) for w in self.writers
        ]

    def start(self) -> WriteLoad:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(JOIN_TIMEOUT_S)
        stuck = [w for w, t in zip(self.writers, self._threads, strict=True) if t.is_alive()]
        assert not stuck, f"writers did not stop in time: {stuck}"

    def _run(self, w: Writer) -> None:
        client = self._cluster.client(w.replica, socket_timeout=self._timeout)
        n = 0
        while not self._stop.is_set():
            key = f"{self._prefix}:{w.replica}:{w.index}:{n}"
            value = f"v{n}"
            n += 1
            try:
                reply = client.set(key, value)
            except (redis.RedisError, OSError) as exc:
                w.failures.append((time.monotonic(), repr(exc)))
                self._stop.wait(PAUSE_AFTER_FAILURE_S)
                continue
            if reply is True:
                w.acked.append((time.monotonic(), key, value))
            else:
                w.failures.append((time.monotonic(), f"reply {reply!r}"))

    # --- what happened ---------------------------------------------------------------

    def acked(self, replicas: list[int] | None = None) -> dict[str, str]:
        return {
            key: value
            for w in self.writers
            if replicas is None or w.replica in replicas
            for _, key, value in w.acked
        }

    def acked_count(self, replicas: list[int] | None = None, since: float = 0.0) -> int:
        return sum(
            1
            for w in self.writers
            if replicas is None or w.replica in replicas
            for t, _, _ in w.acked
            if t >= since
        )

    def failures(self, replicas: list[int] | None = None) -> list[tuple[int, float, str]]:
        return [
            (w.replica, t, what)
            for w in self.writers
            if replicas is None or w.replica in replicas
            for t, what in w.failures
        ]

    def wait_acked(
        self,
        count: int,
        replicas: list[int] | None = None,
        since: float = 0.0,
        timeout_s: float = 30.0,
    ) -> None:
        """Until ``count`` more writes (after ``since``) were acknowledged (bounded)."""
        wait_until(
            lambda: self.acked_count(replicas, since) >= count,
            timeout_s,
            f"{count} acknowledged writes through replicas {replicas}",
            interval_s=0.02,
        )


def missing_on(cluster: ProcessCluster, replica: int, expected: dict[str, str]) -> list[str]:
    """The keys of ``expected`` that replica ``replica`` lacks or holds another value for."""
    client = cluster.client(replica, socket_timeout=60.0)
    keys = sorted(expected)
    wrong: list[str] = []
    for start in range(0, len(keys), 1000):
        chunk = keys[start : start + 1000]
        for key, value in zip(chunk, client.mget(chunk), strict=True):
            if value != expected[key].encode():
                wrong.append(f"{key}={value!r}")
    return wrong

"""Reading ``INFO epaxos`` from the replicas, before, during and after a run.

The client side sees latency and throughput; only the replicas know how their
commits went. The counters (``fast_path_commits``, ``slow_path_commits``, ...)
are cumulative, so the run's share is the difference between a snapshot taken
just before the clock starts and one taken after the last reply; gauges such as
``execute_lag`` (committed, not yet executed) only mean something while load
is running, so the parent samples them about once a second during the run.
Field names are those of ``epaxosdb.runtime.loop`` (``info_sections``).

A plain Redis server has no ``# EPaxos`` section: every EPaxos figure is then
reported as absent rather than as zero, which lets the same command measure
the generator itself against ``redis-server``.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

import hiredis

INFO_TIMEOUT_S = 2.0
INFO_BYTES_MAX = 1 << 20

Fields = dict[str, int | float | str]

COUNTERS = (
    "instances_proposed", "fast_path_commits", "slow_path_commits", "recovery_commits",
    "recoveries_started", "instances_committed", "instances_executed", "uncertain_replies",
    "fsyncs", "loop_turns",
)
"""Cumulative fields whose difference over the run is reported."""
GAUGES = ("execute_lag", "blocked_instances", "proposals_waiting", "commands_in_flight")
"""Instantaneous fields sampled during the run (max and mean reported)."""
LATEST = ("commit_latency_p50_ms", "commit_latency_p99_ms", "peers_connected", "replica_id",
          "replicas", "fast_quorum")
"""Fields reported as read after the run."""


def _number(text: str) -> int | float | str:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def parse_info(text: str) -> dict[str, Fields]:
    """INFO's text → ``{section_lowercase: {field: value}}``, numbers as numbers."""
    sections: dict[str, Fields] = {}
    current: Fields | None = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#"):
            current = sections.setdefault(line[1:].strip().lower(), {})
        elif line and current is not None and ":" in line:
            key, _, value = line.partition(":")
            current[key] = _number(value)
    return sections


def fetch_info(host: str, port: int, section: str = "epaxos",
               password: str | None = None) -> Fields | None:
    """One ``INFO <section>`` on a fresh connection; None if the replica does not answer.

    A fresh connection keeps this independent of the load connections, and a
    replica that is down during a fault-injection run must not stop the run.
    """
    reader = hiredis.Reader(encoding="utf-8", errors="replace")
    try:
        with socket.create_connection((host, port), timeout=INFO_TIMEOUT_S) as sock:
            sock.settimeout(INFO_TIMEOUT_S)
            request = b""
            if password is not None:
                pw = password.encode()
                request += b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(pw), pw)
            request += b"*2\r\n$4\r\nINFO\r\n$%d\r\n%s\r\n" % (len(section), section.encode())
            sock.sendall(request)
            replies: list[object] = []
            received = 0
            deadline = time.monotonic() + INFO_TIMEOUT_S
            while len(replies) < (2 if password is not None else 1):
                if time.monotonic() > deadline or received > INFO_BYTES_MAX:
                    return None
                data = sock.recv(65536)
                if not data:
                    return None
                received += len(data)
                reader.feed(data)
                while (reply := reader.gets()) is not False:
                    replies.append(reply)
    except (OSError, hiredis.ProtocolError):
        return None
    text = replies[-1]
    if not isinstance(text, str):
        return None
    return parse_info(text).get(section.lower(), {})


@dataclass(slots=True)
class ReplicaProbe:
    """What the parent learned about one replica port over the run."""

    port: int
    before: Fields | None = None
    after: Fields | None = None
    samples: int = 0
    gauges_max: dict[str, float] | None = None
    gauges_sum: dict[str, float] | None = None

    def sample(self, fields: Fields | None) -> None:
        if not fields:
            return
        if self.gauges_max is None or self.gauges_sum is None:
            self.gauges_max, self.gauges_sum = {}, {}
        self.samples += 1
        for name in GAUGES:
            v = fields.get(name)
            if isinstance(v, int | float):
                self.gauges_max[name] = max(self.gauges_max.get(name, v), v)
                self.gauges_sum[name] = self.gauges_sum.get(name, 0) + v

    def delta(self, name: str) -> int | None:
        """The counter's growth over the run, or None if either snapshot lacks it."""
        if self.before is None or self.after is None:
            return None
        a, b = self.after.get(name), self.before.get(name)
        if isinstance(a, int) and isinstance(b, int):
            return a - b
        return None

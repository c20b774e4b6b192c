"""Real replica processes on loopback, started, hurt and stopped by a test.

The integration tests exercise what no in-process test can: separate
``epaxosdb serve`` processes talking over TCP, data dirs that outlive a
``kill -9``, real signals. ``ProcessCluster`` owns those processes:

* ``ProcessCluster.start(n, directory)`` writes a cluster file with ``n``
  replicas on OS-assigned free ports (client and peer), starts each replica
  as ``python -m epaxosdb serve`` with stdout and stderr going to
  ``<directory>/replica-<i>.log``, and waits (bounded) until every client
  port answers ``PING`` with ``+PONG``. A port can be taken between choosing
  it and the replica binding it; then the whole start is retried on new ports
  (the cluster id depends on the peer addresses, so the data dirs are fresh).
* Faults: ``kill9``, ``stop`` (SIGSTOP), ``cont``, ``terminate`` (SIGTERM and
  an exit code of 0 asserted), ``restart`` (same data dir; returns once the
  port answers PING, possibly with ``-LOADING`` while it catches up).
* Observation: ``client`` (redis-py with retries off: a retried write is a
  duplicated write, and a test must see every failure), ``wait_serving``
  (a data command answers), ``snapshot``/``digest`` (SCAN + GET),
  ``wait_same_data`` (all replicas' digests equal, polled), ``log_tail``,
  ``rss_kb``. ``redis_cli`` and ``tool`` run Debian's redis tools.
* ``close()`` stops every process this object started, by PID, whatever
  state it is in; the fixtures call it even when the test fails.

Every wait here is bounded; nothing signals a process it did not start.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from epaxosdb.clusterfile import load_cluster
from tests.redis_server import free_port

READY_TIMEOUT_S = 60.0
"""A replica imports its modules, opens LMDB and binds: seconds on a loaded 2-core box."""
STOP_TIMEOUT_S = 20.0
"""SIGTERM lets an LMDB transaction in flight finish; that never takes this long."""
CLIENT_TIMEOUT_S = 15.0
"""Longer than the server's 10 s "outcome unknown" deadline, so that reply is seen."""
START_ATTEMPTS = 3
TOOL_TIMEOUT_S = 120.0
"""redis-cli runs of a test (a --pipe of 100k commands included) finish well within this."""
LOG_TAIL_LINES = 60
SCAN_ROUNDS_MAX = 1_000_000


def no_retry() -> Retry:
    """redis-py ≥6 silently re-sends a command whose reply was lost; tests must not."""
    return Retry(NoBackoff(), 0)


def ping_raw(port: int, timeout_s: float = 1.0) -> bytes:
    """The raw reply to an inline PING, or b"" if the port does not answer."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64)
    except OSError:
        return b""


def port_is_free(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:port right now (bind succeeds)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def read_rss_kb(pid: int) -> int:
    """VmRSS of a process, in kB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


class ReplicaStartError(RuntimeError):
    """A replica exited or did not answer PING in time; the message holds its log."""


@dataclass
class ReplicaProcess:
    """One replica's identity and its current process (None when not running)."""

    id: int
    client_port: int
    peer_port: int
    data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    stopped: bool = False
    tls_port: int = 0
    """The replica's TLS client port (0: it has none)."""
    exit_codes: list[int] = field(default_factory=list)

    @property
    def pid(self) -> int:
        assert self.process is not None, f"replica {self.id} is not running"
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class ProcessCluster:
    """N ``epaxosdb serve`` processes described by one cluster file (see module docstring)."""

    def __init__(self, directory: Path, replicas: list[ReplicaProcess], config: Path) -> None:
        self.directory = directory
        self.replicas = {r.id: r for r in replicas}
        self.config = config
        self._clients: list[redis.Redis] = []

    # --- start-up ------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        n: int,
        directory: Path,
        *,
        cluster_settings: dict[str, object] | None = None,
        tls: bool = False,
        users: dict[str, str] | None = None,
    ) -> ProcessCluster:
        """Start ``n`` replicas under ``directory`` and wait until all answer PING.

        With ``tls`` each replica also gets a ``tls_client`` port (``tls_port``); the
        TLS files are ``cluster_settings``' to give. ``users``: ``[[user]]`` tables, name
        → ACL rules."""
        failures: list[str] = []
        for attempt in range(START_ATTEMPTS):
            home = directory / f"cluster-{attempt}"
            cluster = cls._create(n, home, cluster_settings or {}, tls, users or {})
            try:
                for i in cluster.replicas:
                    cluster._spawn(i)
                for i in cluster.replicas:
                    cluster.wait_ping(i)
                return cluster
            except ReplicaStartError as exc:
                failures.append(str(exc))
                cluster.close(check=False)
        raise ReplicaStartError(f"{n}-replica cluster did not start:\n" + "\n".join(failures))

    @classmethod
    def _create(
        cls,
        n: int,
        home: Path,
        settings: dict[str, object],
        tls: bool = False,
        users: dict[str, str] | None = None,
    ) -> ProcessCluster:
        home.mkdir(parents=True, exist_ok=True)
        replicas = []
        taken: set[int] = set()
        for i in range(1, n + 1):
            client, peer, *tls_port = _distinct_free_ports(3 if tls else 2, taken)
            replicas.append(
                ReplicaProcess(
                    i, client, peer, home / f"data-{i}", home / f"replica-{i}.log",
                    tls_port=tls_port[0] if tls_port else 0,
                )
            )  # fmt: skip
        lines = ["[cluster]", *(f"{k} = {_toml(v)}" for k, v in settings.items()), ""]
        for r in replicas:
            lines += [
                "[[replica]]",
                f"id = {r.id}",
                f'client = "127.0.0.1:{r.client_port}"',
                f'peer = "127.0.0.1:{r.peer_port}"',
                f'data_dir = "{r.data_dir}"',
                *([f'tls_client = "127.0.0.1:{r.tls_port}"'] if r.tls_port else []),
                "",
            ]
        for name, rules in (users or {}).items():
            lines += ["[[user]]", f"name = {_toml(name)}", f"rules = {_toml(rules)}", ""]
        config = home / "cluster.toml"
        config.write_text("\n".join(lines))
        return cls(home, replicas, config)

    def serve_command(self, i: int, *extra: str) -> list[str]:
        """The argv that runs replica ``i`` (a test may run it again to see it refused)."""
        return [
            sys.executable, "-m", "epaxosdb", "serve", "--config", str(self.config),
            "--id", str(i), *extra,
        ]  # fmt: skip

    def _spawn(self, i: int) -> None:
        r = self.replicas[i]
        assert not r.running, f"replica {i} is already running (pid {r.pid})"
        with r.log_path.open("ab") as log:
            log.write(f"=== test harness: starting replica {i} at {time.time():.3f}\n".encode())
            log.flush()
            r.process = subprocess.Popen(
                self.serve_command(i),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # a Ctrl-C on pytest must not reach it twice
            )
        r.stopped = False

    def wait_ping(
        self, i: int, timeout_s: float = READY_TIMEOUT_S, *, loading_ok: bool = False
    ) -> None:
        """Until replica ``i`` answers PING with +PONG (bounded); raises with its log.

        With ``loading_ok``, ``-LOADING`` also counts: a restarted replica
        answers PING that way (as Redis does while loading) until it has
        caught up, which it cannot do before a quorum of peers is back.
        """
        r = self.replicas[i]
        deadline = time.monotonic() + timeout_s
        last = b""
        while time.monotonic() < deadline:
            if r.process is None or r.process.poll() is not None:
                code = None if r.process is None else r.process.returncode
                raise ReplicaStartError(
                    f"replica {i} exited with code {code} during start-up\n{self.log_tail(i)}"
                )
            last = ping_raw(r.client_port)
            if last.startswith((b"+PONG", b"-NOAUTH")):  # NOAUTH: serving, wants a password
                return
            if loading_ok and last.startswith(b"-LOADING"):
                return
            time.sleep(0.05)
        raise ReplicaStartError(
            f"replica {i} did not answer PING within {timeout_s:.0f}s (last reply {last!r})\n"
            f"{self.log_tail(i)}"
        )

    # --- clients -------------------------------------------------------------------

    def port(self, i: int) -> int:
        return self.replicas[i].client_port

    def peer_port(self, i: int) -> int:
        return self.replicas[i].peer_port

    @property
    def cluster_id(self) -> bytes:
        """The id peers must present in their handshake (derived by the cluster file loader)."""
        return load_cluster(self.config).cluster_id

    def client(self, i: int, **redis_kwargs: Any) -> redis.Redis:
        """A redis-py client of replica ``i``: no retries, bounded socket timeouts.

        Closed by ``close()``; keyword arguments override the defaults.
        """
        options: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": self.port(i),
            "retry": no_retry(),
            "socket_timeout": CLIENT_TIMEOUT_S,
            "socket_connect_timeout": 5.0,
        }
        options.update(redis_kwargs)
        client = redis.Redis(**options)
        self._clients.append(client)
        return client

    def _probe_client(self, i: int, **redis_kwargs: Any) -> redis.Redis:
        """A short-lived client the caller closes itself (not kept for ``close()``)."""
        return redis.Redis(
            host="127.0.0.1",
            port=self.port(i),
            retry=no_retry(),
            socket_connect_timeout=5.0,
            protocol=2,
            **redis_kwargs,
        )

    # --- faults --------------------------------------------------------------------

    def kill9(self, i: int) -> None:
        """SIGKILL replica ``i`` and reap it: nothing it did not fsync survives."""
        r = self.replicas[i]
        assert r.process is not None and r.running, f"replica {i} is not running"
        r.process.send_signal(signal.SIGKILL)
        r.exit_codes.append(r.process.wait(STOP_TIMEOUT_S))
        r.stopped = False

    def stop(self, i: int) -> None:
        """SIGSTOP replica ``i``: its sockets stay open but it says nothing."""
        r = self.replicas[i]
        assert r.process is not None and r.running, f"replica {i} is not running"
        r.process.send_signal(signal.SIGSTOP)
        r.stopped = True

    def cont(self, i: int) -> None:
        r = self.replicas[i]
        assert r.process is not None and r.running, f"replica {i} is not running"
        r.process.send_signal(signal.SIGCONT)
        r.stopped = False

    def terminate(self, i: int) -> int:
        """SIGTERM replica ``i``; asserts it exits cleanly (code 0) within the deadline."""
        code = self._terminate(i)
        assert code == 0, f"replica {i} exited with {code} on SIGTERM\n{self.log_tail(i)}"
        return code

    def wait_exit(self, i: int, timeout_s: float = STOP_TIMEOUT_S) -> int:
        """Wait for replica ``i`` to exit on its own (SHUTDOWN); its exit code."""
        r = self.replicas[i]
        assert r.process is not None, f"replica {i} is not running"
        try:
            code = r.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"replica {i} still running after {timeout_s} s\n{self.log_tail(i)}"
            ) from None
        r.exit_codes.append(code)
        r.process = None
        return code

    def _terminate(self, i: int) -> int | None:
        r = self.replicas[i]
        if r.process is None:
            return None
        if r.process.poll() is None:
            if r.stopped:
                r.process.send_signal(signal.SIGCONT)
                r.stopped = False
            r.process.send_signal(signal.SIGTERM)
            try:
                r.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                r.process.kill()
                r.process.wait(STOP_TIMEOUT_S)
                r.exit_codes.append(-9)
                return None
        code = r.process.returncode
        r.exit_codes.append(code)
        r.process = None
        return code

    def restart(self, i: int, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Start replica ``i`` again on its data dir and wait until its client port answers.

        It may still answer ``-LOADING`` (see ``wait_ping``): use
        ``wait_serving`` to wait until it serves data.
        """
        r = self.replicas[i]
        if r.process is not None and r.process.poll() is not None:
            r.process = None
        self._spawn(i)
        self.wait_ping(i, timeout_s, loading_ok=True)

    # --- observation ---------------------------------------------------------------

    def wait_serving(self, i: int, timeout_s: float) -> None:
        """Until a data command on replica ``i`` gets a real reply (not LOADING, not an error).

        Each probe is a read (``EXISTS``) that goes through consensus, so a
        reply also proves the replica reaches a quorum again.
        """
        deadline = time.monotonic() + timeout_s
        last: object = None
        while time.monotonic() < deadline:
            left = max(0.5, deadline - time.monotonic())
            try:
                with contextlib.closing(
                    self._probe_client(i, socket_timeout=min(left, CLIENT_TIMEOUT_S))
                ) as c:
                    last = c.exists("__epaxosdb_probe__")
                    if isinstance(last, int):
                        return
            except (redis.RedisError, OSError) as exc:
                last = exc
            time.sleep(0.1)
        raise AssertionError(
            f"replica {i} did not serve data commands within {timeout_s:.0f}s "
            f"(last: {last!r})\n{self.log_tail(i)}"
        )

    def snapshot(self, i: int) -> dict[bytes, bytes | None]:
        """Every key of replica ``i`` and its value, by SCAN then MGET (no writes meanwhile);
        a list, set or hash (nil from MGET) as its contents (``_collection_value``)."""
        c = self._probe_client(i, socket_timeout=60.0)
        try:
            keys: set[bytes] = set()
            cursor = 0
            for _ in range(SCAN_ROUNDS_MAX):
                cursor, batch = c.scan(cursor, count=1000)
                keys.update(_as_bytes(k) for k in batch)
                if cursor == 0:
                    break
            else:
                raise AssertionError(f"SCAN of replica {i} did not finish")
            ordered = sorted(keys)
            values: dict[bytes, bytes | None] = {}
            for start in range(0, len(ordered), 1000):
                chunk = ordered[start : start + 1000]
                found = c.mget(chunk)
                values.update(
                    (k, _collection_value(c, k) if v is None else _as_bytes(v))
                    for k, v in zip(chunk, found, strict=True)
                )
            return values
        finally:
            c.close()

    def digest(self, i: int) -> str:
        """A hash of replica ``i``'s whole keyspace (keys and values), for equality checks."""
        return digest_of(self.snapshot(i))

    def wait_same_data(self, timeout_s: float, replicas: list[int] | None = None) -> str:
        """Until every replica's keyspace (SCAN + GET) is the same; returns the common digest.

        Polled, because commands that were proposed but never acknowledged
        (indeterminate) may still be executing when the first snapshot is
        taken. On timeout the message lists the keys that differ. Every replica
        compared must serve first: one just restarted answers ``-LOADING`` to SCAN
        until it has caught up (a test that restarted one and waited only for the
        others failed that way under load).
        """
        ids = list(self.replicas) if replicas is None else replicas
        deadline = time.monotonic() + timeout_s
        for i in ids:
            self.wait_serving(i, max(0.5, deadline - time.monotonic()))
        while True:
            snapshots = {i: self.snapshot(i) for i in ids}
            digests = {i: digest_of(snap) for i, snap in snapshots.items()}
            if len(set(digests.values())) == 1:
                return digests[ids[0]]
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
        first = snapshots[ids[0]]
        differences = []
        for i in ids[1:]:
            other = snapshots[i]
            for key in sorted(set(first) | set(other)):
                if first.get(key) != other.get(key):
                    mine, theirs = first.get(key), other.get(key)
                    differences.append(f"{key!r}: {ids[0]} has {mine!r}, {i} has {theirs!r}")
        raise AssertionError(
            f"replicas still disagree after {timeout_s:.0f}s: {digests}\n"
            + "\n".join(differences[:20])
        )

    def rss_kb(self, i: int) -> int:
        return read_rss_kb(self.replicas[i].pid)

    def info(self, i: int, section: str = "epaxos") -> dict[str, Any]:
        with contextlib.closing(self._probe_client(i, socket_timeout=CLIENT_TIMEOUT_S)) as c:
            return dict(c.info(section))

    def log_tail(self, i: int, lines: int = LOG_TAIL_LINES) -> str:
        path = self.replicas[i].log_path
        if not path.exists():
            return f"--- replica {i}: no log at {path}"
        text = path.read_text(errors="replace").splitlines()[-lines:]
        return f"--- replica {i} log ({path}), last {len(text)} lines:\n" + "\n".join(text)

    def logs(self) -> str:
        return "\n".join(self.log_tail(i) for i in self.replicas)

    def log_count(self, i: int, text: str) -> int:
        """How many times replica ``i`` has logged ``text`` (across its restarts)."""
        return self.replicas[i].log_path.read_text(errors="replace").count(text)

    def logged(self, i: int, text: str) -> bool:
        return self.log_count(i, text) > 0

    def wait_rebuilt(self, ids: tuple[int, ...], timeout_s: float) -> None:
        """Until every replica in ``ids`` serves, then until all hold the same data."""
        for i in ids:
            self.wait_serving(i, timeout_s)
        self.wait_same_data(timeout_s)

    # --- shutdown ------------------------------------------------------------------

    def close(self, check: bool = True) -> None:
        """Stop every replica still running (SIGCONT, SIGTERM, then SIGKILL if needed).

        With ``check``, a replica that does not exit with 0 on SIGTERM fails
        the caller after all of them are stopped.
        """
        for client in self._clients:
            with contextlib.suppress(Exception):
                client.close()
        self._clients.clear()
        bad: list[str] = []
        for i, r in self.replicas.items():
            if r.process is None:
                continue
            if r.process.poll() is not None:
                r.exit_codes.append(r.process.returncode)
                r.process = None
                continue
            code = self._terminate(i)
            if code != 0:
                bad.append(f"replica {i} exited with {code} on SIGTERM\n{self.log_tail(i)}")
        if check and bad:
            raise AssertionError("\n".join(bad))

    def __enter__(self) -> ProcessCluster:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(check=exc_type is None)

    def __iter__(self) -> Iterator[int]:
        return iter(self.replicas)


def tool(name: str) -> str:
    """The path of a Debian redis tool; fails the test (never skips) when it is missing."""
    path = shutil.which(name) or (
        f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else None
    )
    if path is None:
        pytest.fail(f"{name} is needed: run `make test` as root or `apt-get install redis-tools`")
    return path


def redis_cli(
    port: int, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run ``redis-cli -p PORT ARGS...`` (bounded) and return what it printed."""
    return subprocess.run(
        [tool("redis-cli"), "-p", str(port), *args],
        input=stdin,
        capture_output=True,
        timeout=TOOL_TIMEOUT_S,
        check=False,
    )


def _as_bytes(value: bytes | str) -> bytes:
    """redis-py is typed for both; these clients never decode responses."""
    assert isinstance(value, bytes), value
    return value


def _collection_value(c: redis.Redis, key: bytes) -> bytes | None:
    """A non-string key's contents as bytes, order-free where the type has no order
    (``None``: the key went away, or holds a type epaxosdb does not have)."""
    kind = _as_bytes(c.type(key))
    if kind == b"list":
        items = [_as_bytes(e) for e in c.lrange(key, 0, -1)]
    elif kind == b"set":
        items = sorted(_as_bytes(m) for m in c.smembers(key))
    elif kind == b"hash":
        pairs = c.hgetall(key).items()
        items = [b"%s=%s" % (_as_bytes(f), _as_bytes(v)) for f, v in sorted(pairs)]
    else:
        return None
    return kind + b":" + b"|".join(b"%d:%s" % (len(item), item) for item in items)


def digest_of(snapshot: dict[bytes, bytes | None]) -> str:
    h = hashlib.sha256()
    for key in sorted(snapshot):
        value = snapshot[key]
        h.update(b"%d:%s=" % (len(key), key))
        h.update(b"-" if value is None else b"%d:%s;" % (len(value), value))
    return f"{len(snapshot)} keys, sha256 {h.hexdigest()[:16]}"


def _distinct_free_ports(count: int, taken: set[int]) -> list[int]:
    ports: list[int] = []
    for _ in range(100):
        port = free_port()
        if port not in taken:
            taken.add(port)
            ports.append(port)
            if len(ports) == count:
                return ports
    raise RuntimeError("could not find distinct free ports")


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise TypeError(f"cannot write {value!r} to TOML")


def wait_until(
    predicate: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.1
) -> None:
    """Poll ``predicate()`` until true, or fail naming ``what`` (bounded)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval_s)
    raise AssertionError(f"{what}: not within {timeout_s:.0f}s")

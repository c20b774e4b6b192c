"""CLIENT TRACKING (server-assisted client-side caching) against redis-server and redis-py.

* The same session of raw RESP on four connections runs against one epaxosdb
  replica and against a real Redis: every byte each connection receives must
  be the same (client IDs aside), invalidation pushes included. A connection
  is read up to the reply of a PING sent after each step, so what is pending
  for it is exactly what came before that reply.
* On three replicas a write through one replica invalidates what a client of
  another replica read, and FLUSHALL through a third drops everything.

(redis-py's own cache, ``cache_config``, refuses any server older than Redis
7.4, and epaxosdb answers as 7.0.15; libraries that speak CLIENT TRACKING
themselves are what this serves.)
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable

from tests.integration.cluster import ProcessCluster
from tests.integration.test_left_behind import left_behind
from tests.redis_server import RedisServer
from tests.redis_server import redis_server as redis_server

READ_TIMEOUT_S = 10.0
PONG3 = b"+PONG\r\n"
PONG_SUBSCRIBED = b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"


class Raw:
    """A raw RESP connection; ``call`` answers with everything received up to its reply."""

    def __init__(self, port: int, name: str, transcript: list[tuple[str, bytes]]) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT_S)
        self.name = name
        self.transcript = transcript
        self.buffer = b""
        self.id = int(self._call_raw(b"CLIENT", b"ID", end=b"\r\n")[1:-2])

    def _call_raw(self, *args: bytes, end: bytes) -> bytes:
        self.sock.sendall(
            b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%b\r\n" % (len(a), a) for a in args)
        )
        deadline = time.monotonic() + READ_TIMEOUT_S
        while not self.buffer.endswith(end):
            assert time.monotonic() < deadline, f"{self.name}: no {end!r} in {self.buffer!r}"
            chunk = self.sock.recv(65536)
            assert chunk, f"{self.name} closed after {self.buffer!r}"
            self.buffer += chunk
        data, self.buffer = self.buffer, b""
        return data

    def call(self, *args: bytes | str | int, ids: dict[int, str] | None = None) -> None:
        """Send a command and a PING; note what came back before the PING's reply."""
        raw = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        self.sock.sendall(
            b"*%d\r\n" % len(raw) + b"".join(b"$%d\r\n%b\r\n" % (len(a), a) for a in raw)
        )
        self.pending()
        label = " ".join(a.decode("latin-1") for a in raw)
        for number, name in (ids or {}).items():
            label = label.replace(str(number), name)
        self.transcript[-1] = (f"{self.name}> {label}", self.transcript[-1][1])

    def queue(self, *args: str) -> None:
        """MULTI or a command it queues (a PING would be queued too): up to its reply."""
        raw = [a.encode() for a in args]
        end = b"+OK\r\n" if args[0] == "MULTI" else b"+QUEUED\r\n"
        self.transcript.append((f"{self.name}> {' '.join(args)}", self._call_raw(*raw, end=end)))

    def pending(self) -> None:
        """What this connection has received since its last step (read up to a PING)."""
        subscribed = self.name.startswith("R")
        data = self._call_raw(b"PING", end=PONG_SUBSCRIBED if subscribed else PONG3)
        if not subscribed:
            assert data.endswith(PONG3) or data.endswith(b"+PONG\r\n")
        self.transcript.append((f"{self.name} pending", data))

    def close(self) -> None:
        self.sock.close()


def _session(port: int) -> list[tuple[str, bytes]]:
    """Tracking in every mode, as a transcript of (step, bytes received)."""
    transcript: list[tuple[str, bytes]] = []
    a = Raw(port, "A", transcript)
    b = Raw(port, "B", transcript)
    r = Raw(port, "R", transcript)
    d = Raw(port, "D", transcript)
    ids = {a.id: "<A>", b.id: "<B>", r.id: "<R>", d.id: "<D>"}

    def normalized(step: tuple[str, bytes]) -> tuple[str, bytes]:
        """Client IDs differ between the servers: named where a reply gives one."""
        label, data = step
        if "HELLO" in label:
            data = re.sub(rb"\$2\r\nid\r\n:\d+\r\n", b"$2\r\nid\r\n:<id>\r\n", data)
        elif "TRACKINGINFO" in label or "GETREDIR" in label or b"redir-broken" in data:
            for number, name in ids.items():
                data = data.replace(b":%d\r\n" % number, b":" + name.encode() + b"\r\n")
        return label, data

    r.call("SUBSCRIBE", "__redis__:invalidate")  # RESP2: a redirect target
    a.call("HELLO", "3")
    d.call("HELLO", "3")
    for bad in (
        ("CLIENT", "CACHING", "yes"),
        ("CLIENT", "TRACKING", "ON", "PREFIX", "x"),
        ("CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"),
        ("CLIENT", "TRACKING", "ON", "REDIRECT", "999999"),
        ("CLIENT", "TRACKING", "ON", "REDIRECT", "notanumber"),
        ("CLIENT", "TRACKING", "ON", "BCAST", "NOLOOP", "OPTIN"),
        ("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab", "PREFIX", "a"),
        ("CLIENT", "TRACKING", "maybe"),
        ("CLIENT", "TRACKINGINFO"),
        ("CLIENT", "GETREDIR"),
    ):
        a.call(*bad)
    # Default mode, RESP3: reads are tracked, each key invalidated once per read.
    a.call("CLIENT", "TRACKING", "ON")
    a.call("CLIENT", "TRACKINGINFO")
    a.call("CLIENT", "TRACKING", "ON", "BCAST")
    a.call("GET", "k")
    a.call("MGET", "k2", "k3")
    a.call("EVAL", "return redis.call('get', KEYS[1])", "1", "k4")
    a.call("STRLEN", "k5")
    b.call("SET", "k", "v")
    a.pending()
    b.call("MSET", "k", "v2", "k2", "1", "k3", "1", "k4", "1", "k5", "1", "untracked", "1")
    a.pending()
    a.call("GET", "k")
    a.call("SET", "k", "mine")  # its own write: no NOLOOP, so it hears of it too
    a.call("HGETALL", "h")
    b.call("HSET", "h", "f", "v")
    a.pending()
    a.call("GET", "e")
    b.call("SET", "e", "1", "PX", "50")
    a.pending()
    time.sleep(0.3)
    b.call("GET", "e")  # expired by now: deleted by this read or by the expiry sweep
    a.pending()
    # Keyspace-wide commands run in a transaction here: only what they change is told.
    a.call("GET", "e2")
    b.call("SET", "e2", "1", "PX", "50")
    a.pending()
    b.call("DBSIZE")
    a.pending()
    time.sleep(0.3)
    b.call("SCAN", "0", "MATCH", "nothing*")  # deletes e2 here, if the sweep has not
    a.pending()
    a.call("GET", "f1")
    b.call("FLUSHALL")
    a.pending()
    # NOLOOP: its own writes are not told (a key read again is tracked again).
    a.call("CLIENT", "TRACKING", "ON", "NOLOOP")
    a.call("CLIENT", "TRACKINGINFO")
    a.call("GET", "n1")
    a.call("MGET", "n2", "n3")
    a.call("SET", "n1", "mine")
    a.call("MSET", "n2", "mine", "unread", "x")
    b.call("SET", "n3", "theirs")
    a.pending()
    a.call("GET", "n1")
    b.call("SET", "n1", "theirs")
    a.pending()
    # OPTIN: only reads after CLIENT CACHING yes (it lasts through a MULTI).
    a.call("CLIENT", "TRACKING", "OFF")
    a.call("CLIENT", "TRACKING", "ON", "OPTIN")
    a.call("CLIENT", "CACHING", "no")
    a.call("GET", "o1")
    a.call("CLIENT", "CACHING", "yes")
    a.call("CLIENT", "TRACKINGINFO")
    a.queue("MULTI")
    a.queue("GET", "o2")
    a.queue("GET", "o3")
    a.call("EXEC")
    a.call("GET", "o4")
    b.call("MSET", "o1", "1", "o2", "2", "o3", "3", "o4", "4")
    a.pending()
    # OPTOUT: every read but the one after CLIENT CACHING no.
    a.call("CLIENT", "TRACKING", "OFF")
    a.call("CLIENT", "TRACKING", "ON", "OPTOUT")
    a.call("CLIENT", "CACHING", "no")
    a.call("CLIENT", "TRACKINGINFO")
    a.call("GET", "p1")
    a.call("GET", "p2")
    b.call("MSET", "p1", "1", "p2", "2")
    a.pending()
    # BCAST: every change under a prefix, one message per prefix.
    a.call("CLIENT", "TRACKING", "OFF")
    a.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "PREFIX", "q")
    a.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "qq")
    a.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "z")
    a.call("CLIENT", "TRACKINGINFO")
    b.call("MSET", "user:2", "x", "q1", "1", "other", "2", "user:1", "3", "z", "1")
    a.pending()
    a.call("CLIENT", "TRACKING", "ON", "OPTIN")
    # RESP2 with a redirect to a subscribed client; and one without, which hears nothing.
    b.call("CLIENT", "TRACKING", "ON", "REDIRECT", r.id, ids=ids)
    b.call("CLIENT", "TRACKINGINFO")
    b.call("CLIENT", "GETREDIR")
    b.call("GET", "w")
    a.call("SET", "w", "1")
    r.pending()
    b.call("GET", "w")
    a.call("FLUSHALL")
    r.pending()
    b.call("CLIENT", "TRACKING", "OFF")
    b.call("CLIENT", "TRACKING", "ON")
    b.call("GET", "w")
    a.call("SET", "w", "2")
    b.pending()
    # A redirect whose target has gone.
    d.call("CLIENT", "TRACKING", "ON", "REDIRECT", r.id, ids=ids)
    d.call("GET", "gone")
    r.close()
    time.sleep(0.2)
    a.call("SET", "gone", "1")
    d.pending()
    d.call("CLIENT", "TRACKINGINFO")
    d.call("RESET")
    d.call("CLIENT", "TRACKINGINFO")
    for conn in (a, b, d):
        conn.close()
    return [normalized(step) for step in transcript]


def test_tracking_sessions_are_byte_for_byte_redis_s(
    make_cluster: Callable[[int], ProcessCluster], redis_server: RedisServer
) -> None:
    cluster = make_cluster(1)
    ours = _session(cluster.port(1))
    theirs = _session(redis_server.port)
    assert [label for label, _ in ours] == [label for label, _ in theirs]
    for (label, our_bytes), (_, their_bytes) in zip(ours, theirs, strict=True):
        assert our_bytes == their_bytes, label
    received = b"".join(data for _, data in ours)
    assert received.count(b"invalidate") > 12  # the session did hear invalidations


def test_client_list_and_info_show_tracking(make_cluster: Callable[[int], ProcessCluster]) -> None:
    cluster = make_cluster(1)
    tracker = cluster.client(1, protocol=3)
    assert tracker.execute_command("CLIENT", "TRACKING", "ON", "BCAST") in (b"OK", "OK", True)
    line = tracker.execute_command("CLIENT", "INFO")
    line = line.decode() if isinstance(line, bytes) else line
    assert " flags=tB " in line and " redir=0 " in line
    info = cluster.client(1).info()
    assert info["tracking_clients"] == 1 and info["tracking_total_prefixes"] == 1


def _until_pending(conn: Raw, expected: bytes) -> None:
    """Read ``conn``'s pushes until ``expected`` is among them (bounded)."""
    deadline = time.monotonic() + 10
    while True:
        conn.pending()
        if expected in conn.transcript[-1][1]:
            return
        assert time.monotonic() < deadline, f"never got {expected!r}: {conn.transcript}"
        time.sleep(0.02)


def test_a_write_through_another_replica_invalidates_what_a_client_read(
    make_cluster: Callable[[int], ProcessCluster],
) -> None:
    """Every replica executes every write, so each tells its own tracking clients; and a
    FLUSHALL through a third replica reaches them too."""
    cluster = make_cluster(3)
    reader = Raw(cluster.port(1), "A", [])
    reader.call("HELLO", "3")
    reader.call("CLIENT", "TRACKING", "ON")
    writer = cluster.client(2)
    writer.set("shared", "old")
    deadline = time.monotonic() + 10
    while True:  # replica 1 may execute the SET a moment after replica 2 answered it
        reader.call("GET", "shared")
        if reader.transcript[-1][1].startswith(b"$3\r\nold\r\n"):
            break
        assert time.monotonic() < deadline, reader.transcript
    writer.set("shared", "new")
    _until_pending(reader, b">2\r\n$10\r\ninvalidate\r\n*1\r\n$6\r\nshared\r\n")
    reader.call("GET", "shared")  # tracked again
    cluster.client(3).flushall()
    _until_pending(reader, b">2\r\n$10\r\ninvalidate\r\n_\r\n")
    reader.close()


def test_a_client_of_a_replica_that_was_stopped_hears_what_changed_meanwhile(
    make_cluster: Callable[..., ProcessCluster],
) -> None:
    """Replica 3 is stopped until the others have left it behind; on return it catches up
    (from the log, or from a snapshot once its peers deleted what it missed), and a
    client of it that read a key — still connected: the process was only stopped —
    hears that the key changed: its own invalidation, or after a rebuild the null one
    that drops everything."""
    cluster = make_cluster(3, leave_behind_ms=1000, leave_behind_instances=0)
    cluster.client(1).set("watched", "before")
    reader = Raw(cluster.port(3), "A", [])
    reader.call("HELLO", "3")
    reader.call("CLIENT", "TRACKING", "ON")
    deadline = time.monotonic() + 10
    while True:
        reader.call("GET", "watched")
        if reader.transcript[-1][1].startswith(b"$6\r\nbefore\r\n"):
            break
        assert time.monotonic() < deadline, reader.transcript
    cluster.stop(3)
    with cluster.client(1, socket_timeout=15.0) as writer:
        writer.set("watched", "after")
        deadline = time.monotonic() + 60
        n = 0
        while left_behind(cluster, 1) != "3" or left_behind(cluster, 2) != "3":
            assert time.monotonic() < deadline, cluster.info(1)
            for _ in range(20):
                writer.set(f"filler:{n}", n)
                n += 1
    cluster.cont(3)
    told = (b"invalidate\r\n*1\r\n$7\r\nwatched\r\n", b"invalidate\r\n_\r\n")
    deadline = time.monotonic() + 60
    while not any(t in data for _, data in reader.transcript for t in told):
        assert time.monotonic() < deadline, f"never told: {reader.transcript[-3:]}"
        time.sleep(0.1)
        reader.pending()
    while True:  # -LOADING while it catches up
        reader.call("GET", "watched")
        if reader.transcript[-1][1].startswith(b"$5\r\nafter\r\n"):
            break
        assert time.monotonic() < deadline, reader.transcript[-1]
        time.sleep(0.1)
    reader.close()

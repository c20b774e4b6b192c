"""One load-generator worker process: many closed-loop RESP connections on one selector.

Why plain non-blocking sockets and ``selectors`` rather than trio: the
generator must not be the bottleneck, and per operation the cheapest Python
can do is one ``recv``, one ``hiredis.Reader.gets`` per reply, a few integer
operations to histogram the latency and one ``send`` of the replacement
requests. An event loop with tasks and channels would add a task switch per
operation. (Also, DESIGN.md §2 reserves trio for ``epaxosdb.runtime``.)

Each connection keeps exactly ``pipeline`` requests outstanding: a reply —
success or error — is answered by a new request on the same connection, in
the same ``send`` as the other replacements from that ``recv``. A request's
latency is the time from the monotonic clock reading just before its
``send`` to the one just after the ``recv`` that completed its reply.

Lifecycle, driven by the parent over a pipe:
connect every connection (blocking, before the clock starts) → ``ready`` →
wait for ``start`` (a shared ``time.monotonic_ns`` instant, the same clock in
every process on Linux) → run until ``end`` → stop issuing, collect
outstanding replies until ``drain`` → send back a ``WorkerResult``.

A connection that breaks during the run counts its outstanding requests as
``CONNECTION`` errors and is re-dialled (non-blocking) every
``RECONNECT_INTERVAL_S`` until the run ends, so killing a replica mid-run
shows up as errors and a throughput dip instead of a crashed benchmark.
"""

from __future__ import annotations

import contextlib
import errno
import random
import selectors
import socket
import time
from collections import deque
from dataclasses import dataclass, field
from itertools import repeat
from multiprocessing.connection import Connection

import hiredis

from epaxosdb.bench.histogram import SUB_BITS, Histogram
from epaxosdb.bench.workload import ClientSlot, KeyChooser, Workload, make_value

RECV_BYTES = 256 << 10
CONNECT_TIMEOUT_S = 5.0
RECONNECT_INTERVAL_S = 0.2
SELECT_MAX_S = 0.05
"""Longest single wait, so the end of the run is noticed on time even with no traffic."""
START_WAIT_MAX_S = 120.0
"""How long a ready worker waits for the parent's start (or abort) before giving up."""
CONNECTION_ERROR = "CONNECTION"
"""Error prefix for requests whose connection broke before a reply came."""
_AUTH_MARK = -1
"""Stands in ``sent`` for an AUTH sent on reconnect, whose reply is not a measured operation."""
_NEED_DATA = object()


class BenchSetupError(Exception):
    """A worker could not get going (connection refused, AUTH rejected, ...)."""


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    index: int
    host: str
    slots: tuple[ClientSlot, ...]
    workload: Workload
    pipeline: int
    seed: int
    nonce: str
    password: str | None = None


@dataclass(slots=True)
class WorkerResult:
    index: int
    connections: int
    per_port: dict[int, Histogram]
    """Successful operations' latency (µs) by replica port, drained ones included."""
    timeline: list[Histogram]
    """Successful operations by the second (since start) in which they completed."""
    ops_in_window: int
    """Successes that completed between start and end: the throughput numerator."""
    errors: dict[str, int] = field(default_factory=dict)
    """Error replies by their first word (``ERR``, ``UNCERTAIN``, ``LOADING``, ...)."""
    disconnects: int = 0
    connect_failures: int = 0
    unfinished: int = 0
    """Requests still without a reply when the drain period ended."""
    cpu_s: float = 0.0
    wall_s: float = 0.0


@dataclass(slots=True, eq=False)
class _Conn:
    slot: ClientSlot
    chooser: KeyChooser
    hist: Histogram
    sock: socket.socket | None = None
    reader: hiredis.Reader | None = None
    sent: deque[int] = field(default_factory=deque)
    outbuf: bytearray = field(default_factory=bytearray)
    connecting: bool = False
    retry_at_ns: int = 0

    def outstanding(self) -> int:
        return sum(1 for t in self.sent if t != _AUTH_MARK)


def _encode(*args: bytes) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def _blocking_connect(host: str, port: int, password: str | None) -> socket.socket:
    try:
        sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S)
    except OSError as exc:
        raise BenchSetupError(f"cannot connect to {host}:{port}: {exc}") from None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if password is not None:
        reader = hiredis.Reader(notEnoughData=_NEED_DATA)
        try:
            sock.sendall(_encode(b"AUTH", password.encode()))
            reply: object = _NEED_DATA
            while reply is _NEED_DATA:
                data = sock.recv(4096)
                if not data:
                    raise OSError("connection closed")
                reader.feed(data)
                reply = reader.gets()
        except OSError as exc:
            sock.close()
            raise BenchSetupError(f"AUTH on {host}:{port} failed: {exc}") from None
        if reply != b"OK":
            sock.close()
            raise BenchSetupError(f"AUTH on {host}:{port} was refused: {reply!r}")
    sock.setblocking(False)
    return sock


class Worker:
    """The selector loop over this worker's connections (one process, one thread)."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        rng = random.Random(f"{spec.seed}:{spec.index}")
        value = make_value(spec.workload.value_size, rng)
        self.per_port: dict[int, Histogram] = {}
        self.conns: list[_Conn] = []
        for slot in spec.slots:
            hist = self.per_port.setdefault(slot.port, Histogram())
            chooser = KeyChooser(
                spec.workload, slot.client_id, spec.nonce,
                random.Random(f"{spec.seed}:{slot.client_id}"), value,
            )
            self.conns.append(_Conn(slot, chooser, hist))
        self.sel = selectors.DefaultSelector()
        self.timeline: list[Histogram] = []
        self.errors: dict[str, int] = {}
        self.ops_in_window = 0
        self.disconnects = 0
        self.connect_failures = 0
        self.down: list[_Conn] = []
        """Broken connections waiting to be re-dialled."""
        self.stopping = False
        self.start_ns = 0
        self.end_ns = 0

    # --- setup and teardown ----------------------------------------------------------

    def connect_all(self) -> None:
        for c in self.conns:
            self._attach(c, _blocking_connect(self.spec.host, c.slot.port, self.spec.password))

    def close(self) -> None:
        for c in self.conns:
            if c.sock is not None:
                with contextlib.suppress(KeyError, ValueError):
                    self.sel.unregister(c.sock)
                c.sock.close()
                c.sock = None
        self.sel.close()

    def _attach(self, c: _Conn, sock: socket.socket) -> None:
        c.sock = sock
        c.reader = hiredis.Reader(notEnoughData=_NEED_DATA)
        c.sent.clear()
        c.outbuf.clear()
        c.connecting = False
        self.sel.register(sock, selectors.EVENT_READ, c)

    # --- the run ---------------------------------------------------------------------

    def run(self, start_ns: int, end_ns: int, drain_ns: int) -> WorkerResult:
        self.start_ns, self.end_ns = start_ns, end_ns
        delay = (start_ns - time.monotonic_ns()) / 1e9
        if delay > 0:
            time.sleep(delay)
        cpu0, wall0 = time.process_time(), time.monotonic()
        pipeline = self.spec.pipeline
        now = time.monotonic_ns()
        for c in self.conns:
            self._issue(c, pipeline, now)
        select = self.sel.select
        while True:
            now = time.monotonic_ns()
            if not self.stopping and now >= end_ns:
                self.stopping = True
            if self.stopping and (now >= drain_ns or not self._any_outstanding()):
                break
            wake = drain_ns if self.stopping else end_ns
            if self.down and not self.stopping:
                wake = self._redial_due(now, wake)
            timeout = min(max(wake - now, 0) / 1e9, SELECT_MAX_S)
            for key, mask in select(timeout):
                c = key.data
                if mask & selectors.EVENT_WRITE:
                    self._on_writable(c)
                if mask & selectors.EVENT_READ and c.sock is not None and not c.connecting:
                    self._on_readable(c)
        unfinished = sum(c.outstanding() for c in self.conns if c.sock is not None)
        return WorkerResult(
            index=self.spec.index,
            connections=len(self.conns),
            per_port=self.per_port,
            timeline=self.timeline,
            ops_in_window=self.ops_in_window,
            errors=self.errors,
            disconnects=self.disconnects,
            connect_failures=self.connect_failures,
            unfinished=unfinished,
            cpu_s=time.process_time() - cpu0,
            wall_s=time.monotonic() - wall0,
        )

    def _any_outstanding(self) -> bool:
        return any(c.sock is not None and not c.connecting and c.sent for c in self.conns)

    def _issue(self, c: _Conn, n: int, now: int) -> None:
        nxt = c.chooser.next_request
        data = b"".join([nxt() for _ in range(n)])
        c.sent.extend(repeat(now, n))
        self._send(c, data)

    def _send(self, c: _Conn, data: bytes) -> None:
        sock = c.sock
        assert sock is not None
        if c.outbuf:
            c.outbuf += data
            return
        try:
            sent = sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            self._lost(c, exc)
            return
        if sent < len(data):
            c.outbuf += data[sent:]
            self.sel.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)

    def _on_writable(self, c: _Conn) -> None:
        sock = c.sock
        if sock is None:
            return
        if c.connecting:
            self._finish_connect(c)
            return
        try:
            sent = sock.send(c.outbuf)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._lost(c, exc)
            return
        del c.outbuf[:sent]
        if not c.outbuf:
            self.sel.modify(sock, selectors.EVENT_READ, c)

    def _on_readable(self, c: _Conn) -> None:
        sock, reader = c.sock, c.reader
        assert sock is not None and reader is not None
        try:
            data = sock.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._lost(c, exc)
            return
        if not data:
            self._lost(c, None)
            return
        now = time.monotonic_ns()
        reader.feed(data)
        sent = c.sent
        port_counts = c.hist.counts
        second = (now - self.start_ns) // 1_000_000_000
        timeline = self.timeline
        while len(timeline) <= second:
            timeline.append(Histogram())
        sec_hist = timeline[second]
        sec_counts = sec_hist.counts
        done = ok = 0
        lat_sum = 0
        lat_min = 1 << 62
        lat_max = 0
        shift_base = SUB_BITS + 1
        try:
            while True:
                reply = reader.gets()
                if reply is _NEED_DATA:
                    break
                t0 = sent.popleft()
                if t0 == _AUTH_MARK:
                    continue
                done += 1
                if type(reply) is hiredis.ReplyError:
                    prefix = str(reply).split(" ", 1)[0] or "ERR"
                    self.errors[prefix] = self.errors.get(prefix, 0) + 1
                    continue
                lat = (now - t0) // 1000
                # histogram.bucket_of, inlined: this line runs once per operation.
                s = lat.bit_length() - shift_base
                b = lat if s <= 0 else (s << SUB_BITS) + (lat >> s)
                port_counts[b] += 1
                sec_counts[b] += 1
                ok += 1
                lat_sum += lat
                if lat > lat_max:
                    lat_max = lat
                if lat < lat_min:
                    lat_min = lat
        except (hiredis.ProtocolError, IndexError) as exc:
            # Garbage from the server, or more replies than requests: not a RESP peer we trust.
            self._lost(c, exc)
        if ok:
            for h in (c.hist, sec_hist):
                h.total += ok
                h.sum_us += lat_sum
                h.max_us = max(h.max_us, lat_max)
                h.min_us = min(h.min_us, lat_min)
            if now <= self.end_ns:
                self.ops_in_window += ok
        if done and not self.stopping and c.sock is not None:
            self._issue(c, done, now)

    # --- broken connections ----------------------------------------------------------

    def _lost(self, c: _Conn, exc: BaseException | None) -> None:
        if c.sock is None:
            return
        pending = c.outstanding()
        if pending:
            self.errors[CONNECTION_ERROR] = self.errors.get(CONNECTION_ERROR, 0) + pending
        self.disconnects += 1
        with contextlib.suppress(KeyError, ValueError):
            self.sel.unregister(c.sock)
        c.sock.close()
        c.sock = None
        c.reader = None
        c.sent.clear()
        c.outbuf.clear()
        c.connecting = False
        c.retry_at_ns = time.monotonic_ns() + int(RECONNECT_INTERVAL_S * 1e9)
        self.down.append(c)

    def _redial_due(self, now: int, wake: int) -> int:
        """Start non-blocking connects for broken connections whose retry time has come."""
        waiting = []
        for c in self.down:
            if c.retry_at_ns > now:
                wake = min(wake, c.retry_at_ns)
                waiting.append(c)
                continue
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            err = sock.connect_ex((self.spec.host, c.slot.port))
            if err not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
                sock.close()  # refused at once: the replica is still down
                self.connect_failures += 1
                c.retry_at_ns = now + int(RECONNECT_INTERVAL_S * 1e9)
                wake = min(wake, c.retry_at_ns)
                waiting.append(c)
                continue
            c.sock, c.connecting = sock, True
            self.sel.register(sock, selectors.EVENT_WRITE, c)
        self.down = waiting
        return wake

    def _finish_connect(self, c: _Conn) -> None:
        sock = c.sock
        assert sock is not None
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        self.sel.unregister(sock)
        if err:
            sock.close()
            c.sock, c.connecting = None, False
            self.connect_failures += 1
            c.retry_at_ns = time.monotonic_ns() + int(RECONNECT_INTERVAL_S * 1e9)
            self.down.append(c)
            return
        self._attach(c, sock)
        now = time.monotonic_ns()
        if self.spec.password is not None:
            c.sent.append(_AUTH_MARK)
            self._send(c, _encode(b"AUTH", self.spec.password.encode()))
        if c.sock is not None and not self.stopping:
            self._issue(c, self.spec.pipeline, now)


def worker_main(spec: WorkerSpec, pipe: Connection) -> None:
    """Entry point of a worker process (``multiprocessing``, spawn)."""
    worker = Worker(spec)
    try:
        try:
            worker.connect_all()
        except BenchSetupError as exc:
            pipe.send(("error", str(exc)))
            return
        pipe.send(("ready", None))
        if not pipe.poll(START_WAIT_MAX_S):
            return
        msg = pipe.recv()
        if msg[0] != "start":
            return
        _, start_ns, end_ns, drain_ns = msg
        pipe.send(("done", worker.run(start_ns, end_ns, drain_ns)))
    except KeyboardInterrupt:
        pass  # the parent was interrupted too and tears everything down
    except (EOFError, BrokenPipeError):
        pass  # the parent is gone: nobody is left to report to
    finally:
        worker.close()
        pipe.close()

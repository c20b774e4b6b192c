"""The RESP listener of a replica: settings, server-wide client state, accept loop.

``serve_clients`` listens (``task_status.started(port)`` once bound, so port
0 works in tests) and runs one ``Connection`` per accepted stream
(``runtime/connection.py``). Everything the connections share lives in one
``ClientRegistry`` per server: the effective settings (``CONFIG SET`` changes
them), the live connections by id (``CLIENT LIST``/``KILL``), and the
counters ``INFO`` reports. Nothing here is module-global, so two servers in
one process (as in tests) never share state.

Limits come from Redis's directives and defaults (``maxclients`` 10000,
``proto-max-bulk-len`` 512 MB, ``client-query-buffer-limit`` 1 GB,
``timeout`` 0 = never) plus two that bound a single connection's memory.
``replies_pending_max`` commands may be in flight (dispatched, reply not yet
written): at that many the connection stops reading, so TCP pushes back on
the client. Replies waiting to be *sent* do not stop it: a client may send
its whole pipeline before it reads a reply (redis-py does), and waiting for
it to read first would deadlock both sides. They are bounded instead by
``output_buffer_max`` (Redis's ``client-output-buffer-limit normal`` hard
limit; Redis has none by default): a client that leaves more than that
unread is closed, and nobody else notices.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Protocol

import trio

from epaxosdb.commands.tally import Tally
from epaxosdb.users import User
from protocol.replies import Error, Reply
from protocol.resp import RespLimits
from protocol.resp import encode_reply as _encode_reply

from .acl import AclLog, UserTable
from .backend import Backend
from .blocking import BlockedClients
from .connection import Connection
from .latency import PERCENTILES_DEFAULT, LatencyHistogram, LatencyMonitor
from .listeners import open_listeners
from .pause import ClientPause
from .pubsub import Subscriptions
from .scripts import ScriptCache
from .slowlog import SlowLog
from .throttle import LogThrottle
from .tracking import Tracking

if TYPE_CHECKING:
    from epaxosdb.commands import CommandSpec

log = logging.getLogger("epaxosdb.clients")

MAX_CLIENTS_REACHED = Error("ERR max number of clients reached")
REDIS_VERSION = "7.0.15"
"""What HELLO and INFO report: clients check it is a plausible Redis 7."""


@dataclass
class ClientSettings:
    """Settings of the RESP front end, named after Redis's directives.

    The first group is configuration; the second describes the server for
    INFO and CONFIG GET. Mutable because CONFIG SET changes the first group
    at run time (limits apply to connections accepted afterwards).
    """

    requirepass: str = ""
    users: tuple[tuple[bytes, tuple[bytes, ...]], ...] = ()
    """Users from the cluster file: name and ``ACL SETUSER`` rules (``runtime.acl``)."""
    maxclients: int = 10000
    proto_max_bulk_len: int = 512 * 1024 * 1024
    client_query_buffer_limit: int = 1024 * 1024 * 1024
    timeout: int = 0
    """Seconds a client may stay idle before it is closed; 0 is never."""
    replies_pending_max: int = 1024
    output_buffer_max: int = 1024 * 1024 * 1024
    """Bytes of replies a client may leave unread before it is closed (see above)."""
    pubsub_output_max: int = 32 * 1024 * 1024
    """The same for a subscriber's messages (Redis's ``pubsub`` hard limit, 32 MB)."""
    receive_size: int = 64 * 1024

    tcp_port: int = 0
    """The plain-text client port (Redis's ``port``; 0 when there is none)."""
    bind: str = "127.0.0.1"
    tls_port: int = 0
    """The TLS client port (``tls-port``; 0 when TLS is off); the files below are
    the cluster file's, as ``epaxosdb.certificates`` loaded them at start."""
    tls_cert_file: str = ""
    tls_key_file: str = ""
    tls_ca_cert_file: str = ""
    tls_auth_clients: str = "yes"
    tls_peers: bool = False
    """The cluster file's ``tls_peers``: Redis's ``tls-replication`` and ``tls-cluster``."""
    config_file: str = ""
    redis_version: str = REDIS_VERSION
    run_id: str = field(default_factory=lambda: secrets.token_hex(20))
    process_id: int = field(default_factory=os.getpid)
    executable: str = field(default_factory=lambda: os.path.abspath(sys.argv[0] or "epaxosdb"))

    def limits(self) -> RespLimits:
        return RespLimits(
            proto_max_bulk_len=self.proto_max_bulk_len,
            client_query_buffer_limit=self.client_query_buffer_limit,
        )


@dataclass(slots=True)
class CommandStats:
    """One command's line of INFO ``commandstats``.

    ``usec`` is what a client of a replicated database waits for: from dispatch
    to reply for a data command (consensus and fsync included; Redis counts
    only its CPU time, having nothing else to wait for), the run time of a
    connection command; a blocking command's wait for data is not counted,
    as in Redis. ``rejected`` were refused before running (NOAUTH, LOADING,
    MULTI and subscriber-mode refusals); ``failed`` ran and replied an error."""

    calls: int = 0
    usec: float = 0.0
    rejected: int = 0
    failed: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    """The same waits as a distribution (INFO latencystats, LATENCY HISTOGRAM)."""


@dataclass(slots=True)
class ServerStats:
    """Counters behind INFO's Stats section; ``CONFIG RESETSTAT`` zeroes them."""

    connections_received: int = 0
    commands_processed: int = 0
    rejected_connections: int = 0
    net_input_bytes: int = 0
    net_output_bytes: int = 0
    error_replies: int = 0
    errors_by_code: dict[str, int] = field(default_factory=dict)
    commands: dict[bytes, CommandStats] = field(default_factory=dict)
    """By command name as COMMAND lists it (``get``, ``client|setname``)."""
    latency_tracking: bool = True
    """``latency-tracking``: whether calls also go into their command's histogram."""
    latency_percentiles: tuple[float, ...] = PERCENTILES_DEFAULT
    """``latency-tracking-info-percentiles``: what INFO latencystats prints."""
    keyspace: Tally = field(default_factory=Tally)
    """``expired_keys``, ``keyspace_hits``, ``keyspace_misses``: counted where commands
    execute (the consensus loop adds each turn's), zeroed here with the rest."""

    def command(self, name: bytes) -> CommandStats:
        stats = self.commands.get(name)
        if stats is None:
            stats = self.commands[name] = CommandStats()
        return stats

    def count_run(self, names: list[bytes], started: float, replies: Sequence[Reply]) -> None:
        """Calls of ``names`` dispatched together at ``started`` (``time.perf_counter``)
        and answered now, ``replies[i]`` to ``names[i]``.

        Runs of one command (a pipeline of SETs) update its line once: this runs for
        every pipelined run, and names are the table's own objects, so ``is`` tells."""
        usec = (time.perf_counter() - started) * 1e6
        name = names[0]
        calls = failed = 0
        for other, reply in zip(names, replies, strict=True):
            if other is not name:
                self._add(name, calls, failed, usec)
                name, calls, failed = other, 0, 0
            calls += 1
            if type(reply) is Error:
                failed += 1
        self._add(name, calls, failed, usec)

    def _add(self, name: bytes, calls: int, failed: int, usec: float) -> None:
        stats = self.command(name)
        stats.calls += calls
        stats.usec += usec * calls
        stats.failed += failed
        if self.latency_tracking:
            stats.latency.record(usec, calls)

    def count_call(self, name: bytes, started: float, reply: Reply) -> None:
        self.count_run([name], started, (reply,))

    def reset(self) -> None:
        self.connections_received = 0
        self.commands_processed = 0
        self.rejected_connections = 0
        self.net_input_bytes = 0
        self.net_output_bytes = 0
        self.error_replies = 0
        self.errors_by_code.clear()
        self.commands.clear()
        self.keyspace.reset()


@dataclass(frozen=True, slots=True)
class ClientStatistics:
    """A snapshot of the front end's counters (trio's ``statistics()`` convention)."""

    connected_clients: int
    total_connections_received: int
    total_commands_processed: int
    rejected_connections: int
    total_net_input_bytes: int
    total_net_output_bytes: int
    total_error_replies: int


class ClientRegistry:
    """Server-wide state shared by every connection of one front end."""

    def __init__(self, settings: ClientSettings | None = None) -> None:
        self.settings: ClientSettings = settings if settings is not None else ClientSettings()
        self.stats = ServerStats()
        self.clients: dict[int, Connection] = {}
        self.started_monotonic = time.monotonic()
        self.data_specs: dict[bytes, CommandSpec] = {}
        """Raw command name → spec of a plain data command: the hot path's lookup cache."""
        self.rejections = LogThrottle(10, 60.0, time.monotonic)
        """Connections refused past ``maxclients``: a few logged, the rest counted."""
        self.writes_refused: Error | None = None
        """Set while the data dir's disk is nearly full (``diskspace``): the reply to a
        client's write."""
        self._next_id = 0
        self.batching_replies = False
        """Inside ``reply_batch``: completed replies wait for its end to be sent."""
        self._to_flush: list[Connection] = []
        self.users = UserTable(self.settings.requirepass, self.settings.users)
        """ACL users (this replica's own, as in Redis)."""
        self.acl_log = AclLog()
        self.pause = ClientPause()
        """CLIENT PAUSE: this replica's clients' commands held until it ends."""
        self.scripts = ScriptCache()
        """Lua scripts by SHA1 for EVALSHA (this replica's own, as in Redis)."""
        self.subscriptions = Subscriptions()
        """Pub/sub subscriptions; the consensus loop delivers what PUBLISH posted."""
        self.tracking = Tracking(self.clients)
        """CLIENT TRACKING: the keys this replica's clients read, told when they change."""
        self.blocked = BlockedClients()
        """Clients waiting in BLPOP and friends; the consensus loop reports changed keys."""
        self.slowlog: SlowLog = SlowLog()
        """SLOWLOG: the consensus loop adds data commands, connections their own."""
        self.monitors: set[Connection] = set()
        """Clients in MONITOR mode (``monitor``)."""
        self.latency_monitor: LatencyMonitor = LatencyMonitor()
        """LATENCY LATEST/HISTORY: commands timed as for SLOWLOG, and the loop's commits."""
        self.shutdown_requested = trio.Event()
        """Set by SHUTDOWN; the replica's root task stops as on SIGTERM."""
        self.shutdown_reason = ""

    @contextmanager
    def reply_batch(self) -> Iterator[None]:
        """Send the replies completed inside, per connection, at the end, from this task.

        The consensus loop releases a turn's replies inside one: each connection
        whose writer is idle then gets one non-blocking send of all its new
        replies right here, instead of a wake-up of its writer task (a trip
        through trio's scheduler per connection per turn). What a socket does
        not take at once is left to the writer, as before.
        """
        self.batching_replies = True
        try:
            yield
        finally:
            self.batching_replies = False
            connections, self._to_flush = self._to_flush, []
            for connection in connections:
                connection.flush_completed()

    def flush_later(self, connection: Connection) -> None:
        """Called by a connection with replies completed inside ``reply_batch``."""
        self._to_flush.append(connection)

    def request_shutdown(self, reason: str) -> None:
        if not self.shutdown_requested.is_set():
            self.shutdown_reason = reason
            self.shutdown_requested.set()

    def next_client_id(self) -> int:
        self._next_id += 1
        return self._next_id

    @property
    def auth_required(self) -> bool:
        """Whether a new connection must authenticate (``default`` has a password or is off)."""
        return self.users.auth_required

    def statistics(self) -> ClientStatistics:
        stats = self.stats
        return ClientStatistics(
            connected_clients=len(self.clients),
            total_connections_received=stats.connections_received,
            total_commands_processed=stats.commands_processed,
            rejected_connections=stats.rejected_connections,
            total_net_input_bytes=stats.net_input_bytes,
            total_net_output_bytes=stats.net_output_bytes,
            total_error_replies=stats.error_replies,
        )

    def configure(self, settings: ClientSettings) -> None:
        """Take the configured settings (made after the registry, which the consensus loop
        needed first): the users and the ``default`` password come from them."""
        self.settings = settings
        self.users = UserTable(settings.requirepass, settings.users)
        self.settings_changed()

    def settings_changed(self) -> None:
        """Let live connections see a new ``requirepass`` or changed users (limits apply to
        new ones)."""
        for connection in list(self.clients.values()):
            connection.refresh_auth()

    users_changed = settings_changed

    def unpause(self) -> None:
        """CLIENT UNPAUSE: held commands go on now."""
        self.pause.lift()
        for connection in list(self.clients.values()):
            connection.pause_lifted()

    def disconnect_user(self, user: User, current: Connection) -> None:
        """``ACL DELUSER``: close every connection authenticated as ``user`` (the current
        one after its reply)."""
        for connection in list(self.clients.values()):
            if connection.user is not user:
                continue
            if connection is current:
                connection.close_after_reply()
            else:
                connection.kill()


class ClientIO(Protocol):
    """The byte pipe a connection reads and writes; ``receive`` returns ``b""`` at end of input.

    Failures of the peer surface as ``trio.BrokenResourceError``.
    """

    async def receive(self, max_bytes: int) -> bytes | bytearray: ...

    async def send_all(self, data: bytes | bytearray) -> None: ...

    def try_send(self, data: bytes | bytearray) -> int:
        """Send what can go without waiting; how many bytes went (0: none could).

        Raises ``OSError`` when the connection is broken."""
        ...

    def hung_up(self) -> bool:
        """Whether the client has ended its input or broken the connection, as far as can
        be told now without waiting (and without taking anything it sent)."""
        ...

    def close(self) -> None: ...


class StreamIO:
    """Any ``trio.abc.Stream``: a ``trio.SSLStream`` (the TLS port), memory streams in tests."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self._stream = stream

    async def receive(self, max_bytes: int) -> bytes | bytearray:
        return await self._stream.receive_some(max_bytes)

    async def send_all(self, data: bytes | bytearray) -> None:
        await self._stream.send_all(data)

    def try_send(self, data: bytes | bytearray) -> int:
        """A stream has no non-blocking send: every reply goes through ``send_all``."""
        return 0

    def hung_up(self) -> bool:
        """A stream cannot be asked without reading from it: the reader finds out."""
        return False

    def close(self) -> None:
        """The stream itself is closed by ``handle_client``."""


_BROKEN = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


class SocketIO:
    """A TCP connection driven with non-blocking calls and trio's readiness waits.

    ``trio.SocketStream`` makes every ``recv``/``send`` a trip through the
    scheduler even when data is ready; with pipelined clients that trip is
    the largest cost per request batch. Here a call that can complete does
    so at once, and the task yields only when it must wait, or once per
    received batch when data keeps coming (so a flooding client cannot
    starve the others). The stdlib socket object here shares the stream's
    file descriptor (no ``dup``: a client costs one descriptor, as in Redis);
    ``close`` detaches it without closing, and ``handle_client`` closes the
    stream, which also tells trio's I/O manager the descriptor is gone.
    """

    def __init__(self, stream: trio.SocketStream) -> None:
        self._sock = socket.socket(fileno=stream.socket.fileno())
        self._sock.setblocking(False)
        self._drained = True
        """The last read emptied the socket: the next one would likely find nothing."""

    async def receive(self, max_bytes: int) -> bytes | bytearray:
        sock = self._sock
        if not self._drained:
            # More may be queued already (a pipelining client): try first,
            # then yield once so that other connections get their turn.
            try:
                data = sock.recv(max_bytes)
            except BlockingIOError:
                pass
            except _BROKEN as error:
                raise trio.BrokenResourceError(str(error)) from error
            else:
                self._drained = len(data) < max_bytes
                # Shielded: a cancellation here would drop ``data`` (a blocked
                # client's read is cancelled when its command is answered).
                await trio.lowlevel.cancel_shielded_checkpoint()
                return data
        # A client that waits for its replies has sent nothing yet: wait for
        # readiness first rather than pay a recv that fails.
        while True:
            await trio.lowlevel.wait_readable(sock)
            try:
                data = sock.recv(max_bytes)
            except BlockingIOError:
                continue
            except _BROKEN as error:
                raise trio.BrokenResourceError(str(error)) from error
            self._drained = len(data) < max_bytes
            return data

    async def send_all(self, data: bytes | bytearray) -> None:
        sock = self._sock
        with memoryview(data) as view:
            sent = 0
            while sent < len(view):
                try:
                    sent += sock.send(view[sent:])
                except BlockingIOError:
                    await trio.lowlevel.wait_writable(sock)
                except _BROKEN as error:
                    raise trio.BrokenResourceError(str(error)) from error

    def try_send(self, data: bytes | bytearray) -> int:
        try:
            return self._sock.send(data)
        except BlockingIOError:
            return 0

    def hung_up(self) -> bool:
        """A peek at the socket: end of input, or an error such as a reset. Data waiting
        means the client is still there (what it sent stays for the reader)."""
        try:
            return self._sock.recv(1, socket.MSG_PEEK) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def close(self) -> None:
        self._sock.detach()


def stream_addresses(stream: trio.abc.Stream) -> tuple[str, str, int]:
    """(peer ``ip:port``, local ``ip:port``, fd) of a socket stream, or of the socket under
    a TLS stream; placeholders otherwise."""
    if isinstance(stream, trio.SSLStream):
        stream = stream.transport_stream
    if not isinstance(stream, trio.SocketStream):
        return "?:0", "?:0", -1
    sock = stream.socket
    try:
        peer = sock.getpeername()
        local = sock.getsockname()
        return f"{peer[0]}:{peer[1]}", f"{local[0]}:{local[1]}", sock.fileno()
    except (OSError, IndexError, TypeError):
        return "?:0", "?:0", -1


def client_io(stream: trio.abc.Stream) -> ClientIO:
    """The fastest pipe for ``stream``: direct socket calls for TCP, the Stream API otherwise."""
    if isinstance(stream, trio.SocketStream):
        return SocketIO(stream)
    return StreamIO(stream)


async def handle_client(
    stream: trio.abc.Stream, registry: ClientRegistry, backend: Backend
) -> None:
    """Serve one client until it quits, errs or disconnects; always closes ``stream``."""
    try:
        if len(registry.clients) >= registry.settings.maxclients:
            registry.stats.rejected_connections += 1
            if registry.rejections.allow():
                log.warning("rejected a connection: max number of clients reached")
            if more := registry.rejections.take_summary():
                log.warning("rejected %d more connections: max number of clients reached", more)
            with trio.move_on_after(1):
                await stream.send_all(_encode_reply(MAX_CLIENTS_REACHED))
            return
        io = client_io(stream)
        try:
            connection = Connection(io, registry, backend, addresses=stream_addresses(stream))
            await connection.run()
        finally:
            io.close()
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    except Exception:
        # A bug in serving one client must cost that client its connection, not every
        # client the replica: the consensus loop ignores the replies of a dead connection.
        log.exception("a client connection failed (a bug); closing only that connection")
    finally:
        await close_stream(stream)


TLS_CLOSE_TIMEOUT_S = 1.0
"""How long a TLS client gets to take our close_notify before its socket is closed."""


async def close_stream(stream: trio.abc.Stream) -> None:
    """Close a client's stream. TLS says goodbye first (close_notify), so a client that
    sent QUIT sees a clean end rather than a truncation; bounded, as the client may not
    be reading. Plain TCP has nothing to say."""
    if isinstance(stream, trio.SSLStream):
        with trio.move_on_after(TLS_CLOSE_TIMEOUT_S):
            await stream.aclose()  # closed even when cancelled
    await trio.aclose_forcefully(stream)


async def serve_clients(
    backend: Backend,
    settings: ClientSettings | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    registry: ClientRegistry | None = None,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Accept RESP clients on ``host:port`` forever (port 0: the OS picks one).

    ``task_status.started(port)`` reports the bound port. Pass ``registry``
    to observe or share the server state (tests do); otherwise one is made
    from ``settings``.
    """
    if registry is None:
        registry = ClientRegistry(settings)
    elif settings is not None:
        registry.configure(settings)
    listeners = await open_listeners(host, port, "RESP clients")
    bound = listeners[0].socket.getsockname()[1]
    registry.settings.tcp_port = bound
    registry.settings.bind = host
    log.info("accepting RESP clients on %s:%d", host, bound)
    task_status.started(bound)
    await trio.serve_listeners(
        partial(handle_client, registry=registry, backend=backend), listeners
    )

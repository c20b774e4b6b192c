"""One client connection: read, parse, dispatch, and write replies in request order.

Two tasks per connection. The *reader* (``run``) receives bytes, feeds the
``RespParser``, dispatches every complete request at once, then sends the
replies that are already ready (connection commands, errors, a backend that
answers at once) in one write. The *writer* sends replies that complete
later, from the consensus loop, many per write. Data commands go to
``Backend.submit`` without waiting for the previous one to finish, because
pipelining is where the throughput is; the loop completes them in order or
not, and each reply is slotted by its request sequence number so the client
always sees replies in request order. One sender at a time.

The clock and the backend's ``loading`` flag are read once per dispatched
batch (no await in between), so commands of one batch share a timestamp.

Pipelining: a run of plain data commands dispatched together (what one read
of a pipelining client holds, up to ``PIPELINE_OPS_MAX`` ops and
``PIPELINE_BYTES_MAX`` bytes of arguments) is proposed as one command with
many ops, each keeping its own reply. The client sent them all before
reading any reply, so running them back to back, in their order, is a
linearization it cannot tell from any other; what it saves is the
per-command cost of consensus, persistence and completion, paid once per
run instead of once per op (redis-benchmark -P 16 SET against one replica,
side by side: 54,000 -> 65,000 ops/s, 17.8 -> 14.4 us of CPU per request).
A command that fails its argument checks, or any other request, ends the
run; its reply keeps its place in the request order either way.

Backpressure: the reader stops parsing (and so stops reading, and TCP pushes
back on the client) while ``replies_pending_max`` commands are in flight.
Replies waiting to be sent do not stop it — a client that sends its whole
pipeline before reading would wait for us while we waited for it — but past
``output_buffer_max`` unsent bytes the client is closed (``clients``). A
client that never reads, or sends a byte a second, only ever costs its own
two tasks.

Every reply carries the protocol version in force when its command was
dispatched (a ``HELLO 3`` pipelined after a GET must not change how that
GET's reply is spelled), or 0 when ``CLIENT REPLY OFF/SKIP`` silences it.

How a connection ends:

* QUIT, a protocol error, end of input, or ``CLIENT KILL`` of itself: stop
  reading, let in-flight commands complete, write every reply, then close;
* ``CLIENT KILL`` from another client, the query buffer limit, an HTTP
  request (cross-protocol attack), the idle timeout, a broken socket, or an
  unexpected exception below us (logged with its traceback): close at once.

Transactions: MULTI queues requests here, at the connection; EXEC turns the
queued data commands into one ``Command(multi=True)`` — one instance, so the
transaction is atomic across keys on every replica — and answers queued
connection commands (PING, ECHO...) itself, merging both into one reply
array. WATCH is a replicated read of a digest per key; EXEC after WATCH puts
a check of those digests in front of the transaction's ops, so the decision
to run or abort is taken inside the replicated command, identically on every
replica (see ``cmd_watch`` and ``epaxosdb.commands.watch``). An EXEC waits
for the digests of the WATCHes before it: until they arrive, the connection
dispatches nothing more, which keeps a pipelined client's requests in order.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable, KeysView, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, BinaryIO, Final

import trio

from epaxosdb import commands
from epaxosdb.commands.scripting import Guard
from epaxosdb.users import User
from protocol.errors import (
    CrossProtocolRequest,
    LocalProtocolError,
    QueryBufferLimitExceeded,
    RespProtocolError,
)
from protocol.peer import COMMAND_BYTES_MAX
from protocol.replies import OK, QUEUED, Error, Push, Reply
from protocol.resp import NEED_DATA, RespParser, encode_push, encode_reply
from storage.interface import KeyValueView

from . import acl, admin, monitor, tracking
from .backend import Backend
from .blocking import BlockedPop
from .diskspace import FREES_SPACE
from .tracking import Tracker

if TYPE_CHECKING:
    from epaxosdb.commands.spec import CommandSpec

    from .clients import ClientIO, ClientRegistry

log = logging.getLogger("epaxosdb.clients")


def _ignore_reply(reply: Reply) -> None:
    """The reply to an op nobody waits for (putting back what a gone client popped)."""

_SUBSCRIBED_MODE = frozenset(
    {
        b"subscribe", b"unsubscribe", b"psubscribe", b"punsubscribe", b"ssubscribe",
        b"sunsubscribe", b"ping", b"quit", b"reset",
    }
)
"""What a RESP2 client with a subscription may send (its connection carries messages)."""


def subscribed_mode_refusal(name: bytes) -> Error:
    return Error(
        f"ERR Can't execute '{name.decode('latin-1')}': only (P|S)SUBSCRIBE / "
        "(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
    )


PIPELINE_OPS_MAX = 256
PIPELINE_BYTES_MAX = 64 * 1024
"""Bounds of one pipelined run proposed as a command: its ops, its argument bytes (each
argument with ``_RESP_BYTES_PER_ARG``, so that empty ones count too: a run plus the
request that ends it must fit in one replicated command, ``COMMAND_BYTES_MAX``)."""
NOAUTH = Error("NOAUTH Authentication required.")
LOADING = Error("LOADING Redis is loading the dataset in memory")
TAIL_CHUNK_BYTES = 1 << 20
"""How much of a file that follows a reply (SYNC) is read and sent at a time."""
EXECABORT = Error("EXECABORT Transaction discarded because of previous errors.")
EXEC_WITHOUT_MULTI = Error("ERR EXEC without MULTI")
DISCARD_WITHOUT_MULTI = Error("ERR DISCARD without MULTI")
MULTI_NESTED = Error("ERR MULTI calls can not be nested")
TRANSACTION_TOO_LARGE = Error(
    f"ERR transaction too large: its queued commands would exceed {COMMAND_BYTES_MAX} bytes,"
    " the most one replicated command may carry"
)
_RESP_BYTES_PER_ARG = 6
"""What a queued request counts per argument besides its bytes: RESP's least (``$0`` and
two line ends), and more than msgpack spends on it and its share of the op's header."""
WATCH_IN_MULTI = Error("ERR WATCH inside MULTI is not allowed")
INTERNAL_ERROR = Error("ERR internal error: the reply could not be encoded (see the server log)")

_OK_LINE = b"+OK\r\n"
_NULL2 = encode_reply(None, 2)
_NULL3 = encode_reply(None, 3)
"""A missing value (GET of a key that does not exist) in RESP2 and RESP3."""
_CRLF = b"\r\n"

SILENT: Final = 0
"""Protocol version 0: the reply is computed but not written (CLIENT REPLY OFF/SKIP)."""

_RUN_IN_MULTI = frozenset({b"exec", b"discard", b"multi", b"watch", b"quit", b"reset"})
"""Commands Redis runs at once inside MULTI instead of queueing them."""

_DATA_SPECS_MAX = 1024
"""Bound on the hot-path name cache (clients can send any spelling of a name)."""


@dataclass(frozen=True, slots=True)
class ConnectionStatistics:
    """What one connection holds right now (trio's ``statistics()`` convention)."""

    replies_pending: int
    """Requests dispatched whose replies are not yet queued for sending."""
    output_pending: int
    """Reply bytes queued or being sent."""
    input_buffered: int
    """Client bytes received and not yet dispatched."""
    reading_paused: bool
    """Backpressure: the reader waits for replies to drain before reading on."""


LocalHandler = Callable[["Connection", list[bytes]], "Reply | admin.NoReply"]


class Connection:
    """The state of one client and the two tasks that serve it."""

    def __init__(
        self,
        io: ClientIO,
        registry: ClientRegistry,
        backend: Backend,
        *,
        addresses: tuple[str, str, int] = ("?:0", "?:0", -1),
    ) -> None:
        settings = registry.settings
        self.io = io
        self.registry = registry
        self.backend = backend
        self.id = registry.next_client_id()
        self.addr, self.laddr, self.fd = addresses
        """Peer ``ip:port``, local ``ip:port`` and file descriptor, for CLIENT LIST/KILL."""
        self.name = b""
        self.lib_name = b""
        self.lib_ver = b""
        self.proto = 2
        self.authenticated = not registry.auth_required
        self.user: User = registry.users.default
        """Who this client is authenticated as (``default`` until AUTH says otherwise)."""
        self.parser = RespParser(settings.limits(), authenticated=self.authenticated)
        self.created = time.monotonic()
        self.last_interaction = self.created
        self.last_command = b"NULL"
        self.no_evict = False
        self.no_touch = False
        self.rdb_only = False
        """REPLCONF rdb-only 1: SYNC sends this client an RDB snapshot (``admin.cmd_sync``)."""
        self.rdb_filter = (True, True)
        """Whether that snapshot holds the keys, and the function libraries (REPLCONF
        rdb-filter-only)."""
        self.reply_off = False
        self._watch_digests: dict[bytes, bytes] = {}
        """Watched key → its digest when the first WATCH of it executed."""
        self._watch_epoch = 0
        """Bumped whenever the watched set is cleared: a WATCH dispatched before
        the clear (UNWATCH, DISCARD, EXEC, RESET) and completing after it must
        not record its keys."""
        self._watch_reads_pending = 0
        self._stalled: list[bytes] | None = None
        self._paused_until: float | None = None
        """Set while ``_stalled`` waits for a CLIENT PAUSE to end: when it ends (trio time)."""
        self._blocked: BlockedPop | None = None
        """A blocking command waiting between attempts (see ``blocking``): nothing more
        is dispatched until it is answered, but reading goes on (end of input)."""
        self._blocked_wait: trio.CancelScope | None = None
        """An EXEC dispatched while WATCH reads were pending, run once they are done."""
        self.multi: list[list[bytes]] | None = None
        self.multi_failed = False
        self.multi_bytes = 0
        """The queued requests' size as RESP sent them: EXEC replicates them as one command."""
        self.channels: dict[bytes, None] = {}
        self.patterns: dict[bytes, None] = {}
        self.shard_channels: dict[bytes, None] = {}
        """Pub/sub subscriptions, in the order they were made (see ``pubsub``)."""
        self._skip_this = False
        self._skip_next = False
        self._plain = True  # no MULTI, no pending AUTH, replies on: the hot path applies
        self.tracker: Tracker | None = None
        """CLIENT TRACKING's settings while it is on (``tracking``)."""
        self.caching: bool | None = None
        """CLIENT CACHING YES or NO for the next command (``None``: not given)."""
        self._track_this = False
        """The command being dispatched has its reads tracked (``tracking``)."""
        self.monitoring = False
        """In MONITOR mode: sent every command this replica's clients run (``monitor``)."""
        self._data_specs = registry.data_specs
        self._stats = registry.stats
        self._replies_pending_max = settings.replies_pending_max
        self._output_buffer_max = settings.output_buffer_max
        self._pubsub_output_max = settings.pubsub_output_max
        self._receive_size = settings.receive_size
        # Reply ordering: requests get consecutive sequence numbers; replies
        # are appended to _out in that order, early ones wait in _early.
        self._next_seq = 0
        self._flush_seq = 0
        self._last_ms = 0
        self._early: dict[int, bytes] = {}
        self._out = bytearray()
        self._sending = 0
        self._send_busy = False
        self._flush_queued = False
        """Replies wait for the end of a reply batch to be sent (``flush_completed``)."""
        self._dispatching = False
        self._writer_idle = False
        self._reader_waiting = False
        self._wake = trio.Event()
        self._space = trio.Event()
        self._closing = False
        self._broken = False
        self._dead = False
        self._left_while_blocked = False
        """The client hung up while it waited in a blocking command (``_unblocked``)."""
        self._script_refusals: deque[bytes] = deque()
        """Calls its user may not make, refused inside its scripts (logged on reply)."""
        self._tail: BinaryIO | None = None
        """A file whose bytes follow the last reply (SYNC's snapshot), sent by the writer
        in chunks from where the file stands (``send_file_later``)."""
        self._scope = trio.CancelScope()
        self._refresh_plain()

    # --- life cycle ---------------------------------------------------------

    async def run(self) -> None:
        """Serve until the connection ends (see the module docstring)."""
        registry = self.registry
        registry.clients[self.id] = self
        registry.stats.connections_received += 1
        log.debug("client %d connected from %s", self.id, self.addr)
        reason = "closed"
        try:
            with self._scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._write_loop)
                    reason = await self._read_loop()
                    if not self._closing:
                        nursery.cancel_scope.cancel()
                    self._wake.set()
            if self._broken:
                reason = "connection broken"
            elif self._scope.cancelled_caught and reason == "closed":
                reason = "killed"
        finally:
            self._dead = True
            if self._tail is not None:
                self._tail.close()
                self._tail = None
            if self._blocked is not None:
                self._blocked.stop()  # no more attempts; one in flight runs its course
                registry.blocked.remove(self._blocked)
            self.unsubscribe_all()
            registry.tracking.disable(self)
            registry.monitors.discard(self)
            registry.clients.pop(self.id, None)
            log.debug("client %d disconnected: %s", self.id, reason)

    @property
    def blocked(self) -> bool:
        """Waiting in a blocking command (CLIENT LIST's ``b`` flag)."""
        return self._blocked is not None

    def unblock(self, reply: Reply | None) -> None:
        """End a blocking command's wait (CLIENT UNBLOCK): the timeout reply, or ``reply``."""
        if self._blocked is not None:
            self._blocked.stop(reply)

    def kill(self) -> None:
        """Close at once, dropping unsent replies (CLIENT KILL from another client)."""
        self._scope.cancel()

    def close_after_reply(self) -> None:
        """Stop reading; close once every reply so far has been written (QUIT)."""
        self._closing = True

    # --- reading and dispatching ------------------------------------------

    async def _read_loop(self) -> str:
        parser = self.parser
        stats = self._stats
        while True:
            try:
                if self._dispatch_buffered() and self._blocked is None:
                    if self._out and self._writer_idle and not self._send_busy:
                        # Replies that completed during this dispatch filled the limit,
                        # and the writer was not woken for them (we were dispatching).
                        self._writer_idle = False
                        self._wake.set()
                    if self._paused_until is not None:  # or CLIENT UNPAUSE, if sooner
                        with trio.move_on_at(self._paused_until):
                            await self._wait_for_space()
                    else:
                        await self._wait_for_space()
                    continue
            except RespProtocolError as error:
                # Redis logs these at its verbose level: a client that keeps sending
                # garbage must not flood the log.
                log.debug("client %d (%s): %s; closing", self.id, self.addr, error.text)
                self._answer(Error(error.text))
                self._closing = True
            except CrossProtocolRequest:
                log.warning(
                    "client %d (%s): possible SECURITY ATTACK detected: an HTTP request"
                    " (POST or Host:) on the RESP port, likely cross protocol scripting;"
                    " connection aborted",
                    self.id,
                    self.addr,
                )
                return "cross protocol request"
            except Exception:
                # A bug below us (a command's prepare, the backend) must cost
                # this connection, not the server.
                log.exception("client %d (%s): internal error; closing", self.id, self.addr)
                return "internal error"
            if self._closing:
                return "closed"
            if self._out and not self._send_busy and not self._send_now():
                # Replies that are ready go out now, from this task, as far as the
                # socket takes them (cheaper than waking the writer, which is there
                # for late completions). The rest is the writer's: this task reads
                # on, since the client may read only once it has sent everything.
                self._kick_writer()
            if self._blocked is not None:
                blocked = self._blocked
                data = await self._receive_blocked(blocked)
                if data is None:
                    continue  # answered, timed out, or time to retry
                if not data:
                    # The client is gone: no further attempts, and what one in flight
                    # pops goes back (``_unblocked``). It may have been answered meanwhile:
                    # an answer can land while the read's result is on its way.
                    self._left_while_blocked = not blocked.done
                    blocked.stop()
            else:
                data = await self._receive()
            if data is None:
                log.info(
                    "client %d (%s): idle for %ds; closing",
                    self.id,
                    self.addr,
                    self.registry.settings.timeout,
                )
                return "idle timeout"
            if not data:
                if self._broken:
                    return "connection broken"
                self._closing = True
                return "end of input"
            stats.net_input_bytes += len(data)
            self.last_interaction = time.monotonic()
            try:
                parser.feed(data)
            except QueryBufferLimitExceeded as error:
                log.warning(
                    "client %d (%s): closing: reached the max query buffer length (%s)",
                    self.id,
                    self.addr,
                    error,
                )
                return "query buffer limit"

    async def _receive(self) -> bytes | bytearray | None:
        """The next bytes (empty at end of input), or ``None`` after the idle timeout."""
        timeout = self.registry.settings.timeout
        try:
            # Redis never times out a subscriber or a monitor: they wait by design.
            if (
                timeout <= 0
                or self._next_seq != self._flush_seq
                or self.subscriptions
                or self.monitoring
            ):
                return await self.io.receive(self._receive_size)
            with trio.move_on_after(timeout):
                return await self.io.receive(self._receive_size)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self._broken = True
            return b""
        return None

    async def _receive_blocked(self, blocked: BlockedPop) -> bytes | bytearray | None:
        """Read on while ``blocked`` waits (a blocked client is not timed out for idleness);
        ``None`` once it is answered (``_unblocked`` cancels the read) or its
        ``wake_at`` time came (handled here). Cancelling ``receive`` loses no data."""
        with trio.CancelScope(deadline=blocked.wake_at()) as scope:
            self._blocked_wait = scope
            try:
                return await self.io.receive(self._receive_size)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self._broken = True
                return b""
            finally:
                self._blocked_wait = None
        blocked.tick(trio.current_time())
        return None

    def _block(self, request: list[bytes], name: bytes) -> None:
        """Dispatch a blocking command outside MULTI: wait for an attempt that pops (or, for
        XREAD BLOCK, reads something). An XREAD without BLOCK runs once, as any read.
        A call that waits counts in INFO commandstats when dispatched, without its wait."""
        started = time.perf_counter()
        now_ms = self._now_ms()
        op = commands.prepare(request, now_ms)
        if isinstance(op, Error):
            self._stats.count_call(name, started, op)
            self._answer(op)
            return
        self._proposing(op)
        wait = commands.blocking_wait(op)
        if wait is None:
            self._submit_op(op, now_ms, name, started)
            return
        self._stats.count_call(name, started, None)
        seq = self._next_seq
        self._next_seq = seq + 1
        backend = self.backend

        attempt_op = op

        def propose(on_done: Callable[[Reply], None]) -> None:
            nonlocal attempt_op
            cmd = backend.stamp((attempt_op,), self._now_ms())
            backend.submit(cmd, on_done, partial(self._popped_late, op), client=self)
            attempt_op = wait.retry or op  # later attempts are twins (commands.blocking)

        timeout_s = wait.timeout_ms / 1000 if wait.timeout_ms else math.inf
        unblocked = self._tracked((op,), partial(self._unblocked, seq, self._reply_proto(), op))
        blocked = BlockedPop(
            wait.keys, propose, unblocked, wait.empty,
            wait.timed_out, trio.current_time() + timeout_s, consumes=wait.consumes,
            refusal=None if wait.refusal is None else partial(self._refused_now, wait.refusal),
        )
        self._blocked = blocked
        self.registry.blocked.add(blocked)
        blocked.start()

    def _refused_now(self, judge: Callable[[KeyValueView, int], Error | None]) -> Error | None:
        """A blocked client's answer that takes nothing, judged now (``BlockingWait.refusal``)."""
        return self.backend.read_executed(lambda kv: judge(kv, self._now_ms()))

    def _unblocked(self, seq: int, proto: int, op: tuple[bytes, ...], reply: Reply) -> None:
        blocked = self._blocked
        if blocked is not None:
            self.registry.blocked.remove(blocked)
            self._blocked = None
        if self._blocked_wait is not None:
            self._blocked_wait.cancel()  # the reader dispatches what came meanwhile
        if self._dead or self._left_while_blocked or self._hung_up_on(op, reply):
            proto = SILENT  # nobody to tell (Redis too forgets a client that hung up)
            self._put_back(op, reply)
        self._complete(seq, proto, reply)

    def _hung_up_on(self, op: tuple[bytes, ...], reply: Reply) -> bool:
        """Whether the client left before a pop's reply could reach it, though its reader
        has not seen that yet: the end of input may have arrived in the same scheduler
        pass as the pop (a QA run lost 20 elements in 150 hang-ups to that race). Asked
        only of an attempt that popped; Redis too drops a client it finds gone."""
        return commands.undo_pop(op, reply) is not None and self.io.hung_up()

    def _popped_late(self, op: tuple[bytes, ...], reply: Reply) -> None:
        """An attempt whose client was told its outcome was unknown executed after all
        (quorum came back): what it popped goes back, since nobody was given it."""
        self._put_back(op, reply, "was answered 'outcome unknown'")

    def _put_back(self, op: tuple[bytes, ...], reply: Reply, why: str = "left") -> None:
        """An attempt in flight when the client hung up (or was killed) popped: propose
        the op that puts the elements back, as if the client had taken nothing — which
        it did not, since it never got them."""
        undo = commands.undo_pop(op, reply)
        if undo is None:
            return
        backend = self.backend
        backend.submit(backend.stamp((undo,), self._now_ms()), _ignore_reply)
        log.info(
            "client %d (%s) %s while its %s was popping: %s put back",
            self.id, self.addr, why, op[0].decode("latin-1"), commands.undo_summary(undo),
        )  # fmt: skip

    async def _wait_for_space(self) -> None:
        self._space = trio.Event()
        self._reader_waiting = True
        try:
            await self._space.wait()
        finally:
            self._reader_waiting = False

    def _dispatch_buffered(self) -> bool:
        """Dispatch every buffered request; ``True`` when stopped by backpressure.

        This is the hot path, so the common case — a data command on a
        connection with no MULTI, AUTH or CLIENT REPLY state — is written out
        here with locals. The clock and the backend's ``loading`` flag are
        read once per run: nothing awaits in between.
        """
        next_request = self.parser.next_request
        data_specs = self._data_specs
        backend = self.backend
        complete = self._complete
        now_ms = self._now_ms()
        # Loading, or writes refused (``diskspace``): every request takes the general path.
        loading = backend.loading or self.registry.writes_refused is not None
        pause = self.registry.pause
        processed = 0
        last = None
        budget = 0
        batch: list[tuple[bytes, ...]] = []
        names: list[bytes] = []  # the command of each op in ``batch`` (INFO commandstats)
        batch_first = batch_bytes = 0
        self._dispatching = True  # replies completed meanwhile are sent by the reader after
        try:
            if self._blocked is not None:
                return True
            if self._stalled is not None and not self._resume_stalled():
                return True
            # Whether data commands may take the pipelined path: ``loading`` is read once
            # per run, and only a connection command (below) changes ``_plain``. While
            # anyone MONITORs, every command goes the general way, which feeds them.
            fast = (
                self._plain and not loading and not self.registry.monitors and not pause.active
            )
            while not self._closing:
                if budget <= 0:
                    budget = self._room()
                    if budget <= 0:
                        return True
                budget -= 1
                request = next_request()
                if request is NEED_DATA:
                    return False
                spec = data_specs.get(request[0])  # type: ignore[index]
                if spec is not None and fast:
                    argc = len(request)  # type: ignore[arg-type]
                    arity = spec.arity
                    if argc == arity if arity > 0 else argc >= -arity:
                        processed += 1
                        last = spec
                        prepare = spec.prepare
                        if prepare is None:
                            request[0] = spec.upper  # type: ignore[index]
                            op: tuple[bytes, ...] | Error = tuple(request)  # type: ignore[arg-type]
                        else:
                            op = prepare(request, now_ms)  # type: ignore[arg-type]
                        seq = self._next_seq
                        self._next_seq = seq + 1
                        if type(op) is Error:
                            if batch:
                                self._submit_batch(batch_first, batch, names, now_ms)
                                batch, names = [], []
                            self._stats.count_call(spec.name, time.perf_counter(), op)
                            complete(seq, self.proto, op)
                            continue
                        if not batch:
                            batch_first, batch_bytes = seq, 0
                        batch.append(op)  # type: ignore[arg-type]
                        names.append(spec.name)
                        for arg in op:  # type: ignore[union-attr]
                            batch_bytes += len(arg) + _RESP_BYTES_PER_ARG
                        if len(batch) >= PIPELINE_OPS_MAX or batch_bytes >= PIPELINE_BYTES_MAX:
                            self._submit_batch(batch_first, batch, names, now_ms)
                            batch, names = [], []
                        continue
                if batch:
                    self._submit_batch(batch_first, batch, names, now_ms)
                    batch, names = [], []
                last = None  # it names itself
                self._dispatch_general(request)  # type: ignore[arg-type]
                fast = (
                    self._plain and not loading and not self.registry.monitors and not pause.active
                )
                if self._stalled is not None or self._blocked is not None:
                    self._kick_writer()  # what is ready goes out while EXEC or BLPOP waits
                    return True
            return False
        finally:
            if batch:
                self._submit_batch(batch_first, batch, names, now_ms)
            self._dispatching = False
            self._stats.commands_processed += processed
            if last is not None:
                self.last_command = last.name  # CLIENT LIST's cmd=

    def _submit_batch(
        self, first: int, ops: list[tuple[bytes, ...]], names: list[bytes], now_ms: int
    ) -> None:
        """Propose a run of pipelined data commands, requests ``first``, ``first + 1``...,
        as one command (see the module docstring); ``names`` are their commands'."""
        n = len(ops)
        backend = self.backend
        started = time.perf_counter()
        if n == 1:
            on_done = partial(self._complete_counted, first, self.proto, names[0], started)
            backend.submit(backend.stamp((ops[0],), now_ms), on_done, client=self)
            return
        backend.submit(
            backend.stamp(tuple(ops), now_ms, True),
            partial(self._complete_batch, first, n, self.proto, names, started),
            client=self,
        )

    def _complete_batch(
        self, first: int, n: int, proto: int, names: list[bytes], started: float, reply: Reply
    ) -> None:
        """Each op's reply in its place; one error for the whole run (LOADING, outcome
        unknown) answers every op of it.

        A run whose replies go out now (nothing before it is still missing) is
        written in one go: what ``_complete`` does per reply, done once for the
        run — an all-``OK`` run (pipelined SETs) is one multiplied line."""
        complete = self._complete
        if type(reply) is list and len(reply) == n:
            self._stats.count_run(names, started, reply)
            if first == self._flush_seq and not self._dead:
                self._write_run(first, n, proto, reply)
                return
            for seq, item in enumerate(reply, first):
                complete(seq, proto, item)
        else:
            self._stats.count_run(names, started, [reply] * n)
            for seq in range(first, first + n):
                complete(seq, proto, reply)

    def _complete_counted(
        self, seq: int, proto: int, name: bytes, started: float, reply: Reply
    ) -> None:
        """``_complete`` for a data command, counted in INFO commandstats."""
        self._stats.count_call(name, started, reply)
        self._complete(seq, proto, reply)

    def _write_run(self, first: int, n: int, proto: int, replies: list[Reply]) -> None:
        """``_complete`` for replies ``first`` .. ``first + n - 1`` when ``first`` is the
        next to be written: the same bytes, counters and wake-ups, once per run."""
        out = self._out
        for reply in replies:
            if reply is not OK:
                break
        else:  # every reply is OK (a run of SETs): one line, n times
            if proto:
                out += _OK_LINE * n
            replies = []
        for reply in replies:
            if reply is OK:
                if proto:
                    out += _OK_LINE
            elif type(reply) is bytes:
                if proto:
                    out += b"$%d\r\n" % len(reply)
                    out += reply
                    out += _CRLF
            elif reply is None:
                if proto:
                    out += _NULL2 if proto == 2 else _NULL3
            else:
                if type(reply) is Error:
                    self._count_error(reply)
                if proto:
                    out += self._encode(reply, proto)
        self._written_up_to(first + n)

    def _resume_stalled(self) -> bool:
        """Dispatch the stalled request — an EXEC whose WATCH reads are done, or one a
        CLIENT PAUSE held — again from the start; ``False`` if it still waits."""
        if self._watch_reads_pending:
            return False
        request, self._stalled = self._stalled, None
        assert request is not None
        self._paused_until = None
        self._dispatch_general(request)
        return self._stalled is None

    def pause_lifted(self) -> None:
        """CLIENT UNPAUSE: a request held by the pause is dispatched now."""
        if self._paused_until is not None and self._reader_waiting:
            self._space.set()

    def _kick_writer(self) -> None:
        if self._out and self._writer_idle and not self._send_busy:
            self._writer_idle = False
            self._wake.set()

    def _room(self) -> int:
        """How many more requests may be dispatched before backpressure applies: only
        commands in flight count (see the module docstring)."""
        return self._replies_pending_max - (self._next_seq - self._flush_seq)

    def _dispatch_general(self, request: list[bytes]) -> None:
        """Redis's ``processCommand`` order: lookup, arity, auth, loading, MULTI, run."""
        spec = commands.resolve(request)
        tracker = self.tracker
        self._track_this = tracker is not None and tracker.tracks_next(self.caching)
        if self._watch_reads_pending and not isinstance(spec, Error) and spec.name == b"exec":
            self._stalled = request  # it needs their digests (see _resume_stalled)
            return
        in_multi = self.multi is not None
        if isinstance(spec, Error):
            self.multi_failed = in_multi
            self._answer(spec)
        elif in_multi and (refused := commands.refused_in_multi(spec)) is not None:
            self.multi_failed = True
            self._reject(spec.name, refused)
        elif not self.authenticated and "no_auth" not in spec.flags and self.registry.auth_required:
            self.multi_failed = in_multi
            self._reject(spec.name, NOAUTH)
        elif not self.user.unrestricted and (refused := acl.refusal(self, spec, request)):
            self.multi_failed = in_multi
            self._reject(spec.name, refused)
        elif self._subscribed_mode() and spec.name.split(b"|")[0] not in _SUBSCRIBED_MODE:
            self.multi_failed = in_multi
            self._reject(spec.name, subscribed_mode_refusal(spec.name))
        elif "loading" not in spec.flags and self.backend.loading:
            self.multi_failed = in_multi
            self._reject(spec.name, LOADING)
        elif (refusal := self._write_refusal(spec)) is not None:
            self.multi_failed = in_multi
            self._reject(spec.name, refusal)
        elif self.monitoring and "connection" not in spec.flags:
            self.multi_failed = in_multi
            self._reject(spec.name, monitor.KEYSPACE_REFUSED)
        elif self.registry.pause.active and (
            (until := self.registry.pause.holds(spec, self.multi)) is not None
        ):
            self._stalled = request  # processed again, in full, when the pause ends
            self._paused_until = until
            return
        elif in_multi and spec.name not in _RUN_IN_MULTI:
            size = self.multi_bytes + sum(map(len, request)) + _RESP_BYTES_PER_ARG * len(request)
            if size > COMMAND_BYTES_MAX:
                self.multi_failed = True
                self._reject(spec.name, TRANSACTION_TOO_LARGE)
            else:
                self.multi_bytes = size
                self.multi.append(request)  # type: ignore[union-attr]
                self.last_command = spec.name  # Redis names a queued command in cmd= too
                self._answer(QUEUED)
        else:
            if self.registry.monitors and "admin" not in spec.flags:
                monitor.feed(self.registry.monitors, self, request, self.multi)
            self._stats.commands_processed += 1
            self.last_command = spec.name
            if "connection" in spec.flags:
                handler = _LOCAL_HANDLERS.get(spec.name)
                if handler is None:
                    self._answer(commands.errors.unknown_command(request))
                else:
                    started = time.perf_counter()
                    reply = handler(self, request)
                    self._log_if_slow(spec, request, started)
                    if isinstance(reply, admin.NoReply):
                        self._stats.count_call(spec.name, started, None)
                    else:
                        self._stats.count_call(spec.name, started, reply)
                        self._answer(reply)
            elif "blocking" in spec.flags:
                self._block(request, spec.name)
            else:
                cacheable = spec.group != "scripting" and b"|" not in spec.name
                if cacheable and len(self._data_specs) < _DATA_SPECS_MAX:
                    self._data_specs[request[0]] = spec
                self._submit_one(request, spec.name)
        if self.caching is not None and self.multi is None and not (
            not isinstance(spec, Error) and spec.name.startswith(b"client|")
        ):
            self.caching = None  # CLIENT CACHING says it of the next command (or MULTI) only
        self._track_this = False
        self._after_command()

    def _log_if_slow(self, spec: CommandSpec, request: list[bytes], started: float) -> None:
        """SLOWLOG a connection command whose handler ran long (not AUTH or HELLO: their
        arguments may hold a password); the latency monitor sees it too."""
        seconds = time.perf_counter() - started
        monitor, slowlog = self.registry.latency_monitor, self.registry.slowlog
        logged = slowlog.slow(seconds) and "no_auth" not in spec.flags
        if not logged and monitor.threshold_ms <= 0:
            return  # the common case: nothing to note, no clock read
        now_s = int(time.time())
        monitor.add("fast-command" if "fast" in spec.flags else "command", seconds, now_s)
        if logged:
            slowlog.add(request, seconds, self.addr, self.name, now_s)

    def _write_refusal(self, spec: CommandSpec) -> Error | None:
        """``-MISCONF`` for a write while the disk is nearly full (``diskspace``)."""
        refusal = self.registry.writes_refused
        if refusal is None or not spec.runs_everywhere or spec.publishes:
            return None
        return None if spec.name.split(b"|")[0] in FREES_SPACE else refusal

    def _reject(self, name: bytes, refusal: Error) -> None:
        """Refuse a command before it runs (INFO commandstats' ``rejected_calls``). An EXEC
        refused (NOAUTH, NOPERM, LOADING...) also discards the transaction, and says so
        as Redis's ``rejectCommand`` does."""
        self._stats.command(name).rejected += 1
        if name == b"exec":
            self._leave_multi()
            refusal = Error("EXECABORT Transaction discarded because of: " + refusal.text)
        self._answer(refusal)

    def _now_ms(self) -> int:
        """The timestamp of the next command: the wall clock, but never earlier than the
        one before on this connection (a clock step back, or a request dispatched after
        a run that read the clock first), so each client's commands judge expiry in
        the order it sent them."""
        now_ms = time.time_ns() // 1_000_000
        if now_ms < self._last_ms:
            return self._last_ms
        self._last_ms = now_ms
        return now_ms

    def _proposing(self, op: tuple[bytes, ...]) -> None:
        """An EVAL being proposed makes its script available to EVALSHA on this replica,
        as in Redis (EVAL never takes the pipelined fast path: every one passes here,
        or through EXEC)."""
        if op[0] in _EVALS:
            self.registry.scripts.evaluated(op[1])

    def expand_script(self, args: list[bytes]) -> list[bytes] | Error:
        """EVALSHA's request as the EVAL that runs it, or ``NOSCRIPT``."""
        body = self.registry.scripts.get(args[1])
        if body is None:
            return commands.scripting.NO_SCRIPT
        return [b"EVAL_RO" if args[0].lower() == b"evalsha_ro" else b"EVAL", body, *args[2:]]

    def submit_request(self, request: list[bytes]) -> None:
        """Propose a data command on behalf of a connection command (EVALSHA, which is
        counted as itself)."""
        self._submit_one(request, None)

    def _submit_one(self, request: list[bytes], name: bytes | None) -> None:
        """Prepare and propose a data command; ``name`` is the command to count it as."""
        started = time.perf_counter()
        now_ms = self._now_ms()
        op = commands.prepare(request, now_ms)
        if isinstance(op, Error):
            if name is not None:
                self._stats.count_call(name, started, op)
            self._answer(op)
            return
        self._proposing(op)
        self._submit_op(op, now_ms, name, started)

    def _submit_op(
        self, op: tuple[bytes, ...], now_ms: int, name: bytes | None, started: float
    ) -> None:
        """Propose one prepared op; its reply takes the next place in request order."""
        cmd = self.backend.stamp((op,), now_ms)
        seq = self._next_seq
        self._next_seq = seq + 1
        proto = self._reply_proto()
        on_done: Callable[[Reply], None]
        if name is None:
            on_done = partial(self._complete, seq, proto)
        else:
            on_done = partial(self._complete_counted, seq, proto, name, started)
        self.backend.submit(cmd, self._tracked(cmd.ops, on_done), client=self)

    def _tracked(
        self, ops: Sequence[tuple[bytes, ...]], on_done: Callable[[Reply], None]
    ) -> Callable[[Reply], None]:
        """``on_done``, which also reports the keys the command read to ``tracking`` when
        this client tracks them (``_track_this``): they are tracked from the step that
        ran it."""
        if not self._track_this:
            return on_done
        keys = tracking.read_keys(ops)
        if not keys:
            return on_done
        read, client_id = self.registry.tracking.read, self.id

        def done(reply: Reply) -> None:
            if type(reply) is not Error:
                read(client_id, keys)
            on_done(reply)

        return done

    def set_tracking(self, tracker: Tracker | None) -> None:
        """CLIENT TRACKING ON (with these settings) or OFF."""
        registry_tracking = self.registry.tracking
        registry_tracking.disable(self)
        if tracker is None:
            self.caching = None
        else:
            registry_tracking.enable(self, tracker)
        self._refresh_plain()

    def deliver_invalidation(self, message: bytes) -> None:
        """A tracking invalidation: after every reply completed so far, including those
        held for an earlier one still missing (``tracking``: a client must never see an
        invalidation before a value it read earlier)."""
        early = self._early
        if early and not self._dead:
            last = max(early)
            early[last] += message
            return
        self._push(message)

    def _after_command(self) -> None:
        # CLIENT REPLY SKIP silences the command after it, not itself.
        if self._skip_this or self._skip_next:
            self._skip_this = self._skip_next
            self._skip_next = False
            self._refresh_plain()

    # --- replies --------------------------------------------------------------

    def _reply_proto(self) -> int:
        return SILENT if self.reply_off or self._skip_this else self.proto

    def reply_later(self) -> Callable[[Reply], None]:
        """For a connection command whose handler answers later (SAVE): what to call with
        the reply, which takes the request's place in the order (the handler returns
        ``NO_REPLY``)."""
        seq = self._next_seq
        self._next_seq = seq + 1
        return partial(self._complete, seq, self._reply_proto())

    def send_file_later(self) -> Callable[[tuple[BinaryIO, int] | Error], None]:
        """For SYNC, the last request this connection reads (it closes after): what to call
        with a file and its size — sent as Redis sends an RDB to a replica, ``$<size>``
        and the bytes, streamed from the file by the writer without ever being held in
        memory whole — or with an error reply instead. The file is closed once sent, or
        when the connection ends."""
        seq = self._next_seq
        self._next_seq = seq + 1
        proto = self._reply_proto()

        def deliver(result: tuple[BinaryIO, int] | Error) -> None:
            if isinstance(result, Error):
                self._complete(seq, proto, result)
                return
            file, size = result
            if self._dead:
                file.close()
                return
            self._tail = file
            header = b"$%d\r\n" % size
            if seq != self._flush_seq:
                self._early[seq] = header
            else:
                self._out += header
                self._written_up_to(seq + 1)
            if self._writer_idle:  # it sends the file once the header is out
                self._writer_idle = False
                self._wake.set()

        return deliver

    def _answer(self, reply: Reply) -> None:
        """Reply now to the request being dispatched (after every earlier reply)."""
        seq = self._next_seq
        self._next_seq = seq + 1
        self._complete(seq, self._reply_proto(), reply)

    def _complete(self, seq: int, proto: int, reply: Reply) -> None:
        """A reply is ready: write it in its place in the request order."""
        if self._dead:
            return
        if self._script_refusals:
            acl.log_script_refusals(self, self._script_refusals)
        if seq != self._flush_seq:
            if type(reply) is Error:
                self._count_error(reply)
            self._early[seq] = self._encode(reply, proto) if proto else b""
            return
        out = self._out
        if reply is OK:
            if proto:
                out += _OK_LINE
        elif type(reply) is bytes:
            if proto:
                size = len(reply)
                out += b"$%d\r\n" % size
                out += reply
                out += _CRLF
        else:
            if type(reply) is Error:
                self._count_error(reply)
            if proto:
                out += self._encode(reply, proto)
        self._written_up_to(seq + 1)

    def _written_up_to(self, seq: int) -> None:
        """Every reply before ``seq`` is in the output buffer: add those after it that
        completed early, then send (or close a client past its output limit)."""
        out = self._out
        early = self._early
        if early:
            while seq in early:
                out += early.pop(seq)
                seq += 1
        self._flush_seq = seq
        if self._reader_waiting:
            self._space.set()  # fewer replies pending: the reader may go on
        if len(out) + self._sending > self._output_buffer_max:
            self._overflowed()
            return
        self._send_soon()

    def _overflowed(self) -> None:
        """Too many replies left unread: close at once (Redis's output buffer limit)."""
        log.warning(
            "client %d (%s) closed: %d bytes of replies left unread (over the %d-byte "
            "output buffer limit)",
            self.id, self.addr, self.output_pending(), self._output_buffer_max,
        )  # fmt: skip
        self._dead = True
        self._out = bytearray()
        self._early.clear()
        self.kill()

    def _send_soon(self) -> None:
        """What was just added to the output goes out: at the end of the reply batch, or
        by the writer, or by the reader once it is done dispatching."""
        if not self._dispatching and self._writer_idle and not self._send_busy:
            if self.registry.batching_replies and not self._closing:
                if not self._flush_queued:
                    self._flush_queued = True
                    self.registry.flush_later(self)
                return
            self._writer_idle = False  # woken once; it marks itself idle again
            self._wake.set()

    # --- pub/sub ----------------------------------------------------------------

    @property
    def subscriptions(self) -> int:
        """Every subscription, shard channels included: what makes a client a subscriber
        (RESP2's subscribed mode, CLIENT LIST's ``P`` flag and type ``pubsub``, a RESP2
        PING's reply, no idle timeout), as Redis's ``CLIENT_PUBSUB`` flag does."""
        return len(self.channels) + len(self.patterns) + len(self.shard_channels)

    def _plain_subscriptions(self) -> int:
        """What (P)(UN)SUBSCRIBE's confirmations count: channels and patterns, not shard
        channels (Redis's ``clientSubscriptionsCount``)."""
        return len(self.channels) + len(self.patterns)

    def subscribe(self, channel: bytes) -> Reply:
        if channel not in self.channels:
            self.channels[channel] = None
            self.registry.subscriptions.subscribe(self, channel)
        self._refresh_plain()
        return Push([b"subscribe", channel, self._plain_subscriptions()])

    def unsubscribe(self, channel: bytes | None) -> Reply:
        """One channel (``None``: the reply to an UNSUBSCRIBE with nothing to undo)."""
        if channel is not None and channel in self.channels:
            del self.channels[channel]
            self.registry.subscriptions.unsubscribe(self, channel)
        self._refresh_plain()
        return Push([b"unsubscribe", channel, self._plain_subscriptions()])

    def psubscribe(self, pattern: bytes) -> Reply:
        if pattern not in self.patterns:
            self.patterns[pattern] = None
            self.registry.subscriptions.psubscribe(self, pattern)
        self._refresh_plain()
        return Push([b"psubscribe", pattern, self._plain_subscriptions()])

    def punsubscribe(self, pattern: bytes | None) -> Reply:
        if pattern is not None and pattern in self.patterns:
            del self.patterns[pattern]
            self.registry.subscriptions.punsubscribe(self, pattern)
        self._refresh_plain()
        return Push([b"punsubscribe", pattern, self._plain_subscriptions()])

    def ssubscribe(self, channel: bytes) -> Reply:
        """One shard channel; the confirmation counts shard channels alone."""
        if channel not in self.shard_channels:
            self.shard_channels[channel] = None
            self.registry.subscriptions.ssubscribe(self, channel)
        self._refresh_plain()
        return Push([b"ssubscribe", channel, len(self.shard_channels)])

    def sunsubscribe(self, channel: bytes | None) -> Reply:
        """One shard channel (``None``: the reply to an SUNSUBSCRIBE with nothing to undo)."""
        if channel is not None and channel in self.shard_channels:
            del self.shard_channels[channel]
            self.registry.subscriptions.sunsubscribe(self, channel)
        self._refresh_plain()
        return Push([b"sunsubscribe", channel, len(self.shard_channels)])

    def unsubscribe_all(self) -> None:
        """Drop every subscription without a reply (RESET, the connection ending)."""
        subscriptions = self.registry.subscriptions
        for channel in self.channels:
            subscriptions.unsubscribe(self, channel)
        for pattern in self.patterns:
            subscriptions.punsubscribe(self, pattern)
        for channel in self.shard_channels:
            subscriptions.sunsubscribe(self, channel)
        self.channels.clear()
        self.patterns.clear()
        self.shard_channels.clear()
        self._refresh_plain()

    def deliver_message(self, channel: bytes, message: bytes) -> None:
        self._push(encode_push((b"message", channel, message), self.proto))

    def deliver_pmessage(self, pattern: bytes, channel: bytes, message: bytes) -> None:
        self._push(encode_push((b"pmessage", pattern, channel, message), self.proto))

    def deliver_smessage(self, channel: bytes, message: bytes) -> None:
        self._push(encode_push((b"smessage", channel, message), self.proto))

    def start_monitoring(self) -> None:
        self.monitoring = True
        self.registry.monitors.add(self)

    def stop_monitoring(self) -> None:
        self.monitoring = False
        self.registry.monitors.discard(self)

    def deliver_push(self, message: Reply) -> None:
        """Out-of-band, whatever CLIENT REPLY says (a subscription's confirmation)."""
        self._push(encode_reply(message, self.proto))

    def replies_silenced(self) -> bool:
        """CLIENT REPLY OFF, or SKIP for this command."""
        return self._reply_proto() == SILENT

    def deliver_monitored(self, line: bytes) -> None:
        """A MONITOR line (``monitor.line``): out-of-band, like a pub/sub message."""
        self._push(line)

    def _push(self, message: bytes) -> None:
        """Out-of-band data: after the replies already in the output, ahead of those still
        pending — the message was published while those commands ran. A subscriber
        that does not read is closed once ``pubsub_output_max`` bytes wait for it
        (Redis's ``client-output-buffer-limit pubsub`` hard limit)."""
        if self._dead or self._closing:
            return
        self._out += message
        if len(self._out) + self._sending > self._pubsub_output_max:
            log.warning(
                "client %d (%s): closing: %d bytes of pub/sub messages not read "
                "(client-output-buffer-limit pubsub)",
                self.id,
                self.addr,
                len(self._out) + self._sending,
            )
            self.kill()
            return
        self._send_soon()

    def flush_completed(self) -> None:
        """The end of a reply batch (``ClientRegistry.reply_batch``): send what completed.

        Nothing ran on this connection since its replies were queued (the batch
        is one synchronous run of the loop), so the writer is still idle.
        """
        self._flush_queued = False
        if self._dead or not self._out:
            return
        if self._send_now():
            return
        self._writer_idle = False
        self._wake.set()

    def _send_now(self) -> bool:
        """Write ``_out`` from the calling task if the socket takes all of it at once
        (``True`` then); what it does not take, or an error, is left to the writer."""
        data = self._out
        try:
            sent = self.io.try_send(data)
        except OSError:
            return False  # the writer meets the error again and handles it
        if not sent:
            return False
        self._stats.net_output_bytes += sent
        if sent < len(data):
            del data[:sent]
            return False
        data.clear()
        if self._reader_waiting:
            self._space.set()
        return True

    def _encode(self, reply: Reply, proto: int) -> bytes:
        """``encode_reply``, but a value that is not a reply becomes an error reply.

        Completions run in the backend's task: an exception here would be
        raised inside the consensus loop.
        """
        try:
            return encode_reply(reply, proto)
        except LocalProtocolError:
            log.exception("client %d: a command replied with an unencodable value", self.id)
            return encode_reply(INTERNAL_ERROR, proto)

    def _count_error(self, reply: Error) -> None:
        stats = self._stats
        stats.error_replies += 1
        code = reply.code
        stats.errors_by_code[code] = stats.errors_by_code.get(code, 0) + 1

    async def _write_loop(self) -> None:
        """Send replies that complete while the reader is busy or waiting for input."""
        while True:
            if self._out and not self._send_busy:
                await self._send_out()
                continue
            if self._tail is not None and self._flush_seq == self._next_seq:
                if not self._send_busy:
                    await self._send_tail(self._tail)
                    continue
            elif self._closing and self._flush_seq == self._next_seq and not self._send_busy:
                return
            self._writer_idle = True
            await self._wake.wait()
            self._wake = trio.Event()
            self._writer_idle = False

    async def _send_tail(self, tail: BinaryIO) -> None:
        """Send the file that follows the last reply (``send_file_later``), a chunk at a
        time: the socket's pace sets the reading's, so memory holds one chunk."""
        self._send_busy = True
        try:
            while chunk := await trio.to_thread.run_sync(tail.read, TAIL_CHUNK_BYTES):
                try:
                    await self.io.send_all(chunk)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    self._broken = True
                    self._scope.cancel()
                    return
                self._stats.net_output_bytes += len(chunk)
        finally:
            self._send_busy = False
            self._tail = None
            tail.close()

    async def _send_out(self) -> None:
        """Send ``_out`` until it stays empty; one sender at a time (reader or writer)."""
        io = self.io
        stats = self._stats
        self._send_busy = True
        try:
            while self._out:
                data = self._out
                self._out = bytearray()
                self._sending = len(data)
                try:
                    await io.send_all(data)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    self._broken = True
                    self._scope.cancel()
                    return
                self._sending = 0
                stats.net_output_bytes += len(data)
                if self._reader_waiting:
                    self._space.set()
        finally:
            self._send_busy = False
            if self._closing and self._writer_idle:
                self._wake.set()

    # --- connection state -----------------------------------------------------

    def _refresh_plain(self) -> None:
        self._plain = (
            self.multi is None
            and not self.reply_off
            and not self._skip_this
            and (self.authenticated or not self.registry.auth_required)
            and not self._subscribed_mode()
            and self.tracker is None
            and self.user.unrestricted
        )

    def _subscribed_mode(self) -> bool:
        """RESP2 with a subscription: only the commands of ``_SUBSCRIBED_MODE`` may run."""
        return self.proto == 2 and bool(self.subscriptions)

    def refresh_auth(self) -> None:
        """The password setting changed: recompute what this client may do."""
        needs_auth = self.registry.auth_required and not self.authenticated
        self.parser.authenticated = not needs_auth
        self._refresh_plain()

    def set_authenticated(self, authenticated: bool) -> None:
        self.authenticated = authenticated
        self.refresh_auth()

    @property
    def script_guard(self) -> Guard | None:
        """``Client.script_guard``: this client's user's rules, for its read-only scripts."""
        if self.user.all_commands:
            return None  # asked for every command this client sends: the common case first
        return acl.script_guard(self.user, self._script_refusals.append)

    def log_in(self, user: User) -> None:
        """AUTH or HELLO AUTH succeeded: this client is ``user`` from now on."""
        self.user = user
        self.set_authenticated(True)

    def set_reply_mode(self, mode: str) -> None:
        """CLIENT REPLY ON/OFF/SKIP."""
        if mode == "on":
            self.reply_off = False
            self._skip_this = self._skip_next = False
        elif mode == "off":
            self.reply_off = True
        elif not self.reply_off:
            self._skip_next = True
        self._refresh_plain()

    def set_protocol(self, version: int) -> None:
        """HELLO's protocol switch: a RESP3 subscriber may run any command."""
        self.proto = version
        self._refresh_plain()

    def reset(self) -> None:
        """RESET: back to a fresh connection's state (Redis's ``clearClientConnectionState``)."""
        self.multi = None
        self.multi_failed = False
        self._clear_watch()
        self.proto = 2
        self.name = b""
        self.no_evict = False
        self.rdb_only = False
        self.rdb_filter = (True, True)
        self.no_touch = False
        self.reply_off = False
        self._skip_this = self._skip_next = False
        self.unsubscribe_all()
        self.set_tracking(None)
        self.stop_monitoring()
        self.user = self.registry.users.default
        self.set_authenticated(not self.registry.auth_required)

    def statistics(self) -> ConnectionStatistics:
        return ConnectionStatistics(
            replies_pending=self._next_seq - self._flush_seq,
            output_pending=self.output_pending(),
            input_buffered=self.parser.buffered,
            reading_paused=self._reader_waiting,
        )

    def output_pending(self) -> int:
        return len(self._out) + self._sending

    # --- transactions -----------------------------------------------------------

    def cmd_multi(self, request: list[bytes]) -> Reply:
        if self.multi is not None:
            return MULTI_NESTED
        self.multi = []
        self.multi_failed = False
        self.multi_bytes = 0
        self._refresh_plain()
        return OK

    def cmd_discard(self, request: list[bytes]) -> Reply:
        if self.multi is None:
            return DISCARD_WITHOUT_MULTI
        self._leave_multi()
        return OK

    @property
    def watched(self) -> KeysView[bytes]:
        """The keys WATCH recorded (those whose read has executed) and nothing cleared since."""
        return self._watch_digests.keys()

    def cmd_watch(self, request: list[bytes]) -> Reply | admin.NoReply:
        """WATCH: a replicated read of each key's digest, answered +OK once it has executed.

        The read is ordered like a GET, so the digests are the values at a
        point of the agreed order after every write the client could have
        seen; EXEC's check (``cmd_exec``) compares them with the values at
        its own point. A key watched twice keeps its first digest: Redis
        aborts if the key changed since the first WATCH. If the read fails
        (``-LOADING``, ``-UNCERTAIN``), that error is the reply and nothing
        is watched. The check is value-based: a key changed and then
        restored to an identical value does not abort EXEC, where Redis
        would (see ``epaxosdb.commands.watch``).
        """
        if self.multi is not None:
            return WATCH_IN_MULTI
        keys = tuple(request[1:])
        now_ms = self._now_ms()
        cmd = self.backend.stamp((commands.watchread_op(keys),), now_ms)
        seq = self._next_seq
        self._next_seq = seq + 1
        self._watch_reads_pending += 1
        done = partial(self._watch_done, seq, self._reply_proto(), self._watch_epoch, keys)
        self.backend.submit(cmd, done)
        return admin.NO_REPLY

    def _watch_done(
        self, seq: int, proto: int, epoch: int, keys: tuple[bytes, ...], reply: Reply
    ) -> None:
        """A WATCH's read executed: record the digests (unless cleared since), answer in order."""
        self._watch_reads_pending -= 1
        digests = [d for d in reply if isinstance(d, bytes)] if isinstance(reply, list) else []
        if isinstance(reply, list) and len(digests) == len(reply) == len(keys):
            if epoch == self._watch_epoch:
                for key, digest in zip(keys, digests, strict=True):
                    self._watch_digests.setdefault(key, digest)
            answer: Reply = OK
        elif isinstance(reply, Error):
            answer = reply
        else:
            log.error("client %d: WATCH read replied %r; nothing watched", self.id, reply)
            answer = INTERNAL_ERROR
        self._complete(seq, proto, answer)
        if self._reader_waiting:
            self._space.set()  # a stalled EXEC may go on

    def cmd_unwatch(self, request: list[bytes]) -> Reply:
        self._clear_watch()
        return OK

    def _clear_watch(self) -> None:
        self._watch_digests.clear()
        self._watch_epoch += 1

    def _leave_multi(self) -> None:
        self.multi = None
        self.multi_failed = False
        self._clear_watch()
        self._refresh_plain()

    def cmd_exec(self, request: list[bytes]) -> Reply | admin.NoReply:
        """EXEC: one replicated command for the queued data commands, locals answered here.

        With watched keys the command starts with a ``WATCHCHECK`` op and is
        submitted even when nothing data-bearing was queued, because only
        the replicated check can say whether the reply is the array or the
        null array. Queued connection commands (PING, CLIENT SETNAME,
        SUBSCRIBE, HELLO...) run here: at once without watched keys, and only
        once the check has let the transaction run with them, since an
        aborted one must leave the connection as it was (a QA run found a
        client subscribed, renamed or switched to RESP3 by a transaction
        that had answered it was discarded).
        """
        queued = self.multi
        if queued is None:
            return EXEC_WITHOUT_MULTI
        failed = self.multi_failed
        watched = tuple(self._watch_digests.items())
        self._leave_multi()
        if failed:
            return EXECABORT
        now_ms = self._now_ms()
        ops: list[tuple[bytes, ...]] = []
        replies: list[Reply] = []  # in queue order; the ops' places are filled at completion
        op_places: list[int] = []
        deferred: list[tuple[int, LocalHandler, list[bytes]]] = []  # (place, handler, args)
        for args in queued:
            spec = commands.resolve(args)
            if not isinstance(spec, Error) and spec.name in (b"evalsha", b"evalsha_ro"):
                expanded = self.expand_script(args)
                if isinstance(expanded, Error):
                    replies.append(expanded)
                    continue
                args, spec = expanded, commands.resolve(expanded)
            if not isinstance(spec, Error) and "connection" in spec.flags:
                handler = _QUEUED_HANDLERS.get(spec.name)
                if handler is not None and watched:
                    deferred.append((len(replies), handler, args))
                    replies.append(None)
                    continue
                reply = handler(self, args) if handler is not None else None
                replies.append(None if isinstance(reply, admin.NoReply) else reply)
                continue
            op = commands.prepare_queued(args, now_ms)
            if isinstance(op, Error):
                replies.append(op)
            else:
                self._proposing(op)
                op_places.append(len(replies))
                ops.append(op)
                replies.append(None)
        if not ops and not watched:
            return replies
        check = (commands.watchcheck_op(watched),) if watched else ()
        cmd = self.backend.stamp((*check, *ops), now_ms, multi=True)
        seq = self._next_seq
        self._next_seq = seq + 1
        proto = self._reply_proto()
        done: Callable[[Reply], None]
        if len(ops) == len(replies):
            done = partial(self._complete, seq, proto)
        else:
            done = partial(self._complete_exec, seq, proto, replies, op_places, deferred)
        self.backend.submit(cmd, self._tracked(ops, done), client=self)
        return admin.NO_REPLY

    def _complete_exec(
        self,
        seq: int,
        proto: int,
        replies: list[Reply],
        op_places: list[int],
        deferred: list[tuple[int, LocalHandler, list[bytes]]],
        reply: Reply,
    ) -> None:
        if not isinstance(reply, list) or len(reply) != len(op_places):
            # The transaction as a whole failed (-LOADING...) or a watched key changed (null).
            self._complete(seq, proto, reply)
            return
        merged = list(replies)
        for place, op_reply in zip(op_places, reply, strict=True):
            merged[place] = op_reply
        if deferred and not self._dead:
            for place, handler, args in deferred:
                local = handler(self, args)
                merged[place] = None if isinstance(local, admin.NoReply) else local
            proto = self._reply_proto()  # as it is now (HELLO 3, CLIENT REPLY OFF...)
        self._complete(seq, proto, merged)


def _transaction_handlers() -> dict[bytes, LocalHandler]:
    return {
        b"multi": Connection.cmd_multi,
        b"exec": Connection.cmd_exec,
        b"discard": Connection.cmd_discard,
        b"watch": Connection.cmd_watch,
        b"unwatch": Connection.cmd_unwatch,
    }


_EVALS = frozenset({b"EVAL", b"EVAL_RO"})

_LOCAL_HANDLERS: dict[bytes, LocalHandler] = {**admin.HANDLERS, **_transaction_handlers()}
"""Full command name → handler of every connection-local command."""
_QUEUED_HANDLERS: dict[bytes, LocalHandler] = {
    **_LOCAL_HANDLERS,
    b"ssubscribe": admin.cmd_ssubscribe_in_exec,
}
"""The handlers EXEC runs queued connection commands with: SSUBSCRIBE is refused there
(Redis runs a transaction as a client that may not block)."""

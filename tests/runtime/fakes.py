"""Test doubles and harness for the client front end.

``FakeBackend`` stands where the consensus loop stands in production: it
stamps commands and, on ``submit``, runs them with the real command handlers
(``epaxosdb.commands.execute``) against a ``MemoryStore``. Replies come back
at once by default; with ``hold=True`` they wait until the test calls
``release()``, optionally in another order, to show that the front end keeps
request order whatever order completions arrive in.

``running_server`` serves a front end on 127.0.0.1 and a free port for the
duration of a ``with`` block; ``RawClient`` talks raw RESP to it (or to a
real redis-server) and returns reply bytes exactly.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import BinaryIO

import trio
import trio.testing

from epaxosdb import commands
from epaxosdb.node import publications
from epaxosdb.runtime.backend import Client, InfoFields, OnReply, T
from epaxosdb.runtime.blocking import BlockedClients
from epaxosdb.runtime.clients import ClientRegistry, ClientSettings, serve_clients
from epaxosdb.runtime.pubsub import Subscriptions
from protocol.messages import Command
from protocol.replies import Error, Reply
from protocol.resp import encode_request
from storage.buffered import BufferedView, NeedsTransaction
from storage.interface import KeyValueView, Txn
from storage.memory import MemoryStore
from tests.redis_server import Incomplete, parse_reply

LOADING = Error("LOADING Redis is loading the dataset in memory")


@dataclass
class FakeBackend:
    replica_id: int = 1
    replicas: int = 1
    loading: bool = False
    refusal: Error | None = None
    """Every command is answered this before it is proposed (``-NOQUORUM``...), when set."""
    hold: bool = False
    store: MemoryStore = field(default_factory=MemoryStore)
    submitted: list[Command] = field(default_factory=list)
    blocked: BlockedClients | None = None
    subscriptions: Subscriptions | None = None
    """Set by ``running_server``: the front end's blocked clients, told of every write."""
    held: list[tuple[Command, Callable[[Reply], None]]] = field(default_factory=list)
    late: dict[int, Callable[[Reply], None]] = field(default_factory=dict)
    """``on_late`` of held commands, by command id (see ``release_uncertain``)."""
    scratch_files: list[BinaryIO] = field(default_factory=list)
    """Every ``scratch_file`` handed out (a test checks each is closed)."""
    _next_id: int = 0
    _held_changed: trio.Event = field(default_factory=trio.Event)

    def stamp(
        self, ops: tuple[tuple[bytes, ...], ...], time_ms: int, multi: bool = False
    ) -> Command:
        self._next_id += 1
        return Command(self.replica_id, self._next_id, time_ms, ops, multi)

    def submit(
        self,
        cmd: Command,
        on_done: OnReply,
        on_late: OnReply | None = None,
        client: Client | None = None,
    ) -> None:
        self.submitted.append(cmd)
        if self.loading:
            on_done(LOADING)
        elif self.refusal is not None:
            on_done(self.refusal)
        elif self.hold:
            self.held.append((cmd, on_done))
            if on_late is not None:
                self.late[cmd.id] = on_late
            self._held_changed.set()
        else:
            on_done(self.execute(cmd))

    def execute(self, cmd: Command) -> Reply:
        """Run ``cmd`` and, as the consensus loop does, deliver what it published and tell
        blocked clients what it wrote."""

        def run(txn: Txn) -> tuple[Reply, list[bytes] | None]:
            view = BufferedView(txn, ())
            try:
                reply = commands.execute(view, cmd)
            except NeedsTransaction:
                return commands.execute(txn, cmd), None
            txn.apply_writes(view.writes)
            return reply, list(view.writes)

        reply, written = self.store.write(run)
        if self.subscriptions is not None:
            for message in publications(reply):
                message.receivers = self.subscriptions.publish(message.channel, message.message)
        if self.blocked is not None:
            if written is None:
                self.blocked.changed_all()
            elif written:
                self.blocked.changed(written)
        return reply

    def read_state(self, fn: Callable[[KeyValueView], T]) -> T:
        return self.store.read(fn)

    def read_executed(self, fn: Callable[[KeyValueView], T]) -> T | None:
        """Commands execute straight into the store here: it holds everything executed."""
        return self.store.read(fn)

    def scratch_file(self) -> BinaryIO:
        file = tempfile.TemporaryFile()  # noqa: SIM115 (the caller closes it, as it must)
        self.scratch_files.append(file)
        return file

    def save(self, on_done: Callable[[], None]) -> None:
        """Nothing is deferred here: saved at once."""
        on_done()

    async def wait_held(self, count: int) -> None:
        """Until ``count`` commands are held (bounded by the caller's timeout)."""
        while len(self.held) < count:
            self._held_changed = trio.Event()
            await self._held_changed.wait()

    def release(self, *, reverse: bool = False) -> int:
        """Execute the held commands in submission order; call back in ``reverse`` if asked."""
        held, self.held = self.held, []
        results = [(on_done, self.execute(cmd)) for cmd, on_done in held]
        for on_done, reply in reversed(results) if reverse else results:
            on_done(reply)
        return len(results)

    def release_uncertain(self, uncertain: Error) -> int:
        """As the consensus loop does when quorum is lost, then found again: answer every
        held command ``uncertain``, then execute them, telling ``on_late`` the reply."""
        held, self.held = self.held, []
        for _, on_done in held:
            on_done(uncertain)
        for cmd, _ in held:
            reply = self.execute(cmd)
            on_late = self.late.pop(cmd.id, None)
            if on_late is not None:
                on_late(reply)
        return len(held)

    def info_sections(self) -> Mapping[str, InfoFields]:
        keys = self.store.read(lambda kv: kv.count())
        keyspace: InfoFields = [("db0", f"keys={keys},expires=0,avg_ttl=0")] if keys else []
        return {
            "EPaxos": [("replica_id", self.replica_id), ("instances_committed", self._next_id)],
            "Keyspace": keyspace,
        }


# --- a served front end and a raw client -------------------------------------------

IO_TIMEOUT_S = 10.0
"""Upper bound on any single wait in these tests: a hang fails instead of blocking."""


@dataclass
class Server:
    port: int
    registry: ClientRegistry
    backend: FakeBackend


@asynccontextmanager
async def running_server(
    backend: FakeBackend | None = None, settings: ClientSettings | None = None
) -> AsyncIterator[Server]:
    """``serve_clients`` on 127.0.0.1 and an OS-assigned port, stopped on exit."""
    backend = backend if backend is not None else FakeBackend()
    registry = ClientRegistry(settings)
    backend.blocked = registry.blocked
    backend.subscriptions = registry.subscriptions
    async with trio.open_nursery() as nursery:
        port = await nursery.start(partial(serve_clients, backend, registry=registry))
        try:
            yield Server(port, registry, backend)
        finally:
            nursery.cancel_scope.cancel()


async def until_blocked(server: Server, count: int) -> None:
    """Until ``count`` clients wait in a blocking command (bounded by ``IO_TIMEOUT_S``)."""
    with trio.fail_after(IO_TIMEOUT_S):
        while len(server.registry.blocked) != count:
            await trio.testing.wait_all_tasks_blocked(cushion=0.001)


def reply_ends(data: bytes) -> list[int]:
    """Where each complete reply in ``data`` ends (``tests.redis_server.parse_reply``)."""
    ends: list[int] = []
    position = 0
    while position < len(data):
        try:
            _, position = parse_reply(data, position)
        except Incomplete:
            break
        ends.append(position)
    return ends


def count_replies(data: bytes) -> int | None:
    """How many complete replies ``data`` holds, or ``None`` if it ends inside one."""
    ends = reply_ends(data)
    return len(ends) if (ends[-1] if ends else 0) == len(data) else None


class RawClient:
    """A RESP client that sends raw bytes and returns raw reply bytes."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.received = b""

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        with trio.fail_after(IO_TIMEOUT_S):
            return cls(await trio.open_tcp_stream("127.0.0.1", port))

    async def send(self, data: bytes) -> None:
        with trio.fail_after(IO_TIMEOUT_S):
            await self.stream.send_all(data)

    async def replies(self, count: int) -> bytes:
        """Exactly the next ``count`` replies, as bytes."""
        with trio.fail_after(IO_TIMEOUT_S):
            while len(ends := reply_ends(self.received)) < count:
                chunk = await self.stream.receive_some(65536)
                if not chunk:
                    raise EOFError(f"closed after {self.received!r}")
                self.received += chunk
            cut = ends[count - 1]
            data, self.received = self.received[:cut], self.received[cut:]
            return data

    async def call(self, *args: bytes | str | int) -> bytes:
        await self.send(encode_request(args))
        return await self.replies(1)

    async def until_closed_or_chunk(self) -> bytes:
        """The next bytes received, or ``b""`` once the server has closed (or reset)."""
        with trio.fail_after(IO_TIMEOUT_S):
            try:
                return await self.stream.receive_some(65536)
            except trio.BrokenResourceError:
                return b""

    async def until_closed(self) -> bytes:
        """Everything the server sends until it closes the connection."""
        with trio.fail_after(IO_TIMEOUT_S):
            while True:
                try:
                    chunk = await self.stream.receive_some(65536)
                except trio.BrokenResourceError:
                    chunk = b""
                if not chunk:
                    data, self.received = self.received, b""
                    return data
                self.received += chunk

    async def aclose(self) -> None:
        await self.stream.aclose()

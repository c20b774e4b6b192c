"""What the RESP front end needs from the rest of a replica.

The client connection handlers (``runtime/clients.py``) parse requests, answer
connection-local commands themselves, and hand every data command to a
``Backend``: the consensus loop in production, a direct executor in unit
tests. Keeping this seam narrow lets the front end be tested without a
cluster, and the cluster without sockets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import BinaryIO, Protocol, TypeVar

from epaxosdb.commands.scripting import Guard
from protocol.messages import Command
from protocol.replies import Reply
from storage.interface import KeyValueView

T = TypeVar("T")

InfoFields = Sequence[tuple[str, str | int | float]]
"""``key:value`` lines of one INFO section, in order."""


OnReply = Callable[[Reply], None]
"""What ``Backend.submit`` calls with a command's reply."""


class Client(Protocol):
    """Who submitted a command, as SLOWLOG names it (a connection is one)."""

    @property
    def id(self) -> int: ...

    @property
    def addr(self) -> str: ...

    @property
    def name(self) -> bytes: ...

    @property
    def script_guard(self) -> Guard | None:
        """What refuses, inside this client's read-only scripts, the commands its user may
        not run (``None``: it may run them all)."""
        ...


class Backend(Protocol):
    @property
    def replica_id(self) -> int: ...

    @property
    def replicas(self) -> int:
        """How many replicas the cluster has (WAIT's answer follows from it)."""
        ...

    @property
    def loading(self) -> bool:
        """True while the replica replays its log or catches up; data commands get -LOADING."""
        ...

    def stamp(
        self, ops: tuple[tuple[bytes, ...], ...], time_ms: int, multi: bool = False
    ) -> Command:
        """Wrap normalized ops into a Command with this replica's origin and a fresh id.

        ``time_ms`` is the wall-clock time the front end read once for this
        request and also gave to ``commands.prepare`` (which turned relative
        expiries into absolute ones from it).
        """
        ...

    def submit(
        self,
        cmd: Command,
        on_done: OnReply,
        on_late: OnReply | None = None,
        client: Client | None = None,
    ) -> None:
        """Propose ``cmd``; call ``on_done(reply)`` once it has executed here.

        Does not block. ``on_done`` is called exactly once, from the trio run
        that called ``submit`` (never from another thread), possibly before
        ``submit`` returns. Failures come back as ``Error`` replies, never as
        exceptions: ``-LOADING`` while loading, and a distinct "outcome
        unknown" error when the command may still commit. Commands submitted
        in order by one connection are proposed in that order.

        ``on_late(reply)`` is called if ``cmd`` does execute here after all, once
        ``on_done`` was told its outcome was unknown (a blocking pop puts back what
        such an attempt popped: its client was never given it). Not if this replica
        rebuilt its state meanwhile, nor for a command still unexecuted after
        ``LATE_OUTCOMES_MAX`` others were told the same.

        ``client`` names who asked, should an op of ``cmd`` be slow (SLOWLOG).
        """
        ...

    def save(self, on_done: Callable[[], None]) -> None:
        """SAVE/BGSAVE: write what the store lacks of the executed state (deferred
        effects) at the next turn, then call ``on_done``."""
        ...

    @property
    def saving(self) -> bool:
        """A save was asked for and has not completed (INFO ``rdb_bgsave_in_progress``)."""
        ...

    def scratch_file(self) -> BinaryIO:
        """A temporary file for a large transient result (SYNC's snapshot), deleted when
        closed; on the data dir's disk rather than in memory."""
        ...

    def read_state(self, fn: Callable[[KeyValueView], T]) -> T:
        """``fn`` over one read-only snapshot of the store's key-value state (after a
        ``save``, the whole executed state). Blocking: call it from another thread."""
        ...

    def read_executed(self, fn: Callable[[KeyValueView], T]) -> T | None:
        """``fn`` over everything this replica has executed, deferred effects included;
        ``None`` while a loop turn is being made durable (what it executed may yet be
        lost to a crash, so nobody may act on it). For a look at a few keys (a blocked
        client's), on the event loop's thread; not a snapshot to walk."""
        ...

    @property
    def last_save_s(self) -> int:
        """LASTSAVE: the Unix time the store last held the whole executed state."""
        ...

    def info_sections(self) -> Mapping[str, InfoFields]:
        """Sections the backend owns (``EPaxos``, ``Persistence``, ``Keyspace``...)."""
        ...

"""Server-assisted client-side caching: CLIENT TRACKING, as Redis 7.0 does it.

Why: client libraries that keep what they read (redis-py's ``cache_config``,
Lettuce, node-redis) turn it on at connect time and rely on hearing, as an
``invalidate`` push, of every change to a key they hold.

Where changes come from. Every replica executes every write, whichever
replica proposed it, so each replica tells its own tracking clients about the
keys its steps changed: a step's net writes (``node.Prepared.writes``), which
hold every key its commands wrote or deleted, the expired keys a command or
the expiry sweep deleted included. A step that ran inside a transaction
(FLUSHALL, or a keyspace-wide read such as SCAN or DBSIZE that had expired keys
to delete) has no such list: every tracking client then hears a null
invalidation, "drop everything", as Redis sends for FLUSHALL.

When a key is tracked (the default mode): when a tracking client's read
executes. The step that ran it reports the reply (``read``), and the key joins
the table at the end of that step (``step_done``), so a change in any later
step is heard. If the same step also changed the key, the reader is told at
once instead: its read may have run before the change (and if it ran after,
the client only drops a fresh value). As in Redis, an invalidation removes the
key from the table: a client reads it again to be told again.

Order. An invalidation reaches a client after every reply already completed for
it, even those still held behind an earlier, slower reply
(``Connection.deliver_invalidation``): a value a client caches is never older
than an invalidation it has already seen.

BCAST mode keeps no table: every changed key under one of the client's
prefixes is sent, one message per prefix per step with its keys in order, as
Redis sends them per prefix per event loop turn.

NOLOOP: a client is not told of a key only its own commands wrote in a step
(``step_done``'s ``authors``: who wrote each key, by the commands' declared
writes; a key anyone else wrote, or the expiry deleted, is told). Unlike Redis,
which then forgets the key for every client, it stays tracked for the writer,
so a later change by another client still reaches it.

What differs from Redis: a key a client read in the very step another client
changed it is invalidated at once, even when the read came after the change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from epaxosdb.commands import errors
from epaxosdb.commands.access import access_of
from epaxosdb.commands.integers import parse_ll
from epaxosdb.commands.table import COMMANDS
from protocol.replies import Error
from protocol.resp import encode_request

TABLE_MAX_KEYS = 1_000_000
"""Redis's ``tracking-table-max-keys`` default: past it the oldest keys are invalidated
(their clients told) and forgotten, so the table cannot grow without bound."""

CHANNEL = b"__redis__:invalidate"
"""Where a RESP2 client's invalidations go, through a client it redirects them to."""

PREFIX_OVERLAP = "ERR Prefix '{}' overlaps with {} prefix '{}'. Prefixes for a single client must not overlap."  # noqa: E501
REDIRECT_MISSING = Error("ERR The client ID you want redirect to does not exist")
OPTIN_AND_OPTOUT = Error("ERR You can't specify both OPTIN mode and OPTOUT mode")
PREFIX_NEEDS_BCAST = Error("ERR PREFIX option requires BCAST mode to be enabled")
BCAST_NOT_OPT = Error("ERR OPTIN and OPTOUT are not compatible with BCAST")
SWITCH_BCAST = Error(
    "ERR You can't switch BCAST mode on/off before disabling tracking for this client, "
    "and then re-enabling it with a different mode."
)
SWITCH_OPT = Error(
    "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, "
    "and then re-enabling it with a different mode."
)


class Tracked(Protocol):
    """What tracking needs of a connection."""

    id: int
    proto: int
    tracker: Tracker | None

    @property
    def subscriptions(self) -> int: ...

    def deliver_invalidation(self, message: bytes) -> None: ...


@dataclass(slots=True)
class Tracker:
    """One connection's CLIENT TRACKING settings."""

    bcast: bool = False
    optin: bool = False
    optout: bool = False
    noloop: bool = False
    redirect: int = 0
    prefixes: list[bytes] = field(default_factory=list)
    broken_redirect: bool = False

    def flags(self, caching: bool | None) -> list[bytes]:
        """CLIENT TRACKINGINFO's flags, in Redis's order."""
        flags = [b"on"]
        if self.bcast:
            flags.append(b"bcast")
        if self.optin:
            flags.append(b"optin")
            if caching:
                flags.append(b"caching-yes")
        if self.optout:
            flags.append(b"optout")
            if caching is False:
                flags.append(b"caching-no")
        if self.noloop:
            flags.append(b"noloop")
        if self.broken_redirect:
            flags.append(b"broken_redirect")
        return flags

    def tracks_next(self, caching: bool | None) -> bool:
        """Whether the next command's reads are tracked (OPTIN: only after CLIENT CACHING
        yes; OPTOUT: unless after CLIENT CACHING no; BCAST: nothing is)."""
        if self.bcast:
            return False
        if self.optin:
            return caching is True
        if self.optout:
            return caching is not False
        return True


def overlapping(prefixes: list[bytes], existing: Iterable[bytes]) -> Error | None:
    """Redis's check that no two prefixes of one client overlap (one starts the other):
    each new one against those the client has, then against the new ones after it."""
    have = list(existing)
    for i, prefix in enumerate(prefixes):
        for kind, others in (("an existing", have), ("another provided", prefixes[i + 1 :])):
            for other in others:
                if prefix.startswith(other) or other.startswith(prefix):
                    return Error(PREFIX_OVERLAP.format(_text(prefix), kind, _text(other)))
    return None


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


_READONLY = frozenset(spec.upper for spec in COMMANDS if "readonly" in spec.flags)
_READONLY_SUBS = {
    spec.upper: frozenset(
        sub.name.split(b"|")[1].upper() for sub in spec.subcommands if "readonly" in sub.flags
    )
    for spec in COMMANDS
    if spec.subcommands
}
_SCRIPTS = frozenset({b"EVAL", b"EVAL_RO", b"FCALL", b"FCALL_RO"})


def read_keys(ops: Iterable[tuple[bytes, ...]]) -> list[bytes]:
    """The keys the read-only ops among ``ops`` read (Redis tracks keys of commands flagged
    ``readonly``), and every key a script declares (its reads are commands of its own,
    which only declared keys may be named by)."""
    keys: list[bytes] = []
    for op in ops:
        name = op[0]
        if name in _SCRIPTS:
            access = access_of(op)
            keys += access.reads
            keys += access.writes
        elif name in _READONLY or (
            len(op) > 1 and op[1].upper() in _READONLY_SUBS.get(name.upper(), ())
        ):
            keys += access_of(op).reads
    return keys


def _push(payload: bytes) -> bytes:
    return b">2\r\n$10\r\ninvalidate\r\n" + payload


class Tracking:
    """The tracking table of one replica's front end and the delivery of invalidations."""

    def __init__(self, clients: Mapping[int, Tracked]) -> None:
        self._clients = clients
        self.table: dict[bytes, set[int]] = {}
        """Key → the clients (default mode) that read it since it last changed."""
        self.prefixes: dict[bytes, set[int]] = {}
        """Prefix → the BCAST clients that asked for it."""
        self.trackers = 0
        """How many connections track (INFO ``tracking_clients``)."""
        self.noloop = 0
        """How many of them asked for NOLOOP (the loop then says who wrote what)."""
        self._reads: list[tuple[int, list[bytes]]] = []

    @property
    def active(self) -> bool:
        """Whether a step's changes concern anyone (the loop skips ``step_done`` if not)."""
        return bool(self.trackers or self._reads)

    def enable(self, conn: Tracked, tracker: Tracker) -> None:
        if conn.tracker is None:
            self.trackers += 1
        self.noloop += tracker.noloop
        for prefix in tracker.prefixes:
            self.prefixes.setdefault(prefix, set()).add(conn.id)
        conn.tracker = tracker

    def disable(self, conn: Tracked) -> None:
        """Tracking off (CLIENT TRACKING OFF, RESET, a closed connection). Its keys stay in
        the table until they change, as in Redis: nobody is told of them then."""
        tracker = conn.tracker
        if tracker is None:
            return
        self.trackers -= 1
        self.noloop -= tracker.noloop
        for prefix in tracker.prefixes:
            ids = self.prefixes.get(prefix)
            if ids is not None:
                ids.discard(conn.id)
                if not ids:
                    del self.prefixes[prefix]
        conn.tracker = None

    def read(self, client_id: int, keys: list[bytes]) -> None:
        """A tracking client's read completed, with these keys: tracked from the end of
        the step that ran it (``step_done``)."""
        if keys:
            self._reads.append((client_id, keys))

    def step_done(
        self,
        changed: Iterable[bytes] | None,
        authors: Mapping[bytes, set[int | None]] | None = None,
    ) -> None:
        """A step's replies went out; ``changed`` are the keys it changed (``None``:
        everything, FLUSHALL: every tracking client drops everything). ``authors``: who
        wrote each key (a client's ID, ``None`` for a command of no client of this
        replica), given when a NOLOOP client may be spared its own writes."""
        reads, self._reads = self._reads, []
        if changed is None:
            self.flush_all()
            return
        changed_keys = changed if isinstance(changed, Mapping) else dict.fromkeys(changed)
        told: dict[int, list[bytes]] = {}
        if self.table:
            table = self.table
            for key in changed_keys:
                ids = table.pop(key, None)
                if ids:
                    for client_id in ids:
                        if self._spared(client_id, key, authors):
                            table.setdefault(key, set()).add(client_id)  # still tracked
                        else:
                            told.setdefault(client_id, []).append(key)
        for client_id, keys in reads:
            for key in keys:
                if key in changed_keys and not self._spared(client_id, key, authors):
                    told.setdefault(client_id, []).append(key)
                else:
                    self.table.setdefault(key, set()).add(client_id)
        for client_id, keys in told.items():
            for key in dict.fromkeys(keys):
                self._send(client_id, encode_request([key]))
        if self.prefixes and changed_keys:
            self._broadcast(changed_keys, authors)
        if len(self.table) > TABLE_MAX_KEYS:
            self._evict(len(self.table) - TABLE_MAX_KEYS)

    def _broadcast(
        self, changed: Iterable[bytes], authors: Mapping[bytes, set[int | None]] | None
    ) -> None:
        keys = sorted(changed)
        for prefix in sorted(self.prefixes):
            matching = [key for key in keys if key.startswith(prefix)]
            if not matching:
                continue
            payload = encode_request(matching)
            for client_id in list(self.prefixes[prefix]):
                told = [key for key in matching if not self._spared(client_id, key, authors)]
                if told:
                    self._send(client_id, payload if told == matching else encode_request(told))

    def _spared(
        self, client_id: int, key: bytes, authors: Mapping[bytes, set[int | None]] | None
    ) -> bool:
        """Whether a NOLOOP client is not told of ``key``: it alone wrote it this step."""
        if authors is None or authors.get(key) != {client_id}:
            return False
        conn = self._clients.get(client_id)
        return conn is not None and conn.tracker is not None and conn.tracker.noloop

    def _evict(self, count: int) -> None:
        """The oldest ``count`` keys leave the table; their clients are told."""
        oldest = [key for key, _ in zip(self.table, range(count), strict=False)]
        for key in oldest:
            for client_id in self.table.pop(key):
                self._send(client_id, encode_request([key]))

    def flush_all(self) -> None:
        """Everything may have changed: every tracking client drops everything."""
        self.table.clear()
        self._reads.clear()
        for conn in list(self._clients.values()):
            if conn.tracker is not None:
                self._send(conn.id, b"_\r\n" if conn.proto == 3 else b"$-1\r\n")

    def _send(self, client_id: int, payload: bytes) -> None:
        """An invalidation to a tracking client, or to the client it redirects to: a push in
        RESP3; in RESP2 a message on ``CHANNEL`` to a redirect target that subscribes to
        anything (Redis's test); nothing to a RESP2 client on its own."""
        conn = self._clients.get(client_id)
        if conn is None or conn.tracker is None:
            return
        tracker = conn.tracker
        target = conn
        if tracker.redirect:
            redirected = self._clients.get(tracker.redirect)
            if redirected is None:
                tracker.broken_redirect = True
                if conn.proto == 3:
                    conn.deliver_invalidation(
                        b">2\r\n$21\r\ntracking-redir-broken\r\n:%d\r\n" % tracker.redirect
                    )
                return
            target = redirected
        if target.proto == 3:
            target.deliver_invalidation(_push(payload))
        elif tracker.redirect and target.subscriptions:
            header = b"*3\r\n$7\r\nmessage\r\n$%d\r\n%b\r\n" % (len(CHANNEL), CHANNEL)
            target.deliver_invalidation(header + payload)

    def items(self) -> int:
        """INFO ``tracking_total_items``: (key, client) pairs in the table."""
        return sum(len(ids) for ids in self.table.values())


SYNTAX = errors.SYNTAX
NOT_INTEGER = errors.NOT_INTEGER
ONE_REDIRECT = Error("ERR A client can only redirect to a single other client")


def tracking_request(
    args: list[bytes], current: Tracker | None, clients: Mapping[int, object]
) -> Tracker | Error | None:
    """CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p]... [BCAST] [OPTIN] [OPTOUT] [NOLOOP],
    checked as Redis 7.0's ``clientCommand`` checks it, in its order: the settings to
    track with (``None``: off) or the error. Turning it on again keeps the client's
    prefixes and adds the new ones; BCAST without any prefix means every key."""
    redirect = 0
    bcast = optin = optout = noloop = False
    prefixes: list[bytes] = []
    j = 3
    while j < len(args):
        option = args[j].lower()
        more = len(args) - 1 - j
        if option == b"redirect" and more:
            j += 1
            if redirect:
                return ONE_REDIRECT
            value = parse_ll(args[j])
            if value is None:
                return NOT_INTEGER
            redirect = value
            if redirect not in clients:
                return REDIRECT_MISSING
        elif option == b"prefix" and more:
            j += 1
            prefixes.append(args[j])
        elif option in (b"bcast", b"optin", b"optout", b"noloop"):
            bcast |= option == b"bcast"
            optin |= option == b"optin"
            optout |= option == b"optout"
            noloop |= option == b"noloop"
        else:
            return SYNTAX
        j += 1
    status = args[2].lower()
    if status == b"off":
        return None
    if status != b"on":
        return SYNTAX
    if prefixes and not bcast:
        return PREFIX_NEEDS_BCAST
    if current is not None and current.bcast != bcast:
        return SWITCH_BCAST
    if bcast and (optin or optout):
        return BCAST_NOT_OPT
    if optin and optout:
        return OPTIN_AND_OPTOUT
    if current is not None and ((optin and current.optout) or (optout and current.optin)):
        return SWITCH_OPT
    existing = current.prefixes if current is not None else []
    if bcast:
        collision = overlapping(prefixes, existing)
        if collision is not None:
            return collision
        if not prefixes and not existing:
            prefixes = [b""]
    return Tracker(bcast, optin, optout, noloop, redirect, [*existing, *prefixes])


def caching_request(arg: bytes, tracker: Tracker | None) -> bool | Error:
    """CLIENT CACHING YES|NO: the flag for the next command, or why it cannot be set."""
    if tracker is None:
        return Error(
            "ERR CLIENT CACHING can be called only when the client is in tracking mode with "
            "OPTIN or OPTOUT mode enabled"
        )
    mode = arg.lower()
    if mode == b"yes":
        if tracker.optin:
            return True
        return Error("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.")
    if mode == b"no":
        if tracker.optout:
            return False
        return Error("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.")
    return SYNTAX

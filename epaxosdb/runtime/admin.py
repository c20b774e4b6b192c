"""Connection-local commands: answered by the front end, never replicated.

HELLO, AUTH, PING, ECHO, QUIT, RESET, SELECT, TIME, CLIENT ..., COMMAND ...,
CONFIG ... and INFO concern this connection or this server process, not
the replicated data, so they never go through consensus (DESIGN §4). Their
replies and error texts are Redis 7.0's, byte for byte, because clients
parse them: redis-py 8 checks HELLO's ``proto``, ioredis waits on INFO's
``loading:0``, redis-benchmark reads ``CONFIG GET save``, go-redis falls
back to RESP2 on any HELLO error.

A handler is ``handler(connection, args) -> Reply | NO_REPLY``; arity and
authentication were checked by the caller against the command table
(``epaxosdb.commands``). ``HANDLERS`` maps each full command name
(``b"client|setname"``) to its handler. Transactions (MULTI, EXEC...) live
with the connection, which owns the queue.
"""

from __future__ import annotations

import os
import platform
import resource
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import TYPE_CHECKING, BinaryIO, Final

import trio

from epaxosdb import commands, rdb_file, users
from epaxosdb.build import build_name
from epaxosdb.commands import notifications
from epaxosdb.commands.glob import stringmatch
from epaxosdb.users import User
from protocol.peer import COMMAND_BYTES_MAX
from protocol.replies import (
    OK,
    PONG,
    Error,
    Map,
    Reply,
    ReplySequence,
    Set,
    SimpleString,
    Verbatim,
    help_reply,
)
from protocol.resp import split_inline
from storage.interface import KeyValueView

from . import acl, latency, slowlog, tracking
from .backend import InfoFields

if TYPE_CHECKING:
    from .clients import ClientRegistry, ClientSettings
    from .connection import Connection


class NoReply:
    """Type of ``NO_REPLY``: the handler answers later, or not at all (CLIENT REPLY OFF)."""

    __slots__ = ()


NO_REPLY: Final = NoReply()

Handler = Callable[["Connection", list[bytes]], "Reply | NoReply"]

SYNTAX_ERROR = Error("ERR syntax error")
NOT_INTEGER = Error("ERR value is not an integer or out of range")
WRONGPASS = Error("WRONGPASS invalid username-password pair or user is disabled.")
NOPASS_AUTH = Error(
    "ERR AUTH <password> called without any password configured for the default user."
    " Are you sure your configuration is correct?"
)
HELLO_NOAUTH = Error(
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the"
    " HELLO AUTH <user> <pass> option can be used to authenticate the client and select"
    " the RESP protocol version at the same time"
)
NOPROTO = Error("NOPROTO unsupported protocol version")
BAD_PROTOVER = Error("ERR Protocol version is not an integer or out of range")
BAD_CLIENT_NAME = Error("ERR Client names cannot contain spaces, newlines or special characters.")
DB_OUT_OF_RANGE = Error("ERR DB index is out of range")
NO_SUCH_CLIENT = Error("ERR No such client")
RESET_REPLY = SimpleString(b"RESET")
DEFAULT_USER = b"default"


# --- helpers ------------------------------------------------------------------


def _c_text(raw: bytes) -> str:
    """User bytes inside an error text, as Redis's ``%s`` prints them (one line, NUL ends)."""
    nul = raw.find(b"\0")
    if nul >= 0:
        raw = raw[:nul]
    return raw.replace(b"\r", b" ").replace(b"\n", b" ").decode("utf-8", "surrogateescape")


def _parse_int(raw: bytes) -> int | None:
    """Redis's ``string2ll`` (strict decimal)."""
    if not raw or len(raw) > 20:
        return None
    body = raw[1:] if raw[:1] == b"-" else raw
    if not body.isdigit() or (body[:1] == b"0" and len(raw) > 1):
        return None
    value = int(raw)
    return value if -(2**63) <= value < 2**63 else None


def _valid_attribute(value: bytes) -> bool:
    """CLIENT LIST must stay splittable on spaces: printable ASCII only, no space."""
    return all(33 <= byte <= 126 for byte in value)


def log_in(conn: Connection, username: bytes, password: bytes) -> bool:
    """AUTH's check (``runtime.acl``): on success the client is that user; a failure is
    logged in ACL LOG, as Redis does."""
    user = conn.registry.users.authenticate(username, password)
    if user is None:
        conn.registry.acl_log.add(conn, "auth", "toplevel", b"AUTH", username)
        return False
    conn.log_in(user)
    return True


# --- connection commands ------------------------------------------------------


def cmd_ping(conn: Connection, args: list[bytes]) -> Reply:
    if len(args) > 2:
        return Error("ERR wrong number of arguments for 'ping' command")
    if conn.proto == 2 and conn.subscriptions:
        return [b"pong", b"" if len(args) == 1 else args[1]]  # a subscriber's PING
    return PONG if len(args) == 1 else args[1]


def cmd_echo(conn: Connection, args: list[bytes]) -> Reply:
    return args[1]


def cmd_quit(conn: Connection, args: list[bytes]) -> Reply:
    conn.close_after_reply()
    return OK


_SHUTDOWN_FLAGS = frozenset({b"nosave", b"save", b"now", b"force"})


def cmd_shutdown(conn: Connection, args: list[bytes]) -> Reply | NoReply:
    """Stop this replica as SIGTERM does; Redis's argument checks and errors.

    Every acknowledged write is already durable, so SAVE and NOSAVE mean the
    same here, and NOW and FORCE have nothing to skip. A shutdown never waits
    (there is no replica lag to wait for), so ABORT always finds none in
    progress. Like Redis, a successful SHUTDOWN gets no reply: the
    connection closes. Only this replica stops; the others keep serving.
    """
    options = [arg.lower() for arg in args[1:]]
    if any(option not in _SHUTDOWN_FLAGS and option != b"abort" for option in options):
        return SYNTAX_ERROR
    abort = b"abort" in options
    if (abort and len(set(options)) > 1) or {b"save", b"nosave"} <= set(options):
        return SYNTAX_ERROR
    if abort:
        return Error("ERR No shutdown in progress.")
    conn.registry.request_shutdown(f"SHUTDOWN from client id={conn.id} addr={conn.addr}")
    conn.close_after_reply()
    return NO_REPLY


def cmd_monitor(conn: Connection, args: list[bytes]) -> Reply | NoReply:
    """Start monitoring (``monitor``); a second MONITOR is ignored without a reply, as
    in Redis."""
    if conn.monitoring:
        return NO_REPLY
    conn.start_monitoring()
    return OK


SAVE_IN_PROGRESS = Error("ERR Background save already in progress")


def cmd_save(conn: Connection, args: list[bytes]) -> Reply | NoReply:
    """Every acknowledged write is durable already (in the log); SAVE also writes the
    key-value effects the replica defers into the data file, and answers once they
    are there (see ``ConsensusLoop.save``)."""
    backend = conn.backend
    if backend.saving:
        return SAVE_IN_PROGRESS
    reply = conn.reply_later()
    backend.save(lambda: reply(OK))
    return NO_REPLY


def cmd_bgsave(conn: Connection, args: list[bytes]) -> Reply:
    if len(args) > 2 or (len(args) == 2 and args[1].lower() != b"schedule"):
        return SYNTAX_ERROR
    backend = conn.backend
    if backend.saving:
        return SAVE_IN_PROGRESS
    backend.save(lambda: None)
    return SimpleString(b"Background saving started")


_REPLCONF_ACCEPTED = frozenset(
    {b"listening-port", b"ip-address", b"capa", b"rdb-only", b"rdb-filter-only"}
)
"""What a client that wants only a snapshot sends (redis-cli --rdb: ``capa eof``,
``rdb-only 1``; redis-cli --functions-rdb: ``rdb-filter-only functions`` too); the
options of a real replica's stream (ACK, GETACK) are not known."""
NO_REPLICATION = Error(
    "ERR replication is not supported: SYNC only sends an RDB snapshot, to a client that "
    "said REPLCONF rdb-only 1 (redis-cli --rdb)"
)


def cmd_replconf(conn: Connection, args: list[bytes]) -> Reply:
    if len(args) % 2 == 0:
        return SYNTAX_ERROR
    for option, value in zip(args[1::2], args[2::2], strict=True):
        name = option.lower()
        if name not in _REPLCONF_ACCEPTED:
            return Error(f"ERR Unrecognized REPLCONF option: {option.decode('latin-1')}")
        if name == b"rdb-only":
            if value not in (b"0", b"1"):
                return Error("ERR value is out of range, value must between 0 and 1")
            conn.rdb_only = value == b"1"
        elif name == b"rdb-filter-only":
            # As Redis 7.0: the keys are left out, and so are the functions unless named.
            filters = split_inline(value)
            if filters is None:
                return Error("ERR Missing rdb-filter-only values")
            for included in filters:
                if included.lower() != b"functions":
                    shown = commands.errors.text(commands.errors.c_string(included))
                    return Error(f"ERR Unsupported rdb-filter-only option: {shown}")
            conn.rdb_filter = (False, bool(filters))
    return OK


def cmd_sync(conn: Connection, args: list[bytes]) -> Reply | NoReply:
    """SYNC for ``redis-cli --rdb``: this replica's whole state as an RDB file (the format
    of ``epaxosdb export``), then the connection closes. The deferred effects are
    saved first, so the snapshot holds everything executed here when SYNC arrived.
    It is written to a temporary file in the data dir, in a thread beside the turns,
    and streamed from there (as Redis's disk-based sync does): a snapshot of many
    gigabytes never sits in memory. PSYNC, and SYNC from a client that did not ask
    for a snapshot only, are refused: there is no replication stream to follow it."""
    if args[0].lower() != b"sync" or not conn.rdb_only:
        return NO_REPLICATION
    deliver = conn.send_file_later()
    conn.close_after_reply()  # nothing after SYNC is read, as in Redis
    token = trio.lowlevel.current_trio_token()
    backend = conn.backend

    def build() -> None:
        result: tuple[BinaryIO, int] | Error
        try:
            snapshot = partial(_rdb_snapshot, backend.scratch_file(), conn.rdb_filter)
            result = backend.read_state(snapshot)
        except Exception as exc:  # a storage failure: the client is told, the replica goes on
            result = Error(f"ERR the snapshot failed: {exc}")
        try:
            trio.from_thread.run_sync(deliver, result, trio_token=token)
        except trio.RunFinishedError:
            if not isinstance(result, Error):
                result[0].close()

    backend.save(lambda: threading.Thread(target=build, name="sync-snapshot").start())
    return NO_REPLY


def _rdb_snapshot(
    out: BinaryIO, included: tuple[bool, bool], kv: KeyValueView
) -> tuple[BinaryIO, int]:
    """Write ``kv`` to ``out`` as an RDB file, its keys and its function libraries as
    ``included`` says; ``out`` rewound, and its size."""
    keys, functions = included
    try:
        rdb_file.write_view(kv, out, time.time_ns() // 1_000_000, keys=keys, functions=functions)
        size = out.tell()
        out.seek(0)
    except BaseException:
        out.close()
        raise
    return out, size


def cmd_lastsave(conn: Connection, args: list[bytes]) -> Reply:
    return conn.backend.last_save_s


def cmd_role(conn: Connection, args: list[bytes]) -> Reply:
    """A standalone Redis master's answer: every replica takes writes, none follows
    another, and there is no replication stream whose offset to report."""
    return [b"master", 0, []]


def cmd_reset(conn: Connection, args: list[bytes]) -> Reply:
    conn.reset()
    return RESET_REPLY


def cmd_wait(conn: Connection, args: list[bytes]) -> Reply:
    """WAIT numreplicas timeout: how many other replicas hold every write this client had
    acknowledged — at once, without waiting.

    A write is acknowledged only once a quorum made it durable: this replica and at
    least ``F = (N-1) // 2`` others (F+1 of N), so F is always true, and it is all a
    replica can promise without asking the others. A client that asks for more gets F
    at once, as it would from Redis once its timeout ran out."""
    if _parse_int(args[1]) is None:
        return NOT_INTEGER
    timeout = _parse_int(args[2])
    if timeout is None:
        return Error("ERR timeout is not an integer or out of range")
    if timeout < 0:
        return Error("ERR timeout is negative")
    return (conn.backend.replicas - 1) // 2


def cmd_select(conn: Connection, args: list[bytes]) -> Reply:
    index = commands.parse_db_index(args[1])
    return index if isinstance(index, Error) else OK


def cmd_time(conn: Connection, args: list[bytes]) -> Reply:
    now_us = time.time_ns() // 1000
    return [b"%d" % (now_us // 1_000_000), b"%d" % (now_us % 1_000_000)]


def cmd_auth(conn: Connection, args: list[bytes]) -> Reply:
    if len(args) > 3:
        return SYNTAX_ERROR
    registry = conn.registry
    if len(args) == 2:
        if not registry.auth_required:
            return NOPASS_AUTH
        username, password = DEFAULT_USER, args[1]
    else:
        username, password = args[1], args[2]
    if not log_in(conn, username, password):
        return WRONGPASS
    return OK


def cmd_hello(conn: Connection, args: list[bytes]) -> Reply:
    """HELLO [protover [AUTH user pass] [SETNAME name]]: Redis's ``helloCommand``."""
    version = 0
    position = 1
    if len(args) >= 2:
        parsed = _parse_int(args[1])
        if parsed is None:
            return BAD_PROTOVER
        if not 2 <= parsed <= 3:
            return NOPROTO
        version = parsed
        position = 2
    credentials: tuple[bytes, bytes] | None = None
    name: bytes | None = None
    while position < len(args):
        option = args[position]
        more = len(args) - 1 - position
        if option.lower() == b"auth" and more >= 2:
            credentials = (args[position + 1], args[position + 2])
            position += 3
        elif option.lower() == b"setname" and more >= 1:
            name = args[position + 1]
            position += 2
        else:
            return Error(f"ERR Syntax error in HELLO option '{_c_text(option)}'")
    if credentials is not None and not log_in(conn, *credentials):
        return WRONGPASS
    if not conn.authenticated and conn.registry.auth_required:
        return HELLO_NOAUTH
    if name is not None:
        if not _valid_attribute(name):
            return BAD_CLIENT_NAME
        conn.name = name
    if version:
        conn.set_protocol(version)
    return hello_reply(conn)


def hello_reply(conn: Connection) -> Reply:
    """The HELLO map: a RESP3 map, or a flat 14-element array in RESP2."""
    return Map(
        [
            (b"server", b"redis"),
            (b"version", conn.registry.settings.redis_version.encode()),
            (b"proto", conn.proto),
            (b"id", conn.id),
            (b"mode", b"standalone"),
            (b"role", b"master"),
            (b"modules", []),
        ]
    )


# --- CLIENT -------------------------------------------------------------------

CLIENT_HELP = (
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "    * ID <client-id>",
    "      Kill connections by client id.",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "    * ID <client-id> [<client-id> ...]",
    "      Return clients with the given ids.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "SETINFO <LIB-NAME|LIB-VER> <value>",
    "    Set client library name or version, shown by CLIENT LIST and CLIENT INFO.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "HELP",
    "    Print this help.",
)
_CLIENT_TYPES = {b"normal", b"master", b"replica", b"slave", b"pubsub"}
"""CLIENT LIST/KILL TYPE values; no client of ours is a master or a replica."""


def _client_type(conn: Connection) -> bytes:
    """A client with a subscription is of type ``pubsub``, any other ``normal`` (Redis's
    ``getClientType`` for a server without replication)."""
    return b"pubsub" if conn.subscriptions else b"normal"


def client_info_line(conn: Connection, now: float) -> bytes:
    """One CLIENT LIST line, in Redis 7.2's field order (with ``lib-name``/``lib-ver``)."""
    flags = "P" if conn.subscriptions else ""
    if conn.multi is not None:
        flags += "x"
    if conn.blocked:
        flags += "b"
    tracker = conn.tracker
    if tracker is not None:
        flags += "t" + "R" * tracker.broken_redirect + "B" * tracker.bcast
    if conn.no_evict:
        flags += "e"
    if conn.no_touch:
        flags += "T"
    qbuf = conn.parser.held
    omem = conn.output_pending()
    return (
        f"id={conn.id} addr={conn.addr} laddr={conn.laddr} fd={conn.fd} "
        f"name={conn.name.decode('latin-1')} age={int(now - conn.created)} "
        f"idle={int(now - conn.last_interaction)} flags={flags or 'N'} db=0 "
        f"sub={len(conn.channels)} psub={len(conn.patterns)} ssub={len(conn.shard_channels)} "
        f"multi={-1 if conn.multi is None else len(conn.multi)} qbuf={qbuf} "
        f"qbuf-free=0 argv-mem=0 multi-mem=0 rbs={conn.registry.settings.receive_size} "
        f"rbp={qbuf} obl={omem} oll=0 omem={omem} tot-mem={qbuf + omem} events=r "
        f"cmd={conn.last_command.decode('latin-1')} user={conn.user.name.decode('latin-1')} "
        f"redir={-1 if tracker is None else tracker.redirect} resp={conn.proto} "
        f"lib-name={conn.lib_name.decode('latin-1')} lib-ver={conn.lib_ver.decode('latin-1')}\n"
    ).encode("latin-1")


def cmd_client_id(conn: Connection, args: list[bytes]) -> Reply:
    return conn.id


def cmd_client_getname(conn: Connection, args: list[bytes]) -> Reply:
    return conn.name or None


def cmd_client_setname(conn: Connection, args: list[bytes]) -> Reply:
    if not _valid_attribute(args[2]):
        return BAD_CLIENT_NAME
    conn.name = args[2]
    return OK


def cmd_client_setinfo(conn: Connection, args: list[bytes]) -> Reply:
    attribute, value = args[2], args[3]
    field = attribute.lower()
    if field not in (b"lib-name", b"lib-ver"):
        return Error(f"ERR Unrecognized option '{_c_text(attribute)}'")
    if not _valid_attribute(value):
        return Error(
            f"ERR {_c_text(attribute)} cannot contain spaces, newlines or special characters."
        )
    if field == b"lib-name":
        conn.lib_name = value
    else:
        conn.lib_ver = value
    return OK


def cmd_client_info(conn: Connection, args: list[bytes]) -> Reply:
    return Verbatim(client_info_line(conn, time.monotonic()))


def cmd_client_list(conn: Connection, args: list[bytes]) -> Reply:
    registry = conn.registry
    selected: Iterable[Connection] = list(registry.clients.values())
    if len(args) == 4 and args[2].lower() == b"type":
        kind = args[3].lower()
        if kind not in _CLIENT_TYPES:
            return Error(f"ERR Unknown client type '{_c_text(args[3])}'")
        selected = [c for c in selected if _client_type(c) == kind]
    elif len(args) >= 4 and args[2].lower() == b"id":
        ids = [_parse_int(raw) for raw in args[3:]]
        if any(i is None or i <= 0 for i in ids):
            return Error("ERR Invalid client ID")
        selected = [registry.clients[i] for i in ids if i is not None and i in registry.clients]
    elif len(args) != 2:
        return SYNTAX_ERROR
    now = time.monotonic()
    return Verbatim(b"".join(client_info_line(c, now) for c in selected))


def cmd_client_kill(conn: Connection, args: list[bytes]) -> Reply:
    """CLIENT KILL ip:port (old form) or CLIENT KILL <filter> <value> ... (count of kills)."""
    registry = conn.registry
    if len(args) == 3:
        address = args[2].decode("latin-1")
        for other in list(registry.clients.values()):
            if other.addr == address:
                _kill(conn, other)
                return OK
        return NO_SUCH_CLIENT
    if len(args) % 2:
        return SYNTAX_ERROR
    wanted_id: int | None = None
    addr: str | None = None
    laddr: str | None = None
    kind: bytes | None = None
    user: User | None = None
    skip_me = True
    for position in range(2, len(args), 2):
        option, value = args[position].lower(), args[position + 1]
        if option == b"id":
            wanted_id = _parse_int(value)
            if wanted_id is None or wanted_id <= 0:
                return Error("ERR client-id should be greater than 0")
        elif option == b"addr":
            addr = value.decode("latin-1")
        elif option == b"laddr":
            laddr = value.decode("latin-1")
        elif option == b"type":
            kind = value.lower()
            if kind not in _CLIENT_TYPES:
                return Error(f"ERR Unknown client type '{_c_text(value)}'")
        elif option == b"user":
            user = registry.users.users.get(value)
            if user is None:
                return Error(f"ERR No such user '{_c_text(value)}'")
        elif option == b"skipme":
            flag = value.lower()
            if flag not in (b"yes", b"no"):
                return SYNTAX_ERROR
            skip_me = flag == b"yes"
        else:
            return SYNTAX_ERROR
    killed = 0
    for other in list(registry.clients.values()):
        if (
            (other is conn and skip_me)
            or (kind is not None and _client_type(other) != kind)
            or (wanted_id is not None and other.id != wanted_id)
            or (addr is not None and other.addr != addr)
            or (laddr is not None and other.laddr != laddr)
            or (user is not None and other.user is not user)
        ):
            continue
        _kill(conn, other)
        killed += 1
    return killed


UNBLOCKED = Error("UNBLOCKED client unblocked via CLIENT UNBLOCK")


def cmd_client_unblock(conn: Connection, args: list[bytes]) -> Reply:
    """CLIENT UNBLOCK id [TIMEOUT|ERROR]: 1 if that client was waiting in a blocking
    command (it then gets the timeout reply, or the UNBLOCKED error — unless an attempt
    in flight pops an element, which it then gets instead), else 0."""
    client_id = _parse_int(args[2])
    if client_id is None:
        return NOT_INTEGER
    reply: Reply | None = None
    if len(args) == 4:
        reason = args[3].lower()
        if reason == b"error":
            reply = UNBLOCKED
        elif reason != b"timeout":
            return Error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    elif len(args) > 4:
        return SYNTAX_ERROR
    other = conn.registry.clients.get(client_id)
    if other is None or not other.blocked:
        return 0
    other.unblock(reply)
    return 1


def cmd_client_pause(conn: Connection, args: list[bytes]) -> Reply:
    """CLIENT PAUSE timeout [WRITE|ALL] (``runtime.pause``): the mode is checked first,
    as Redis checks it."""
    if len(args) > 4:
        return commands.errors.subcommand_arity(b"client", args[1])
    writes_only = False
    if len(args) == 4:
        mode = args[3].lower()
        if mode not in (b"write", b"all"):
            return Error("ERR CLIENT PAUSE mode must be WRITE or ALL")
        writes_only = mode == b"write"
    timeout_ms = _parse_int(args[2])
    if timeout_ms is None:
        return Error("ERR timeout is not an integer or out of range")
    if timeout_ms < 0:
        return Error("ERR timeout is negative")
    conn.registry.pause.start(timeout_ms / 1000, writes_only)
    return OK


def cmd_client_unpause(conn: Connection, args: list[bytes]) -> Reply:
    conn.registry.unpause()
    return OK


def _kill(conn: Connection, victim: Connection) -> None:
    if victim is conn:
        conn.close_after_reply()
    else:
        victim.kill()


def cmd_client_reply(conn: Connection, args: list[bytes]) -> Reply | NoReply:
    mode = args[2].lower()
    if mode == b"on":
        conn.set_reply_mode("on")
        return OK
    if mode in (b"off", b"skip"):
        conn.set_reply_mode(mode.decode())
        return NO_REPLY
    return SYNTAX_ERROR


def cmd_client_no_evict(conn: Connection, args: list[bytes]) -> Reply:
    flag = args[2].lower()
    if flag not in (b"on", b"off"):
        return SYNTAX_ERROR
    conn.no_evict = flag == b"on"
    return OK


def cmd_client_no_touch(conn: Connection, args: list[bytes]) -> Reply:
    """CLIENT NO-TOUCH ON|OFF (Redis 7.2): accepted; there is no LRU/LFU to protect here.

    Answered once the command table has a ``client|no-touch`` row; until then
    the table's lookup reports an unknown sub-command.
    """
    flag = args[2].lower()
    if flag not in (b"on", b"off"):
        return SYNTAX_ERROR
    conn.no_touch = flag == b"on"
    return OK


def cmd_client_tracking(conn: Connection, args: list[bytes]) -> Reply:
    """CLIENT TRACKING: see ``tracking``."""
    request = tracking.tracking_request(args, conn.tracker, conn.registry.clients)
    if isinstance(request, Error):
        return request
    conn.set_tracking(request)
    return OK


def cmd_client_caching(conn: Connection, args: list[bytes]) -> Reply:
    caching = tracking.caching_request(args[2], conn.tracker)
    if isinstance(caching, Error):
        return caching
    conn.caching = caching
    return OK


def cmd_client_trackinginfo(conn: Connection, args: list[bytes]) -> Reply:
    tracker = conn.tracker
    if tracker is None:
        return Map([(b"flags", Set([b"off"])), (b"redirect", -1), (b"prefixes", [])])
    prefixes: list[Reply] = [*sorted(tracker.prefixes)]
    return Map(
        [
            (b"flags", Set(tracker.flags(conn.caching))),
            (b"redirect", tracker.redirect),
            (b"prefixes", prefixes),
        ]
    )


def cmd_client_getredir(conn: Connection, args: list[bytes]) -> Reply:
    return -1 if conn.tracker is None else conn.tracker.redirect


def cmd_client_help(conn: Connection, args: list[bytes]) -> Reply:
    return help_reply(CLIENT_HELP)


# --- pub/sub ------------------------------------------------------------------------
# SUBSCRIBE and friends answer one confirmation per channel or pattern; PUBLISH is
# replicated (epaxosdb.commands.pubsub) and delivered by the consensus loop.

PUBSUB_HELP = (
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
)


def _confirmed(conn: Connection, confirmations: list[Reply]) -> Reply | NoReply:
    """(P|S)(UN)SUBSCRIBE's confirmations: replies, except that CLIENT REPLY OFF or SKIP
    does not silence them — Redis sends them as it sends the messages."""
    if conn.replies_silenced():
        for confirmation in confirmations:
            conn.deliver_push(confirmation)
        return NO_REPLY
    return ReplySequence(confirmations)


def cmd_subscribe(conn: Connection, args: list[bytes]) -> Reply | NoReply:
    return _confirmed(conn, [conn.subscribe(channel) for channel in args[1:]])


def cmd_psubscribe(conn: Connection, args: list[bytes]) -> Reply | NoReply:
    return _confirmed(conn, [conn.psubscribe(pattern) for pattern in args[1:]])


def cmd_unsubscribe(conn: Connection, args: list[bytes]) -> Reply | NoReply:
    """The named channels, or every channel; a client with none gets one reply."""
    channels: list[bytes | None] = [*(args[1:] or conn.channels)] or [None]
    return _confirmed(conn, [conn.unsubscribe(channel) for channel in channels])


def cmd_punsubscribe(conn: Connection, args: list[bytes]) -> Reply | NoReply:
    patterns: list[bytes | None] = [*(args[1:] or conn.patterns)] or [None]
    return _confirmed(conn, [conn.punsubscribe(pattern) for pattern in patterns])


def cmd_ssubscribe(conn: Connection, args: list[bytes]) -> Reply | NoReply:
    return _confirmed(conn, [conn.ssubscribe(channel) for channel in args[1:]])


SSUBSCRIBE_IN_EXEC = Error("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client")


def cmd_ssubscribe_in_exec(conn: Connection, args: list[bytes]) -> Reply:
    """SSUBSCRIBE queued in MULTI: Redis 7.0 queues it and EXEC refuses it (a transaction
    runs as a client that may not block, and SSUBSCRIBE, unlike SUBSCRIBE, makes no
    exception for transactions)."""
    return SSUBSCRIBE_IN_EXEC


def cmd_sunsubscribe(conn: Connection, args: list[bytes]) -> Reply | NoReply:
    """The named shard channels, or every one; a client with none gets one reply."""
    channels: list[bytes | None] = [*(args[1:] or conn.shard_channels)] or [None]
    return _confirmed(conn, [conn.sunsubscribe(channel) for channel in channels])


def cmd_pubsub(conn: Connection, args: list[bytes]) -> Reply:
    """PUBSUB CHANNELS/NUMSUB/NUMPAT and SHARDCHANNELS/SHARDNUMSUB about this replica's
    subscribers."""
    subscriptions = conn.registry.subscriptions
    sub = args[1].lower()
    if sub == b"channels":
        return list[Reply](subscriptions.channels(args[2] if len(args) > 2 else None))
    if sub == b"numsub":
        return [part for channel in args[2:] for part in (channel, subscriptions.count(channel))]
    if sub == b"numpat":
        return subscriptions.pattern_count()
    if sub == b"shardchannels":
        return list[Reply](subscriptions.shard_channels(args[2] if len(args) > 2 else None))
    if sub == b"shardnumsub":
        return [
            part for channel in args[2:] for part in (channel, subscriptions.shard_count(channel))
        ]
    return help_reply(PUBSUB_HELP)


# --- scripts --------------------------------------------------------------------

SCRIPT_HELP = (
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
)
SCRIPT_FLUSH_OPTION = Error("ERR SCRIPT FLUSH only support SYNC|ASYNC option")


def cmd_script(conn: Connection, args: list[bytes]) -> Reply:
    """SCRIPT LOAD/EXISTS/FLUSH/KILL/HELP, about this replica's cache (``scripts``).

    KILL always answers NOTBUSY: a script runs inside the replicated loop's
    turn and is bounded by its instruction budget, so none is ever left
    running for a client to stop."""
    scripts = conn.registry.scripts
    sub = args[1].lower()
    if sub == b"load":
        refused = commands.script_compile_error(args[2])
        if refused is not None:
            return refused
        return scripts.load(args[2])
    if sub == b"exists":
        return [int(scripts.get(sha) is not None) for sha in args[2:]]
    if sub == b"flush":
        if len(args) > 3 or (len(args) == 3 and args[2].lower() not in (b"async", b"sync")):
            return SCRIPT_FLUSH_OPTION
        scripts.flush()
        return OK
    if sub == b"kill":
        return commands.scripting.NOT_BUSY
    return help_reply(SCRIPT_HELP)


def cmd_evalsha(conn: Connection, args: list[bytes]) -> Reply | NoReply:
    """EVALSHA and EVALSHA_RO: the cached script proposed as EVAL (see ``scripts``)."""
    expanded = conn.expand_script(args)
    if isinstance(expanded, Error):
        return expanded
    conn.submit_request(expanded)
    return NO_REPLY


def cmd_command(conn: Connection, args: list[bytes]) -> Reply:
    return commands.command_reply(args)


# --- CONFIG -------------------------------------------------------------------


def _memory(raw: bytes) -> int | None:
    """Redis's ``memtoull``: ``1gb`` = 2**30, ``1g`` = 10**9, plain bytes otherwise."""
    units = {b"": 1, b"b": 1, b"k": 1000, b"kb": 1024, b"m": 10**6, b"mb": 1024**2,
             b"g": 10**9, b"gb": 1024**3}  # fmt: skip
    text = raw.lower()
    digits = text.rstrip(b"bkmg")
    unit = text[len(digits) :]
    if unit not in units or not digits.isdigit():
        return None
    return int(digits) * units[unit]


def _config_table(registry: ClientRegistry) -> dict[str, Callable[[], str]]:
    """Every parameter CONFIG GET knows, as (name → current value)."""
    s = registry.settings
    return {
        "bind": lambda: s.bind,
        "port": lambda: str(s.tcp_port),
        "tls-port": lambda: str(s.tls_port),
        "tls-cert-file": lambda: s.tls_cert_file,
        "tls-key-file": lambda: s.tls_key_file,
        "tls-ca-cert-file": lambda: s.tls_ca_cert_file,
        "tls-auth-clients": lambda: s.tls_auth_clients,
        "tls-replication": lambda: "yes" if s.tls_peers else "no",
        "tls-cluster": lambda: "yes" if s.tls_peers else "no",
        "requirepass": lambda: s.requirepass,
        "maxclients": lambda: str(s.maxclients),
        "timeout": lambda: str(s.timeout),
        "proto-max-bulk-len": lambda: str(s.proto_max_bulk_len),
        "client-query-buffer-limit": lambda: str(s.client_query_buffer_limit),
        "databases": lambda: "1",
        "save": lambda: "",
        "appendonly": lambda: "yes",
        "appendfsync": lambda: "always",
        "maxmemory": lambda: "0",
        "maxmemory-policy": lambda: "noeviction",
        "protected-mode": lambda: "no",
        "tcp-keepalive": lambda: "0",
        "io-threads": lambda: "1",
        "hz": lambda: "10",
        "cluster-enabled": lambda: "no",
        "replica-read-only": lambda: "yes",
        "slave-read-only": lambda: "yes",
        "loglevel": lambda: "notice",
        "notify-keyspace-events": lambda: notifications.format_flags(
            registry.subscriptions.keyspace_events
        ),
        "slowlog-log-slower-than": lambda: str(registry.slowlog.threshold_us),
        "slowlog-max-len": lambda: str(registry.slowlog.max_len),
        "latency-monitor-threshold": lambda: str(registry.latency_monitor.threshold_ms),
        "latency-tracking": lambda: "yes" if registry.stats.latency_tracking else "no",
        "latency-tracking-info-percentiles": lambda: latency.format_percentiles(
            registry.stats.latency_percentiles
        ),
        "client-output-buffer-limit": lambda: (
            f"normal {s.output_buffer_max} 0 0 slave 0 0 0 pubsub {s.pubsub_output_max} 0 0"
        ),
        "replicaof": lambda: "",
        "slaveof": lambda: "",
        **{name: _constant(value) for name, value in _ENCODING_PARAMETERS.items()},
    }


def _constant(value: str) -> Callable[[], str]:
    return lambda: value


_ENCODING_PARAMETERS = {
    "hash-max-listpack-entries": "512",
    "hash-max-ziplist-entries": "512",
    "hash-max-listpack-value": "64",
    "hash-max-ziplist-value": "64",
    "set-max-intset-entries": "512",
    "zset-max-listpack-entries": "128",
    "zset-max-ziplist-entries": "128",
    "zset-max-listpack-value": "64",
    "zset-max-ziplist-value": "64",
    "list-max-listpack-size": "-2",
    "list-max-ziplist-size": "-2",
    "list-compress-depth": "0",
    "stream-node-max-bytes": "4096",
    "stream-node-max-entries": "100",
}
"""Redis 7.0.15's defaults for how it encodes small values (and their old ``ziplist``
names). epaxosdb stores values in forms of its own, so they change nothing here;
clients and test suites read them to know what to expect, and they are fixed."""


_IMMUTABLE_IN_REDIS = frozenset(
    {"databases", "io-threads", "cluster-enabled", "replicaof", "slaveof"}
)
"""Parameters Redis cannot change at run time either: its own error text."""

_FIXED_BECAUSE = {
    "bind": "the cluster file sets it",
    "port": "the cluster file sets it",
    **dict.fromkeys(
        (
            "tls-port", "tls-cert-file", "tls-key-file", "tls-ca-cert-file", "tls-auth-clients",
            "tls-replication", "tls-cluster",
        ),
        "the cluster file sets it",
    ),
    "save": "every write is fsynced before it is acknowledged",
    "appendonly": "every write is fsynced before it is acknowledged",
    "appendfsync": "every write is fsynced before it is acknowledged",
    "maxmemory": "epaxosdb does not evict keys",
    "maxmemory-policy": "epaxosdb does not evict keys",
    **dict.fromkeys(_ENCODING_PARAMETERS, "epaxosdb stores values in forms of its own"),
}
"""Why a parameter epaxosdb reports but cannot change keeps its value (see
``cmd_config_set``); those not named here are simply fixed."""

RESERVED_FDS = 32
"""File descriptors kept beside the clients' (Redis's ``CONFIG_MIN_RESERVED_FDS``)."""


def _set_int(
    name: str,
    low: int,
    high: int,
    memory: bool,
    owner: Callable[[ClientRegistry], object] = lambda registry: registry.settings,
) -> Callable[[ClientRegistry, bytes], str | None]:
    """A CONFIG SET setter of the integer attribute ``name`` of ``owner(registry)``."""

    def setter(registry: ClientRegistry, raw: bytes) -> str | None:
        value = _memory(raw) if memory else _parse_int(raw)
        if value is None:
            return (
                "argument must be a memory value"
                if memory
                else ("argument couldn't be parsed into an integer")
            )
        if not low <= value <= high:
            return f"argument must be between {low} and {high} inclusive"
        setattr(owner(registry), name, value)
        return None

    return setter


def _set_maxclients(registry: ClientRegistry, raw: bytes) -> str | None:
    """As Redis does: raise this process's open-file limit to fit the clients, or refuse
    when the hard limit does not allow it."""
    problem = _set_int("maxclients", 1, 2**32 - 1, memory=False)(registry, raw)
    if problem is not None:
        return problem
    wanted = registry.settings.maxclients + RESERVED_FDS
    available = _open_files_toward(wanted)
    return None if available >= wanted else _clients_fit(available)


def _open_files_toward(wanted: int) -> int:
    """Raise the soft open-file limit toward ``wanted`` as far as the hard limit allows;
    the limit it is now (``wanted`` when unlimited)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return wanted
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return soft
    return target


def fit_maxclients(settings: ClientSettings) -> str | None:
    """At start, as Redis does: raise the open-file limit to hold ``maxclients`` clients
    beside ``RESERVED_FDS``, as far as the hard limit allows, and lower ``maxclients`` to
    what it holds. Otherwise a client past the limit would not get Redis's max-clients
    error but an ``accept`` failing with EMFILE, retried ten times a second (QA, with
    ``ulimit -n 200``). Returns the warning to log when ``maxclients`` was lowered."""
    wanted = settings.maxclients + RESERVED_FDS
    available = _open_files_toward(wanted)
    if available >= wanted:
        return None
    settings.maxclients = max(available - RESERVED_FDS, 1)
    return (
        f"the open-file limit is {available} and cannot be raised to {wanted}: maxclients is"
        f" {settings.maxclients} instead of {wanted - RESERVED_FDS} (raise it with ulimit -n)"
    )


def _clients_fit(open_files: int) -> str:
    """Redis's refusal of a ``maxclients`` the open-file limit cannot hold."""
    return (
        "The operating system is not able to handle the specified number of clients, "
        f"try with {max(open_files - RESERVED_FDS, 1)}"
    )


def _unchanged(current: str, raw: bytes) -> bool:
    """Whether CONFIG SET would leave a parameter as it is (``yes``/``YES``, ``0``/``0mb``)."""
    if raw.decode("latin-1").lower() == current.lower():
        return True
    value = _memory(raw)
    return value is not None and value == _memory(current.encode())


def _set_requirepass(registry: ClientRegistry, raw: bytes) -> str | None:
    """``requirepass`` is the ``default`` user's one password (Redis 6+)."""
    registry.settings.requirepass = raw.decode("utf-8", "surrogateescape")
    users.set_password(registry.users.default, registry.settings.requirepass)
    return None


def _set_latency_tracking(registry: ClientRegistry, raw: bytes) -> str | None:
    value = {b"yes": True, b"no": False}.get(raw.lower())
    if value is None:
        return "argument must be 'yes' or 'no'"
    registry.stats.latency_tracking = value
    return None


def _set_percentiles(registry: ClientRegistry, raw: bytes) -> str | None:
    parsed = latency.parse_percentiles(raw)
    if isinstance(parsed, str):
        return parsed
    registry.stats.latency_percentiles = parsed
    return None


def _set_keyspace_events(registry: ClientRegistry, raw: bytes) -> str | None:
    flags = notifications.parse_flags(raw.decode("latin-1"))
    if isinstance(flags, str):
        return flags
    registry.subscriptions.keyspace_events = flags
    return None


_CONFIG_SETTERS: dict[str, Callable[[ClientRegistry, bytes], str | None]] = {
    "maxclients": _set_maxclients,
    "notify-keyspace-events": _set_keyspace_events,
    "timeout": _set_int("timeout", 0, 2**31 - 1, memory=False),
    "proto-max-bulk-len": _set_int("proto_max_bulk_len", 1024 * 1024, 2**63 - 1, memory=True),
    # A request must fit in one replicated command (``COMMAND_BYTES_MAX``); Redis allows more.
    "client-query-buffer-limit": _set_int(
        "client_query_buffer_limit", 1024 * 1024, COMMAND_BYTES_MAX, memory=True
    ),
    "requirepass": _set_requirepass,
    "slowlog-log-slower-than": _set_int(
        "threshold_us", -1, 2**63 - 1, memory=False, owner=lambda registry: registry.slowlog
    ),
    "slowlog-max-len": _set_int(
        "max_len", 0, 2**63 - 1, memory=False, owner=lambda registry: registry.slowlog
    ),
    "latency-monitor-threshold": _set_int(
        "threshold_ms", 0, 2**63 - 1, memory=False, owner=lambda registry: registry.latency_monitor
    ),
    "latency-tracking": _set_latency_tracking,
    "latency-tracking-info-percentiles": _set_percentiles,
}



def cmd_config_get(conn: Connection, args: list[bytes]) -> Reply:
    table = _config_table(conn.registry)
    found: dict[bytes, bytes] = {}
    for raw in args[2:]:
        pattern = raw.lower()
        if any(c in pattern for c in b"*?["):
            for name, value in table.items():
                if stringmatch(pattern, name.encode(), nocase=True):
                    found.setdefault(name.encode(), value().encode())
        else:
            getter = table.get(pattern.decode("latin-1"))
            if getter is not None:
                found.setdefault(raw, getter().encode())
    return Map(list(found.items()))


def cmd_config_set(conn: Connection, args: list[bytes]) -> Reply:
    if len(args) % 2:
        return SYNTAX_ERROR
    registry = conn.registry
    table = _config_table(registry)
    changes: list[tuple[str, int]] = []
    named: set[str] = set()
    for position in range(2, len(args), 2):
        name = args[position].lower().decode("latin-1")
        if name not in table:
            return Error(
                f"ERR Unknown option or number of arguments for CONFIG SET - "
                f"'{_c_text(args[position])}'"
            )
        problem = None
        if name in _IMMUTABLE_IN_REDIS:
            problem = "can't set immutable config"
        elif name in named:
            problem = "duplicate parameter"
        elif name not in _CONFIG_SETTERS and not _unchanged(table[name](), args[position + 1]):
            reason = _FIXED_BECAUSE.get(name, "epaxosdb does not change it")
            problem = f"it stays '{table[name]()}' here: {reason}"
        if problem is not None:
            return Error(
                "ERR CONFIG SET failed (possibly related to argument "
                f"'{_c_text(args[position])}') - {problem}"
            )
        named.add(name)
        if name in _CONFIG_SETTERS:
            changes.append((name, position))
    s, slow, stats, monitor = (
        registry.settings, registry.slowlog, registry.stats, registry.latency_monitor
    )
    subscriptions = registry.subscriptions
    saved = (
        s.maxclients, s.timeout, s.proto_max_bulk_len, s.client_query_buffer_limit,
        s.requirepass, slow.threshold_us, slow.max_len, monitor.threshold_ms,
        stats.latency_tracking, stats.latency_percentiles, subscriptions.keyspace_events,
    )  # fmt: skip
    for name, position in changes:
        problem = _CONFIG_SETTERS[name](registry, args[position + 1])
        if problem is not None:
            (s.maxclients, s.timeout, s.proto_max_bulk_len, s.client_query_buffer_limit,
             s.requirepass, slow.threshold_us, slow.max_len, monitor.threshold_ms,
             stats.latency_tracking, stats.latency_percentiles,
             subscriptions.keyspace_events) = saved  # fmt: skip
            return Error(
                "ERR CONFIG SET failed (possibly related to argument "
                f"'{_c_text(args[position])}') - {problem}"
            )
    registry.settings_changed()
    return OK


def cmd_config_resetstat(conn: Connection, args: list[bytes]) -> Reply:
    conn.registry.stats.reset()
    return OK


def cmd_config_rewrite(conn: Connection, args: list[bytes]) -> Reply:
    if not conn.registry.settings.config_file:
        return Error("ERR The server is running without a config file")
    return Error("ERR CONFIG REWRITE is not supported: edit the cluster file instead")


CONFIG_HELP = (
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Not supported: the cluster file is the configuration.",
    "HELP",
    "    Print this help.",
)


def cmd_config_help(conn: Connection, args: list[bytes]) -> Reply:
    return help_reply(CONFIG_HELP)


# --- INFO ---------------------------------------------------------------------

DEFAULT_SECTIONS = (
    "Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU", "Modules",
    "Errorstats", "Cluster", "Keyspace",
)  # fmt: skip
ALL_ONLY_SECTIONS = ("Commandstats", "Latencystats")


def _human_bytes(size: int) -> str:
    """Redis's ``bytesToHuman``: 1.01M, 12.29M, 0B."""
    for unit, scale in (
        ("P", 1024**5),
        ("T", 1024**4),
        ("G", 1024**3),
        ("M", 1024**2),
        ("K", 1024),
    ):
        if size >= scale:
            return f"{size / scale:.2f}{unit}"
    return f"{size}B"


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _builtin_sections(conn: Connection) -> dict[str, list[tuple[str, str | int | float]]]:
    registry = conn.registry
    settings = registry.settings
    stats = registry.stats
    uptime = int(time.monotonic() - registry.started_monotonic)
    rss = _rss_bytes()
    peak = max(rss, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    total_memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    uname = platform.uname()
    return {
        "Server": [
            ("redis_version", settings.redis_version),
            ("redis_git_sha1", "00000000"),
            ("redis_git_dirty", 0),
            ("redis_build_id", build_name()),
            ("redis_mode", "standalone"),
            ("os", f"{uname.system} {uname.release} {uname.machine}"),
            ("arch_bits", 64),
            ("multiplexing_api", "epoll"),
            ("process_id", settings.process_id),
            ("process_supervised", "no"),
            ("run_id", settings.run_id),
            ("tcp_port", settings.tcp_port),
            ("tls_port", settings.tls_port),
            ("server_time_usec", time.time_ns() // 1000),
            ("uptime_in_seconds", uptime),
            ("uptime_in_days", uptime // 86400),
            ("hz", 10),
            ("configured_hz", 10),
            ("executable", settings.executable),
            ("config_file", settings.config_file),
            ("io_threads_active", 0),
            ("server_name", "epaxosdb"),
            ("replica_id", conn.backend.replica_id),
        ],
        "Clients": [
            ("connected_clients", len(registry.clients)),
            ("cluster_connections", 0),
            ("maxclients", settings.maxclients),
            ("blocked_clients", len(registry.blocked)),
            ("tracking_clients", registry.tracking.trackers),
            ("clients_in_timeout_table", registry.blocked.with_timeout),
        ],
        "Memory": [
            ("used_memory", rss),
            ("used_memory_human", _human_bytes(rss)),
            ("used_memory_rss", rss),
            ("used_memory_rss_human", _human_bytes(rss)),
            ("used_memory_peak", peak),
            ("used_memory_peak_human", _human_bytes(peak)),
            ("total_system_memory", total_memory),
            ("total_system_memory_human", _human_bytes(total_memory)),
            ("maxmemory", 0),
            ("maxmemory_human", "0B"),
            ("maxmemory_policy", "noeviction"),
            ("number_of_cached_scripts", len(conn.registry.scripts)),
        ],
        "Persistence": [
            ("loading", int(conn.backend.loading)),
            ("async_loading", 0),
            ("rdb_bgsave_in_progress", 0),
            ("rdb_last_bgsave_status", "ok"),
            ("aof_enabled", 1),
            ("aof_rewrite_in_progress", 0),
            ("aof_last_write_status", "ok"),
        ],
        "Stats": [
            ("total_connections_received", stats.connections_received),
            ("total_commands_processed", stats.commands_processed),
            ("total_net_input_bytes", stats.net_input_bytes),
            ("total_net_output_bytes", stats.net_output_bytes),
            ("rejected_connections", stats.rejected_connections),
            ("expired_keys", stats.keyspace.expired),
            ("evicted_keys", 0),
            ("keyspace_hits", stats.keyspace.hits),
            ("keyspace_misses", stats.keyspace.misses),
            ("pubsub_channels", registry.subscriptions.channel_count()),
            ("pubsub_patterns", registry.subscriptions.pattern_count()),
            ("pubsubshard_channels", registry.subscriptions.shard_channel_count()),
            ("tracking_total_keys", len(registry.tracking.table)),
            ("tracking_total_items", registry.tracking.items()),
            ("tracking_total_prefixes", len(registry.tracking.prefixes)),
            ("total_error_replies", stats.error_replies),
        ],
        "Replication": [
            ("role", "master"),
            ("connected_slaves", 0),
            ("master_failover_state", "no-failover"),
            ("master_replid", settings.run_id),
            ("master_repl_offset", 0),
        ],
        "CPU": [
            ("used_cpu_sys", f"{usage.ru_stime:.6f}"),
            ("used_cpu_user", f"{usage.ru_utime:.6f}"),
            ("used_cpu_sys_children", f"{children.ru_stime:.6f}"),
            ("used_cpu_user_children", f"{children.ru_utime:.6f}"),
        ],
        "Modules": [],
        "Errorstats": [
            (f"errorstat_{code}", f"count={count}")
            for code, count in sorted(stats.errors_by_code.items())
        ],
        "Cluster": [("cluster_enabled", 0)],
        "Keyspace": [],
        "Commandstats": [
            (
                f"cmdstat_{name.decode()}",
                f"calls={c.calls},usec={int(c.usec)},"
                f"usec_per_call={c.usec / c.calls if c.calls else 0.0:.2f},"
                f"rejected_calls={c.rejected},failed_calls={c.failed}",
            )
            for name, c in sorted(stats.commands.items())
        ],
        "Latencystats": [
            (
                f"latency_percentiles_usec_{name.decode()}",
                latency.info_line(c.latency, stats.latency_percentiles),
            )
            for name, c in stats.commands.items()
            if c.latency.total
        ],
    }


def _format_value(value: str | int | float) -> str:
    """A field value as INFO prints it; floats in their shortest exact form (``repr``)."""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def info_text(conn: Connection, wanted: Sequence[bytes]) -> bytes:
    """INFO's text: ``# Section`` then ``key:value`` lines, sections separated by a blank line.

    Sections the backend reports (``# EPaxos``, and possibly ``Persistence``
    or ``Keyspace``) are merged in: its fields override ours of the same name.
    """
    sections = _builtin_sections(conn)
    extra: dict[str, InfoFields] = dict(conn.backend.info_sections())
    for title, fields in extra.items():
        own = sections.setdefault(title, [])
        names = {name: position for position, (name, _) in enumerate(own)}
        for name, value in fields:
            if name in names:
                own[names[name]] = (name, value)
            else:
                own.append((name, value))
    backend_only = [t for t in extra if t not in DEFAULT_SECTIONS and t not in ALL_ONLY_SECTIONS]
    default = [*DEFAULT_SECTIONS, *backend_only]
    requested = [w.lower().decode("latin-1") for w in wanted] or ["default"]
    chosen: set[str] = set()
    everything = False
    for name in requested:
        if name in ("all", "everything"):
            everything = True
        elif name == "default":
            chosen.update(s.lower() for s in default)
        else:
            chosen.add(name)
    order = [*DEFAULT_SECTIONS, *ALL_ONLY_SECTIONS, *backend_only]
    parts = []
    for title in order:
        if everything or title.lower() in chosen:
            lines = [f"# {title}\r\n"]
            lines.extend(f"{k}:{_format_value(v)}\r\n" for k, v in sections[title])
            parts.append("".join(lines))
    return "\r\n".join(parts).encode("utf-8", "surrogateescape")


def cmd_info(conn: Connection, args: list[bytes]) -> Reply:
    return Verbatim(info_text(conn, args[1:]))


HANDLERS: dict[bytes, Handler] = {
    b"ping": cmd_ping,
    b"echo": cmd_echo,
    b"quit": cmd_quit,
    b"reset": cmd_reset,
    b"select": cmd_select,
    b"wait": cmd_wait,
    b"time": cmd_time,
    b"shutdown": cmd_shutdown,
    b"auth": cmd_auth,
    b"hello": cmd_hello,
    b"replconf": cmd_replconf,
    b"sync": cmd_sync,
    b"psync": cmd_sync,
    b"client|id": cmd_client_id,
    b"client|getname": cmd_client_getname,
    b"client|setname": cmd_client_setname,
    b"client|setinfo": cmd_client_setinfo,
    b"client|info": cmd_client_info,
    b"client|list": cmd_client_list,
    b"client|kill": cmd_client_kill,
    b"client|unblock": cmd_client_unblock,
    b"client|pause": cmd_client_pause,
    b"client|unpause": cmd_client_unpause,
    b"client|reply": cmd_client_reply,
    b"client|no-evict": cmd_client_no_evict,
    b"client|no-touch": cmd_client_no_touch,
    b"client|tracking": cmd_client_tracking,
    b"client|caching": cmd_client_caching,
    b"client|trackinginfo": cmd_client_trackinginfo,
    b"client|getredir": cmd_client_getredir,
    b"client|help": cmd_client_help,
    b"subscribe": cmd_subscribe,
    b"unsubscribe": cmd_unsubscribe,
    b"psubscribe": cmd_psubscribe,
    b"punsubscribe": cmd_punsubscribe,
    b"ssubscribe": cmd_ssubscribe,
    b"sunsubscribe": cmd_sunsubscribe,
    b"pubsub|channels": cmd_pubsub,
    b"pubsub|numsub": cmd_pubsub,
    b"pubsub|numpat": cmd_pubsub,
    b"pubsub|shardchannels": cmd_pubsub,
    b"pubsub|shardnumsub": cmd_pubsub,
    b"pubsub|help": cmd_pubsub,
    b"script|load": cmd_script,
    b"script|exists": cmd_script,
    b"script|flush": cmd_script,
    b"script|kill": cmd_script,
    b"script|help": cmd_script,
    b"evalsha": cmd_evalsha,
    b"evalsha_ro": cmd_evalsha,
    b"command": cmd_command,
    b"command|count": cmd_command,
    b"command|docs": cmd_command,
    b"command|info": cmd_command,
    b"command|list": cmd_command,
    b"command|getkeys": cmd_command,
    b"command|getkeysandflags": cmd_command,
    b"command|help": cmd_command,
    b"config|get": cmd_config_get,
    b"config|set": cmd_config_set,
    b"config|resetstat": cmd_config_resetstat,
    b"config|rewrite": cmd_config_rewrite,
    b"config|help": cmd_config_help,
    b"info": cmd_info,
    b"monitor": cmd_monitor,
    b"role": cmd_role,
    b"save": cmd_save,
    b"bgsave": cmd_bgsave,
    b"lastsave": cmd_lastsave,
    b"slowlog|get": slowlog.cmd_slowlog_get,
    b"slowlog|len": slowlog.cmd_slowlog_len,
    b"slowlog|reset": slowlog.cmd_slowlog_reset,
    b"slowlog|help": slowlog.cmd_slowlog_help,
    b"latency|histogram": latency.cmd_latency_histogram,
    b"latency|latest": latency.cmd_latency_latest,
    b"latency|history": latency.cmd_latency_history,
    b"latency|reset": latency.cmd_latency_reset,
    b"acl|cat": acl.cmd_acl,
    b"acl|deluser": acl.cmd_acl,
    b"acl|dryrun": acl.cmd_acl,
    b"acl|genpass": acl.cmd_acl,
    b"acl|getuser": acl.cmd_acl,
    b"acl|list": acl.cmd_acl,
    b"acl|load": acl.cmd_acl,
    b"acl|log": acl.cmd_acl,
    b"acl|save": acl.cmd_acl,
    b"acl|setuser": acl.cmd_acl,
    b"acl|users": acl.cmd_acl,
    b"acl|whoami": acl.cmd_acl,
    b"acl|help": acl.cmd_acl,
    b"latency|help": latency.cmd_latency_help,
}

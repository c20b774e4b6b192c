"""ACL: this replica's users, the log of what they were refused, and the ACL command.

The rules and checks are ``epaxosdb.users`` (pure); here is the state a
replica keeps (``UserTable``, ``AclLog``) and the ``ACL`` sub-commands. As in
Redis, the table is per server: ``ACL SETUSER`` on one replica changes that
replica only, until it restarts; the cluster file's ``[[user]]`` tables are
the lasting, cluster-wide place (every replica reads the same file).
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from epaxosdb import users
from epaxosdb.commands import errors
from epaxosdb.commands.scripting import Guard
from epaxosdb.commands.spec import CommandSpec
from epaxosdb.users import DEFAULT, Denial, RuleError, User
from protocol.replies import OK, Error, HumanDouble, Map, Reply, Set, help_reply

if TYPE_CHECKING:
    from .connection import Connection

LOG_MAX = 128
"""Entries ``ACL LOG`` keeps (Redis's ``acllog-max-len`` default)."""
LOG_GROUP_S = 60.0
"""A denial like one logged less than this ago counts on that entry (Redis's rule)."""

NO_ACL_FILE = Error(
    "ERR This Redis instance is not configured to use an ACL file. You may want to specify"
    " users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have"
    " a Redis configuration file set) in order to store users in the Redis configuration."
)
DEFAULT_UNDELETABLE = Error("ERR The 'default' user cannot be removed")
_SCRIPTS_WHY = (
    "has no permissions to run scripts: epaxosdb runs them only for users allowed every command"
)
SCRIPTS_REFUSED = Error("NOPERM this user " + _SCRIPTS_WHY)
"""Every replica runs a script, and the commands it calls cannot be checked there
against rules that may differ from replica to replica; a user allowed every command
needs no such check. Its keys are checked like any command's (the keys it declares,
the only ones a script may touch here), and no script may PUBLISH, so key and channel
patterns are no obstacle."""
_NOPERM = {
    "command": "NOPERM this user has no permissions to run the '{}' command",
    "key": "NOPERM this user has no permissions to access one of the keys used as arguments",
    "channel": (
        "NOPERM this user has no permissions to access one of the channels used as arguments"
    ),
}
_SCRIPTS = frozenset({b"eval", b"evalsha", b"fcall"})
"""Scripts and functions every replica runs. The read-only ones (EVAL_RO, EVALSHA_RO,
FCALL_RO) run only at the
replica their client is connected to, which holds each call to the user's rules
(``script_guard``)."""


class UserTable:
    """The users of one replica by name, ``default`` always among them."""

    def __init__(
        self, requirepass: str = "", configured: Sequence[tuple[bytes, Sequence[bytes]]] = ()
    ) -> None:
        self.users: dict[bytes, User] = {DEFAULT: users.default_user(requirepass)}
        for name, rules in configured:
            self.set_user(name, rules)

    @property
    def default(self) -> User:
        return self.users[DEFAULT]

    def set_user(self, name: bytes, rules: Sequence[bytes]) -> None:
        """Create or change ``name`` by ``rules``, all or nothing (raises ``RuleError``)."""
        current = self.users.get(name)
        user = users.new_user(name) if current is None else current.copy()
        user.apply(rules)
        if current is None:
            self.users[name] = user
        else:  # connections hold the user object: change it in place
            for slot in User.__slots__:
                setattr(current, slot, getattr(user, slot))

    def authenticate(self, name: bytes, password: bytes) -> User | None:
        """The user ``name`` when it is enabled and ``password`` is one of its own."""
        user = self.users.get(name)
        if user is None or not user.enabled or not user.password_matches(password):
            return None
        return user

    @property
    def auth_required(self) -> bool:
        """New connections start as ``default`` unless it needs a password or is off."""
        default = self.default
        return not (default.enabled and default.nopass)


@dataclass(slots=True)
class LogEntry:
    """One line of ACL LOG: refusals alike, the latest one's time and client."""

    count: int
    reason: str
    context: str
    subject: bytes
    username: bytes
    updated: float
    """When the latest of them happened (``age-seconds`` counts from it, as Redis's)."""
    client_info: bytes


class AclLog:
    """``ACL LOG``: the latest refusals, newest first, like ones grouped."""

    def __init__(self) -> None:
        self.entries: list[LogEntry] = []

    def add(
        self, conn: Connection, reason: str, context: str, subject: bytes, username: bytes
    ) -> None:
        from .admin import client_info_line  # admin imports this module

        now = time.monotonic()
        info = client_info_line(conn, now).rstrip(b"\n")
        for index, entry in enumerate(self.entries):
            same = (entry.reason, entry.context, entry.subject, entry.username)
            if same == (reason, context, subject, username) and now - entry.updated < LOG_GROUP_S:
                entry.count += 1
                entry.updated = now
                entry.client_info = info
                self.entries.insert(0, self.entries.pop(index))
                return
        self.entries.insert(0, LogEntry(1, reason, context, subject, username, now, info))
        del self.entries[LOG_MAX:]

    def reply(self, count: int) -> Reply:
        now = time.monotonic()
        return [
            Map(
                [
                    (b"count", entry.count),
                    (b"reason", entry.reason.encode()),
                    (b"context", entry.context.encode()),
                    (b"object", entry.subject),
                    (b"username", entry.username),
                    (b"age-seconds", HumanDouble(b"%.17g" % (now - entry.updated))),
                    (b"client-info", entry.client_info),
                ]
            )
            for entry in self.entries[:count]
        ]


def refusal(conn: Connection, spec: CommandSpec, request: Sequence[bytes]) -> Error | None:
    """The NOPERM a restricted user gets for ``request``, logged; ``None``: allowed."""
    user = conn.user
    denial = users.check(user, spec, request)
    if denial is None:
        if spec.name in _SCRIPTS and not user.all_commands:
            return SCRIPTS_REFUSED
        return None
    context = "multi" if conn.multi is not None else "toplevel"
    conn.registry.acl_log.add(conn, denial.reason, context, denial.subject, user.name)
    return Error(_NOPERM[denial.reason].format(denial.subject.decode("utf-8", "surrogateescape")))


SCRIPT_CALL_REFUSED = Error(
    "ERR The user executing the script can't run this command or subcommand"
)
"""Redis's error for a script's call its user may not make (the script's name and line
follow it, as after every error a call raises)."""


def script_guard(user: User, refused: Callable[[bytes], None]) -> Guard | None:
    """What refuses ``user``'s read-only scripts the commands ``user`` may not run, or
    ``None`` for a user allowed them all. (Scripts every replica runs are for such users
    only: see ``SCRIPTS_REFUSED``.) ``refused(name)`` hears of each refusal: it runs in
    the thread that executes the step, so it must only note it (``log_script_refusals``)."""
    if user.all_commands:
        return None

    def guard(name: bytes, args: Sequence[bytes]) -> Error | None:
        if user.may_run(name, args):
            return None
        refused(name)
        return SCRIPT_CALL_REFUSED

    return guard


def log_script_refusals(conn: Connection, names: deque[bytes]) -> None:
    """Write to ACL LOG the calls refused inside ``conn``'s scripts, as Redis logs them
    (context ``lua``): the executing thread notes them in ``names`` (a deque's
    ``append`` and ``popleft`` are atomic), the connection's own task logs them when
    the script's reply arrives."""
    while names:
        conn.registry.acl_log.add(conn, "command", "lua", names.popleft(), conn.user.name)


def dry_run_text(denial: Denial) -> bytes:
    """What ``ACL DRYRUN`` says of a denial (not an error: a bulk string)."""
    subject = denial.subject.decode("utf-8", "surrogateescape")
    if denial.reason == "command":
        return f"This user has no permissions to run the '{subject}' command".encode()
    return f"This user has no permissions to access the '{subject}' {denial.reason}".encode()


# --- the ACL command ------------------------------------------------------------------

ACL_HELP = (
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Prints this help.",
)


def _c_text(raw: bytes) -> str:
    """User bytes in an error text, as Redis's ``%s`` prints them, on one line."""
    return errors.text(errors.c_string(raw))


def cmd_acl(conn: Connection, args: list[bytes]) -> Reply:
    """Every ``ACL`` sub-command (the table has checked the arity)."""
    sub = args[1].lower()
    table: UserTable = conn.registry.users
    if sub == b"whoami":
        return conn.user.name
    if sub == b"users":
        return list[Reply](sorted(table.users))
    if sub == b"list":
        return [table.users[name].describe().encode() for name in sorted(table.users)]
    if sub == b"getuser":
        user = table.users.get(args[2])
        if user is None:
            return None
        return Map(
            [
                (b"flags", Set([word.encode() for word in user.flag_words()])),
                (b"passwords", [digest.encode() for digest in user.passwords]),
                (b"commands", user.commands_text().encode()),
                (b"keys", user.keys_text().encode()),
                (b"channels", user.channels_text().encode()),
                (b"selectors", []),
            ]
        )
    if sub == b"setuser":
        return _setuser(conn, args[2], args[3:])
    if sub == b"deluser":
        return _deluser(conn, args[2:])
    if sub == b"cat":
        return _cat(args)
    if sub == b"dryrun":
        return _dryrun(table, args[2], args[3:])
    if sub == b"genpass":
        return _genpass(args[2:])
    if sub == b"log":
        return _log(conn, args)
    if sub in (b"save", b"load"):
        return NO_ACL_FILE
    return help_reply(ACL_HELP)


def _setuser(conn: Connection, name: bytes, rules: list[bytes]) -> Reply:
    if not users.valid_user_name(name):
        return Error("ERR " + users.BAD_USER_NAME)
    try:
        conn.registry.users.set_user(name, rules)
    except RuleError as exc:
        return Error(f"ERR Error in ACL SETUSER modifier '{_c_text(exc.rule)}': {exc.reason}")
    conn.registry.users_changed()
    _close_subscribers_refused(conn, conn.registry.users.users[name])
    return OK


def subscriptions_allowed(user: User, subscriber: Connection) -> bool:
    """Whether ``user`` may still hear everything ``subscriber`` subscribed to: each
    channel and shard channel against its channel patterns, each pattern as written."""
    if user.allchannels:
        return True
    allowed = user.channel_allowed
    return (
        all(allowed(channel, False) for channel in subscriber.channels)
        and all(allowed(channel, False) for channel in subscriber.shard_channels)
        and all(allowed(pattern, True) for pattern in subscriber.patterns)
    )


def _close_subscribers_refused(conn: Connection, user: User) -> None:
    """After ``ACL SETUSER``: a client of ``user`` subscribed to a channel the user may no
    longer use is disconnected, as Redis does, rather than left hearing it."""
    for other in list(conn.registry.clients.values()):
        if other.user is user and not subscriptions_allowed(user, other):
            if other is conn:
                other.close_after_reply()
            else:
                other.kill()


def _deluser(conn: Connection, names: list[bytes]) -> Reply:
    if DEFAULT in names:
        return DEFAULT_UNDELETABLE
    table: UserTable = conn.registry.users
    deleted = 0
    for name in names:
        user = table.users.pop(name, None)
        if user is not None:
            deleted += 1
            conn.registry.disconnect_user(user, conn)
    return deleted


def _cat(request: list[bytes]) -> Reply:
    args = request[2:]
    if len(args) > 1:
        return errors.subcommand_arity(b"acl", request[1])
    if not args:
        return [category.encode() for category in users.CATEGORIES]
    category = args[0].lower().decode("utf-8", "surrogateescape")
    if category not in users.CATEGORIES:
        return Error(f"ERR Unknown category '{_c_text(args[0])}'")
    return [name.encode() for name in users.in_category(category)]


def _dryrun(table: UserTable, name: bytes, request: list[bytes]) -> Reply:
    user = table.users.get(name)
    if user is None:
        return Error(f"ERR User '{_c_text(name)}' not found")
    spec, denial = users.dry_run(user, request)
    if spec is None:
        return Error(f"ERR Command '{_c_text(request[0])}' not found")
    if not spec.arity_ok(len(request)):
        return Error(f"ERR wrong number of arguments for '{spec.name.decode()}' command")
    if denial is None and spec.name in _SCRIPTS and not user.all_commands:
        return ("This user " + _SCRIPTS_WHY).encode()
    return OK if denial is None else dry_run_text(denial)


def _genpass(args: list[bytes]) -> Reply:
    bits = 256
    if args:
        text = args[0]
        if len(args) > 1 or not text.lstrip(b"-").isdigit():
            return Error("ERR value is not an integer or out of range")
        bits = int(text)
        if not 0 < bits <= 4096:
            return Error("ERR ACL GENPASS argument must be the number of bits for the output"
                         " password, a positive number up to 4096")
    chars = (bits + 3) // 4
    return secrets.token_hex((chars + 1) // 2)[:chars].encode()


def _log(conn: Connection, request: list[bytes]) -> Reply:
    log: AclLog = conn.registry.acl_log
    args = request[2:]
    if not args:
        return log.reply(10)
    if len(args) > 1:
        return errors.subcommand_arity(b"acl", request[1])
    if args[0].lower() == b"reset":
        log.entries.clear()
        return OK
    text = args[0]
    if not text.lstrip(b"-").isdigit():
        return Error("ERR value is not an integer or out of range")
    count = int(text)
    return log.reply(max(count, 0))

"""Users and what each may run: Redis's ACL rules, checked before a command is proposed.

A client is authenticated as one user; every command it sends is checked
against that user's rules by the front end before anything is proposed, so a
refused command never reaches consensus. The rules are Redis 7.0's (the
``ACL SETUSER`` grammar: ``on``/``off``, ``>password``, ``#sha256``, ``nopass``,
``~pattern``, ``%R~``/``%W~``, ``&channel``, ``+command``, ``-@category``,
``reset``...), so an ACL file line or a ``redis-cli ACL SETUSER`` carries over
unchanged. Selectors (``(...)``) are not supported and are refused by name.

Users are not replicated: like Redis, each replica holds its own table, built
at start from the cluster file (identical on every replica) and changed at run
time by ``ACL SETUSER``/``DELUSER`` on that replica only. What this module
knows is pure (no clock, no I/O): the runtime owns the table and the log of
denials.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from epaxosdb.commands.docs import find
from epaxosdb.commands.glob import stringmatch
from epaxosdb.commands.spec import CommandSpec
from epaxosdb.commands.table import COMMANDS

DEFAULT = b"default"

CATEGORIES = (
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
    "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking",
    "dangerous", "connection", "transaction", "scripting",
)  # fmt: skip
"""Redis 7.0's categories, in ``ACL CAT``'s order."""

READ, WRITE = 1, 2
"""Key permissions (``%R~``, ``%W~``; ``~`` is both)."""


def _command_table() -> tuple[dict[str, frozenset[str]], dict[str, tuple[str, ...]]]:
    """Every command and sub-command a client may call (full names, ``client|id``) with
    its categories, and each container's sub-commands."""
    categories: dict[str, frozenset[str]] = {}
    children: dict[str, tuple[str, ...]] = {}
    for spec in COMMANDS:
        if "internal" in spec.flags:
            continue
        name = spec.name.decode()
        categories[name] = frozenset(c.lstrip("@") for c in spec.acl_categories)
        subs = tuple(sub.name.decode() for sub in spec.subcommands)
        children[name] = subs
        for sub in spec.subcommands:
            categories[sub.name.decode()] = frozenset(c.lstrip("@") for c in sub.acl_categories)
    return categories, children


CATEGORIES_OF, SUBCOMMANDS = _command_table()
ALL_COMMANDS = frozenset(CATEGORIES_OF)


def in_category(category: str) -> list[str]:
    """The commands of ``category`` (``ACL CAT <category>``), sub-commands by full name."""
    return sorted(name for name, cats in CATEGORIES_OF.items() if category in cats)


class RuleError(ValueError):
    """A rule ``ACL SETUSER`` (or the cluster file) cannot apply: ``reason`` is Redis's
    text, ``rule`` the rule as given."""

    def __init__(self, reason: str, rule: bytes = b"") -> None:
        super().__init__(reason)
        self.reason = reason
        self.rule = rule


_UNKNOWN = "Unknown command or category name in ACL"
_BAD_HASH = (
    "The password hash must be exactly 64 characters and contain only lowercase"
    " hexadecimal characters"
)
_NO_SUCH_PASSWORD = "The password you are trying to remove from the user does not exist"
_AFTER_ALLKEYS = (
    "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does"
    " not have any effect. Try 'resetkeys' to start with an empty list of patterns"
)
_AFTER_ALLCHANNELS = (
    "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and"
    " does not have any effect. Try 'resetchannels' to start with an empty list of channels"
)
_SELECTORS = "Selectors are not supported by epaxosdb"


def password_hash(password: bytes) -> str:
    """How a password is kept: its SHA-256 in lowercase hex, as Redis keeps it."""
    return hashlib.sha256(password).hexdigest()


def _valid_hash(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


_NOT_IN_NAMES = frozenset(b" \t\n\v\f\r\0")
"""What C's ``isspace`` calls space, and NUL: Redis refuses user names with any of them
(``ACLStringHasSpaces``), which keeps ACL LIST's lines, and error texts, one line each."""
BAD_USER_NAME = "Usernames can't contain spaces or null characters"


def valid_user_name(name: bytes) -> bool:
    return _NOT_IN_NAMES.isdisjoint(name)


@dataclass(slots=True)
class User:
    """One user's flags, passwords and permissions (Redis's root selector)."""

    name: bytes
    enabled: bool = False
    nopass: bool = False
    sanitize: str = ""
    """``sanitize-payload`` or ``skip-sanitize-payload`` when set (shown, not acted on:
    RESTORE payloads are always checked here)."""
    passwords: list[str] = field(default_factory=list)
    everything: bool = False
    """The command rules start from ``+@all`` (else from ``-@all``)."""
    allowed: set[str] = field(default_factory=set)
    all_commands: bool = False
    """Every command allowed (whatever the keys and channels): ``allowed`` holds them all,
    kept here because it is asked of every command a client sends."""
    command_rules: list[str] = field(default_factory=list)
    """The ``+``/``-`` rules since the last ``+@all``/``-@all``, lower-cased (a first-arg
    rule's argument as given), a rule given again moved to the end: what ``ACL LIST``
    describes."""
    first_args: dict[str, list[str]] = field(default_factory=dict)
    """``+select|0``: the first arguments with which a command not allowed may run anyway
    (Redis 7.0's deprecated first-arg rules), compared ignoring case."""
    allkeys: bool = False
    key_patterns: list[tuple[int, bytes]] = field(default_factory=list)
    allchannels: bool = False
    channel_patterns: list[bytes] = field(default_factory=list)

    def copy(self) -> User:
        return replace(
            self,
            passwords=list(self.passwords),
            allowed=set(self.allowed),
            command_rules=list(self.command_rules),
            first_args={name: list(args) for name, args in self.first_args.items()},
            key_patterns=list(self.key_patterns),
            channel_patterns=list(self.channel_patterns),
        )

    # --- rules ------------------------------------------------------------------

    def apply(self, rules: Iterable[bytes]) -> None:
        """Apply ``rules`` in order; raises ``RuleError`` (with the rule) at the first bad
        one. Callers apply to a ``copy`` so that a failed ``SETUSER`` changes nothing."""
        for rule in rules:
            try:
                self._apply_one(rule)
            except RuleError as exc:
                raise RuleError(exc.reason, rule) from None
            finally:
                self.all_commands = self.allowed >= ALL_COMMANDS

    def _apply_one(self, raw: bytes) -> None:
        rule = raw.decode("utf-8", "surrogateescape")
        word = rule.lower()
        if word == "on":
            self.enabled = True
        elif word == "off":
            self.enabled = False
        elif word in ("skip-sanitize-payload", "sanitize-payload"):
            self.sanitize = word
        elif word == "nopass":
            self.nopass = True
            self.passwords.clear()
        elif word == "resetpass":
            self.nopass = False
            self.passwords.clear()
        elif word == "reset":
            steps = (b"resetpass", b"resetkeys", b"resetchannels", b"off", b"sanitize-payload",
                     b"-@all")  # fmt: skip
            for again in steps:
                self._apply_one(again)
        elif word in ("allkeys", "resetkeys") or rule[:1] == "~" or rule[:1] == "%":
            self._key_rule(raw, word)
        elif word in ("allchannels", "resetchannels") or rule[:1] == "&":
            self._channel_rule(raw, word)
        elif word in ("allcommands", "nocommands"):
            self._command_rule("+@all" if word == "allcommands" else "-@all")
        elif rule[:1] in ("+", "-"):
            self._command_rule(word, rule)
        elif rule[:1] in (">", "<"):
            digest = password_hash(raw[1:])
            self._password_rule(rule[0] == ">", digest)
        elif rule[:1] in ("#", "!"):
            if not _valid_hash(rule[1:]):
                raise RuleError(_BAD_HASH)
            self._password_rule(rule[0] == "#", rule[1:])
        elif rule[:1] == "(" or rule[-1:] == ")":
            raise RuleError(_SELECTORS)
        else:
            raise RuleError("Syntax error")

    def _password_rule(self, add: bool, digest: str) -> None:
        if add:
            if digest not in self.passwords:
                self.passwords.append(digest)
            self.nopass = False
        elif digest in self.passwords:
            self.passwords.remove(digest)
        else:
            raise RuleError(_NO_SUCH_PASSWORD)

    def _key_rule(self, raw: bytes, word: str) -> None:
        """``allkeys``/``~*``, ``resetkeys``, ``~pattern`` and ``%RW~pattern``, checked as Redis
        7.0 checks them (``ACLSetSelector``): after ``allkeys`` no pattern may follow; ``%``
        takes R and W once each, then ``~`` (or nothing: an empty pattern); a pattern with a
        space or a NUL is a syntax error; a pattern given again gains the new permissions."""
        if word == "resetkeys":
            self.allkeys = False
            self.key_patterns.clear()
            return
        if word == "allkeys" or raw == b"~*":
            self.allkeys = True
            self.key_patterns.clear()
            return
        if self.allkeys:
            raise RuleError(_AFTER_ALLKEYS)
        flags, start = READ | WRITE, 1
        if raw[:1] == b"%":
            flags = 0
            for start in range(1, len(raw) + 1):
                mark = raw[start : start + 1].upper()
                if mark == b"R" and not flags & READ:
                    flags |= READ
                elif mark == b"W" and not flags & WRITE:
                    flags |= WRITE
                else:
                    if mark != b"~" and mark:
                        flags = 0  # anything else (a mark twice) is a syntax error
                    start += bool(mark)
                    break
            if not flags:
                raise RuleError("Syntax error")
        pattern = raw[start:]
        if not _NOT_IN_NAMES.isdisjoint(pattern):
            raise RuleError("Syntax error")
        for index, (known, existing) in enumerate(self.key_patterns):
            if existing == pattern:
                self.key_patterns[index] = (known | flags, pattern)
                return
        self.key_patterns.append((flags, pattern))

    def _channel_rule(self, raw: bytes, word: str) -> None:
        if word == "resetchannels":
            self.allchannels = False
            self.channel_patterns.clear()
            return
        if word == "allchannels" or raw == b"&*":
            self.allchannels = True
            self.channel_patterns.clear()
            return
        if self.allchannels:
            raise RuleError(_AFTER_ALLCHANNELS)
        pattern = raw[1:]
        if not _NOT_IN_NAMES.isdisjoint(pattern):
            raise RuleError("Syntax error")
        if pattern not in self.channel_patterns:
            self.channel_patterns.append(pattern)

    def _command_rule(self, rule: str, as_given: str = "") -> None:
        allow, target = rule[0] == "+", rule[1:]
        if target == "@all":
            self.everything = allow
            self.allowed = set(ALL_COMMANDS) if allow else set()
            self.command_rules.clear()
            self.first_args.clear()
            return
        first_arg = _first_arg_rule(target, as_given[1:] or target)
        if first_arg is not None:
            if not allow:
                raise RuleError(_UNKNOWN)  # Redis looks ``get|x`` up as a command
            self._allow_first_arg(*first_arg)
            return
        names = _expand(target)
        if allow:
            self.allowed.update(names)
        else:
            self.allowed.difference_update(names)
        # A rule on a command ends its first-arg rules, as in Redis.
        for name in names & self.first_args.keys():
            del self.first_args[name]
            prefix = "+" + name + "|"
            self.command_rules = [r for r in self.command_rules if not r.startswith(prefix)]
        for old in ("+" + target, "-" + target):
            if old in self.command_rules:
                self.command_rules.remove(old)
        self.command_rules.append(rule)

    def _allow_first_arg(self, name: str, arg: str) -> None:
        """``+name|arg`` for a command without sub-commands: nothing when the command is
        allowed already, else ``arg`` (ignoring case) joins its first arguments."""
        if name in self.allowed:
            return
        known = self.first_args.setdefault(name, [])
        if arg.lower() not in (a.lower() for a in known):
            known.append(arg)
        rule = f"+{name}|{arg}"
        if rule in self.command_rules:
            self.command_rules.remove(rule)
        self.command_rules.append(rule)

    # --- checks -----------------------------------------------------------------

    def may_run(self, name: bytes, args: Sequence[bytes] = ()) -> bool:
        """Whether the command (full name: ``get``, ``client|id``) is allowed, called with
        ``args`` (the whole request: a first-arg rule looks at ``args[1]``)."""
        text = name.decode()
        if text in self.allowed:
            return True
        firsts = self.first_args.get(text)
        if not firsts or len(args) < 2:
            return False
        first = args[1].decode("utf-8", "surrogateescape").lower()
        return any(first == allowed.lower() for allowed in firsts)

    def key_allowed(self, key: bytes, needs: int) -> bool:
        """Whether ``key`` may be accessed with permissions ``needs`` (``READ|WRITE``)."""
        if self.allkeys:
            return True
        for flags, pattern in self.key_patterns:
            if flags & needs == needs and stringmatch(pattern, key):
                return True
        return False

    def channel_allowed(self, channel: bytes, is_pattern: bool) -> bool:
        """Whether ``channel`` may be used; a pattern (PSUBSCRIBE) must be one of the user's
        patterns as written, as Redis asks."""
        if self.allchannels:
            return True
        if is_pattern:
            return channel in self.channel_patterns
        return any(stringmatch(pattern, channel) for pattern in self.channel_patterns)

    @property
    def unrestricted(self) -> bool:
        """Every command, key and channel: the front end's fast path needs no check."""
        return self.allkeys and self.allchannels and self.all_commands

    def password_matches(self, password: bytes) -> bool:
        """``nopass`` takes any password; otherwise one of the hashes must match."""
        if self.nopass:
            return True
        digest = password_hash(password)
        return any(hmac.compare_digest(digest, known) for known in self.passwords)

    # --- descriptions -------------------------------------------------------------

    def flag_words(self) -> list[str]:
        words = ["on" if self.enabled else "off"]
        if self.nopass:
            words.append("nopass")
        if self.sanitize:
            words.append(self.sanitize)
        return words

    def keys_text(self) -> str:
        if self.allkeys:
            return "~*"
        return " ".join(_key_word(flags, pattern) for flags, pattern in self.key_patterns)

    def channels_text(self) -> str:
        if self.allchannels:
            return "&*"
        return " ".join("&" + p.decode("utf-8", "surrogateescape") for p in self.channel_patterns)

    def commands_text(self) -> str:
        """The command rules as ``ACL LIST`` prints them: the base, then each rule that
        changes what the ones before it allow."""
        described = ["+@all" if self.everything else "-@all"]
        allowed = set(ALL_COMMANDS) if self.everything else set()
        for rule in self.command_rules:
            first_arg = _first_arg_rule(rule[1:].lower(), rule[1:])
            if first_arg is not None:
                if first_arg[0] not in allowed:
                    described.append(rule)
                continue
            names = _expand(rule[1:])
            before = len(allowed)
            if rule[0] == "+":
                allowed.update(names)
            else:
                allowed.difference_update(names)
            if len(allowed) != before:
                described.append(rule)
        return " ".join(described)

    def describe(self) -> str:
        """This user as an ``ACL LIST`` line."""
        parts = ["user", self.name.decode("utf-8", "surrogateescape"), *self.flag_words()]
        parts += ["#" + digest for digest in self.passwords]
        if keys := self.keys_text():
            parts.append(keys)
        if not self.allchannels:
            parts.append("resetchannels")
        if channels := self.channels_text():
            parts.append(channels)
        parts.append(self.commands_text())
        return " ".join(parts)


def _key_word(flags: int, pattern: bytes) -> str:
    text = pattern.decode("utf-8", "surrogateescape")
    if flags == READ | WRITE:
        return "~" + text
    return ("%R~" if flags == READ else "%W~") + text


def _first_arg_rule(target: str, as_given: str) -> tuple[str, str] | None:
    """``(command, first argument)`` when ``target`` (lower-cased; ``as_given`` as the rule
    spelled it) is a first-arg rule (``select|0``: a command without sub-commands, then
    ``|``), ``None`` for any other target; ``RuleError`` for Redis's refusals of one."""
    if target.startswith("@") or "|" not in target or target in CATEGORIES_OF:
        return None
    head = target.rpartition("|")[0]
    arg = as_given.rpartition("|")[2]
    if head not in CATEGORIES_OF:
        raise RuleError(_UNKNOWN)
    if "|" in head:
        raise RuleError("Allowing first-arg of a subcommand is not supported")
    if SUBCOMMANDS.get(head):
        raise RuleError(_UNKNOWN)  # a command with sub-commands, and no such sub-command
    if not arg:
        raise RuleError("Syntax error")
    return head, arg


def _expand(target: str) -> set[str]:
    """The commands one ``+``/``-`` rule names: a category's, a command with its
    sub-commands, or one sub-command."""
    if target.startswith("@"):
        category = target[1:]
        if category == "all":
            return set(ALL_COMMANDS)
        if category not in CATEGORIES:
            raise RuleError(_UNKNOWN)
        return {name for name, cats in CATEGORIES_OF.items() if category in cats}
    if target not in CATEGORIES_OF:
        raise RuleError(_UNKNOWN)
    return {target, *SUBCOMMANDS.get(target, ())}


def new_user(name: bytes) -> User:
    """A user ``ACL SETUSER`` creates: off, no password, no keys, no channels, nothing
    allowed (Redis 7.0's defaults, ``acl-pubsub-default resetchannels``)."""
    return User(name)


def default_user(requirepass: str) -> User:
    """``default``: every command, key and channel; ``requirepass`` its one password."""
    user = User(DEFAULT, enabled=True, allkeys=True, allchannels=True)
    user.apply([b"+@all"])
    set_password(user, requirepass)
    return user


def set_password(user: User, password: str) -> None:
    """What ``requirepass`` does to ``default``: this password alone, or none needed."""
    user.passwords.clear()
    user.nopass = not password
    if password:
        user.passwords.append(password_hash(password.encode("utf-8", "surrogateescape")))


@dataclass(frozen=True, slots=True)
class Denial:
    """Why a command was refused: ``reason`` is Redis's (``command``, ``key``,
    ``channel``), ``subject`` the command's full name, the key or the channel."""

    reason: str
    subject: bytes


def check(user: User, spec: CommandSpec, request: Sequence[bytes]) -> Denial | None:
    """Whether ``user`` may run ``request`` (whose spec is ``spec``): the command first,
    then its keys, then its channels, in Redis's order."""
    if "no_auth" in spec.flags:
        return None  # AUTH and HELLO: always, so a client can change user
    if not user.may_run(spec.name, request):
        return Denial("command", spec.name)
    if not user.allkeys:
        refs = key_refs(spec, request)
        if refs is None:
            return Denial("key", request[1] if len(request) > 1 else b"")
        for key, needs in refs:
            if not user.key_allowed(key, needs):
                return Denial("key", key)
    if not user.allchannels:
        for channel, is_pattern in channels_of(spec.name, request):
            if not user.channel_allowed(channel, is_pattern):
                return Denial("channel", channel)
    return None


def key_refs(spec: CommandSpec, request: Sequence[bytes]) -> list[tuple[bytes, int]] | None:
    """Each key ``request`` names with the permissions it needs: reading for a key spec
    flagged ``access``, writing for ``insert``/``update``/``delete`` (Redis's rule; a
    ``variable_flags`` spec says for this call: SET needs reading only with GET);
    ``None`` when the keys cannot be told from the key specs."""
    if not spec.key_specs:
        return []
    keys = spec.keys(request)
    if keys is None:
        return None
    refs = []
    for key, key_spec in keys:
        if "not_key" in key_spec.flags:
            continue
        needs = 0
        flags = key_spec.flags if key_spec.flags_of is None else key_spec.flags_of(request)
        if "access" in flags:
            needs |= READ
        if "insert" in flags or "update" in flags or "delete" in flags:
            needs |= WRITE
        refs.append((key, needs))
    return refs


_CHANNEL_ARGS = {
    b"publish": (1, 2, False),
    b"spublish": (1, 2, False),
    b"subscribe": (1, None, False),
    b"ssubscribe": (1, None, False),
    b"psubscribe": (1, None, True),
}
"""Commands that name channels: first argument, end (exclusive), patterns or not."""


def channels_of(name: bytes, request: Sequence[bytes]) -> list[tuple[bytes, bool]]:
    """The channels (or patterns) ``request`` uses."""
    found = _CHANNEL_ARGS.get(name)
    if found is None:
        return []
    first, end, is_pattern = found
    return [(channel, is_pattern) for channel in request[first:end]]


def dry_run(user: User, request: Sequence[bytes]) -> tuple[CommandSpec | None, Denial | None]:
    """``ACL DRYRUN``'s lookup: the spec ``request`` calls (``None``: unknown) and the
    denial, if any."""
    spec = find(request[0].lower())
    if spec is not None and spec.subcommands and len(request) >= 2:
        spec = spec.subcommand(request[1]) or spec
    if spec is None or "internal" in spec.flags:
        return None, None
    return spec, check(user, spec, request)

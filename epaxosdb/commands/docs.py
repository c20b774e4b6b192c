"""COMMAND and its sub-commands, answered from the table in Redis 7.0's shapes.

redis-cli's interactive mode sends ``COMMAND DOCS`` on start-up for its hints
and rejects a reply of the wrong shape, and client libraries read ``COMMAND``
to learn key positions. So the replies follow ``addReplyCommandInfo`` and
``addReplyCommandDocs`` field by field, including which parts are RESP3 sets
(flags, ACL categories, tips, key specs, history) and which are arrays or
maps. Connection commands are listed; internal ones are not.
"""

from __future__ import annotations

from collections.abc import Sequence

from protocol.replies import Error, Map, Reply, Set, SimpleString, help_reply

from . import errors
from .glob import matcher
from .integers import atoi
from .proposal import resolve
from .spec import Arg, CommandSpec, KeySpec
from .table import BY_NAME, COMMANDS

FLAG_ORDER = (
    "write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript", "blocking",
    "loading", "stale", "skip_monitor", "skip_slowlog", "asking", "fast", "no_auth",
    "may_replicate", "no_mandatory_keys", "no_async_loading", "no_multi", "movablekeys",
    "allow_busy",
)  # fmt: skip
"""The order in which Redis lists command flags (``addReplyCommandFlags``)."""

HELP_LINES = (
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
    "HELP",
    "    Prints this help.",
)

PUBLIC: tuple[CommandSpec, ...] = tuple(s for s in COMMANDS if "internal" not in s.flags)


def command_reply(args: Sequence[bytes]) -> Reply:
    """The reply to ``COMMAND [subcommand ...]`` (``args[0]`` is ``COMMAND`` itself).

    Unknown sub-commands and wrong arity get the same errors ``prepare`` gives.
    """
    spec = resolve(args)
    if isinstance(spec, Error):
        return spec
    name = spec.name
    if name in (b"command", b"command|info"):
        if len(args) <= 2:
            return [command_info(spec) for spec in PUBLIC]
        return [_info_or_null(find(name)) for name in args[2:]]
    if name == b"command|count":
        return len(PUBLIC)
    if name == b"command|docs":
        specs = PUBLIC if len(args) == 2 else [s for s in map(find, args[2:]) if s is not None]
        return Map([(spec.name, command_docs(spec)) for spec in specs])
    if name == b"command|list":
        return _list(args)
    if name in (b"command|getkeys", b"command|getkeysandflags"):
        return _getkeys(args[2:], with_flags=name == b"command|getkeysandflags")
    if name == b"command|help":
        return help_reply(HELP_LINES)
    return errors.unknown_command(args)


def find(name: bytes) -> CommandSpec | None:
    """A public command by name, or a sub-command by full name (``client|setname``)."""
    base, _, sub = name.lower().partition(b"|")
    spec = BY_NAME.get(base)
    if spec is None or "internal" in spec.flags:
        return None
    if sub:
        return spec.subcommand(sub)
    return spec


def command_info(spec: CommandSpec) -> Reply:
    """One ``COMMAND INFO`` entry: name, arity, flags, key range, categories, tips, specs, subs."""
    flags = [SimpleString(f.encode()) for f in FLAG_ORDER if f in spec.flags]
    return [
        spec.name,
        spec.arity,
        Set(flags),
        spec.first_key,
        spec.last_key,
        spec.key_step,
        Set([SimpleString(c.encode()) for c in spec.acl_categories]),
        Set([t.encode() for t in spec.tips]),
        Set([_key_spec(k) for k in spec.key_specs]),
        [command_info(sub) for sub in spec.subcommands] if spec.subcommands else Set([]),
    ]


def command_docs(spec: CommandSpec) -> Reply:
    """One ``COMMAND DOCS`` entry, fields in ``addReplyCommandDocs``'s order."""
    fields: list[tuple[Reply, Reply]] = []
    if spec.summary:
        fields.append((b"summary", spec.summary.encode()))
    if spec.since:
        fields.append((b"since", spec.since.encode()))
    fields.append((b"group", spec.group.encode()))
    if spec.complexity:
        fields.append((b"complexity", spec.complexity.encode()))
    if spec.doc_flags:
        fields.append((b"doc_flags", Set([SimpleString(f.encode()) for f in spec.doc_flags])))
    if spec.deprecated_since:
        fields.append((b"deprecated_since", spec.deprecated_since.encode()))
    if spec.replaced_by:
        fields.append((b"replaced_by", spec.replaced_by.encode()))
    if spec.history:
        history: list[Reply] = [[v.encode(), text.encode()] for v, text in spec.history]
        fields.append((b"history", Set(history)))
    if spec.arguments:
        fields.append((b"arguments", [_argument(a) for a in spec.arguments]))
    if spec.subcommands:
        subs = Map([(sub.name, command_docs(sub)) for sub in spec.subcommands])
        fields.append((b"subcommands", subs))
    return Map(fields)


def _info_or_null(spec: CommandSpec | None) -> Reply:
    return None if spec is None else command_info(spec)


def _key_spec(spec: KeySpec) -> Reply:
    fields: list[tuple[Reply, Reply]] = []
    if spec.notes:
        fields.append((b"notes", spec.notes.encode()))
    fields += [
        (b"flags", Set([SimpleString(f.encode()) for f in spec.flags])),
        (b"begin_search", _begin_search(spec)),
        (b"find_keys", _find_keys(spec)),
    ]
    return Map(fields)


def _begin_search(spec: KeySpec) -> Reply:
    if spec.finder is not None:
        return _UNKNOWN
    if spec.keyword is not None:
        search: list[tuple[Reply, Reply]] = [
            (b"keyword", spec.keyword.encode()),
            (b"startfrom", spec.begin),
        ]
        return Map([(b"type", b"keyword"), (b"spec", Map(search))])
    return Map([(b"type", b"index"), (b"spec", Map([(b"index", spec.begin)]))])


_UNKNOWN = Map([(b"type", b"unknown"), (b"spec", Map([]))])
"""SORT's key specs: the keys are found by the command's own search (``KeySpec.finder``)."""


def _find_keys(spec: KeySpec) -> Reply:
    if spec.finder is not None:
        return _UNKNOWN
    if spec.keynumidx is not None:
        found = [(b"keynumidx", spec.keynumidx), (b"firstkey", spec.firstkey)]
        return Map([(b"type", b"keynum"), (b"spec", Map([*found, (b"keystep", spec.step)]))])
    found = [(b"lastkey", spec.last), (b"keystep", spec.step), (b"limit", spec.limit)]
    return Map([(b"type", b"range"), (b"spec", Map(found))])


def _argument(arg: Arg) -> Reply:
    fields: list[tuple[Reply, Reply]] = [(b"name", arg.name.encode()), (b"type", arg.type.encode())]
    if arg.key_spec_index >= 0:
        fields.append((b"key_spec_index", arg.key_spec_index))
    if arg.token is not None:
        fields.append((b"token", arg.token.encode()))
    if arg.summary is not None:
        fields.append((b"summary", arg.summary.encode()))
    if arg.since is not None:
        fields.append((b"since", arg.since.encode()))
    if arg.deprecated_since is not None:
        fields.append((b"deprecated_since", arg.deprecated_since.encode()))
    if arg.flags:
        fields.append((b"flags", Set([SimpleString(f.encode()) for f in arg.flags])))
    if arg.type in ("oneof", "block"):
        fields.append((b"arguments", [_argument(a) for a in arg.arguments]))
    return Map(fields)


def _list(args: Sequence[bytes]) -> Reply:
    """``COMMAND LIST [FILTERBY MODULE m | ACLCAT c | PATTERN p]``: full names, subs included."""
    names = [n for spec in PUBLIC for n in (spec.name, *(s.name for s in spec.subcommands))]
    if len(args) == 2:
        return list(names)
    if len(args) != 5 or errors.c_string(args[2]).lower() != b"filterby":
        return errors.SYNTAX
    kind, value = errors.c_string(args[3]).lower(), args[4]
    if kind == b"module":
        return []
    if kind == b"aclcat":
        category = "@" + errors.c_string(value).decode("latin-1").lower()
        return [
            spec.name
            for top in PUBLIC
            for spec in (top, *top.subcommands)
            if category in spec.acl_categories
        ]
    if kind == b"pattern":
        match = matcher(value, nocase=True)
        return [name for name in names if match(name)]
    return errors.SYNTAX


def _getkeys(command: Sequence[bytes], with_flags: bool) -> Reply:
    """``COMMAND GETKEYS``/``GETKEYSANDFLAGS`` for the command in ``command``."""
    spec = find(command[0]) if b"|" not in command[0] else None
    if spec is not None and spec.subcommands and len(command) >= 2:
        spec = spec.subcommand(command[1])
    if spec is None:
        return Error("ERR Invalid command specified")
    if all("not_key" in key_spec.flags for key_spec in spec.key_specs):
        # None at all, or only channels (SPUBLISH, SSUBSCRIBE), as Redis counts them.
        return Error("ERR The command has no key arguments")
    if not spec.arity_ok(len(command)):
        return Error("ERR Invalid number of arguments specified for command")
    keys = spec.keys(command)
    optional = "no_mandatory_keys" in spec.flags
    if keys is None:
        return [] if optional else _legacy_getkeys(spec, command, with_flags)
    if not keys and not optional:
        return Error("ERR Invalid arguments specified for command")
    if not with_flags:
        return [key for key, _ in keys]
    return [
        [key, Set([SimpleString(f.encode()) for f in _key_flags(spec, key_spec, command)])]
        for key, key_spec in keys
    ]


def _legacy_getkeys(spec: CommandSpec, command: Sequence[bytes], with_flags: bool) -> Reply:
    """What Redis answers when a keynum spec cannot find the keys: it falls back to the
    command's own key finder (``genericGetKeys``), which reads the count with ``atoi``
    (so ``2x`` counts 2), lists the counted keys and then the destination, and gives
    them no flags.

    XREAD's keyword spec is invalid only when ``STREAMS`` is the argument before the last;
    its own key finder (``xreadGetKeys``) then finds no keys either (one argument after
    ``STREAMS`` is an unbalanced list): Redis's "invalid arguments"."""
    found = next(((s, s.keynumidx) for s in spec.key_specs if s.keynumidx is not None), None)
    if found is None:
        return Error("ERR Invalid arguments specified for command")
    keynum, keynumidx = found
    destinations = [s.begin for s in spec.key_specs if not s.is_keynum]
    first = keynum.begin + keynum.firstkey
    count = atoi(command[keynum.begin + keynumidx])
    if count < 1 or count > (len(command) - first) // keynum.step:
        return Error("ERR Invalid arguments specified for command")
    positions = [*range(first, first + count * keynum.step, keynum.step), *destinations]
    if not with_flags:
        return [command[i] for i in positions]
    return [[command[i], Set([])] for i in positions]


def _key_flags(spec: CommandSpec, key_spec: KeySpec, command: Sequence[bytes]) -> tuple[str, ...]:
    """A key's flags for this call: its spec's, or for ``variable_flags`` what the
    spec's ``flags_of`` says of this call."""
    if key_spec.flags_of is None:
        return key_spec.flags
    return key_spec.flags_of(command)

"""COMMANDS: the one command table, declared as data.

Adding a command means adding one row here and one handler in its group's
module; nothing registers itself on import. Rows carry the facts Redis 7.0
publishes for each command (arity, flags, ACL categories, key specs, docs),
so COMMAND, COMMAND DOCS and COMMAND INFO answer like Redis, and the key
specs double as EPaxos's interference relation (see ``spec.KeySpec``).

The file is long because it is the whole table; it holds no logic beyond the
small constructors that keep each row readable. Redis's own texts (summaries,
complexities, history) are copied verbatim: the differential tests compare
COMMAND DOCS and COMMAND INFO byte for byte with redis-server 7.0.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TypedDict, Unpack

from protocol.replies import Error

from . import (
    bitfield,
    bitmaps,
    blocking,
    counters,
    digest,
    dump,
    errors,
    expiry,
    functions,
    geo,
    groups,
    hashes,
    hyperloglog,
    keyspace,
    lcs,
    lists,
    memory,
    objects,
    pubsub,
    scripting,
    sets,
    sort,
    streams,
    strings,
    watch,
    zsets,
)
from .spec import Arg, CommandSpec, Handler, KeySpec, Prepare


class _Extras(TypedDict, total=False):
    """Row fields most commands leave at their defaults."""

    prepare: Prepare
    prepare_queued: Prepare
    history: tuple[tuple[str, str], ...]
    tips: tuple[str, ...]
    doc_flags: tuple[str, ...]
    deprecated_since: str
    replaced_by: str
    subcommands: tuple[CommandSpec, ...]


def _flags(words: str) -> frozenset[str]:
    return frozenset(words.split())


def _key(name: str = "key", index: int = 0, flags: tuple[str, ...] = ()) -> Arg:
    return Arg(name, "key", key_spec_index=index, flags=flags)


def _string(
    name: str,
    *,
    token: str | None = None,
    since: str | None = None,
    flags: tuple[str, ...] = (),
    deprecated_since: str | None = None,
) -> Arg:
    return Arg(
        name, "string", token=token, since=since, flags=flags, deprecated_since=deprecated_since
    )


def _integer(
    name: str, *, token: str | None = None, since: str | None = None, flags: tuple[str, ...] = ()
) -> Arg:
    return Arg(name, "integer", token=token, since=since, flags=flags)


def _token(name: str, token: str, *, since: str | None = None, flags: tuple[str, ...] = ()) -> Arg:
    return Arg(name, "pure-token", token=token, since=since, flags=flags)


def _oneof(
    name: str,
    *arguments: Arg,
    token: str | None = None,
    since: str | None = None,
    flags: tuple[str, ...] = (),
) -> Arg:
    return Arg(name, "oneof", token=token, since=since, flags=flags, arguments=arguments)


def _block(
    name: str,
    *arguments: Arg,
    token: str | None = None,
    since: str | None = None,
    flags: tuple[str, ...] = (),
) -> Arg:
    return Arg(name, "block", token=token, since=since, flags=flags, arguments=arguments)


OPTIONAL = ("optional",)
MULTIPLE = ("multiple",)

_RO = KeySpec(1, flags=("RO", "access"))
_RO_PLAIN = KeySpec(1, flags=("RO",))
_RW_UPDATE = KeySpec(1, flags=("RW", "access", "update"))
_RW_TTL = KeySpec(1, flags=("RW", "update"))
_RO_OBJECT = KeySpec(2, flags=("RO",))
_OBJECT_ACL = "@keyspace @read @slow"
_OBJECT_TIPS = ("nondeterministic_output",)

_EXPIRE_CONDITION = _oneof(
    "condition",
    _token("nx", "NX"),
    _token("xx", "XX"),
    _token("gt", "GT"),
    _token("lt", "LT"),
    since="7.0.0",
    flags=OPTIONAL,
)
_EXPIRE_HISTORY = (("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."),)
_FLUSH_MODE = _oneof(
    "async",
    _token("async", "ASYNC", since="4.0.0"),
    _token("sync", "SYNC", since="6.2.0"),
    flags=OPTIONAL,
)
_FLUSH_HISTORY = (
    ("4.0.0", "Added the `ASYNC` flushing mode modifier."),
    ("6.2.0", "Added the `SYNC` flushing mode modifier."),
)
_TTL_HISTORY = (("2.8.0", "Added the -2 reply."),)
_KEY_VALUE = _block("key_value", _key(), _string("value"), flags=MULTIPLE)
_KEYS_MULTIPLE = (_key(flags=MULTIPLE),)
_SUB = ("loading", "stale")
_SUB_ADMIN = ("admin", "noscript", "loading", "stale")
_SLOWLOG_FLAGS = ("admin", "loading", "stale")
_LATENCY_TIPS = ("nondeterministic_output", "request_policy:all_nodes", "response_policy:special")
_HELP = "Show helpful text about the different subcommands"
_PER_USER = "O(N). Where N is the number of configured users."


def _string_row(
    name: str,
    arity: int,
    flags: str,
    handler: Handler,
    key_spec: KeySpec,
    acl: str,
    summary: str,
    since: str,
    arguments: tuple[Arg, ...],
    complexity: str = "O(1)",
    **rest: Unpack[_Extras],
) -> CommandSpec:
    """A row of the ``string`` group; most differ only in these fields."""
    return CommandSpec(
        name=name.encode(),
        arity=arity,
        flags=_flags(flags),
        handler=handler,
        key_specs=(key_spec,),
        acl_categories=tuple(acl.split()),
        summary=summary,
        since=since,
        group="string",
        complexity=complexity,
        arguments=arguments,
        **rest,
    )


def _generic_row(
    name: str,
    arity: int,
    flags: str,
    handler: Handler,
    key_specs: tuple[KeySpec, ...],
    acl: str,
    summary: str,
    since: str,
    arguments: tuple[Arg, ...] = (),
    complexity: str = "O(1)",
    group: str = "generic",
    **rest: Unpack[_Extras],
) -> CommandSpec:
    """A row of the ``generic`` (keyspace) or ``server`` group."""
    return CommandSpec(
        name=name.encode(),
        arity=arity,
        flags=_flags(flags),
        handler=handler,
        key_specs=key_specs,
        acl_categories=tuple(acl.split()),
        summary=summary,
        since=since,
        group=group,
        complexity=complexity,
        arguments=arguments,
        **rest,
    )


def _connection_row(
    name: str,
    arity: int,
    flags: str,
    acl: str,
    summary: str,
    since: str,
    group: str = "connection",
    complexity: str = "O(1)",
    arguments: tuple[Arg, ...] = (),
    key_specs: tuple[KeySpec, ...] = (),
    **rest: Unpack[_Extras],
) -> CommandSpec:
    """A command the front end answers itself: never replicated, no handler."""
    return CommandSpec(
        name=name.encode(),
        arity=arity,
        flags=_flags(flags + " connection"),
        key_specs=key_specs,
        acl_categories=tuple(acl.split()),
        summary=summary,
        since=since,
        group=group,
        complexity=complexity,
        arguments=arguments,
        **rest,
    )


def _sub(
    container: str,
    name: str,
    arity: int,
    flags: tuple[str, ...],
    acl: str,
    summary: str,
    since: str,
    group: str,
    complexity: str = "O(1)",
    arguments: tuple[Arg, ...] = (),
    **rest: Unpack[_Extras],
) -> CommandSpec:
    return CommandSpec(
        name=f"{container}|{name}".encode(),
        arity=arity,
        flags=frozenset(flags) | {"connection"},
        acl_categories=tuple(acl.split()),
        summary=summary,
        since=since,
        group=group,
        complexity=complexity,
        arguments=arguments,
        **rest,
    )


def _sub_prepare(container: str) -> Prepare:
    """A data sub-command's ``prepare``: the op is ``(CONTAINER, sub, ...)``, the sub-command
    as the client spelled it (Redis quotes it so in errors); the container's handler in
    ``execution`` dispatches on it, case-insensitively."""
    head = container.upper().encode()

    def prepare(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
        return (head, *args[1:])

    return prepare


def _data_sub(
    container: str,
    name: str,
    arity: int,
    flags: str,
    handler: Handler,
    key_specs: tuple[KeySpec, ...],
    acl: str,
    summary: str,
    since: str,
    complexity: str = "O(1)",
    arguments: tuple[Arg, ...] = (),
    group: str = "stream",
    **rest: Unpack[_Extras],
) -> CommandSpec:
    """A sub-command executed like any data command (XGROUP CREATE, XINFO STREAM,
    MEMORY USAGE)."""
    extras: _Extras = {"prepare": _sub_prepare(container), **rest}
    return CommandSpec(
        name=f"{container}|{name}".encode(),
        arity=arity,
        flags=_flags(flags),
        handler=handler,
        key_specs=key_specs,
        acl_categories=tuple(acl.split()),
        summary=summary,
        since=since,
        group=group,
        complexity=complexity,
        arguments=arguments,
        **extras,
    )


def _data_container(
    name: str, summary: str, since: str, group: str, subcommands: tuple[CommandSpec, ...]
) -> CommandSpec:
    """XGROUP, XINFO: a container whose sub-commands are data commands (no flags of its
    own; ``resolve`` always hands on to a sub-command)."""
    return CommandSpec(
        name=name.encode(),
        arity=-2,
        flags=frozenset(),
        acl_categories=("@slow",),
        summary=summary,
        since=since,
        group=group,
        complexity="Depends on subcommand.",
        subcommands=subcommands,
    )


# fmt: off
# Rows stay compact: one command's facts read as one block.
STRING_COMMANDS: tuple[CommandSpec, ...] = (
    _string_row(
        "get", 2, "readonly fast", strings.cmd_get, _RO,
        "@read @string @fast", "Get the value of a key", "1.0.0", (_key(),),
    ),
    _string_row(
        "set", -3, "write denyoom", strings.cmd_set,
        KeySpec(
            1,
            flags=("RW", "access", "update", "variable_flags"),
            notes="RW and ACCESS due to the optional `GET` argument",
            flags_of=strings.set_key_flags,
        ),
        "@write @string @slow", "Set the string value of a key", "1.0.0",
        (
            _key(),
            _string("value"),
            _oneof(
                "condition", _token("nx", "NX"), _token("xx", "XX"),
                since="2.6.12", flags=OPTIONAL,
            ),
            _token("get", "GET", since="6.2.0", flags=OPTIONAL),
            _oneof(
                "expiration",
                _integer("seconds", token="EX", since="2.6.12"),
                _integer("milliseconds", token="PX", since="2.6.12"),
                Arg("unix-time-seconds", "unix-time", token="EXAT", since="6.2.0"),
                Arg("unix-time-milliseconds", "unix-time", token="PXAT", since="6.2.0"),
                _token("keepttl", "KEEPTTL", since="6.0.0"),
                flags=OPTIONAL,
            ),
        ),
        prepare=strings.prepare_set,
        history=(
            ("2.6.12", "Added the `EX`, `PX`, `NX` and `XX` options."),
            ("6.0.0", "Added the `KEEPTTL` option."),
            ("6.2.0", "Added the `GET`, `EXAT` and `PXAT` option."),
            ("7.0.0", "Allowed the `NX` and `GET` options to be used together."),
        ),
    ),
    _string_row(
        "setnx", 3, "write denyoom fast", strings.cmd_setnx, KeySpec(1, flags=("OW", "insert")),
        "@write @string @fast", "Set the value of a key, only if the key does not exist", "1.0.0",
        (_key(), _string("value")),
    ),
    _string_row(
        "setex", 4, "write denyoom", strings.cmd_set, KeySpec(1, flags=("OW", "update")),
        "@write @string @slow", "Set the value and expiration of a key", "2.0.0",
        (_key(), _integer("seconds"), _string("value")),
        prepare=strings.prepare_setex,
    ),
    _string_row(
        "psetex", 4, "write denyoom", strings.cmd_set, KeySpec(1, flags=("OW", "update")),
        "@write @string @slow", "Set the value and expiration in milliseconds of a key", "2.6.0",
        (_key(), _integer("milliseconds"), _string("value")),
        prepare=strings.prepare_setex,
    ),
    _string_row(
        "getset", 3, "write denyoom fast", strings.cmd_getset, _RW_UPDATE,
        "@write @string @fast", "Set the string value of a key and return its old value", "1.0.0",
        (_key(), _string("value")),
        doc_flags=("deprecated",),
        deprecated_since="6.2.0",
        replaced_by="`SET` with the `!GET` argument",
    ),
    _string_row(
        "getdel", 2, "write fast", strings.cmd_getdel, KeySpec(1, flags=("RW", "access", "delete")),
        "@write @string @fast", "Get the value of a key and delete the key", "6.2.0", (_key(),),
    ),
    _string_row(
        "getex", -2, "write fast", strings.cmd_getex,
        KeySpec(
            1, flags=("RW", "access", "update"), notes="RW and UPDATE because it changes the TTL"
        ),
        "@write @string @fast", "Get the value of a key and optionally set its expiration", "6.2.0",
        (
            _key(),
            _oneof(
                "expiration",
                _integer("seconds", token="EX"),
                _integer("milliseconds", token="PX"),
                Arg("unix-time-seconds", "unix-time", token="EXAT"),
                Arg("unix-time-milliseconds", "unix-time", token="PXAT"),
                _token("persist", "PERSIST"),
                flags=OPTIONAL,
            ),
        ),
        prepare=strings.prepare_getex,
    ),
    _string_row(
        "mget", -2, "readonly fast", strings.cmd_mget, KeySpec(1, -1, flags=("RO", "access")),
        "@read @string @fast", "Get the values of all the given keys", "1.0.0", _KEYS_MULTIPLE,
        complexity="O(N) where N is the number of keys to retrieve.",
        tips=("request_policy:multi_shard",),
    ),
    _string_row(
        "mset", -3, "write denyoom", strings.cmd_mset, KeySpec(1, -1, 2, flags=("OW", "update")),
        "@write @string @slow", "Set multiple keys to multiple values", "1.0.1", (_KEY_VALUE,),
        complexity="O(N) where N is the number of keys to set.",
        prepare=strings.prepare_mset,
        tips=("request_policy:multi_shard", "response_policy:all_succeeded"),
    ),
    _string_row(
        "msetnx", -3, "write denyoom", strings.cmd_msetnx,
        KeySpec(1, -1, 2, flags=("OW", "insert")),
        "@write @string @slow",
        "Set multiple keys to multiple values, only if none of the keys exist", "1.0.1",
        (_KEY_VALUE,),
        complexity="O(N) where N is the number of keys to set.",
        prepare=strings.prepare_mset,
        tips=("request_policy:multi_shard", "response_policy:agg_min"),
    ),
    _string_row(
        "incr", 2, "write denyoom fast", counters.cmd_incr, _RW_UPDATE,
        "@write @string @fast", "Increment the integer value of a key by one", "1.0.0", (_key(),),
    ),
    _string_row(
        "decr", 2, "write denyoom fast", counters.cmd_decr, _RW_UPDATE,
        "@write @string @fast", "Decrement the integer value of a key by one", "1.0.0", (_key(),),
    ),
    _string_row(
        "incrby", 3, "write denyoom fast", counters.cmd_incrby, _RW_UPDATE,
        "@write @string @fast", "Increment the integer value of a key by the given amount", "1.0.0",
        (_key(), _integer("increment")),
        prepare=counters.prepare_incrby,
    ),
    _string_row(
        "decrby", 3, "write denyoom fast", counters.cmd_decrby, _RW_UPDATE,
        "@write @string @fast", "Decrement the integer value of a key by the given number", "1.0.0",
        (_key(), _integer("decrement")),
        prepare=counters.prepare_incrby,
    ),
    _string_row(
        "incrbyfloat", 3, "write denyoom fast", counters.cmd_incrbyfloat, _RW_UPDATE,
        "@write @string @fast", "Increment the float value of a key by the given amount", "2.6.0",
        (_key(), Arg("increment", "double")),
    ),
    _string_row(
        "append", 3, "write denyoom fast", strings.cmd_append, KeySpec(1, flags=("RW", "insert")),
        "@write @string @fast", "Append a value to a key", "2.0.0", (_key(), _string("value")),
        complexity=(
            "O(1). The amortized time complexity is O(1) assuming the appended value is small "
            "and the already present value is of any size, since the dynamic string library "
            "used by Redis will double the free space available on every reallocation."
        ),
    ),
    _string_row(
        "strlen", 2, "readonly fast", strings.cmd_strlen, _RO_PLAIN,
        "@read @string @fast", "Get the length of the value stored in a key", "2.2.0", (_key(),),
    ),
    _string_row(
        "getrange", 4, "readonly", strings.cmd_getrange, _RO,
        "@read @string @slow", "Get a substring of the string stored at a key", "2.4.0",
        (_key(), _integer("start"), _integer("end")),
        complexity=(
            "O(N) where N is the length of the returned string. The complexity is ultimately "
            "determined by the returned length, but because creating a substring from an "
            "existing string is very cheap, it can be considered O(1) for small strings."
        ),
        prepare=strings.prepare_getrange,
    ),
    _string_row(
        "substr", 4, "readonly", strings.cmd_getrange, _RO,
        "@read @string @slow", "Get a substring of the string stored at a key", "1.0.0",
        (_key(), _integer("start"), _integer("end")),
        complexity=(
            "O(N) where N is the length of the returned string. The complexity is ultimately "
            "determined by the returned length, but because creating a substring from an "
            "existing string is very cheap, it can be considered O(1) for small strings."
        ),
        prepare=objects.prepare_substr, doc_flags=("deprecated",), deprecated_since="2.0.0",
        replaced_by="`GETRANGE`",
    ),
    _string_row(
        "setrange", 4, "write denyoom", strings.cmd_setrange, KeySpec(1, flags=("RW", "update")),
        "@write @string @slow",
        "Overwrite part of a string at key starting at the specified offset", "2.2.0",
        (_key(), _integer("offset"), _string("value")),
        complexity=(
            "O(1), not counting the time taken to copy the new string in place. Usually, this "
            "string is very small so the amortized complexity is O(1). Otherwise, complexity is "
            "O(M) with M being the length of the value argument."
        ),
        prepare=strings.prepare_setrange,
    ),
    _string_row(
        "lcs", -3, "readonly", lcs.cmd_lcs, KeySpec(1, 1, flags=("RO", "access")),
        "@read @string @slow", "Find longest common substring", "7.0.0",
        (
            _key("key1"),
            _key("key2"),
            _token("len", "LEN", flags=OPTIONAL),
            _token("idx", "IDX", flags=OPTIONAL),
            _integer("len", token="MINMATCHLEN", flags=OPTIONAL),
            _token("withmatchlen", "WITHMATCHLEN", flags=OPTIONAL),
        ),
        complexity="O(N*M) where N and M are the lengths of s1 and s2, respectively",
    ),
)

_BIT_INDEX_UNIT = _oneof(
    "index_unit", _token("byte", "BYTE"), _token("bit", "BIT"), since="7.0.0", flags=OPTIONAL
)
_BIT_UNIT_HISTORY = (("7.0.0", "Added the `BYTE|BIT` option."),)
_RO_ACCESS = KeySpec(1, flags=("RO", "access"))

BITMAP_COMMANDS: tuple[CommandSpec, ...] = (
    _generic_row(
        "setbit", 4, "write denyoom", bitmaps.cmd_setbit,
        (KeySpec(1, flags=("RW", "access", "update")),),
        "@write @bitmap @slow",
        "Sets or clears the bit at offset in the string value stored at key", "2.2.0",
        (_key(), _integer("offset"), _integer("value")),
        group="bitmap",
        prepare=bitmaps.prepare_setbit,
    ),
    _generic_row(
        "getbit", 3, "readonly fast", bitmaps.cmd_getbit, (_RO_ACCESS,),
        "@read @bitmap @fast",
        "Returns the bit value at offset in the string value stored at key", "2.2.0",
        (_key(), _integer("offset")),
        group="bitmap",
        prepare=bitmaps.prepare_getbit,
    ),
    _generic_row(
        "bitcount", -2, "readonly", bitmaps.cmd_bitcount, (_RO_ACCESS,),
        "@read @bitmap @slow", "Count set bits in a string", "2.6.0",
        (
            _key(),
            _block(
                "index", _integer("start"), _integer("end"), _BIT_INDEX_UNIT, flags=OPTIONAL
            ),
        ),
        complexity="O(N)",
        group="bitmap",
        history=_BIT_UNIT_HISTORY,
    ),
    _generic_row(
        "bitpos", -3, "readonly", bitmaps.cmd_bitpos, (_RO_ACCESS,),
        "@read @bitmap @slow", "Find first bit set or clear in a string", "2.8.7",
        (
            _key(),
            _integer("bit"),
            _block(
                "index",
                _integer("start"),
                _block("end_index", _integer("end"), _BIT_INDEX_UNIT, flags=OPTIONAL),
                flags=OPTIONAL,
            ),
        ),
        complexity="O(N)",
        group="bitmap",
        history=_BIT_UNIT_HISTORY,
        prepare=bitmaps.prepare_bitpos,
    ),
    _generic_row(
        "bitop", -4, "write denyoom", bitmaps.cmd_bitop,
        (KeySpec(2, flags=("OW", "update")), KeySpec(3, -1, flags=("RO", "access"))),
        "@write @bitmap @slow", "Perform bitwise operations between strings", "2.6.0",
        (_string("operation"), _key("destkey"), _key("key", 1, flags=MULTIPLE)),
        complexity="O(N)",
        group="bitmap",
        prepare=bitmaps.prepare_bitop,
    ),
    _generic_row(
        "bitfield", -2, "write denyoom", bitfield.cmd_bitfield,
        (
            KeySpec(
                1, flags=("RW", "access", "update", "variable_flags"),
                notes="This command allows both access and modification of the key",
                flags_of=bitfield.key_flags,
            ),
        ),
        "@write @bitmap @slow", "Perform arbitrary bitfield integer operations on strings",
        "3.2.0",
        (
            _key(),
            _oneof(
                "operation",
                _block("encoding_offset", _string("encoding"), _integer("offset"), token="GET"),
                _block(
                    "write",
                    _oneof(
                        "wrap_sat_fail", _token("wrap", "WRAP"), _token("sat", "SAT"),
                        _token("fail", "FAIL"), token="OVERFLOW", flags=OPTIONAL,
                    ),
                    _oneof(
                        "write_operation",
                        _block(
                            "encoding_offset_value", _string("encoding"), _integer("offset"),
                            _integer("value"), token="SET",
                        ),
                        _block(
                            "encoding_offset_increment", _string("encoding"),
                            _integer("offset"), _integer("increment"), token="INCRBY",
                        ),
                    ),
                ),
                flags=(*OPTIONAL, *MULTIPLE),
            ),
        ),
        complexity="O(1) for each subcommand specified",
        group="bitmap",
        prepare=bitfield.prepare_bitfield,
    ),
    _generic_row(
        "bitfield_ro", -2, "readonly fast", bitfield.cmd_bitfield_ro, (_RO_ACCESS,),
        "@read @bitmap @fast",
        "Perform arbitrary bitfield integer operations on strings. Read-only variant of "
        "BITFIELD", "6.0.0",
        (
            _key(),
            _block(
                "encoding_offset", _string("encoding"), _integer("offset"), token="GET",
                flags=(*OPTIONAL, *MULTIPLE, "multiple_token"),
            ),
        ),
        complexity="O(1) for each subcommand specified",
        group="bitmap",
        prepare=bitfield.prepare_bitfield_ro,
    ),
)

HYPERLOGLOG_COMMANDS: tuple[CommandSpec, ...] = (
    _generic_row(
        "pfadd", -2, "write denyoom fast", hyperloglog.cmd_pfadd,
        (KeySpec(1, flags=("RW", "insert")),),
        "@write @hyperloglog @fast",
        "Adds the specified elements to the specified HyperLogLog.", "2.8.9",
        (_key(), _string("element", flags=(*OPTIONAL, *MULTIPLE))),
        complexity="O(1) to add every element.",
        group="hyperloglog",
    ),
    _generic_row(
        # ``replicated``: a single-key PFCOUNT stores the cardinality it computes in the
        # value, so every replica runs it (see ``hyperloglog``); Redis flags it readonly.
        "pfcount", -2, "readonly replicated", hyperloglog.cmd_pfcount,
        (
            KeySpec(
                1, -1, flags=("RW", "access"),
                notes="RW because it may change the internal representation of the key, "
                "and propagate to replicas",
            ),
        ),
        "@read @hyperloglog @slow",
        "Return the approximated cardinality of the set(s) observed by the HyperLogLog at "
        "key(s).", "2.8.9",
        (_key(flags=MULTIPLE),),
        complexity="O(1) with a very small average constant time when called with a single "
        "key. O(N) with N being the number of keys, and much bigger constant times, when "
        "called with multiple keys.",
        group="hyperloglog",
    ),
    _generic_row(
        "pfmerge", -2, "write denyoom", hyperloglog.cmd_pfmerge,
        (KeySpec(1, flags=("RW", "access", "insert")), KeySpec(2, -1, flags=("RO", "access"))),
        "@write @hyperloglog @slow", "Merge N different HyperLogLogs into a single one.", "2.8.9",
        (_key("destkey"), _key("sourcekey", 1, flags=MULTIPLE)),
        complexity="O(N) to merge N HyperLogLogs, but with high constant times.",
        group="hyperloglog",
    ),
)

_SERIALIZE_COMPLEXITY = (
    "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of "
    "Redis objects composing the value and M their average size. For small string values the "
    "time complexity is thus O(1)+O(1*M) where M is small, so simply O(1)."
)

DUMP_COMMANDS: tuple[CommandSpec, ...] = (
    _generic_row(
        "dump", 2, "readonly", dump.cmd_dump, (KeySpec(1, flags=("RO", "access")),),
        "@keyspace @read @slow",
        "Return a serialized version of the value stored at the specified key.", "2.6.0",
        (_key(),),
        complexity=_SERIALIZE_COMPLEXITY,
        tips=("nondeterministic_output",),
    ),
    _generic_row(
        "restore", -4, "write denyoom", dump.cmd_restore, (KeySpec(1, flags=("OW", "update")),),
        "@keyspace @write @slow @dangerous",
        "Create a key using the provided serialized value, previously obtained using DUMP.",
        "2.6.0",
        (
            _key(),
            _integer("ttl"),
            _string("serialized-value"),
            _token("replace", "REPLACE", since="3.0.0", flags=OPTIONAL),
            _token("absttl", "ABSTTL", since="5.0.0", flags=OPTIONAL),
            _integer("seconds", token="IDLETIME", since="5.0.0", flags=OPTIONAL),
            _integer("frequency", token="FREQ", since="5.0.0", flags=OPTIONAL),
        ),
        complexity=(
            "O(1) to create the new key and additional O(N*M) to reconstruct the serialized "
            "value, where N is the number of Redis objects composing the value and M their "
            "average size. For small string values the time complexity is thus O(1)+O(1*M) "
            "where M is small, so simply O(1). However for sorted set values the complexity "
            "is O(N*M*log(N)) because inserting values into sorted sets is O(log(N))."
        ),
        history=(
            ("3.0.0", "Added the `REPLACE` modifier."),
            ("5.0.0", "Added the `ABSTTL` modifier."),
            ("5.0.0", "Added the `IDLETIME` and `FREQ` options."),
        ),
        prepare=dump.prepare_restore,
    ),
)

_SORT_COMPLEXITY = (
    "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the "
    "number of returned elements. When the elements are not sorted, complexity is O(N)."
)
_SORT_PATTERNS = KeySpec(
    1, flags=("RO", "access"), finder=sort.no_positions, unnamed_reads=sort.reads_unnamed_keys,
    notes="For the optional BY/GET keyword. It is marked 'unknown' because the key names derive "
    "from the content of the key we sort",
)
_SORT_OPTIONS = (
    Arg("pattern", "pattern", key_spec_index=1, token="BY", flags=OPTIONAL),
    _block("offset_count", _integer("offset"), _integer("count"), token="LIMIT", flags=OPTIONAL),
    Arg(
        "pattern", "pattern", key_spec_index=1, token="GET",
        flags=("optional", "multiple", "multiple_token"),
    ),
    _oneof("order", _token("asc", "ASC"), _token("desc", "DESC"), flags=OPTIONAL),
    _token("sorting", "ALPHA", flags=OPTIONAL),
)
"""SORT's and SORT_RO's arguments after the key (SORT's STORE follows them)."""

SORT_COMMANDS: tuple[CommandSpec, ...] = (
    _generic_row(
        "sort", -2, "write denyoom", sort.cmd_sort,
        (
            _RO_ACCESS,
            _SORT_PATTERNS,
            KeySpec(
                1, flags=("OW", "update"), finder=sort.store_positions,
                notes="For the optional STORE keyword. It is marked 'unknown' because the "
                "keyword can appear anywhere in the argument array",
            ),
        ),
        "@write @set @sortedset @list @slow @dangerous",
        "Sort the elements in a list, set or sorted set", "1.0.0",
        (_key(), *_SORT_OPTIONS, Arg("destination", "key", 2, token="STORE", flags=OPTIONAL)),
        complexity=_SORT_COMPLEXITY,
        prepare=sort.prepare_sort,
    ),
    _generic_row(
        "sort_ro", -2, "readonly", sort.cmd_sort, (_RO_ACCESS, _SORT_PATTERNS),
        "@read @set @sortedset @list @slow @dangerous",
        "Sort the elements in a list, set or sorted set. Read-only variant of SORT.", "7.0.0",
        (_key(), *_SORT_OPTIONS),
        complexity=_SORT_COMPLEXITY,
        prepare=sort.prepare_sort,
    ),
)

_FIELD_VALUE = _block("field_value", _string("field"), _string("value"), flags=MULTIPLE)
_COLLECTION_SCAN_ARGUMENTS = (
    _integer("cursor"),
    Arg("pattern", "pattern", token="MATCH", flags=OPTIONAL),
    _integer("count", token="COUNT", flags=OPTIONAL),
)
"""HSCAN, SSCAN and ZSCAN's arguments after the key."""
_COLLECTION_SCAN = (
    "O(1) for every call. O(N) for a complete iteration, including enough command calls for "
    "the cursor to return back to 0. N is the number of elements inside the collection.."
)
_WHOLE_HASH = "O(N) where N is the size of the hash."


def _one_key_row(
    group: str,
    name: str,
    arity: int,
    flags: str,
    handler: Handler,
    key_flags: tuple[str, ...],
    acl: str,
    summary: str,
    since: str,
    arguments: tuple[Arg, ...] = (),
    complexity: str = "O(1)",
    **rest: Unpack[_Extras],
) -> CommandSpec:
    """A row of a data-type group whose one key sits at index 1 (``arguments``: the rest)."""
    return _generic_row(
        name, arity, flags, handler, (KeySpec(1, flags=key_flags),), acl, summary, since,
        (_key(), *arguments), complexity, group=group, **rest,
    )


_hash_row = partial(_one_key_row, "hash")
_list_row = partial(_one_key_row, "list")


HASH_COMMANDS: tuple[CommandSpec, ...] = (
    _hash_row(
        "hdel", -3, "write fast", hashes.cmd_hdel, ("RW", "delete"),
        "@write @hash @fast", "Delete one or more hash fields", "2.0.0",
        (_string("field", flags=MULTIPLE),),
        "O(N) where N is the number of fields to be removed.",
        history=(("2.4.0", "Accepts multiple `field` arguments."),),
    ),
    _hash_row(
        "hexists", 3, "readonly fast", hashes.cmd_hexists, ("RO",),
        "@read @hash @fast", "Determine if a hash field exists", "2.0.0", (_string("field"),),
    ),
    _hash_row(
        "hget", 3, "readonly fast", hashes.cmd_hget, ("RO", "access"),
        "@read @hash @fast", "Get the value of a hash field", "2.0.0", (_string("field"),),
    ),
    _hash_row(
        "hgetall", 2, "readonly", hashes.cmd_hgetall, ("RO", "access"),
        "@read @hash @slow", "Get all the fields and values in a hash", "2.0.0",
        complexity=_WHOLE_HASH,
        tips=("nondeterministic_output_order",),
    ),
    _hash_row(
        "hincrby", 4, "write denyoom fast", hashes.cmd_hincrby, ("RW", "access", "update"),
        "@write @hash @fast", "Increment the integer value of a hash field by the given number",
        "2.0.0", (_string("field"), _integer("increment")),
        prepare=hashes.prepare_hincrby,
    ),
    _hash_row(
        "hincrbyfloat", 4, "write denyoom fast", hashes.cmd_hincrbyfloat,
        ("RW", "access", "update"),
        "@write @hash @fast", "Increment the float value of a hash field by the given amount",
        "2.6.0", (_string("field"), Arg("increment", "double")),
        prepare=hashes.prepare_hincrbyfloat,
    ),
    _hash_row(
        "hkeys", 2, "readonly", hashes.cmd_hkeys, ("RO", "access"),
        "@read @hash @slow", "Get all the fields in a hash", "2.0.0",
        complexity=_WHOLE_HASH,
        tips=("nondeterministic_output_order",),
    ),
    _hash_row(
        "hlen", 2, "readonly fast", hashes.cmd_hlen, ("RO",),
        "@read @hash @fast", "Get the number of fields in a hash", "2.0.0",
    ),
    _hash_row(
        "hmget", -3, "readonly fast", hashes.cmd_hmget, ("RO", "access"),
        "@read @hash @fast", "Get the values of all the given hash fields", "2.0.0",
        (_string("field", flags=MULTIPLE),),
        "O(N) where N is the number of fields being requested.",
    ),
    _hash_row(
        "hmset", -4, "write denyoom fast", hashes.cmd_hset, ("RW", "update"),
        "@write @hash @fast", "Set multiple hash fields to multiple values", "2.0.0",
        (_FIELD_VALUE,), "O(N) where N is the number of fields being set.",
        prepare=hashes.prepare_hset,
        doc_flags=("deprecated",),
        deprecated_since="4.0.0",
        replaced_by="`HSET` with multiple field-value pairs",
    ),
    _hash_row(
        "hrandfield", -2, "readonly", hashes.cmd_hrandfield, ("RO", "access"),
        "@read @hash @slow", "Get one or multiple random fields from a hash", "6.2.0",
        (
            _block(
                "options", _integer("count"),
                _token("withvalues", "WITHVALUES", flags=OPTIONAL), flags=OPTIONAL,
            ),
        ),
        "O(N) where N is the number of fields returned",
        prepare=hashes.prepare_hrandfield,
        tips=("nondeterministic_output",),
    ),
    _hash_row(
        "hscan", -3, "readonly", hashes.cmd_hscan, ("RO", "access"),
        "@read @hash @slow", "Incrementally iterate hash fields and associated values", "2.8.0",
        _COLLECTION_SCAN_ARGUMENTS, _COLLECTION_SCAN,
        prepare=keyspace.prepare_collection_scan,
        tips=("nondeterministic_output",),
    ),
    _hash_row(
        "hset", -4, "write denyoom fast", hashes.cmd_hset, ("RW", "update"),
        "@write @hash @fast", "Set the string value of a hash field", "2.0.0", (_FIELD_VALUE,),
        "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the "
        "command is called with multiple field/value pairs.",
        prepare=hashes.prepare_hset,
        history=(("4.0.0", "Accepts multiple `field` and `value` arguments."),),
    ),
    _hash_row(
        "hsetnx", 4, "write denyoom fast", hashes.cmd_hsetnx, ("RW", "insert"),
        "@write @hash @fast", "Set the value of a hash field, only if the field does not exist",
        "2.0.0", (_string("field"), _string("value")),
    ),
    _hash_row(
        "hstrlen", 3, "readonly fast", hashes.cmd_hstrlen, ("RO",),
        "@read @hash @fast", "Get the length of the value of a hash field", "3.2.0",
        (_string("field"),),
    ),
    _hash_row(
        "hvals", 2, "readonly", hashes.cmd_hvals, ("RO", "access"),
        "@read @hash @slow", "Get all the values in a hash", "2.0.0",
        complexity=_WHOLE_HASH,
        tips=("nondeterministic_output_order",),
    ),
)

_SET_ALGEBRA = "O(N) where N is the total number of elements in all given sets."
_SET_INTERSECTION = (
    "O(N*M) worst case where N is the cardinality of the smallest set and M is the number "
    "of sets."
)
_MEMBERS = (_string("member", flags=MULTIPLE),)
_STORE_KEYS = (_key("destination"), _key("key", 1, flags=MULTIPLE))


_set_row = partial(_generic_row, group="set")
_NUMKEYS = _integer("numkeys")
_COUNTED_KEYS = (_NUMKEYS, _key(flags=MULTIPLE))
"""``numkeys key [key ...]``: the keys of a keynum spec."""
_COUNTED_KEYS_READ = KeySpec(1, flags=("RO", "access"), keynumidx=0)
_CARD_LIMIT = _integer("limit", token="LIMIT", flags=OPTIONAL)
_MPOP_COUNT = _integer("count", token="COUNT", flags=OPTIONAL)
_TIMEOUT = Arg("timeout", "double")
_TIMEOUT_HISTORY = (("6.0.0", "`timeout` is interpreted as a double instead of an integer."),)


def _mpop_row(name: str, handler: Handler, group: str, summary: str, where: Arg,
              complexity: str, prepare: Prepare) -> CommandSpec:  # fmt: skip
    """ZMPOP and LMPOP (``numkeys key... where [COUNT count]``), and their blocking forms
    BZMPOP and BLMPOP, which take a ``timeout`` first (so their keys begin one later)."""
    block = name.startswith("b")
    category = "@sortedset" if group == "sorted-set" else f"@{group}"
    return _generic_row(
        name, -5 if block else -4, "write blocking" if block else "write", handler,
        (KeySpec(2 if block else 1, flags=("RW", "access", "delete"), keynumidx=0),),
        f"@write {category} @slow" + (" @blocking" if block else ""), summary, "7.0.0",
        ((_TIMEOUT,) if block else ()) + (*_COUNTED_KEYS, where, _MPOP_COUNT), complexity,
        group=group, prepare=prepare,
    )


def _blocking_pop_row(name: str, summary: str) -> CommandSpec:
    """BLPOP and BRPOP, BZPOPMIN and BZPOPMAX: ``key [key ...] timeout``."""
    if name.startswith("bz"):
        flags, handler, acl = "fast", zsets.cmd_bzpop, "@write @sortedset @fast @blocking"
        since, complexity, group = "5.0.0", _ZSET_LOG_N, "sorted-set"
    else:
        flags, handler, acl = "", lists.cmd_blocking_pop, "@write @list @slow @blocking"
        since, complexity = "2.0.0", "O(N) where N is the number of provided keys."
        group = "list"
    return _generic_row(
        name, -3, f"write noscript blocking {flags}", handler,
        (KeySpec(1, -2, flags=("RW", "access", "delete")),), acl, summary, since,
        (_key(flags=MULTIPLE), _TIMEOUT), complexity,
        group=group, prepare=blocking.prepare_blocking, history=_TIMEOUT_HISTORY,
    )


def _set_store_row(name: str, handler: Handler, dest_flags: tuple[str, ...], summary: str,
                   complexity: str) -> CommandSpec:  # fmt: skip
    """SINTERSTORE, SUNIONSTORE, SDIFFSTORE: a destination, then the sets."""
    return _set_row(
        name, -3, "write denyoom", handler,
        (KeySpec(1, flags=dest_flags), KeySpec(2, -1, flags=("RO", "access"))),
        "@write @set @slow", summary, "1.0.0", _STORE_KEYS, complexity,
    )


_ONE_SET = (KeySpec(1, flags=("RO", "access")),)
_ONE_SET_PLAIN = (KeySpec(1, flags=("RO",)),)
_SETS = (KeySpec(1, -1, flags=("RO", "access")),)

SET_COMMANDS: tuple[CommandSpec, ...] = (
    _set_row(
        "sadd", -3, "write denyoom fast", sets.cmd_sadd, (KeySpec(1, flags=("RW", "insert")),),
        "@write @set @fast", "Add one or more members to a set", "1.0.0", (_key(), *_MEMBERS),
        "O(1) for each element added, so O(N) to add N elements when the command is called "
        "with multiple arguments.",
        history=(("2.4.0", "Accepts multiple `member` arguments."),),
    ),
    _set_row(
        "scard", 2, "readonly fast", sets.cmd_scard, _ONE_SET_PLAIN,
        "@read @set @fast", "Get the number of members in a set", "1.0.0", (_key(),),
    ),
    _set_row(
        "sdiff", -2, "readonly", sets.cmd_sdiff, _SETS, "@read @set @slow",
        "Subtract multiple sets", "1.0.0", _KEYS_MULTIPLE, _SET_ALGEBRA,
        tips=("nondeterministic_output_order",),
    ),
    _set_store_row(
        "sdiffstore", sets.cmd_sdiffstore, ("OW", "update"),
        "Subtract multiple sets and store the resulting set in a key", _SET_ALGEBRA,
    ),
    _set_row(
        "sinter", -2, "readonly", sets.cmd_sinter, _SETS, "@read @set @slow",
        "Intersect multiple sets", "1.0.0", _KEYS_MULTIPLE, _SET_INTERSECTION,
        tips=("nondeterministic_output_order",),
    ),
    _set_row(
        "sintercard", -3, "readonly", sets.cmd_sintercard, (_COUNTED_KEYS_READ,),
        "@read @set @slow", "Intersect multiple sets and return the cardinality of the result",
        "7.0.0", (*_COUNTED_KEYS, _CARD_LIMIT), _SET_INTERSECTION,
        prepare=sets.prepare_sintercard,
    ),
    _set_store_row(
        "sinterstore", sets.cmd_sinterstore, ("RW", "update"),
        "Intersect multiple sets and store the resulting set in a key", _SET_INTERSECTION,
    ),
    _set_row(
        "sismember", 3, "readonly fast", sets.cmd_sismember, _ONE_SET_PLAIN,
        "@read @set @fast", "Determine if a given value is a member of a set", "1.0.0",
        (_key(), _string("member")),
    ),
    _set_row(
        "smembers", 2, "readonly", sets.cmd_smembers, _ONE_SET, "@read @set @slow",
        "Get all the members in a set", "1.0.0", (_key(),),
        "O(N) where N is the set cardinality.",
        tips=("nondeterministic_output_order",),
    ),
    _set_row(
        "smismember", -3, "readonly fast", sets.cmd_smismember, _ONE_SET, "@read @set @fast",
        "Returns the membership associated with the given elements for a set", "6.2.0",
        (_key(), *_MEMBERS),
        "O(N) where N is the number of elements being checked for membership",
    ),
    _set_row(
        "smove", 4, "write fast", sets.cmd_smove,
        (KeySpec(1, flags=("RW", "access", "delete")), KeySpec(2, flags=("RW", "insert"))),
        "@write @set @fast", "Move a member from one set to another", "1.0.0",
        (_key("source"), _key("destination", 1), _string("member")),
    ),
    _set_row(
        "spop", -2, "write fast", sets.cmd_spop, (KeySpec(1, flags=("RW", "access", "delete")),),
        "@write @set @fast", "Remove and return one or multiple random members from a set",
        "1.0.0", (_key(), _integer("count", since="3.2.0", flags=OPTIONAL)),
        "Without the count argument O(1), otherwise O(N) where N is the value of the passed "
        "count.",
        prepare=sets.prepare_spop,
        history=(("3.2.0", "Added the `count` argument."),),
        tips=("nondeterministic_output",),
    ),
    _set_row(
        "srandmember", -2, "readonly", sets.cmd_srandmember, _ONE_SET, "@read @set @slow",
        "Get one or multiple random members from a set", "1.0.0",
        (_key(), _integer("count", since="2.6.0", flags=OPTIONAL)),
        "Without the count argument O(1), otherwise O(N) where N is the absolute value of the "
        "passed count.",
        prepare=sets.prepare_srandmember,
        history=(("2.6.0", "Added the optional `count` argument."),),
        tips=("nondeterministic_output",),
    ),
    _set_row(
        "srem", -3, "write fast", sets.cmd_srem, (KeySpec(1, flags=("RW", "delete")),),
        "@write @set @fast", "Remove one or more members from a set", "1.0.0",
        (_key(), *_MEMBERS), "O(N) where N is the number of members to be removed.",
        history=(("2.4.0", "Accepts multiple `member` arguments."),),
    ),
    _set_row(
        "sscan", -3, "readonly", sets.cmd_sscan, _ONE_SET, "@read @set @slow",
        "Incrementally iterate Set elements", "2.8.0",
        (_key(), *_COLLECTION_SCAN_ARGUMENTS), _COLLECTION_SCAN,
        prepare=keyspace.prepare_collection_scan,
        tips=("nondeterministic_output",),
    ),
    _set_row(
        "sunion", -2, "readonly", sets.cmd_sunion, _SETS, "@read @set @slow",
        "Add multiple sets", "1.0.0", _KEYS_MULTIPLE, _SET_ALGEBRA,
        tips=("nondeterministic_output_order",),
    ),
    _set_store_row(
        "sunionstore", sets.cmd_sunionstore, ("OW", "update"),
        "Add multiple sets and store the resulting set in a key", _SET_ALGEBRA,
    ),
)

_zset_row = partial(_generic_row, group="sorted-set")
_ZSET_READ = (KeySpec(1, flags=("RO", "access")),)
_ZSET_REMOVE = (KeySpec(1, flags=("RW", "delete")),)
_ZSET_POP = (KeySpec(1, flags=("RW", "access", "delete")),)
_ZSET_LIMIT = _block(
    "offset_count", _integer("offset"), _integer("count"), token="LIMIT", flags=OPTIONAL
)
_WITHSCORES = _token("withscores", "WITHSCORES", flags=OPTIONAL)
_LEX_BOUNDS = (_key(), _string("min"), _string("max"))
_SCORE_BOUNDS = (_key(), Arg("min", "double"), Arg("max", "double"))
_ZSET_LOG_N = "O(log(N)) with N being the number of elements in the sorted set."
_ZSET_RANGE = (
    "O(log(N)+M) with N being the number of elements in the sorted set and M the number of "
    "elements returned."
)
_ZSET_RANGE_LIMIT = (
    "O(log(N)+M) with N being the number of elements in the sorted set and M the number of "
    "elements being returned. If M is constant (e.g. always asking for the first 10 elements "
    "with LIMIT), you can consider it O(log(N))."
)
_ZSET_REMOVED = (
    "O(log(N)+M) with N being the number of elements in the sorted set and M the number of "
    "elements removed by the operation."
)
_ZSET_POPPED = (
    "O(log(N)*M) with N being the number of elements in the sorted set, and M being the "
    "number of elements popped."
)
_ZSET_MULTIPLE = "Accepts multiple elements."
_ZSET_WEIGHTS = (
    _integer("weight", token="WEIGHTS", flags=("optional", "multiple")),
    _oneof("aggregate", _token("sum", "SUM"), _token("min", "MIN"), _token("max", "MAX"),
           token="AGGREGATE", flags=OPTIONAL),
)  # fmt: skip
_ZSET_UNION = (
    "O(N)+O(M{}log(M)) with N being the sum of the sizes of the input sorted sets, and M "
    "being the number of elements in the resulting sorted set."
)
_ZSET_INTER = (
    "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the "
    "number of input sorted sets and M being the number of elements in the resulting sorted "
    "set."
)
_ZSET_DIFF = (
    "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N "
    "is the size of the first set, and K is the size of the result set."
)


def _zalgebra_row(name: str, summary: str, since: str, options: tuple[Arg, ...],
                  complexity: str) -> CommandSpec:  # fmt: skip
    """ZUNION, ZINTER, ZDIFF (``numkeys key...``) and their STORE forms (a destination
    first), all run by ``zsets.cmd_algebra``."""
    if name.endswith("store"):
        return _zset_row(
            name, -4, "write denyoom", zsets.cmd_algebra,
            (KeySpec(1, flags=("OW", "update")), KeySpec(2, flags=("RO", "access"), keynumidx=0)),
            "@write @sortedset @slow", summary, since,
            (_key("destination"), _NUMKEYS, _key(index=1, flags=MULTIPLE), *options), complexity,
            prepare=zsets.prepare_algebra,
        )
    return _zset_row(
        name, -3, "readonly", zsets.cmd_algebra, (_COUNTED_KEYS_READ,), "@read @sortedset @slow",
        summary, since, (*_COUNTED_KEYS, *options), complexity, prepare=zsets.prepare_algebra,
    )


def _zrange_row(name: str, summary: str, since: str, arguments: tuple[Arg, ...],
                replacement: str, history: tuple[tuple[str, str], ...] = ()
                ) -> CommandSpec:  # fmt: skip
    """ZREVRANGE, ZRANGEBYSCORE, ZRANGEBYLEX and their REV forms: deprecated ZRANGE forms."""
    return _zset_row(
        name, -4, "readonly", zsets.cmd_zrange, _ZSET_READ, "@read @sortedset @slow", summary,
        since, arguments, _ZSET_RANGE if name == "zrevrange" else _ZSET_RANGE_LIMIT,
        prepare=zsets.prepare_range, doc_flags=("deprecated",), deprecated_since="6.2.0",
        replaced_by=replacement, history=history,
    )


def _zremrange_row(name: str, summary: str, since: str, arguments: tuple[Arg, ...]) -> CommandSpec:
    return _zset_row(
        name, 4, "write", zsets.cmd_zremrange, _ZSET_REMOVE, "@write @sortedset @slow", summary,
        since, arguments, _ZSET_REMOVED, prepare=zsets.prepare_zremrange,
    )


def _zpop_row(name: str, summary: str) -> CommandSpec:
    return _zset_row(
        name, -2, "write fast", zsets.cmd_zpop, _ZSET_POP, "@write @sortedset @fast", summary,
        "5.0.0", (_key(), _integer("count", flags=OPTIONAL)), _ZSET_POPPED,
        prepare=zsets.prepare_pop,
    )


_ZSET_WHERE = _oneof("where", _token("min", "MIN"), _token("max", "MAX"))
_ZMPOP_COMPLEXITY = (
    "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of "
    "elements in the sorted set, and M being the number of elements popped."
)

SORTED_SET_COMMANDS: tuple[CommandSpec, ...] = (
    _mpop_row(
        "bzmpop", zsets.cmd_zmpop, "sorted-set",
        "Remove and return members with scores in a sorted set or block until one is "
        "available",
        _ZSET_WHERE, _ZMPOP_COMPLEXITY, zsets.prepare_bzmpop,
    ),
    _blocking_pop_row(
        "bzpopmax",
        "Remove and return the member with the highest score from one or more sorted sets, "
        "or block until one is available",
    ),
    _blocking_pop_row(
        "bzpopmin",
        "Remove and return the member with the lowest score from one or more sorted sets, "
        "or block until one is available",
    ),
    _zset_row(
        "zadd", -4, "write denyoom fast", zsets.cmd_zadd, (KeySpec(1, flags=("RW", "update")),),
        "@write @sortedset @fast",
        "Add one or more members to a sorted set, or update its score if it already exists",
        "1.2.0",
        (
            _key(),
            _oneof("condition", _token("nx", "NX"), _token("xx", "XX"), since="3.0.2",
                   flags=OPTIONAL),
            _oneof("comparison", _token("gt", "GT"), _token("lt", "LT"), since="6.2.0",
                   flags=OPTIONAL),
            _token("change", "CH", since="3.0.2", flags=OPTIONAL),
            _token("increment", "INCR", since="3.0.2", flags=OPTIONAL),
            _block("score_member", Arg("score", "double"), _string("member"), flags=MULTIPLE),
        ),
        "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
        prepare=zsets.prepare_zadd,
        history=(
            ("2.4.0", _ZSET_MULTIPLE),
            ("3.0.2", "Added the `XX`, `NX`, `CH` and `INCR` options."),
            ("6.2.0", "Added the `GT` and `LT` options."),
        ),
    ),
    _zset_row(
        "zcard", 2, "readonly fast", zsets.cmd_zcard, (KeySpec(1, flags=("RO",)),),
        "@read @sortedset @fast", "Get the number of members in a sorted set", "1.2.0", (_key(),),
    ),
    _zset_row(
        "zcount", 4, "readonly fast", zsets.cmd_zcount, _ZSET_READ, "@read @sortedset @fast",
        "Count the members in a sorted set with scores within the given values", "2.0.0",
        _SCORE_BOUNDS, _ZSET_LOG_N,
        prepare=zsets.prepare_count_range,
    ),
    _zalgebra_row(
        "zdiff", "Subtract multiple sorted sets", "6.2.0", (_WITHSCORES,), _ZSET_DIFF,
    ),
    _zalgebra_row(
        "zdiffstore",
        "Subtract multiple sorted sets and store the resulting sorted set in a new key", "6.2.0",
        (), _ZSET_DIFF,
    ),
    _zset_row(
        "zincrby", 4, "write denyoom fast", zsets.cmd_zadd,
        (KeySpec(1, flags=("RW", "access", "update")),), "@write @sortedset @fast",
        "Increment the score of a member in a sorted set", "1.2.0",
        (_key(), _integer("increment"), _string("member")),
        "O(log(N)) where N is the number of elements in the sorted set.",
        prepare=zsets.prepare_zadd,
    ),
    _zalgebra_row(
        "zinter", "Intersect multiple sorted sets", "6.2.0", (*_ZSET_WEIGHTS, _WITHSCORES),
        _ZSET_INTER,
    ),
    _zalgebra_row(
        "zintercard", "Intersect multiple sorted sets and return the cardinality of the result",
        "7.0.0", (_CARD_LIMIT,),
        "O(N*K) worst case with N being the smallest input sorted set, K being the number of "
        "input sorted sets.",
    ),
    _zalgebra_row(
        "zinterstore",
        "Intersect multiple sorted sets and store the resulting sorted set in a new key",
        "2.0.0", _ZSET_WEIGHTS, _ZSET_INTER,
    ),
    _zset_row(
        "zlexcount", 4, "readonly fast", zsets.cmd_zcount, _ZSET_READ, "@read @sortedset @fast",
        "Count the number of members in a sorted set between a given lexicographical range",
        "2.8.9", _LEX_BOUNDS, _ZSET_LOG_N,
        prepare=zsets.prepare_count_range,
    ),
    _zset_row(
        "zmscore", -3, "readonly fast", zsets.cmd_zmscore, _ZSET_READ, "@read @sortedset @fast",
        "Get the score associated with the given members in a sorted set", "6.2.0",
        (_key(), _string("member", flags=MULTIPLE)),
        "O(N) where N is the number of members being requested.",
    ),
    _mpop_row(
        "zmpop", zsets.cmd_zmpop, "sorted-set",
        "Remove and return members with scores in a sorted set", _ZSET_WHERE, _ZMPOP_COMPLEXITY,
        zsets.prepare_zmpop,
    ),
    _zpop_row("zpopmax", "Remove and return members with the highest scores in a sorted set"),
    _zpop_row("zpopmin", "Remove and return members with the lowest scores in a sorted set"),
    _zset_row(
        "zrandmember", -2, "readonly", zsets.cmd_zrandmember, _ZSET_READ,
        "@read @sortedset @slow", "Get one or multiple random elements from a sorted set", "6.2.0",
        (_key(), _block("options", _integer("count"), _WITHSCORES, flags=OPTIONAL)),
        "O(N) where N is the number of elements returned",
        prepare=zsets.prepare_zrandmember,
        tips=("nondeterministic_output",),
    ),
    _zset_row(
        "zrange", -4, "readonly", zsets.cmd_zrange, _ZSET_READ, "@read @sortedset @slow",
        "Return a range of members in a sorted set", "1.2.0",
        (
            _key(),
            _string("start"),
            _string("stop"),
            _oneof("sortby", _token("byscore", "BYSCORE"), _token("bylex", "BYLEX"),
                   since="6.2.0", flags=OPTIONAL),
            _token("rev", "REV", since="6.2.0", flags=OPTIONAL),
            Arg("offset_count", "block", token="LIMIT", since="6.2.0", flags=OPTIONAL,
                arguments=_ZSET_LIMIT.arguments),
            _WITHSCORES,
        ),
        _ZSET_RANGE,
        prepare=zsets.prepare_range,
        history=(("6.2.0", "Added the `REV`, `BYSCORE`, `BYLEX` and `LIMIT` options."),),
    ),
    _zrange_row(
        "zrangebylex", "Return a range of members in a sorted set, by lexicographical range",
        "2.8.9", (*_LEX_BOUNDS, _ZSET_LIMIT), "`ZRANGE` with the `BYLEX` argument",
    ),
    _zrange_row(
        "zrangebyscore", "Return a range of members in a sorted set, by score", "1.0.5",
        (
            *_SCORE_BOUNDS,
            _token("withscores", "WITHSCORES", since="2.0.0", flags=OPTIONAL),
            _ZSET_LIMIT,
        ),
        "`ZRANGE` with the `BYSCORE` argument",
        history=(("2.0.0", "Added the `WITHSCORES` modifier."),),
    ),
    _zset_row(
        "zrangestore", -5, "write denyoom", zsets.cmd_zrangestore,
        (KeySpec(1, flags=("OW", "update")), KeySpec(2, flags=("RO", "access"))),
        "@write @sortedset @slow", "Store a range of members from sorted set into another key",
        "6.2.0",
        (
            _key("dst"),
            _key("src", 1),
            _string("min"),
            _string("max"),
            _oneof("sortby", _token("byscore", "BYSCORE"), _token("bylex", "BYLEX"),
                   flags=OPTIONAL),
            _token("rev", "REV", flags=OPTIONAL),
            _ZSET_LIMIT,
        ),
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of "
        "elements stored into the destination key.",
        prepare=zsets.prepare_range,
    ),
    _zset_row(
        "zrank", 3, "readonly fast", zsets.cmd_zrank, _ZSET_READ, "@read @sortedset @fast",
        "Determine the index of a member in a sorted set", "2.0.0",
        (_key(), _string("member")), "O(log(N))",
    ),
    _zset_row(
        "zrem", -3, "write fast", zsets.cmd_zrem, _ZSET_REMOVE, "@write @sortedset @fast",
        "Remove one or more members from a sorted set", "1.2.0",
        (_key(), _string("member", flags=MULTIPLE)),
        "O(M*log(N)) with N being the number of elements in the sorted set and M the number of "
        "elements to be removed.",
        history=(("2.4.0", _ZSET_MULTIPLE),),
    ),
    _zremrange_row(
        "zremrangebylex",
        "Remove all members in a sorted set between the given lexicographical range", "2.8.9",
        _LEX_BOUNDS,
    ),
    _zremrange_row(
        "zremrangebyrank", "Remove all members in a sorted set within the given indexes",
        "2.0.0", (_key(), _integer("start"), _integer("stop")),
    ),
    _zremrange_row(
        "zremrangebyscore", "Remove all members in a sorted set within the given scores",
        "1.2.0", _SCORE_BOUNDS,
    ),
    _zrange_row(
        "zrevrange",
        "Return a range of members in a sorted set, by index, with scores ordered from high to "
        "low",
        "1.2.0", (_key(), _integer("start"), _integer("stop"), _WITHSCORES),
        "`ZRANGE` with the `REV` argument",
    ),
    _zrange_row(
        "zrevrangebylex",
        "Return a range of members in a sorted set, by lexicographical range, ordered from "
        "higher to lower strings.",
        "2.8.9", (_key(), _string("max"), _string("min"), _ZSET_LIMIT),
        "`ZRANGE` with the `REV` and `BYLEX` arguments",
    ),
    _zrange_row(
        "zrevrangebyscore",
        "Return a range of members in a sorted set, by score, with scores ordered from high to "
        "low",
        "2.2.0",
        (_key(), Arg("max", "double"), Arg("min", "double"), _WITHSCORES, _ZSET_LIMIT),
        "`ZRANGE` with the `REV` and `BYSCORE` arguments",
        history=(("2.1.6", "`min` and `max` can be exclusive."),),
    ),
    _zset_row(
        "zrevrank", 3, "readonly fast", zsets.cmd_zrevrank, _ZSET_READ, "@read @sortedset @fast",
        "Determine the index of a member in a sorted set, with scores ordered from high to low",
        "2.0.0", (_key(), _string("member")), "O(log(N))",
    ),
    _zset_row(
        "zscan", -3, "readonly", zsets.cmd_zscan, _ZSET_READ, "@read @sortedset @slow",
        "Incrementally iterate sorted sets elements and associated scores", "2.8.0",
        (_key(), *_COLLECTION_SCAN_ARGUMENTS), _COLLECTION_SCAN,
        prepare=keyspace.prepare_collection_scan,
        tips=("nondeterministic_output",),
    ),
    _zset_row(
        "zscore", 3, "readonly fast", zsets.cmd_zscore, _ZSET_READ, "@read @sortedset @fast",
        "Get the score associated with the given member in a sorted set", "1.2.0",
        (_key(), _string("member")),
    ),
    _zalgebra_row(
        "zunion", "Add multiple sorted sets", "6.2.0", (*_ZSET_WEIGHTS, _WITHSCORES),
        _ZSET_UNION.format("*"),
    ),
    _zalgebra_row(
        "zunionstore",
        "Add multiple sorted sets and store the resulting sorted set in a new key", "2.0.0",
        _ZSET_WEIGHTS, _ZSET_UNION.format(" "),
    ),
)

_GEO_UNIT = _oneof(
    "unit", _token("m", "M"), _token("km", "KM"), _token("ft", "FT"), _token("mi", "MI")
)
_GEO_WITH = tuple(
    _token(name.lower(), name, flags=OPTIONAL) for name in ("WITHCOORD", "WITHDIST", "WITHHASH")
)
_GEO_ORDER = _oneof("order", _token("asc", "ASC"), _token("desc", "DESC"), flags=OPTIONAL)


def _geo_count(any_since: str | None = None) -> Arg:
    return _block(
        "count", _integer("count", token="COUNT"),
        _token("any", "ANY", since=any_since, flags=OPTIONAL), flags=OPTIONAL,
    )


_GEO_STORE = (
    Arg("key", "key", key_spec_index=1, token="STORE", flags=OPTIONAL),
    Arg("key", "key", key_spec_index=2, token="STOREDIST", flags=OPTIONAL),
)
_GEO_FROM = _oneof(
    "from",
    _string("member", token="FROMMEMBER"),
    _block("longitude_latitude", Arg("longitude", "double"), Arg("latitude", "double"),
           token="FROMLONLAT"),
)
_GEO_BY = _oneof(
    "by",
    _block("circle", Arg("radius", "double", token="BYRADIUS"), _GEO_UNIT),
    _block("box", Arg("width", "double", token="BYBOX"), Arg("height", "double"), _GEO_UNIT),
)
_GEO_UPPERCASE_UNITS = ("7.0.0", "Added support for uppercase unit names.")
_GEO_ANY = ("6.2.0", "Added the `ANY` option for `COUNT`.")
_GEO_SEARCH = (
    "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area "
    "around the shape provided as the filter and M is the number of items inside the shape"
)
_GEO_RADIUS = (
    "O(N+log(M)) where N is the number of elements inside the bounding box of the circular "
    "area delimited by center and radius and M is the number of items inside the index."
)
_GEO_RADIUS_SUMMARY = (
    "Query a sorted set representing a geospatial index to fetch members matching a given "
    "maximum distance from a {}"
)
_GEO_POINT = (_key(), Arg("longitude", "double"), Arg("latitude", "double"))
_GEO_MEMBER = (_key(), _string("member"))


def _geo_row(
    name: str,
    arity: int,
    flags: str,
    handler: Handler,
    key_specs: tuple[KeySpec, ...],
    summary: str,
    since: str,
    arguments: tuple[Arg, ...],
    complexity: str,
    **rest: Unpack[_Extras],
) -> CommandSpec:
    """A row of the ``geo`` group: its ACL categories follow from read or write."""
    acl = "@write @geo @slow" if "write" in flags.split() else "@read @geo @slow"
    return _generic_row(
        name, arity, flags, handler, key_specs, acl, summary, since, arguments, complexity,
        group="geo", **rest,
    )


def _georadius_row(
    name: str, at: str, since: str, head: tuple[Arg, ...], replaced_by: str,
    any_since: str | None, history: tuple[tuple[str, str], ...],
) -> CommandSpec:
    """GEORADIUS, GEORADIUSBYMEMBER and their ``_RO`` forms (deprecated since 6.2.0): the
    write forms take STORE and STOREDIST (keys found by keyword, ``geo.RADIUS_KEYS``)."""
    read_only = name.endswith("_ro")
    by_member = "bymember" in name
    specs = geo.RADIUS_BYMEMBER_KEYS if by_member else geo.RADIUS_KEYS
    return _geo_row(
        name, -5 if by_member else -6, "readonly" if read_only else "write denyoom",
        geo.cmd_search, specs[:1] if read_only else specs,
        f"A read-only variant for {name[:-3].upper()}" if read_only
        else _GEO_RADIUS_SUMMARY.format(at),
        since,
        (*head, Arg("radius", "double"), _GEO_UNIT, *_GEO_WITH, _geo_count(any_since),
         _GEO_ORDER, *(() if read_only else _GEO_STORE)),
        _GEO_RADIUS,
        doc_flags=("deprecated",), deprecated_since="6.2.0", replaced_by=replaced_by,
        history=history,
    )


GEO_COMMANDS: tuple[CommandSpec, ...] = (
    _geo_row(
        "geoadd", -5, "write denyoom", geo.cmd_geoadd, (KeySpec(1, flags=("RW", "update")),),
        "Add one or more geospatial items in the geospatial index represented using a sorted "
        "set", "3.2.0",
        (
            _key(),
            _oneof("condition", _token("nx", "NX"), _token("xx", "XX"), since="6.2.0",
                   flags=OPTIONAL),
            _token("change", "CH", since="6.2.0", flags=OPTIONAL),
            _block("longitude_latitude_member", Arg("longitude", "double"),
                   Arg("latitude", "double"), _string("member"), flags=MULTIPLE),
        ),
        "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
        prepare=geo.prepare_geoadd,
        history=(("6.2.0", "Added the `CH`, `NX` and `XX` options."),),
    ),
    _geo_row(
        "geodist", -4, "readonly", geo.cmd_geodist, (_RO,),
        "Returns the distance between two members of a geospatial index", "3.2.0",
        (_key(), _string("member1"), _string("member2"),
         Arg("unit", "oneof", flags=OPTIONAL, arguments=_GEO_UNIT.arguments)),
        "O(log(N))",
        prepare=geo.prepare_geodist,
    ),
    _geo_row(
        "geohash", -2, "readonly", geo.cmd_geohash, (_RO,),
        "Returns members of a geospatial index as standard geohash strings", "3.2.0",
        (_key(), _string("member", flags=MULTIPLE)),
        "O(log(N)) for each member requested, where N is the number of elements in the sorted "
        "set.",
    ),
    _geo_row(
        "geopos", -2, "readonly", geo.cmd_geopos, (_RO,),
        "Returns longitude and latitude of members of a geospatial index", "3.2.0",
        (_key(), _string("member", flags=MULTIPLE)),
        "O(N) where N is the number of members requested.",
    ),
    _georadius_row(
        "georadius", "point", "3.2.0", _GEO_POINT,
        "`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` argument", "6.2.0",
        (_GEO_ANY, _GEO_UPPERCASE_UNITS),
    ),
    _georadius_row(
        "georadiusbymember", "member", "3.2.0", _GEO_MEMBER,
        "`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` and `FROMMEMBER` arguments", None,
        (_GEO_UPPERCASE_UNITS,),
    ),
    _georadius_row(
        "georadiusbymember_ro", "member", "3.2.10", _GEO_MEMBER,
        "`GEOSEARCH` with the `BYRADIUS` and `FROMMEMBER` arguments", None, (),
    ),
    _georadius_row(
        "georadius_ro", "point", "3.2.10", _GEO_POINT,
        "`GEOSEARCH` with the `BYRADIUS` argument", "6.2.0", (_GEO_ANY,),
    ),
    _geo_row(
        "geosearch", -7, "readonly", geo.cmd_search, (_RO,),
        "Query a sorted set representing a geospatial index to fetch members inside an area of "
        "a box or a circle.", "6.2.0",
        (_key(), _GEO_FROM, _GEO_BY, _GEO_ORDER, _geo_count(), *_GEO_WITH),
        _GEO_SEARCH,
        prepare=geo.prepare_geosearch,
        history=(_GEO_UPPERCASE_UNITS,),
    ),
    _geo_row(
        "geosearchstore", -8, "write denyoom", geo.cmd_search,
        (KeySpec(1, flags=("OW", "update")), KeySpec(2, flags=("RO", "access"))),
        "Query a sorted set representing a geospatial index to fetch members inside an area of "
        "a box or a circle, and store the result in another key.", "6.2.0",
        (_key("destination"), _key("source", 1), _GEO_FROM, _GEO_BY, _GEO_ORDER, _geo_count(),
         _token("storedist", "STOREDIST", flags=OPTIONAL)),
        _GEO_SEARCH,
        prepare=geo.prepare_geosearch,
        history=(_GEO_UPPERCASE_UNITS,),
    ),
)

_ELEMENTS = (_string("element", flags=MULTIPLE),)
_PUSH_COMPLEXITY = (
    "O(1) for each element added, so O(N) to add N elements when the command is called with "
    "multiple arguments."
)
_SIDE = (_token("left", "LEFT"), _token("right", "RIGHT"))
_LIST_WHERE = _oneof("where", *_SIDE)
_LMPOP_COMPLEXITY = (
    "O(N+M) where N is the number of provided keys and M is the number of elements returned."
)


def _push_row(name: str, summary: str, since: str, history: tuple[str, str]) -> CommandSpec:
    return _list_row(
        name, -3, "write denyoom fast", lists.cmd_push, ("RW", "insert"),
        "@write @list @fast", summary, since, _ELEMENTS, _PUSH_COMPLEXITY, history=(history,),
    )


def _pop_row(name: str, summary: str) -> CommandSpec:
    return _list_row(
        name, -2, "write fast", lists.cmd_pop, ("RW", "access", "delete"),
        "@write @list @fast", summary, "1.0.0",
        (_integer("count", since="6.2.0", flags=OPTIONAL),),
        "O(N) where N is the number of elements returned",
        prepare=lists.prepare_pop,
        history=(("6.2.0", "Added the `count` argument."),),
    )


_MOVE_KEYS = (KeySpec(1, flags=("RW", "access", "delete")), KeySpec(2, flags=("RW", "insert")))
_BLOCKING_MOVE = (
    "Pop an element from a list, push it to another list and return it; "
    "or block until one is available"
)


LIST_COMMANDS: tuple[CommandSpec, ...] = (
    _generic_row(
        "blmove", 6, "write denyoom noscript blocking", lists.cmd_lmove, _MOVE_KEYS,
        "@write @list @slow @blocking", _BLOCKING_MOVE, "6.2.0",
        (
            _key("source"),
            _key("destination", 1),
            _oneof("wherefrom", *_SIDE),
            _oneof("whereto", *_SIDE),
            _TIMEOUT,
        ),
        group="list",
        prepare=lists.prepare_lmove,
    ),
    _mpop_row(
        "blmpop", lists.cmd_lmpop, "list",
        "Pop elements from a list, or block until one is available", _LIST_WHERE,
        _LMPOP_COMPLEXITY, lists.prepare_blmpop,
    ),
    _blocking_pop_row(
        "blpop", "Remove and get the first element in a list, or block until one is available"
    ),
    _blocking_pop_row(
        "brpop", "Remove and get the last element in a list, or block until one is available"
    ),
    _generic_row(
        "brpoplpush", 4, "write denyoom noscript blocking", lists.cmd_lmove, _MOVE_KEYS,
        "@write @list @slow @blocking", _BLOCKING_MOVE, "2.2.0",
        (_key("source"), _key("destination", 1), _TIMEOUT),
        group="list",
        prepare=blocking.prepare_blocking,
        history=_TIMEOUT_HISTORY,
        doc_flags=("deprecated",),
        deprecated_since="6.2.0",
        replaced_by="`BLMOVE` with the `RIGHT` and `LEFT` arguments",
    ),
    _list_row(
        "lindex", 3, "readonly", lists.cmd_lindex, ("RO", "access"), "@read @list @slow",
        "Get an element from a list by its index", "1.0.0", (_integer("index"),),
        "O(N) where N is the number of elements to traverse to get to the element at index. "
        "This makes asking for the first or the last element of the list O(1).",
    ),
    _list_row(
        "linsert", 5, "write denyoom", lists.cmd_linsert, ("RW", "insert"), "@write @list @slow",
        "Insert an element before or after another element in a list", "2.2.0",
        (
            _oneof("where", _token("before", "BEFORE"), _token("after", "AFTER")),
            _string("pivot"),
            _string("element"),
        ),
        "O(N) where N is the number of elements to traverse before seeing the value pivot. "
        "This means that inserting somewhere on the left end on the list (head) can be "
        "considered O(1) and inserting somewhere on the right end (tail) is O(N).",
        prepare=lists.prepare_linsert,
    ),
    _list_row(
        "llen", 2, "readonly fast", lists.cmd_llen, ("RO",), "@read @list @fast",
        "Get the length of a list", "1.0.0", (),
    ),
    _generic_row(
        "lmove", 5, "write denyoom", lists.cmd_lmove, _MOVE_KEYS, "@write @list @slow",
        "Pop an element from a list, push it to another list and return it", "6.2.0",
        (
            _key("source"),
            _key("destination", 1),
            _oneof("wherefrom", *_SIDE),
            _oneof("whereto", *_SIDE),
        ),
        group="list",
        prepare=lists.prepare_lmove,
    ),
    _mpop_row(
        "lmpop", lists.cmd_lmpop, "list", "Pop elements from a list", _LIST_WHERE,
        _LMPOP_COMPLEXITY, lists.prepare_lmpop,
    ),
    _pop_row("lpop", "Remove and get the first elements in a list"),
    _list_row(
        "lpos", -3, "readonly", lists.cmd_lpos, ("RO", "access"), "@read @list @slow",
        "Return the index of matching elements on a list", "6.0.6",
        (
            _string("element"),
            _integer("rank", token="RANK", flags=OPTIONAL),
            _integer("num-matches", token="COUNT", flags=OPTIONAL),
            _integer("len", token="MAXLEN", flags=OPTIONAL),
        ),
        "O(N) where N is the number of elements in the list, for the average case. When "
        "searching for elements near the head or the tail of the list, or when the MAXLEN "
        "option is provided, the command may run in constant time.",
        prepare=lists.prepare_lpos,
    ),
    _push_row(
        "lpush", "Prepend one or multiple elements to a list", "1.0.0",
        ("2.4.0", "Accepts multiple `element` arguments."),
    ),
    _push_row(
        "lpushx", "Prepend an element to a list, only if the list exists", "2.2.0",
        ("4.0.0", "Accepts multiple `element` arguments."),
    ),
    _list_row(
        "lrange", 4, "readonly", lists.cmd_lrange, ("RO", "access"), "@read @list @slow",
        "Get a range of elements from a list", "1.0.0",
        (_integer("start"), _integer("stop")),
        "O(S+N) where S is the distance of start offset from HEAD for small lists, from "
        "nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the "
        "specified range.",
        prepare=lists.prepare_range,
    ),
    _list_row(
        "lrem", 4, "write", lists.cmd_lrem, ("RW", "delete"), "@write @list @slow",
        "Remove elements from a list", "1.0.0",
        (_integer("count"), _string("element")),
        "O(N+M) where N is the length of the list and M is the number of elements removed.",
        prepare=lists.prepare_range,
    ),
    _list_row(
        "lset", 4, "write denyoom", lists.cmd_lset, ("RW", "update"), "@write @list @slow",
        "Set the value of an element in a list by its index", "1.0.0",
        (_integer("index"), _string("element")),
        "O(N) where N is the length of the list. Setting either the first or the last "
        "element of the list is O(1).",
    ),
    _list_row(
        "ltrim", 4, "write", lists.cmd_ltrim, ("RW", "delete"), "@write @list @slow",
        "Trim a list to the specified range", "1.0.0",
        (_integer("start"), _integer("stop")),
        "O(N) where N is the number of elements to be removed by the operation.",
        prepare=lists.prepare_range,
    ),
    _pop_row("rpop", "Remove and get the last elements in a list"),
    _generic_row(
        "rpoplpush", 3, "write denyoom", lists.cmd_lmove, _MOVE_KEYS, "@write @list @slow",
        "Remove the last element in a list, prepend it to another list and return it",
        "1.2.0", (_key("source"), _key("destination", 1)),
        group="list",
        doc_flags=("deprecated",),
        deprecated_since="6.2.0",
        replaced_by="`LMOVE` with the `RIGHT` and `LEFT` arguments",
    ),
    _push_row(
        "rpush", "Append one or multiple elements to a list", "1.0.0",
        ("2.4.0", "Accepts multiple `element` arguments."),
    ),
    _push_row(
        "rpushx", "Append an element to a list, only if the list exists", "2.2.0",
        ("4.0.0", "Accepts multiple `element` arguments."),
    ),
)

_STREAM_TRIM_ARGUMENTS = (
    _oneof(
        "strategy", _token("maxlen", "MAXLEN"), _token("minid", "MINID", since="6.2.0")
    ),
    _oneof("operator", _token("equal", "="), _token("approximately", "~"), flags=OPTIONAL),
    _string("threshold"),
    _integer("count", token="LIMIT", since="6.2.0", flags=OPTIONAL),
)
_STREAM_RANGE_COMPLEXITY = (
    "O(N) with N being the number of elements {}returned. If N is constant (e.g. always "
    "asking for the first 10 elements with COUNT), you can consider it O(1)."
)
_STREAM_RANGE_HISTORY = (("6.2.0", "Added exclusive ranges."),)
_STREAM_COUNT = _integer("count", token="COUNT", flags=OPTIONAL)
_stream_row = partial(_one_key_row, "stream")

STREAM_COMMANDS: tuple[CommandSpec, ...] = (
    _generic_row(
        "xadd", -5, "write denyoom fast", streams.cmd_xadd,
        (
            KeySpec(
                1, flags=("RW", "update"),
                notes="UPDATE instead of INSERT because of the optional trimming feature",
            ),
        ),
        "@write @stream @fast", "Appends a new entry to a stream", "5.0.0",
        (
            _key(),
            _token("nomkstream", "NOMKSTREAM", since="6.2.0", flags=OPTIONAL),
            _block("trim", *_STREAM_TRIM_ARGUMENTS, flags=OPTIONAL),
            _oneof("id_or_auto", _token("auto_id", "*"), _string("id")),
            _block("field_value", _string("field"), _string("value"), flags=MULTIPLE),
        ),
        "O(1) when adding a new entry, O(N) when trimming where N being the number of entries "
        "evicted.",
        group="stream",
        prepare=streams.prepare_xadd,
        history=(
            (
                "6.2.0",
                "Added the `NOMKSTREAM` option, `MINID` trimming strategy and the `LIMIT` "
                "option.",
            ),
            ("7.0.0", "Added support for the `<ms>-*` explicit ID form."),
        ),
        tips=("nondeterministic_output",),
    ),
    _stream_row(
        "xdel", -3, "write fast", streams.cmd_xdel, ("RW", "delete"), "@write @stream @fast",
        "Removes the specified entries from the stream. Returns the number of items actually "
        "deleted, that may be different from the number of IDs passed in case certain IDs do "
        "not exist.",
        "5.0.0", (_string("id", flags=MULTIPLE),),
        "O(1) for each single item to delete in the stream, regardless of the stream size.",
    ),
    _stream_row(
        "xlen", 2, "readonly fast", streams.cmd_xlen, ("RO",), "@read @stream @fast",
        "Return the number of entries in a stream", "5.0.0",
    ),
    _stream_row(
        "xrange", -4, "readonly", streams.cmd_xrange, ("RO", "access"), "@read @stream @slow",
        "Return a range of elements in a stream, with IDs matching the specified IDs interval",
        "5.0.0", (_string("start"), _string("end"), _STREAM_COUNT),
        _STREAM_RANGE_COMPLEXITY.format("being "),
        prepare=streams.prepare_xrange,
        history=_STREAM_RANGE_HISTORY,
    ),
    _generic_row(
        "xread", -4, "readonly blocking", streams.cmd_xread,
        (
            KeySpec(
                1, -1, flags=("RO", "access"), limit=2, keyword="STREAMS",
            ),
        ),
        "@read @stream @slow @blocking",
        "Return never seen elements in multiple streams, with IDs greater than the ones "
        "reported by the caller for each stream. Can block.",
        "5.0.0",
        (
            _STREAM_COUNT,
            _integer("milliseconds", token="BLOCK", flags=OPTIONAL),
            _block(
                "streams", _key(flags=MULTIPLE), _string("id", flags=MULTIPLE),
                token="STREAMS",
            ),
        ),
        "For each stream mentioned: O(N) with N being the number of elements being returned, "
        "it means that XREAD-ing with a fixed COUNT is O(1). Note that when the BLOCK option "
        "is used, XADD will pay O(M) time in order to serve the M clients blocked on the "
        "stream getting new data.",
        group="stream",
        prepare=streams.prepare_xread,
        prepare_queued=streams.prepare_xread_queued,
    ),
    _stream_row(
        "xrevrange", -4, "readonly", streams.cmd_xrange, ("RO", "access"),
        "@read @stream @slow",
        "Return a range of elements in a stream, with IDs matching the specified IDs interval, "
        "in reverse order (from greater to smaller IDs) compared to XRANGE",
        "5.0.0", (_string("end"), _string("start"), _STREAM_COUNT),
        _STREAM_RANGE_COMPLEXITY.format(""),
        prepare=streams.prepare_xrange,
        history=_STREAM_RANGE_HISTORY,
    ),
    _generic_row(
        "xtrim", -4, "write", streams.cmd_xtrim, (KeySpec(1, flags=("RW", "delete")),),
        "@write @stream @slow",
        "Trims the stream to (approximately if '~' is passed) a certain size", "5.0.0",
        (_key(), _block("trim", *_STREAM_TRIM_ARGUMENTS)),
        "O(N), with N being the number of evicted entries. Constant times are very small "
        "however, since entries are organized in macro nodes containing multiple entries "
        "that can be released with a single deallocation.",
        group="stream",
        prepare=streams.prepare_xtrim,
        history=(("6.2.0", "Added the `MINID` trimming strategy and the `LIMIT` option."),),
        tips=("nondeterministic_output",),
    ),
)

_GROUP_KEY = (_key(), _string("groupname"))
_GROUP_CONSUMER = (*_GROUP_KEY, _string("consumername"))
_GROUP_ID = _oneof("id", _string("id"), _token("new_id", "$"))
_ENTRIES_READ = _integer("entries_read", token="ENTRIESREAD", flags=OPTIONAL)
_ADDS_GROUPS = KeySpec(2, flags=("RW", "insert"))
_CHANGES_GROUP = KeySpec(2, flags=("RW", "update"))
_DROPS_FROM_GROUP = KeySpec(2, flags=("RW", "delete"))
_READS_GROUPS = KeySpec(2, flags=("RO", "access"))
_GROUP_ACL = "@write @stream @slow"
_XREADGROUP_KEYS = (
    KeySpec(4, -1, flags=("RO", "access"), limit=2, keyword="STREAMS", written=True),
)
_INFO_ACL = "@read @stream @slow"

STREAM_GROUP_COMMANDS: tuple[CommandSpec, ...] = (
    _generic_row(
        "xack", -4, "write fast", groups.cmd_xack, (KeySpec(1, flags=("RW", "update")),),
        "@write @stream @fast",
        "Marks a pending message as correctly processed, effectively removing it from the "
        "pending entries list of the consumer group. Return value of the command is the number "
        "of messages successfully acknowledged, that is, the IDs we were actually able to "
        "resolve in the PEL.",
        "5.0.0", (_key(), _string("group"), _string("id", flags=MULTIPLE)),
        "O(1) for each message ID processed.", group="stream",
    ),
    _generic_row(
        "xautoclaim", -6, "write fast", groups.cmd_xautoclaim,
        (KeySpec(1, flags=("RW", "delete")),), "@write @stream @fast",
        "Changes (or acquires) ownership of messages in a consumer group, as if the messages "
        "were delivered to the specified consumer.",
        "6.2.0",
        (
            _key(), _string("group"), _string("consumer"), _string("min-idle-time"),
            _string("start"), _integer("count", token="COUNT", flags=OPTIONAL),
            _token("justid", "JUSTID", flags=OPTIONAL),
        ),
        "O(1) if COUNT is small.", group="stream",
        prepare=groups.prepare_xautoclaim,
        history=(
            (
                "7.0.0",
                "Added an element to the reply array, containing deleted entries the command "
                "cleared from the PEL",
            ),
        ),
        tips=("nondeterministic_output",),
    ),
    _generic_row(
        "xclaim", -6, "write fast", groups.cmd_xclaim, (KeySpec(1, flags=("RW", "update")),),
        "@write @stream @fast",
        "Changes (or acquires) ownership of a message in a consumer group, as if the message "
        "was delivered to the specified consumer.",
        "5.0.0",
        (
            _key(), _string("group"), _string("consumer"), _string("min-idle-time"),
            _string("id", flags=MULTIPLE), _integer("ms", token="IDLE", flags=OPTIONAL),
            Arg("unix-time-milliseconds", "unix-time", token="TIME", flags=OPTIONAL),
            _integer("count", token="RETRYCOUNT", flags=OPTIONAL),
            _token("force", "FORCE", flags=OPTIONAL), _token("justid", "JUSTID", flags=OPTIONAL),
            _string("id", token="LASTID", flags=OPTIONAL),
        ),
        "O(log N) with N being the number of messages in the PEL of the consumer group.",
        group="stream",
        tips=("nondeterministic_output",),
    ),
    _data_container(
        "xgroup", "A container for consumer groups commands", "5.0.0", "stream",
        (
            _data_sub(
                "xgroup", "create", -5, "write denyoom", groups.cmd_xgroup_create,
                (_ADDS_GROUPS,), _GROUP_ACL, "Create a consumer group.", "5.0.0",
                arguments=(
                    *_GROUP_KEY, _GROUP_ID, _token("mkstream", "MKSTREAM", flags=OPTIONAL),
                    _ENTRIES_READ,
                ),
                history=(("7.0.0", "Added the `entries_read` named argument."),),
            ),
            _data_sub(
                "xgroup", "createconsumer", 5, "write denyoom", groups.cmd_xgroup_createconsumer,
                (_ADDS_GROUPS,), _GROUP_ACL, "Create a consumer in a consumer group.", "6.2.0",
                arguments=_GROUP_CONSUMER,
            ),
            _data_sub(
                "xgroup", "delconsumer", 5, "write", groups.cmd_xgroup_delconsumer,
                (_DROPS_FROM_GROUP,), _GROUP_ACL, "Delete a consumer from a consumer group.",
                "5.0.0", arguments=_GROUP_CONSUMER,
            ),
            _data_sub(
                "xgroup", "destroy", 4, "write", groups.cmd_xgroup_destroy,
                (_DROPS_FROM_GROUP,), _GROUP_ACL, "Destroy a consumer group.", "5.0.0",
                "O(N) where N is the number of entries in the group's pending entries list "
                "(PEL).",
                arguments=_GROUP_KEY,
            ),
            _data_sub(
                "xgroup", "setid", -5, "write", groups.cmd_xgroup_setid, (_CHANGES_GROUP,),
                _GROUP_ACL, "Set a consumer group to an arbitrary last delivered ID value.",
                "5.0.0", arguments=(*_GROUP_KEY, _GROUP_ID, _ENTRIES_READ),
                history=(("7.0.0", "Added the optional `entries_read` argument."),),
            ),
            _data_sub(
                "xgroup", "help", 2, "loading stale", groups.cmd_xgroup_help, (),
                "@stream @slow", _HELP, "5.0.0",
            ),
        ),
    ),
    _data_container(
        "xinfo", "A container for stream introspection commands", "5.0.0", "stream",
        (
            _data_sub(
                "xinfo", "consumers", 4, "readonly", groups.cmd_xinfo_consumers,
                (_READS_GROUPS,), _INFO_ACL, "List the consumers in a consumer group", "5.0.0",
                arguments=_GROUP_KEY, tips=("nondeterministic_output",),
            ),
            _data_sub(
                "xinfo", "groups", 3, "readonly", groups.cmd_xinfo_groups, (_READS_GROUPS,),
                _INFO_ACL, "List the consumer groups of a stream", "5.0.0",
                arguments=(_key(),),
                history=(("7.0.0", "Added the `entries-read` and `lag` fields"),),
            ),
            _data_sub(
                "xinfo", "stream", -3, "readonly", groups.cmd_xinfo_stream, (_READS_GROUPS,),
                _INFO_ACL, "Get information about a stream", "5.0.0",
                arguments=(
                    _key(),
                    _block(
                        "full", _integer("count", token="COUNT", flags=OPTIONAL),
                        token="FULL", flags=OPTIONAL,
                    ),
                ),
                history=(
                    ("6.0.0", "Added the `FULL` modifier."),
                    (
                        "7.0.0",
                        "Added the `max-deleted-entry-id`, `entries-added`, "
                        "`recorded-first-entry-id`, `entries-read` and `lag` fields",
                    ),
                ),
            ),
            _data_sub(
                "xinfo", "help", 2, "loading stale", groups.cmd_xinfo_help, (),
                "@stream @slow", _HELP, "5.0.0",
            ),
        ),
    ),
    _generic_row(
        "xpending", -3, "readonly", groups.cmd_xpending, (KeySpec(1, flags=("RO", "access")),),
        "@read @stream @slow",
        "Return information and entries from a stream consumer group pending entries list, "
        "that are messages fetched but never acknowledged.",
        "5.0.0",
        (
            _key(), _string("group"),
            _block(
                "filters",
                _integer("min-idle-time", token="IDLE", since="6.2.0", flags=OPTIONAL),
                _string("start"), _string("end"), _integer("count"),
                _string("consumer", flags=OPTIONAL),
                flags=OPTIONAL,
            ),
        ),
        "O(N) with N being the number of elements returned, so asking for a small fixed number "
        "of entries per call is O(1). O(M), where M is the total number of entries scanned when "
        "used with the IDLE filter. When the command returns just the summary and the list of "
        "consumers is small, it runs in O(1) time; otherwise, an additional O(N) time for "
        "iterating every consumer.",
        group="stream",
        prepare=groups.prepare_xpending,
        history=(("6.2.0", "Added the `IDLE` option and exclusive range intervals."),),
        tips=("nondeterministic_output",),
    ),
    _generic_row(
        "xreadgroup", -7, "write blocking", groups.cmd_xreadgroup, _XREADGROUP_KEYS,
        "@write @stream @slow @blocking",
        "Return new entries from a stream using a consumer group, or access the history of the "
        "pending entries for a given consumer. Can block.",
        "5.0.0",
        (
            _block("group_consumer", _string("group"), _string("consumer"), token="GROUP"),
            _STREAM_COUNT,
            _integer("milliseconds", token="BLOCK", flags=OPTIONAL),
            _token("noack", "NOACK", flags=OPTIONAL),
            _block(
                "streams", _key(flags=MULTIPLE), _string("id", flags=MULTIPLE),
                token="STREAMS",
            ),
        ),
        "For each stream mentioned: O(M) with M being the number of elements returned. If M is "
        "constant (e.g. always asking for the first 10 elements with COUNT), you can consider "
        "it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in "
        "order to serve the N clients blocked on the stream getting new data.",
        group="stream",
        prepare=groups.prepare_xreadgroup,
    ),
    _generic_row(
        "xsetid", -3, "write denyoom fast", groups.cmd_xsetid,
        (KeySpec(1, flags=("RW", "update")),), "@write @stream @fast",
        "An internal command for replicating stream values", "5.0.0",
        (
            _key(), _string("last-id"),
            _integer("entries_added", token="ENTRIESADDED", since="7.0.0", flags=OPTIONAL),
            _string(
                "max_deleted_entry_id", token="MAXDELETEDID", since="7.0.0", flags=OPTIONAL
            ),
        ),
        group="stream",
        prepare=groups.prepare_xsetid,
        history=(("7.0.0", "Added the `entries_added` and `max_deleted_entry_id` arguments."),),
    ),
)

GENERIC_COMMANDS: tuple[CommandSpec, ...] = (
    _generic_row(
        "del", -2, "write", keyspace.cmd_del, (KeySpec(1, -1, flags=("RM", "delete")),),
        "@keyspace @write @slow", "Delete a key", "1.0.0", _KEYS_MULTIPLE,
        complexity=(
            "O(N) where N is the number of keys that will be removed. When a key to remove "
            "holds a value other than a string, the individual complexity for this key is O(M) "
            "where M is the number of elements in the list, set, sorted set or hash. Removing a "
            "single key that holds a string value is O(1)."
        ),
        tips=("request_policy:multi_shard", "response_policy:agg_sum"),
    ),
    _generic_row(
        "unlink", -2, "write fast", keyspace.cmd_del, (KeySpec(1, -1, flags=("RM", "delete")),),
        "@keyspace @write @fast",
        "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non "
        "blocking.",
        "4.0.0", _KEYS_MULTIPLE,
        complexity=(
            "O(1) for each key removed regardless of its size. Then the command does O(N) work "
            "in a different thread in order to reclaim memory, where N is the number of "
            "allocations the deleted objects where composed of."
        ),
        tips=("request_policy:multi_shard", "response_policy:agg_sum"),
    ),
    _generic_row(
        "exists", -2, "readonly fast", keyspace.cmd_exists, (KeySpec(1, -1, flags=("RO",)),),
        "@keyspace @read @fast", "Determine if a key exists", "1.0.0", _KEYS_MULTIPLE,
        complexity="O(N) where N is the number of keys to check.",
        history=(("3.0.3", "Accepts multiple `key` arguments."),),
        tips=("request_policy:multi_shard", "response_policy:agg_sum"),
    ),
    _generic_row(
        "touch", -2, "readonly fast", keyspace.cmd_exists, (KeySpec(1, -1, flags=("RO",)),),
        "@keyspace @read @fast",
        "Alters the last access time of a key(s). Returns the number of existing keys specified.",
        "3.2.1", _KEYS_MULTIPLE,
        complexity="O(N) where N is the number of keys that will be touched.",
        tips=("request_policy:multi_shard", "response_policy:agg_sum"),
    ),
    _generic_row(
        "type", 2, "readonly fast", keyspace.cmd_type, (_RO_PLAIN,),
        "@keyspace @read @fast", "Determine the type stored at key", "1.0.0", (_key(),),
    ),
    _generic_row(
        "copy", -3, "write denyoom", keyspace.cmd_copy,
        (KeySpec(1, flags=("RO", "access")), KeySpec(2, flags=("OW", "update"))),
        "@keyspace @write @slow", "Copy a key", "6.2.0",
        (
            _key("source"),
            _key("destination", 1),
            _integer("destination-db", token="DB", flags=OPTIONAL),
            _token("replace", "REPLACE", flags=OPTIONAL),
        ),
        "O(N) worst case for collections, where N is the number of nested items. O(1) for "
        "string values.",
        prepare=keyspace.prepare_copy,
    ),
    _generic_row(
        "rename", 3, "write", keyspace.cmd_rename,
        (KeySpec(1, flags=("RW", "access", "delete")), KeySpec(2, flags=("OW", "update"))),
        "@keyspace @write @slow", "Rename a key", "1.0.0", (_key(), _key("newkey", 1)),
    ),
    _generic_row(
        "renamenx", 3, "write fast", keyspace.cmd_renamenx,
        (KeySpec(1, flags=("RW", "access", "delete")), KeySpec(2, flags=("OW", "insert"))),
        "@keyspace @write @fast", "Rename a key, only if the new key does not exist", "1.0.0",
        (_key(), _key("newkey", 1)),
        history=(
            (
                "3.2.0",
                "The command no longer returns an error when source and destination names are "
                "the same.",
            ),
        ),
    ),
    _generic_row(
        "keys", 2, "readonly keyspace", keyspace.cmd_keys, (),
        "@keyspace @read @slow @dangerous", "Find all keys matching the given pattern", "1.0.0",
        (Arg("pattern", "pattern"),),
        complexity=(
            "O(N) with N being the number of keys in the database, under the assumption that "
            "the key names in the database and the given pattern have limited length."
        ),
        tips=("request_policy:all_shards", "nondeterministic_output_order"),
    ),
    _generic_row(
        "scan", -2, "readonly keyspace", keyspace.cmd_scan, (),
        "@keyspace @read @slow", "Incrementally iterate the keys space", "2.8.0",
        (
            _integer("cursor"),
            Arg("pattern", "pattern", token="MATCH", flags=OPTIONAL),
            _integer("count", token="COUNT", flags=OPTIONAL),
            _string("type", token="TYPE", since="6.0.0", flags=OPTIONAL),
        ),
        complexity=(
            "O(1) for every call. O(N) for a complete iteration, including enough command "
            "calls for the cursor to return back to 0. N is the number of elements inside the "
            "collection."
        ),
        history=(("6.0.0", "Added the `TYPE` subcommand."),),
        prepare=keyspace.prepare_scan,
        tips=("nondeterministic_output", "request_policy:special"),
    ),
    _generic_row(
        "randomkey", 1, "readonly keyspace", keyspace.cmd_randomkey, (),
        "@keyspace @read @slow", "Return a random key from the keyspace", "1.0.0",
        tips=("request_policy:all_shards", "nondeterministic_output"),
    ),
    _generic_row(
        # DIGEST reads the whole keyspace; DIGEST-VALUE only its keys, but is ordered as if
        # it read everything too: a command has one access shape (see ``access``).
        "debug", -2, "admin noscript loading stale keyspace", digest.cmd_debug, (),
        "@admin @slow @dangerous", "A container for debugging commands", "1.0.0",
        group="server", complexity="Depends on subcommand.", doc_flags=("syscmd",),
    ),
    _generic_row(
        "dbsize", 1, "readonly fast keyspace", keyspace.cmd_dbsize, (),
        "@keyspace @read @fast", "Return the number of keys in the selected database", "1.0.0",
        group="server",
        tips=("request_policy:all_shards", "response_policy:agg_sum"),
    ),
    _generic_row(
        "flushdb", -1, "write keyspace", keyspace.cmd_flush, (),
        "@keyspace @write @slow @dangerous", "Remove all keys from the current database", "1.0.0",
        (_FLUSH_MODE,),
        complexity="O(N) where N is the number of keys in the selected database",
        group="server",
        history=_FLUSH_HISTORY,
        prepare=keyspace.prepare_flush,
        tips=("request_policy:all_shards", "response_policy:all_succeeded"),
    ),
    _generic_row(
        "flushall", -1, "write keyspace", keyspace.cmd_flush, (),
        "@keyspace @write @slow @dangerous", "Remove all keys from all databases", "1.0.0",
        (_FLUSH_MODE,),
        complexity="O(N) where N is the total number of keys in all databases",
        group="server",
        history=_FLUSH_HISTORY,
        prepare=keyspace.prepare_flush,
        tips=("request_policy:all_shards", "response_policy:all_succeeded"),
    ),
    _generic_row(
        "expire", -3, "write fast", expiry.cmd_expire, (_RW_TTL,),
        "@keyspace @write @fast", "Set a key's time to live in seconds", "1.0.0",
        (_key(), _integer("seconds"), _EXPIRE_CONDITION),
        history=_EXPIRE_HISTORY,
        prepare=expiry.prepare_expire,
    ),
    _generic_row(
        "pexpire", -3, "write fast", expiry.cmd_expire, (_RW_TTL,),
        "@keyspace @write @fast", "Set a key's time to live in milliseconds", "2.6.0",
        (_key(), _integer("milliseconds"), _EXPIRE_CONDITION),
        history=_EXPIRE_HISTORY,
        prepare=expiry.prepare_expire,
    ),
    _generic_row(
        "expireat", -3, "write fast", expiry.cmd_expire, (_RW_TTL,),
        "@keyspace @write @fast", "Set the expiration for a key as a UNIX timestamp", "1.2.0",
        (_key(), Arg("unix-time-seconds", "unix-time"), _EXPIRE_CONDITION),
        history=_EXPIRE_HISTORY,
        prepare=expiry.prepare_expire,
    ),
    _generic_row(
        "pexpireat", -3, "write fast", expiry.cmd_expire, (_RW_TTL,),
        "@keyspace @write @fast",
        "Set the expiration for a key as a UNIX timestamp specified in milliseconds", "2.6.0",
        (_key(), Arg("unix-time-milliseconds", "unix-time"), _EXPIRE_CONDITION),
        history=_EXPIRE_HISTORY,
        prepare=expiry.prepare_expire,
    ),
    _generic_row(
        "expiretime", 2, "readonly fast", expiry.cmd_expiretime, (_RO,),
        "@keyspace @read @fast", "Get the expiration Unix timestamp for a key", "7.0.0", (_key(),),
    ),
    _generic_row(
        "pexpiretime", 2, "readonly fast", expiry.cmd_pexpiretime, (_RO,),
        "@keyspace @read @fast", "Get the expiration Unix timestamp for a key in milliseconds",
        "7.0.0", (_key(),),
    ),
    _generic_row(
        "ttl", 2, "readonly fast", expiry.cmd_ttl, (_RO,),
        "@keyspace @read @fast", "Get the time to live for a key in seconds", "1.0.0", (_key(),),
        history=_TTL_HISTORY,
        tips=("nondeterministic_output",),
    ),
    _generic_row(
        "pttl", 2, "readonly fast", expiry.cmd_pttl, (_RO,),
        "@keyspace @read @fast", "Get the time to live for a key in milliseconds", "2.6.0",
        (_key(),),
        history=_TTL_HISTORY,
        tips=("nondeterministic_output",),
    ),
    _generic_row(
        "persist", 2, "write fast", expiry.cmd_persist, (_RW_TTL,),
        "@keyspace @write @fast", "Remove the expiration from a key", "2.2.0", (_key(),),
    ),
    _data_container(
        "memory", "A container for memory diagnostics commands", "4.0.0", "server",
        (
            _data_sub(
                "memory", "usage", -3, "readonly", memory.cmd_memory_usage,
                (KeySpec(2, flags=("RO",)),), "@read @slow", "Estimate the memory usage of a key",
                "4.0.0", "O(N) where N is the number of samples.",
                arguments=(_key(), _integer("count", token="SAMPLES", flags=OPTIONAL)),
                group="server",
            ),
            _data_sub(
                "memory", "help", 2, "loading stale", memory.cmd_memory_help, (), "@slow", _HELP,
                "4.0.0", group="server",
            ),
        ),
    ),
    _data_container(
        "object", "A container for object introspection commands", "2.2.3", "generic",
        (
            _data_sub(
                "object", "encoding", 3, "readonly", objects.cmd_object_encoding,
                (_RO_OBJECT,), _OBJECT_ACL, "Inspect the internal encoding of a Redis object",
                "2.2.3", arguments=(_key(),), group="generic", tips=_OBJECT_TIPS,
            ),
            _data_sub(
                "object", "freq", 3, "readonly", objects.cmd_object_freq, (_RO_OBJECT,),
                _OBJECT_ACL, "Get the logarithmic access frequency counter of a Redis object",
                "4.0.0", arguments=(_key(),), group="generic", tips=_OBJECT_TIPS,
            ),
            _data_sub(
                "object", "idletime", 3, "readonly", objects.cmd_object_idletime, (_RO_OBJECT,),
                _OBJECT_ACL, "Get the time since a Redis object was last accessed", "2.2.3",
                arguments=(_key(),), group="generic", tips=_OBJECT_TIPS,
            ),
            _data_sub(
                "object", "refcount", 3, "readonly", objects.cmd_object_refcount, (_RO_OBJECT,),
                _OBJECT_ACL, "Get the number of references to the value of the key", "2.2.3",
                arguments=(_key(),), group="generic", tips=_OBJECT_TIPS,
            ),
            _data_sub(
                "object", "help", 2, "loading stale", objects.cmd_object_help, (),
                "@keyspace @slow", _HELP, "6.2.0", group="generic",
            ),
        ),
    ),
)

CONNECTION_COMMANDS: tuple[CommandSpec, ...] = (
    _connection_row(
        "hello", -1, "noscript loading stale fast no_auth allow_busy", "@fast @connection",
        "Handshake with Redis", "6.0.0",
        arguments=(
            _block(
                "arguments",
                _integer("protover"),
                _block(
                    "username_password", _string("username"), _string("password"),
                    token="AUTH", flags=OPTIONAL,
                ),
                _string("clientname", token="SETNAME", flags=OPTIONAL),
                flags=OPTIONAL,
            ),
        ),
        history=(
            (
                "6.2.0",
                "`protover` made optional; when called without arguments the command reports "
                "the current connection's context.",
            ),
        ),
    ),
    _connection_row(
        "ping", -1, "fast", "@fast @connection", "Ping the server", "1.0.0",
        arguments=(_string("message", flags=OPTIONAL),),
        tips=("request_policy:all_shards", "response_policy:all_succeeded"),
    ),
    _connection_row(
        "echo", 2, "loading stale fast", "@fast @connection", "Echo the given string", "1.0.0",
        arguments=(_string("message"),),
    ),
    _connection_row(
        "quit", -1, "noscript loading stale fast no_auth allow_busy", "@fast @connection",
        "Close the connection", "1.0.0",
    ),
    _connection_row(
        "reset", 1, "noscript loading stale fast no_auth allow_busy", "@fast @connection",
        "Reset the connection", "6.2.0",
    ),
    _connection_row(
        "wait", 3, "noscript", "@slow @connection",
        "Wait for the synchronous replication of all the write commands sent in the context "
        "of the current connection", "3.0.0", group="generic",
        arguments=(_integer("numreplicas"), _integer("timeout")),
        tips=("request_policy:all_shards", "response_policy:agg_min"),
    ),
    _connection_row(
        "select", 2, "loading stale fast", "@fast @connection",
        "Change the selected database for the current connection", "1.0.0",
        arguments=(_integer("index"),),
    ),
    _connection_row(
        "auth", -2, "noscript loading stale fast no_auth allow_busy", "@fast @connection",
        "Authenticate to the server", "1.0.0",
        complexity="O(N) where N is the number of passwords defined for the user",
        arguments=(_string("username", since="6.0.0", flags=OPTIONAL), _string("password")),
        history=(("6.0.0", "Added ACL style (username and password)."),),
    ),
    _connection_row(
        "client", -2, "", "@slow", "A container for client connection commands", "2.4.0",
        complexity="Depends on subcommand.",
        subcommands=(
            _sub(
                "client", "id", 2, ("noscript", *_SUB), "@slow @connection",
                "Returns the client ID for the current connection", "5.0.0", "connection",
            ),
            _sub(
                "client", "getname", 2, ("noscript", *_SUB), "@slow @connection",
                "Get the current connection name", "2.6.9", "connection",
            ),
            _sub(
                "client", "setname", 3, ("noscript", *_SUB), "@slow @connection",
                "Set the current connection name", "2.6.9", "connection",
                arguments=(_string("connection-name"),),
            ),
            _sub(
                "client", "setinfo", 4, ("noscript", *_SUB), "@slow @connection",
                "Set client or connection specific info", "7.2.0", "connection",
                arguments=(
                    _oneof(
                        "attr",
                        _string("libname", token="LIB-NAME"),
                        _string("libver", token="LIB-VER"),
                    ),
                ),
            ),
            _sub(
                "client", "tracking", -3, ("noscript", *_SUB), "@slow @connection",
                "Enable or disable server assisted client side caching support", "6.0.0",
                "connection", complexity="O(1). Some options may introduce additional complexity.",
                arguments=(
                    _oneof("status", _token("on", "ON"), _token("off", "OFF")),
                    _integer("client-id", token="REDIRECT", flags=OPTIONAL),
                    _string(
                        "prefix", token="PREFIX", flags=(*OPTIONAL, *MULTIPLE, "multiple_token")
                    ),
                    _token("bcast", "BCAST", flags=OPTIONAL),
                    _token("optin", "OPTIN", flags=OPTIONAL),
                    _token("optout", "OPTOUT", flags=OPTIONAL),
                    _token("noloop", "NOLOOP", flags=OPTIONAL),
                ),
            ),
            _sub(
                "client", "caching", 3, ("noscript", *_SUB), "@slow @connection",
                "Instruct the server about tracking or not keys in the next request", "6.0.0",
                "connection",
                arguments=(_oneof("mode", _token("yes", "YES"), _token("no", "NO")),),
            ),
            _sub(
                "client", "trackinginfo", 2, ("noscript", *_SUB), "@slow @connection",
                "Return information about server assisted client side caching for the current "
                "connection", "6.2.0", "connection",
            ),
            _sub(
                "client", "getredir", 2, ("noscript", *_SUB), "@slow @connection",
                "Get tracking notifications redirection client ID if any", "6.0.0", "connection",
            ),
            _sub(
                "client", "info", 2, ("noscript", *_SUB), "@slow @connection",
                "Returns information about the current client connection.", "6.2.0", "connection",
                tips=("nondeterministic_output",),
            ),
            _sub(
                "client", "list", -2, _SUB_ADMIN, "@admin @slow @dangerous @connection",
                "Get the list of client connections", "2.4.0", "connection",
                complexity="O(N) where N is the number of client connections",
                arguments=(
                    _oneof(
                        "normal_master_replica_pubsub",
                        _token("normal", "NORMAL"),
                        _token("master", "MASTER"),
                        _token("replica", "REPLICA"),
                        _token("pubsub", "PUBSUB"),
                        token="TYPE", since="5.0.0", flags=OPTIONAL,
                    ),
                    _block(
                        "id", _integer("client-id", flags=MULTIPLE),
                        token="ID", since="6.2.0", flags=OPTIONAL,
                    ),
                ),
                history=(
                    ("2.8.12", "Added unique client `id` field."),
                    ("5.0.0", "Added optional `TYPE` filter."),
                    ("6.0.0", "Added `user` field."),
                    (
                        "6.2.0",
                        "Added `argv-mem`, `tot-mem`, `laddr` and `redir` fields and the "
                        "optional `ID` filter.",
                    ),
                    ("7.0.0", "Added `resp`, `multi-mem`, `rbs` and `rbp` fields."),
                    ("7.0.3", "Added `ssub` field."),
                ),
                tips=("nondeterministic_output",),
            ),
            _sub(
                "client", "kill", -3, _SUB_ADMIN, "@admin @slow @dangerous @connection",
                "Kill the connection of a client", "2.4.0", "connection",
                complexity="O(N) where N is the number of client connections",
                arguments=(
                    _oneof(
                        "filter",
                        _string("ip:port", deprecated_since="2.8.12"),
                        _oneof(
                            "new-format",
                            _integer("client-id", token="ID", since="2.8.12", flags=OPTIONAL),
                            _oneof(
                                "normal_master_slave_pubsub",
                                _token("normal", "NORMAL"),
                                _token("master", "MASTER", since="3.2.0"),
                                _token("slave", "SLAVE"),
                                _token("replica", "REPLICA", since="5.0.0"),
                                _token("pubsub", "PUBSUB"),
                                token="TYPE", since="2.8.12", flags=OPTIONAL,
                            ),
                            _string("username", token="USER", flags=OPTIONAL),
                            _string("ip:port", token="ADDR", flags=OPTIONAL),
                            _string("ip:port", token="LADDR", since="6.2.0", flags=OPTIONAL),
                            _string("yes/no", token="SKIPME", flags=OPTIONAL),
                            flags=MULTIPLE,
                        ),
                    ),
                ),
                history=(
                    ("2.8.12", "Added new filter format."),
                    ("2.8.12", "`ID` option."),
                    ("3.2.0", "Added `master` type in for `TYPE` option."),
                    (
                        "5.0.0",
                        "Replaced `slave` `TYPE` with `replica`. `slave` still supported for "
                        "backward compatibility.",
                    ),
                    ("6.2.0", "`LADDR` option."),
                ),
            ),
            _sub(
                "client", "reply", 3, ("noscript", *_SUB), "@slow @connection",
                "Instruct the server whether to reply to commands", "3.2.0", "connection",
                arguments=(
                    _oneof(
                        "on_off_skip",
                        _token("on", "ON"),
                        _token("off", "OFF"),
                        _token("skip", "SKIP"),
                    ),
                ),
            ),
            _sub(
                "client", "no-evict", 3, _SUB_ADMIN, "@admin @slow @dangerous @connection",
                "Set client eviction mode for the current connection", "7.0.0", "connection",
                arguments=(_oneof("enabled", _token("on", "ON"), _token("off", "OFF")),),
            ),
            _sub(
                "client", "no-touch", 3, ("noscript", *_SUB), "@slow @connection",
                "Controls whether commands sent by the client will alter the LRU/LFU of the "
                "keys they access.", "7.2.0", "connection",
                arguments=(_oneof("enabled", _token("on", "ON"), _token("off", "OFF")),),
            ),
            _sub(
                "client", "unblock", -3, _SUB_ADMIN, "@admin @slow @dangerous @connection",
                "Unblock a client blocked in a blocking command from a different connection",
                "5.0.0", "connection",
                complexity="O(log N) where N is the number of client connections",
                arguments=(
                    _integer("client-id"),
                    _oneof(
                        "timeout_error",
                        _token("timeout", "TIMEOUT"),
                        _token("error", "ERROR"),
                        flags=OPTIONAL,
                    ),
                ),
            ),
            _sub(
                "client", "pause", -3, _SUB_ADMIN, "@admin @slow @dangerous @connection",
                "Stop processing commands from clients for some time", "2.9.50", "connection",
                arguments=(
                    _integer("timeout"),
                    _oneof(
                        "mode",
                        _token("write", "WRITE"),
                        _token("all", "ALL"),
                        since="6.2.0",
                        flags=OPTIONAL,
                    ),
                ),
                history=(
                    ("6.2.0", "`CLIENT PAUSE WRITE` mode added along with the `mode` option."),
                ),
            ),
            _sub(
                "client", "unpause", 2, _SUB_ADMIN, "@admin @slow @dangerous @connection",
                "Resume processing of clients that were paused", "6.2.0", "connection",
                complexity="O(N) Where N is the number of paused clients",
            ),
            _sub("client", "help", 2, _SUB, "@slow @connection", _HELP, "5.0.0", "connection"),
        ),
    ),
    _connection_row(
        "command", -1, "loading stale", "@slow @connection", "Get array of Redis command details",
        "2.8.13", group="server",
        complexity="O(N) where N is the total number of Redis commands",
        tips=("nondeterministic_output_order",),
        subcommands=(
            _sub(
                "command", "count", 2, _SUB, "@slow @connection",
                "Get total number of Redis commands", "2.8.13", "server",
            ),
            _sub(
                "command", "docs", -2, _SUB, "@slow @connection",
                "Get array of specific Redis command documentation", "7.0.0", "server",
                complexity="O(N) where N is the number of commands to look up",
                arguments=(_string("command-name", flags=("optional", "multiple")),),
                tips=("nondeterministic_output_order",),
            ),
            _sub(
                "command", "info", -2, _SUB, "@slow @connection",
                "Get array of specific Redis command details, or all when no argument is given.",
                "2.8.13", "server",
                complexity="O(N) where N is the number of commands to look up",
                arguments=(_string("command-name", flags=("optional", "multiple")),),
                history=(
                    ("7.0.0", "Allowed to be called with no argument to get info on all commands."),
                ),
                tips=("nondeterministic_output_order",),
            ),
            _sub(
                "command", "list", -2, _SUB, "@slow @connection",
                "Get an array of Redis command names", "7.0.0", "server",
                complexity="O(N) where N is the total number of Redis commands",
                arguments=(
                    _oneof(
                        "filterby",
                        _string("module-name", token="MODULE"),
                        _string("category", token="ACLCAT"),
                        Arg("pattern", "pattern", token="PATTERN"),
                        token="FILTERBY",
                        flags=OPTIONAL,
                    ),
                ),
                tips=("nondeterministic_output_order",),
            ),
            _sub(
                "command", "getkeys", -4, _SUB, "@slow @connection",
                "Extract keys given a full Redis command", "2.8.13", "server",
                complexity="O(N) where N is the number of arguments to the command",
            ),
            _sub(
                "command", "getkeysandflags", -4, _SUB, "@slow @connection",
                "Extract keys and access flags given a full Redis command", "7.0.0", "server",
                complexity="O(N) where N is the number of arguments to the command",
            ),
            _sub("command", "help", 2, _SUB, "@slow @connection", _HELP, "5.0.0", "server"),
        ),
    ),
    _connection_row(
        "acl", -2, "", "@slow", "A container for Access List Control commands", "6.0.0",
        group="server", complexity="Depends on subcommand.",
        subcommands=(
            _sub(
                "acl", "cat", -2, ("noscript", *_SUB), "@slow",
                "List the ACL categories or the commands inside a category", "6.0.0", "server",
                complexity="O(1) since the categories and commands are a fixed set.",
                arguments=(_string("categoryname", flags=OPTIONAL),),
            ),
            _sub(
                "acl", "deluser", -3, _SUB_ADMIN, "@admin @slow @dangerous",
                "Remove the specified ACL users and the associated rules", "6.0.0", "server",
                complexity="O(1) amortized time considering the typical user.",
                arguments=(_string("username", flags=MULTIPLE),),
            ),
            _sub(
                "acl", "dryrun", -4, _SUB_ADMIN, "@admin @slow @dangerous",
                "Returns whether the user can execute the given command without executing"
                " the command.", "7.0.0", "server", complexity="O(1).",
                arguments=(
                    _string("username"),
                    _string("command"),
                    _string("arg", flags=(*OPTIONAL, *MULTIPLE)),
                ),
            ),
            _sub(
                "acl", "genpass", -2, ("noscript", *_SUB), "@slow",
                "Generate a pseudorandom secure password to use for ACL users", "6.0.0", "server",
                arguments=(_integer("bits", flags=OPTIONAL),),
            ),
            _sub(
                "acl", "getuser", 3, _SUB_ADMIN, "@admin @slow @dangerous",
                "Get the rules for a specific ACL user", "6.0.0", "server",
                complexity="O(N). Where N is the number of password, command and pattern rules"
                " that the user has.",
                arguments=(_string("username"),),
                history=(
                    ("6.2.0", "Added Pub/Sub channel patterns."),
                    (
                        "7.0.0",
                        "Added selectors and changed the format of key and channel patterns"
                        " from a list to their rule representation.",
                    ),
                ),
            ),
            _sub(
                "acl", "list", 2, _SUB_ADMIN, "@admin @slow @dangerous",
                "List the current ACL rules in ACL config file format", "6.0.0", "server",
                complexity=_PER_USER,
            ),
            _sub(
                "acl", "load", 2, _SUB_ADMIN, "@admin @slow @dangerous",
                "Reload the ACLs from the configured ACL file", "6.0.0", "server",
                complexity=_PER_USER,
            ),
            _sub(
                "acl", "log", -2, _SUB_ADMIN, "@admin @slow @dangerous",
                "List latest events denied because of ACLs in place", "6.0.0", "server",
                complexity="O(N) with N being the number of entries shown.",
                arguments=(
                    _oneof(
                        "operation", _integer("count"), _token("reset", "RESET"), flags=OPTIONAL
                    ),
                ),
            ),
            _sub(
                "acl", "save", 2, _SUB_ADMIN, "@admin @slow @dangerous",
                "Save the current ACL rules in the configured ACL file", "6.0.0", "server",
                complexity=_PER_USER,
            ),
            _sub(
                "acl", "setuser", -3, _SUB_ADMIN, "@admin @slow @dangerous",
                "Modify or create the rules for a specific ACL user", "6.0.0", "server",
                complexity="O(N). Where N is the number of rules provided.",
                arguments=(_string("username"), _string("rule", flags=(*OPTIONAL, *MULTIPLE))),
                history=(
                    ("6.2.0", "Added Pub/Sub channel patterns."),
                    ("7.0.0", "Added selectors and key based permissions."),
                ),
            ),
            _sub(
                "acl", "users", 2, _SUB_ADMIN, "@admin @slow @dangerous",
                "List the username of all the configured ACL rules", "6.0.0", "server",
                complexity=_PER_USER,
            ),
            _sub(
                "acl", "whoami", 2, ("noscript", *_SUB), "@slow",
                "Return the name of the user associated to the current connection", "6.0.0",
                "server",
            ),
            _sub("acl", "help", 2, _SUB, "@slow", _HELP, "6.0.0", "server"),
        ),
    ),
    _connection_row(
        "config", -2, "", "@slow", "A container for server configuration commands", "2.0.0",
        group="server", complexity="Depends on subcommand.",
        subcommands=(
            _sub(
                "config", "get", -3, _SUB_ADMIN, "@admin @slow @dangerous",
                "Get the values of configuration parameters", "2.0.0", "server",
                complexity="O(N) when N is the number of configuration parameters provided",
                arguments=(_block("parameter", _string("parameter"), flags=MULTIPLE),),
                history=(
                    ("7.0.0", "Added the ability to pass multiple pattern parameters in one call"),
                ),
            ),
            _sub(
                "config", "set", -4, _SUB_ADMIN, "@admin @slow @dangerous",
                "Set configuration parameters to the given values", "2.0.0", "server",
                complexity="O(N) when N is the number of configuration parameters provided",
                arguments=(
                    _block(
                        "parameter_value", _string("parameter"), _string("value"), flags=MULTIPLE
                    ),
                ),
                history=(("7.0.0", "Added the ability to set multiple parameters in one call."),),
                tips=("request_policy:all_nodes", "response_policy:all_succeeded"),
            ),
            _sub(
                "config", "resetstat", 2, _SUB_ADMIN, "@admin @slow @dangerous",
                "Reset the stats returned by INFO", "2.0.0", "server",
            ),
            _sub(
                "config", "rewrite", 2, _SUB_ADMIN, "@admin @slow @dangerous",
                "Rewrite the configuration file with the in memory configuration", "2.8.0",
                "server",
            ),
            _sub("config", "help", 2, _SUB, "@slow", _HELP, "5.0.0", "server"),
        ),
    ),
    _connection_row(
        "latency", -2, "", "@slow", "A container for latency diagnostics commands", "2.8.13",
        group="server", complexity="Depends on subcommand.",
        subcommands=(
            _sub(
                "latency", "histogram", -2, _SUB_ADMIN, "@admin @slow @dangerous",
                "Return the cumulative distribution of latencies of a subset of commands or all.",
                "7.0.0", "server",
                complexity=(
                    "O(N) where N is the number of commands with latency information being "
                    "retrieved."
                ),
                arguments=(_string("command", flags=("optional", "multiple")),),
                tips=_LATENCY_TIPS,
            ),
            _sub(
                "latency", "latest", 2, _SUB_ADMIN, "@admin @slow @dangerous",
                "Return the latest latency samples for all events.", "2.8.13", "server",
                tips=_LATENCY_TIPS,
            ),
            _sub(
                "latency", "help", 2, _SUB, "@slow",
                "Show helpful text about the different subcommands.", "2.8.13", "server",
            ),
            _sub(
                "latency", "reset", -2, _SUB_ADMIN, "@admin @slow @dangerous",
                "Reset latency data for one or more events.", "2.8.13", "server",
                arguments=(_string("event", flags=("optional", "multiple")),),
                tips=("request_policy:all_nodes", "response_policy:all_succeeded"),
            ),
            _sub(
                "latency", "history", 3, _SUB_ADMIN, "@admin @slow @dangerous",
                "Return timestamp-latency samples for the event.", "2.8.13", "server",
                arguments=(_string("event"),),
                tips=_LATENCY_TIPS,
            ),
        ),
    ),
    _connection_row(
        "slowlog", -2, "", "@slow", "A container for slow log commands", "2.2.12",
        group="server", complexity="Depends on subcommand.",
        subcommands=(
            _sub(
                "slowlog", "get", -2, _SLOWLOG_FLAGS, "@admin @slow @dangerous",
                "Get the slow log's entries", "2.2.12", "server",
                complexity="O(N) where N is the number of entries returned",
                arguments=(_integer("count", flags=OPTIONAL),),
                history=(("4.0.0", "Added client IP address, port and name to the reply."),),
                tips=("request_policy:all_nodes", "nondeterministic_output"),
            ),
            _sub("slowlog", "help", 2, _SUB, "@slow", _HELP, "6.2.0", "server"),
            _sub(
                "slowlog", "reset", 2, _SLOWLOG_FLAGS, "@admin @slow @dangerous",
                "Clear all entries from the slow log", "2.2.12", "server",
                complexity="O(N) where N is the number of entries in the slowlog",
                tips=("request_policy:all_nodes", "response_policy:all_succeeded"),
            ),
            _sub(
                "slowlog", "len", 2, _SLOWLOG_FLAGS, "@admin @slow @dangerous",
                "Get the slow log's length", "2.2.12", "server",
                tips=(
                    "request_policy:all_nodes", "response_policy:agg_sum",
                    "nondeterministic_output",
                ),
            ),
        ),
    ),
    _connection_row(
        "save", 1, "admin noscript no_async_loading no_multi", "@admin @slow @dangerous",
        "Synchronously save the dataset to disk", "1.0.0", group="server",
        complexity="O(N) where N is the total number of keys in all databases",
    ),
    _connection_row(
        "bgsave", -1, "admin noscript no_async_loading", "@admin @slow @dangerous",
        "Asynchronously save the dataset to disk", "1.0.0", group="server",
        arguments=(_token("schedule", "SCHEDULE", since="3.2.2", flags=OPTIONAL),),
        history=(("3.2.2", "Added the `SCHEDULE` option."),),
    ),
    _connection_row(
        "lastsave", 1, "loading stale fast", "@admin @fast @dangerous",
        "Get the UNIX time stamp of the last successful save to disk", "1.0.0",
        group="server", tips=("nondeterministic_output",),
    ),
    _connection_row(
        "role", 1, "noscript loading stale fast", "@admin @fast @dangerous",
        "Return the role of the instance in the context of replication", "2.8.12",
        group="server",
    ),
    _connection_row(
        "replconf", -1, "admin noscript loading stale allow_busy", "@admin @slow @dangerous",
        "An internal command for configuring the replication stream", "3.0.0", group="server",
        doc_flags=("syscmd",),
    ),
    _connection_row(
        "sync", 1, "admin noscript no_async_loading no_multi", "@admin @slow @dangerous",
        "Internal command used for replication", "1.0.0", group="server", complexity="",
    ),
    _connection_row(
        "psync", -3, "admin noscript no_async_loading no_multi", "@admin @slow @dangerous",
        "Internal command used for replication", "2.8.0", group="server", complexity="",
        arguments=(_string("replicationid"), _integer("offset")),
    ),
    _connection_row(
        "monitor", 1, "admin noscript loading stale", "@admin @slow @dangerous",
        "Listen for all requests received by the server in real time", "1.0.0", group="server",
        complexity="",
    ),
    _connection_row(
        "info", -1, "loading stale", "@slow @dangerous",
        "Get information and statistics about the server", "1.0.0", group="server",
        arguments=(_string("section", flags=("optional", "multiple")),),
        history=(("7.0.0", "Added support for taking multiple section arguments."),),
        tips=(
            "nondeterministic_output", "request_policy:all_shards", "response_policy:special",
        ),
    ),
    _connection_row(
        "shutdown", -1, "admin noscript loading stale no_multi allow_busy",
        "@admin @slow @dangerous",
        "Synchronously save the dataset to disk and then shut down the server", "1.0.0",
        group="server",
        complexity=(
            "O(N) when saving, where N is the total number of keys in all databases when "
            "saving data, otherwise O(1)"
        ),
        arguments=(
            _oneof(
                "nosave_save", _token("nosave", "NOSAVE"), _token("save", "SAVE"), flags=OPTIONAL
            ),
            _token("now", "NOW", since="7.0.0", flags=OPTIONAL),
            _token("force", "FORCE", since="7.0.0", flags=OPTIONAL),
            _token("abort", "ABORT", since="7.0.0", flags=OPTIONAL),
        ),
        history=(("7.0.0", "Added the `NOW`, `FORCE` and `ABORT` modifiers."),),
    ),
    _connection_row(
        "time", 1, "loading stale fast", "@fast", "Return the current server time", "2.6.0",
        group="server",
        tips=("nondeterministic_output",),
    ),
    _connection_row(
        "multi", 1, "noscript loading stale fast allow_busy", "@fast @transaction",
        "Mark the start of a transaction block", "1.2.0", group="transactions",
    ),
    _connection_row(
        "exec", 1, "noscript loading stale skip_slowlog", "@slow @transaction",
        "Execute all commands issued after MULTI", "1.2.0", group="transactions",
        complexity="Depends on commands in the transaction",
    ),
    _connection_row(
        "discard", 1, "noscript loading stale fast allow_busy", "@fast @transaction",
        "Discard all commands issued after MULTI", "2.0.0", group="transactions",
        complexity="O(N), when N is the number of queued commands",
    ),
    _connection_row(
        "watch", -2, "noscript loading stale fast allow_busy", "@fast @transaction",
        "Watch the given keys to determine execution of the MULTI/EXEC block", "2.2.0",
        group="transactions", complexity="O(1) for every key.",
        arguments=_KEYS_MULTIPLE,
        key_specs=(KeySpec(1, -1, flags=("RO",)),),
    ),
    _connection_row(
        "unwatch", 1, "noscript loading stale fast allow_busy", "@fast @transaction",
        "Forget about all watched keys", "2.2.0", group="transactions",
    ),
)

# fmt: on

_CHANNELS = _string("channel", flags=(*OPTIONAL, *MULTIPLE))
_PATTERN = Arg("pattern", "pattern")


def _subscription_row(name: str, arity: int, summary: str, complexity: str,
                      arguments: tuple[Arg, ...]) -> CommandSpec:
    return _connection_row(
        name, arity, "pubsub noscript loading stale", "@pubsub @slow", summary, "2.0.0",
        group="pubsub", complexity=complexity, arguments=arguments,
    )


_SHARD_CHANNEL = (KeySpec(1, flags=("not_key",)),)
_SHARD_CHANNELS = (KeySpec(1, -1, flags=("not_key",)),)
"""Shard channels sit where keys would (Redis Cluster routes them by slot), flagged
``not_key``: nothing here reads them as keys (SPUBLISH is ordered by ``channel_key``)."""


def _shard_subscription_row(name: str, arity: int, summary: str, complexity: str,
                            flags: tuple[str, ...]) -> CommandSpec:
    return _connection_row(
        name, arity, "pubsub noscript loading stale", "@pubsub @slow", summary, "7.0.0",
        group="pubsub", complexity=complexity,
        arguments=(_string("shardchannel", flags=flags),), key_specs=_SHARD_CHANNELS,
    )


def _pubsub_sub(name: str, arity: int, summary: str, since: str, complexity: str = "O(1)",
                arguments: tuple[Arg, ...] = ()) -> CommandSpec:
    return _sub(
        "pubsub", name, arity, ("pubsub", *_SUB), "@pubsub @slow", summary, since, "pubsub",
        complexity=complexity, arguments=arguments,
    )


PUBSUB_COMMANDS: tuple[CommandSpec, ...] = (
    _generic_row(
        "publish", 3, "pubsub loading stale fast", pubsub.cmd_publish, (), "@pubsub @fast",
        "Post a message to a channel", "2.0.0",
        (_string("channel"), _string("message")),
        "O(N+M) where N is the number of clients subscribed to the receiving channel and M "
        "is the total number of subscribed patterns (by any client).",
        group="pubsub",
    ),
    _subscription_row(
        "subscribe", -2, "Listen for messages published to the given channels",
        "O(N) where N is the number of channels to subscribe to.",
        (_string("channel", flags=MULTIPLE),),
    ),
    _subscription_row(
        "unsubscribe", -1, "Stop listening for messages posted to the given channels",
        "O(N) where N is the number of clients already subscribed to a channel.",
        (_CHANNELS,),
    ),
    _subscription_row(
        "psubscribe", -2, "Listen for messages published to channels matching the given patterns",
        "O(N) where N is the number of patterns the client is already subscribed to.",
        (_block("pattern", _PATTERN, flags=MULTIPLE),),
    ),
    _subscription_row(
        "punsubscribe", -1,
        "Stop listening for messages posted to channels matching the given patterns",
        "O(N+M) where N is the number of patterns the client is already subscribed and M is "
        "the number of total patterns subscribed in the system (by any client).",
        (Arg("pattern", "pattern", flags=(*OPTIONAL, *MULTIPLE)),),
    ),
    _generic_row(
        "spublish", 3, "pubsub loading stale fast", pubsub.cmd_spublish, _SHARD_CHANNEL,
        "@pubsub @fast", "Post a message to a shard channel", "7.0.0",
        (_string("shardchannel"), _string("message")),
        "O(N) where N is the number of clients subscribed to the receiving shard channel.",
        group="pubsub",
    ),
    _shard_subscription_row(
        "ssubscribe", -2, "Listen for messages published to the given shard channels",
        "O(N) where N is the number of shard channels to subscribe to.", MULTIPLE,
    ),
    _shard_subscription_row(
        "sunsubscribe", -1, "Stop listening for messages posted to the given shard channels",
        "O(N) where N is the number of clients already subscribed to a shard channel.",
        (*OPTIONAL, *MULTIPLE),
    ),
    _connection_row(
        "pubsub", -2, "", "@slow", "A container for Pub/Sub commands", "2.8.0",
        group="pubsub", complexity="Depends on subcommand.",
        subcommands=(
            _pubsub_sub(
                "channels", -2, "List active channels", "2.8.0",
                "O(N) where N is the number of active channels, and assuming constant time "
                "pattern matching (relatively short channels and patterns)",
                (Arg("pattern", "pattern", flags=OPTIONAL),),
            ),
            _pubsub_sub(
                "numpat", 2, "Get the count of unique patterns pattern subscriptions", "2.8.0",
            ),
            _pubsub_sub(
                "numsub", -2, "Get the count of subscribers for channels", "2.8.0",
                "O(N) for the NUMSUB subcommand, where N is the number of requested channels",
                (_CHANNELS,),
            ),
            _pubsub_sub(
                "shardchannels", -2, "List active shard channels", "7.0.0",
                "O(N) where N is the number of active shard channels, and assuming constant "
                "time pattern matching (relatively short shard channels).",
                (Arg("pattern", "pattern", flags=OPTIONAL),),
            ),
            _pubsub_sub(
                "shardnumsub", -2, "Get the count of subscribers for shard channels", "7.0.0",
                "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard "
                "channels",
                (_string("shardchannel", flags=(*OPTIONAL, *MULTIPLE)),),
            ),
            _sub("pubsub", "help", 2, _SUB, "@slow", _HELP, "6.2.0", "pubsub"),
        ),
    ),
)

_FLUSH_MODE_62 = _oneof(
    "async", _token("async", "ASYNC"), _token("sync", "SYNC"), since="6.2.0", flags=OPTIONAL
)
_SCRIPT_KEYS_NOTE = "We cannot tell how the keys will be used so we assume the worst, "


def _eval_row(name: str, summary: str, since: str, source: Arg, read_only: bool) -> CommandSpec:
    """EVAL, EVALSHA and their read-only forms: ``script|sha1 numkeys key... arg...``.

    EVALSHA is answered by the front end, which looks the script up in its
    replica's cache and proposes it as EVAL (the cache is not replicated)."""
    by_body = source.name == "script"
    handler = scripting.cmd_eval_ro if read_only else scripting.cmd_eval
    return _script_row(
        name,
        summary,
        since,
        source,
        read_only,
        "Depends on the script that is executed.",
        handler if by_body else None,
        scripting.prepare_eval if by_body else None,
    )


def _script_row(
    name: str,
    summary: str,
    since: str,
    source: Arg,
    read_only: bool,
    complexity: str,
    handler: Handler | None,
    prepare: Prepare | None,
) -> CommandSpec:
    """A script's or a function's call: ``source numkeys key... arg...``, replicated unless
    ``read_only``, answered by the front end when it has no ``handler`` (EVALSHA)."""
    key_flags = ("RO", "access") if read_only else ("RW", "access", "update")
    note = _SCRIPT_KEYS_NOTE + ("RO and ACCESS" if read_only else "RW and UPDATE")
    flags = "noscript stale skip_monitor no_mandatory_keys"
    if read_only:
        flags = "readonly " + flags
    elif handler is not None:
        flags += " replicated"
    if handler is None:
        flags += " connection"
    return CommandSpec(
        name=name.encode(),
        arity=-3,
        flags=_flags(flags),
        handler=handler,
        prepare=prepare,
        key_specs=(
            KeySpec(
                2,
                flags=key_flags,
                notes=note if handler is not None else None,
                keynumidx=0,
                zero_keys=True,
            ),
        ),
        acl_categories=("@slow", "@scripting"),
        summary=summary,
        since=since,
        group="scripting",
        complexity=complexity,
        arguments=(
            source,
            _integer("numkeys"),
            _key(flags=(*OPTIONAL, *MULTIPLE)),
            _string("arg", flags=(*OPTIONAL, *MULTIPLE)),
        ),
    )


def _function_sub(
    name: str,
    arity: int,
    flags: str,
    handler: Handler,
    summary: str,
    complexity: str,
    arguments: tuple[Arg, ...] = (),
    prepare: Prepare | None = None,
    tips: tuple[str, ...] = (),
) -> CommandSpec:
    """A FUNCTION sub-command. Those that change the libraries or read them are
    ``keyspace`` commands: ordered against every other command, FCALLs among them, so
    every replica changes its registry at the same point of the order."""
    acl = "@write @slow @scripting" if "write" in flags.split() else "@slow @scripting"
    extras: _Extras = {"tips": tips}
    if prepare is not None:
        extras["prepare"] = prepare
    return _data_sub(
        "function",
        name,
        arity,
        flags,
        handler,
        (),
        acl,
        summary,
        "7.0.0",
        complexity,
        arguments,
        group="scripting",
        **extras,
    )


_ALL_SUCCEEDED = ("request_policy:all_shards", "response_policy:all_succeeded")
_FCALL_COMPLEXITY = "Depends on the function that is executed."
FUNCTION_COMMANDS: tuple[CommandSpec, ...] = (
    _script_row(
        "fcall",
        "Invoke a function",
        "7.0.0",
        _string("function"),
        False,
        _FCALL_COMPLEXITY,
        functions.cmd_fcall,
        None,
    ),
    _script_row(
        "fcall_ro",
        "Invoke a read-only function",
        "7.0.0",
        _string("function"),
        True,
        _FCALL_COMPLEXITY,
        functions.cmd_fcall_ro,
        None,
    ),
    _data_container(
        "function",
        "A container for function commands",
        "7.0.0",
        "scripting",
        (
            _function_sub(
                "flush",
                -2,
                "write noscript keyspace",
                functions.cmd_function_flush,
                "Deleting all functions",
                "O(N) where N is the number of functions deleted",
                (
                    _oneof(
                        "async", _token("async", "ASYNC"), _token("sync", "SYNC"), flags=OPTIONAL
                    ),
                ),
                functions.prepare_function_flush,
                _ALL_SUCCEEDED,
            ),
            _function_sub(
                "kill",
                2,
                "noscript allow_busy",
                functions.cmd_function_kill,
                "Kill the function currently in execution.",
                "O(1)",
                tips=("request_policy:all_shards", "response_policy:one_succeeded"),
            ),
            _function_sub(
                "load",
                -3,
                "write denyoom noscript keyspace",
                functions.cmd_function_load,
                "Create a function with the given arguments (name, code, description)",
                "O(1) (considering compilation time is redundant)",
                (_token("replace", "REPLACE", flags=OPTIONAL), _string("function-code")),
                functions.prepare_function_load,
                _ALL_SUCCEEDED,
            ),
            _function_sub(
                "delete",
                3,
                "write noscript keyspace",
                functions.cmd_function_delete,
                "Delete a function by name",
                "O(1)",
                (_string("library-name"),),
                tips=_ALL_SUCCEEDED,
            ),
            _function_sub(
                "help",
                2,
                "loading stale",
                functions.cmd_function_help,
                "Show helpful text about the different subcommands",
                "O(1)",
            ),
            _function_sub(
                "dump",
                2,
                "noscript keyspace",
                functions.cmd_function_dump,
                "Dump all functions into a serialized binary payload",
                "O(N) where N is the number of functions",
            ),
            _function_sub(
                "restore",
                -3,
                "write denyoom noscript keyspace",
                functions.cmd_function_restore,
                "Restore all the functions on the given payload",
                "O(N) where N is the number of functions on the payload",
                (
                    _string("serialized-value"),
                    _oneof(
                        "policy",
                        _token("flush", "FLUSH"),
                        _token("append", "APPEND"),
                        _token("replace", "REPLACE"),
                        flags=OPTIONAL,
                    ),
                ),
                functions.prepare_function_restore,
                _ALL_SUCCEEDED,
            ),
            _function_sub(
                "list",
                -2,
                "noscript keyspace",
                functions.cmd_function_list,
                "List information about all the functions",
                "O(N) where N is the number of functions",
                (
                    _string("library-name-pattern", token="LIBRARYNAME", flags=OPTIONAL),
                    _token("withcode", "WITHCODE", flags=OPTIONAL),
                ),
                functions.prepare_function_list,
                ("nondeterministic_output_order",),
            ),
            _function_sub(
                "stats",
                2,
                "noscript allow_busy keyspace",
                functions.cmd_function_stats,
                "Return information about the function currently running (name, description, "
                "duration)",
                "O(1)",
                tips=(
                    "nondeterministic_output",
                    "request_policy:all_shards",
                    "response_policy:special",
                ),
            ),
        ),
    ),
)


def _script_sub(name: str, arity: int, flags: tuple[str, ...], summary: str, since: str,
                complexity: str, arguments: tuple[Arg, ...] = (),
                **rest: Unpack[_Extras]) -> CommandSpec:
    return _sub(
        "script", name, arity, flags, "@slow @scripting", summary, since, "scripting",
        complexity=complexity, arguments=arguments, **rest,
    )


_RUN = "Execute a Lua script server side"
_RUN_RO = "Execute a read-only Lua script server side"
SCRIPTING_COMMANDS: tuple[CommandSpec, ...] = (
    _eval_row("eval", _RUN, "2.6.0", _string("script"), read_only=False),
    _eval_row("evalsha", _RUN, "2.6.0", _string("sha1"), read_only=False),
    _eval_row("eval_ro", _RUN_RO, "7.0.0", _string("script"), read_only=True),
    _eval_row("evalsha_ro", _RUN_RO, "7.0.0", _string("sha1"), read_only=True),
    _connection_row(
        "script", -2, "", "@slow", "A container for Lua scripts management commands",
        "2.6.0", group="scripting", complexity="Depends on subcommand.",
        subcommands=(
            _script_sub(
                "flush", -2, ("noscript",), "Remove all the scripts from the script cache.",
                "2.6.0", "O(N) with N being the number of scripts in cache",
                (_FLUSH_MODE_62,),
                history=(("6.2.0", "Added the `ASYNC` and `SYNC` flushing mode modifiers."),),
                tips=("request_policy:all_nodes", "response_policy:all_succeeded"),
            ),
            _script_sub(
                "kill", 2, ("noscript", "allow_busy"), "Kill the script currently in execution.",
                "2.6.0", "O(1)",
                tips=("request_policy:all_shards", "response_policy:one_succeeded"),
            ),
            _script_sub(
                "exists", -3, ("noscript",), "Check existence of scripts in the script cache.",
                "2.6.0",
                "O(N) with N being the number of scripts to check (so checking a single "
                "script is an O(1) operation).",
                (_string("sha1", flags=MULTIPLE),),
                tips=("request_policy:all_shards", "response_policy:agg_logical_and"),
            ),
            _script_sub(
                "load", 3, ("noscript", "stale"),
                "Load the specified Lua script into the script cache.", "2.6.0",
                "O(N) with N being the length in bytes of the script body.",
                (_string("script"),),
                tips=("request_policy:all_nodes", "response_policy:all_succeeded"),
            ),
            _script_sub("help", 2, _SUB, _HELP, "5.0.0", "O(1)"),
        ),
    ),
)

def _retry_row(spec: CommandSpec) -> CommandSpec:
    """The internal twin a blocked client's later attempts propose (``blocking``)."""
    assert spec.handler is not None
    return CommandSpec(
        name=blocking.retry_name(spec.upper).lower(),
        arity=spec.arity,
        flags=(spec.flags - {"blocking", "movablekeys"}) | {"internal"},
        handler=blocking.retry_handler(spec.upper, spec.handler),
        key_specs=spec.key_specs,
        summary=f"{spec.upper.decode()}'s attempts after the first (``blocking``)",
        group=spec.group,
    )


BLOCKING_RETRY_COMMANDS: tuple[CommandSpec, ...] = tuple(
    _retry_row(spec)
    for spec in (*LIST_COMMANDS, *SORTED_SET_COMMANDS, *STREAM_COMMANDS)
    if spec.upper in blocking.SOURCE_TYPES
)

INTERNAL_COMMANDS: tuple[CommandSpec, ...] = (
    *BLOCKING_RETRY_COMMANDS,
    CommandSpec(
        name=groups.RETRY.lower(),
        arity=-7,
        flags=_flags("write internal"),
        handler=groups.cmd_xreadgroup_retry,
        key_specs=_XREADGROUP_KEYS,
        summary="XREADGROUP BLOCK's attempts after the first (``groups``)",
        group="stream",
    ),
    CommandSpec(
        name=expiry.SWEEP.lower(),
        arity=-1,
        flags=_flags("write internal"),
        handler=expiry.cmd_delexpired,
        key_specs=(KeySpec(1, -1, flags=("RM", "delete")),),
        summary="Delete the listed keys that are expired at the command's timestamp",
        group="generic",
    ),
    CommandSpec(
        name=b"errorreply",
        arity=2,
        flags=_flags("readonly internal"),
        handler=errors.cmd_errorreply,
        summary="Reply an error decided when a MULTI's command was prepared",
        group="transactions",
    ),
    CommandSpec(
        name=watch.WATCHREAD.lower(),
        arity=-2,
        flags=_flags("readonly internal"),
        handler=watch.cmd_watchread,
        key_specs=(KeySpec(1, -1, flags=("RO",)),),
        summary="WATCH: the digest of each key's value, recorded by the connection",
        group="transactions",
    ),
    CommandSpec(
        name=watch.WATCHCHECK.lower(),
        arity=-3,
        flags=_flags("readonly internal"),
        handler=watch.cmd_watchcheck,
        key_specs=(KeySpec(1, -1, 2, flags=("RO",)),),
        summary="EXEC: run the transaction only if every watched key keeps its digest",
        group="transactions",
    ),
)

COMMANDS: tuple[CommandSpec, ...] = (
    *STRING_COMMANDS,
    *BITMAP_COMMANDS,
    *HYPERLOGLOG_COMMANDS,
    *HASH_COMMANDS,
    *SET_COMMANDS,
    *SORTED_SET_COMMANDS,
    *GEO_COMMANDS,
    *LIST_COMMANDS,
    *STREAM_COMMANDS,
    *STREAM_GROUP_COMMANDS,
    *GENERIC_COMMANDS,
    *DUMP_COMMANDS,
    *SORT_COMMANDS,
    *CONNECTION_COMMANDS,
    *PUBSUB_COMMANDS,
    *SCRIPTING_COMMANDS,
    *FUNCTION_COMMANDS,
    *INTERNAL_COMMANDS,
)
"""Every command, in the order COMMAND lists them."""

BY_NAME: dict[bytes, CommandSpec] = {spec.name: spec for spec in COMMANDS}
"""Lower-case name → spec, internal commands included (for execution and access)."""

BY_OP_NAME: dict[bytes, CommandSpec] = {spec.upper: spec for spec in COMMANDS}
"""Upper-case name → spec: normalized ops carry upper-case names."""

WRITES: frozenset[bytes] = frozenset(spec.upper for spec in COMMANDS if spec.runs_everywhere)
"""Upper-case names of the commands every replica runs (they may change the state)."""


def lookup(name: bytes) -> CommandSpec | None:
    """The spec of a client-callable command, case-insensitively; ``None`` if unknown.

    Internal commands are not found: a client cannot call them.
    """
    spec = BY_NAME.get(name.lower())
    if spec is None or "internal" in spec.flags:
        return None
    return spec

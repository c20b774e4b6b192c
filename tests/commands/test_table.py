"""The command table's own rules: one row per command, consistent flags and handlers."""

from __future__ import annotations

from epaxosdb.commands import COMMANDS, CommandSpec, command_reply, lookup
from epaxosdb.commands.blocking import SOURCE_TYPES
from epaxosdb.commands.docs import PUBLIC

CONNECTION_NAMES = {
    b"hello", b"ping", b"echo", b"quit", b"reset", b"select", b"auth", b"client", b"command",
    b"config", b"info", b"time", b"shutdown", b"multi", b"exec", b"discard", b"watch", b"unwatch",
    b"subscribe", b"unsubscribe", b"psubscribe", b"punsubscribe", b"pubsub", b"wait",
    b"ssubscribe", b"sunsubscribe",
    b"evalsha", b"evalsha_ro", b"script", b"slowlog", b"latency", b"monitor",
    b"role", b"save", b"bgsave", b"lastsave", b"replconf", b"sync", b"psync", b"acl",
}  # fmt: skip
KEYSPACE_NAMES = {b"flushall", b"flushdb", b"keys", b"scan", b"dbsize", b"randomkey", b"debug"}


def test_names_are_lower_case_and_unique() -> None:
    names = [spec.name for spec in COMMANDS]
    assert len(names) == len(set(names))
    assert all(name == name.lower() for name in names)
    for spec in COMMANDS:
        assert all(sub.name.startswith(spec.name + b"|") for sub in spec.subcommands)


DATA_CONTAINERS = {b"xgroup", b"xinfo", b"memory", b"object", b"function"}
"""Containers whose sub-commands are data commands: the container has neither a handler
nor flags (``resolve`` always hands on to a sub-command), each sub-command has both."""


FLAGGED_NEITHER = {
    b"function|list", b"function|dump", b"function|stats", b"function|kill", b"debug"
}  # fmt: skip
"""Commands Redis flags neither ``readonly`` nor ``write`` (only ``noscript``, ``admin``),
which change nothing here: reads."""


def _data_specs() -> list[CommandSpec]:
    """Every row that executes, the sub-commands of data containers instead of them."""
    subs = [sub for spec in COMMANDS if spec.name in DATA_CONTAINERS for sub in spec.subcommands]
    return [spec for spec in COMMANDS if spec.name not in DATA_CONTAINERS] + subs


def test_connection_commands_have_no_handler_and_all_others_have_one() -> None:
    for spec in _data_specs():
        assert ("connection" in spec.flags) == (spec.name in CONNECTION_NAMES), spec.name
        assert (spec.handler is None) == ("connection" in spec.flags), spec.name
    for spec in COMMANDS:
        if any(sub.handler is not None for sub in spec.subcommands):
            assert spec.name in DATA_CONTAINERS and spec.handler is None and not spec.flags


def test_keyspace_wide_commands_are_exactly_those_that_touch_every_key() -> None:
    assert {s.name for s in COMMANDS if "keyspace" in s.flags} == KEYSPACE_NAMES
    assert all(not s.key_specs for s in COMMANDS if "keyspace" in s.flags)


def test_every_data_command_is_a_write_or_read_only_or_publish_or_a_script() -> None:
    for spec in _data_specs():
        if spec.name.endswith(b"|help") or spec.name in FLAGGED_NEITHER:
            assert not spec.runs_everywhere  # flagged neither, so reads
        elif "connection" not in spec.flags:
            replicated = "replicated" in spec.flags
            # PFCOUNT keeps Redis's ``readonly`` but writes its cache: replicated too.
            read_only = "readonly" in spec.flags and spec.name != b"pfcount"
            kinds = ["write" in spec.flags, read_only, spec.publishes, replicated]
            assert kinds.count(True) == 1, spec.name
    assert [s.name for s in COMMANDS if s.publishes] == [b"publish", b"spublish"]
    assert [s.name for s in COMMANDS if "replicated" in s.flags] == [
        b"pfcount", b"eval", b"fcall"
    ]


def test_internal_commands_are_hidden_from_clients_and_command() -> None:
    internal = [s for s in COMMANDS if "internal" in s.flags]
    assert {s.name for s in internal} == {
        b"delexpired", b"errorreply", b"watchread", b"watchcheck", b"xreadgroup_retry",
        *(name.lower() + b"_retry" for name in SOURCE_TYPES),  # blocked clients' attempts
    }
    assert all(lookup(s.name) is None for s in internal)
    assert command_reply([b"COMMAND", b"COUNT"]) == len(COMMANDS) - len(internal) == len(PUBLIC)
    listed = command_reply([b"COMMAND", b"LIST"])
    assert isinstance(listed, list) and b"delexpired" not in listed and b"client|id" in listed


def test_legacy_key_range_follows_key_specs() -> None:
    def legacy(name: bytes) -> tuple[int, int, int]:
        spec = lookup(name)
        assert spec is not None
        return spec.first_key, spec.last_key, spec.key_step

    assert legacy(b"get") == (1, 1, 1)
    assert legacy(b"mset") == (1, -1, 2)
    assert legacy(b"rename") == (1, 2, 1)
    assert legacy(b"geosearchstore") == (1, 2, 1)
    assert legacy(b"georadius") == (1, 1, 1)  # STORE's key is found by keyword: not legacy
    assert legacy(b"keys") == (0, 0, 0)

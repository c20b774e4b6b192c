"""The table against redis-server: arity errors, unknown commands, COMMAND INFO and DOCS.

Every row's arity, flags, key specs and documentation were transcribed from
Redis 7.0; these tests compare what the table makes of them with what the
real server says, byte for byte, command by command.
"""

from __future__ import annotations

import pytest

from epaxosdb.commands import COMMANDS, CommandSpec, command_reply
from protocol.resp import encode_reply
from tests.commands.differential import Differential
from tests.redis_server import Parsed, parse_reply

PUBLIC = [spec for spec in COMMANDS if "internal" not in spec.flags]
SUBCOMMANDS = [sub for spec in PUBLIC for sub in spec.subcommands]
NOT_IN_REDIS_7_0 = {b"client|setinfo", b"client|no-touch"}
"""Listed because clients send it (redis-py, go-redis), but Redis 7.0 predates it."""


def _call_name(spec: CommandSpec) -> list[bytes]:
    return spec.name.upper().split(b"|")


def _wrong_argument_counts(arity: int) -> list[int]:
    if arity > 0:
        return [n for n in (arity - 1, arity + 1) if n >= 1]
    return [-arity - 1] if -arity - 1 >= 1 else []


def test_wrong_arity_gets_redis_error_for_every_command(diff: Differential) -> None:
    checked = 0
    for spec in PUBLIC + [s for s in SUBCOMMANDS if s.name not in NOT_IN_REDIS_7_0]:
        name = _call_name(spec)
        for argc in _wrong_argument_counts(spec.arity):
            if argc < len(name):
                continue
            args = [*name, *[b"x"] * (argc - len(name))]
            diff.check(*args, context=f"[arity of {spec.name!r}]")
            checked += 1
    assert checked > len(PUBLIC)


UNKNOWN_REQUESTS: list[list[bytes]] = [
    [b"FOO", b"a", b"b"],
    [b"foo"],
    [b""],
    [b"x" * 200, b"a"],
    [b"f\x00oo", b"a\x00b"],
    [b"foo", b"a\r\nb", b"c\nd"],
    [b"foo", *[b"y" * 50] * 5],
    [b"foo", *[b"z"] * 200],
    [b"foo", b"\xff\xfe", b"caf\xc3\xa9"],
    [b"DELEXPIRED", b"k"],
    [b"ERRORREPLY", b"ERR x"],
    [b"client|setname", b"x"],
    [b"CLIENT", b"FOO"],
    [b"client", b"nosuch\x00x", b"y"],
    [b"COMMAND", b"FOO", b"bar"],
    [b"CONFIG", b"x" * 200],
    [b"config", b"get"],
    [b"CLIENT", b"SETNAME"],
    [b"COMMAND", b"COUNT", b"x"],
    [b"COMMAND", b"GETKEYS", b"get"],
]


@pytest.mark.parametrize("args", UNKNOWN_REQUESTS, ids=lambda a: repr(a[:2])[:40])
def test_unknown_commands_and_subcommands_get_redis_error(
    diff: Differential, args: list[bytes]
) -> None:
    reply = diff.check(*args)
    assert reply.startswith(b"-ERR ")


IN_REDIS_7_0 = [s for s in PUBLIC + SUBCOMMANDS if s.name not in NOT_IN_REDIS_7_0]


@pytest.mark.parametrize("spec", IN_REDIS_7_0, ids=lambda s: s.name.decode())
def test_command_info_and_docs_match_redis(diff: Differential, spec: CommandSpec) -> None:
    if not spec.subcommands:
        diff.check(b"COMMAND", b"INFO", spec.name)
        diff.check(b"COMMAND", b"INFO", spec.name.upper())
        diff.check(b"COMMAND", b"DOCS", spec.name)
        return
    # A container: the same fields but the last; we list a subset of its sub-commands.
    theirs, _ = parse_reply(diff.redis.call(b"COMMAND", b"INFO", spec.name))
    ours, _ = parse_reply(
        encode_reply(command_reply([b"COMMAND", b"INFO", spec.name]), diff.protocol)
    )
    their_entry, our_entry = _items(_items(theirs)[0]), _items(_items(ours)[0])
    assert our_entry[:9] == their_entry[:9]
    their_subs = {_items(sub)[0].value for sub in _items(their_entry[9])}
    our_subs = {_items(sub)[0].value for sub in _items(our_entry[9])}
    assert our_subs - NOT_IN_REDIS_7_0 <= their_subs


def _items(parsed: Parsed) -> list[Parsed]:
    assert isinstance(parsed.value, list), parsed
    return parsed.value


COMMAND_REQUESTS: list[list[bytes]] = [
    [b"COMMAND", b"INFO", b"nosuch"],
    [b"COMMAND", b"INFO", b"get", b"nosuch", b"SET"],
    [b"COMMAND", b"INFO", b"client|setname", b"setname"],
    [b"COMMAND", b"DOCS", b"nosuch"],
    [b"COMMAND", b"DOCS", b"get", b"mset", b"nosuch"],
    [b"COMMAND", b"DOCS", b"client|nosuch"],
    [b"COMMAND", b"HELP"],
    [b"COMMAND", b"GETKEYS", b"set", b"a", b"b"],
    [b"COMMAND", b"GETKEYS", b"mset", b"a", b"b", b"c", b"d"],
    [b"COMMAND", b"GETKEYS", b"mset", b"a", b"b", b"c"],
    [b"COMMAND", b"GETKEYS", b"rename", b"a", b"b"],
    [b"COMMAND", b"GETKEYS", b"del", b"a", b"b", b"c"],
    [b"COMMAND", b"GETKEYS", b"get", b"a", b"b"],
    [b"COMMAND", b"GETKEYS", b"set", b"a"],
    [b"COMMAND", b"GETKEYS", b"foo", b"a"],
    [b"COMMAND", b"GETKEYS", b"ping", b"x"],
    [b"COMMAND", b"GETKEYS", b"publish", b"ch", b"m"],
    [b"COMMAND", b"GETKEYS", b"spublish", b"ch", b"m"],
    [b"COMMAND", b"GETKEYSANDFLAGS", b"ssubscribe", b"a", b"b"],
    [b"COMMAND", b"GETKEYS", b"sunsubscribe", b"a"],
    [b"COMMAND", b"GETKEYS", b"keys", b"*"],
    [b"COMMAND", b"GETKEYS", b"client", b"id", b"x"],
    [b"COMMAND", b"GETKEYS", b"client", b"nosuch", b"x"],
    [b"COMMAND", b"GETKEYS", b"client|id", b"x"],
    [b"COMMAND", b"GETKEYS", b"expire", b"a", b"1"],
    [b"COMMAND", b"GETKEYS", b"watch", b"a", b"b"],
    [b"COMMAND", b"GETKEYSANDFLAGS", b"set", b"a", b"b", b"get"],
    [b"COMMAND", b"GETKEYSANDFLAGS", b"set", b"a", b"b", b"EX", b"10"],
    [b"COMMAND", b"GETKEYSANDFLAGS", b"rename", b"a", b"b"],
    [b"COMMAND", b"GETKEYSANDFLAGS", b"mset", b"a", b"b", b"c", b"d"],
    [b"COMMAND", b"GETKEYSANDFLAGS", b"getex", b"a"],
    # keynum key specs, and Redis's fallback key finder when the count is malformed
    [b"COMMAND", b"GETKEYS", b"zunionstore", b"d", b"2", b"a", b"b", b"WEIGHTS", b"1", b"2"],
    [b"COMMAND", b"GETKEYS", b"zunionstore", b"d", b"3", b"a", b"b"],
    [b"COMMAND", b"GETKEYS", b"zunionstore", b"d", b"0", b"a", b"b"],
    [b"COMMAND", b"GETKEYS", b"zunionstore", b"d", b"-1", b"a", b"b"],
    [b"COMMAND", b"GETKEYS", b"zunionstore", b"d", b"x", b"a", b"b"],
    [b"COMMAND", b"GETKEYS", b"zunionstore", b"d", b"1x", b"a", b"b"],
    [b"COMMAND", b"GETKEYS", b"zinterstore", b"d", b"01", b"a", b"b"],
    [b"COMMAND", b"GETKEYS", b"zdiffstore", b"d", b"2x", b"a", b"b", b"c"],
    [b"COMMAND", b"GETKEYS", b"zunion", b"2", b"a", b"b", b"WITHSCORES"],
    [b"COMMAND", b"GETKEYS", b"zinter", b"+2", b"a", b"b"],
    [b"COMMAND", b"GETKEYS", b"zdiff", b"2\x00", b"a", b"b"],
    [b"COMMAND", b"GETKEYS", b"zunion", b"4294967298", b"a", b"b"],
    [b"COMMAND", b"GETKEYS", b"zunion", b"99999999999999999999", b"a", b"b"],
    [b"COMMAND", b"GETKEYS", b"zunion", b"", b"a", b"b"],
    [b"COMMAND", b"GETKEYS", b"zunion", b"-0", b"a", b"b"],
    [b"COMMAND", b"GETKEYS", b"zunion", b"1"],
    [b"COMMAND", b"GETKEYS", b"zintercard", b"2", b"a", b"b", b"LIMIT", b"1"],
    [b"COMMAND", b"GETKEYS", b"zintercard", b"1x", b"a", b"b"],
    [b"COMMAND", b"GETKEYS", b"sintercard", b"3", b"a", b"b"],
    [b"COMMAND", b"GETKEYS", b"sintercard", b" 1", b"a", b"b"],
    [b"COMMAND", b"GETKEYS", b"zmpop", b"2", b"a", b"MIN"],
    [b"COMMAND", b"GETKEYS", b"zmpop", b"1x", b"a", b"MIN"],
    [b"COMMAND", b"GETKEYS", b"zmpop", b"1", b"a"],
    [b"COMMAND", b"GETKEYS", b"lmpop", b"2", b"a", b"b", b"LEFT", b"COUNT", b"2"],
    [b"COMMAND", b"GETKEYS", b"lmpop", b"0", b"a", b"b", b"LEFT"],
    [b"COMMAND", b"GETKEYSANDFLAGS", b"zunionstore", b"d", b"2", b"a", b"b"],
    [b"COMMAND", b"GETKEYSANDFLAGS", b"zunionstore", b"d", b"1x", b"a", b"b"],
    [b"COMMAND", b"GETKEYSANDFLAGS", b"zmpop", b"2", b"a", b"b", b"MAX"],
    [b"COMMAND", b"GETKEYSANDFLAGS", b"lmpop", b"1x", b"a", b"b"],
    [b"COMMAND", b"INFO", b"zunionstore", b"zmpop", b"sintercard"],
    [b"COMMAND", b"DOCS", b"zinterstore", b"lmpop"],
    [b"COMMAND", b"GETKEYS", b"EVAL", b"return 1", b"0", b"x"],
    [b"COMMAND", b"GETKEYS", b"EVAL", b"return 1", b"-1", b"x"],
    [b"COMMAND", b"GETKEYS", b"EVAL", b"return 1", b"2", b"a", b"b", b"x"],
    [b"COMMAND", b"GETKEYSANDFLAGS", b"EVAL_RO", b"return 1", b"1", b"a"],
    [b"COMMAND", b"GETKEYS", b"EVALSHA", b"abc", b"1", b"a"],
    [b"COMMAND", b"LIST", b"FILTERBY", b"MODULE", b"x"],
    [b"COMMAND", b"LIST", b"FILTERBY", b"ACLCAT", b"nosuch"],
    [b"COMMAND", b"LIST", b"FILTERBY", b"ACLCAT", b"transaction"],
    [b"COMMAND", b"LIST", b"FILTERBY", b"PATTERN", b"*expire*"],
    [b"COMMAND", b"LIST", b"FILTERBY", b"PATTERN", b"G?T"],
    [b"COMMAND", b"LIST", b"FILTERBY"],
    [b"COMMAND", b"LIST", b"FILTERBY", b"FOO", b"x"],
    [b"COMMAND", b"LIST", b"foo"],
]


@pytest.mark.parametrize("args", COMMAND_REQUESTS, ids=lambda a: b" ".join(a[1:4]).decode())
def test_command_subcommands_match_redis(diff: Differential, args: list[bytes]) -> None:
    if args[1] == b"LIST" and len(args) == 5 and args[3] in (b"ACLCAT", b"PATTERN"):
        diff.check_unordered(*args)
    else:
        diff.check(*args)


def test_full_command_docs_reply_has_the_shape_redis_cli_reads(diff: Differential) -> None:
    """redis-cli's interactive mode reads COMMAND DOCS: a map of name to a map of fields."""
    reply, _ = parse_reply(encode_reply(command_reply([b"COMMAND", b"DOCS"]), diff.protocol))
    expected_kind = "%" if diff.protocol == 3 else "*"
    assert reply.kind == expected_kind
    pairs = _items(reply)  # a RESP3 map parses as its flattened key/value list
    names = [item.value for item in pairs[0::2]]
    assert b"get" in names and b"command" in names and b"delexpired" not in names
    for docs in pairs[1::2]:
        assert docs.kind == expected_kind
        assert isinstance(docs.value, list)
        assert {item.value for item in docs.value[0::2]} >= {b"summary", b"since", b"group"}

"""``prepare``: Redis's errors before proposal, and ops that need no clock to execute."""

from __future__ import annotations

import pytest

from epaxosdb.commands import lookup, prepare, resolve
from protocol.replies import Error

NOW = 1_700_000_000_000


@pytest.mark.parametrize(
    ("args", "op"),
    [
        ([b"set", b"k", b"v"], (b"SET", b"k", b"v")),
        ([b"SET", b"k", b"v", b"EX", b"10"], (b"SET", b"k", b"v", b"PXAT", b"%d" % (NOW + 10_000))),
        ([b"SET", b"k", b"v", b"px", b"10"], (b"SET", b"k", b"v", b"PXAT", b"%d" % (NOW + 10))),
        ([b"SET", b"k", b"v", b"EXAT", b"5"], (b"SET", b"k", b"v", b"PXAT", b"5000")),
        ([b"SET", b"k", b"v", b"PXAT", b"5"], (b"SET", b"k", b"v", b"PXAT", b"5")),
        (
            [b"SET", b"k", b"v", b"get", b"ex", b"1", b"nx"],
            (b"SET", b"k", b"v", b"NX", b"GET", b"PXAT", b"%d" % (NOW + 1000)),
        ),
        ([b"SET", b"k", b"v", b"keepttl", b"xx"], (b"SET", b"k", b"v", b"XX", b"KEEPTTL")),
        ([b"SETEX", b"k", b"10", b"v"], (b"SET", b"k", b"v", b"PXAT", b"%d" % (NOW + 10_000))),
        ([b"psetex", b"k", b"10", b"v"], (b"SET", b"k", b"v", b"PXAT", b"%d" % (NOW + 10))),
        ([b"EXPIRE", b"k", b"10"], (b"PEXPIREAT", b"k", b"%d" % (NOW + 10_000))),
        ([b"PEXPIRE", b"k", b"-10", b"gt"], (b"PEXPIREAT", b"k", b"%d" % (NOW - 10), b"GT")),
        ([b"EXPIREAT", b"k", b"10", b"xx", b"LT"], (b"PEXPIREAT", b"k", b"10000", b"XX", b"LT")),
        ([b"PEXPIREAT", b"k", b"10", b"NX"], (b"PEXPIREAT", b"k", b"10", b"NX")),
        ([b"GETEX", b"k", b"EX", b"10"], (b"GETEX", b"k", b"PXAT", b"%d" % (NOW + 10_000))),
        ([b"GETEX", b"k", b"persist"], (b"GETEX", b"k", b"PERSIST")),
        ([b"GETEX", b"k", b"EX", b"abc"], (b"GETEX", b"k", b"EX", b"abc")),
        ([b"GETEX", b"k", b"EX", b"0"], (b"GETEX", b"k", b"EX", b"0")),
        ([b"get", b"k"], (b"GET", b"k")),
        ([b"flushall", b"async"], (b"FLUSHALL", b"async")),
        ([b"ping"], (b"PING",)),
    ],
)
def test_relative_expiries_become_absolute_and_names_upper_case(
    args: list[bytes], op: tuple[bytes, ...]
) -> None:
    assert prepare(args, NOW) == op


@pytest.mark.parametrize(
    "args",
    [
        [b"SET", b"k", b"v", b"EX", b"10", b"GET", b"NX"],
        [b"EXPIRE", b"k", b"10", b"GT"],
        [b"SETEX", b"k", b"10", b"v"],
        [b"GETEX", b"k", b"PX", b"10"],
        [b"INCRBY", b"k", b"5"],
    ],
)
def test_a_normalized_op_prepares_to_itself_at_any_later_time(args: list[bytes]) -> None:
    op = prepare(args, NOW)
    assert not isinstance(op, Error)
    assert prepare(op, NOW + 123_456) == op


@pytest.mark.parametrize(
    ("args", "text"),
    [
        ([b"foo", b"a", b"b"], "ERR unknown command 'foo', with args beginning with: 'a' 'b' "),
        ([b"GET"], "ERR wrong number of arguments for 'get' command"),
        ([b"SET", b"k", b"v", b"NX", b"XX"], "ERR syntax error"),
        ([b"SET", b"k", b"v", b"EX", b"0"], "ERR invalid expire time in 'set' command"),
        ([b"SETEX", b"k", b"0", b"v"], "ERR invalid expire time in 'setex' command"),
        ([b"psetex", b"k", b"-1", b"v"], "ERR invalid expire time in 'psetex' command"),
        (
            [b"EXPIRE", b"k", b"9223372036854775807"],
            "ERR invalid expire time in 'expire' command",
        ),
        (
            [b"PEXPIRE", b"k", b"9223372036854775807"],
            "ERR invalid expire time in 'pexpire' command",
        ),
        ([b"INCRBY", b"k", b"x"], "ERR value is not an integer or out of range"),
        ([b"DECRBY", b"k", b"-9223372036854775808"], "ERR decrement would overflow"),
        ([b"SETRANGE", b"k", b"-1", b"x"], "ERR offset is out of range"),
        ([b"SCAN", b"x"], "ERR invalid cursor"),
        ([b"MSET", b"a", b"1", b"b"], "ERR wrong number of arguments for 'mset' command"),
        ([b"EXPIRE", b"k", b"1", b"x"], "ERR Unsupported option x"),
        ([b"CLIENT", b"FOO"], "ERR unknown subcommand 'FOO'. Try CLIENT HELP."),
        ([b"DELEXPIRED", b"k"], "ERR unknown command 'DELEXPIRED', with args beginning with: 'k' "),
        ([], "ERR unknown command '', with args beginning with: "),
    ],
)
def test_errors_that_do_not_depend_on_state_are_answered_before_proposal(
    args: list[bytes], text: str
) -> None:
    assert prepare(args, NOW) == Error(text)


def test_errors_that_depend_on_state_wait_for_execution() -> None:
    """Redis checks the key's type before these arguments: WRONGTYPE must win."""
    assert prepare([b"INCRBYFLOAT", b"k", b"abc"], NOW) == (b"INCRBYFLOAT", b"k", b"abc")
    assert prepare([b"GETEX", b"k", b"EX", b"-1"], NOW) == (b"GETEX", b"k", b"EX", b"-1")


def test_lookup_is_case_insensitive_and_hides_internal_commands() -> None:
    spec = lookup(b"gEt")
    assert spec is not None and spec.name == b"get"
    assert lookup(b"delexpired") is None
    assert lookup(b"nosuch") is None


def test_resolve_finds_subcommands() -> None:
    spec = resolve([b"client", b"SETNAME", b"x"])
    assert not isinstance(spec, Error) and spec.name == b"client|setname"

"""``cjson`` where redis-server cannot be the reference: refusals made for determinism,
the bounds on work, settings that last one call, and the Python decoder's pieces.
(Everything Redis answers alike is in test_differential_lua_cjson.py.)"""

from __future__ import annotations

import math
import time

import pytest
from lupa import lua51

from epaxosdb.commands import lualibs
from epaxosdb.commands.lualibs import cjson
from epaxosdb.commands.scripting import UNORDERED_KEYS
from protocol.replies import Error, Reply
from tests.commands.differential import Model


def eval_script(body: bytes, *argv: bytes) -> Reply:
    return Model().call([b"EVAL", body, b"0", *argv])


def error_text(reply: Reply) -> str:
    assert isinstance(reply, Error), reply
    return str(reply)


UNORDERED = UNORDERED_KEYS.removeprefix("ERR ")


@pytest.mark.parametrize(
    "table",
    [
        b"{[{}] = 1, [true] = 2}",
        b"{[{}] = 1, a = 'x', b = {1}}",
        b"{[{}] = 1, [function() end] = 2}",
        b"{[{}] = 1, x = 0/0}",
        b"{[{}] = 1, x = type}",
        b"{a = {[{}] = 1, [cjson.null] = 2}}",
    ],
)
def test_encode_refuses_keys_whose_error_depends_on_addresses(table: bytes) -> None:
    """Redis fails at whichever bad key or bad value its walk meets first, an order set
    by addresses: refused before any output, the same way on every replica."""
    text = error_text(eval_script(b"return cjson.encode(%s)" % table))
    assert UNORDERED in text
    assert "user_script:1:" in text


@pytest.mark.parametrize(
    ("table", "kind"),
    [
        (b"{[{}] = 1, [{}] = 2, a = 'x', b = 1, [2] = cjson.null}", "table"),
        (b"{[{}] = {{0/0}}}", "table"),
        (b"{[cjson.null] = 1, [1] = 2}", "userdata"),
        (b"{[function() end] = {{}}}", "function"),
    ],
)
def test_encode_gives_redis_error_when_every_order_fails_alike(table: bytes, kind: str) -> None:
    text = error_text(eval_script(b"return cjson.encode(%s)" % table))
    assert f"Cannot serialise {kind}: table key must be a number or string" in text


def test_shared_subtables_stop_at_the_instruction_budget() -> None:
    """A table that holds another twice, 40 levels deep, encodes to 2^40 leaves: the
    encoder notices the spent budget and stops instead of running on."""
    started = time.monotonic()
    text = error_text(
        eval_script(b"local t = {} for i = 1, 40 do t = {t, t} end return #cjson.encode(t)")
    )
    assert "Lua instructions" in text
    assert time.monotonic() - started < 30


def test_a_table_holding_itself_stops_at_the_nesting_limit() -> None:
    text = error_text(eval_script(b"local t = {} t[1] = t t.x = t return cjson.encode(t)"))
    assert "Cannot serialise, excessive nesting (1001)" in text


def test_large_output_costs_about_its_size_in_memory() -> None:
    """Output goes out in chunks, so a few million numbers fit in the Lua memory limit
    (one piece of output per number would not)."""
    reply = eval_script(
        b"local t = {} for i = 1, 2000000 do t[i] = i end return #cjson.encode(t)"
    )
    assert reply == 14888897


def test_settings_last_for_the_call_that_makes_them() -> None:
    """Each call has its own state: unlike Redis, a setting does not reach later scripts."""
    model = Model()
    assert model.call([b"EVAL", b"return cjson.encode_max_depth(1)", b"0"]) == 1
    assert model.call([b"EVAL", b"return cjson.encode({{1}})", b"0"]) == b"[[1]]"
    assert model.call([b"EVAL", b"return cjson.encode_max_depth()", b"0"]) == 1000


def test_instances_keep_their_own_settings() -> None:
    reply = eval_script(
        b"local a, b = cjson.new(), cjson.new()\n"
        b"a.encode_max_depth(2) b.encode_number_precision(3)\n"
        b"return {a.encode_max_depth(), b.encode_max_depth(), cjson.encode_max_depth(),\n"
        b"        b.encode(math.pi), a.encode(math.pi)}"
    )
    assert reply == [2, 1000, 1000, b"3.14", b"3.1415926535898"]


def test_decoded_key_order_is_the_same_in_every_state() -> None:
    """Replicas decode into fresh states: the walk of the result must not vary."""
    doc = b"{" + b",".join(b'"k%d":%d' % (i, i) for i in range(200)) + b"}"
    script = b"local t = {} for k in pairs(cjson.decode(ARGV[1])) do t[#t + 1] = k end return t"
    first = eval_script(script, doc)
    assert isinstance(first, list) and len(first) == 200
    for _ in range(3):
        assert eval_script(script, doc) == first


def test_null_is_one_value_for_every_instance() -> None:
    reply = eval_script(
        b"local c = cjson.new()\n"
        b"return {c.null == cjson.null, c.decode('null') == cjson.null,\n"
        b"        type(cjson.null), c.encode({cjson.null})}"
    )
    assert reply == [1, 1, b"userdata", b"[null]"]


def test_decode_depth_needs_no_python_recursion() -> None:
    """The parser keeps its own stack: 7,000 levels (past Python's recursion limit)
    decode when the settings allow, and the Lua C stack's limit is Redis's."""
    deep = b"[" * 7000 + b"]" * 7000
    result = cjson.decode(deep, True, 100_000)
    assert not isinstance(result, str)
    assert result[0] == b"[" * 7000 + b"]" * 7000
    too_deep = b"[" * 8000 + b"]" * 8000
    assert cjson.decode(too_deep, True, 100_000) == (
        "Found too many nested data structures (7999) at character 7999"
    )


@pytest.mark.parametrize(
    ("text", "value", "end"),
    [
        (b"12abc", 12.0, 2),
        (b"-0", -0.0, 2),
        (b"1.5e3x", 1500.0, 5),
        (b"1e+", 1.0, 1),
        (b"1.", 1.0, 2),
        (b"0x1p-2", 0.25, 6),
        (b"0x", 0.0, 1),
        (b"0x.8", 0.5, 4),
        (b"0x1p99999", math.inf, 9),
        (b"-0x1p99999", -math.inf, 10),
        (b"infinityX", math.inf, 8),
        (b"-infinit", -math.inf, 4),
        (b"+5", 5.0, 2),
        (b"1e400", math.inf, 5),
        (b"1e-400", 0.0, 6),
    ],
)
def test_strtod_reads_what_glibc_reads(text: bytes, value: float, end: int) -> None:
    read = cjson.strtod(text, 0)
    assert read is not None
    assert read[0] == value and math.copysign(1, read[0]) == math.copysign(1, value)
    assert read[1] == end


def test_strtod_reads_nan_with_its_sign_and_payload_text() -> None:
    for text, sign, end in ((b"nan", 1.0, 3), (b"-NaN(12_a)x", -1.0, 10), (b"nan(", 1.0, 3)):
        read = cjson.strtod(text, 0)
        assert read is not None
        assert math.isnan(read[0]) and math.copysign(1, read[0]) == sign
        assert read[1] == end


@pytest.mark.parametrize("text", [b"", b"-", b"+", b".", b"x", b"- 1", b"e5"])
def test_strtod_reads_nothing_from_non_numbers(text: bytes) -> None:
    assert cjson.strtod(text, 0) is None


def test_python_side_reports_errors_as_values() -> None:
    """The Lua stub raises the error itself (at the script's line): Python only returns it."""
    lua = lua51.LuaRuntime(encoding=None, unpack_returned_tuples=True)
    side = cjson.python_side(lua, lualibs.Meter(lua))
    assert side.decode(b"[1,", True, 1000) == (
        False,
        b"Expected value but found T_END at character 4",
    )
    ok, kinds, values = side.decode(b'{"a":[1,"x",null]}', True, 1000)
    assert ok is True and kinds == b"{k[vvz]]"
    assert list(values.values()) == [b"a", 1.0, b"x"]

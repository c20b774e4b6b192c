"""The ``bit`` and ``struct`` libraries where redis-server cannot be the reference: the
bound on what ``struct.pack`` builds, the C conversions the libraries copy (checked
against values x86-64 gives), the many-results path, and the one known difference (a
tail-called function's name in an argument error)."""

from __future__ import annotations

import math
import struct

import pytest

from epaxosdb.commands.lualibs import bitop, structs
from protocol.replies import Error, Reply
from tests.commands.differential import Model


def _eval(script: bytes, *args: bytes) -> Reply:
    return Model().call([b"EVAL", script, b"0", *args])


def test_pack_past_output_max_fails_as_lua_out_of_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(structs, "OUTPUT_MAX", 100)
    reply = _eval(b"return struct.pack('c0', string.rep('a', 101))")
    assert isinstance(reply, Error)
    assert reply.text.startswith("ERR user_script:1: not enough memory script: ")
    assert _eval(b"return #struct.pack('c0', string.rep('a', 100))") == 100


def test_pack_of_fixed_options_stops_within_one_option_of_output_max(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(structs, "OUTPUT_MAX", 64)
    assert _eval(b"return #struct.pack(string.rep('x', 64))") == 64
    reply = _eval(b"return #struct.pack(string.rep('i32', 4), 1, 2, 3, 4)")
    assert isinstance(reply, Error) and "not enough memory" in reply.text


def test_unpack_returns_many_results_through_a_table() -> None:
    """Past ``MANY_RESULTS`` the values come back in a Lua table (lupa's own push would
    run out of C stack a few values before Redis's limit)."""
    script = b"local r = {struct.unpack(string.rep('B', 7997), string.rep('\\7', 7997))} " \
        b"return {#r, r[1], r[7997], r[7998]}"
    assert _eval(script) == [7998, 7, 7, 7998]


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (0.0, 0),
        (-0.0, 0),
        (-1.0, 2**64 - 1),
        (-0.5, 0),
        (1.9, 1),
        (2.0**63, 2**63),
        (2.0**64 - 2048, 2**64 - 2048),
        (2.0**64, 0),
        (math.inf, 0),
        (-math.inf, 2**63),
        (math.nan, 2**63),
        (-(2.0**63), 2**63),
        (-(2.0**63) - 2048, 2**63),
    ],
)
def test_to_u64_converts_as_x86_64_c_casts(number: float, expected: int) -> None:
    assert structs.to_u64(number) == expected


@pytest.mark.parametrize(
    ("number", "expected"),
    [(2.7, 2), (-2.7, -2), (2.0**63, -(2**63)), (math.nan, -(2**63)), (-(2.0**63), -(2**63))],
)
def test_to_i64_converts_as_lua_tointeger(number: float, expected: int) -> None:
    assert structs.to_i64(number) == expected


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (5, 5),
        (-1, 0xFFFFFFFF),
        (2**32 + 7, 7),
        (2.5, 2),
        (3.5, 4),
        (-2.5, 0xFFFFFFFE),
        (2.0**53 + 2, 1),  # the sum rounds to even at a 2-unit step
        (1e300, 2281731484),  # what redis-server answers: -2013235812
        (math.inf, 0),
    ],
)
def test_bit_arguments_keep_the_low_32_bits_of_the_magic_sum(number: float, expected: int) -> None:
    assert bitop.bits_of_number(number) == expected


def test_bit_reads_a_nan_payload_as_luabitop_does() -> None:
    payload_nan = struct.unpack("<d", struct.pack("<Q", 0x7FF8000000001234))[0]
    assert bitop.bits_of_number(payload_nan) == 0x1234


def test_parse_stops_at_nul_and_at_the_first_error() -> None:
    assert [t[0] for t in structs.parse(b"bh\0i")] == [ord("b"), ord("h")]
    tokens = structs.parse(b"b i99 h")
    assert tokens[-1][3] == b"integral size 99 is larger than limit of 32"
    assert len(tokens) == 3  # b, space, i99: nothing read past the error


def test_long_formats_are_read_without_the_cache() -> None:
    fmt = b"i4" * 100
    assert len(structs.parse(fmt)) == 100
    assert _eval(b"return struct.size(ARGV[1])", fmt) == 400


def test_negative_zero_keeps_its_sign_through_the_retry() -> None:
    """Lupa hands -0 to Python as the integer 0; the stub asks again with the signs."""
    assert _eval(b"return struct.pack('>d', -0.0)") == b"\x80" + bytes(7)
    assert _eval(b"return struct.pack('>d', 0)") == bytes(8)
    assert _eval(b"return struct.pack('>d', '-0')") == b"\x80" + bytes(7)
    assert _eval(b"return struct.pack('s', -0.0, 0)") == b"-0\0"


def test_tail_called_function_is_named_by_its_library_name() -> None:
    """Known difference: a tail call drops the stub's caller, and with it the local name
    Redis reads from the call (``return f(1, {})`` says 'f' in Redis); the error names
    the library function, at the script's last line."""
    reply = _eval(b"local f = bit.band\nreturn f(1, {})")
    assert isinstance(reply, Error)
    assert reply.text.startswith(
        "ERR user_script:2: bad argument #2 to 'band' (number expected, got table)"
    )


def test_libraries_give_the_same_results_in_fresh_states() -> None:
    script = b"return {bit.tohex(bit.rol(ARGV[1], 13)), struct.pack('>!4 b d s', 1, 2.5, 'x')}"
    assert _eval(script, b"12345") == _eval(script, b"12345")
    assert _eval(script, b"12345") == [b"06072000", b"\x01\0\0\0@\x04" + bytes(6) + b"x\0"]

"""``cmsgpack`` where no comparison with Redis can reach: what keeps replicas identical
and the library's work bounded, and the float conversions done in Python."""

from __future__ import annotations

import struct
import time

import pytest

from epaxosdb.commands import lualibs, scripting
from epaxosdb.commands.lualibs import cmsgpack
from protocol.replies import Error, Reply
from tests.commands.differential import Model


def run(script: bytes, *argv: bytes) -> Reply:
    return Model().call([b"EVAL", script, b"0", *argv])


def refusal(script: bytes, line: int) -> Error:
    sha = scripting.sha1_hex(script).decode()
    return Error(f"{scripting.UNORDERED_KEYS} script: {sha}, on @user_script:{line}.")


@pytest.mark.parametrize(
    "value",
    [
        b"{[{}] = 1}",
        b"{[tostring] = 1}",
        b"{a = 1, [{}] = 2, b = 3}",
        b"{1, 2, {x = {[{}] = true}}}",
        b"'fine', {[tostring] = tostring}",
    ],
)
def test_table_keyed_by_tables_or_functions_is_refused(value: bytes) -> None:
    """Redis packs it as a map in the order of the keys' addresses, which differ
    between replicas: refused with the sandbox's error, as ``pairs`` refuses it."""
    script = b"return cmsgpack.pack(" + value + b")"
    assert run(script) == refusal(script, 1)


def test_refusal_can_be_caught() -> None:
    assert run(b"local ok, e = pcall(cmsgpack.pack, {[{}] = 1}) return {tostring(ok), e}") == [
        b"false",
        scripting.UNORDERED_KEYS.encode(),
    ]


def test_table_nested_past_the_limit_is_not_walked() -> None:
    """Sixteen deep a table packs as nil, keys unseen: nothing to refuse there."""
    script = (
        b"local t = {} local c = t for i = 1, 15 do c[1] = {} c = c[1] end "
        b"c[1] = {[{}] = 1} return cmsgpack.pack(t)"
    )
    assert run(script) == b"\x91" * 16 + b"\xc0"


def _shared(level: int = 0) -> bytes:
    """The bytes of ``t`` with ``t[1], t[2] = t, t``, packed from ``level``."""
    if level == 16:
        return b"\xc0"
    return b"\x92" + _shared(level + 1) * 2


def test_shared_tables_are_walked_once_per_depth() -> None:
    """``t[1], t[2] = t, t``: 2^16 nested arrays in Redis's bytes, without 2^16 walks."""
    script = b"local t = {} t[1] = t t[2] = t return cmsgpack.pack(t)"
    started = time.monotonic()
    assert run(script) == _shared()
    assert time.monotonic() - started < 2


def test_exponential_output_runs_out_of_memory_instead_of_time() -> None:
    """``t[1..100] = t`` would be 100^16 objects: Redis never finishes; here the bytes
    grow a hundredfold per depth and the call stops at the Lua memory limit, on every
    replica alike, within the time a script may take."""
    script = b"local t = {} for i = 1, 100 do t[i] = t end return #cmsgpack.pack(t)"
    started = time.monotonic()
    reply = run(script)
    assert isinstance(reply, Error) and "not enough memory" in reply.text
    assert time.monotonic() - started < 5


def test_unpack_work_follows_the_input_not_the_lengths_it_claims() -> None:
    script = b"local ok, e = pcall(cmsgpack.unpack, ARGV[1]) return e"
    started = time.monotonic()
    # An array, a map and a string that claim 2^32 - 1 elements or bytes.
    for header in (b"\xdd", b"\xdf", b"\xdb"):
        claim = header + b"\xff\xff\xff\xff\x01"
        assert run(script, claim) == b"Missing bytes in input."
    assert time.monotonic() - started < 2


def test_round_trip_of_a_large_table_is_fast() -> None:
    script = (
        b"local t = {} for i = 1, 20000 do t['k' .. i] = {i, i + 0.5, 'v'} end "
        b"local u = cmsgpack.unpack(cmsgpack.pack(t)) return {u.k1[1], u.k20000[3]}"
    )
    started = time.monotonic()
    assert run(script) == [1, b"v"]
    assert time.monotonic() - started < 3


def _bits(value: float) -> int:
    result: int = struct.unpack(">Q", struct.pack(">d", value))[0]
    return result


def _double(bits: int) -> float:
    result: float = struct.unpack(">d", struct.pack(">Q", bits))[0]
    return result


@pytest.mark.parametrize(
    ("value", "packed"),
    [
        (0.5, b"\xca\x3f\x00\x00\x00"),
        (-1.5, b"\xca\xbf\xc0\x00\x00"),
        (float("inf"), b"\xca\x7f\x80\x00\x00"),
        (2.0**-149, b"\xca\x00\x00\x00\x01"),
        (3.4028234663852886e38, b"\xca\x7f\x7f\xff\xff"),
        (0.1, b"\xcb\x3f\xb9\x99\x99\x99\x99\x99\x9a"),
        (2.0**-150, b"\xcb\x36\x90\x00\x00\x00\x00\x00\x00"),
        (3.4028235677973366e38, b"\xcb\x47\xef\xff\xff\xf0\x00\x00\x00"),
        (1e300, b"\xcb\x7e\x37\xe4\x3c\x88\x00\x75\x9c"),
        (_double(0xFFF8000000000000), b"\xcb\xff\xf8\x00\x00\x00\x00\x00\x00"),
        (_double(0x7FF0000000000001), b"\xcb\x7f\xf0\x00\x00\x00\x00\x00\x01"),
    ],
)
def test_float_is_float32_only_when_the_value_survives(value: float, packed: bytes) -> None:
    """C's ``(double)(float)d == d``: a value past float32's range becomes an infinity
    there (``struct`` raises instead), and NaN never survives, its bits kept as float64."""
    assert cmsgpack.python_side(None, lualibs.Meter(None)).float_bytes(value) == packed


def test_float32_nan_widens_as_c_does() -> None:
    """Quiet bit set, payload moved up, sign kept: the bits a later pack writes out."""
    side = cmsgpack.python_side(None, lualibs.Meter(None))
    assert _bits(side.float32(b"\x7f\x80\x00\x01")) == 0x7FF8000020000000
    assert _bits(side.float32(b"\xff\xc0\x00\x02")) == 0xFFF8000040000000
    assert side.float32(b"\x3f\xc0\x00\x00") == 1.5
    assert _bits(side.float64(b"\x7f\xf0\x00\x00\x00\x00\x00\x01")) == 0x7FF0000000000001


def test_script_without_cmsgpack_does_not_load_it() -> None:
    """The library is built when a script first names it: another script's state has
    no trace of it (globals are read-only and undefined ones fail as in Redis)."""
    reply = run(b"return rawget(_G, 'cmsgpack') == nil")
    assert reply == 1

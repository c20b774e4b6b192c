"""``cmsgpack`` in scripts against redis-server 7.0.15 (lua_cmsgpack 0.4.0), RESP2 and RESP3.

Packing returns the bytes, compared as they are. Unpacked values are shown by a Lua
function (``SHOW``) that spells out every type, every number to 17 digits (NaN's sign
too) and every table in its ``pairs`` order, so a table built in another order than
Redis builds it differs as well. Errors are compared raw (the script's reply, with its
``script: <sha1>, on @user_script:<line>.``) and caught (``pcall``'s message).
"""

from __future__ import annotations

import random
import struct

import pytest

from tests.commands.differential import Differential
from tests.commands.lua_values import SHOW


def shown(diff: Differential, call: bytes, *args: bytes) -> None:
    """``call`` (a Lua expression) under ``pcall``, its results shown, on both sides."""
    diff.check(b"EVAL", SHOW + b"return all(pcall(" + call + b"))", b"0", *args)


PACKED = [
    # Integers: fixint, uint8..uint64, negative fixint, int8..int64.
    b"0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, 2^53, 2^62",
    b"-1, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649, -2^53, -2^62",
    # int64_t's edges: -2^63 is an integer, 2^63 and beyond are floats (float32 here).
    b"2^63 - 1024, 2^63, 2^64, -2^63, -2^63 - 2048, 2^53 + 1, 1e18, 1e19, -1e19",
    # -0 is the integer 0; infinities are float32; NaN keeps its sign, as float64.
    b"-0.0, math.huge, -math.huge, 0/0, -(0/0)",
    # Floats: float32 when the value survives as one (subnormals too), else float64.
    b"0.5, -0.25, 1.5, 0.1, 1/3, 3.4028234663852886e38, 3.4028235677973366e38, 1e300",
    b"2^-149, 2^-150, 2^-126, 1e-310, 123456.75, 16777217, 16777216.5, math.pi",
    # Strings: fixstr up to 31 bytes, then str8 (0xd9), str16, str32.
    b"'', 'a', string.rep('x', 31), string.rep('x', 32), string.rep('y', 255)",
    b"string.rep('z', 256), string.rep('w', 65535), string.rep('v', 65536)",
    b"'\\0\\1\\255', 'caf\\195\\169'",
    b"true, false, nil",
    b"nil, nil",
    # Arrays: keys exactly 1..n; fixarray, array16, array32.
    b"{}, {1}, {1, 2, 3}, {'a', {'b', {'c'}}}, {[1] = 1, [2] = 2}",
    b"(function() local t = {} for i = 1, 15 do t[i] = i end return t end)()",
    b"(function() local t = {} for i = 1, 16 do t[i] = i end return t end)()",
    b"(function() local t = {} for i = 1, 65535 do t[i] = i % 7 end return t end)()",
    b"(function() local t = {} for i = 1, 65536 do t[i] = i % 7 end return t end)()",
    # Maps: any other keys, in ``next`` order; fixmap, map16, map32.
    b"{a = 1}, {[0] = 'zero'}, {[-1] = 1}, {[1.5] = 1}, {[2^31] = 1}, {[2^31 - 1] = 1}",
    b"{[1] = 1, [3] = 3}, {1, 2, x = 3}, {[true] = 1, [false] = 0}, {[0.5] = {1}}",
    b"(function() local t = {} for i = 1, 40 do t[i * 1.5] = i end return t end)()",
    b"(function() local t = {} for i = 1, 40 do t[i] = i end t[20] = nil return t end)()",
    b"(function() local t = {} for i = 1, 16 do t['k' .. i] = i end return t end)()",
    b"(function() local t = {} for i = 1, 70000 do t['k' .. i] = i end return t end)()",
    b"{x = {y = {z = {1, 2, {a = true, b = false}}}}, [true] = 'yes', [-1] = 'neg'}",
    # Functions and coroutines pack as nil.
    b"tostring, {f = tostring}, {tostring}",
    # Nesting: a table 16 deep is nil; one that contains itself stops there too.
    b"(function() local t = {} local c = t for i = 1, 20 do c[1] = {} c = c[1] end return t end)()",
    b"(function() local t = {} t[1] = t return t end)()",
    b"(function() local t = {} t.me = t t.n = 1 return t end)()",
    # A table met twice, at different depths, packs as it would at each.
    b"(function() local a = {1, {2}} local t = {a, {a, {a}}} return t, a end)()",
    b"(function() local t = {} t[1] = t t[2] = t return t end)()",
    # Keyed by a table, but 16 deep: nil, never walked.
    b"(function() local t = {} local c = t for i = 1, 15 do c[1] = {} c = c[1] end "
    b"c[1] = {[{}] = 1} return t end)()",
    # KEYS and ARGV are the script's own tables.
    b"KEYS, ARGV",
]


@pytest.mark.parametrize("values", PACKED)
def test_pack_gives_redis_bytes(diff: Differential, values: bytes) -> None:
    diff.check(b"EVAL", b"return cmsgpack.pack(" + values + b")", b"2", b"k1", b"k2", b"a1")


def test_pack_takes_up_to_4000_arguments(diff: Differential) -> None:
    script = (
        b"local t = {} for i = 1, tonumber(ARGV[1]) do t[i] = i end "
        b"return cmsgpack.pack(unpack(t))"
    )
    for count in (b"1", b"3999", b"4000", b"4001", b"7000"):
        diff.check(b"EVAL", script, b"0", count)


PACK_ERRORS = [
    b"return cmsgpack.pack()",
    b"\nlocal x = cmsgpack.pack()\nreturn x",
    b"local p = cmsgpack.pack local x = p() return x",
    b"return {pcall(cmsgpack.pack)}",
    b"local ok, e = pcall(function() return cmsgpack.pack() end) return e",
]


@pytest.mark.parametrize("script", PACK_ERRORS)
def test_pack_errors_as_redis(diff: Differential, script: bytes) -> None:
    diff.check(b"EVAL", script, b"0")


UNPACKED = [
    # Every integer form, read back; 64-bit ones are signed, then rounded to a double.
    b"\x00\x7f\xcc\x00\xcc\xff\xcd\x01\x00\xcd\xff\xff\xce\x00\x01\x00\x00\xce\xff\xff\xff\xff",
    b"\xff\xe0\xd0\x80\xd0\x7f\xd1\x80\x00\xd1\xff\xff\xd2\x80\x00\x00\x00\xd2\x7f\xff\xff\xff",
    b"\xcf\xff\xff\xff\xff\xff\xff\xff\xff\xcf\x7f\xff\xff\xff\xff\xff\xff\xff",
    b"\xcf\x00\x20\x00\x00\x00\x00\x00\x01\xcf\x80\x00\x00\x00\x00\x00\x00\x00",
    b"\xd3\x80\x00\x00\x00\x00\x00\x00\x00\xd3\xff\xff\xff\xff\xff\xff\xff\xff",
    b"\xd3\x00\x00\x00\x01\x00\x00\x00\x00\xd3\xff\xff\xff\xfe\xff\xff\xff\xff",
    # Floats, NaNs with payloads and signs, infinities, subnormals.
    b"\xca\x3f\xc0\x00\x00\xca\x7f\x80\x00\x00\xca\xff\x80\x00\x00\xca\x00\x00\x00\x01",
    b"\xca\x7f\xc0\x00\x01\xca\x7f\x80\x00\x01\xca\xff\xc0\x00\x00",
    b"\xcb\x3f\xb9\x99\x99\x99\x99\x99\x9a\xcb\xff\xf8\x00\x00\x00\x00\x00\x00",
    b"\xcb\x7f\xf0\x00\x00\x00\x00\x00\x01\xcb\x80\x00\x00\x00\x00\x00\x00\x00",
    # Strings of every header, empty ones included.
    b"\xa0\xa3abc\xd9\x00\xd9\x03abc\xda\x00\x00\xda\x00\x02xy\xdb\x00\x00\x00\x00",
    b"\xdb\x00\x00\x00\x03abc\xbf" + b"q" * 31,
    b"\xc0\xc2\xc3",
    # Arrays: nil inside, at the end; array16, array32, empty ones.
    b"\x94\x01\xc0\x03\xc0",
    b"\x90\xdc\x00\x00\xdd\x00\x00\x00\x00\xdc\x00\x02\x01\x02\xdd\x00\x00\x00\x02\x01\x02",
    b"\x93\xc0\xc0\xc0",
    b"\xdc\x00\x14" + b"".join(b"\xc0" if i % 3 == 0 else bytes([i]) for i in range(1, 21)),
    # Maps: nil values dropped, keys of every kind, map16 and map32, nested.
    b"\x81\x01\xc0",
    b"\x86\x01\x02\x03\x04\xa5hello\x01\xcb\x3f\xf0\x00\x00\x00\x00\x00\x01\x05\xc3\x06\xc0\x07",
    b"\x83\xc3\xa1t\xc2\xa1f\xca\x3f\xc0\x00\x00\x01",
    b"\xde\x00\x14" + b"".join(b"\xa3%03d" % (i * 7) + bytes([i]) for i in range(1, 21)),
    b"\xdf\x00\x00\x00\x02\xa1a\x91\x01\xa1b\x81\xa1c\x90",
    b"\x82\xa1x\x01\xa1x\x02",
    b"\x81\x00\x01\x81\xcb\x80\x00\x00\x00\x00\x00\x00\x00\x02",
    # Several objects one after the other.
    b"\x01\xa1a\x92\x01\x02\x81\xa1k\xa1v\xc0",
    b"",
]


@pytest.mark.parametrize("data", UNPACKED)
def test_unpack_gives_redis_values(diff: Differential, data: bytes) -> None:
    shown(diff, b"cmsgpack.unpack, ARGV[1]", data)


def test_unpack_fills_tables_in_redis_order(diff: Differential) -> None:
    """``pairs`` over what ``unpack`` built, and the same table packed again."""
    script = SHOW + b"local t = cmsgpack.unpack(ARGV[1]) return {show(t), cmsgpack.pack(t)}"
    for data in UNPACKED:
        if data[:1] and (data[0] & 0xE0 == 0x80 or data[0] in b"\xdc\xdd\xde\xdf"):
            diff.check(b"EVAL", script, b"0", data)
    shuffled = list(range(1, 200))
    random.Random(7).shuffle(shuffled)
    many = b"\xde\x00\xc7" + b"".join(b"\xcd" + struct.pack(">H", i) + b"\x01" for i in shuffled)
    diff.check(b"EVAL", script, b"0", many)
    strings = b"\xde\x00\xc7" + b"".join(b"\xa4" + b"%04d" % i + b"\xc3" for i in shuffled)
    diff.check(b"EVAL", script, b"0", strings)


UNPACK_ERRORS = [
    b"\xc1",  # never used
    b"\xc4\x01a",  # bin 8
    b"\xc5\x00\x01a",
    b"\xc6\x00\x00\x00\x01a",
    b"\xc7\x01\x01a",  # ext 8
    b"\xc8\x00\x01\x01a",
    b"\xc9\x00\x00\x00\x01\x01a",
    b"\xd4\x01\x01",  # fixext 1
    b"\xd5\x01\x01\x01",
    b"\xd8\x01" + b"\x00" * 16,
    b"\x92\x01\xc4",  # bad, after good
    b"\x92\x01",  # truncated
    b"\x81\x01",
    b"\x81",
    b"\xcc",
    b"\xcd\x00",
    b"\xce\x00\x00\x00",
    b"\xcf\x00\x00\x00\x00\x00\x00\x00",
    b"\xd0",
    b"\xd3\x00",
    b"\xca\x00\x00\x00",
    b"\xcb\x00\x00\x00\x00\x00\x00\x00",
    b"\xa3ab",
    b"\xd9",
    b"\xd9\x05abc",
    b"\xda\x00",
    b"\xda\x00\x05abc",
    b"\xdb\x00\x00\x00",
    b"\xdb\x00\x00\x00\x05abc",
    b"\xdc\x00",
    b"\xdc\x00\x02\x01",
    b"\xdd\x00\x00\x00",
    b"\xdd\xff\xff\xff\xff\x01\x02",
    b"\xde\x00",
    b"\xdf\x00\x00\x00\x01\x01",
    b"\x01\x02\xc1",
    # Lua's own errors, raised with no position: a nil or NaN key.
    b"\x81\xc0\x01",
    b"\x81\xcb\xff\xf8\x00\x00\x00\x00\x00\x00\x01",
    b"\x81\xca\x7f\xc0\x00\x00\x01",
    b"\x82\x01\x01\xc0\x02",
    b"\x81\xc0\xc1",  # the value's error comes first
]


@pytest.mark.parametrize("data", UNPACK_ERRORS)
def test_unpack_errors_as_redis(diff: Differential, data: bytes) -> None:
    shown(diff, b"cmsgpack.unpack, ARGV[1]", data)
    diff.check(b"EVAL", b"\nlocal x = cmsgpack.unpack(ARGV[1])\nreturn 1", b"0", data)


ARGUMENTS = [
    b"cmsgpack.unpack",
    b"cmsgpack.unpack, nil",
    b"cmsgpack.unpack, {}",
    b"cmsgpack.unpack, true",
    b"cmsgpack.unpack, 123",
    b"cmsgpack.unpack, -0.0",
    b"cmsgpack.unpack, 1e100",
    b"cmsgpack.unpack, 12.5",
    b"cmsgpack.unpack, '\\1', 'ignored', 'too'",
    b"cmsgpack.unpack_one, '\\1\\2\\3'",
    b"cmsgpack.unpack_one, '\\1\\2\\3', 0",
    b"cmsgpack.unpack_one, '\\1\\2\\3', 1",
    b"cmsgpack.unpack_one, '\\1\\2\\3', 2",
    b"cmsgpack.unpack_one, '\\1\\2\\3', 3",
    b"cmsgpack.unpack_one, '\\1\\2\\3', 4",
    b"cmsgpack.unpack_one, '\\1\\2\\3', -1",
    b"cmsgpack.unpack_one, '\\1\\2\\3', nil",
    b"cmsgpack.unpack_one, '\\1\\2\\3', '1'",
    b"cmsgpack.unpack_one, '\\1\\2\\3', ' 0x1 '",
    b"cmsgpack.unpack_one, '\\1\\2\\3', 'x'",
    b"cmsgpack.unpack_one, '\\1\\2\\3', true",
    b"cmsgpack.unpack_one, '\\1\\2\\3', {}",
    b"cmsgpack.unpack_one, '\\1\\2\\3', 1.9",
    b"cmsgpack.unpack_one, '\\1\\2\\3', -0.9",
    b"cmsgpack.unpack_one, '\\1\\2\\3', 0/0",
    b"cmsgpack.unpack_one, '\\1\\2\\3', 2^32",
    b"cmsgpack.unpack_one, '\\1\\2\\3', 2^32 + 1",
    b"cmsgpack.unpack_one, '\\1\\2\\3', -2^40 - 5",
    b"cmsgpack.unpack_one, '\\1\\2\\3', 2^63",
    b"cmsgpack.unpack_one, '', 0",
    b"cmsgpack.unpack_one, ''",
    b"cmsgpack.unpack_one, '\\1', 2",
    b"cmsgpack.unpack_one",
    b"cmsgpack.unpack_one, nil, 'a'",
    b"cmsgpack.unpack_one, nil, 1",
    b"cmsgpack.unpack_one, 12.5",
    b"cmsgpack.unpack_one, 12.5, 1",
    b"cmsgpack.unpack_one, '\\145\\1\\2', 1",
    b"cmsgpack.unpack_one, '\\145', 0",
    b"cmsgpack.unpack_limit, '\\1\\2\\3', 2",
    b"cmsgpack.unpack_limit, '\\1\\2\\3', 3",
    b"cmsgpack.unpack_limit, '\\1\\2\\3', 4",
    b"cmsgpack.unpack_limit, '\\1\\2\\3', 0",
    b"cmsgpack.unpack_limit, '\\1\\2\\3', 0, 0",
    b"cmsgpack.unpack_limit, '\\1\\2\\3', 0, 1",
    b"cmsgpack.unpack_limit, '\\1\\2\\3', 0, 3",
    b"cmsgpack.unpack_limit, '\\1\\2\\3', 1, 3",
    b"cmsgpack.unpack_limit, '\\1\\2\\3', 2, 1",
    b"cmsgpack.unpack_limit, '\\1\\2\\3', 2, 4",
    b"cmsgpack.unpack_limit, '\\1\\2\\3', -1",
    b"cmsgpack.unpack_limit, '\\1\\2\\3', -1, -1",
    b"cmsgpack.unpack_limit, '\\1\\2\\3', 1, -0.5",
    b"cmsgpack.unpack_limit, '\\1\\2\\3', -0.9, 0.9",
    b"cmsgpack.unpack_limit, '\\1\\2\\3', 2^32 + 1",
    b"cmsgpack.unpack_limit, '\\1\\2\\3', 1, 2^32",
    b"cmsgpack.unpack_limit, '\\1\\2\\3', 1, 2^40 + 5",
    b"cmsgpack.unpack_limit, '\\1\\2\\3', 1/0",
    b"cmsgpack.unpack_limit, '\\1\\2\\3', -1/0",
    b"cmsgpack.unpack_limit, '\\1\\2\\3', 0/0",
    b"cmsgpack.unpack_limit, '\\1\\2\\3', '2', '1'",
    b"cmsgpack.unpack_limit, '\\1\\2\\3', 1, nil",
    b"cmsgpack.unpack_limit, '\\1\\2\\3', 1, 'x'",
    b"cmsgpack.unpack_limit, '\\1\\2\\3', 1, false",
    b"cmsgpack.unpack_limit, '\\1\\2\\3', nil",
    b"cmsgpack.unpack_limit, '\\1\\2\\3'",
    b"cmsgpack.unpack_limit, '\\1\\2\\3', {}",
    b"cmsgpack.unpack_limit",
    b"cmsgpack.unpack_limit, nil, 1, 2",
    b"cmsgpack.unpack_limit, nil, 1, 'x'",
    b"cmsgpack.unpack_limit, 123, 1",
    b"cmsgpack.unpack_limit, '\\193', 1",
    b"cmsgpack.unpack_limit, '\\1\\193', 1",
    b"cmsgpack.unpack_limit, '\\1\\193', 2",
    b"cmsgpack.unpack_limit, '\\1\\146', 1, 1",
]


@pytest.mark.parametrize("call", ARGUMENTS)
def test_unpack_arguments_as_redis(diff: Differential, call: bytes) -> None:
    shown(diff, call)


@pytest.mark.parametrize(
    "script",
    [
        b"return cmsgpack.unpack()",
        b"return cmsgpack.unpack({})",
        b"\n\nreturn cmsgpack.unpack_limit('x')",
        b"local x = cmsgpack.unpack_one('\\1', 'x') return x",
        b"local u = cmsgpack.unpack_limit local x = u(nil, 1) return x",
        b"local x = cmsgpack:unpack() return x",
        b"local x = cmsgpack:unpack_one(1) return x",
        b"local x = cmsgpack:unpack_limit() return x",
        b"local function f()\n  local x = cmsgpack.unpack('\\193')\n  return x\nend\n"
        b"local y = f()\nreturn y",
        b"return cmsgpack.unpack('\\129\\192\\1')",
        b"return cmsgpack.unpack_one('\\1', -1)",
        b"return cmsgpack.unpack_limit('\\1', 1, 9)",
        b"return {pcall(cmsgpack.unpack)}",
        b"return {pcall(cmsgpack.unpack_one, nil, {})}",
        b"return {pcall(cmsgpack.unpack_limit, '')}",
    ],
)
def test_unpack_errors_name_the_function_as_redis(diff: Differential, script: bytes) -> None:
    diff.check(b"EVAL", script, b"0")


COUNT = b"return select('#', cmsgpack.%s(string.rep('\\1', tonumber(ARGV[1])) %s))"
"""How many values an unpack of ARGV[1] fixints returns (or its error)."""


@pytest.mark.parametrize(
    ("function", "extra", "objects"),
    [
        (b"unpack", b"", 7998),
        (b"unpack", b"", 7999),
        (b"unpack", b"", 8000),
        (b"unpack", b", 'x'", 7998),
        (b"unpack", b", 'x'", 7999),
        (b"unpack", b", 'x', 'y'", 7997),
        (b"unpack", b", 'x', 'y'", 7998),
        (b"unpack_limit", b", 7998", 8000),
        (b"unpack_limit", b", 7999", 8000),
        (b"unpack_limit", b", 0", 7999),
        (b"unpack_limit", b", 0", 8000),
        (b"unpack_limit", b", 8000", 7998),
        (b"unpack_limit", b", 8000", 7999),
        (b"unpack_limit", b", 8000, 1", 8000),
        (b"unpack_limit", b", 8000, 2", 8000),
        (b"unpack_limit", b", 8000, 3", 8000),
        (b"unpack_one", b"", 9000),
    ],
)
def test_unpack_returns_as_many_values_as_redis(
    diff: Differential, function: bytes, extra: bytes, objects: int
) -> None:
    """The C function checks the Lua stack (8,000 slots) for each value it pushes."""
    diff.check(b"EVAL", COUNT % (function, extra), b"0", str(objects).encode())


DEEP = (
    b"local ok, e = pcall(cmsgpack.unpack, ARGV[1]) "
    b"return {tostring(ok), type(e) == 'string' and e or type(e)}"
)


@pytest.mark.parametrize(
    "data",
    [
        b"\x91" * 3998 + b"\x01",
        b"\x91" * 3999 + b"\x01",
        b"\x91" * 4000 + b"\x01",
        b"\x91" * 3998 + b"\x90",
        b"\x91" * 3999 + b"\x90",
        b"\x91" * 5000,
        b"\x81" * 7998 + b"\x01" + b"\x01" * 7998,
        b"\x81" * 7999 + b"\x01" + b"\x01" * 7999,
        b"\x81\x01" * 3999 + b"\x01",
        b"\x81\x01" * 4000 + b"\x01",
        b"\x81\x01" * 3998 + b"\x91\x01",
        b"\x81\x01" * 3999 + b"\x91\x01",
        b"\x01" * 7997 + b"\x91\x01",
        b"\x01" * 7998 + b"\x91\x01",
        b"\x01" * 7998 + b"\x90",
        b"\x01" * 7997 + b"\x90",
        b"\x01" * 7996 + b"\x81\x01\x01",
        b"\x01" * 7997 + b"\x81\x01\x01",
        b"\x01" * 7998 + b"\x81\x01\x01",
        b"\x91" * 3000 + b"\x81" * 1000 + b"\x01\x01",
    ],
)
def test_deep_nesting_fails_where_redis_does(diff: Differential, data: bytes) -> None:
    diff.check(b"EVAL", DEEP, b"0", data)


ROUND_TRIPS = [
    b"{1, 2, 3}",
    b"{a = 1, b = {c = {d = 'e'}}}",
    b"{1.5, -2.25, 2^40, -2^40, 0/0, math.huge}",
    b"{[1] = 'a', [2] = {true, false}, n = 0.1}",
    b"(function() local t = {} for i = 1, 100 do t['f' .. i] = {i, 'v' .. i} end return t end)()",
]


@pytest.mark.parametrize("value", ROUND_TRIPS)
def test_round_trip_as_redis(diff: Differential, value: bytes) -> None:
    script = SHOW + b"local s = cmsgpack.pack(" + value + b") return {s, show(cmsgpack.unpack(s))}"
    diff.check(b"EVAL", script, b"0")


def test_library_fields_as_redis(diff: Differential) -> None:
    diff.check(
        b"EVAL",
        b"return {cmsgpack._NAME, cmsgpack._VERSION, cmsgpack._COPYRIGHT, cmsgpack._DESCRIPTION}",
        b"0",
    )
    diff.check(b"EVAL", b"local t = {} for k in pairs(cmsgpack) do t[#t+1] = k end return t", b"0")
    diff.check(b"EVAL", b"return {type(cmsgpack), type(cmsgpack.pack), type(cmsgpack.x)}", b"0")
    diff.check(b"EVAL", b"cmsgpack.pack = 1", b"0")
    diff.check(b"EVAL", b"cmsgpack.x = 1", b"0")


# Seeded random inputs: Lua values to pack, MessagePack bytes to unpack.


def _lua_string(rng: random.Random, longest: int = 300) -> str:
    length = rng.choice([n for n in (0, 1, 5, 31, 32, 40, 255, 256, 300) if n <= longest])
    alphabet = [0, 1, 10, 34, 39, 92, 97, 98, 200, 255]
    return '"' + "".join(f"\\{rng.choice(alphabet)}" for _ in range(length)) + '"'


def _lua_number(rng: random.Random) -> str:
    kind = rng.randrange(8)
    if kind == 0:
        return str(rng.randint(-40, 200))
    if kind == 1:
        bits = rng.choice([8, 16, 31, 32, 33, 52, 53, 62, 63])
        return f"({rng.choice([-1, 1])} * {rng.randrange(1 << bits)})"
    if kind == 2:
        return f"(2^{rng.randint(-160, 70)} * {rng.choice([1, -1, 3, 0.75])})"
    if kind == 3:
        return repr(struct.unpack(">f", struct.pack(">f", rng.uniform(-1e6, 1e6)))[0])
    if kind == 4:
        return repr(rng.uniform(-1e9, 1e9))
    if kind == 5:
        return rng.choice(["math.huge", "-math.huge", "(0/0)", "(-(0/0))", "(-0.0)"])
    if kind == 6:
        return repr(rng.choice([1e300, -1e-300, 5e-324, 3.4028234663852886e38]))
    return f"(2^63 * {rng.choice([1, -1, 2, 0.5])})"


def _lua_value(rng: random.Random, depth: int) -> str:
    kind = rng.randrange(10 if depth < 5 else 6)
    if kind <= 1:
        return _lua_number(rng)
    if kind == 2:
        return _lua_string(rng)
    if kind == 3:
        return rng.choice(["true", "false", "nil"])
    if kind == 4:
        return rng.choice(["tostring", '{"x"}', "{}"])
    if kind == 5:
        return str(rng.randint(0, 3))
    if kind <= 7:  # an array, perhaps with holes or a trailing extra
        n = rng.choice([0, 1, 3, 15, 16, 17])
        items = ", ".join(_lua_value(rng, depth + 1) for _ in range(n))
        return "{" + items + "}"
    n = rng.choice([1, 2, 5, 15, 16, 20])
    entries = []
    for _ in range(n):
        key = rng.choice(  # Redis's Lua hashes strings of 32 bytes or more otherwise
            [_lua_string(rng, 31), _lua_number(rng), "true", "false", str(rng.randint(-2, 20))]
        )
        if key in ("(0/0)", "(-(0/0))"):
            key = "0.5"
        entries.append(f"[{key}] = {_lua_value(rng, depth + 1)}")
    return "{" + ", ".join(entries) + "}"


def test_random_values_pack_as_redis(diff: Differential) -> None:
    rng = random.Random(20261128)
    for _ in range(40):
        values = ", ".join(_lua_value(rng, 0) for _ in range(rng.randint(1, 8)))
        diff.check(b"EVAL", b"return cmsgpack.pack(" + values.encode() + b")", b"0")


def _msgpack(rng: random.Random, depth: int) -> bytes:
    kind = rng.randrange(16 if depth < 4 else 11)
    if kind == 0:
        return bytes([rng.choice([0, 1, 0x7F, 0xE0, 0xFF, 0xC0, 0xC2, 0xC3])])
    if kind == 1:
        return bytes([rng.choice([0xCC, 0xD0])]) + rng.randbytes(1)
    if kind == 2:
        return bytes([rng.choice([0xCD, 0xD1])]) + rng.randbytes(2)
    if kind == 3:
        return bytes([rng.choice([0xCE, 0xD2])]) + rng.randbytes(4)
    if kind == 4:
        return bytes([rng.choice([0xCF, 0xD3])]) + rng.randbytes(8)
    if kind == 5:
        return b"\xca" + rng.choice([rng.randbytes(4), b"\x7f\x80\x00\x01", b"\xff\xc0\x00\x02"])
    if kind == 6:
        return b"\xcb" + rng.choice([rng.randbytes(8), struct.pack(">d", rng.uniform(-9, 9))])
    if kind in (7, 8):
        data = rng.randbytes(rng.choice([0, 1, 5, 31, 32, 200, 256, 300]))
        form = rng.randrange(4)
        if form == 0 and len(data) < 32:
            return bytes([0xA0 + len(data)]) + data
        if form <= 1 and len(data) < 256:
            return b"\xd9" + bytes([len(data)]) + data
        if form == 2:
            return b"\xda" + struct.pack(">H", len(data)) + data
        return b"\xdb" + struct.pack(">I", len(data)) + data
    if kind == 9:
        return bytes([rng.choice([0xC4, 0xC7, 0xD4, 0xD6, 0xC1])]) + b"\x01\x01\x01\x01"
    if kind == 10:
        return bytes([rng.choice([0x90, 0x80])])
    if kind in (11, 12, 13):
        n = rng.choice([1, 2, 4, 15, 16, 20])
        body = b"".join(_msgpack(rng, depth + 1) for _ in range(n))
        return _header(rng, n, 0x90, 0xDC) + body
    n = rng.choice([1, 2, 3, 15, 16, 20])
    body = b""
    for _ in range(n):
        key = rng.choice(
            [
                bytes([rng.randrange(0x80)]),
                b"\xa1" + bytes([rng.randrange(97, 105)]),
                b"\xcb" + struct.pack(">d", rng.choice([0.5, -0.0, 1.0, 2.5])),
                b"\xc3",
                b"\xc2",
                b"\xd0\xff",
                b"\xc0",  # a nil key: Lua refuses it
            ]
        )
        body += key + _msgpack(rng, depth + 1)
    return _header(rng, n, 0x80, 0xDE) + body


def _header(rng: random.Random, n: int, fix: int, x16: int) -> bytes:
    form = rng.randrange(3)
    if form == 0 and n < 16:
        return bytes([fix + n])
    if form <= 1:
        return bytes([x16]) + struct.pack(">H", n)
    return bytes([x16 + 1]) + struct.pack(">I", n)


RANDOM_UNPACK = SHOW + b"""
local out = {}
for i = 1, #ARGV do
  out[i] = table.concat(all(pcall(cmsgpack.unpack, ARGV[i])), ' ')
end
return out
"""


def test_random_bytes_unpack_as_redis(diff: Differential) -> None:
    """Valid MessagePack of every kind, and the same cut short or with a byte changed;
    several inputs to an EVAL (each under pcall). Maps keyed by maps are left out:
    ``SHOW`` would walk them, which the sandbox refuses."""
    rng = random.Random(11282026)
    for _ in range(30):
        inputs = []
        for _ in range(12):
            data = b"".join(_msgpack(rng, 0) for _ in range(rng.randint(1, 3)))
            mutation = rng.randrange(6)
            if mutation == 0 and data:
                data = data[: rng.randrange(len(data))]
            elif mutation == 1 and data:
                at = rng.randrange(len(data))
                data = data[:at] + bytes([rng.randrange(256)]) + data[at + 1 :]
            inputs.append(data)
        diff.check(b"EVAL", RANDOM_UNPACK, b"0", *inputs)

"""``cjson`` in scripts against redis-server 7.0.15, byte for byte, RESP2 and RESP3.

Every case is an EVAL sent to both sides: encodings (number formatting, escapes,
arrays and objects, sparse arrays, key types, nesting), decodings (numbers in every
form ``strtod`` reads, escapes and surrogates, duplicates, NUL bytes, every malformed
input class with its "Expected ... at character N"), the settings functions (their
returns and argument errors), and key order: a decoded table walked with ``pairs``,
or encoded again, lists its keys as Redis's does. Redis keeps cjson settings in its
one Lua state across scripts, so its state is reset (SCRIPT FLUSH) before each case;
here each call has a fresh state anyway.
"""

from __future__ import annotations

import random

import pytest

from tests.commands.differential import Differential
from tests.commands.lua_values import SHOW

DECODED = SHOW + b"return show(cjson.decode(ARGV[1]))"
ROUND_TRIP = b"return cjson.encode(cjson.decode(ARGV[1]))"
PROTECTED = SHOW + (
    b"local ok, v = pcall(cjson.decode, ARGV[1])\n"
    b"if not ok then return 'error: ' .. v end\n"
    b"local ok2, s = pcall(cjson.encode, v)\n"
    b"return {show(v), ok2 and s or 'error: ' .. s}"
)
"""Decode ARGV[1] and encode the result, errors caught: for the generated cases."""


def run(diff: Differential, script: bytes, *argv: bytes) -> bytes:
    """One EVAL on both sides, with Redis's Lua state (and its cjson settings) fresh."""
    assert diff.redis.call(b"SCRIPT", b"FLUSH") == b"+OK\r\n"
    return diff.check(b"EVAL", script, b"0", *argv)


def run_all(diff: Differential, scripts: list[bytes]) -> None:
    for script in scripts:
        run(diff, script)


def test_encode_scalars_and_numbers(diff: Differential) -> None:
    run_all(
        diff,
        [
            b"return cjson.encode(nil)",
            b"return cjson.encode(true)",
            b"return cjson.encode(false)",
            b"return cjson.encode(cjson.null)",
            b"return cjson.encode('')",
            b"return cjson.encode(0)",
            b"return cjson.encode(-0)",
            b"return cjson.encode(-0.0)",
            b"return cjson.encode(1/0 - 1/0 == 1/0 - 1/0)",
            b"return cjson.encode({0.1, 1/3, -2/3, 100, 1e15, 1e14, 99999999999999, 2^53, 2^63})",
            b"return cjson.encode({1e300, 1e-300, 5e-324, 1.7976931348623157e308, -1e-7, 123.456})",
            b"return cjson.encode({123456789012345678, 0.000001, 0.0000001, 12345678901234.5})",
            b"return cjson.encode(math.huge)",
            b"return cjson.encode(-math.huge)",
            b"return cjson.encode(0/0)",
            b"return cjson.encode({1, 2, {a = 0/0}})",
            b"cjson.encode_invalid_numbers(true) return cjson.encode({math.huge, -math.huge, 0/0})",
            b"cjson.encode_invalid_numbers('on') return cjson.encode(-(0/0))",
            b"cjson.encode_invalid_numbers('null') return cjson.encode({math.huge, 0/0, 1})",
            b"cjson.encode_invalid_numbers('null') return cjson.encode({[math.huge] = 1})",
            b"cjson.encode_invalid_numbers(true) return cjson.encode({[-math.huge] = 1})",
            b"return cjson.encode({[math.huge] = 1})",
            b"cjson.encode_number_precision(1) return cjson.encode({1.5, 25, 0.05, 123})",
            b"cjson.encode_number_precision(5) return cjson.encode({math.pi, 123456, 1e-5})",
            b"cjson.encode_number_precision(14) return cjson.encode(math.pi)",
            b"cjson.encode_number_precision(3) return cjson.encode({[1.23456] = 2, x = 1.23456})",
        ],
    )


def test_encode_strings(diff: Differential) -> None:
    every_byte = b"local s = {} for i = 0, 255 do s[#s + 1] = string.char(i) end\n"
    run_all(
        diff,
        [
            every_byte + b"return cjson.encode(table.concat(s))",
            b'return cjson.encode("a/b\\\\c\\"d")',
            b"return cjson.encode('\\0\\1\\8\\9\\10\\11\\12\\13\\14\\31\\127\\128\\255')",
            b"return cjson.encode({['\\0key/\\n'] = 'v'})",
            b"return cjson.encode(string.rep('x/', 5000))",
            b"return cjson.encode('\\226\\130\\172 \\240\\159\\152\\128')",
        ],
    )


def test_encode_tables(diff: Differential) -> None:
    run_all(
        diff,
        [
            b"return cjson.encode({})",
            b"return cjson.encode({{}, {{}}, {a = {}}})",
            b"return cjson.encode({1, 2, 3, 'x', true, false})",
            b"return cjson.encode({1, nil, 3})",
            b"return cjson.encode({a = 1, b = 'two', c = {1, 2}, d = {e = {f = false}}})",
            b"return cjson.encode({[1] = 'a', [2] = 'b', x = 'c'})",
            b"return cjson.encode({[0] = 'zero', [1] = 'one'})",
            b"return cjson.encode({[-1] = 'a'})",
            b"return cjson.encode({[1.5] = 'a', [2] = 'b'})",
            b"return cjson.encode({[1] = 1, [2] = 2, [3] = 3, [100] = 4})",
            b"return cjson.encode({[10] = 1})",
            b"return cjson.encode({[11] = 1})",
            b"return cjson.encode({[20] = 1, [1] = 1, [2] = 2, [3] = 3, [4] = 4})",
            b"return cjson.encode({[21] = 1, [1] = 1, [2] = 2, [3] = 3, [4] = 4})",
            b"return cjson.encode({[2^31] = 1})",
            b"return cjson.encode({[2^31 - 1] = 1, [1] = 2})",
            b"return cjson.encode({[2^31 + 3] = 1})",
            b"return cjson.encode({[2^32 + 3] = 1})",
            b"return cjson.encode({[2^53] = 1, [1] = 1})",
            b"return cjson.encode({[1] = 1, [2^31] = 1, [2] = 2})",
            b"return cjson.encode({[math.huge] = 1, [1] = 2})",
            b"return cjson.encode({[1e300] = 1})",
            b"return cjson.encode({[-0.5] = 1, [3] = 2})",
            b"return cjson.encode({[1] = 'x', [true] = 1})",
            b"return cjson.encode({[true] = 1})",
            b"return cjson.encode({[false] = 1})",
            b"return cjson.encode({f = function() end})",
            b"return cjson.encode(function() end)",
            b"return cjson.encode(type)",
            b"return cjson.encode({1, type})",
            b"return cjson.encode({[1] = 1, [2] = function() end})",
            b"return cjson.encode({[{}] = 1})",
            b"return cjson.encode({[{}] = 1, [{}] = 'x'})",
            b"return cjson.encode({[function() end] = 1})",
            b"return cjson.encode({a = {[{}] = 'x'}})",
            b"local t = {} t[1] = t return cjson.encode(t)",
            b"local t = {} t.a = t return cjson.encode(t)",
            b"local t = setmetatable({}, {__index = function() return 1 end})"
            b" return cjson.encode(t)",
            b"local t = setmetatable({1, 2}, {__len = function() return 9 end})"
            b" return cjson.encode(t)",
            b"return cjson.encode(KEYS)",
            b"return cjson.encode({KEYS, ARGV})",
            b"local t = {} for i = 1, 100 do t['k' .. i] = i end return cjson.encode(t)",
            b"local t = {} for i = 1, 100 do t[i * 3] = i end return cjson.encode(t)",
            b"local t = {} for i = 1, 50 do t[i] = i end t[25] = nil return cjson.encode(t)",
            b"local t = {} for i = 1, 50 do t[i] = i end for i = 1, 50, 2 do t[i] = nil end"
            b" return cjson.encode(t)",
            b"local t = {1, 2, 3} t.x = nil t[4] = 'four' return cjson.encode(t)",
            b"local t = {a = 1, b = 2, c = 3} t.b = nil t.d = 4 return cjson.encode(t)",
        ],
    )


def test_encode_sparse_settings(diff: Differential) -> None:
    run_all(
        diff,
        [
            b"cjson.encode_sparse_array(true) return cjson.encode({[1] = 1, [100] = 2})",
            b"cjson.encode_sparse_array('on') return cjson.encode({[1] = 1, [100] = 2})",
            b"cjson.encode_sparse_array(false, 0) return cjson.encode({[5] = 1, [20] = 2})",
            b"cjson.encode_sparse_array(false, 1) return cjson.encode({[1] = 1, [20] = 2})",
            b"cjson.encode_sparse_array(false, 1, 0) return cjson.encode({[2] = 1})",
            b"cjson.encode_sparse_array(false, 3, 4) return cjson.encode({[1] = 1, [6] = 2})",
            b"cjson.encode_sparse_array(false, 2147483647)"
            b" return cjson.encode({[1] = 1, [12] = 2})",
            b"cjson.encode_sparse_array(false, 2147483647) return cjson.encode({[12] = 2})",
            b"cjson.encode_sparse_array(false, 1073741824)"
            b" return cjson.encode({[1] = 1, [12] = 2})",
            b"cjson.encode_sparse_array(false, 1073741823, 3)"
            b" return cjson.encode({[1] = 1, [2] = 1, [3] = 1, [12] = 2})",
            b"cjson.encode_sparse_array(true, 0) return cjson.encode({[2^32 + 3] = 1})",
            b"cjson.encode_sparse_array(true, 2, 2147483647) return cjson.encode({[40] = 1})",
        ],
    )


def test_encode_nesting(diff: Differential) -> None:
    nest = b"local t = {} for i = 1, tonumber(ARGV[1]) do t = %s end\n"
    for depth in (b"999", b"1000", b"1001", b"1500"):
        run(diff, nest % b"{t}" + b"return #cjson.encode(t)", depth)
        run(diff, nest % b"{a = t}" + b"return #cjson.encode(t)", depth)
    for setting, depth in ((b"5", b"5"), (b"5", b"6"), (b"10000", b"3998"), (b"10000", b"4000")):
        run(
            diff,
            b"cjson.encode_max_depth(tonumber(ARGV[2]))\n"
            + nest % b"{a = t}"
            + b"return #cjson.encode(t)",
            depth,
            setting,
        )
    for depth in (b"7997", b"7998", b"7999"):
        run(
            diff,
            b"cjson.encode_max_depth(100000)\n" + nest % b"{t}" + b"return #cjson.encode(t)",
            depth,
        )
    run(diff, b"cjson.encode_max_depth(3) return cjson.encode({{{1}}})")
    run(diff, b"cjson.encode_max_depth(3) return cjson.encode({{{{}}}})")
    run(diff, b"cjson.encode_max_depth(1) return cjson.encode({})")


DECODE_VALID = [
    b"1",
    b"-1",
    b"0",
    b"-0",
    b"1.5",
    b"1e3",
    b"1E-3",
    b"1e+3",
    b"-1.25e-2",
    b"12345678901234567890",
    b"123456789012345678901234567890e-10",
    b"1e400",
    b"-1e400",
    b"1e-400",
    b"-1e-400",
    b"4.9406564584124654e-324",
    b"0.1",
    b"0x10",
    b"0X1F",
    b"-0x10",
    b"0x1p3",
    b"0x1.8p1",
    b"0x.8",
    b"0xffffffffffffffffffff",
    b"0x1p99999",
    b"00012",
    b"-007",
    b"+5",
    b"+0x10",
    b"inf",
    b"Infinity",
    b"-infinity",
    b"INF",
    b"-Inf",
    b"nan",
    b"NaN",
    b"-nan",
    b"nan(123)",
    b"nan(abc_9)",
    b"-.5",
    b"1.",
    b"-0.0",
    b'"plain"',
    b'""',
    b'"a\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti"',
    b'"\\u0041\\u00e9\\u20ac\\uFFFF"',
    b'"\\u0000x"',
    b'"\\ud83d\\ude00"',
    b'"\\uD834\\uDD1E"',
    b'"raw\x01\x1f\x7f\xff bytes"',
    b'"tab\there"',
    b"true",
    b"false",
    b"null",
    b"[]",
    b"{}",
    b"[1,2,3]",
    b"[1,[2,[3,[4]]]]",
    b'{"a":1,"b":[true,false,null],"c":{"d":"e"}}',
    b'{"a":1,"a":2}',
    b'{"b":1,"a":2,"b":3}',
    b'{"1":"one","2":"two"}',
    b'{"":0}',
    b"[null,null,1]",
    b"[null]",
    b' \t\r\n[ 1 , 2 ]\n ',
    b'{ "a" : [ ] , "b" : { } }',
    b"[1]\x00garbage",
    b"1\x00",
    b'{"z":1,"y":2,"x":3,"w":4,"v":5,"u":6,"t":7,"s":8,"r":9,"q":10}',
    b'{"key1":1,"key2":2,"key3":3,"key10":10,"key11":11,"key20":20,"key100":100}',
]

DECODE_INVALID = [
    b"",
    b" ",
    b"\x00",
    b"\x00[",
    b"[\x00",
    b"a",
    b"[1",
    b"[1,",
    b"[1,]",
    b"[,1]",
    b"[1 2]",
    b"[1:2]",
    b"{",
    b'{"a"',
    b'{"a":',
    b'{"a":1',
    b'{"a":1,}',
    b'{"a" 1}',
    b"{1:2}",
    b"{a:1}",
    b'{"a":1 "b":2}',
    b"[1]]",
    b"[1] [2]",
    b"1 2",
    b"]",
    b"}",
    b":",
    b",",
    b"tru",
    b"truex",
    b"nul",
    b"nulll",
    b"True",
    b"NULL",
    b"-",
    b"-a",
    b"- 1",
    b"+",
    b"+a",
    b".5",
    b"1.5e",
    b"1e+",
    b"0x",
    b"0xg",
    b"1.2.3",
    b"--1",
    b"infx",
    b"ix",
    b"Nx",
    b"'single'",
    b'"unterminated',
    b'"bad \\x escape"',
    b'"bad \\',
    b'"\\u12"',
    b'"\\u12G4"',
    b'"\\uDC00"',
    b'"\\uD800"',
    b'"\\uD800x"',
    b'"\\uD800\\n"',
    b'"\\uD800\\u0041"',
    b'"\\uD800\\uDBFF"',
    b'"a\x00b"',
    b'["ok", "bad \\q"]',
    b'{"a" "b\\x"}',
    b"[1, tru]",
    b"[1, 0x]",
    b"/* comment */ 1",
    b"\xef\xbb\xbf[1]",
]

DECODE_STRICT_NUMBERS = [
    b"0x10",
    b"-0x10",
    b"012",
    b"-012",
    b"0",
    b"-0",
    b"0.5",
    b"+1",
    b"inf",
    b"-Infinity",
    b"nan",
    b"NaN",
    b"-nan",
    b"[1, Infinity]",
    b"-.5",
    b"- 1",
    b"-a",
    b"1e5",
]


@pytest.mark.parametrize("script", [DECODED, ROUND_TRIP])
def test_decode_valid_documents(diff: Differential, script: bytes) -> None:
    for text in DECODE_VALID:
        run(diff, script, text)


def test_decode_round_trip_with_invalid_numbers_encoded(diff: Differential) -> None:
    script = b"cjson.encode_invalid_numbers(true) return cjson.encode(cjson.decode(ARGV[1]))"
    for text in (b"[inf, -inf, nan, -nan, 1e999, 0x10]", b"nan", b'{"a": -Infinity}'):
        run(diff, script, text)


def test_decode_errors(diff: Differential) -> None:
    for text in DECODE_INVALID:
        run(diff, DECODED, text)
        run(diff, b"return {pcall(cjson.decode, ARGV[1])}", text)


def test_decode_with_invalid_numbers_refused(diff: Differential) -> None:
    script = SHOW + b"cjson.decode_invalid_numbers(false) return show(cjson.decode(ARGV[1]))"
    for text in DECODE_STRICT_NUMBERS:
        run(diff, script, text)


def test_decode_arguments(diff: Differential) -> None:
    run_all(
        diff,
        [
            b"return cjson.decode()",
            b"return cjson.decode('1', '2')",
            b"return cjson.decode(nil)",
            b"return cjson.decode({})",
            b"return cjson.decode(true)",
            b"return cjson.decode(12.5)",
            b"return cjson.decode(1e100)",
            b"local x = cjson.decode(); return x",
            b"local d = cjson.decode local x = d() return x",
            b"local x = cjson:decode('[1]') return x",
            b"return {pcall(cjson.decode)}",
            b"return {pcall(cjson.encode)}",
            b"local x = cjson.encode() return x",
            b"local x = cjson.encode(1, 2) return x",
            b"local x = cjson:encode({}) return x",
        ],
    )


def test_decode_nesting(diff: Differential) -> None:
    for depth in (999, 1000, 1001):
        run(diff, b"return #cjson.encode(cjson.decode(ARGV[1]))", b"[" * depth + b"]" * depth)
        run(diff, b"return cjson.decode(ARGV[1])", b"[" * depth)
        run(diff, b"return cjson.decode(ARGV[1])", b'{"a":' * depth)
    run(diff, b"cjson.decode_max_depth(2) return cjson.decode(ARGV[1])", b"[[1]]")
    run(diff, b"cjson.decode_max_depth(2) return cjson.decode(ARGV[1])", b"[[[1]]]")
    run(diff, b"cjson.decode_max_depth(2) return cjson.decode(ARGV[1])", b' [ {"a": {}}]')
    deep = b"cjson.decode_max_depth(100000) return cjson.decode(ARGV[1])"
    for depth in (3998, 3999, 4000):
        run(diff, deep, b'{"a":' * depth)
    for depth in (7997, 7998, 7999):
        run(diff, deep, b"[" * depth)
    run(diff, deep, b'[{"a":' * 2666)
    run(diff, deep, b'[{"a":' * 2667)


def test_decode_utf16_refused(diff: Differential) -> None:
    for text in (b"\x00[\x001\x00]", b"[\x001\x00]\x00", b"\x00\x00", b"1\x00", b"\x001"):
        run(diff, DECODED, text)


def test_key_order_after_decode(diff: Differential) -> None:
    """A decoded table is filled in document order, so its walk and its encoding list
    keys as Redis's do (a hash order: neither sorted nor the document's)."""
    keys = [f"key{i}".encode() for i in range(40)]
    random.Random(7).shuffle(keys)
    doc = b"{" + b",".join(b'"%s":%d' % (k, i) for i, k in enumerate(keys)) + b"}"
    run(diff, ROUND_TRIP, doc)
    run(diff, DECODED, doc)
    run(diff, ROUND_TRIP, b'{"a":{"c":1,"b":2},"list":[{"y":1,"x":2}],"z":null}')
    run(
        diff,
        b"local t = cjson.decode(ARGV[1]) t.extra = 1 t.a = nil return cjson.encode(t)",
        doc,
    )


def test_library_table(diff: Differential) -> None:
    run_all(
        diff,
        [
            b"local t = {} for k in pairs(cjson) do t[#t + 1] = k end return t",
            b"return {cjson._NAME, cjson._VERSION}",
            b"return type(cjson.null)",
            b"return tostring(cjson.null)",
            b"return {cjson.null == cjson.decode('null'), cjson.decode('[null]')[1] == cjson.null}",
            b"return cjson.null",
            b"return {1, cjson.null, 3}",
            b"return cjson.new().null == cjson.null",
            b"cjson.foo = 1",
            b"cjson.encode = nil",
            b"local c = cjson.new() c.foo = 1 return c.foo",
            b"local c = cjson.new() c.encode_max_depth(2) "
            b"return {cjson.encode({{1}}), pcall(c.encode, {{{1}}})}",
            b"local c = cjson.new() local t = {} for k in pairs(c) do t[#t + 1] = k end return t",
            b"return {cjson.new()._NAME, cjson.new().new()._VERSION}",
            b"local c = cjson.new() c.encode_invalid_numbers(true) "
            b"return {c.encode(0/0), pcall(cjson.encode, 0/0)}",
            b"return cjson.null .. 'x'",
            b"return cjson.null.x",
        ],
    )


SETTINGS = [
    b"return {cjson.encode_sparse_array()}",
    b"return {cjson.encode_sparse_array(true)}",
    b"return {cjson.encode_sparse_array('on', 3, 4)}",
    b"return {cjson.encode_sparse_array('off', nil, 7)}",
    b"return {cjson.encode_sparse_array(nil, 5)}",
    b"return {cjson.encode_sparse_array(false, '6', ' 8 ')}",
    b"return {cjson.encode_sparse_array(false, 2.9, -0.5)}",
    b"return {cjson.encode_sparse_array(false, 2^32 + 7)}",
    b"return {cjson.encode_sparse_array('yes')}",
    b"return {cjson.encode_sparse_array(1)}",
    b"return {cjson.encode_sparse_array({})}",
    b"return {cjson.encode_sparse_array(nil, 'x')}",
    b"return {cjson.encode_sparse_array(nil, -1)}",
    b"return {cjson.encode_sparse_array(nil, nil, -1)}",
    b"return {cjson.encode_sparse_array(nil, nil, {})}",
    b"return {cjson.encode_sparse_array(1, 2, 3, 4)}",
    b"return {pcall(cjson.encode_sparse_array, true, -1)} ",
    b"pcall(cjson.encode_sparse_array, true, -1) return {cjson.encode_sparse_array()}",
    b"return cjson.encode_max_depth()",
    b"return cjson.encode_max_depth(5)",
    b"return cjson.encode_max_depth('12')",
    b"return cjson.encode_max_depth(0)",
    b"return cjson.encode_max_depth(-3)",
    b"return cjson.encode_max_depth(2^31)",
    b"return cjson.encode_max_depth(2^32 + 5)",
    b"return cjson.encode_max_depth(1e20)",
    b"return cjson.encode_max_depth(0/0)",
    b"return cjson.encode_max_depth(2147483647)",
    b"return cjson.encode_max_depth('0x10')",
    b"return cjson.encode_max_depth('abc')",
    b"return cjson.encode_max_depth(true)",
    b"return cjson.encode_max_depth(1, 2)",
    b"return cjson.encode_max_depth(nil)",
    b"return cjson.encode_max_depth(nil, nil)",
    b"return cjson:encode_max_depth(3)",
    b"local x = cjson:encode_max_depth(3) return x",
    b"local x = cjson:encode_max_depth() return x",
    b"return cjson.decode_max_depth()",
    b"return cjson.decode_max_depth(7)",
    b"return cjson.decode_max_depth(0)",
    b"return cjson.decode_max_depth('x')",
    b"return cjson.encode_number_precision()",
    b"return cjson.encode_number_precision(1)",
    b"return cjson.encode_number_precision(14)",
    b"return cjson.encode_number_precision(15)",
    b"return cjson.encode_number_precision(0)",
    b"return cjson.encode_number_precision(7.9)",
    b"return cjson.encode_number_precision({})",
    b"return {cjson.encode_keep_buffer()}",
    b"return {cjson.encode_keep_buffer(false)}",
    b"return {cjson.encode_keep_buffer('on')}",
    b"return {cjson.encode_keep_buffer('off')}",
    b"return {cjson.encode_keep_buffer('maybe')}",
    b"return {cjson.encode_keep_buffer(0)}",
    b"return {cjson.encode_keep_buffer(true, 1)}",
    b"return {cjson.encode_invalid_numbers()}",
    b"return {cjson.encode_invalid_numbers(true)}",
    b"return {cjson.encode_invalid_numbers('null')}",
    b"return {cjson.encode_invalid_numbers('on')}",
    b"return {cjson.encode_invalid_numbers('off')}",
    b"return {cjson.encode_invalid_numbers('both')}",
    b"return {cjson.encode_invalid_numbers(2)}",
    b"return {cjson.encode_invalid_numbers(function() end)}",
    b"return {cjson.decode_invalid_numbers()}",
    b"return {cjson.decode_invalid_numbers(false)}",
    b"return {cjson.decode_invalid_numbers('off')}",
    b"return {cjson.decode_invalid_numbers('null')}",
    b"return {cjson.decode_invalid_numbers(false, false)}",
]


def test_settings_functions(diff: Differential) -> None:
    run_all(diff, SETTINGS)


def test_errors_keep_the_calling_line(diff: Differential) -> None:
    run_all(
        diff,
        [
            b"local a = 1\nlocal b = cjson.decode('[')\nreturn b",
            b"local a = 1\n\nlocal b = cjson.encode({f = type})"
            b"\nreturn b",
            b"local a = 1\nreturn cjson.decode('[')\n",
            b"local function f()\n  local v = cjson.decode('x')\n  return v\nend\n"
            b"local v = f()\nreturn v",
            b"local ok, e = pcall(cjson.encode, {[true] = 1})\nreturn e",
            b"local ok, e = pcall(cjson.encode_max_depth, 0)\nreturn e",
        ],
    )
    assert diff.redis.call(b"SCRIPT", b"FLUSH") == b"+OK\r\n"
    script = (
        b"redis.call('SET', KEYS[1], cjson.encode({a = {1, 2}}))\n"
        b"return redis.call('GET', KEYS[1])"
    )
    diff.check(b"EVAL", script, b"1", b"x")
    diff.check(b"EVAL", b"return cjson.decode(redis.call('GET', KEYS[1])).a", b"1", b"x")


def _random_json(rng: random.Random, depth: int = 0) -> str:
    """A JSON text with what tends to differ: numbers of every shape, escapes, nesting."""
    roll = rng.random() * (0.4 if depth == 0 else 1.0)  # a container at the top
    if depth < 4 and roll < 0.2:
        items = [_random_json(rng, depth + 1) for _ in range(rng.randrange(0, 6))]
        return "[" + ",".join(items) + "]"
    if depth < 4 and roll < 0.4:
        keys = [_random_key(rng) for _ in range(rng.randrange(0, 8))]
        return "{" + ",".join(f"{k}:{_random_json(rng, depth + 1)}" for k in keys) + "}"
    if roll < 0.65:
        return rng.choice(
            [
                str(rng.randrange(-(10**6), 10**6)),
                str(rng.randrange(-(10**20), 10**20)),
                repr(rng.uniform(-1e6, 1e6)),
                f"{rng.uniform(-10, 10):.{rng.randrange(1, 20)}f}e{rng.randrange(-330, 330):+d}",
                f"{rng.random():.{rng.randrange(1, 25)}f}",
                f"0x{rng.randrange(0, 1 << 64):x}",
                rng.choice(["-0", "0", "1e308", "2e308", "4e-324", "1e-330", "-Infinity", "nan"]),
            ]
        )
    if roll < 0.85:
        return _random_string(rng)
    return rng.choice(["true", "false", "null"])


def _random_key(rng: random.Random) -> str:
    return rng.choice([f'"k{rng.randrange(20)}"', _random_string(rng), '"1"', '""'])


def _random_string(rng: random.Random) -> str:
    pieces = []
    for _ in range(rng.randrange(0, 6)):
        pieces.append(
            rng.choice(
                [
                    "abc",
                    "\\n",
                    "\\/",
                    '\\"',
                    "\\\\",
                    "\\t",
                    f"\\u{rng.randrange(0, 0xD800):04x}",
                    f"\\u{rng.randrange(0xE000, 0x10000):04X}",
                    "\\ud83d\\ude00",
                    "\u00e9",
                    "\x7f",
                    "/",
                ]
            )
        )
    return '"' + "".join(pieces) + '"'


def _mutate(rng: random.Random, text: bytes) -> bytes:
    """``text`` with one byte dropped, doubled or replaced: mostly malformed."""
    if not text:
        return text
    at = rng.randrange(len(text))
    action = rng.randrange(3)
    if action == 0:
        return text[:at] + text[at + 1 :]
    if action == 1:
        return text[: at + 1] + text[at:]
    return text[:at] + bytes([rng.choice(b'[]{},:"\\ 0x-+.eEnutfl\x00')]) + text[at + 1 :]


def test_generated_documents_match_redis(diff: Differential) -> None:
    """A few hundred generated documents, half of them damaged, decoded and encoded
    again on both sides (errors caught and compared as text)."""
    rng = random.Random(20261128)
    for case in range(300):
        text = _random_json(rng).encode()
        if case % 2:
            text = _mutate(rng, text)
        run(diff, PROTECTED, text)


def test_generated_tables_encode_like_redis(diff: Differential) -> None:
    """Tables built by Lua from generated keys and values (numeric, sparse, mixed),
    encoded on both sides under generated settings."""
    rng = random.Random(1128)
    script = (
        b"local t = {}\n"
        b"for i = 1, #ARGV - 2, 2 do\n"
        b"  local k, v = ARGV[i], ARGV[i + 1]\n"
        b"  t[tonumber(k) or k] = tonumber(v) or v\n"
        b"end\n"
        b"cjson.encode_sparse_array(ARGV[#ARGV - 1] == '1', tonumber(ARGV[#ARGV]))\n"
        b"local ok, s = pcall(cjson.encode, t)\n"
        b"return s"
    )
    for _ in range(200):
        argv: list[bytes] = []
        for _ in range(rng.randrange(0, 12)):
            key = rng.choice(
                [
                    str(rng.randrange(1, 30)),
                    str(rng.randrange(-3, 3)),
                    f"{rng.uniform(0, 5):.1f}",
                    f"k{rng.randrange(10)}",
                    str(rng.choice([2**31, 2**32 + 1, 2**40])),
                ]
            )
            value = rng.choice(
                [str(rng.randrange(-100, 100)), f"{rng.uniform(-1e20, 1e20):.6g}", "s/\n", ""]
            )
            argv += [key.encode(), value.encode()]
        argv += [rng.choice([b"0", b"1"]), str(rng.choice([0, 1, 2, 3, 2**31 - 1])).encode()]
        run(diff, script, *argv)

"""The ``bit`` and ``struct`` Lua libraries against redis-server 7.0.15, in RESP2 and RESP3.

Each script's reply is compared byte for byte, error texts included (the argument
numbers, the function names as the script called them, the ``user_script:<line>:``
position luaL_error adds). The cases walk LuaBitOp's argument normalisation (fractions
round half to even, huge numbers, infinities, NaN payloads, numeric strings) and every
error path of Redis's struct library, its quirks included; the random tests pack and
unpack generated formats and values, and fold generated operands, a few hundred each,
against Redis (rerun one seed with ``EPAXOSDB_BITSTRUCT_SEED=<seed>``).
"""

from __future__ import annotations

import os
import random

import pytest

from tests.commands.differential import Differential

SEEDS = [int(s) for s in os.environ.get("EPAXOSDB_BITSTRUCT_SEED", "1 2 3").split()]

BIT_SCRIPTS = [
    b"return bit.tobit('x')",
    b"local f = bit.tobit; return {pcall(f, 'x')}",
    b"return bit.tobit(tonumber('nan(0x1234)'))",
    (
        b'return {bit.tohex(0xabc, -2147483648), bit.tohex(0xabc, 2147483647), bit.tohex(-1, '
        b'-3), bit.tohex(0xabc,0), bit.tohex(1, 2^31), bit.tohex(1,-2^31-1)}'
    ),
    b'local t={} for k in pairs(bit) do t[#t+1]=k end return t',
    (
        b'return {bit.tobit(2^31), bit.tobit(2^32+5), bit.tobit(-1), bit.tobit(1.5), '
        b'bit.tobit(2.5), bit.tobit(-2.5), bit.tobit(2^52), bit.tobit(2^53+3), '
        b'bit.tobit(1e300), bit.tobit(1/0), bit.tobit(-1/0), bit.tobit(0/0)}'
    ),
    (
        b"return {bit.band(0xff, 0x0f, '7'), bit.bor(1,2,4,8), bit.bxor(0xffffffff, 1), "
        b"bit.bnot(0), bit.lshift(1, 31), bit.lshift(1, 32), bit.rshift(-1, 28), "
        b"bit.arshift(-256, 4), bit.rol(0x12345678, 8), bit.ror(0x12345678, 8), bit.rol(1, 0), "
        b"bit.ror(1, 0), bit.bswap(0x12345678), bit.rshift(1, -1)}"
    ),
    b"return bit.band(1, 2, {}, 'x')",
    b'return bit.lshift(1)',
    b'return bit.tohex()',
    b'return bit.bswap(true)',
    b'local b = bit return b.rol(nil, 1)',
    b'return pcall(bit.bor, 1, nil)',
    b"return bit.tobit('0x7fffffff1')",
    b"return bit.tobit('  12  ')",
    b"return bit.tobit('12\\0abc')",
    b"return bit.tobit('1e10')",
    b"return bit.tobit('-0x10')",
    (
        b'return {bit.tohex(255, 2), bit.tohex(255, -2), bit.tohex(255, 9), bit.tohex(255, '
        b'-9), bit.tohex(-1)}'
    ),
    b'bit.x = 1',
    b'bit.band = 1',
    b'return bit.tobit(2^51), bit.tobit(-2^51), bit.tobit(2^51 + 0.5)',
    (
        b'return {bit.tobit(2^51), bit.tobit(-2^51), bit.tobit(2^51 - 0.5), '
        b'bit.tobit(-2^51-1), bit.tobit(4503599627370495.5), bit.tobit(-4503599627370495.5)}'
    ),
    b"return {bit.band(), 1}",
    b"return {pcall(bit.band)}",
    b"local ok, e = pcall(function() local x = bit.bor(1, 'no') return x end) return e",
    b"return bit.bxor(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 2^40 + 3)",
    b"return {bit.tobit('inf'), bit.tobit('-nan'), bit.tobit('0x1p40'), bit.tobit('1e-400')}",
    b"return bit.tohex(0xdeadbeef, -8) .. bit.tohex(0xdeadbeef, 4) .. bit.tohex(-0.0)",
    b"local n = 0\nfor i = 1, 1000 do n = bit.bxor(n, bit.lshift(i, i % 32)) end\nreturn n",
    b"\n\nreturn bit.tobit({})",
    b"local x = bit.tobit(1)\nlocal y = bit.tohex(1, {})\nreturn y",
    b"return type(bit.tobit), type(bit.nothing)",
]
"""Scripts over ``bit``; the reply (or the error) of each is compared."""

STRUCT_SCRIPTS = [
    b"return struct.pack('=i', 1)",
    b"return struct.size('z5b4')",
    b"return struct.pack('c5', 'ab')",
    b"return {struct.unpack('', 'x', -5)}",
    b"return {struct.unpack('<', 'x', -5)}",
    b"return #{struct.unpack(string.rep('b', 7996), string.rep('a', 8000))}",
    b"return #{struct.unpack(string.rep('b', 7997), string.rep('a', 8000))}",
    b"return #{struct.unpack(string.rep('b', 7998), string.rep('a', 8000))}",
    b"return #{struct.unpack(string.rep('b', 7997), string.rep('a', 8000), 1)}",
    b"return #{struct.unpack(string.rep('b', 7996), string.rep('a', 8000), 1, 2)}",
    b"return #{struct.unpack(string.rep('b', 7995), string.rep('a', 8000), 1, 2)}",
    b"return #{struct.unpack(string.rep('x', 7998), string.rep('a', 8000), 1, 2)}",
    b"return struct.pack('i40', 1)",
    b"return struct.pack('i99999999999', 1)",
    b"return struct.pack('!3', 1)",
    b"return struct.size('!0')",
    b"return struct.pack('d', -0.0)",
    b"return struct.pack('c0', -0.0)",
    b"return {struct.unpack('c1c0', '3abcdef')}",
    b"return {struct.unpack('bc0', '\\255abcdef')}",
    b"return struct.pack('s', 0/0)",
    b"return {struct.unpack('<i9', '\\1\\1\\1\\1\\1\\1\\1\\1\\255')}",
    (
        b"return {struct.pack('<i8', 1e20), struct.pack('<i8', 2^63), struct.pack('<i8', "
        b"2^64),struct.pack('<i8', 1/0),struct.pack('<i8', -1/0),struct.pack('<i8', "
        b"0/0),struct.pack('<i8', -1e20), struct.pack('<I8', 2^63+2^20), struct.pack('<i16', "
        b"-1)}"
    ),
    b"return {struct.unpack('b', 'a', 0)}",
    b"return {struct.unpack('b', 'a', 'z')}",
    b"return {struct.unpack('b', 'a', 1.9)}",
    b"return {struct.unpack('b', 'a', {})}",
    b'return struct.pack()',
    b"return struct.pack('b')",
    b"return struct.pack('s', {})",
    (
        b"return struct.pack('>!4 b i h d f s c3 c0 x L', -1, 2, 3, 1.5, 2.25, 'str', "
        b"'abcdef', 'zz', 7)"
    ),
    (
        b"return {struct.unpack('>!4 b i h d f s c3 c0 x L', struct.pack('>!4 b i h d f s c3 "
        b"c0 x L', -1, 2, 3, 1.5, 2.25, 'str', 'abcdef', 'zz', 7))}"
    ),
    (
        b"return {struct.unpack('<!4 b i h d f s c3 c0 x L', struct.pack('<!4 b i h d f s c3 "
        b"c0 x L', -1, 2, 3, 1.5, 2.25, 'str', 'abcdef', 'zz', 7))}"
    ),
    b"return struct.size('!4 b i h d f c3 x L T')",
    b"return struct.size('s')",
    b"return struct.size('c0')",
    b"return struct.size('bz=')",
    b'return struct.size(12)',
    b'return struct.pack(0)',
    b'return struct.pack(-0.0)',
    b"return {struct.unpack('s', 'abc')}",
    b"return {struct.unpack('c0', 'abc')}",
    b"return {struct.unpack('bbc0', '\\3\\2abc')}",
    b"return {struct.unpack('fc0', '\\0\\0\\32\\64abcdef')}",
    b"return struct.pack('f', 1e300)",
    b"return struct.pack('>f', -1e300)",
    b"return struct.pack('f', 0/0)",
    b"return struct.pack('d', '-0')",
    b"return struct.pack('f', ' -0x0 ')",
    b"return struct.pack('i', '12x')",
    b"return struct.pack('!', 1)",
    b"return struct.pack('!16i2', 1)",
    b"return struct.pack('i3i3!4i3i3!2i3', 1, 2, 3, 4, 5)",
    b"return {struct.unpack('i3i3!4i3i3!2i3', struct.pack('i3i3!4i3i3!2i3', 1, 2, 3, 4, 5))}",
    b"return {struct.unpack('b!3', 'a')}",
    b"return {struct.unpack('b!99999999999', 'a')}",
    b"return {struct.unpack('z', '')}",
    b"return {struct.unpack('b', '')}",
    b"return {struct.unpack('b')}",
    b'return {struct.unpack()}',
    b"return {struct.unpack('I16', string.rep('\\255', 16))}",
    b"return {struct.unpack('i0 I0', '')}",
    b"return struct.pack('i0 I0', 1, 2)",
    b"return {struct.unpack('b\\0b', 'ab')}",
    b"return struct.pack('c', 12)",
    b"return struct.pack('s', 1e100)",
    b"return struct.pack('s', 2^63)",
    b"return struct.pack('s', 1/3)",
    b"return struct.pack('s', -1/0)",
    b"return struct.pack('b', true)",
    b"return struct.unpack('b', 'a', 0/0)",
    b"return struct.unpack('b', 'a', 2^70)",
    b"return struct.unpack('', 'a', 2^70)",
    b"return struct.unpack('', 'a', -2^70)",
    b"return struct.unpack('', 'a', '0x10')",
    b"return struct.unpack('b', 'a', nil)",
    b"return struct.unpack('b', 123)",
    b"return struct.unpack('d', 1234567890)",
    b"return struct.pack('b', 1, 2, 3)",
    b"return struct.pack('H', 70000.7)",
    b"return struct.pack('h', -70000.7)",
    b"return struct.pack('T', -1)",
    b"return struct.pack('l', 2^53+1)",
    b"return struct.pack('bXb', 1, 2)",
    b"return struct.pack('b\\200', 1)",
    b"return struct.size('b\\200')",
    b"return struct.size(' <>!2b')",
    b"return struct.size('c2147483647c2147483647')",
    b"return struct.size('i2147483648')",
    b"return struct.size('c2147483648')",
    b"return struct.pack('I33', 1)",
    b"return struct.pack('c2147483647', 'a')",
    b"local t={} for k in pairs(struct) do t[#t+1]=k end return t",
    b"struct.pack = nil",
    b"struct.x = 1",
    b"return {struct.unpack('>I2 <I2 >i3', '\\1\\2\\1\\2\\255\\255\\254')}",
    b"return {struct.unpack('b', 'abc', 3)}",
    b"return {struct.unpack('b', 'abc', 4)}",
    b"return {struct.unpack('', 'abc', 9)}",
    b"return {struct.unpack('s s', 'ab\\0cd\\0', 1)}",
    b"return {struct.unpack('!8 b d', struct.pack('!8 b d', 1, 2.5))}",
    b"return {struct.unpack('!2 b l', struct.pack('!2 b l', 1, -2))}",
    b"return {struct.unpack('!1 b i8', struct.pack('!1 b i8', 1, 2))}",
    b"return struct.pack('!b i', 1, 2)",
    b"return struct.size('!b i d !2 h c7 x')",
    b"return struct.pack('c0 c0', 'ab', 1.25)",
    b"return struct.pack('c3', 123.5)",
    b"return struct.pack('s', '')",
    b"return struct.pack('c0', '')",
    b"return struct.pack('>d<d', 1/0, -1/0)",
    b"return struct.pack('>f<f', 3.4028235677973366e38, 3.4028236e38)",
    b"return struct.pack('f', 1e-46)",
    b"return {struct.unpack('>f>d', '\\127\\128\\0\\1\\255\\240\\0\\0\\0\\0\\0\\1')}",
    b"return tostring(struct.unpack('>d', '\\255\\248\\0\\0\\0\\0\\0\\0'))",
    b"return tostring(struct.unpack('>f', '\\255\\192\\0\\0'))",
    b"return {struct.unpack('c1 c0', '9abc')}",
    b"return {struct.unpack('c1 c0', ' 0x2 abc')}",
    b"return {struct.unpack('c2 c0', '-1abc')}",
    b"return {struct.unpack('d c0', struct.pack('d', 2.9) .. 'abc')}",
    b"return {struct.unpack('d c0', struct.pack('d', 0/0) .. 'abc')}",
    b"return {struct.unpack('x c0', 'abc')}",
    b"return {struct.unpack('s', 'abc\\0', 4)}",
    b"return {struct.unpack('s', 'abc', 4)}",
    b"return {struct.unpack('s', 'abc', 5)}",
    b"return struct.pack('s', 'a\\0b')",
    b"return struct.pack('c5', 'a\\0b\\0c')",
    b"return {struct.unpack(string.rep('c1', 7997), string.rep('a', 8000))}",
    b"return #{struct.unpack(string.rep('c1', 7000) .. 'c0', string.rep('a', 7000) .. 'xyz')}",
    b"return struct.size(string.rep('i32', 1000))",
    b"return #struct.pack(string.rep('i32', 1000), unpack({}, 1, 0))",
    b"local x = struct.size('b')\nlocal y = struct.size('s')\nreturn y",
    b"local ok, e = pcall(struct.unpack, 'z', '') return e",
    b"local ok, e = pcall(function() local v = struct.pack('i', nil) return v end) return e",
]
"""Scripts over ``struct``; the reply (or the error) of each is compared."""


@pytest.mark.parametrize("script", BIT_SCRIPTS)
def test_bit_matches_redis(diff: Differential, script: bytes) -> None:
    diff.check(b"EVAL", script, b"0")


@pytest.mark.parametrize("script", STRUCT_SCRIPTS)
def test_struct_matches_redis(diff: Differential, script: bytes) -> None:
    diff.check(b"EVAL", script, b"0")


def test_arguments_from_argv_convert_as_in_redis(diff: Differential) -> None:
    """ARGV's strings reach both libraries as strings: Lua reads numeric ones."""
    script = (
        b"local out = {}\n"
        b"for i, a in ipairs(ARGV) do\n"
        b"  local ok, v = pcall(function() local r = bit.tobit(a) return r end)\n"
        b"  out[#out + 1] = tostring(v)\n"
        b"  ok, v = pcall(function() local r = struct.pack('>d', a) return r end)\n"
        b"  out[#out + 1] = v\n"
        b"end\n"
        b"return out"
    )
    args = [b"1", b" 0x7f ", b"1e3", b"-0", b"nan", b"-inf", b"12abc", b"", b"0x", b"1.5e400"]
    diff.check(b"EVAL", script, b"0", *args)


_EXPORT = (
    b"local out = {}\n"
    b"local function add(ok, ...)\n"
    b"  if not ok then out[#out + 1] = 'E' .. tostring((...)) return end\n"
    b"  local n = select('#', ...)\n"
    b"  local values = {...}\n"
    b"  for i = 1, n do\n"
    b"    local v = values[i]\n"
    b"    if type(v) == 'number' then out[#out + 1] = ('%.17g'):format(v)\n"
    b"    else out[#out + 1] = 's' .. v end\n"
    b"  end\n"
    b"  out[#out + 1] = '|'\n"
    b"end\n"
)
"""Collects every value (numbers written with all their digits: a reply would truncate
them) or error text of the cases after it."""

_NUMBERS = [
    "0", "-0.0", "1", "-1", "0.5", "1.5", "2.5", "-2.5", "255", "256", "65535", "-32768",
    "2^31", "-2^31", "2^32", "2^32 - 1", "2^51", "2^51 + 0.5", "2^52", "2^53", "2^53 + 2",
    "2^63", "-2^63", "2^64", "2^64 + 2^12", "1e300", "-1e300", "1/0", "-1/0", "0/0",
    "-(0/0)", "3.4028235e38", "1e-310", "123456789.987", "'12'", "' 0x1F '", "'1e2'",
    "'x'", "true", "nil", "{}",
]


def _number(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.35:
        return rng.choice(_NUMBERS)
    if roll < 0.7:
        return str(rng.randint(-(2**40), 2**40))
    if roll < 0.85:
        return repr(rng.uniform(-1e6, 1e6))
    return f"{rng.randint(-(2**20), 2**20)} * 2^{rng.randint(0, 70)}"


def _lua_string(data: bytes) -> str:
    return "'" + "".join(f"\\{b}" for b in data) + "'"


@pytest.mark.parametrize("seed", SEEDS)
def test_random_bit_operations_match_redis(diff: Differential, seed: int) -> None:
    rng = random.Random(seed)
    names = ["tobit", "bnot", "band", "bor", "bxor", "lshift", "rshift", "arshift", "rol",
             "ror", "bswap", "tohex"]
    for _batch in range(4):
        lines = []
        for _case in range(75):
            name = rng.choice(names)
            count = {"tobit": 1, "bnot": 1, "bswap": 1, "tohex": rng.choice([1, 2])}.get(
                name, 2 if name in ("lshift", "rshift", "arshift", "rol", "ror") else
                rng.randint(1, 5))
            args = ", ".join(_number(rng) for _ in range(count))
            lines.append(f"add(pcall(function() local r = bit.{name}({args}) return r end))")
        diff.check(b"EVAL", _EXPORT + "\n".join(lines).encode() + b"\nreturn out", b"0")


_OPTIONS = ["b", "B", "h", "H", "l", "L", "T", "i", "I", "f", "d", "x", "c", "s", "<", ">",
            "!", " "]


def _format(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(0, 6)):
        opt = rng.choice(_OPTIONS)
        if opt in "iI" and rng.random() < 0.7:
            opt += str(rng.choice([1, 2, 3, 4, 5, 7, 8, 9, 12, 16, 32, 33]))
        elif opt == "c" and rng.random() < 0.8:
            opt += str(rng.choice([0, 1, 2, 3, 5]))
        elif opt == "!" and rng.random() < 0.8:
            opt += str(rng.choice([1, 2, 3, 4, 8, 16]))
        parts.append(opt)
    if rng.random() < 0.05:
        parts.insert(rng.randint(0, len(parts)), rng.choice(["z", "=", "9", "\\0"]))
    return "".join(parts)


def _value(rng: random.Random, opt: str) -> str:
    if opt in "cs" or rng.random() < 0.05:
        return _lua_string(bytes(rng.randrange(256) for _ in range(rng.randint(0, 6))))
    return _number(rng)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_struct_round_trips_match_redis(diff: Differential, seed: int) -> None:
    """Each case packs generated values with a generated format, unpacks the result with
    the same format (and at a random offset), and takes the format's size."""
    rng = random.Random(seed)
    for _batch in range(4):
        lines = []
        for _case in range(25):
            fmt = _format(rng)
            values = ", ".join(_value(rng, c) for c in fmt if c.isalpha()) or "nil"
            lines.append(
                f"add(pcall(function() local p = struct.pack('{fmt}', {values}) "
                f"local r = {{struct.unpack('{fmt}', p)}} r[#r + 1] = p return unpack(r) end))"
            )
            data = _lua_string(bytes(rng.randrange(256) for _ in range(rng.randint(0, 24))))
            pos = rng.choice(["", ", 1", ", 2", ", 5", ", 0", ", -1"])
            lines.append(
                f"add(pcall(function() local r = {{struct.unpack('{fmt}', {data}{pos})}} "
                "return unpack(r) end))"
            )
            lines.append(f"add(pcall(function() local r = struct.size('{fmt}') return r end))")
        diff.check(b"EVAL", _EXPORT + "\n".join(lines).encode() + b"\nreturn out", b"0")

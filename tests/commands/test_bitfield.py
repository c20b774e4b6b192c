"""BITFIELD's pieces on their own: offsets, types, the overflow rules, the payload edit.

Reference facts come from redis-server 7.0.15 (the differential tests compare
whole commands with a live server); these pin down the parts whose behaviour
is not what plain arithmetic would suggest, and check the one-copy payload
edit against a plain bytearray model over many random calls.
"""

from __future__ import annotations

import random

import pytest

from epaxosdb.commands import command_access, is_read_only, prepare
from epaxosdb.commands.bitfield import (
    RO_ONLY_GET,
    FieldOp,
    Overflow,
    _edit,
    fit,
    get_field,
    key_flags,
    overflow_direction,
    parse,
    parse_offset,
    parse_type,
    set_field,
)
from epaxosdb.commands.bitmaps import BIT_OFFSET, BIT_OFFSET_MAX
from protocol.messages import Command
from protocol.replies import Error, Reply

T0 = 1_700_000_000_000


@pytest.mark.parametrize(
    ("raw", "bits", "offset"),
    [
        (b"0", 8, 0),
        (b"#0", 8, 0),
        (b"#3", 5, 15),
        (b"4294967295", 64, BIT_OFFSET_MAX),
        (b"#67108863", 64, 67108863 * 64),
        (b"#288230376151711745", 64, 64),  # 2**64 + 64: the product wraps back in range
        (b"#292805461487453201", 63, 47),  # 2**64 + 47
    ],
)
def test_offsets_plain_or_in_fields_wrap_as_redis_multiplies(
    raw: bytes, bits: int, offset: int
) -> None:
    assert parse_offset(raw, bits) == offset


@pytest.mark.parametrize(
    ("raw", "bits"),
    [
        (b"4294967296", 8),
        (b"#67108864", 64),
        (b"#144115188075855873", 64),  # 2**63 + 64: wraps negative
        (b"#-1", 8),
        (b"-1", 8),
        (b"#", 8),
        (b"##1", 8),
        (b"#+1", 8),
        (b"", 8),
        (b"1\x00", 8),
        (b"#9223372036854775808", 1),
    ],
)
def test_offsets_redis_refuses_are_refused(raw: bytes, bits: int) -> None:
    assert parse_offset(raw, bits) is None


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        (b"i1", (True, 1)),
        (b"i64", (True, 64)),
        (b"u63", (False, 63)),
        (b"u8\x00anything", (False, 8)),  # C's strlen ends the width at the NUL
        (b"u64", None),
        (b"i65", None),
        (b"i0", None),
        (b"I8", None),
        (b"i08", None),
        (b"i+8", None),
        (b"u\x008", None),
        (b"", None),
    ],
)
def test_types_are_i1_to_i64_and_u1_to_u63_lower_case(
    raw: bytes, parsed: tuple[bool, int] | None
) -> None:
    assert parse_type(raw) == parsed


def test_parse_keeps_the_overflow_mode_in_force_for_each_write() -> None:
    ops = parse([
        b"BITFIELD", b"k", b"INCRBY", b"u8", b"0", b"1", b"OVERFLOW", b"fail\x00x",
        b"GET", b"i4", b"#2", b"set", b"i4", b"#2", b"-9", b"OVERFLOW", b"SAT",
    ])  # fmt: skip
    assert ops == [
        FieldOp(b"incrby", False, 8, 0, 1, Overflow.WRAP),
        FieldOp(b"get", True, 4, 8),
        FieldOp(b"set", True, 4, 8, -9, Overflow.FAIL),
    ]


def test_the_first_bad_argument_decides_the_error() -> None:
    args = [b"BITFIELD", b"k", b"SET", b"u8", b"-1", b"x", b"GET", b"u99", b"0"]
    assert parse(args) == BIT_OFFSET
    assert prepare([b"BITFIELD_RO", b"k", b"GET", b"u8", b"0", b"INCRBY", b"u8", b"0", b"1"],
                   T0) == RO_ONLY_GET  # fmt: skip
    assert isinstance(prepare([b"BITFIELD_RO", b"k", b"SET", b"x8", b"0", b"1"], T0), Error)
    assert prepare([b"BITFIELD_RO", b"k", b"SET", b"x8", b"0", b"1"], T0) != RO_ONLY_GET


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("bits", [1, 2, 3, 6])
def test_increments_overflow_exactly_when_the_sum_leaves_the_field(signed: bool, bits: int) -> None:
    """For INCRBY (an in-range old value), Redis's 64-bit checks agree with arithmetic:
    the direction is the side the sum left by, and WRAP is the sum modulo the width."""
    low = -(1 << (bits - 1)) if signed else 0
    high = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
    span = 1 << bits
    for old in range(low, high + 1):
        for incr in [*range(-2 * span - 2, 2 * span + 3), -(1 << 63), (1 << 63) - 1]:
            total = old + incr
            expected = 1 if total > high else -1 if total < low else 0
            assert overflow_direction(old, incr, signed, bits) == expected, (old, incr)
            wrapped = fit(old, incr, signed, bits, Overflow.WRAP)
            assert wrapped is not None and low <= wrapped <= high
            assert (wrapped - total) % span == 0
            assert fit(old, incr, signed, bits, Overflow.FAIL) == (None if expected else total)
            sat = fit(old, incr, signed, bits, Overflow.SAT)
            assert sat == (high if expected > 0 else low if expected < 0 else total)


@pytest.mark.parametrize(
    ("value", "signed", "bits", "saturated"),
    [
        (-1, False, 8, 255),  # a uint64_t, far above 255
        (-(1 << 63), False, 63, (1 << 63) - 1),
        (-(1 << 63), True, 1, 0),  # max - value wraps negative: "above"
        (-(1 << 63), True, 8, 127),
        ((1 << 7) - (1 << 63) - 1, True, 8, 127),  # the last value taken for "above"
        ((1 << 7) - (1 << 63), True, 8, -128),  # the first taken for "below"
        (-129, True, 8, -128),
        (-(1 << 63), True, 64, -(1 << 63)),  # fits: no overflow
        (256, False, 8, 255),
        (128, True, 8, 127),
    ],
)
def test_sets_saturate_on_the_side_redis_picks(
    value: int, signed: bool, bits: int, saturated: int
) -> None:
    assert fit(value, 0, signed, bits, Overflow.SAT) == saturated


def test_fields_read_and_write_big_endian_bits_across_bytes() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        size = rng.randrange(1, 20)
        payload = bytearray(rng.randbytes(size))
        bits = rng.randrange(1, 65)
        offset = rng.randrange(0, max(1, size * 8 - bits + 1))
        if offset + bits > size * 8:
            continue
        as_text = "".join(f"{byte:08b}" for byte in payload)
        unsigned = int(as_text[offset : offset + bits], 2)
        assert get_field(payload, offset, bits, signed=False) == unsigned
        signed = unsigned - (1 << bits) if as_text[offset] == "1" else unsigned
        assert get_field(payload, offset, bits, signed=True) == signed
        value = rng.randrange(-(1 << 64), 1 << 64)
        set_field(payload, offset, bits, value)
        written = "".join(f"{byte:08b}" for byte in payload)
        field = format(value % (1 << bits), f"0{bits}b")
        assert written == as_text[:offset] + field + as_text[offset + bits :]


def test_reads_past_the_end_see_zero_bits() -> None:
    assert get_field(b"\xff", 4, 8, signed=False) == 0xF0
    assert get_field(b"", 1000, 64, signed=True) == 0
    assert get_field(memoryview(b"\x80"), 0, 1, signed=True) == -1


def _plain_edit(base: bytes, length: int, ops: list[FieldOp]) -> tuple[list[Reply], bytes]:
    """The obvious way: one bytearray the size of the result, grown by enough zeros that
    any GET fits, cut back to ``length`` at the end."""
    buffer = bytearray(base.ljust(length + 16, b"\x00"))
    replies: list[Reply] = []
    for op in ops:
        old = get_field(buffer, op.offset, op.bits, op.signed)
        if not op.writes:
            replies.append(old)
            continue
        value, incr = (old, op.argument) if op.action == b"incrby" else (op.argument, 0)
        new = fit(value, incr, op.signed, op.bits, op.overflow)
        if new is not None:
            set_field(buffer, op.offset, op.bits, new)
        replies.append(new if op.action == b"incrby" or new is None else old)
    return replies, bytes(buffer[:length])


def test_the_one_copy_edit_matches_a_plain_bytearray() -> None:
    rng = random.Random(11)
    for _ in range(3000):
        base = rng.randbytes(rng.choice([0, 1, 5, 40, 300]))
        ops: list[FieldOp] = []
        for _ in range(rng.randrange(1, 7)):
            signed = rng.random() < 0.5
            bits = rng.randrange(1, 65 if signed else 64)
            offset = rng.choice([rng.randrange(0, 64), rng.randrange(0, 3000)])
            action = rng.choice([b"get", b"set", b"incrby"])
            argument = rng.randrange(-(1 << 63), 1 << 63) if action != b"get" else 0
            overflow = rng.choice(list(Overflow))
            ops.append(FieldOp(action, signed, bits, offset, argument, overflow))
        writes = [op for op in ops if op.writes]
        reach = max(((op.offset + op.bits - 1) >> 3) + 1 for op in writes) if writes else 0
        length = max(len(base), reach)
        assert _edit(base, length, ops) == _plain_edit(base, length, ops), (base, ops)


@pytest.mark.parametrize(
    ("args", "flags"),
    [  # what redis-server 7.0.15's COMMAND GETKEYSANDFLAGS answers for each
        ([b"GET", b"u8", b"0"], ("RO", "access")),
        ([b"OVERFLOW", b"sat"], ("RO", "access")),
        ([], ("RO", "access")),
        ([b"GET", b"u8", b"0", b"SET", b"u8", b"0", b"1"], ("RW", "access", "update")),
        ([b"incrby", b"u8", b"0", b"1"], ("RW", "access", "update")),
        ([b"GET", b"u8"], ("RW", "access", "update")),  # unreadable: assumed a write
        ([b"GET", b"u99", b"x"], ("RO", "access")),  # types and offsets are not checked
    ],
)
def test_key_flags_are_read_only_for_gets_alone(args: list[bytes], flags: tuple[str, ...]) -> None:
    assert key_flags([b"BITFIELD", b"k", *args]) == flags


def test_bitfield_is_replicated_and_bitfield_ro_runs_only_where_proposed() -> None:
    for name, read_only in ((b"BITFIELD", False), (b"BITFIELD_RO", True)):
        op = prepare([name, b"k", b"GET", b"u8", b"0"], T0)
        assert not isinstance(op, Error)
        cmd = Command(origin=1, id=1, time_ms=T0, ops=(op,))
        assert is_read_only(cmd) is read_only
        assert command_access(cmd).read_only is read_only

"""INCRBYFLOAT's arithmetic: x87 80-bit ``long double``, reproduced exactly.

Redis parses both operands with ``strtold``, adds them as ``long double``
(64-bit significand on x86-64) and prints the sum with ``%.17Lf`` before
trimming trailing zeros. Python floats have a 53-bit significand, so the same
inputs would print differently (``10.5 + 0.1`` is ``10.6`` in Redis). Every
value here is an exact ``Fraction`` rounded to the long double grid after each
step, which reproduces Redis's digits on every replica and every platform.
Infinity is ``math.inf`` (it can be parsed, and a sum can overflow to it).
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

SIGNIFICAND_BITS = 64
EXPONENT_MIN = -16382
"""Smallest exponent of a normal long double (value = 1.f * 2**e)."""
EXPONENT_MAX = 16383
INPUT_LENGTH_MAX = 5 * 1024
"""``MAX_LONG_DOUBLE_CHARS``: ``string2ld`` refuses inputs this long or longer."""
FRACTION_DIGITS = 17
"""``%.17Lf`` in ``ld2string(..., LD_STR_HUMAN)``."""

_DECIMAL = re.compile(rb"([+-]?)(?:([0-9]+)\.?([0-9]*)|\.([0-9]+))(?:[eE]([+-]?[0-9]+))?")
_HEX = re.compile(
    rb"([+-]?)0[xX](?:([0-9a-fA-F]+)\.?([0-9a-fA-F]*)|\.([0-9a-fA-F]+))(?:[pP]([+-]?[0-9]+))?"
)
_INFINITY = re.compile(rb"([+-]?)(?:inf|infinity)", re.IGNORECASE)
_EXPONENT_DIGITS_MAX = 9
_CHUNK_DIGITS = 4000
"""Python refuses int<->str conversions above 4300 digits; longer ones go in chunks."""

LongDouble = Fraction | float
"""A finite value as an exact ``Fraction``, or ``math.inf`` / ``-math.inf``."""


def parse(raw: bytes) -> LongDouble | None:
    """The value Redis's ``string2ld`` reads from ``raw``, or ``None`` when it refuses it.

    Refused: empty or too long input, leading whitespace, trailing garbage,
    NaN, and values that overflow or underflow to zero (``ERANGE``).
    Subnormal results are accepted, as glibc returns them non-zero.
    """
    if not raw or len(raw) >= INPUT_LENGTH_MAX:
        return None
    match = _DECIMAL.fullmatch(raw)
    if match is not None:
        sign, whole, frac, only_frac, exponent = match.groups()
        digits = (whole or b"") + (frac or only_frac or b"")
        scale = -len(frac or only_frac or b"")
        return _finish(sign, digits, 10, scale, exponent)
    match = _HEX.fullmatch(raw)
    if match is not None:
        sign, whole, frac, only_frac, exponent = match.groups()
        digits = (whole or b"") + (frac or only_frac or b"")
        scale = -4 * len(frac or only_frac or b"")
        return _finish(sign, digits, 16, scale, exponent)
    match = _INFINITY.fullmatch(raw)
    if match is not None:
        return -math.inf if match.group(1) == b"-" else math.inf
    return None


def add(a: LongDouble, b: LongDouble) -> LongDouble | None:
    """``a + b`` rounded to long double; ``None`` for NaN (``inf + -inf``)."""
    infinities = [x for x in (a, b) if isinstance(x, float)]
    if infinities:
        if len(infinities) == 2 and infinities[0] != infinities[1]:
            return None
        return infinities[0]
    assert isinstance(a, Fraction) and isinstance(b, Fraction)
    return round_long_double(a + b)


def round_long_double(value: Fraction) -> LongDouble:
    """Round to nearest (ties to even) on the long double grid; overflow gives infinity."""
    if value == 0:
        return value
    magnitude = abs(value)
    num, den = magnitude.numerator, magnitude.denominator
    exponent = num.bit_length() - den.bit_length()
    if not _at_least_power_of_two(num, den, exponent):
        exponent -= 1
    quantum = max(exponent, EXPONENT_MIN) - (SIGNIFICAND_BITS - 1)
    if quantum >= 0:
        significand, rest = divmod(num, den << quantum)
        half_den = den << quantum
    else:
        significand, rest = divmod(num << -quantum, den)
        half_den = den
    if 2 * rest > half_den or (2 * rest == half_den and significand & 1):
        significand += 1
    if significand.bit_length() + quantum > EXPONENT_MAX + 1:
        return -math.inf if value < 0 else math.inf
    if quantum >= 0:
        scaled = Fraction(significand << quantum)
    else:
        scaled = Fraction(significand, 1 << -quantum)
    return -scaled if value < 0 else scaled


def format_human(value: Fraction) -> bytes:
    """``%.17Lf`` with trailing zeros (and a bare point) removed, ``-0`` shown as ``0``."""
    scaled = abs(value) * 10**FRACTION_DIGITS
    whole, rest = divmod(scaled.numerator, scaled.denominator)
    if 2 * rest > scaled.denominator or (2 * rest == scaled.denominator and whole & 1):
        whole += 1
    digits = _to_digits(whole).rjust(FRACTION_DIGITS + 1, b"0")
    integer, fraction = digits[:-FRACTION_DIGITS], digits[-FRACTION_DIGITS:].rstrip(b"0")
    text = integer + b"." + fraction if fraction else integer
    if value < 0 and text != b"0":
        text = b"-" + text
    return text


def _finish(
    sign: bytes, digits: bytes, base: int, scale: int, exponent: bytes | None
) -> LongDouble | None:
    """The number written ``digits`` in ``base``, times its exponent, rounded.

    Decimal: ``digits * 10**(scale + exponent)``; hexadecimal: ``scale`` and the
    ``p`` exponent count bits. Range errors are ``strtold``'s ``ERANGE`` cases.
    """
    significant = digits.lstrip(b"0")
    if not significant:
        return Fraction(0)
    mantissa = _to_int(significant, base)
    power = scale + _exponent(exponent)
    radix = 10 if base == 10 else 2
    magnitude = len(significant) if base == 10 else mantissa.bit_length()
    limit = 5000 if base == 10 else 16500
    if power + magnitude > limit:
        return None  # overflow: HUGE_VAL with ERANGE
    if power + magnitude < -limit:
        return None  # underflow to zero with ERANGE
    exact = Fraction(mantissa) * Fraction(radix) ** power
    rounded = round_long_double(exact)
    if isinstance(rounded, float) or rounded == 0:
        return None
    return -rounded if sign == b"-" else rounded


def _exponent(raw: bytes | None) -> int:
    if raw is None:
        return 0
    negative = raw.startswith(b"-")
    digits = raw.lstrip(b"+-").lstrip(b"0") or b"0"
    value: int = int(digits) if len(digits) <= _EXPONENT_DIGITS_MAX else 10**_EXPONENT_DIGITS_MAX
    return -value if negative else value


def _at_least_power_of_two(num: int, den: int, exponent: int) -> bool:
    """Whether ``num / den >= 2**exponent``."""
    if exponent >= 0:
        return num >= den << exponent
    return num << -exponent >= den


def _to_int(digits: bytes, base: int) -> int:
    if len(digits) <= _CHUNK_DIGITS:
        return int(digits, base)
    head, tail = digits[:-_CHUNK_DIGITS], digits[-_CHUNK_DIGITS:]
    shift: int = base**_CHUNK_DIGITS
    return _to_int(head, base) * shift + int(tail, base)


def _to_digits(value: int) -> bytes:
    if value < 10**_CHUNK_DIGITS:
        return b"%d" % value
    head, tail = divmod(value, 10**_CHUNK_DIGITS)
    return _to_digits(head) + (b"%d" % tail).rjust(_CHUNK_DIGITS, b"0")

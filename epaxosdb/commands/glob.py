"""Redis glob patterns (``stringmatchlen`` in util.c) for KEYS and SCAN MATCH.

Redis's matcher walks the pattern with a recursive C function; its behaviour
on odd patterns is part of the contract, so this module keeps every quirk:

* ``\\x`` matches ``x`` literally; a trailing ``\\`` matches a backslash.
* ``[abc]``, ``[^abc]``, ``[a-z]`` (reversed ranges like ``[z-a]`` work too);
  inside a class ``\\]`` is a literal. An unterminated class runs to the end
  of the pattern, so ``[`` alone never matches and ``[^`` matches any byte.
* Range bounds compare as C ``char``, which is signed on x86-64: bytes of
  0x80 and above sort *below* ``\\0``.
* The empty string matches only the empty pattern, even ``*`` (KEYS and SCAN
  special-case a lone ``*`` before calling the matcher).
* Redis stops recursing after 1000 nested ``*``: a pattern needing more star
  runs before its last ordinary character never matches.

The pattern is compiled once into tokens: ``None`` for a run of stars, and for
anything else a 256-entry table of the bytes it accepts. Matching then runs
the usual greedy algorithm with one backtrack point, which is linear in
practice and never exponential. The commonest patterns (``user:*``,
``__keyspace@0__:*``: literals and at most one run of stars before the
trailing one) match through ``re`` instead, in C, where backtracking stays
linear too; a subscriber to every keyspace event has one tested against two
channels for every write.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Token = bytes | None
"""``None`` is ``*``; otherwise ``token[c]`` is 1 when byte ``c`` matches."""

STAR_NESTING_MAX = 1000
_SPECIAL = frozenset(b"*?[\\")
_ANY = bytes([1]) * 256


def _signed(byte: int) -> int:
    return byte - 256 if byte >= 128 else byte


def _lower(byte: int) -> int:
    return byte + 32 if 65 <= byte <= 90 else byte


def _literal(byte: int, nocase: bool) -> bytes:
    if nocase:
        return bytes(1 if _lower(c) == _lower(byte) else 0 for c in range(256))
    table = bytearray(256)
    table[byte] = 1
    return bytes(table)


def _class(pattern: bytes, i: int, nocase: bool) -> tuple[bytes, int]:
    """Parse the class whose ``[`` is at ``i``; return its table and the index of its last byte."""
    n = len(pattern)
    i += 1
    negate = i < n and pattern[i] == 94  # '^'
    if negate:
        i += 1
    literals: set[int] = set()
    ranges: list[tuple[int, int]] = []
    while True:
        if n - i == 0:
            i -= 1
            break
        char = pattern[i]
        if char == 92 and n - i >= 2:  # '\\': the next byte, literally (even with nocase)
            i += 1
            literals.add(pattern[i])
        elif char == 93:  # ']'
            break
        elif n - i >= 3 and pattern[i + 1] == 45:  # '-'
            start, end = _signed(pattern[i]), _signed(pattern[i + 2])
            if start > end:
                start, end = end, start
            if nocase:
                start, end = _lower(start), _lower(end)
            ranges.append((start, end))
            i += 2
        else:
            literals.update(c for c in range(256) if _same(c, char, nocase))
        i += 1
    table = bytearray(256)
    for c in range(256):
        position = _lower(_signed(c)) if nocase else _signed(c)
        member = c in literals or any(lo <= position <= hi for lo, hi in ranges)
        table[c] = member != negate
    return bytes(table), i


def _same(a: int, b: int, nocase: bool) -> bool:
    return _lower(a) == _lower(b) if nocase else a == b


def compile_pattern(pattern: bytes, nocase: bool = False) -> list[Token]:
    """Tokens of ``pattern``, exactly as ``stringmatchlen`` would consume it."""
    tokens: list[Token] = []
    n = len(pattern)
    i = 0
    while i < n:
        char = pattern[i]
        if char == 42:  # '*'
            if not tokens or tokens[-1] is not None:
                tokens.append(None)
        elif char == 63:  # '?'
            tokens.append(_ANY)
        elif char == 91:  # '['
            table, i = _class(pattern, i, nocase)
            tokens.append(table)
        elif char == 92 and n - i >= 2:
            i += 1
            tokens.append(_literal(pattern[i], nocase))
        else:
            tokens.append(_literal(char, nocase))
        i += 1
    return tokens


def _too_deep(tokens: list[Token]) -> bool:
    """Whether Redis's recursion limit stops every match of this pattern."""
    runs = 0
    last_ordinary = max((k for k, t in enumerate(tokens) if t is not None), default=-1)
    for token in tokens[:last_ordinary]:
        if token is None:
            runs += 1
    return runs > STAR_NESTING_MAX


def matcher(pattern: bytes, nocase: bool = False) -> Callable[[bytes], bool]:
    """A predicate for ``pattern``; compile once, then test many keys."""
    if not _SPECIAL.intersection(pattern) and not nocase:
        return pattern.__eq__
    tokens = compile_pattern(pattern, nocase)
    if _too_deep(tokens):
        return lambda string: False
    simple = _simple(pattern, nocase)
    if simple is not None:
        return simple
    return lambda string: _match(tokens, string)


def _simple(pattern: bytes, nocase: bool) -> Callable[[bytes], bool] | None:
    """A matcher in ``re`` for a pattern of literals and stars only, with at most one run
    of stars that is not the pattern's end (two could backtrack quadratically); ``None``
    for any other."""
    if b"?" in pattern or b"[" in pattern or b"\\" in pattern:
        return None
    parts = pattern.split(b"*")
    if len(parts) == 1:
        literals = parts  # no star (a pattern matched without regard to case)
    else:
        middles = [part for part in parts[1:-1] if part]
        runs = len(middles) + 1  # maximal runs of stars
        if runs - (parts[-1] == b"") > 1:
            return None
        literals = [parts[0], *middles, parts[-1]]
    regex = b".*".join(re.escape(literal) for literal in literals)
    fullmatch = re.compile(regex, re.DOTALL | (re.IGNORECASE if nocase else 0)).fullmatch
    return lambda string: bool(string) and fullmatch(string) is not None


def stringmatch(pattern: bytes, string: bytes, nocase: bool = False) -> bool:
    return matcher(pattern, nocase)(string)


def _match(tokens: list[Token], string: bytes) -> bool:
    if not string:
        return not tokens
    ntokens, nstring = len(tokens), len(string)
    ti = si = 0
    star_ti = -1
    star_si = 0
    while si < nstring:
        if ti < ntokens:
            token = tokens[ti]
            if token is None:
                star_ti, star_si = ti, si
                ti += 1
                continue
            if token[string[si]]:
                ti += 1
                si += 1
                continue
        if star_ti >= 0:
            star_si += 1
            ti, si = star_ti + 1, star_si
        else:
            return False
    while ti < ntokens and tokens[ti] is None:
        ti += 1
    return ti == ntokens

"""LCS (Redis 7.0's ``lcsCommand`` in t_string.c): the longest common subsequence of two strings.

Redis fills the classic dynamic-programming table ``LCS(i, j)`` (the length
of the LCS of the first ``i`` bytes of one string and the first ``j`` of the
other), then walks it back from the bottom-right corner to spell the LCS and,
with IDX, the matching ranges. Where two directions are as good, its walk
prefers one: every reply here takes the same walk, so the string and the
ranges are Redis's own, not merely a correct answer.

A table of ``(len(a) + 1) * (len(b) + 1)`` Python integers would be too slow
and too large for strings of thousands of bytes, so the table is computed
bit-parallel (Hyyrö's algorithm over Python's big integers): one integer per
row, whose bit ``j - 1`` says whether ``LCS(i, j)`` is one more than
``LCS(i, j - 1)``. Any entry is then a population count of a row's low bits,
and a row costs a few big-integer operations instead of ``len(b)`` steps.

Checks come in Redis's order, all after the keys are looked up: a key that
is not a string, then the options, then LEN with IDX, then the size guard
Redis applies to its table of 4-byte entries (at most ``proto-max-bulk-len``).
A missing key is an empty string.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from protocol.replies import Error, Map, Reply
from storage.interface import KeyValueView

from . import errors
from .integers import parse_ll
from .values import STRING, STRING_LENGTH_MAX, live

NOT_STRINGS = Error("ERR The specified keys must contain string values")
LEN_AND_IDX = Error("ERR If you want both the length and indexes, please just use IDX.")
TABLE_TOO_LARGE = Error(
    "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
)
TABLE_ENTRY_BYTES = 4
"""Redis's table holds one ``uint32_t`` per entry; its size is what the guard limits."""


def table_too_large(a_length: int, b_length: int) -> bool:
    """Whether Redis refuses to build the table for strings of these lengths: its
    ``(alen + 1) * (blen + 1)`` entries of 4 bytes exceed ``proto-max-bulk-len``."""
    return (a_length + 1) * (b_length + 1) * TABLE_ENTRY_BYTES > STRING_LENGTH_MAX


@dataclass(frozen=True, slots=True)
class _Options:
    length: bool = False
    idx: bool = False
    min_match_length: int = 0
    with_match_length: bool = False


def _options(args: Sequence[bytes]) -> _Options | Error:
    """The options after the two keys, as ``lcsCommand`` reads them: each may repeat,
    MINMATCHLEN takes the next argument (a negative one counts as 0), anything else is a
    syntax error; LEN and IDX together are refused once all were read."""
    length = idx = with_match_length = False
    min_match_length = 0
    j = 3
    while j < len(args):
        option = errors.c_string(args[j]).lower()
        if option == b"idx":
            idx = True
        elif option == b"len":
            length = True
        elif option == b"withmatchlen":
            with_match_length = True
        elif option == b"minmatchlen" and j + 1 < len(args):
            parsed = parse_ll(args[j + 1])
            if parsed is None:
                return errors.NOT_INTEGER
            min_match_length = max(parsed, 0)
            j += 1
        else:
            return errors.SYNTAX
        j += 1
    if idx and length:
        return LEN_AND_IDX
    return _Options(length, idx, min_match_length, with_match_length)


class LcsTable:
    """Redis's ``LCS(i, j)`` table for ``a`` and ``b``, one bit-parallel row per ``i``."""

    __slots__ = ("_rows",)

    def __init__(self, a: bytes, b: bytes) -> None:
        full = (1 << len(b)) - 1
        positions: dict[int, int] = {}
        for byte in set(a):  # only a's bytes are ever looked up
            if bytes((byte,)) not in b:
                continue
            # Bit j set where b[j] == byte: a binary numeral read from b's last byte.
            digits = bytes(0x31 if other == byte else 0x30 for other in range(256))
            positions[byte] = int(b.translate(digits)[::-1], 2)
        rows = [0]
        v = full  # Hyyrö's V: a zero bit marks where a row's LCS grows by one
        for byte in a:
            u = v & positions.get(byte, 0)
            v = ((v + u) | (v - u)) & full
            rows.append(~v & full)
        self._rows = rows

    def __call__(self, i: int, j: int) -> int:
        """``LCS(i, j)``: the LCS length of ``a[:i]`` and ``b[:j]``."""
        return (self._rows[i] & ((1 << j) - 1)).bit_count()


def _walk(a: bytes, b: bytes, options: _Options) -> Reply:
    """Redis's walk back through the table, from ``(len(a), len(b))``: the LCS spelled
    backwards and, with IDX, each contiguous match as it is left (so from the ends of the
    strings towards their starts), kept when at least MINMATCHLEN long."""
    table = LcsTable(a, b) if a and b else None
    total = 0 if table is None else table(len(a), len(b))
    spelled = bytearray(total)
    matches: list[Reply] = []
    unset = len(a)  # Redis's marker for "no range in progress"
    a_start, a_end, b_start, b_end = unset, 0, 0, 0
    i, j, at = len(a), len(b), total
    while table is not None and i > 0 and j > 0:
        emit = False
        if a[i - 1] == b[j - 1]:
            spelled[at - 1] = a[i - 1]
            if a_start == unset:
                a_start = a_end = i - 1
                b_start = b_end = j - 1
            elif a_start == i and b_start == j:
                a_start -= 1
                b_start -= 1
            else:
                emit = True
            if a_start == 0 or b_start == 0:
                emit = True
            at, i, j = at - 1, i - 1, j - 1
        else:
            if table(i - 1, j) > table(i, j - 1):
                i -= 1
            else:
                j -= 1
            emit = a_start != unset
        if emit:
            match_length = a_end - a_start + 1
            if match_length >= options.min_match_length:
                match: list[Reply] = [[a_start, a_end], [b_start, b_end]]
                if options.with_match_length:
                    match.append(match_length)
                matches.append(match)
            a_start = unset
    if options.idx:
        return Map([(b"matches", matches), (b"len", total)])
    return bytes(spelled)


def cmd_lcs(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """The LCS of the strings at ``args[1]`` and ``args[2]``; with LEN its length, with
    IDX the matching ranges and the length (a map: a flat array in RESP2)."""
    strings: list[bytes] = []
    for key in args[1:3]:
        value = live(kv, key, now_ms)
        if value is not None and value.type != STRING:
            return NOT_STRINGS
        strings.append(b"" if value is None else value.payload)
    a, b = strings
    options = _options(args)
    if isinstance(options, Error):
        return options
    if table_too_large(len(a), len(b)):
        return TABLE_TOO_LARGE
    if options.length and not options.idx:
        return 0 if not a or not b else LcsTable(a, b)(len(a), len(b))
    return _walk(a, b, options)

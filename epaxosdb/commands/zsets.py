"""Sorted-set commands (Redis's t_zset.c): ZADD, ZRANGE in all its forms, ZPOPMIN, ZSCAN...

A sorted set is one stored value of type ZSET whose payload is its members
and scores, flattened as ``[member, score, ...]`` in Redis's order (score,
then member bytes); each score is the 8 bytes of a big-endian IEEE double,
so what was stored is what comes back, bit for bit (``encode_zset``). Like
a hash, every write rewrites the whole value: sorted sets are for thousands
of members, not millions.

Numbers follow Redis 7.0 exactly:

* A score argument (ZADD, ZINCRBY) is read like ``strtod`` through Redis's
  ``string2d``: hexadecimal and ``inf``/``-inf`` are accepted; NaN, leading
  spaces, trailing bytes, overflow and underflow to zero are refused with
  "value is not a valid float". A range bound (ZRANGEBYSCORE's ``min``) is
  read by plain ``strtod`` instead: leading spaces and the empty string (0)
  pass, overflow gives infinity, and text after a NUL byte is ignored.
* Scores in replies are doubles (``%.17g``): a bulk string in RESP2, a RESP3
  double otherwise; ZSCAN gives them as strings in both.
* A score of ``-0`` is kept as Redis 7.0 keeps it, which depends on the
  set's encoding when the member goes in: its small-set encoding (a
  listpack, for up to 128 members of at most 64 bytes) reads ``-0`` back as
  ``0``, its big one (a skiplist) keeps ``-0``. The encoding is judged from
  the set's contents, as OBJECT ENCODING judges it (``held_big``), and a set
  grows into the big one where Redis converts it: ZADD, ZINCRBY and
  ZRANGESTORE before the member that outgrows the listpack, ZUNIONSTORE and
  the other whole-set stores (and RESTORE) once the result is complete
  (``kept_scores``). The reply of the ZADD INCR or ZINCRBY that computed a
  ``-0`` says ``-0`` either way.

Lexicographic ranges, and score ranges, are walked the way Redis walks its
small-set encoding: from the first member at or above ``min`` while members
stay at or below ``max``. For a set whose members all share a score this is
plain lexicographic order; for one with mixed scores it reproduces Redis's
(documented as unspecified) answers for sets of up to 128 members.

Random picks (ZRANDMEMBER) draw from the command's seed, like SRANDMEMBER.

What Redis checks before it looks the key up — options, numbers, ranges —
is checked by ``prepare`` (and again by the handler, which shares the
parser); WRONGTYPE comes after. A sorted set never exists empty.

RESP3: Redis 7 answers WITHSCORES (and ZPOPMIN/ZPOPMAX with a count,
ZRANDMEMBER WITHSCORES) with one two-element array per member, and RESP2
with one flat array: the ``Pairs`` reply. ZPOPMIN without a count answers
one flat ``[member, score]`` in both, BZPOPMIN one flat ``[key, member,
score]``.

The blocking pops (BZPOPMIN, BZPOPMAX, BZMPOP) execute here as one attempt
each, what Redis runs inside MULTI: pop if a sorted set has a member, else
answer the null array and change nothing. The waiting between attempts is
the front end's, as for BLPOP (``blocking``, ``epaxosdb.runtime.blocking``).
"""

from __future__ import annotations

import math
import re
import struct
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from protocol.replies import Error, Pairs, Reply
from protocol.resp import format_double
from storage.interface import KeyValueView, StorageError, ValueType

from . import errors
from .blocking import prepare_blocking_mpop
from .containers import Kind, expire_of, mpop_request
from .integers import index_span, parse_ll, pop_count
from .keyspace import random_pairs_reply, random_pairs_request
from .sets import SET, decode_set
from .spec import Handler, preparing
from .values import live

ZSET = ValueType.ZSET
NAN_SCORE = Error("ERR resulting score is not a number (NaN)")
NOT_FLOAT_RANGE = Error("ERR min or max is not a float")
NOT_LEX_RANGE = Error("ERR min or max not valid string range item")
XX_AND_NX = Error("ERR XX and NX options at the same time are not compatible")
GT_LT_NX = Error("ERR GT, LT, and/or NX options at the same time are not compatible")
INCR_PAIRS = Error("ERR INCR option supports a single increment-element pair")
LIMIT_NEEDS_RANGE = Error(
    "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
)
WITHSCORES_BYLEX = Error("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
WEIGHT_NOT_FLOAT = Error("ERR weight value is not a float")

Scores = dict[bytes, float]
"""Member → score; never in any particular order (``ordered`` sorts)."""
Entry = tuple[bytes, float]

_SCORE = struct.Struct(">d")
R = TypeVar("R")


def _scores(items: list[bytes]) -> Scores:
    """Decoded with whole-list operations (C loops): a hot sorted set is decoded often."""
    if len(items) % 2:
        raise StorageError("a stored sorted set is not a list of member/score pairs")
    members, raws = items[::2], items[1::2]
    if any(map(_SCORE.size.__ne__, map(len, raws))):
        raise StorageError("a stored sorted set has a score that is not 8 bytes")
    values = struct.unpack(f">{len(raws)}d", b"".join(raws))
    if any(map(math.isnan, values)):
        raise StorageError("a stored sorted set has a NaN score")
    scores = dict(zip(members, values, strict=True))
    if len(scores) != len(members):
        raise StorageError("a stored sorted set repeats a member")
    return scores


def _by_score(scores: Scores) -> list[tuple[float, bytes]]:
    """``(score, member)`` in Redis's order: by score, ties by member bytes. Sorting the
    tuples themselves keeps every comparison in C (scores are never NaN)."""
    return sorted(zip(scores.values(), scores.keys(), strict=True))


def ordered(scores: Scores) -> list[Entry]:
    """Members with their scores in Redis's order: by score, ties by member bytes."""
    return [(member, score) for score, member in _by_score(scores)]


_ORDERED_REMEMBERED = 8
_ordered: dict[int, tuple[Scores, list[Entry], dict[bytes, int]]] = {}
"""``id(scores)`` → (those scores, ``ordered(scores)``, ranks filled on demand), for
contents shared by read-only commands (``Kind.decode_shared``), which nobody changes:
a leaderboard read again and again is sorted once, not at every ZRANGE. (Inside a
``Workspace`` readers share contents that a later op changes: ``_changing`` forgets
them first.)"""


def _ordered_entry(scores: Scores) -> tuple[Scores, list[Entry], dict[bytes, int]]:
    hit = _ordered.get(id(scores))
    if hit is None or hit[0] is not scores:
        hit = (scores, ordered(scores), {})
        _ordered[id(scores)] = hit
        if len(_ordered) > _ORDERED_REMEMBERED:
            _ordered.pop(next(iter(_ordered)), None)
    return hit


def ordered_shared(scores: Scores) -> list[Entry]:
    """``ordered`` of contents nobody changes (``Kind.decode_shared``), remembered; the
    list returned is shared too, and must not be changed either."""
    return _ordered_entry(scores)[1]


def _rank_shared(scores: Scores, member: bytes) -> int:
    """The 0-based rank of a member of ``scores`` (shared contents) in Redis's order."""
    _, entries, ranks = _ordered_entry(scores)
    if not ranks:
        ranks.update((m, i) for i, (m, _) in enumerate(entries))
    return ranks[member]


def _flatten(scores: Scores) -> Iterable[bytes]:
    """``member, score, member, score...`` in order, each score as 8 big-endian bytes."""
    by_score = _by_score(scores)
    items: list[bytes] = [b""] * (2 * len(by_score))
    items[::2] = [member for _, member in by_score]
    items[1::2] = map(_SCORE.pack, [score for score, _ in by_score])
    return items


def _changing(scores: Scores) -> None:
    """``scores`` are about to change (in a ``Workspace``): forget their order."""
    _ordered.pop(id(scores), None)


ZSETS: Kind[Scores] = Kind(ZSET, "sorted set", _scores, _flatten, dict, changing=_changing)
encode_zset = ZSETS.encode
decode_zset = ZSETS.decode


ZSET_LISTPACK_ENTRIES = 128
"""Redis's ``zset-max-listpack-entries``: more members and a set is a skiplist."""
ZSET_LISTPACK_VALUE = 64
"""Redis's ``zset-max-listpack-value``: a longer member and a set is a skiplist."""


def held_big(scores: Scores) -> bool:
    """Whether Redis would hold a set of these members as a skiplist (which keeps a
    score of ``-0``) rather than a listpack (which reads it back as ``0``)."""
    return len(scores) > ZSET_LISTPACK_ENTRIES or any(
        len(member) > ZSET_LISTPACK_VALUE for member in scores
    )


def kept_scores(scores: Scores) -> Scores:
    """A set built whole (ZUNIONSTORE and the other algebra stores, GEOSEARCHSTORE,
    RESTORE): Redis builds it big and converts it to a listpack if it fits, which
    turns ``-0`` into ``0``."""
    return scores if held_big(scores) else {member: s + 0.0 for member, s in scores.items()}


def _outgrows(scores: Scores, member: bytes) -> bool:
    """Whether adding ``member`` (not in ``scores``) makes Redis convert a listpack to
    a skiplist before the member goes in (``zsetAdd``)."""
    return len(scores) >= ZSET_LISTPACK_ENTRIES or len(member) > ZSET_LISTPACK_VALUE


def _added_in_order(entries: Iterable[Entry], big: bool) -> Scores:
    """ZRANGESTORE's destination, filled member by member as Redis fills it: ``-0``
    becomes ``0`` until the set outgrows its listpack (or from the start, if ``big``:
    a rank range of more than 128 members starts as a skiplist)."""
    stored: Scores = {}
    for member, score in entries:
        big = big or _outgrows(stored, member)
        stored[member] = score if big else score + 0.0
    return stored


def _with_scores(entries: Iterable[Entry]) -> Pairs:
    """Member/score pairs: flat in RESP2, nested in RESP3 (see the module docstring)."""
    return Pairs(list(entries))


def _members(entries: Iterable[Entry], with_scores: bool) -> Reply:
    if with_scores:
        return _with_scores(entries)
    return [member for member, _ in entries]


# --- numbers -------------------------------------------------------------------

_DECIMAL = re.compile(rb"[+-]?([0-9]*\.?[0-9]*)(?:[eE]([+-]?[0-9]+))?")
_HEX = re.compile(rb"[+-]?0[xX]([0-9a-fA-F]*\.?[0-9a-fA-F]*)(?:[pP]([+-]?[0-9]+))?")
_INFINITY = re.compile(rb"[+-]?(?:inf|infinity)", re.IGNORECASE)
C_SPACE = b" \t\n\v\f\r"
_NORMAL_MIN = 2.2250738585072014e-308
_SUBNORMAL_EXPONENT = -1074
"""The smallest double is ``2**-1074``."""
_EXACT_DIGITS_MAX = 1100
"""No decimal with more significant digits than this is exactly a subnormal double (their
exact expansions have at most 1074 digits after the point, 767 of them significant)."""


def strtod(text: bytes) -> tuple[float, bool] | None:
    """What glibc's ``strtod`` makes of the whole of ``text``: the value and whether it
    sets ``ERANGE`` — overflow, or a result below the normal range that is not exactly
    the number written (underflow, to zero or to a subnormal); ``None`` if ``text`` is
    not one number from start to end, or is NaN. Callers differ in which ``ERANGE`` they
    refuse: a score only an infinite or zero one (``string2d``), SORT any."""
    if _INFINITY.fullmatch(text):
        return (-math.inf if text[:1] == b"-" else math.inf), False
    match = _HEX.fullmatch(text)
    if match is not None:
        mantissa, power = match.group(1), match.group(2)
        if not mantissa.replace(b".", b""):
            return None
        try:
            value = float.fromhex(text.decode("ascii"))
        except OverflowError:
            return (-math.inf if text[:1] == b"-" else math.inf), True
        exact = abs(value) >= _NORMAL_MIN or _hex_exact(mantissa, power)
    else:
        match = _DECIMAL.fullmatch(text)
        if match is None:
            return None
        mantissa, power = match.group(1), match.group(2)
        if not mantissa.replace(b".", b""):
            return None
        value = float(text)
        exact = abs(value) >= _NORMAL_MIN or _decimal_exact(mantissa, power)
    if math.isinf(value):
        return value, True
    return value, not exact


def _exponent(power: bytes | None) -> int | None:
    """An exponent's value; ``None`` for one of over 18 digits, whose number is zero or
    infinite as a double whatever its digits (and too long for ``int`` to read at will)."""
    if power is None:
        return 0
    if len(power.lstrip(b"+-").lstrip(b"0")) > 18:
        return None
    return int(power)


def _hex_exact(mantissa: bytes, power: bytes | None) -> bool:
    """Whether a hexadecimal float whose value is below the normal range is exactly a
    double (a subnormal, or zero written as zero)."""
    whole, _, fraction = mantissa.partition(b".")
    number = int(whole + fraction, 16) if whole + fraction else 0
    if number == 0:
        return True
    written = _exponent(power)
    if written is None:
        return False  # so far below the smallest double that it rounded to zero
    exponent = written - 4 * len(fraction)
    zeros = (number & -number).bit_length() - 1
    return exponent + zeros >= _SUBNORMAL_EXPONENT


def _decimal_exact(mantissa: bytes, power: bytes | None) -> bool:
    """Whether a decimal whose value is below the normal range is exactly a double."""
    whole, _, fraction = mantissa.partition(b".")
    digits = (whole + fraction).lstrip(b"0")
    if not digits:
        return True  # zero, written as zero
    stripped = digits.rstrip(b"0")
    written = _exponent(power)
    if len(stripped) > _EXACT_DIGITS_MAX or written is None:
        return False
    exponent = written - len(fraction) + len(digits) - len(stripped)
    number = int(stripped)
    if exponent >= 0:
        return False  # an integer: never below the normal range
    if -exponent > _EXACT_DIGITS_MAX + 330:
        return False  # below 1e-330, under the smallest double: it rounded to it or to 0
    fives: int = 5**-exponent
    if number % fives:
        return False  # a power of ten's factor of five is left in the denominator
    number //= fives
    zeros = (number & -number).bit_length() - 1
    return exponent + zeros >= _SUBNORMAL_EXPONENT


def parse_score(raw: bytes) -> float | None:
    """A score as ``getDoubleFromObject`` reads it (``string2d``), or ``None``."""
    if not raw or raw[0] in C_SPACE:
        return None
    parsed = strtod(raw)
    if parsed is None:
        return None
    value, out_of_range = parsed
    if out_of_range and (math.isinf(value) or value == 0):
        return None
    return value


def _bound_value(raw: bytes) -> float | None:
    """A range bound after its ``(`` as ``zslParseRange`` reads it (bare ``strtod``)."""
    text = errors.c_string(raw)
    if not text:
        return 0.0
    parsed = strtod(text.lstrip(C_SPACE))
    return None if parsed is None else parsed[0]


@dataclass(frozen=True, slots=True)
class Range:
    """A score or lexicographic range: which entries are at or above its ``min``, at or below
    its ``max``, and whether it is empty whatever the set holds."""

    gte_min: Callable[[Entry], bool]
    lte_max: Callable[[Entry], bool]
    empty: bool
    by_score: bool = False
    """A score range: ``gte_min`` turns true once along Redis's order (score first) and
    ``lte_max`` false once, so the walk finds where the range starts by bisection. A lex
    range is walked entry by entry, as Redis walks a small set: its order holds only
    among equal scores."""


def _score_range(raw_min: bytes, raw_max: bytes) -> Range | Error:
    """``zslParseRange``: ``(`` makes a bound exclusive."""
    min_ex, max_ex = raw_min[:1] == b"(", raw_max[:1] == b"("
    low = _bound_value(raw_min[1:] if min_ex else raw_min)
    high = _bound_value(raw_max[1:] if max_ex else raw_max)
    if low is None or high is None:
        return NOT_FLOAT_RANGE

    def gte_min(entry: Entry) -> bool:
        return entry[1] > low if min_ex else entry[1] >= low

    def lte_max(entry: Entry) -> bool:
        return entry[1] < high if max_ex else entry[1] <= high

    return Range(gte_min, lte_max, low > high or (low == high and (min_ex or max_ex)), True)


LexBound = tuple[int, bytes]
"""A lex bound as a sort key: ``-`` is ``(0, b"")``, a string ``(1, s)``, ``+`` ``(2, b"")``."""


def _lex_bound(raw: bytes) -> tuple[LexBound, bool] | None:
    """``zslParseLexRangeItem``: the bound and whether it is exclusive."""
    head = raw[:1]
    if head in (b"+", b"-"):
        if errors.c_string(raw) != head:
            return None
        return ((2 if head == b"+" else 0), b""), True
    if head in (b"(", b"["):
        return (1, raw[1:]), head == b"("
    return None


def _lex_range(raw_min: bytes, raw_max: bytes) -> Range | Error:
    low, high = _lex_bound(raw_min), _lex_bound(raw_max)
    if low is None or high is None:
        return NOT_LEX_RANGE
    (low_key, min_ex), (high_key, max_ex) = low, high

    def gte_min(entry: Entry) -> bool:
        key = (1, entry[0])
        return key > low_key if min_ex else key >= low_key

    def lte_max(entry: Entry) -> bool:
        key = (1, entry[0])
        return key < high_key if max_ex else key <= high_key

    empty = low_key > high_key or (low_key == high_key and (min_ex or max_ex))
    return Range(gte_min, lte_max, empty)


def _walk(
    entries: list[Entry], span: Range, reverse: bool = False, offset: int = 0, limit: int = -1
) -> list[Entry]:
    """The entries a range selects, as Redis walks a small sorted set
    (``zzlFirstInRange``/``zzlLastInRange``, then LIMIT's ``offset`` and ``limit``).

    Forward: start at the first entry at or above ``min``, if it is at or below ``max``,
    and go on while entries are at or below ``max``; reverse the other way round.
    ``offset`` entries are skipped without a check; a negative offset finds nothing, a
    negative limit means no limit."""
    if span.empty or not entries or not span.gte_min(entries[-1]):
        return []
    if not span.lte_max(entries[0]) or offset < 0:
        return []
    inside, step = (span.gte_min, -1) if reverse else (span.lte_max, 1)
    start = _range_start(entries, span, reverse)
    if start is None or not inside(entries[start]):
        return []  # Redis finds no first entry: one past ``max`` ends the range at once
    out: list[Entry] = []
    i = start + step * offset
    while 0 <= i < len(entries) and limit != 0 and inside(entries[i]):
        out.append(entries[i])
        i += step
        limit -= 1
    return out


def _range_start(entries: list[Entry], span: Range, reverse: bool) -> int | None:
    """Where ``_walk`` starts: the first entry at or above ``min`` (reverse: the last at
    or below ``max``). A score range finds it by bisection: walking from an end cost
    the set's size for every range of a few members."""
    n = len(entries)
    gte_min, lte_max = span.gte_min, span.lte_max
    if span.by_score:
        if reverse:
            start = bisect_left(range(n), True, key=lambda i: not lte_max(entries[i])) - 1
        else:
            start = bisect_left(range(n), True, key=lambda i: gte_min(entries[i]))
        return start if 0 <= start < n else None
    if reverse:
        return next((i for i in range(n - 1, -1, -1) if lte_max(entries[i])), None)
    return next((i for i in range(n) if gte_min(entries[i])), None)


# --- parsing requests ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Zadd:
    nx: bool
    xx: bool
    gt: bool
    lt: bool
    ch: bool
    incr: bool
    pairs: list[tuple[float, bytes]]


_ZADD_FLAGS = (b"nx", b"xx", b"gt", b"lt", b"ch", b"incr")


def _zadd_request(args: Sequence[bytes]) -> _Zadd | Error:
    """ZADD's (and ZINCRBY's) options, pairs and scores, with Redis's checks in its order.
    ZINCRBY is ZADD with INCR set: it parses options too (``ZINCRBY k nx 1`` is a syntax
    error, not an increment of ``nx``)."""
    flags = {b"incr"} if args[0].upper() == b"ZINCRBY" else set()
    index = 2
    while index < len(args):
        option = errors.c_string(args[index]).lower()
        if option not in _ZADD_FLAGS:
            break
        flags.add(option)
        index += 1
    rest = args[index:]
    if not rest or len(rest) % 2:
        return errors.SYNTAX
    nx, xx, gt, lt = (flag in flags for flag in _ZADD_FLAGS[:4])
    if nx and xx:
        return XX_AND_NX
    if (gt and nx) or (lt and nx) or (gt and lt):
        return GT_LT_NX
    if b"incr" in flags and len(rest) > 2:
        return INCR_PAIRS
    pairs: list[tuple[float, bytes]] = []
    for i in range(0, len(rest), 2):
        score = parse_score(rest[i])
        if score is None:
            return errors.NOT_FLOAT
        pairs.append((score, rest[i + 1]))
    return _Zadd(nx, xx, gt, lt, b"ch" in flags, b"incr" in flags, pairs)


@dataclass(frozen=True, slots=True)
class _RangeRequest:
    """One ZRANGE-family request: the source key's index, and how to select and answer."""

    key_index: int
    by: str  # "rank", "score" or "lex"
    reverse: bool
    with_scores: bool
    offset: int
    limit: int
    start: int
    end: int
    span: Range | None


_RANGE_FORMS: dict[bytes, tuple[int, str | None, bool | None]] = {
    b"ZRANGE": (1, None, None),
    b"ZRANGESTORE": (2, None, None),
    b"ZREVRANGE": (1, "rank", True),
    b"ZRANGEBYSCORE": (1, "score", False),
    b"ZREVRANGEBYSCORE": (1, "score", True),
    b"ZRANGEBYLEX": (1, "lex", False),
    b"ZREVRANGEBYLEX": (1, "lex", True),
}
"""Name → (index of the source key, fixed range type, fixed direction): what
``zrangeGenericCommand`` is called with."""


def _range_request(args: Sequence[bytes]) -> _RangeRequest | Error:
    """``zrangeGenericCommand``'s steps 1 and 2: options, conflicts, then the range."""
    name = args[0].upper()
    key_index, by, reverse = _RANGE_FORMS[name]
    store = name == b"ZRANGESTORE"
    with_scores = False
    offset, limit = 0, -1
    j = key_index + 3
    while j < len(args):
        option = errors.c_string(args[j]).lower()
        if not store and option == b"withscores":
            with_scores = True
        elif option == b"limit" and len(args) - j - 1 >= 2:
            parsed_offset, parsed_limit = parse_ll(args[j + 1]), parse_ll(args[j + 2])
            if parsed_offset is None or parsed_limit is None:
                return errors.NOT_INTEGER
            offset, limit = parsed_offset, parsed_limit
            j += 2
        elif reverse is None and option == b"rev":
            reverse = True
        elif by is None and option in (b"bylex", b"byscore"):
            by = option[2:].decode()
        else:
            return errors.SYNTAX
        j += 1
    reverse = bool(reverse)
    by = by or "rank"
    if limit != -1 and by == "rank":
        return LIMIT_NEEDS_RANGE
    if with_scores and by == "lex":
        return WITHSCORES_BYLEX
    low, high = args[key_index + 1], args[key_index + 2]
    if reverse and by != "rank":
        low, high = high, low
    if by == "rank":
        start, end = parse_ll(low), parse_ll(high)
        if start is None or end is None:
            return errors.NOT_INTEGER
        return _RangeRequest(key_index, by, reverse, with_scores, offset, limit, start, end, None)
    span = _score_range(low, high) if by == "score" else _lex_range(low, high)
    if isinstance(span, Error):
        return span
    return _RangeRequest(key_index, by, reverse, with_scores, offset, limit, 0, 0, span)


def _select(request: _RangeRequest, entries: list[Entry]) -> list[Entry]:
    """The entries a range request picks from ``entries`` (in Redis's order, unchanged)."""
    if request.span is None:
        n = len(entries)
        first, stop = index_span(n, request.start, request.end)
        return entries[n - stop : n - first][::-1] if request.reverse else entries[first:stop]
    return _walk(entries, request.span, request.reverse, request.offset, request.limit)


def _count_range(args: Sequence[bytes]) -> Range | Error:
    """The range of ZCOUNT/ZREMRANGEBYSCORE (scores) or ZLEXCOUNT/ZREMRANGEBYLEX (lex)."""
    parse = _lex_range if b"LEX" in args[0].upper() else _score_range
    return parse(args[2], args[3])


def _removal(args: Sequence[bytes]) -> Callable[[Scores], list[Entry]] | Error:
    """What ZREMRANGEBYRANK/BYSCORE/BYLEX remove from a sorted set; their bounds are
    checked before the key is looked up."""
    if args[0].upper() == b"ZREMRANGEBYRANK":
        start, end = parse_ll(args[2]), parse_ll(args[3])
        if start is None or end is None:
            return errors.NOT_INTEGER
        return lambda scores: [
            (member, score)
            for score, member in _by_score(scores)[slice(*index_span(len(scores), start, end))]
        ]
    span = _count_range(args)
    if isinstance(span, Error):
        return span
    return lambda scores: _walk(ordered(scores), span)


def _zpop_request(args: Sequence[bytes]) -> tuple[int | None, bool] | Error:
    """ZPOPMIN/ZPOPMAX's optional count (a third argument is a syntax error first), and
    whether members come from the top."""
    if len(args) > 3:
        return errors.SYNTAX
    count = pop_count(args)
    if isinstance(count, Error):
        return count
    return count, args[0].upper() == b"ZPOPMAX"


def _zrandmember_request(args: Sequence[bytes]) -> tuple[int | None, bool] | Error:
    """ZRANDMEMBER's count and WITHSCORES, checked as HRANDFIELD's count and WITHVALUES."""
    return random_pairs_request(args, b"withscores")


prepare_zadd = preparing(_zadd_request)
prepare_range = preparing(_range_request)
prepare_count_range = preparing(_count_range)
prepare_zremrange = preparing(_removal)
prepare_pop = preparing(_zpop_request)
prepare_zrandmember = preparing(_zrandmember_request)


# --- handlers ------------------------------------------------------------------


Outcome = tuple[Reply, bool]
"""A command's reply, and whether it changed the sorted set (which is then stored)."""


def _command(
    parse: Callable[[Sequence[bytes]], R | Error], run: Callable[[Scores, R, int], Outcome]
) -> Handler:
    """A command on the sorted set at ``args[1]``: what ``parse`` refuses first, WRONGTYPE
    next, then ``run`` on the contents (empty for a missing key: a sorted set never exists
    empty), the parsed request and the seed. A change is stored with the key's TTL; a
    sorted set left empty deletes the key."""

    def handler(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
        request = parse(args)
        if isinstance(request, Error):
            return request
        found = ZSETS.load(kv, args[1], now_ms)
        if isinstance(found, Error):
            return found
        old, scores = found
        reply, changed = run(scores, request, seed)
        if changed:
            ZSETS.store(kv, args[1], expire_of(old), scores)
        return reply

    return handler


def _zadd(scores: Scores, request: _Zadd, seed: int) -> Outcome:
    """ZADD and ZINCRBY (``zaddGenericCommand`` and ``zsetAdd``)."""
    if not scores and request.xx:
        return (None if request.incr else 0), False
    added = updated = processed = 0
    result = 0.0
    big = held_big(scores)
    for score, member in request.pairs:
        current = scores.get(member)
        if current is None:
            if request.xx:
                continue
            added += 1
            big = big or _outgrows(scores, member)
        else:
            if request.nx:
                continue
            if request.incr:
                score += current
                if math.isnan(score):
                    return NAN_SCORE, False
            if (request.lt and score >= current) or (request.gt and score <= current):
                continue
            if score != current:
                updated += 1
        if current is None or score != current:  # -0 for 0 changes nothing, as in Redis
            scores[member] = score if big else score + 0.0
        processed += 1
        result = score
    changed = bool(added or updated)
    if request.incr:
        return (result if processed else None), changed
    return (added + updated if request.ch else added), changed


def _zrem(scores: Scores, members: Sequence[bytes], seed: int) -> Outcome:
    removed = sum(1 for member in members if scores.pop(member, None) is not None)
    return removed, removed > 0


def _zremrange(scores: Scores, select: Callable[[Scores], list[Entry]], seed: int) -> Outcome:
    """ZREMRANGEBYRANK, ZREMRANGEBYSCORE, ZREMRANGEBYLEX: a missing key removes nothing."""
    removed = select(scores)
    for member, _ in removed:
        del scores[member]
    return len(removed), bool(removed)


def _pop_entries(scores: Scores, count: int, from_max: bool) -> list[Entry]:
    """Remove and return up to ``count`` members from the bottom (or top) of ``scores``.

    ``(score, member)`` pairs compare in Redis's order (members are distinct, scores
    never NaN), so one pop is ``min`` or ``max`` over them and several a sort of them,
    without building the set's order of entries: a ZPOPMIN on a set of 100,000 members
    costs 3.8 ms instead of 13."""
    if count <= 0 or not scores:
        return []
    if count == 1:
        pairs = zip(scores.values(), scores.keys(), strict=True)
        ends = [max(pairs) if from_max else min(pairs)]
    else:
        by_score = _by_score(scores)
        ends = by_score[: -count - 1 : -1] if from_max else by_score[:count]
    popped = [(member, score) for score, member in ends]
    for member, _ in popped:
        del scores[member]
    return popped


def _zpop(scores: Scores, request: tuple[int | None, bool], seed: int) -> Outcome:
    """ZPOPMIN and ZPOPMAX: an empty array for a missing key or a count of 0."""
    count, from_max = request
    popped = _pop_entries(scores, 1 if count is None else count, from_max)
    if count is None:  # one flat pair (or an empty array), in RESP3 as well
        return [part for entry in popped for part in entry], bool(popped)
    return _with_scores(popped), bool(popped)


cmd_zadd = _command(_zadd_request, _zadd)
cmd_zrem = _command(lambda args: args[2:], _zrem)
cmd_zremrange = _command(_removal, _zremrange)
cmd_zpop = _command(_zpop_request, _zpop)


def cmd_bzpop(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """BZPOPMIN and BZPOPMAX, one attempt (the timeout, last, plays no part here): ``[key,
    member, score]`` — one flat array, in RESP3 too — from the first key holding a sorted
    set, WRONGTYPE for a key of another type met before it, else the null array, which is
    also the reply when the wait times out (``Kind.pop_from_first``)."""
    from_max = args[0] == b"BZPOPMAX"

    def take(scores: Scores) -> list[Reply]:
        return list[Reply](_pop_entries(scores, 1, from_max)[0])

    return ZSETS.pop_from_first(kv, args[1:-1], now_ms, take)


def _rank(scores: Scores, member: bytes, reverse: bool) -> Reply:
    """ZRANK/ZREVRANK on shared contents (``Kind.reading``)."""
    if member not in scores:
        return None
    rank = _rank_shared(scores, member)
    return len(scores) - 1 - rank if reverse else rank


cmd_zcard = ZSETS.reading(lambda scores, args: len(scores))
cmd_zscore = ZSETS.reading(lambda scores, args: scores.get(args[2]))
cmd_zmscore = ZSETS.reading(lambda scores, args: [scores.get(member) for member in args[2:]])
cmd_zrank = ZSETS.reading(lambda scores, args: _rank(scores, args[2], reverse=False))
cmd_zrevrank = ZSETS.reading(lambda scores, args: _rank(scores, args[2], reverse=True))
cmd_zscan = ZSETS.scanning(
    lambda scores: ((member, format_double(score)) for member, score in ordered(scores))
)


def _reading_command(
    parse: Callable[[Sequence[bytes]], R | Error], answer: Callable[[Scores, R, int], Reply]
) -> Handler:
    """``_command`` for a command that changes nothing: ``answer`` gets the contents
    shared, uncopied (``Kind.decode_shared``), and must not change them."""

    def handler(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
        request = parse(args)
        if isinstance(request, Error):
            return request
        scores = ZSETS.load_shared(kv, args[1], now_ms)
        return scores if isinstance(scores, Error) else answer(scores, request, seed)

    return handler


cmd_zcount = _reading_command(
    _count_range, lambda scores, span, seed: len(_walk(ordered_shared(scores), span))
)
"""ZCOUNT and ZLEXCOUNT: the range is checked before the key is looked up."""
cmd_zrange = _reading_command(
    _range_request,
    lambda scores, request, seed: _members(
        _select(request, ordered_shared(scores)), request.with_scores
    ),
)
"""ZRANGE, ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX, ZREVRANGEBYLEX."""


def cmd_zrangestore(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """The selected members and scores replace the destination (any type, TTL dropped);
    an empty selection deletes it."""
    request = _range_request(args)
    if isinstance(request, Error):
        return request
    found = ZSETS.load(kv, args[request.key_index], now_ms)
    if isinstance(found, Error):
        return found
    entries = _select(request, ordered(found[1]))
    big = request.by == "rank" and len(entries) > ZSET_LISTPACK_ENTRIES
    selected = _added_in_order(entries, big)
    ZSETS.store(kv, args[1], 0, selected)
    return len(selected)


def _zrandmember(scores: Scores, request: tuple[int | None, bool], seed: int) -> Reply:
    """Picks from the members in Redis's order, which a count covering them all returns."""
    return random_pairs_reply(ordered_shared(scores), request, seed)


cmd_zrandmember = _reading_command(_zrandmember_request, _zrandmember)


# --- several sorted sets: ZUNION, ZINTER, ZDIFF, their STORE forms, ZINTERCARD, ZMPOP ----


Aggregate = Callable[[float, float], float]


def _aggregate_sum(total: float, value: float) -> float:
    """SUM: inf + -inf is NaN, which Redis turns into 0."""
    total += value
    return 0.0 if math.isnan(total) else total


_AGGREGATES: dict[bytes, Aggregate] = {
    b"sum": _aggregate_sum,
    b"min": lambda total, value: value if value < total else total,
    b"max": lambda total, value: value if value > total else total,
}
"""``zunionInterAggregate``: a NaN ``value`` (a weight of 0 times an infinite score)
never wins MIN or MAX, and makes a SUM 0."""

_ALGEBRA: dict[bytes, tuple[int, str]] = {
    b"ZUNION": (1, "union"),
    b"ZINTER": (1, "inter"),
    b"ZDIFF": (1, "diff"),
    b"ZUNIONSTORE": (2, "union"),
    b"ZINTERSTORE": (2, "inter"),
    b"ZDIFFSTORE": (2, "diff"),
    b"ZINTERCARD": (1, "card"),
}
"""Name → (index of ``numkeys``, operation): what ``zunionInterDiffGenericCommand`` is
called with. A destination, when there is one, is argument 1."""


@dataclass(frozen=True, slots=True)
class _Algebra:
    """One request of the ZUNION family: its inputs and options."""

    keys: Sequence[bytes]
    operation: str  # "union", "inter", "diff" or "card" (ZINTERCARD)
    store: bool
    options: Sequence[bytes]
    weights: list[float]
    aggregate: Aggregate
    with_scores: bool
    limit: int


def _algebra_keys(args: Sequence[bytes]) -> _Algebra | Error:
    """The checks made before any key is looked up: ``numkeys`` is an integer of at least
    1 and no more than the arguments after it. Options come later (``_algebra_options``):
    Redis looks at every input key — WRONGTYPE — before it reads them."""
    name = args[0].upper()
    at, operation = _ALGEBRA[name]
    numkeys = parse_ll(args[at])
    if numkeys is None:
        return errors.NOT_INTEGER
    if numkeys < 1:
        command = errors.text(name.lower())
        return Error(f"ERR at least 1 input key is needed for '{command}' command")
    if numkeys > len(args) - at - 1:
        return errors.SYNTAX
    keys, options = args[at + 1 : at + 1 + numkeys], args[at + 1 + numkeys :]
    weights = [1.0] * numkeys
    return _Algebra(keys, operation, at == 2, options, weights, _aggregate_sum, False, 0)


def _algebra_options(request: _Algebra) -> _Algebra | Error:
    """WEIGHTS, AGGREGATE, WITHSCORES and LIMIT where each applies, in Redis's loop: an
    option that is misspelt, misplaced or short of arguments is a syntax error, a later
    WEIGHTS or AGGREGATE wins over an earlier one."""
    options, numkeys = request.options, len(request.keys)
    combines = request.operation in ("union", "inter")
    weights, aggregate, with_scores, limit = list(request.weights), request.aggregate, False, 0
    j = 0
    while j < len(options):
        remaining = len(options) - j
        option = errors.c_string(options[j]).lower()
        if combines and option == b"weights" and remaining > numkeys:
            for i in range(numkeys):
                weight = parse_score(options[j + 1 + i])
                if weight is None:
                    return WEIGHT_NOT_FLOAT
                weights[i] = weight
            j += 1 + numkeys
        elif combines and option == b"aggregate" and remaining >= 2:
            chosen = _AGGREGATES.get(errors.c_string(options[j + 1]).lower())
            if chosen is None:
                return errors.SYNTAX
            aggregate = chosen
            j += 2
        elif option == b"withscores" and not request.store and request.operation != "card":
            with_scores = True
            j += 1
        elif option == b"limit" and request.operation == "card" and remaining >= 2:
            parsed = parse_ll(options[j + 1])
            if parsed is None or parsed < 0:
                return errors.LIMIT_NEGATIVE
            limit = parsed
            j += 2
        else:
            return errors.SYNTAX
    return _Algebra(
        request.keys, request.operation, request.store, options, weights, aggregate,
        with_scores, limit,
    )  # fmt: skip


prepare_algebra = preparing(_algebra_keys)


def _sources(kv: KeyValueView, keys: Sequence[bytes], now_ms: int) -> list[Scores] | Error:
    """The members and scores of each input in turn: a missing key is empty, a set counts
    each member with score 1; any other type is WRONGTYPE."""
    out: list[Scores] = []
    for key in keys:
        value = live(kv, key, now_ms)
        if value is None:
            out.append({})
        elif value.type == ZSET:
            out.append(decode_zset(value.payload))
        elif value.type == SET:
            out.append(dict.fromkeys(decode_set(value.payload), 1.0))
        else:
            return errors.WRONGTYPE
    return out


def _weighted(score: float, weight: float) -> float:
    """A member's first score in a union or intersection: NaN (0 times infinity) is 0."""
    value = weight * score
    return 0.0 if math.isnan(value) else value


def _combine(request: _Algebra, sources: list[Scores]) -> Scores:
    """The members and scores a union, intersection or difference yields.

    Union and intersection visit the inputs from the smallest to the largest (a stable
    sort, like glibc's ``qsort``), as Redis does: the order in which floating-point
    scores are added changes the last bits of a sum. A difference keeps the first input's
    members that are in no other input, with their scores, weights ignored."""
    if request.operation == "diff":
        rest = sources[1:]
        return {m: score for m, score in sources[0].items() if not any(m in o for o in rest)}
    inputs = sorted(zip(sources, request.weights, strict=True), key=lambda pair: len(pair[0]))
    aggregate = request.aggregate
    if request.operation == "union":
        union: Scores = {}
        for scores, weight in inputs:
            for member, score in scores.items():
                value = _weighted(score, weight)
                union[member] = aggregate(union[member], value) if member in union else value
        return union
    (smallest, first_weight), others = inputs[0], inputs[1:]
    intersection: Scores = {}
    for member, score in smallest.items():
        total = _weighted(score, first_weight)
        for scores, weight in others:
            if member not in scores:
                break
            total = aggregate(total, scores[member] * weight)
        else:
            intersection[member] = total
    return intersection


def cmd_algebra(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD, in Redis's order: the key
    count, WRONGTYPE from any input, then the options. A STORE form replaces the
    destination (any type, TTL dropped) and deletes it when the result is empty."""
    request = _algebra_keys(args)
    if isinstance(request, Error):
        return request
    sources = _sources(kv, request.keys, now_ms)
    if isinstance(sources, Error):
        return sources
    request = _algebra_options(request)
    if isinstance(request, Error):
        return request
    result = _combine(request, sources)
    if request.operation == "card":
        return len(result) if request.limit == 0 else min(len(result), request.limit)
    if request.store:
        ZSETS.store(kv, args[1], 0, kept_scores(result))
        return len(result)
    return _members(ordered(result), request.with_scores)


_ZMPOP_SIDES = (b"min", b"max")
prepare_zmpop = preparing(lambda args: mpop_request(args, _ZMPOP_SIDES))
prepare_bzmpop = prepare_blocking_mpop(_ZMPOP_SIDES)


def cmd_zmpop(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """ZMPOP, and one attempt of BZMPOP (its timeout plays no part here): ``[key,
    [[member, score], ...]]`` from the first key holding a sorted set — nested in RESP2
    too — or the null array (``Kind.pop_from_first``)."""
    request = mpop_request(args, _ZMPOP_SIDES)
    if isinstance(request, Error):
        return request
    keys, from_max, count = request

    def take(scores: Scores) -> list[Reply]:
        return [[[member, score] for member, score in _pop_entries(scores, count, bool(from_max))]]

    return ZSETS.pop_from_first(kv, keys, now_ms, take)

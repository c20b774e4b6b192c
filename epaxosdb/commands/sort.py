"""SORT and SORT_RO (Redis's sort.c): a list, set or sorted set sorted, paged, projected.

``SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]
[STORE destination]``; SORT_RO is the same without STORE. What follows is Redis
7.0.15's behaviour, reproduced step by step because clients see every detail of it:

* Options are read left to right, case-insensitively (as C strings: what follows a NUL
  byte is ignored); the first one that is unknown, short of arguments or a LIMIT that is
  not an integer ends the command with its error, before the key is looked up. A later
  BY, LIMIT or STORE replaces an earlier one; GETs add up.
* Then the key: missing is an empty list, another type than list, set and sorted set is
  WRONGTYPE.
* ``BY`` a pattern without ``*`` (``nosort``) does not sort, and once one BY said so no
  later BY undoes it: a list keeps its order, a sorted set its score order (both
  reversed by DESC), a set lists as SMEMBERS does (``sets.in_order``; Redis: its hash
  table's order) and ignores DESC — except that with STORE, or inside a script, Redis
  sorts a set ALPHA anyway so that what it replicates is deterministic, and so do we.
* Otherwise elements are compared by their own value or by what the BY pattern finds
  for them: numerically by default, every value read with ``strtod`` whole (``""`` is 0,
  a missing BY key is 0; text after the number, NaN, overflow and a result too small to
  be a normal double are "ERR One or more scores can't be converted into double"), equal
  numbers by the elements' bytes — a total order, so the result never depends on the
  sorting algorithm. With ALPHA, by bytes as ``strcoll`` compares them under the C
  locale (``strcmp``: up to the first NUL byte; with STORE, Redis compares whole byte
  strings instead), a missing BY value first.
* ALPHA comparisons can tie (equal BY values, missing ones, elements equal up to a NUL):
  then the order comes from the algorithm. Redis uses glibc's ``qsort``, a stable merge
  sort (Python's sort gives the same list), except with a BY pattern and a LIMIT that
  cuts the list, where it uses its own ``pqsort``, a partial quicksort ported here
  (``pqsort``). The elements go in in the order the key lists them: a
  list's, a set's as above, a sorted set's by score (Redis: its hash table's, so ties of
  a sorted set's or a large set's elements may come out in another order than Redis's).
* Not reproduced: Redis 7.0.15 does not clear ``errno`` before its ``strtod``, so once
  anything has left ``ERANGE`` there (a SORT of ``1e-400``), its numeric SORTs fail
  whatever they read, until some system call of the server changes ``errno`` (a new
  connection does); here each SORT is judged on what it reads.
* LIMIT ``offset count``: a negative offset is 0, a negative count means all.
* ``GET`` patterns project each element: ``#`` is the element itself, ``*`` in a
  pattern is replaced by the element (its first ``*``) to name a string key, or with
  ``->field`` after it a hash key and its field; anything missing, of another type, or a
  pattern without ``*``, is nil. Without GET the elements are returned.
* STORE writes the result as a list (nil GETs as empty strings), replacing any value
  and its TTL, deletes the destination when the result is empty, and answers the length.

Patterns read keys the command does not name, whose names only the stored elements
give: EPaxos orders commands by the keys they touch, so a SORT with a BY pattern that
sorts or a GET pattern with ``*`` reads the whole keyspace (``reads_unnamed_keys``,
which ``access`` asks through the key spec Redis marks "unknown" for BY and GET), and a
script, which may touch only the keys it declares, is refused such a SORT. The keys
themselves are read with plain ``get``, which a replica's buffered execution serves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from protocol.replies import Error, Reply
from storage.interface import KeyValueView, ValueType

from . import errors
from .containers import expire_of
from .hashes import HASHES
from .integers import parse_ll
from .list_contents import ListContents
from .lists import LISTS
from .pqsort import Compare, partial_quicksort
from .sets import SETS, in_order
from .values import live
from .zsets import C_SPACE, ZSETS, ordered_shared, strtod

NOT_DOUBLE = Error("ERR One or more scores can't be converted into double")



@dataclass(slots=True)
class _Request:
    """SORT's options as ``sortCommandGeneric`` leaves them after reading its arguments."""

    desc: bool = False
    alpha: bool = False
    offset: int = 0
    count: int = -1
    by: bytes | None = None
    dontsort: bool = False
    gets: list[bytes] = field(default_factory=list)
    store: bytes | None = None
    store_at: int = 0
    """The argument index of the destination (0: no STORE)."""


def _read(args: Sequence[bytes]) -> tuple[_Request, Error | None]:
    """The options of ``args`` (a SORT or SORT_RO call) and the error Redis answers for
    them, if any: the first option that is unknown, lacks its arguments, or is a LIMIT
    that is not two integers (STORE is unknown to SORT_RO). The reading goes on after an
    error, each unknown argument skipped, so that the keys a refused call names can
    still be told (``store_positions``), as Redis's own key finder does."""
    request = _Request()
    error: Error | None = None
    read_only = args[0].upper() == b"SORT_RO"
    argc = len(args)
    j = 2
    while j < argc:
        more = argc - j - 1
        option = errors.c_string(args[j]).lower()
        if option == b"asc":
            request.desc = False
        elif option == b"desc":
            request.desc = True
        elif option == b"alpha":
            request.alpha = True
        elif option == b"limit" and more >= 2:
            offset, count = parse_ll(args[j + 1]), parse_ll(args[j + 2])
            if offset is None or count is None:
                error = error or errors.NOT_INTEGER
            else:
                request.offset, request.count = offset, count
            j += 2
        elif option == b"store" and more >= 1 and not read_only:
            request.store, request.store_at = args[j + 1], j + 1
            j += 1
        elif option == b"by" and more >= 1:
            request.by = args[j + 1]
            if b"*" not in errors.c_string(request.by):
                request.dontsort = True
            j += 1
        elif option == b"get" and more >= 1:
            request.gets.append(args[j + 1])
            j += 1
        else:
            error = error or errors.SYNTAX
        j += 1
    return request, error


def _parse(args: Sequence[bytes]) -> _Request | Error:
    request, error = _read(args)
    return request if error is None else error


def prepare_sort(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    """Option errors come before the key is looked up: refused before proposal."""
    error = _read(args)[1]
    return error if error is not None else (args[0].upper(), *args[1:])


def store_positions(args: Sequence[bytes]) -> range:
    """SORT's STORE destination among ``args`` (its key spec's finder): the last STORE's,
    where SORT itself reads it."""
    at = _read(args)[0].store_at
    return range(at, at + 1) if at else range(0)


def no_positions(args: Sequence[bytes]) -> range:
    """The BY and GET key spec's finder: the keys patterns make are no arguments."""
    return range(0)


def _reads_by_pattern(pattern: bytes) -> bool:
    """Whether ``lookupKeyByPattern`` can read a key for ``pattern`` (``#`` and patterns
    without ``*`` read nothing)."""
    return b"*" in errors.c_string(pattern)


def reads_unnamed_keys(args: Sequence[bytes]) -> bool:
    """Whether this call (a valid one: a refused call reads nothing) may read keys it
    does not name: a BY pattern that sorts, or a GET pattern with ``*``. A nosort BY
    turns every BY off, so then only GETs count."""
    request, error = _read(args)
    if error is not None:
        return False
    by_reads = request.by is not None and not request.dontsort
    return by_reads or any(map(_reads_by_pattern, request.gets))


# --- what patterns find ------------------------------------------------------------------


def _lookup(kv: KeyValueView, pattern: bytes, element: bytes, now_ms: int) -> bytes | None:
    """``lookupKeyByPattern``: ``#`` is the element; the first ``*`` (of the pattern as a C
    string) takes the element's place in a key name; ``->field`` after it, when the field
    is not empty, reads that field of a hash, else the key is read as a string. Anything
    missing or of another type is ``None``."""
    text = errors.c_string(pattern)
    if text == b"#":
        return element
    star = text.find(b"*")
    if star < 0:
        return None
    arrow = text.find(b"->", star + 1)
    if arrow >= 0 and arrow + 2 < len(text):
        key = pattern[:star] + element + pattern[star + 1 : arrow]
        fields = HASHES.load_shared(kv, key, now_ms)
        return None if isinstance(fields, Error) else fields.get(pattern[arrow + 2 :])
    value = live(kv, pattern[:star] + element + pattern[star + 1 :], now_ms)
    if value is None or value.type != ValueType.STRING:
        return None
    return value.payload


# --- numbers -------------------------------------------------------------------------------


def _score(raw: bytes) -> float | None:
    """What SORT's ``strtod`` check makes of ``raw``: the number, or ``None`` when it is not
    all one number, is NaN, or ``strtod`` sets ``ERANGE`` (``zsets.strtod``). The empty
    string (and anything from a NUL byte on) is ``strtod``'s 0."""
    text = errors.c_string(raw)
    if not text:
        return 0.0
    parsed = strtod(text.lstrip(C_SPACE))
    return None if parsed is None or parsed[1] else parsed[0]


# --- ordering ------------------------------------------------------------------------------


Entry = tuple[bytes, bytes | None]
"""An element and what ALPHA compares it by (``None``: its BY key is missing)."""


def _alpha_compare(descending: bool) -> Compare[Entry]:
    """``sortCompare`` for ALPHA with BY: a missing value sorts first; DESC negates."""

    def compare(x: Entry, y: Entry) -> int:
        a, b = x[1], y[1]
        if a is None or b is None:
            result = 0 if a is b else (-1 if a is None else 1)
        else:
            result = (a > b) - (a < b)
        return -result if descending else result

    return compare


def _alpha_key(entry: Entry) -> tuple[bool, bytes]:
    """``_alpha_compare``'s order as a sort key (missing values first)."""
    return entry[1] is not None, entry[1] or b""


def _sorted(
    kv: KeyValueView,
    request: _Request,
    elements: list[bytes],
    span: tuple[int, int],
    now_ms: int,
) -> list[bytes] | Error:
    """The elements in SORT's order (only ``span``'s, ``start .. end``, need be right),
    or the conversion error."""
    by = request.by
    storing = request.store is not None
    if not request.alpha:
        scores: list[float] = []
        for element in elements:
            value = element if by is None else _lookup(kv, by, element, now_ms)
            score = 0.0 if value is None else _score(value)
            if score is None:
                return NOT_DOUBLE
            scores.append(score)
        pairs = sorted(zip(scores, elements, strict=True), reverse=request.desc)
        return [element for _, element in pairs]
    collate: Callable[[bytes], bytes] = (lambda raw: raw) if storing else errors.c_string
    if by is None:
        return sorted(elements, key=collate, reverse=request.desc)
    entries: list[Entry] = []
    for element in elements:
        value = _lookup(kv, by, element, now_ms)
        entries.append((element, None if value is None else collate(value)))
    start, end = span
    if start != 0 or end != len(entries) - 1:
        if end >= start:
            partial_quicksort(entries, _alpha_compare(request.desc), start, end)
    else:
        entries.sort(key=_alpha_key, reverse=request.desc)
    return [element for element, _ in entries]


# --- the commands --------------------------------------------------------------------------


def _contents(kv: KeyValueView, key: bytes, now_ms: int) -> tuple[ValueType, list[bytes]] | Error:
    """The elements of the list, set or sorted set at ``key`` in the order SORT finds them
    (an empty list for a missing key), or WRONGTYPE."""
    value = live(kv, key, now_ms)
    if value is None:
        return ValueType.LIST, []
    if value.type == ValueType.LIST:
        return ValueType.LIST, LISTS.decode_shared(value.payload).elements()
    if value.type == ValueType.SET:
        return ValueType.SET, in_order(SETS.decode_shared(value.payload))
    if value.type == ValueType.ZSET:
        scores = ZSETS.decode_shared(value.payload)
        return ValueType.ZSET, [member for member, _ in ordered_shared(scores)]
    return errors.WRONGTYPE


def _span(length: int, offset: int, count: int) -> tuple[int, int]:
    """LIMIT's ``start .. end`` (inclusive; empty when ``end < start``), clamped as Redis
    clamps them."""
    start = min(max(offset, 0), length)
    count = min(max(count, -1), length)
    end = length - 1 if count < 0 else start + count - 1
    if start >= length:
        start, end = length - 1, length - 2
    return start, min(end, length - 1)


def _sort(kv: KeyValueView, op: tuple[bytes, ...], now_ms: int, scripted: bool) -> Reply:
    request = _parse(op)
    if isinstance(request, Error):
        return request
    found = _contents(kv, op[1], now_ms)
    if isinstance(found, Error):
        return found
    value_type, elements = found
    if request.dontsort and value_type == ValueType.SET and (request.store is not None or scripted):
        request.dontsort, request.alpha, request.by = False, True, None
    start, end = _span(len(elements), request.offset, request.count)
    if not request.dontsort:
        ordered = _sorted(kv, request, elements, (start, end), now_ms)
        if isinstance(ordered, Error):
            return ordered
    elif request.desc and value_type != ValueType.SET:
        ordered = elements[::-1]
    else:
        ordered = elements
    chosen = ordered[start : end + 1] if end >= start else []
    gets = request.gets
    if request.store is None:
        if not gets:
            return list(chosen)
        return [_lookup(kv, pattern, element, now_ms) for element in chosen for pattern in gets]
    if not gets:
        items = list(chosen)
    else:
        items = [
            _lookup(kv, pattern, element, now_ms) or b"" for element in chosen for pattern in gets
        ]
    LISTS.store(kv, request.store, expire_of(None), ListContents.of(items))
    return len(items)


def cmd_sort(kv: KeyValueView, op: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """SORT and SORT_RO, as a client calls them."""
    return _sort(kv, op, now_ms, scripted=False)


def cmd_sort_scripted(kv: KeyValueView, op: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """SORT and SORT_RO as a script calls them: a set that BY nosort leaves unsorted is
    sorted ALPHA, as Redis does for calls from scripts (``CLIENT_SCRIPT``)."""
    return _sort(kv, op, now_ms, scripted=True)

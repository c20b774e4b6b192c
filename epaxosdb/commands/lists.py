"""List commands (Redis's t_list.c): LPUSH, LRANGE, LPOS, LMOVE, BLPOP...

A list is one stored value of type LIST whose payload is its elements, head
first, in the form of ``packed_list``. A command changes it as
``ListContents``, which leaves the stored records it does not touch where
they are: a push or a pop at either end, LSET near an end, LTRIM cost what
the elements they name do, and writing the list back costs one copy of its
bytes. In a ``Workspace`` the contents stay as they are from command to
command, and the consensus loop carries them from step to step, so a busy
queue is written back once per flush of the deferred writes, not once per
push (see ``workspace``). LLEN, LINDEX, LRANGE and LPOS read the stored value
in place; LPOS, LINSERT and LREM with a count read from one end up to what
they look for, and LREM 0 reads every element (they are O(N) in Redis too).

The blocking pops (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) execute here
as what Redis runs inside MULTI: pop if a list has an element, else answer
the timeout reply (null) and change nothing. The waiting happens at the
client's replica, between such attempts (``epaxosdb.runtime.blocking``);
the log only ever holds attempts, so a pop is decided by the same
deterministic execution on every replica. Their timeout, and what a blocked
client waits for, are shared with the sorted sets' (``blocking``).

Checks follow Redis 7.0's order, which differs between commands: LRANGE,
LTRIM, LREM and LPOS parse their numbers before the key is looked up;
LINDEX and LSET look the key up first (so ``LSET nokey abc x`` is ``no such
key``, not a bad index). A list never exists empty.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from itertools import islice
from typing import TypeVar

from protocol.replies import NULL_ARRAY, OK, Error, NullArray, Reply
from storage.interface import KeyValueView, ValueType

from . import errors
from .blocking import prepare_blocking, prepare_blocking_mpop
from .containers import Kind, expire_of, mpop_request
from .integers import LLONG_MIN, index_span, parse_ll, pop_count
from .list_contents import ListContents
from .values import read_live

LIST = ValueType.LIST
INDEX_OUT_OF_RANGE = Error("ERR index out of range")
RANK_ZERO = Error(
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
    "or use negative to start from the end of the list"
)
COUNT_NEGATIVE = Error("ERR COUNT can't be negative")
MAXLEN_NEGATIVE = Error("ERR MAXLEN can't be negative")

_SIDES = {b"LEFT": 0, b"RIGHT": -1}

R = TypeVar("R")


class _ListKind(Kind[ListContents]):
    """Lists as ``ListContents``. Reading one is not a decode (it parses a header), so
    nothing is remembered: a lookup among remembered payloads would cost more."""

    def __init__(self) -> None:
        super().__init__(LIST, "list", ListContents.of, ListContents.elements, ListContents.copy)

    def encode(self, contents: ListContents) -> bytes:
        return contents.encode()

    def _decode(self, payload: bytes) -> ListContents:
        return ListContents.over(payload)

    def _remember(self, payload: bytes, contents: ListContents) -> None:
        pass  # nothing to save: see the class docstring

    def _remembered(self, payload: bytes) -> ListContents | None:
        return None

    def size_of(self, contents: ListContents) -> int:
        return contents.size_hint()


LISTS = _ListKind()


def encode_list(elements: Sequence[bytes]) -> bytes:
    """The payload of a list of these elements (head first)."""
    return LISTS.encode(ListContents.of(elements))


def decode_list(payload: bytes) -> list[bytes]:
    """Every element of a stored list, head first; ``StorageError`` if any is damaged."""
    return LISTS.decode(payload).elements()


def _side(raw: bytes) -> int | None:
    """LEFT → 0 (the head), RIGHT → -1 (the tail), any case; ``None`` otherwise."""
    return _SIDES.get(raw.upper())


# --- prepare -------------------------------------------------------------------


def prepare_pop(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    """LPOP/RPOP: a second argument is a count, a third is an arity error."""
    if len(args) > 3:
        return errors.wrong_arity(args[0].lower())
    count = pop_count(args)
    if isinstance(count, Error):
        return count
    return (args[0].upper(), *args[1:])


def prepare_range(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    """LRANGE, LTRIM and LREM parse their integers before they look the key up."""
    name = args[0].upper()
    numbers = (args[2],) if name == b"LREM" else (args[2], args[3])
    if any(parse_ll(n) is None for n in numbers):
        return errors.NOT_INTEGER
    return (name, *args[1:])


def prepare_linsert(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    if args[2].upper() not in (b"BEFORE", b"AFTER"):
        return errors.SYNTAX
    return (b"LINSERT", *args[1:])


def prepare_lmove(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    """LMOVE and BLMOVE: the sides, then (BLMOVE) the timeout, as Redis checks them."""
    if _side(args[3]) is None or _side(args[4]) is None:
        return errors.SYNTAX
    return prepare_blocking(args, now_ms) if len(args) == 6 else (b"LMOVE", *args[1:])


def _lpos_options(args: Sequence[bytes]) -> tuple[int, int, int] | Error:
    """``(rank, count, maxlen)`` from LPOS's options (count -1: not given)."""
    rank, count, maxlen = 1, -1, 0
    i = 3
    while i < len(args):
        option = args[i].upper()
        if i + 1 >= len(args) or option not in (b"RANK", b"COUNT", b"MAXLEN"):
            return errors.SYNTAX
        value = parse_ll(args[i + 1])
        if option == b"RANK":
            if value is None:
                return errors.NOT_INTEGER
            if value == 0:
                return RANK_ZERO
            rank = value
        elif value is None or value < 0:
            return COUNT_NEGATIVE if option == b"COUNT" else MAXLEN_NEGATIVE
        elif option == b"COUNT":
            count = value
        else:
            maxlen = value
        i += 2
    return rank, count, maxlen


def prepare_lpos(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    options = _lpos_options(args)
    if isinstance(options, Error):
        return options
    return (b"LPOS", *args[1:])


# --- handlers ------------------------------------------------------------------


def cmd_push(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """LPUSH, RPUSH, LPUSHX, RPUSHX: the new length (0 for an X form on a missing key)."""
    name, key = args[0], args[1]
    found = LISTS.load(kv, key, now_ms)
    if isinstance(found, Error):
        return found
    old, elements = found
    if old is None and name.endswith(b"X"):
        return 0
    head = name.startswith(b"L")
    elements.push(args[:1:-1] if head else args[2:], head)  # LPUSH a b c leaves c at the head
    LISTS.store(kv, key, expire_of(old), elements)
    return len(elements)


def cmd_pop(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """LPOP and RPOP, with or without a count."""
    count = pop_count(args)
    if isinstance(count, Error):
        return count
    key = args[1]
    found = LISTS.load(kv, key, now_ms)
    if isinstance(found, Error):
        return found
    old, elements = found
    if old is None:
        return None if count is None else NullArray()
    if count == 0:
        return []
    popped = elements.pop(1 if count is None else count, args[0] == b"RPOP")
    LISTS.store(kv, key, old.expire_ms, elements)
    return popped[0] if count is None else list[Reply](popped)


def cmd_blocking_pop(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """BLPOP and BRPOP, one attempt: ``[key, element]`` from the first key (in argument
    order) holding a list, WRONGTYPE for a key of another type met before it, else the
    null array, which is also the reply when the wait times out."""
    found = _pop_from_first(kv, args[1:-1], now_ms, 1, args[0] == b"BRPOP")
    return found if isinstance(found, (Error, NullArray)) else [found[0], found[1][0]]


def _pop_from_first(
    kv: KeyValueView, keys: Sequence[bytes], now_ms: int, count: int, tail: bool
) -> tuple[bytes, list[bytes]] | Error | NullArray:
    """Up to ``count`` elements popped from the first of ``keys`` holding a list, with
    that key; a key of another type met before it is WRONGTYPE, keys after it are not
    looked at; no list at all is the null array (``Kind.pop_from_first``'s rule)."""
    for key in keys:
        found = LISTS.load(kv, key, now_ms)
        if isinstance(found, Error):
            return found
        old, elements = found
        if old is None:
            continue
        popped = elements.pop(count, tail)
        LISTS.store(kv, key, old.expire_ms, elements)
        return key, popped
    return NULL_ARRAY


# LLEN, LINDEX, LRANGE and LPOS read the list where it is stored (``read_live``): they
# cost what the elements they read do, not a copy of the whole list; one a workspace
# holds or carries they read as it is held.


def _read(
    kv: KeyValueView,
    key: bytes,
    now_ms: int,
    reader: Callable[[ListContents], R],
    absent: R,
) -> R | Error:
    """``reader`` of the live list at ``key``; ``absent`` when there is none, WRONGTYPE
    for another type."""
    held = LISTS.held_shared(kv, key, now_ms)
    if held is None:
        return read_live(kv, key, now_ms, LIST, lambda p: reader(ListContents.over(p)), absent)
    if isinstance(held, Error):
        return held
    return reader(held) if held else absent  # empty: it expired (no list exists empty)


def cmd_llen(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    return _read(kv, args[1], now_ms, len, 0)


def cmd_lindex(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    return _read(kv, args[1], now_ms, partial(_element, parse_ll(args[2])), None)


def _element(index: int | None, elements: ListContents) -> Reply:
    """LINDEX: the index is judged only once the key is known to hold a list, as in Redis."""
    if index is None:
        return errors.NOT_INTEGER
    length = len(elements)
    if index < 0:
        index += length
    return elements.items(index, index + 1)[0] if 0 <= index < length else None


def cmd_lset(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    key = args[1]
    found = LISTS.load(kv, key, now_ms)
    if isinstance(found, Error):
        return found
    old, elements = found
    if old is None:
        return errors.NO_SUCH_KEY
    index = parse_ll(args[2])
    if index is None:
        return errors.NOT_INTEGER
    length = len(elements)
    if index < 0:
        index += length
    if not 0 <= index < length:
        return INDEX_OUT_OF_RANGE
    elements.set(index, args[3])
    LISTS.store(kv, key, old.expire_ms, elements)
    return OK


def cmd_lrange(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    start, end = parse_ll(args[2]), parse_ll(args[3])
    if start is None or end is None:
        return errors.NOT_INTEGER
    return _read(kv, args[1], now_ms, partial(_elements, start, end), [])


def _elements(start: int, end: int, elements: ListContents) -> list[Reply]:
    return list[Reply](elements.items(*index_span(len(elements), start, end)))


def cmd_ltrim(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    start, end = parse_ll(args[2]), parse_ll(args[3])
    if start is None or end is None:
        return errors.NOT_INTEGER
    key = args[1]
    found = LISTS.load(kv, key, now_ms)
    if isinstance(found, Error):
        return found
    old, elements = found
    if old is not None:
        length = len(elements)
        first, stop = index_span(length, start, end)
        if (first, stop) != (0, length):
            elements.keep(first, stop)
            LISTS.store(kv, key, old.expire_ms, elements)
    return OK


def cmd_lrem(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """Remove up to ``count`` matches from the head (negative: from the tail; 0: all).
    With a count, the list is read from that end as far as the last match removed."""
    count = parse_ll(args[2])
    if count is None:
        return errors.NOT_INTEGER
    key, element = args[1], args[3]
    found = LISTS.load(kv, key, now_ms)
    if isinstance(found, Error):
        return found
    old, elements = found
    if old is None:
        return 0
    if count == 0:
        every = elements.elements()
        kept = ListContents.of(e for e in every if e != element)
        removed = len(every) - len(kept)
        if removed:
            LISTS.store(kv, key, old.expire_ms, kept)
        return removed
    last = len(elements) - 1
    walk = enumerate(elements.walk(from_tail=count < 0))
    matches = (i if count > 0 else last - i for i, e in walk if e == element)
    doomed = list(islice(matches, abs(count)))
    for index in sorted(doomed, reverse=True):  # from the tail, so the others stay put
        elements.remove(index)
    if doomed:
        LISTS.store(kv, key, old.expire_ms, elements)
    return len(doomed)


def cmd_linsert(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """Add an element before or after the first match of the pivot, searched from the
    head (reading no further than it)."""
    where = args[2].upper()
    if where not in (b"BEFORE", b"AFTER"):
        return errors.SYNTAX
    key, pivot, element = args[1], args[3], args[4]
    found = LISTS.load(kv, key, now_ms)
    if isinstance(found, Error):
        return found
    old, elements = found
    if old is None:
        return 0
    at = next((i for i, e in enumerate(elements.walk(from_tail=False)) if e == pivot), None)
    if at is None:
        return -1
    elements.insert(at + (where == b"AFTER"), element)
    LISTS.store(kv, key, expire_of(old), elements)
    return len(elements)


def cmd_lpos(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    options = _lpos_options(args)
    if isinstance(options, Error):
        return options
    rank, count, maxlen = options
    search = partial(_positions, args[2], rank, count, maxlen)
    return _read(kv, args[1], now_ms, search, [] if count != -1 else None)


def _positions(
    element: bytes, rank: int, count: int, maxlen: int, elements: ListContents
) -> Reply:
    """LPOS: where matches are, walking from the end RANK says and stopping at MAXLEN
    elements or once COUNT matches are found (``count`` -1: no COUNT, one match)."""
    if rank == LLONG_MIN:  # Redis negates it and overflows: from the tail, and with
        rank, count = -1, (count if count == -1 else 0)  # COUNT, every match
    last = len(elements) - 1
    walk = elements.walk(from_tail=rank < 0)
    skip = abs(rank) - 1
    matches: list[Reply] = []
    for scanned, candidate in enumerate(islice(walk, maxlen) if maxlen else walk):
        if candidate != element:
            continue
        if skip:
            skip -= 1
            continue
        matches.append(last - scanned if rank < 0 else scanned)
        if count == -1 or (count and len(matches) >= count):
            break
    if count == -1:
        return matches[0] if matches else None
    return matches


def cmd_lmove(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """LMOVE and RPOPLPUSH (RIGHT then LEFT), and one attempt of BLMOVE and BRPOPLPUSH
    (their timeout, last, plays no part here). The destination's type is checked only
    once the source turned out to hold an element, as Redis does."""
    if args[0] in (b"RPOPLPUSH", b"BRPOPLPUSH"):
        source, destination, wherefrom, whereto = args[1], args[2], -1, 0
    else:
        source, destination = args[1], args[2]
        side_from, side_to = _side(args[3]), _side(args[4])
        if side_from is None or side_to is None:
            return errors.SYNTAX
        wherefrom, whereto = side_from, side_to
    found = LISTS.load(kv, source, now_ms)
    if isinstance(found, Error):
        return found
    old, src = found
    if old is None:
        return None
    # A rotation (the same key) keeps the list and its TTL: it never goes empty.
    target = found if destination == source else LISTS.load(kv, destination, now_ms)
    if isinstance(target, Error):
        return target
    popped = src.pop(1, wherefrom == -1)
    target_old, dst = target
    if dst is not src:
        LISTS.store(kv, source, old.expire_ms, src)
    dst.push(popped, whereto == 0)
    LISTS.store(kv, destination, expire_of(target_old), dst)
    return popped[0]


_LMPOP_SIDES = (b"left", b"right")


def prepare_lmpop(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    """LMPOP's count of keys, side and COUNT are all checked before any key is looked up."""
    request = mpop_request(args, _LMPOP_SIDES)
    return request if isinstance(request, Error) else (b"LMPOP", *args[1:])


prepare_blmpop = prepare_blocking_mpop(_LMPOP_SIDES)


def cmd_lmpop(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """LMPOP, and one attempt of BLMPOP (its timeout plays no part here): ``[key,
    [element, ...]]``, up to COUNT elements from the first key holding a list
    (``mpopGenericCommand``), or the null array."""
    request = mpop_request(args, _LMPOP_SIDES)
    if isinstance(request, Error):
        return request
    keys, from_tail, count = request
    found = _pop_from_first(kv, keys, now_ms, count, bool(from_tail))
    return found if isinstance(found, (Error, NullArray)) else [found[0], list[Reply](found[1])]

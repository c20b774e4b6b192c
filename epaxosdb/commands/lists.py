"""List commands (Redis's t_list.c): LPUSH, LRANGE, LPOS, LMOVE, BLPOP...

A list is one stored value of type LIST whose payload is its elements, head
first, in the form of ``packed_list``: pushes and pops at either end, LLEN,
LINDEX, LRANGE, LSET and LTRIM work on slices of the stored bytes, so a long
queue costs a copy of its bytes per change, not a decode and encode of every
element. LREM, LINSERT and LPOS decode the whole list (they are O(N) in
Redis too).

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

from collections.abc import Sequence
from functools import partial

from protocol.replies import NULL_ARRAY, OK, Error, NullArray, Reply
from storage.interface import KeyValueView, Payload, Value, ValueType

from . import errors, packed_list
from .blocking import prepare_blocking, prepare_blocking_mpop
from .containers import Kind, expire_of, mpop_request
from .integers import LLONG_MIN, index_span, parse_ll, pop_count
from .packed_list import Packed
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


class _ListKind(Kind[list[bytes]]):
    """Lists in ``packed_list``'s form, for the commands that need every element."""

    def _encode_items(self, items: list[bytes]) -> bytes:
        return packed_list.pack(items)

    def _decode(self, payload: bytes) -> list[bytes]:
        return packed_list.unpack(payload)


LISTS = _ListKind(
    LIST, "list", lambda items: items, lambda items: items, list, held_in_workspace=False
)
encode_list = LISTS.encode
decode_list = LISTS.decode


def _packed(kv: KeyValueView, key: bytes, now_ms: int) -> tuple[Value, Packed] | Error | None:
    """The live list at ``key`` and its parsed form; WRONGTYPE for another type."""
    value = LISTS.value(kv, key, now_ms)
    if value is None or isinstance(value, Error):
        return value
    return value, packed_list.view(value.payload)


def _put(kv: KeyValueView, key: bytes, expire_ms: int, payload: bytes | None) -> None:
    """Store a list's new form (``None``: it emptied, so the key goes)."""
    if payload is None:
        kv.delete(key)
    else:
        kv.put(key, Value(LIST, expire_ms, payload))


def _pushed(found: tuple[Value, Packed] | None, elements: Sequence[bytes], head: bool) -> bytes:
    """The list ``found`` (``None``: a new one) with ``elements`` added at the head or the
    tail, in the order given."""
    if found is None:
        return packed_list.pack(elements)
    packed = found[1]
    return packed_list.insert(packed, 0 if head else packed.length, elements)


def _popped(packed: Packed, take: int, tail: bool) -> tuple[list[bytes], bytes | None]:
    """``take`` elements off one end — nearest the end first — and what is left."""
    if tail:
        start = packed.length - take
        taken = packed_list.items(packed, start, packed.length)
        taken.reverse()
        return taken, packed_list.splice(packed, start, packed.length, ())
    return packed_list.items(packed, 0, take), packed_list.splice(packed, 0, take, ())


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
    found = _packed(kv, key, now_ms)
    if isinstance(found, Error):
        return found
    if found is None and name.endswith(b"X"):
        return 0
    head = name.startswith(b"L")
    elements = args[:1:-1] if head else args[2:]  # LPUSH a b c leaves c at the head
    _put(kv, key, expire_of(found and found[0]), _pushed(found, elements, head))
    return len(elements) + (0 if found is None else found[1].length)


def cmd_pop(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """LPOP and RPOP, with or without a count."""
    count = pop_count(args)
    if isinstance(count, Error):
        return count
    key = args[1]
    found = _packed(kv, key, now_ms)
    if isinstance(found, Error):
        return found
    if found is None:
        return None if count is None else NullArray()
    if count == 0:
        return []
    old, packed = found
    take = 1 if count is None else min(count, packed.length)
    popped, rest = _popped(packed, take, args[0] == b"RPOP")
    _put(kv, key, old.expire_ms, rest)
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
        found = _packed(kv, key, now_ms)
        if isinstance(found, Error):
            return found
        if found is None:
            continue
        old, packed = found
        popped, rest = _popped(packed, min(count, packed.length), tail)
        _put(kv, key, old.expire_ms, rest)
        return key, popped
    return NULL_ARRAY


# LLEN, LINDEX and LRANGE read the list where it is stored (``read_live``): they cost
# what the elements they name do, not a copy of the whole list.


def cmd_llen(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    return read_live(kv, args[1], now_ms, LIST, _length, 0)


def _length(payload: Payload) -> int:
    return packed_list.view(payload).length


def cmd_lindex(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    return read_live(kv, args[1], now_ms, LIST, partial(_element, parse_ll(args[2])), None)


def _element(index: int | None, payload: Payload) -> Reply:
    """LINDEX: the index is judged only once the key is known to hold a list, as in Redis."""
    if index is None:
        return errors.NOT_INTEGER
    packed = packed_list.view(payload)
    if index < 0:
        index += packed.length
    return packed_list.items(packed, index, index + 1)[0] if 0 <= index < packed.length else None


def cmd_lset(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    key = args[1]
    found = _packed(kv, key, now_ms)
    if isinstance(found, Error):
        return found
    if found is None:
        return errors.NO_SUCH_KEY
    index = parse_ll(args[2])
    if index is None:
        return errors.NOT_INTEGER
    old, packed = found
    if index < 0:
        index += packed.length
    if not 0 <= index < packed.length:
        return INDEX_OUT_OF_RANGE
    _put(kv, key, old.expire_ms, packed_list.splice(packed, index, index + 1, (args[3],)))
    return OK


def cmd_lrange(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    start, end = parse_ll(args[2]), parse_ll(args[3])
    if start is None or end is None:
        return errors.NOT_INTEGER
    return read_live(kv, args[1], now_ms, LIST, partial(_elements, start, end), [])


def _elements(start: int, end: int, payload: Payload) -> list[Reply]:
    packed = packed_list.view(payload)
    first, stop = index_span(packed.length, start, end)
    return list[Reply](packed_list.items(packed, first, stop))


def cmd_ltrim(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    start, end = parse_ll(args[2]), parse_ll(args[3])
    if start is None or end is None:
        return errors.NOT_INTEGER
    key = args[1]
    found = _packed(kv, key, now_ms)
    if isinstance(found, Error):
        return found
    if found is not None:
        old, packed = found
        first, stop = index_span(packed.length, start, end)
        if (first, stop) != (0, packed.length):
            _put(kv, key, old.expire_ms, packed_list.keep(packed, first, stop))
    return OK


def cmd_lrem(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """Remove up to ``count`` matches from the head (negative: from the tail; 0: all)."""
    count = parse_ll(args[2])
    if count is None:
        return errors.NOT_INTEGER
    key, element = args[1], args[3]
    found = LISTS.load(kv, key, now_ms)
    if isinstance(found, Error):
        return found
    old, elements = found
    limit = abs(count) if count else len(elements)
    order = range(len(elements) - 1, -1, -1) if count < 0 else range(len(elements))
    doomed: set[int] = set()
    for i in order:
        if len(doomed) == limit:
            break
        if elements[i] == element:
            doomed.add(i)
    if doomed:
        LISTS.store(kv, key, expire_of(old), [e for i, e in enumerate(elements) if i not in doomed])
    return len(doomed)


def cmd_linsert(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
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
    if pivot not in elements:
        return -1
    at = elements.index(pivot) + (where == b"AFTER")
    elements.insert(at, element)
    LISTS.store(kv, key, expire_of(old), elements)
    return len(elements)


def cmd_lpos(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    options = _lpos_options(args)
    if isinstance(options, Error):
        return options
    rank, count, maxlen = options
    found = LISTS.load(kv, args[1], now_ms)
    if isinstance(found, Error):
        return found
    old, elements = found
    if old is None:
        return [] if count != -1 else None
    if rank == LLONG_MIN:  # Redis negates it and overflows: from the tail, and with
        rank, count = -1, (count if count == -1 else 0)  # COUNT, every match
    order = range(len(elements) - 1, -1, -1) if rank < 0 else range(len(elements))
    skip = abs(rank) - 1
    matches: list[Reply] = []
    for scanned, i in enumerate(order):
        if maxlen and scanned >= maxlen:
            break
        if elements[i] != args[2]:
            continue
        if skip:
            skip -= 1
            continue
        matches.append(i)
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
    src = _packed(kv, source, now_ms)
    if src is None or isinstance(src, Error):
        return src
    dst = _packed(kv, destination, now_ms)
    if isinstance(dst, Error):
        return dst
    old, packed = src
    popped, rest = _popped(packed, 1, wherefrom == -1)
    expire_ms = expire_of(dst and dst[0])
    if source == destination:  # a rotation: the list never goes empty, its TTL stays
        dst = None if rest is None else (old, packed_list.parse(rest))
        expire_ms = old.expire_ms
    else:
        _put(kv, source, old.expire_ms, rest)
    _put(kv, destination, expire_ms, _pushed(dst, popped, whereto == 0))
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

"""Set commands (Redis's t_set.c): SADD, SREM, SMEMBERS, the algebra, SPOP, SSCAN...

A set is one stored value of type SET whose payload is its members in
insertion order (``encode_set``). Redis does not promise an order for
SMEMBERS and friends (small integer sets come sorted, others in hash table
order), and clients do not rely on one. Like a hash, every write rewrites
the whole set, so sets are for thousands of members, not millions.

Random picks (SPOP, SRANDMEMBER) are deterministic: they draw from the
command's seed (``keyspace.mix64``), so every replica that executes a SPOP
removes the same members.

The checks follow Redis 7.0's order: a bad SPOP/SRANDMEMBER count and extra
arguments are refused before the key is looked up (``prepare``); WRONGTYPE
comes next, from every key a multi-key command names, before anything else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from protocol.replies import Error, Reply, Set
from storage.interface import KeyValueView, StorageError, ValueType

from . import errors
from .containers import Kind, expire_of
from .integers import LLONG_MAX, parse_ll, pop_count
from .keyspace import (
    COUNT_RANGE,
    REPEATED_MEMBERS_MAX,
    REPEATED_MEMBERS_TOO_MANY,
    pick_distinct,
    pick_repeated,
)
from .spec import Handler

SET = ValueType.SET

Members = dict[bytes, None]
"""Members in insertion order (a dict used as an ordered set)."""


def _members(items: list[bytes]) -> Members:
    members = dict.fromkeys(items)
    if len(members) != len(items):
        raise StorageError("a stored set repeats a member")
    return members


SETS: Kind[Members] = Kind(SET, "set", _members, lambda members: members, dict)
encode_set = SETS.encode
decode_set = SETS.decode


INTSET_ENTRIES_MAX = 512
"""``set-max-intset-entries``: Redis keeps a set of at most this many integers sorted."""


def in_order(members: Iterable[bytes]) -> list[bytes]:
    """Members in the order Redis lists them where it has one: a small set of integers
    (an intset in Redis) ascending by value; any other set as inserted here (Redis:
    its hash table's order, which nobody may rely on)."""
    listed = list(members)
    if len(listed) <= INTSET_ENTRIES_MAX:
        numbers = [parse_ll(member) for member in listed]
        integers = [n for n in numbers if n is not None]
        if len(integers) == len(listed):  # canonical integers: distinct members, distinct values
            return [member for _, member in sorted(zip(integers, listed, strict=True))]
    return listed


def _sets(kv: KeyValueView, keys: Sequence[bytes], now_ms: int) -> list[Members] | Error:
    """The members of each key in turn (a missing key is empty); WRONGTYPE if any is not
    a set — Redis looks at every key before it computes anything."""
    out: list[Members] = []
    for key in keys:
        found = SETS.load(kv, key, now_ms)
        if isinstance(found, Error):
            return found
        out.append(found[1])
    return out


# --- prepare -------------------------------------------------------------------


def prepare_spop(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    if len(args) > 3:
        return errors.SYNTAX
    count = pop_count(args)
    if isinstance(count, Error):
        return count
    return (b"SPOP", *args[1:])


def prepare_srandmember(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    if len(args) > 3:
        return errors.SYNTAX
    count = _srandmember_count(args)
    if isinstance(count, Error):
        return count
    return (b"SRANDMEMBER", *args[1:])


def _srandmember_count(args: Sequence[bytes]) -> int | Error | None:
    """SRANDMEMBER's optional count: ``None`` when absent; negative allows repeats."""
    if len(args) < 3:
        return None
    count = parse_ll(args[2])
    if count is None:
        return errors.NOT_INTEGER
    if count < -LLONG_MAX:
        return COUNT_RANGE
    if -count > REPEATED_MEMBERS_MAX:
        return REPEATED_MEMBERS_TOO_MANY
    return count


# --- handlers ------------------------------------------------------------------


def cmd_sadd(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    key = args[1]
    found = SETS.load(kv, key, now_ms)
    if isinstance(found, Error):
        return found
    old, members = found
    before = len(members)
    members.update(dict.fromkeys(args[2:]))
    if len(members) == before:
        return 0
    SETS.store(kv, key, expire_of(old), members)
    return len(members) - before


def cmd_srem(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    key = args[1]
    found = SETS.load(kv, key, now_ms)
    if isinstance(found, Error):
        return found
    old, members = found
    before = len(members)
    for member in args[2:]:
        members.pop(member, 0)
    if len(members) == before or old is None:
        return 0
    SETS.store(kv, key, old.expire_ms, members)
    return before - len(members)


cmd_smembers = SETS.reading(lambda members, args: Set(in_order(members)))
cmd_sismember = SETS.reading(lambda members, args: 1 if args[2] in members else 0)
cmd_smismember = SETS.reading(lambda members, args: [1 if m in members else 0 for m in args[2:]])
cmd_scard = SETS.reading(lambda members, args: len(members))


def _intersection(sets: list[Members]) -> Iterable[bytes]:
    smallest = min(sets, key=len)
    return [m for m in smallest if all(m in s for s in sets)]


def _union(sets: list[Members]) -> Iterable[bytes]:
    union: Members = {}
    for s in sets:
        union.update(s)
    return union


def _difference(sets: list[Members]) -> Iterable[bytes]:
    return [m for m in sets[0] if not any(m in s for s in sets[1:])]


def _algebra(combine: Callable[[list[Members]], Iterable[bytes]]) -> tuple[Handler, Handler]:
    """SINTER/SUNION/SDIFF and their STORE forms, from how they combine the sets."""

    def read(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
        sets = _sets(kv, args[1:], now_ms)
        return sets if isinstance(sets, Error) else Set(in_order(combine(sets)))

    def store(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
        sets = _sets(kv, args[2:], now_ms)
        if isinstance(sets, Error):
            return sets
        members = dict.fromkeys(combine(sets))
        SETS.store(kv, args[1], 0, members)
        return len(members)

    return read, store


cmd_sinter, cmd_sinterstore = _algebra(_intersection)
cmd_sunion, cmd_sunionstore = _algebra(_union)
cmd_sdiff, cmd_sdiffstore = _algebra(_difference)


TOO_MANY_KEYS = Error("ERR Number of keys can't be greater than number of args")


def _sintercard_request(args: Sequence[bytes]) -> tuple[int, int] | Error:
    """SINTERCARD's key count and LIMIT (0: none), all checked before any key is looked up
    (``sinterCardCommand``)."""
    numkeys = parse_ll(args[1])
    if numkeys is None or numkeys < 1:
        return errors.NUMKEYS_NOT_POSITIVE
    if numkeys > len(args) - 2:
        return TOO_MANY_KEYS
    limit = 0
    j = 2 + numkeys
    while j < len(args):
        if errors.c_string(args[j]).lower() != b"limit" or j + 1 >= len(args):
            return errors.SYNTAX
        parsed = parse_ll(args[j + 1])
        if parsed is None or parsed < 0:
            return errors.LIMIT_NEGATIVE
        limit = parsed
        j += 2
    return numkeys, limit


def prepare_sintercard(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    request = _sintercard_request(args)
    return request if isinstance(request, Error) else (b"SINTERCARD", *args[1:])


def cmd_sintercard(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """The size of the intersection, counted up to LIMIT; WRONGTYPE from any key first."""
    request = _sintercard_request(args)
    if isinstance(request, Error):
        return request
    numkeys, limit = request
    sets = _sets(kv, args[2 : 2 + numkeys], now_ms)
    if isinstance(sets, Error):
        return sets
    size = len(list(_intersection(sets)))
    return size if limit == 0 else min(size, limit)


def cmd_smove(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """Redis's order: a missing source is 0 before either type is checked."""
    source, destination, member = args[1], args[2], args[3]
    src = SETS.load(kv, source, now_ms)
    if not isinstance(src, Error) and src[0] is None:
        return 0
    dst = SETS.load(kv, destination, now_ms)
    if isinstance(src, Error):
        return src
    if isinstance(dst, Error):
        return dst
    old, members = src
    assert old is not None
    if source == destination:
        return 1 if member in members else 0
    if member not in members:
        return 0
    del members[member]
    SETS.store(kv, source, old.expire_ms, members)
    dst_old, dst_members = dst
    dst_members[member] = None
    SETS.store(kv, destination, expire_of(dst_old), dst_members)
    return 1


def cmd_spop(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    count = pop_count(args)
    if isinstance(count, Error):
        return count
    key = args[1]
    found = SETS.load(kv, key, now_ms)
    if isinstance(found, Error):
        return found
    old, members = found
    if old is None:
        return None if count is None else Set([])
    if count == 0:
        return Set([])
    popped = pick_distinct(list(members), min(1 if count is None else count, len(members)), seed)
    for member in popped:
        del members[member]
    SETS.store(kv, key, old.expire_ms, members)
    return popped[0] if count is None else Set(in_order(popped))


def cmd_srandmember(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    count = _srandmember_count(args)
    if isinstance(count, Error):
        return count
    found = SETS.load_shared(kv, args[1], now_ms)
    if isinstance(found, Error):
        return found
    members = list(found)
    if count is None:
        return pick_distinct(members, 1, seed)[0] if members else None
    if count == 0 or not members:
        return []
    if count > 0:
        distinct: list[Reply] = [*pick_distinct(members, min(count, len(members)), seed)]
        return distinct
    return pick_repeated(members, -count, seed)


cmd_sscan = SETS.scanning(lambda members: ((member,) for member in in_order(members)))

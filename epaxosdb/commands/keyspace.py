"""Generic key commands (Redis's db.c): DEL, EXISTS, TYPE, RENAME, KEYS, SCAN, FLUSH...

These work on a key whatever its type. KEYS, SCAN, DBSIZE and RANDOMKEY read
the whole keyspace and FLUSHDB/FLUSHALL write it, which is why the table
marks them ``keyspace``: they interfere with every write.

Expired keys are invisible here too: DEL does not count them, KEYS and SCAN
skip them, DBSIZE leaves them out (Redis counts keys it has not reclaimed
yet; we count what a read would see).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

from protocol.replies import OK, Error, Pairs, Reply, SimpleString
from storage.interface import KeyValueView

from . import errors
from .glob import matcher
from .integers import LLONG_MAX, parse_cursor, parse_db_index, parse_ll
from .values import TYPE_NAMES, expired_keys, is_expired, live, live_header

SCAN_COUNT_DEFAULT = 10
RANDOM_ATTEMPTS = 100
"""RANDOMKEY draws this many seeds before falling back to the first live key."""

_MASK64 = (1 << 64) - 1
NONE_TYPE = SimpleString(b"none")

COUNT_RANGE = Error(
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
)
"""SRANDMEMBER, ZRANDMEMBER and HRANDFIELD read their count from -LLONG_MAX up."""
REPEATED_MEMBERS_MAX = 1_000_000
"""SRANDMEMBER, ZRANDMEMBER and HRANDFIELD with a negative count return that many picks,
repeats allowed. Redis streams them without a bound (a count of -2**63+1 takes it down);
here a reply is built whole, so larger counts are refused with
``REPEATED_MEMBERS_TOO_MANY``."""
REPEATED_MEMBERS_TOO_MANY = Error(
    f"ERR count is out of range: at most {REPEATED_MEMBERS_MAX} members with repetitions"
)
PAIRS_COUNT_RANGE = Error("ERR value is out of range")
"""ZRANDMEMBER WITHSCORES and HRANDFIELD WITHVALUES: a count whose double (a reply of two
items per pick) could overflow, beyond +-LLONG_MAX/2."""


class ScanOptions:
    """SCAN's parsed arguments."""

    __slots__ = ("count", "cursor", "pattern", "type_name")

    def __init__(self, cursor: int, count: int, pattern: bytes | None, type_name: bytes | None):
        self.cursor = cursor
        self.count = count
        self.pattern = pattern
        self.type_name = type_name


def parse_scan(args: Sequence[bytes], allow_type: bool = True) -> ScanOptions | Error:
    """``parseScanCursorOrReply`` then ``scanGenericCommand``'s option loop, in that order.

    ``args`` starts at the command name, or for HSCAN at its key; only SCAN
    itself takes TYPE (``allow_type``)."""
    cursor = parse_cursor(args[1])
    if cursor is None:
        return errors.INVALID_CURSOR
    count = SCAN_COUNT_DEFAULT
    pattern: bytes | None = None
    type_name: bytes | None = None
    i = 2
    while i < len(args):
        option = errors.c_string(args[i]).lower()
        if len(args) - i < 2:
            return errors.SYNTAX
        if option == b"count":
            parsed = parse_ll(args[i + 1])
            if parsed is None:
                return errors.NOT_INTEGER
            if parsed < 1:
                return errors.SYNTAX
            count = parsed
        elif option == b"match":
            pattern = None if args[i + 1] == b"*" else args[i + 1]
        elif option == b"type" and allow_type:
            type_name = errors.c_string(args[i + 1]).lower()
        else:
            return errors.SYNTAX
        i += 2
    return ScanOptions(cursor, count, pattern, type_name)


def prepare_collection_scan(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    """HSCAN and SSCAN: only the cursor is checked before the key is looked up; the
    options after (``scan_collection``)."""
    if parse_cursor(args[2]) is None:
        return errors.INVALID_CURSOR
    return (args[0].upper(), *args[1:])


def scan_collection(args: Sequence[bytes], entries: Iterable[tuple[bytes, ...]]) -> Reply:
    """HSCAN's or SSCAN's reply for a hash or set that exists: every entry in one step,
    cursor 0 — what Redis does for a small one, and a full iteration for any.

    ``args`` is the whole request (options from index 3); MATCH tests an entry's
    first element (the field, or the member)."""
    options = parse_scan(args[1:], allow_type=False)
    if isinstance(options, Error):
        return options
    match = None if options.pattern is None else matcher(options.pattern)
    items: list[Reply] = []
    for entry in entries:
        if match is None or match(entry[0]):
            items.extend(entry)
    return [b"0", items]


def prepare_scan(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    parsed = parse_scan(args)
    if isinstance(parsed, Error):
        return parsed
    return (b"SCAN", *args[1:])


def prepare_flush(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    """FLUSHDB/FLUSHALL take nothing, ``SYNC`` or ``ASYNC``; both run synchronously here."""
    if len(args) == 2 and errors.c_string(args[1]).upper() in (b"SYNC", b"ASYNC"):
        return (args[0].upper(), args[1])
    if len(args) == 1:
        return (args[0].upper(),)
    return errors.SYNTAX


def cmd_del(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """DEL and UNLINK: count keys that existed; expired ones are removed but not counted."""
    deleted = 0
    for key in args[1:]:
        header = kv.header(key)
        if header is None:
            continue
        kv.delete(key)
        if not is_expired(header, now_ms):
            deleted += 1
    return deleted


def cmd_exists(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """EXISTS and TOUCH: a key named twice counts twice."""
    return sum(1 for key in args[1:] if live_header(kv, key, now_ms) is not None)


def cmd_type(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    header = live_header(kv, args[1], now_ms)
    if header is None:
        return NONE_TYPE
    return SimpleString(TYPE_NAMES[header.type])


def _rename(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, nx: bool) -> Reply:
    source, target = args[1], args[2]
    value = live(kv, source, now_ms)
    if value is None:
        return errors.NO_SUCH_KEY
    if source == target:
        return 0 if nx else OK
    if nx and live_header(kv, target, now_ms) is not None:
        return 0
    kv.put(target, value)
    kv.delete(source)
    return 1 if nx else OK


def cmd_rename(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """Moves the value and its TTL; overwrites the target whatever its type."""
    return _rename(kv, args, now_ms, nx=False)


def cmd_renamenx(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    return _rename(kv, args, now_ms, nx=True)


def prepare_copy(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    """COPY's options, then the same-key check: Redis does both before any lookup."""
    i = 3
    while i < len(args):
        option = args[i].upper()
        if option == b"DB" and i + 1 < len(args):
            index = parse_db_index(args[i + 1])
            if isinstance(index, Error):
                return index
            i += 2
        elif option == b"REPLACE":
            i += 1
        else:
            return errors.SYNTAX
    if args[1] == args[2]:
        return errors.SAME_OBJECT
    return (b"COPY", *args[1:])


def cmd_copy(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """The value and its TTL under a second name; 0 when the source is missing, or the
    destination exists and REPLACE was not given."""
    checked = prepare_copy(args, now_ms)
    if isinstance(checked, Error):
        return checked
    value = live(kv, args[1], now_ms)
    if value is None:
        return 0
    replace = any(arg.upper() == b"REPLACE" for arg in args[3:])
    if not replace and live_header(kv, args[2], now_ms) is not None:
        return 0
    kv.put(args[2], value)
    return 1


def cmd_keys(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    match = None if args[1] == b"*" else matcher(args[1])
    expired = expired_keys(kv, now_ms)
    return [key for key in kv.iter_keys() if (match is None or match(key)) and key not in expired]


def cmd_scan(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """One SCAN step over ``kv.scan``; a full iteration returns every key present throughout."""
    options = parse_scan(args)
    if isinstance(options, Error):
        return options
    next_cursor, batch = kv.scan(options.cursor, options.count)
    match = None if options.pattern is None else matcher(options.pattern)
    keys: list[Reply] = []
    for key in batch:
        if match is not None and not match(key):
            continue
        header = live_header(kv, key, now_ms)
        if header is None:
            continue
        if options.type_name is not None and TYPE_NAMES[header.type] != options.type_name:
            continue
        keys.append(key)
    return [b"%d" % next_cursor, keys]


def cmd_dbsize(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    return kv.count() - len(expired_keys(kv, now_ms))


def cmd_flush(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """FLUSHDB and FLUSHALL (there is one database)."""
    kv.clear()
    return OK


def cmd_randomkey(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """A live key picked by ``kv.random_key`` from seeds derived from the command's identity."""
    expired = expired_keys(kv, now_ms)
    if kv.count() <= len(expired):
        return None
    for attempt in range(RANDOM_ATTEMPTS):
        key = kv.random_key(mix64(seed + attempt))
        if key is None:
            return None
        if key not in expired:
            return key
    return next((key for key in kv.iter_keys() if key not in expired), None)


T = TypeVar("T")


def pick_distinct(items: Sequence[T], count: int, seed: int) -> list[T]:
    """``count`` distinct items drawn with the command's seed (a partial shuffle): SPOP,
    SRANDMEMBER and ZRANDMEMBER with a positive count."""
    # Fisher-Yates swaps, the positions they moved remembered apart: the same picks as
    # swapping in a copy of ``items``, for the cost of ``count`` (a copy cost the set).
    n = len(items)
    moved: dict[int, T] = {}
    picked: list[T] = []
    for i in range(count):
        j = i + mix64(seed + i) % (n - i)
        here, there = moved.get(i, items[i]), moved.get(j, items[j])
        moved[j] = here
        picked.append(there)
    return picked


def pick_repeated(items: Sequence[T], count: int, seed: int) -> list[T]:
    """``count`` items drawn with the command's seed, repeats allowed (a negative count)."""
    return [items[mix64(seed + i) % len(items)] for i in range(count)]


def random_pairs_request(args: Sequence[bytes], option: bytes) -> tuple[int | None, bool] | Error:
    """ZRANDMEMBER's and HRANDFIELD's count (``None`` when absent) and whether ``option``
    (lower-case ``withscores``, ``withvalues``) follows it. ``zrandmemberCommand`` and
    ``hrandfieldCommand`` check alike and before the key is looked up, in this order;
    counts below ``-REPEATED_MEMBERS_MAX`` are refused as for SRANDMEMBER."""
    if len(args) < 3:
        return None, False
    count = parse_ll(args[2])
    if count is None:
        return errors.NOT_INTEGER
    if count < -LLONG_MAX:
        return COUNT_RANGE
    if len(args) > 4 or (len(args) == 4 and errors.c_string(args[3]).lower() != option):
        return errors.SYNTAX
    with_pairs = len(args) == 4
    if with_pairs and not -(LLONG_MAX // 2) <= count <= LLONG_MAX // 2:
        return PAIRS_COUNT_RANGE
    if -count > REPEATED_MEMBERS_MAX:
        return REPEATED_MEMBERS_TOO_MANY
    return count, with_pairs


def random_pairs_reply(
    entries: Sequence[tuple[bytes, Reply]], request: tuple[int | None, bool], seed: int
) -> Reply:
    """ZRANDMEMBER's and HRANDFIELD's reply from ``entries`` (member/score, field/value)
    and their parsed ``request``: one name (nil when there are none) without a count;
    with one, the names or, with the option, ``Pairs`` (nested under RESP3, as Redis 7
    does). A negative count allows repeats; a count that covers every entry returns them
    all in their stored order, as Redis does; a smaller one distinct picks."""
    count, with_pairs = request
    if count is None:
        return pick_distinct(entries, 1, seed)[0][0] if entries else None
    picked: list[tuple[bytes, Reply]] = []
    if count < 0 and entries:
        picked = pick_repeated(entries, -count, seed)
    elif count >= len(entries):
        picked = list(entries)
    elif count > 0:
        picked = pick_distinct(entries, count, seed)
    if with_pairs:
        return Pairs(picked)
    return [name for name, _ in picked]


def mix64(value: int) -> int:
    """splitmix64's finalizer: spreads consecutive seeds over 64 bits."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK64
    return value ^ (value >> 31)

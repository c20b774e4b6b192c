"""Stream consumer groups (Redis's t_stream.c, 7.0): XGROUP, XREADGROUP, XACK, XPENDING,
XCLAIM, XAUTOCLAIM, XINFO and XSETID.

A group lives inside its stream's stored value (``streams.Group``): its last delivered
ID, its ``entries_read`` counter, its pending entries list (PEL: each entry's consumer,
delivery time and delivery count) and its consumers (each with the time it was last
seen). Every replica executes every command that changes them — XREADGROUP included,
since it moves the group's last delivered ID and fills the PEL — so they must all
compute the same state: every time a group records (a delivery, a claim, a consumer
seen) is the executing command's timestamp ``now_ms``, never a clock, and idle times
are ``now_ms`` minus a recorded time. Two replicas that execute the same commands end
with byte-identical streams, delivery counts and times included.

The rest follows Redis 7.0.15 check by check and reply by reply: errors in the order it
finds them, consumers created only when something is delivered or claimed to them, the
``entries_read`` and ``lag`` estimates of ``streamEstimateDistanceFromFirstEverEntry``,
XDEL and XTRIM leaving pending entries in place (XCLAIM and XAUTOCLAIM drop those whose
entry is gone; XAUTOCLAIM reports them), XSETID accepting an ID below the largest
deleted one. What differs: ``radix-tree-keys`` and ``radix-tree-nodes`` (XINFO STREAM)
describe Redis's memory layout, which is not kept here: they are exact for a stream
with entries that fits one of Redis's nodes (100 entries, about 4 KB) and an estimate
beyond (an emptied stream has no node here, where Redis may keep one of deleted entries); and
XAUTOCLAIM refuses a COUNT above 2**32 as Redis does one it fails to allocate memory
for (Redis's limit depends on its machine's memory).

XREADGROUP BLOCK waits like BLPOP (``blocking``): each attempt is this non-blocking
XREADGROUP, and the attempts after the first are an internal twin of it (``RETRY``), which
answers what Redis answers a client it unblocks — ``UNBLOCKED`` once the stream is gone,
``NOGROUP ... no longer exists`` once the group is — and read at most 1,000 entries
without COUNT, as Redis serves a blocked reader.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from protocol.replies import (
    NULL_ARRAY,
    OK,
    Error,
    Map,
    NestedMap,
    Reply,
    help_reply,
)
from storage.interface import KeyValueView, Value

from . import errors
from .integers import LLONG_MAX, parse_ll
from .spec import preparing
from .streams import (
    INVALID_END,
    INVALID_ENTRIES_READ,
    INVALID_ID,
    INVALID_START,
    MAX_ID,
    MIN_ID,
    STREAMS,
    Consumer,
    Group,
    Pending,
    Stream,
    StreamId,
    entry_replies,
    format_id,
    interval_bound,
    next_id,
    parse_id,
    previous_id,
    read_request,
    strict_id,
    strict_ids,
)

RETRY = b"XREADGROUP_RETRY"
"""The op name of a blocked XREADGROUP's attempts after the first (see the module
docstring): an internal command, which clients cannot call; its arguments are
XREADGROUP's, at the same positions, so it names and writes the same keys."""
BLOCKED_COUNT = 1000
"""What a woken XREADGROUP reads without COUNT (Redis's ``XREAD_BLOCKED_DEFAULT_COUNT``)."""
AUTOCLAIM_COUNT_MAX = LLONG_MAX // 16
AUTOCLAIM_ALLOCATION_MAX = 1 << 32
"""The largest XAUTOCLAIM COUNT served; Redis fails above what its machine can allocate."""
U64 = 1 << 64

XGROUP_NO_KEY = Error(
    "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want "
    "to use the MKSTREAM option to create an empty stream automatically."
)
BUSYGROUP = Error("BUSYGROUP Consumer Group name already exists")
ENTRIESREAD_NEGATIVE = Error("ERR value for ENTRIESREAD must be positive or -1")
DOLLAR_MEANINGLESS = Error(
    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history "
    "of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ "
    "ID would just return an empty result set."
)
BLOCKED_NO_GROUP = Error("NOGROUP the consumer group this client was blocked on no longer exists")
BLOCKED_NO_KEY = Error("UNBLOCKED the stream key no longer exists")
XCLAIM_MIN_IDLE = Error("ERR Invalid min-idle-time argument for XCLAIM")
XCLAIM_IDLE = Error("ERR Invalid IDLE option argument for XCLAIM")
XCLAIM_TIME = Error("ERR Invalid TIME option argument for XCLAIM")
XCLAIM_RETRYCOUNT = Error("ERR Invalid RETRYCOUNT option argument for XCLAIM")
XAUTOCLAIM_MIN_IDLE = Error("ERR Invalid min-idle-time argument for XAUTOCLAIM")
XAUTOCLAIM_COUNT = Error("ERR COUNT must be > 0")
XAUTOCLAIM_MEMORY = Error(
    "ERR Insufficient memory, failed allocating transient memory, COUNT too high."
)
XSETID_ADDED_NEGATIVE = Error("ERR entries_added must be positive")
XSETID_BELOW_DELETED = Error(
    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id"
)
XSETID_BELOW_TOP = Error(
    "ERR The ID specified in XSETID is smaller than the target stream top item"
)
XSETID_ADDED_BELOW_LENGTH = Error(
    "ERR The entries_added specified in XSETID is smaller than the target stream length"
)

XGROUP_HELP = (
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Prints this help.",
)
XINFO_HELP = (
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
)


def _quoted(raw: bytes) -> str:
    """An argument as ``%s`` prints it into an error (up to a NUL, on one line)."""
    return errors.text(errors.c_string(raw))


def _no_group(key: bytes, group: bytes, suffix: str = "") -> Error:
    """``NOGROUP No such key 'k' or consumer group 'g'`` (XREADGROUP adds where)."""
    return Error(
        f"NOGROUP No such key '{_quoted(key)}' or consumer group '{_quoted(group)}'{suffix}"
    )


def _no_such_group(key: bytes, group: bytes) -> Error:
    """``NOGROUP No such consumer group 'g' for key name 'k'`` (XGROUP, XINFO CONSUMERS)."""
    return Error(
        f"NOGROUP No such consumer group '{_quoted(group)}' for key name '{_quoted(key)}'"
    )


def _subcommand_syntax(args: Sequence[bytes]) -> Error:
    """``addReplySubcommandSyntaxError``: the sub-command as the client spelled it."""
    sub = errors.text(errors.c_string(args[1])[:128])
    container = args[0].upper().decode()
    return Error(
        f"ERR unknown subcommand or wrong number of arguments for '{sub}'. "
        f"Try {container} HELP."
    )


def _int64(value: int) -> int:
    """``value`` wrapped into a signed 64-bit integer, as C's arithmetic leaves it."""
    value %= U64
    return value - U64 if value > LLONG_MAX else value


def _is_dollar(raw: bytes) -> bool:
    return errors.c_string(raw) == b"$"


K = TypeVar("K", StreamId, bytes)
V = TypeVar("V")


def _insert_sorted(mapping: dict[K, V], key: K, value: V) -> None:
    """Add ``key`` keeping ``mapping`` in key order (nearly always an append)."""
    last = next(reversed(mapping), None) if mapping else None
    mapping[key] = value
    if last is not None and key < last:
        items = sorted(mapping.items())
        mapping.clear()
        mapping.update(items)


def _store(kv: KeyValueView, key: bytes, old: Value | None, stream: Stream) -> None:
    STREAMS.store(kv, key, 0 if old is None else old.expire_ms, stream)


# --- entries_read and lag (streamEstimateDistanceFromFirstEverEntry) --------------------


def _has_tombstones(stream: Stream, start: StreamId) -> bool:
    """``streamRangeHasTombstones(s, start, NULL)``: whether a deleted entry may lie at or
    after ``start`` among the entries."""
    deleted = stream.max_deleted
    if not stream.entries or deleted == MIN_ID:
        return False
    if stream.first_id > deleted:
        return False
    return start <= deleted


def _estimate(stream: Stream, entry_id: StreamId) -> int:
    """``streamEstimateDistanceFromFirstEverEntry``: how many entries were added up to
    ``entry_id``, or ``INVALID_ENTRIES_READ`` when that cannot be told. Redis returns the
    unsigned count as a signed 64-bit integer: past 2**63 - 1 (XSETID ENTRIESADDED
    9223372036854775807, then XADD) it is negative."""
    added = _int64(stream.entries_added)
    if not added:
        return 0
    if not stream.entries and entry_id <= stream.last_id:
        return added
    if entry_id == stream.last_id:
        return added
    if entry_id > stream.last_id:
        return INVALID_ENTRIES_READ
    first = stream.first_id
    deleted = stream.max_deleted
    if deleted == MIN_ID or deleted < first:
        if entry_id < first:
            return _int64(added - len(stream.entries))
        if entry_id == first:
            return _int64(added - len(stream.entries) + 1)
    return INVALID_ENTRIES_READ


def _lag(stream: Stream, group: Group) -> int | None:
    """``streamReplyWithCGLag``: entries added and not yet read by the group, or ``None``."""
    added = stream.entries_added
    if not added:
        return 0
    if group.entries_read != INVALID_ENTRIES_READ and not _has_tombstones(stream, group.last_id):
        return _int64(added - group.entries_read)
    estimate = _estimate(stream, group.last_id)
    return None if estimate == INVALID_ENTRIES_READ else _int64(added - estimate)


def _deliver_new(stream: Stream, group: Group, entry_id: StreamId) -> None:
    """Move the group past ``entry_id`` (``streamReplyWithRange`` with a group)."""
    if group.entries_read != INVALID_ENTRIES_READ and not _has_tombstones(stream, entry_id):
        group.entries_read = _int64(group.entries_read + 1)
    elif stream.entries_added:
        group.entries_read = _estimate(stream, entry_id)
    group.last_id = entry_id


def _consumer(group: Group, name: bytes, now_ms: int) -> Consumer:
    """The consumer ``name``, created if missing; seen now either way."""
    consumer = group.consumers.get(name)
    if consumer is None:
        consumer = Consumer(now_ms)
        _insert_sorted(group.consumers, name, consumer)
    consumer.seen_time = now_ms
    return consumer


def _pending_of(group: Group, name: bytes) -> list[tuple[StreamId, Pending]]:
    """A consumer's own PEL, in ID order."""
    return [(i, p) for i, p in group.pel.items() if p.consumer == name]


# --- XGROUP ---------------------------------------------------------------------------


@dataclass(slots=True)
class _GroupCall:
    old: Value | None
    stream: Stream | None
    group: Group | None
    mkstream: bool
    entries_read: int


def _xgroup_prelude(
    kv: KeyValueView, args: Sequence[bytes], now_ms: int
) -> _GroupCall | Error:
    """What ``xgroupCommand`` does before it dispatches: CREATE's and SETID's options,
    the key's type, a missing key (unless MKSTREAM), a missing group (SETID,
    CREATECONSUMER, DELCONSUMER), in that order."""
    sub = args[1].lower()
    mkstream = False
    entries_read = INVALID_ENTRIES_READ

    def parse_entries_read(raw: bytes) -> int | Error:
        value = parse_ll(raw)
        if value is None:
            return errors.NOT_INTEGER
        if value < 0 and value != INVALID_ENTRIES_READ:
            return ENTRIESREAD_NEGATIVE
        return value

    if sub in (b"create", b"setid"):
        # One loop for both (SETID's takes ENTRIESREAD alone); how many arguments each may
        # have is checked once the key and the group were found (``cmd_xgroup_*``).
        i = 5
        while i < len(args):
            option = errors.c_string(args[i]).lower()
            if option == b"mkstream" and sub == b"create":
                mkstream = True
                i += 1
            elif option == b"entriesread" and i + 1 < len(args):
                parsed = parse_entries_read(args[i + 1])
                if isinstance(parsed, Error):
                    return parsed
                entries_read = parsed
                i += 2
            else:
                return _subcommand_syntax(args)
    found = STREAMS.load(kv, args[2], now_ms)
    if isinstance(found, Error):
        return found
    old, loaded = found
    stream = loaded if old is not None else None
    group = stream.groups.get(args[3]) if stream is not None else None
    if not mkstream:
        if stream is None:
            return XGROUP_NO_KEY
        if group is None and sub in (b"setid", b"createconsumer", b"delconsumer"):
            return _no_such_group(args[2], args[3])
    return _GroupCall(old, stream, group, mkstream, entries_read)


def cmd_xgroup_create(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """OK, or BUSYGROUP; MKSTREAM creates an empty stream for a missing key."""
    call = _xgroup_prelude(kv, args, now_ms)
    if isinstance(call, Error):
        return call
    if len(args) > 8:
        return _subcommand_syntax(args)
    stream = call.stream
    if _is_dollar(args[4]):
        last_id = stream.last_id if stream is not None else MIN_ID
    else:
        parsed = strict_id(args[4])
        if parsed is None:
            return INVALID_ID
        last_id = parsed
    if stream is None:
        stream = Stream()
    if args[3] in stream.groups:
        return BUSYGROUP  # (a stream MKSTREAM makes has no group)
    _insert_sorted(stream.groups, args[3], Group(last_id, call.entries_read))
    _store(kv, args[2], call.old, stream)
    return OK


def cmd_xgroup_setid(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """OK; ``$`` is the stream's last ID, ``-`` and ``+`` the smallest and largest IDs."""
    call = _xgroup_prelude(kv, args, now_ms)
    if isinstance(call, Error):
        return call
    if len(args) not in (5, 7):
        return _subcommand_syntax(args)
    stream, group = call.stream, call.group
    assert stream is not None and group is not None
    if _is_dollar(args[4]):
        last_id = stream.last_id
    else:
        parsed = parse_id(args[4], strict=False)
        if parsed is None:
            return INVALID_ID
        last_id = parsed[0]
    group.last_id = last_id
    group.entries_read = call.entries_read
    _store(kv, args[2], call.old, stream)
    return OK


def cmd_xgroup_destroy(
    kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int
) -> Reply:
    """1 if the group existed (and is gone), else 0."""
    call = _xgroup_prelude(kv, args, now_ms)
    if isinstance(call, Error):
        return call
    if call.group is None:
        return 0
    assert call.stream is not None
    del call.stream.groups[args[3]]
    _store(kv, args[2], call.old, call.stream)
    return 1


def cmd_xgroup_createconsumer(
    kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int
) -> Reply:
    """1 if the consumer was created, 0 if it existed."""
    call = _xgroup_prelude(kv, args, now_ms)
    if isinstance(call, Error):
        return call
    group = call.group
    assert call.stream is not None and group is not None
    if args[4] in group.consumers:
        return 0
    _insert_sorted(group.consumers, args[4], Consumer(now_ms))
    _store(kv, args[2], call.old, call.stream)
    return 1


def cmd_xgroup_delconsumer(
    kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int
) -> Reply:
    """How many entries the consumer had pending (they leave the group's PEL with it)."""
    call = _xgroup_prelude(kv, args, now_ms)
    if isinstance(call, Error):
        return call
    group = call.group
    assert call.stream is not None and group is not None
    if args[4] not in group.consumers:
        return 0
    owned = [i for i, p in group.pel.items() if p.consumer == args[4]]
    for entry_id in owned:
        del group.pel[entry_id]
    del group.consumers[args[4]]
    _store(kv, args[2], call.old, call.stream)
    return len(owned)


def cmd_xgroup_help(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    return help_reply(XGROUP_HELP)


# --- XREADGROUP -----------------------------------------------------------------------


prepare_xreadgroup = preparing(lambda args: read_request(args, xreadgroup=True))
"""Options are checked here; keys, groups and IDs at execution, in Redis's order."""


Op = tuple[bytes, ...]


def readgroup_wait(op: Op) -> tuple[Op, int, Op] | None:
    """The keys a prepared XREADGROUP BLOCK waits on, its timeout in ms and the op of its
    later attempts; ``None`` without BLOCK."""
    request = read_request(op, xreadgroup=True)
    assert not isinstance(request, Error), "prepare_xreadgroup refused this op"
    if request.timeout_ms is None:
        return None
    return tuple(request.keys), request.timeout_ms, (RETRY, *op[1:])


def cmd_xreadgroup(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """One XREADGROUP attempt (BLOCK plays no part here). For each stream in turn: with
    ``>``, the entries after the group's last delivered ID (at most COUNT), which then
    become pending for the consumer unless NOACK — nothing if there are none; with an
    ID, the consumer's pending entries after it (a deleted entry as its ID and a null),
    each delivered once more. The null array when no stream had anything."""
    return _xreadgroup(kv, args, now_ms, retry=False)


def cmd_xreadgroup_retry(
    kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int
) -> Reply:
    """A blocked XREADGROUP's later attempt: the same, but a stream or group gone away
    answers what Redis answers a client it unblocks, and no COUNT reads 1,000 entries."""
    return _xreadgroup(kv, args, now_ms, retry=True)


def _xreadgroup(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, retry: bool) -> Reply:
    request = read_request(args, xreadgroup=True)
    if isinstance(request, Error):
        return request
    group_name, consumer_name = request.group, request.consumer
    assert group_name is not None and consumer_name is not None
    loaded: dict[bytes, tuple[Value | None, Stream]] = {}
    wanted: list[tuple[bytes, Group, StreamId | None]] = []
    for key, raw in zip(request.keys, request.ids, strict=True):
        found = loaded.get(key)
        if found is None:
            result = STREAMS.load(kv, key, now_ms)
            if isinstance(result, Error):
                return BLOCKED_NO_KEY if retry else result
            found = loaded[key] = result
        old, stream = found
        group = stream.groups.get(group_name) if old is not None else None
        if group is None:
            if retry:
                return BLOCKED_NO_KEY if old is None else BLOCKED_NO_GROUP
            return _no_group(key, group_name, " in XREADGROUP with GROUP option")
        token = errors.c_string(raw)
        if token == b"$":
            return DOLLAR_MEANINGLESS
        after: StreamId | None = None
        if token != b">":
            after = strict_id(raw)
            if after is None:
                return INVALID_ID
            if after == MAX_ID:  # Redis's own marker for ">"
                after = None
        wanted.append((key, group, after))
    count = request.count or (BLOCKED_COUNT if retry else 0)
    served: list[tuple[Reply, Reply]] = []
    written: set[bytes] = set()
    for key, group, after in wanted:
        stream = loaded[key][1]
        if after is None:
            top = stream.top_id
            if top is None or top <= group.last_id:
                continue
        _consumer(group, consumer_name, now_ms)
        written.add(key)
        if after is not None:
            replies = _history(stream, group, consumer_name, after, count, now_ms)
        else:
            replies = _new_entries(stream, group, consumer_name, count, request.noack, now_ms)
        served.append((key, replies))
    for key in written:
        old, stream = loaded[key]
        _store(kv, key, old, stream)
    return NestedMap(served) if served else NULL_ARRAY


def _history(
    stream: Stream, group: Group, name: bytes, after: StreamId, count: int, now_ms: int
) -> list[Reply]:
    """``streamReplyWithRangeFromConsumerPEL``: the consumer's pending entries after
    ``after``; each one still in the stream is delivered again (now, one more time)."""
    start = next_id(after)
    replies: list[Reply] = []
    if start is None:
        return replies
    for entry_id, pending in _pending_of(group, name):
        if entry_id < start:
            continue
        if count and len(replies) >= count:
            break
        pairs = stream.entries.get(entry_id)
        if pairs is None:
            replies.append([format_id(entry_id), NULL_ARRAY])
            continue
        pending.delivery_time = now_ms
        pending.delivery_count = _int64(pending.delivery_count + 1)
        replies.append([format_id(entry_id), list(pairs)])
    return replies


def _new_entries(
    stream: Stream, group: Group, name: bytes, count: int, noack: bool, now_ms: int
) -> list[Reply]:
    """The entries after the group's last delivered ID: the group moves past each, and
    each becomes pending for ``name`` (taken from another consumer if it was pending
    there, its count back to 1) unless NOACK."""
    last = group.last_id
    news = [(i, pairs) for i, pairs in stream.entries.items() if i > last]
    if count:
        news = news[:count]
    for entry_id, _ in news:
        _deliver_new(stream, group, entry_id)
        if noack:
            continue
        pending = group.pel.get(entry_id)
        if pending is None:
            _insert_sorted(group.pel, entry_id, Pending(name, now_ms, 1))
        else:
            pending.consumer, pending.delivery_time, pending.delivery_count = name, now_ms, 1
    return entry_replies(news)


# --- XACK, XPENDING ---------------------------------------------------------------------


def cmd_xack(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """How many of the IDs were pending (and no longer are). A missing key or group
    answers 0 before any ID is checked; then every ID is checked before any is acked."""
    found = STREAMS.load(kv, args[1], now_ms)
    if isinstance(found, Error):
        return found
    old, stream = found
    group = stream.groups.get(args[2]) if old is not None else None
    if group is None:
        return 0
    ids = strict_ids(args[3:])
    if isinstance(ids, Error):
        return ids
    acked = 0
    for entry_id in ids:
        if group.pel.pop(entry_id, None) is not None:
            acked += 1
    if acked:
        _store(kv, args[1], old, stream)
    return acked


@dataclass(frozen=True, slots=True)
class _PendingRange:
    start: StreamId
    end: StreamId
    count: int
    min_idle: int
    consumer: bytes | None


def _pending_request(args: Sequence[bytes]) -> _PendingRange | Error | None:
    """``xpendingCommand``'s argument checks (``None``: the summary form)."""
    argc = len(args)
    if argc == 3:
        return None
    if argc < 6 or argc > 9:
        return errors.SYNTAX
    at = 3
    min_idle = 0
    if errors.c_string(args[3]).lower() == b"idle":
        parsed_idle = parse_ll(args[4])
        if parsed_idle is None:
            return errors.NOT_INTEGER
        if argc < 8:
            return errors.SYNTAX
        min_idle = parsed_idle
        at = 5
    count = parse_ll(args[at + 2])
    if count is None:
        return errors.NOT_INTEGER
    start = interval_bound(args[at], 0)
    if start is None:
        return INVALID_ID
    first: StreamId | None = start[0]
    if start[1]:
        first = next_id(start[0])
        if first is None:
            return INVALID_START
    end = interval_bound(args[at + 1], (1 << 64) - 1)
    if end is None:
        return INVALID_ID
    last: StreamId | None = end[0]
    if end[1]:
        last = previous_id(end[0])
        if last is None:
            return INVALID_END
    assert first is not None and last is not None
    consumer = args[at + 3] if at + 3 < argc else None
    return _PendingRange(first, last, max(count, 0), min_idle, consumer)


prepare_xpending = preparing(_pending_request)


def cmd_xpending(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """The summary (how many pending, the first and last IDs, how many per consumer) or
    the pending entries in a range: ID, consumer, ms since the last delivery, deliveries."""
    request = _pending_request(args)
    if isinstance(request, Error):
        return request
    found = _group_of(kv, args, now_ms)
    if isinstance(found, Error):
        return found
    group = found[2]
    if request is None:
        if not group.pel:
            return [0, None, None, NULL_ARRAY]
        owners: dict[bytes, int] = {}
        for pending in group.pel.values():
            owners[pending.consumer] = owners.get(pending.consumer, 0) + 1
        per_consumer: list[Reply] = [
            [name, b"%d" % owners[name]] for name in group.consumers if name in owners
        ]
        ids = list(group.pel)
        return [len(ids), format_id(ids[0]), format_id(ids[-1]), per_consumer]
    if request.consumer is not None:
        if request.consumer not in group.consumers:
            return []
        entries = _pending_of(group, request.consumer)
    else:
        entries = list(group.pel.items())
    replies: list[Reply] = []
    left = request.count
    for entry_id, pending in entries:
        if not left:
            break
        if entry_id < request.start:
            continue
        if entry_id > request.end:
            break
        idle = now_ms - pending.delivery_time
        if request.min_idle and idle < request.min_idle:
            continue
        left -= 1
        name = pending.consumer
        replies.append([format_id(entry_id), name, max(idle, 0), pending.delivery_count])
    return replies


# --- XCLAIM, XAUTOCLAIM ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Claim:
    min_idle: int
    ids: list[StreamId]
    delivery_time: int | None
    """``None``: now."""
    retry_count: int
    """-1: not given (another negative count counts as not given too)."""
    force: bool
    justid: bool
    last_id: StreamId


def _claim_request(args: Sequence[bytes], now_ms: int) -> _Claim | Error:
    """``xclaimCommand``'s checks after the key and group: the min-idle-time, the IDs
    (up to the first argument that is not one), then the options."""
    min_idle = parse_ll(args[4])
    if min_idle is None:
        return XCLAIM_MIN_IDLE
    ids: list[StreamId] = []
    j = 5
    while j < len(args):
        entry_id = strict_id(args[j])
        if entry_id is None:
            break
        ids.append(entry_id)
        j += 1
    delivery_time: int | None = None
    retry_count = -1
    force = justid = False
    last_id = MIN_ID
    while j < len(args):
        more = len(args) - 1 - j
        option = errors.c_string(args[j]).lower()
        if option == b"force":
            force = True
        elif option == b"justid":
            justid = True
        elif option in (b"idle", b"time", b"retrycount") and more:
            j += 1
            value = parse_ll(args[j])
            if value is None:
                return {b"idle": XCLAIM_IDLE, b"time": XCLAIM_TIME}.get(
                    option, XCLAIM_RETRYCOUNT
                )
            if option == b"idle":
                delivery_time = _int64(now_ms - value)
            elif option == b"time":
                delivery_time = value
            else:
                retry_count = value
        elif option == b"lastid" and more:
            j += 1
            parsed = strict_id(args[j])
            if parsed is None:
                return INVALID_ID
            last_id = parsed
        else:
            return Error(f"ERR Unrecognized XCLAIM option '{_quoted(args[j])}'")
        j += 1
    if delivery_time is not None and (delivery_time < 0 or delivery_time > now_ms):
        delivery_time = now_ms
    return _Claim(max(min_idle, 0), ids, delivery_time, retry_count, force, justid, last_id)


def _claimed(entry_id: StreamId, pairs: tuple[bytes, ...], justid: bool) -> Reply:
    return format_id(entry_id) if justid else [format_id(entry_id), list(pairs)]


def _group_of(
    kv: KeyValueView, args: Sequence[bytes], now_ms: int
) -> tuple[Value, Stream, Group] | Error:
    """The stream at ``args[1]`` and its group ``args[2]``: WRONGTYPE, else NOGROUP for
    a missing key or group."""
    found = STREAMS.load(kv, args[1], now_ms)
    if isinstance(found, Error):
        return found
    old, stream = found
    group = stream.groups.get(args[2]) if old is not None else None
    if old is None or group is None:
        return _no_group(args[1], args[2])
    return old, stream, group


def cmd_xclaim(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """The entries (or, with JUSTID, the IDs) now pending for the consumer: each pending
    one idle for at least min-idle-time (FORCE: also one pending nowhere), whose entry
    still exists — a pending entry whose entry is gone leaves the PEL."""
    found = _group_of(kv, args, now_ms)
    if isinstance(found, Error):
        return found
    old, stream, group = found
    request = _claim_request(args, now_ms)
    if isinstance(request, Error):
        return request
    changed = False
    if request.last_id > group.last_id:
        group.last_id = request.last_id
        changed = True
    time = now_ms if request.delivery_time is None else request.delivery_time
    name = args[3]
    consumer: Consumer | None = None
    replies: list[Reply] = []
    for entry_id in request.ids:
        pending = group.pel.get(entry_id)
        pairs = stream.entries.get(entry_id)
        if pairs is None:
            if pending is not None:
                del group.pel[entry_id]
                changed = True
            continue
        created = False
        if pending is None:
            if not request.force:
                continue
            pending = Pending(name, now_ms, 1)
            _insert_sorted(group.pel, entry_id, pending)
            created = True
        if not created and request.min_idle and now_ms - pending.delivery_time < request.min_idle:
            continue
        if consumer is None:
            consumer = _consumer(group, name, now_ms)
        pending.delivery_time = time
        if request.retry_count >= 0:
            pending.delivery_count = request.retry_count
        elif not request.justid:
            pending.delivery_count = _int64(pending.delivery_count + 1)
        pending.consumer = name
        changed = True
        replies.append(_claimed(entry_id, pairs, request.justid))
    if changed:
        _store(kv, args[1], old, stream)
    return replies


@dataclass(frozen=True, slots=True)
class _AutoClaim:
    min_idle: int
    start: StreamId
    count: int
    justid: bool


def _autoclaim_request(args: Sequence[bytes]) -> _AutoClaim | Error:
    """``xautoclaimCommand``'s checks before the key is looked up."""
    min_idle = parse_ll(args[4])
    if min_idle is None:
        return XAUTOCLAIM_MIN_IDLE
    bound = interval_bound(args[5], 0)
    if bound is None:
        return INVALID_ID
    start: StreamId | None = bound[0]
    if bound[1]:
        start = next_id(bound[0])
        if start is None:
            return INVALID_START
    assert start is not None
    count = 100
    justid = False
    j = 6
    while j < len(args):
        more = len(args) - 1 - j
        option = errors.c_string(args[j]).lower()
        if option == b"count" and more:
            parsed = parse_ll(args[j + 1])
            if parsed is None or not 1 <= parsed <= AUTOCLAIM_COUNT_MAX:
                return XAUTOCLAIM_COUNT
            count = parsed
            j += 1
        elif option == b"justid":
            justid = True
        else:
            return errors.SYNTAX
        j += 1
    return _AutoClaim(max(min_idle, 0), start, count, justid)


prepare_xautoclaim = preparing(_autoclaim_request)


def cmd_xautoclaim(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """``[next start, claimed entries (or IDs), IDs dropped from the PEL]``: the pending
    entries from ``start`` on idle for at least min-idle-time, at most COUNT of them
    (dropped ones count), looking at no more than 10 × COUNT."""
    request = _autoclaim_request(args)
    if isinstance(request, Error):
        return request
    found = _group_of(kv, args, now_ms)
    if isinstance(found, Error):
        return found
    old, stream, group = found
    if request.count > AUTOCLAIM_ALLOCATION_MAX:
        return XAUTOCLAIM_MEMORY
    ids = [i for i in group.pel if i >= request.start]
    attempts, count = request.count * 10, request.count
    name = args[3]
    consumer: Consumer | None = None
    claimed: list[Reply] = []
    deleted: list[Reply] = []
    at = 0
    while attempts:  # ``while (attempts-- && count && raxNext(&ri))``
        attempts -= 1
        if not count or at >= len(ids):
            break
        entry_id = ids[at]
        at += 1
        pairs = stream.entries.get(entry_id)
        if pairs is None:
            del group.pel[entry_id]
            deleted.append(format_id(entry_id))
            count -= 1
            continue
        pending = group.pel[entry_id]
        if request.min_idle and now_ms - pending.delivery_time < request.min_idle:
            continue
        if consumer is None:
            consumer = _consumer(group, name, now_ms)
        pending.delivery_time = now_ms
        if not request.justid:
            pending.delivery_count = _int64(pending.delivery_count + 1)
        pending.consumer = name
        claimed.append(_claimed(entry_id, pairs, request.justid))
        count -= 1
    following = ids[at] if at < len(ids) else MIN_ID
    if claimed or deleted:
        _store(kv, args[1], old, stream)
    return [format_id(following), claimed, deleted]


# --- XSETID ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _SetId:
    last_id: StreamId
    entries_added: int
    """-1: not given."""
    max_deleted: StreamId


def _setid_request(args: Sequence[bytes]) -> _SetId | Error:
    last_id = strict_id(args[2])
    if last_id is None:
        return INVALID_ID
    entries_added = -1
    max_deleted = MIN_ID
    i = 3
    while i < len(args):
        more = len(args) - 1 - i
        option = errors.c_string(args[i]).lower()
        if option == b"entriesadded" and more:
            parsed = parse_ll(args[i + 1])
            if parsed is None:
                return errors.NOT_INTEGER
            if parsed < 0:
                return XSETID_ADDED_NEGATIVE
            entries_added = parsed
        elif option == b"maxdeletedid" and more:
            deleted = strict_id(args[i + 1])
            if deleted is None:
                return INVALID_ID
            if last_id < deleted:
                return XSETID_BELOW_DELETED
            max_deleted = deleted
        else:
            return errors.SYNTAX
        i += 2
    return _SetId(last_id, entries_added, max_deleted)


prepare_xsetid = preparing(_setid_request)


def cmd_xsetid(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """OK: the stream's last ID (never below its last entry's), and optionally its count
    of entries ever added (never below its length) and largest deleted ID."""
    request = _setid_request(args)
    if isinstance(request, Error):
        return request
    found = _existing(kv, args[1], now_ms)
    if isinstance(found, Error):
        return found
    old, stream = found
    top = stream.top_id
    if top is not None:
        if request.last_id < top:
            return XSETID_BELOW_TOP
        if request.entries_added != -1 and len(stream.entries) > request.entries_added:
            return XSETID_ADDED_BELOW_LENGTH
    stream.last_id = request.last_id
    if request.entries_added != -1:
        stream.entries_added = request.entries_added
    if request.max_deleted != MIN_ID:
        stream.max_deleted = request.max_deleted
    _store(kv, args[1], old, stream)
    return OK


# --- XINFO ----------------------------------------------------------------------------


def _existing(kv: KeyValueView, key: bytes, now_ms: int) -> tuple[Value, Stream] | Error:
    """The stream at ``key``: WRONGTYPE, or ``ERR no such key`` when there is none."""
    found = STREAMS.load(kv, key, now_ms)
    if isinstance(found, Error):
        return found
    old, stream = found
    return errors.NO_SUCH_KEY if old is None else (old, stream)


def _xinfo_stream_of(kv: KeyValueView, key: bytes, now_ms: int) -> Stream | Error:
    found = _existing(kv, key, now_ms)
    return found if isinstance(found, Error) else found[1]


def cmd_xinfo_help(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    return help_reply(XINFO_HELP)


def cmd_xinfo_consumers(
    kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int
) -> Reply:
    """Each consumer of the group: its name, how many entries it has pending, and the
    ms since it was last seen."""
    stream = _xinfo_stream_of(kv, args[2], now_ms)
    if isinstance(stream, Error):
        return stream
    group = stream.groups.get(args[3])
    if group is None:
        return _no_such_group(args[2], args[3])
    owned: dict[bytes, int] = {}
    for pending in group.pel.values():
        owned[pending.consumer] = owned.get(pending.consumer, 0) + 1
    return [
        Map(
            [
                (b"name", name),
                (b"pending", owned.get(name, 0)),
                (b"idle", max(now_ms - consumer.seen_time, 0)),
            ]
        )
        for name, consumer in group.consumers.items()
    ]


def cmd_xinfo_groups(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """Each group: name, consumers, pending entries, last delivered ID, entries read, lag."""
    stream = _xinfo_stream_of(kv, args[2], now_ms)
    if isinstance(stream, Error):
        return stream
    return [
        Map(
            [
                (b"name", name),
                (b"consumers", len(group.consumers)),
                (b"pending", len(group.pel)),
                (b"last-delivered-id", format_id(group.last_id)),
                (b"entries-read", _entries_read(group)),
                (b"lag", _lag(stream, group)),
            ]
        )
        for name, group in stream.groups.items()
    ]


def _entries_read(group: Group) -> int | None:
    return None if group.entries_read == INVALID_ENTRIES_READ else group.entries_read


def _xinfo_stream_request(args: Sequence[bytes]) -> int | Error | None:
    """``None`` for the summary, else FULL's COUNT (0: everything)."""
    options = args[3:]
    if not options:
        return None
    if len(options) not in (1, 3) or errors.c_string(options[0]).lower() != b"full":
        return _subcommand_syntax(args)
    if len(options) == 1:
        return 10
    if errors.c_string(options[1]).lower() != b"count":
        return _subcommand_syntax(args)
    count = parse_ll(options[2])
    if count is None:
        return errors.NOT_INTEGER
    return 10 if count < 0 else count


def cmd_xinfo_stream(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """The stream's length, layout, IDs and counters, then its first and last entries and
    how many groups it has — or, with FULL, its entries and every group's PEL and
    consumers, at most COUNT of each list."""
    stream = _xinfo_stream_of(kv, args[2], now_ms)
    if isinstance(stream, Error):
        return stream
    count = _xinfo_stream_request(args)
    if isinstance(count, Error):
        return count
    keys, nodes = rax_shape(stream)
    fields: list[tuple[Reply, Reply]] = [
        (b"length", len(stream.entries)),
        (b"radix-tree-keys", keys),
        (b"radix-tree-nodes", nodes),
        (b"last-generated-id", format_id(stream.last_id)),
        (b"max-deleted-entry-id", format_id(stream.max_deleted)),
        (b"entries-added", _int64(stream.entries_added)),  # Redis prints it signed
        (b"recorded-first-entry-id", format_id(stream.first_id)),
    ]
    if count is None:
        items = list(stream.entries.items())
        first: Reply = entry_replies(items[:1])[0] if items else None
        last: Reply = entry_replies(items[-1:])[0] if items else None
        fields += [(b"groups", len(stream.groups)), (b"first-entry", first), (b"last-entry", last)]
        return Map(fields)
    entries = list(stream.entries.items())
    fields.append((b"entries", entry_replies(entries[:count] if count else entries)))
    groups = [_full_group(stream, name, group, count) for name, group in stream.groups.items()]
    fields.append((b"groups", groups))
    return Map(fields)


def _full_group(stream: Stream, name: bytes, group: Group, count: int) -> Reply:
    pel = list(group.pel.items())
    shown = pel[:count] if count else pel
    consumers: list[Reply] = []
    for consumer_name, consumer in group.consumers.items():
        own = _pending_of(group, consumer_name)
        own_shown = own[:count] if count else own
        consumers.append(
            Map(
                [
                    (b"name", consumer_name),
                    (b"seen-time", consumer.seen_time),
                    (b"pel-count", len(own)),
                    (
                        b"pending",
                        [[format_id(i), p.delivery_time, p.delivery_count] for i, p in own_shown],
                    ),
                ]
            )
        )
    return Map(
        [
            (b"name", name),
            (b"last-delivered-id", format_id(group.last_id)),
            (b"entries-read", _entries_read(group)),
            (b"lag", _lag(stream, group)),
            (b"pel-count", len(pel)),
            (
                b"pending",
                [
                    [format_id(i), p.consumer, p.delivery_time, p.delivery_count]
                    for i, p in shown
                ],
            ),
            (b"consumers", consumers),
        ]
    )


NODE_ENTRIES_MAX = 100
"""``stream-node-max-entries``: how many entries one of Redis's nodes holds."""


def rax_shape(stream: Stream) -> tuple[int, int]:
    """``radix-tree-keys`` and ``radix-tree-nodes``: one node key per 100 entries (Redis
    also starts a node at 4 KB, and keeps emptied slots of a node until it is empty),
    and the nodes of the radix tree of those keys."""
    masters = list(stream.entries)[::NODE_ENTRIES_MAX]
    keys = [ms.to_bytes(8, "big") + seq.to_bytes(8, "big") for ms, seq in masters]
    return len(keys), (_rax_nodes(keys, 0) if keys else 1)


def _rax_nodes(keys: list[bytes], depth: int) -> int:
    """Nodes of a compressed radix tree over sorted, distinct, equal-length ``keys`` below
    ``depth``: a compressed node for a shared prefix, a branching node where they differ,
    and a node where each key ends."""
    length = len(keys[0]) - depth
    if length == 0:
        return 1
    first, last = keys[0], keys[-1]
    shared = 0
    while shared < length and first[depth + shared] == last[depth + shared]:
        shared += 1
    if shared == length:
        return 2
    if shared:
        return 1 + _rax_nodes(keys, depth + shared)
    total = 1
    start = 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i][depth] != keys[start][depth]:
            total += _rax_nodes(keys[start:i], depth + 1)
            start = i
    return total

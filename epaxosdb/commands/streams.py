"""Stream commands (Redis's t_stream.c): XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM and
XREAD, and the stored value consumer groups share (their commands: ``groups``).

A stream is one stored value of type STREAM (``encode_stream``): a header — the last
ID the stream ever handed out, the largest ID XDEL removed, and how many entries were
ever added — then each entry's ID and its field/value pairs, in ID order, then its
consumer groups, if it has any (the header then also counts the entries and the groups;
a stream without groups is stored as streams were before groups existed). The header
outlives the entries: a stream emptied by XDEL or XTRIM still exists (Redis keeps an
empty stream, unlike an empty list), and its IDs never go backwards but by XSETID. Like
every other collection here, each write rewrites the whole value: streams are for short
logs (RQ keeps 10 results per job), not for millions of entries.

IDs are Redis's ``<ms>-<seq>`` pairs of unsigned 64-bit numbers, read as
``streamGenericParseIDOrReply`` reads them: up to 127 bytes, cut at a NUL, split at the
first ``-``, each half through ``string2ull`` (``string2ll``, then ``strtoull``, which
also takes leading spaces, a ``+`` and leading zeros). ``-`` and ``+`` stand for the
smallest and largest IDs where a range allows them; a missing sequence is 0 at the start
of a range and the largest sequence at its end.

Determinism. Every replica executes every XADD, so an automatic ID (``*``) cannot come
from a clock: it comes from the command's timestamp ``now_ms``, with Redis's rule —
``now_ms-0`` when that is past the last ID's milliseconds, else the last ID plus one.
Every replica computes the same ID, and IDs only grow.

Trimming (MAXLEN, MINID). ``=`` trims exactly, as Redis does. ``~`` lets Redis trim
less: it drops only whole nodes of its radix tree (100 entries or 4 KB each), so a
short stream is often not trimmed at all. Here ``~`` trims exactly like ``=``, at most
LIMIT entries (10,000 when no LIMIT is given, Redis's default; ``LIMIT 0``: no limit).
The stream then never holds more than asked, but XTRIM ``~`` may count more removed
entries than Redis would for the same stream.

XREAD answers at once (one attempt): the entries after each given ID, or the null
array when no stream has any. ``BLOCK`` is the front end's (``blocking``): it repeats
the attempt whenever a stream it reads is written. ``$`` ("only what arrives from
now on") is fine without BLOCK — nothing is newer than the last entry — but refused
with it: the stream's last ID at the time of the call would have to be pinned by the
replica that proposes the wait, which only a replicated read could tell it.

RESP3: XREAD answers a map (stream → entries), RESP2 an array of ``[stream, entries]``
pairs (``NestedMap``); everything else is the same in both.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import dropwhile, islice, takewhile
from operator import lt

from protocol.replies import NULL_ARRAY, Error, NestedMap, Reply
from storage.interface import KeyValueView, StorageError, ValueType

from . import errors
from .containers import Kind, expire_of
from .integers import parse_ll
from .spec import preparing
from .values import live_header

STREAM = ValueType.STREAM
U64_MAX = (1 << 64) - 1

StreamId = tuple[int, int]
"""``(ms, seq)``: tuples compare as Redis compares IDs."""
MIN_ID: StreamId = (0, 0)
MAX_ID: StreamId = (U64_MAX, U64_MAX)

INVALID_ID = Error("ERR Invalid stream ID specified as stream command argument")
ID_NOT_GREATER = Error(
    "ERR The ID specified in XADD is equal or smaller than the target stream top item"
)
ID_ZERO = Error("ERR The ID specified in XADD must be greater than 0-0")
EXHAUSTED = Error(
    "ERR The stream has exhausted the last possible ID, unable to add more items"
)
SEQUENCE_EXHAUSTED = Error("ERR Elements are too large to be stored")
"""``<ms>-*`` when the stream's last ID has that ``ms`` and the largest sequence number:
Redis 7.0.15 picks its text from a stale ``errno``: this one, unless the last thing that
set ``errno`` in the server was an XADD refused for an ID not above the top item (``EDOM``),
which makes it answer that refusal's text instead until something else sets ``errno`` (a
new connection, an ID argument ``string2ll`` does not take...). That is server-wide history,
reads included, which no replica sees whole: this text is the one a fresh connection gets
(the differential tests compare it there)."""
MAXLEN_NEGATIVE = Error("ERR The MAXLEN argument must be >= 0.")
LIMIT_NEGATIVE = Error("ERR The LIMIT argument must be >= 0.")
TWO_STRATEGIES = Error(
    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible"
)
LIMIT_WITHOUT_STRATEGY = Error(
    "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"
)
LIMIT_WITHOUT_APPROX = Error("ERR syntax error, LIMIT cannot be used without the special ~ option")
XTRIM_WITHOUT_STRATEGY = Error("ERR syntax error, XTRIM must be called with a trimming strategy")
INVALID_START = Error("ERR invalid start ID for the interval")
INVALID_END = Error("ERR invalid end ID for the interval")
UNBALANCED = Error(
    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified."
)
GROUP_OPTION = Error(
    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead."
)
NOACK_OPTION = Error(
    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead."
)
GREATER_THAN_ID = Error(
    "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> "
    "<consumer> option."
)
TIMEOUT_NOT_INTEGER = Error("ERR timeout is not an integer or out of range")
TIMEOUT_NEGATIVE = Error("ERR timeout is negative")
DOLLAR_WITH_BLOCK = Error(
    "ERR XREAD BLOCK with the $ ID is not supported by this server: block with the ID of "
    "the last entry you read instead (XREVRANGE key + - COUNT 1 gives the newest)"
)

APPROX_LIMIT_DEFAULT = 100 * 100
"""What ``~`` may trim without LIMIT: 100 times ``stream-node-max-entries`` (100)."""
ID_LENGTH_MAX = 127
"""The longest ID argument Redis parses (its buffer is 128 bytes with the NUL)."""


# --- the stored value ------------------------------------------------------------


INVALID_ENTRIES_READ = -1
"""A group's ``entries_read`` when it is not known (Redis's ``SCG_INVALID_ENTRIES_READ``)."""


@dataclass(slots=True)
class Pending:
    """One entry of a group's pending entries list (Redis's ``streamNACK``): who it was
    delivered to last, when (the delivering command's timestamp) and how many times."""

    consumer: bytes
    delivery_time: int
    delivery_count: int


@dataclass(slots=True)
class Consumer:
    """A consumer of a group; its pending entries are the group's whose ``consumer`` it is."""

    seen_time: int
    """The timestamp of the last command that read or claimed for it."""


@dataclass(slots=True)
class Group:
    """A consumer group (Redis's ``streamCG``). ``pel`` is in ID order and ``consumers`` in
    name order (the orders of Redis's radix trees), so every replica encodes one group the
    same way."""

    last_id: StreamId
    entries_read: int = INVALID_ENTRIES_READ
    pel: dict[StreamId, Pending] = field(default_factory=dict)
    consumers: dict[bytes, Consumer] = field(default_factory=dict)

    def copy(self) -> Group:
        return Group(
            self.last_id,
            self.entries_read,
            {
                i: Pending(p.consumer, p.delivery_time, p.delivery_count)
                for i, p in self.pel.items()
            },
            {name: Consumer(c.seen_time) for name, c in self.consumers.items()},
        )


@dataclass(slots=True)
class Stream:
    """A stream's entries (ID → flat field/value pairs, in ID order), its history, and its
    consumer groups (in name order)."""

    entries: dict[StreamId, tuple[bytes, ...]] = field(default_factory=dict)
    last_id: StreamId = MIN_ID
    """The largest ID ever added (entries deleted or trimmed since included), or what
    XSETID set."""
    max_deleted: StreamId = MIN_ID
    """The largest ID XDEL removed (Redis's ``max_deleted_entry_id``)."""
    entries_added: int = 0
    """Every entry ever added (Redis's ``entries_added``)."""
    groups: dict[bytes, Group] = field(default_factory=dict)

    def copy(self) -> Stream:
        groups = {name: group.copy() for name, group in self.groups.items()}
        return Stream(
            dict(self.entries), self.last_id, self.max_deleted, self.entries_added, groups
        )

    @property
    def first_id(self) -> StreamId:
        """Redis's ``first_id``: the first entry's ID, 0-0 when there is none."""
        return next(iter(self.entries), MIN_ID)

    @property
    def top_id(self) -> StreamId | None:
        """The last entry's ID (``streamLastValidID``), ``None`` when there is none."""
        return next(reversed(self.entries), None) if self.entries else None


_HEADER = struct.Struct(">QQQQQ")
"""A stream without groups: last ID, largest deleted ID, entries ever added."""
_HEADER_GROUPS = struct.Struct(">QQQQQQI")
"""A stream with groups: the same, then how many entries and how many groups follow."""
_ENTRY = struct.Struct(">QQI")
_GROUP = struct.Struct(">QQqII")
"""A group: its last delivered ID, ``entries_read``, how many consumers and pending entries;
its name follows, then each consumer (``_CONSUMER`` and its name), then each pending entry."""
_CONSUMER = struct.Struct(">q")
_PENDING = struct.Struct(">QQqqI")
"""A pending entry: its ID, delivery time, delivery count and its consumer's index in the
group's consumers."""


def _stream_items(stream: Stream) -> Iterable[bytes]:
    """``[header, (entry header, field, value, ...) per entry, groups...]``; an entry header
    is its ID and its number of pairs. A stream without groups has the shorter header and
    nothing after its entries (the form streams had before groups existed)."""
    if stream.groups:
        yield _HEADER_GROUPS.pack(
            *stream.last_id,
            *stream.max_deleted,
            stream.entries_added,
            len(stream.entries),
            len(stream.groups),
        )
    else:
        yield _HEADER.pack(*stream.last_id, *stream.max_deleted, stream.entries_added)
    for (ms, seq), pairs in stream.entries.items():
        yield _ENTRY.pack(ms, seq, len(pairs) // 2)
        yield from pairs
    for name, group in stream.groups.items():
        yield _GROUP.pack(
            *group.last_id, group.entries_read, len(group.consumers), len(group.pel)
        )
        yield name
        index: dict[bytes, int] = {}
        for position, (consumer_name, consumer) in enumerate(group.consumers.items()):
            index[consumer_name] = position
            yield _CONSUMER.pack(consumer.seen_time)
            yield consumer_name
        for (ms, seq), pending in group.pel.items():
            yield _PENDING.pack(
                ms, seq, pending.delivery_time, pending.delivery_count, index[pending.consumer]
            )


def _item(items: list[bytes], at: int, shape: struct.Struct, what: str) -> tuple[int, ...]:
    if at >= len(items) or len(items[at]) != shape.size:
        raise StorageError(f"a stored stream has {what} without its header")
    return shape.unpack(items[at])


def _name(items: list[bytes], at: int, previous: bytes | None, what: str) -> bytes:
    if at >= len(items):
        raise StorageError(f"a stored stream has {what} without its name")
    name = items[at]
    if previous is not None and name <= previous:
        raise StorageError(f"a stored stream's {what}s are not in name order")
    return name


def _groups_from_items(items: list[bytes], at: int, count: int) -> dict[bytes, Group]:
    groups: dict[bytes, Group] = {}
    previous: bytes | None = None
    for _ in range(count):
        # Any signed 64-bit entries_read: Redis's own counter wraps past 2**63 - 1
        # (ENTRIESREAD 9223372036854775807, then a read), and so does ours.
        ms, seq, entries_read, consumers, pending = _item(items, at, _GROUP, "a group")
        name = previous = _name(items, at + 1, previous, "group")
        group = Group((ms, seq), entries_read)
        at += 2
        names: list[bytes] = []
        for _ in range(consumers):
            (seen,) = _item(items, at, _CONSUMER, "a consumer")
            consumer = _name(items, at + 1, names[-1] if names else None, "consumer")
            names.append(consumer)
            group.consumers[consumer] = Consumer(seen)
            at += 2
        last: StreamId | None = None
        for _ in range(pending):
            p_ms, p_seq, time, deliveries, owner = _item(items, at, _PENDING, "a pending entry")
            if last is not None and (p_ms, p_seq) <= last:
                raise StorageError("a stored stream's pending entries are not in ID order")
            if owner >= len(names):
                raise StorageError("a stored stream has a pending entry of no consumer")
            last = (p_ms, p_seq)
            group.pel[last] = Pending(names[owner], time, deliveries)
            at += 1
        groups[name] = group
    if at != len(items):
        raise StorageError("a stored stream has items after its groups")
    return groups


def _stream_from_items(items: list[bytes]) -> Stream:
    """The inverse of ``_stream_items``, refusing anything no writer of ours produces."""
    if not items or len(items[0]) not in (_HEADER.size, _HEADER_GROUPS.size):
        raise StorageError("a stored stream has no header")
    entry_count: int | None = None
    group_count = 0
    if len(items[0]) == _HEADER.size:
        last_ms, last_seq, deleted_ms, deleted_seq, added = _HEADER.unpack(items[0])
    else:
        last_ms, last_seq, deleted_ms, deleted_seq, added, entry_count, group_count = (
            _HEADER_GROUPS.unpack(items[0])
        )
        if not group_count:
            raise StorageError("a stored stream's header announces no groups")
    stream = Stream({}, (last_ms, last_seq), (deleted_ms, deleted_seq), added)
    previous: StreamId | None = None
    at = 1
    while at < len(items) and (entry_count is None or len(stream.entries) < entry_count):
        if len(items[at]) != _ENTRY.size:
            raise StorageError("a stored stream has an entry without its header")
        ms, seq, count = _ENTRY.unpack(items[at])
        entry_id = (ms, seq)
        end = at + 1 + 2 * count
        if count < 1 or end > len(items):
            raise StorageError("a stored stream has an entry with a wrong number of fields")
        if previous is not None and entry_id <= previous:
            raise StorageError("a stored stream's entries are not in ID order")
        stream.entries[entry_id] = tuple(items[at + 1 : end])
        previous, at = entry_id, end
    if entry_count is not None:
        if len(stream.entries) != entry_count:
            raise StorageError("a stored stream has fewer entries than its header says")
        stream.groups = _groups_from_items(items, at, group_count)
    if previous is not None and previous > stream.last_id:
        raise StorageError("a stored stream has an entry after its last ID")
    if added < len(stream.entries):
        raise StorageError("a stored stream's header does not fit its entries")
    return stream


class _Streams(Kind[Stream]):
    """``Kind`` for streams: a missing key reads as a new, empty stream (whose payload
    would still have a header, so an empty payload is damage, not a stream)."""

    def empty(self) -> Stream:
        return Stream()

    def _is_empty(self, contents: Stream) -> bool:
        return False  # its header is stored even with no entries left


STREAMS = _Streams(STREAM, "stream", _stream_from_items, _stream_items, Stream.copy)
encode_stream = STREAMS.encode
decode_stream = STREAMS.decode


# --- IDs ---------------------------------------------------------------------------

_C_SPACE = b" \t\n\v\f\r"


def _strtoull(text: bytes) -> int | None:
    """glibc's ``strtoull`` in base 10 over all of ``text``: leading spaces and one sign
    are taken, ``-n`` wraps around 2**64, and a value beyond 64 bits is refused."""
    body = text.lstrip(_C_SPACE)
    negative = body[:1] == b"-"
    if body[:1] in (b"+", b"-"):
        body = body[1:]
    if not body.isdigit():
        return None
    value = int(body)
    if value > U64_MAX:
        return None
    return -value % (1 << 64) if negative else value


def _string2ull(text: bytes) -> int | None:
    """Redis's ``string2ull``: ``string2ll`` first (a negative number is refused), then
    ``strtoull`` for what it does not take."""
    value = parse_ll(text)
    if value is not None:
        return None if value < 0 else value
    return _strtoull(text)


def parse_id(
    raw: bytes, missing_seq: int = 0, strict: bool = True, auto_seq: bool = False
) -> tuple[StreamId, bool] | None:
    """``streamGenericParseIDOrReply``: the ID and whether its sequence was given (``False``
    only for XADD's ``<ms>-*``, allowed by ``auto_seq``), or ``None`` if invalid. ``strict``
    refuses ``-`` and ``+``."""
    if len(raw) > ID_LENGTH_MAX:
        return None
    text = errors.c_string(raw)
    if text in (b"-", b"+"):
        return None if strict else ((MIN_ID if text == b"-" else MAX_ID), True)
    ms_text, dash, seq_text = text.partition(b"-")
    ms = _string2ull(ms_text)
    if ms is None:
        return None
    if not dash:
        return (ms, missing_seq), True
    if auto_seq and seq_text == b"*":
        return (ms, 0), False
    seq = _string2ull(seq_text)
    return None if seq is None else ((ms, seq), True)


def strict_id(raw: bytes) -> StreamId | None:
    parsed = parse_id(raw)
    return None if parsed is None else parsed[0]


def strict_ids(raw: Sequence[bytes]) -> list[StreamId] | Error:
    """Every argument as an ID, or the invalid-ID error if one is not (XDEL, XACK check
    them all before acting on any)."""
    ids: list[StreamId] = []
    for arg in raw:
        entry_id = strict_id(arg)
        if entry_id is None:
            return INVALID_ID
        ids.append(entry_id)
    return ids


def next_id(entry_id: StreamId) -> StreamId | None:
    """``streamIncrID``: the ID right after, ``None`` after the last possible one."""
    ms, seq = entry_id
    if seq < U64_MAX:
        return ms, seq + 1
    return None if ms == U64_MAX else (ms + 1, 0)


def previous_id(entry_id: StreamId) -> StreamId | None:
    """``streamDecrID``: the ID right before, ``None`` before 0-0."""
    ms, seq = entry_id
    if seq > 0:
        return ms, seq - 1
    return None if ms == 0 else (ms - 1, U64_MAX)


def format_id(entry_id: StreamId) -> bytes:
    return b"%d-%d" % entry_id


def entry_replies(entries: Iterable[tuple[StreamId, tuple[bytes, ...]]]) -> list[Reply]:
    return [[format_id(entry_id), list(pairs)] for entry_id, pairs in entries]


# --- XADD and XTRIM's options ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Trim:
    """A trimming strategy: keep at most ``maxlen`` entries, or none below ``minid``;
    remove at most ``limit`` entries (0: no limit)."""

    maxlen: int | None
    minid: StreamId | None
    approx: bool
    limit: int


@dataclass(frozen=True, slots=True)
class _Add:
    trim: Trim | None
    nomkstream: bool
    entry_id: StreamId | None
    """``None``: ``*``."""
    seq_given: bool
    pairs: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class _Options:
    trim: Trim | None
    nomkstream: bool
    idpos: int
    """Where XADD's ID is (``len(args)`` when there is none)."""
    entry_id: StreamId | None
    seq_given: bool


def _options(args: Sequence[bytes], xadd: bool) -> _Options | Error:
    """``streamParseAddOrTrimArgsOrReply``: its loop — the trimming strategy, LIMIT,
    ``NOMKSTREAM`` and, for XADD, the ID, which ends the options — then its checks, in
    its order."""
    maxlen: int | None = None
    minid: StreamId | None = None
    approx = False
    limit = 0
    limit_given = nomkstream = False
    strategy = b""
    entry_id: StreamId | None = None
    seq_given = True
    i = 2
    while i < len(args):
        more = len(args) - 1 - i
        option = errors.c_string(args[i])
        lowered = option.lower()
        if xadd and option == b"*":
            break
        if lowered in (b"maxlen", b"minid") and more:
            if strategy:
                return TWO_STRATEGIES
            following = errors.c_string(args[i + 1])
            approx = more >= 2 and following == b"~"
            if more >= 2 and following in (b"~", b"="):
                i += 1
            if lowered == b"maxlen":
                maxlen = parse_ll(args[i + 1])
                if maxlen is None:
                    return errors.NOT_INTEGER
                if maxlen < 0:
                    return MAXLEN_NEGATIVE
            else:
                minid = strict_id(args[i + 1])
                if minid is None:
                    return INVALID_ID
            strategy = lowered
            i += 1
        elif lowered == b"limit" and more:
            parsed = parse_ll(args[i + 1])
            if parsed is None:
                return errors.NOT_INTEGER
            if parsed < 0:
                return LIMIT_NEGATIVE
            limit, limit_given = parsed, True
            i += 1
        elif xadd and lowered == b"nomkstream":
            nomkstream = True
        elif xadd:  # the ID, or something that is not one
            found = parse_id(args[i], auto_seq=True)
            if found is None:
                return INVALID_ID
            entry_id, seq_given = found
            break
        else:
            return errors.SYNTAX
        i += 1
    if limit and not strategy:
        return LIMIT_WITHOUT_STRATEGY
    if not xadd and not strategy:
        return XTRIM_WITHOUT_STRATEGY
    if limit_given and not approx:
        return LIMIT_WITHOUT_APPROX
    if not limit_given and approx:
        limit = APPROX_LIMIT_DEFAULT
    trim = Trim(maxlen, minid, approx, limit) if strategy else None
    return _Options(trim, nomkstream, i, entry_id, seq_given)


def _add_request(args: Sequence[bytes]) -> _Add | Error:
    """XADD's checks before the key is looked up, in ``xaddCommand``'s order: options and
    the ID, then the field/value pairs (an odd count is an arity error), then ``0-0``."""
    options = _options(args, xadd=True)
    if isinstance(options, Error):
        return options
    pairs = tuple(args[options.idpos + 1 :])
    if len(pairs) < 2 or len(pairs) % 2:
        return errors.wrong_arity(b"xadd")
    entry_id = options.entry_id
    if entry_id == MIN_ID and options.seq_given:
        return ID_ZERO
    return _Add(options.trim, options.nomkstream, entry_id, options.seq_given, pairs)


def _trim_request(args: Sequence[bytes]) -> Trim | Error:
    options = _options(args, xadd=False)
    if isinstance(options, Error):
        return options
    assert options.trim is not None, "XTRIM without a strategy is an error"
    return options.trim


def trim(stream: Stream, request: Trim) -> int:
    """Remove the oldest entries beyond MAXLEN, or below MINID, at most ``limit`` of them
    (``~`` trims like ``=``: see the module docstring). Returns how many were removed."""
    entries = stream.entries
    if request.maxlen is not None:
        excess = max(len(entries) - request.maxlen, 0)
    else:
        minid = request.minid
        assert minid is not None
        excess = 0
        for entry_id in entries:
            if entry_id >= minid:
                break
            excess += 1
    if request.limit:
        excess = min(excess, request.limit)
    if excess:
        # The oldest ``excess`` alone: a capped stream's XADD trims one entry, and
        # copying every ID to find it made XADD MAXLEN cost the whole stream.
        for entry_id in list(islice(entries, excess)):
            del entries[entry_id]
    return excess


def _new_id(stream: Stream, request: _Add, now_ms: int) -> StreamId | Error:
    """The ID XADD gives its entry (``streamAppendItem``), the clock being ``now_ms``."""
    last = stream.last_id
    if request.entry_id is None:
        if now_ms > last[0]:
            return now_ms, 0
        following = next_id(last)
        assert following is not None, "an exhausted stream was refused before"
        return following
    ms, seq = request.entry_id
    if not request.seq_given:
        if ms == last[0]:
            if last[1] == U64_MAX:
                return SEQUENCE_EXHAUSTED
            seq = last[1] + 1
        else:
            seq = 0
    if (ms, seq) <= last:
        return ID_NOT_GREATER
    return ms, seq


def cmd_xadd(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """The new entry's ID; a missing key with NOMKSTREAM answers the null bulk string and
    creates nothing. The entry is added, then the stream trimmed."""
    request = _add_request(args)
    if isinstance(request, Error):
        return request
    found = STREAMS.load(kv, args[1], now_ms)
    if isinstance(found, Error):
        return found
    old, stream = found
    if old is None and request.nomkstream:
        return None
    if stream.last_id == MAX_ID:
        return EXHAUSTED
    entry_id = _new_id(stream, request, now_ms)
    if isinstance(entry_id, Error):
        return entry_id
    stream.entries[entry_id] = request.pairs
    stream.last_id = entry_id
    stream.entries_added += 1
    if request.trim is not None:
        trim(stream, request.trim)
    STREAMS.store(kv, args[1], expire_of(old), stream)
    return format_id(entry_id)


def cmd_xtrim(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """How many entries were removed (0 for a missing key); the stream stays, even empty."""
    request = _trim_request(args)
    if isinstance(request, Error):
        return request
    found = STREAMS.load(kv, args[1], now_ms)
    if isinstance(found, Error):
        return found
    old, stream = found
    if old is None:
        return 0
    removed = trim(stream, request)
    if removed:
        STREAMS.store(kv, args[1], old.expire_ms, stream)
    return removed


def cmd_xdel(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """How many of the IDs were entries. The key is looked up first (a missing one answers
    0 whatever the IDs), then every ID is checked before any is deleted."""
    found = STREAMS.load(kv, args[1], now_ms)
    if isinstance(found, Error):
        return found
    old, stream = found
    if old is None:
        return 0
    ids = strict_ids(args[2:])
    if isinstance(ids, Error):
        return ids
    deleted = 0
    for entry_id in ids:
        if stream.entries.pop(entry_id, None) is not None:
            deleted += 1
            stream.max_deleted = max(stream.max_deleted, entry_id)
    if deleted:
        STREAMS.store(kv, args[1], old.expire_ms, stream)
    return deleted


cmd_xlen = STREAMS.reading(lambda stream, args: len(stream.entries))


# --- XRANGE, XREVRANGE ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Range:
    start: StreamId
    end: StreamId
    count: int
    """-1: no COUNT; 0 (also for a negative COUNT): the null array for an existing key."""
    reverse: bool


def interval_bound(raw: bytes, missing_seq: int) -> tuple[StreamId, bool] | None:
    """``streamParseIntervalIDOrReply``: an ID, ``-``/``+``, or ``(`` and a strict ID
    (exclusive)."""
    if len(raw) > 1 and raw[:1] == b"(":
        parsed = parse_id(raw[1:], missing_seq)
        return None if parsed is None else (parsed[0], True)
    parsed = parse_id(raw, missing_seq, strict=False)
    return None if parsed is None else (parsed[0], False)


def _range_request(args: Sequence[bytes]) -> _Range | Error:
    """``xrangeGenericCommand``'s checks, all before the key is looked up."""
    reverse = args[0].upper() == b"XREVRANGE"
    raw_start, raw_end = (args[3], args[2]) if reverse else (args[2], args[3])
    start = interval_bound(raw_start, 0)
    if start is None:
        return INVALID_ID
    first: StreamId | None = start[0]
    if start[1]:
        first = next_id(start[0])
        if first is None:
            return INVALID_START
    end = interval_bound(raw_end, U64_MAX)
    if end is None:
        return INVALID_ID
    last: StreamId | None = end[0]
    if end[1]:
        last = previous_id(end[0])
        if last is None:
            return INVALID_END
    assert first is not None and last is not None
    count = -1
    j = 4
    while j < len(args):
        if errors.c_string(args[j]).lower() == b"count" and j + 1 < len(args):
            parsed = parse_ll(args[j + 1])
            if parsed is None:
                return errors.NOT_INTEGER
            count = max(parsed, 0)
            j += 2
        else:
            return errors.SYNTAX
    return _Range(first, last, count, reverse)


def cmd_xrange(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """XRANGE and XREVRANGE: entries from ``start`` to ``end`` (both included), oldest
    first or newest first, at most COUNT of them."""
    request = _range_request(args)
    if isinstance(request, Error):
        return request
    stream = STREAMS.load_shared(kv, args[1], now_ms)
    if isinstance(stream, Error):
        return stream
    if request.count == 0:
        # The null array for a stream that exists, even an emptied one (no header read
        # otherwise: a missing key reads as an empty stream, which selects nothing).
        return NULL_ARRAY if live_header(kv, args[1], now_ms) is not None else []
    # Entries are kept in ID order: walk from the end the range starts at and stop at
    # its other end or at COUNT, so a page from either end of a long stream costs what
    # the page does.
    start, end = request.start, request.end
    entries = stream.entries
    if request.reverse:
        ids = takewhile(lambda i: i >= start, dropwhile(lambda i: i > end, reversed(entries)))
    else:
        ids = takewhile(lambda i: i <= end, dropwhile(lambda i: i < start, entries))
    limit = request.count if request.count > 0 else None
    return entry_replies([(i, entries[i]) for i in islice(ids, limit)])


# --- XREAD ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Read:
    """An XREAD or XREADGROUP request: ``timeout_ms`` is ``None`` without BLOCK (0: wait for
    ever); ``group`` and ``consumer`` are XREADGROUP's (``None`` for XREAD)."""

    timeout_ms: int | None
    count: int
    """0: no limit."""
    keys: Sequence[bytes]
    ids: Sequence[bytes]
    group: bytes | None = None
    consumer: bytes | None = None
    noack: bool = False


MISSING_GROUP = Error("ERR Missing GROUP option for XREADGROUP")


def read_request(args: Sequence[bytes], xreadgroup: bool = False) -> Read | Error:
    """``xreadCommand``'s option loop and its checks, before any key is looked up."""
    timeout: int | None = None
    count = 0
    group: bytes | None = None
    consumer: bytes | None = None
    noack = False
    i = 1
    while i < len(args):
        more = len(args) - i - 1
        option = errors.c_string(args[i]).lower()
        if option == b"block" and more:
            i += 1
            timeout = parse_ll(args[i])
            if timeout is None:
                return TIMEOUT_NOT_INTEGER
            if timeout < 0:
                return TIMEOUT_NEGATIVE
        elif option == b"count" and more:
            i += 1
            parsed = parse_ll(args[i])
            if parsed is None:
                return errors.NOT_INTEGER
            count = max(parsed, 0)
        elif option == b"streams" and more:
            listed = args[i + 1 :]
            if len(listed) % 2:
                return UNBALANCED
            if xreadgroup and group is None:
                return MISSING_GROUP
            half = len(listed) // 2
            return Read(timeout, count, listed[:half], listed[half:], group, consumer, noack)
        elif option == b"group" and more >= 2:
            if not xreadgroup:
                return GROUP_OPTION
            group, consumer = args[i + 1], args[i + 2]
            i += 2
        elif option == b"noack":
            if not xreadgroup:
                return NOACK_OPTION
            noack = True
        else:
            return errors.SYNTAX
        i += 1
    return errors.SYNTAX


def prepare_xread(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    """The options are checked here; IDs only at execution, where Redis checks each after
    its stream's type. ``$`` is refused with BLOCK (see the module docstring)."""
    request = read_request(args)
    if isinstance(request, Error):
        return request
    if request.timeout_ms is not None and any(errors.c_string(i) == b"$" for i in request.ids):
        return DOLLAR_WITH_BLOCK
    return (b"XREAD", *args[1:])


def prepare_xread_queued(args: Sequence[bytes], now_ms: int) -> tuple[bytes, ...] | Error:
    """``prepare_xread`` inside MULTI, where nothing blocks: BLOCK is ignored, as Redis
    ignores it there, so ``$`` reads only what arrives after it — nothing — and is not
    refused."""
    request = read_request(args)
    if isinstance(request, Error):
        return request
    return (b"XREAD", *args[1:])


def cmd_xread(kv: KeyValueView, args: tuple[bytes, ...], now_ms: int, seed: int) -> Reply:
    """One XREAD attempt (BLOCK plays no part here): for each stream with entries after
    its ID, the stream and those entries (at most COUNT); the null array when none has
    any. Each stream's type is checked before its ID is read, in order; ``$`` is the
    stream's last ID."""
    request = read_request(args)
    if isinstance(request, Error):
        return request
    wanted: list[tuple[bytes, Stream, StreamId]] = []
    for key, raw in zip(request.keys, request.ids, strict=True):
        stream = STREAMS.load_shared(kv, key, now_ms)
        if isinstance(stream, Error):
            return stream
        token = errors.c_string(raw)
        if token == b"$":
            after = stream.last_id
        elif token == b">":
            return GREATER_THAN_ID
        else:
            parsed = strict_id(raw)
            if parsed is None:
                return INVALID_ID
            after = parsed
        wanted.append((key, stream, after))
    served: list[tuple[Reply, Reply]] = []
    for key, stream, after in wanted:
        # What is new sits at the end (entries are kept in ID order): walk back to it.
        entries = stream.entries
        news = [(i, entries[i]) for i in takewhile(partial(lt, after), reversed(entries))]
        news.reverse()
        if news:
            if request.count:
                news = news[: request.count]
            served.append((key, entry_replies(news)))
    return NestedMap(served) if served else NULL_ARRAY


def read_wait(op: tuple[bytes, ...]) -> tuple[tuple[bytes, ...], int] | None:
    """The keys a prepared XREAD BLOCK waits on and its timeout in ms; ``None`` without
    BLOCK (it answers at once)."""
    request = read_request(op)
    assert not isinstance(request, Error), "prepare_xread refused this op"
    if request.timeout_ms is None:
        return None
    return tuple(request.keys), request.timeout_ms


prepare_xadd = preparing(_add_request)
prepare_xtrim = preparing(_trim_request)
prepare_xrange = preparing(_range_request)

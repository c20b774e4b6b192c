"""Redis's serialized-value format (RDB objects), for DUMP and RESTORE.

A DUMP payload is what Redis writes for one value in an RDB file: one byte of
object type, the object, then a footer of the RDB version (2 bytes, little
endian; 10 for Redis 7.0) and a CRC64 of everything before the CRC (Redis's
``crc64``: the Jones polynomial, reflected, little endian). Migration tools
move data between servers with DUMP and RESTORE, so this module speaks the
format both ways: ``dump_payload`` turns a stored value into a payload, and
``restore_value`` turns a payload into the stored form of its value.

Reading (``restore_value``) takes every encoding Redis 7.0 reads: strings raw,
integer-encoded and LZF-compressed; lists as quicklists of listpacks (with
plain nodes) and, from older servers, of ziplists, as one ziplist, or as a
plain sequence; sets as an intset or a sequence; hashes and sorted sets as a
listpack, a ziplist, a zipmap (Redis 2.4) or a sequence (scores as binary
doubles, or as text from servers before RDB 8); streams as Redis 5 to 7.0
write them, consumer groups included. Not read: module values (no modules
here), which are "Bad data format".

Every payload is checked as Redis 7.0 checks one with ``sanitize-dump-payload
yes``: listpacks, ziplists, zipmaps and intsets entry by entry, stream
listpacks record by record, no duplicate members, fields, consumer groups or
consumers, no empty collection, every pending entry owned by a consumer.
Redis 7.0 by default checks only the headers of listpacks and intsets (and
later asserts, or serves nonsense, on what it accepted). A value stored here
must also be one its commands can work with, so a few things even a
sanitizing Redis accepts are refused too: a sorted-set listpack or ziplist out
of order, a score that is NaN or not a number, a stream whose length,
last ID or count of entries added contradicts its entries, whose entries are
out of order, or whose pending entry two consumers own. Whatever is refused
raises ``Corrupt`` (RESTORE's "Bad data format") before the key is touched.
Decoding never allocates by a count the payload claims: nothing is sized from
a count, a count of items is checked against the bytes left before any is
read, and each item takes at least a byte, so the work is bounded by the
payload's size (LZF expands at most 264 bytes per control byte;
``lzf.decompress``).

Writing (``dump_payload``) produces what Redis 7.0 produces for a value built
the usual way, under its default thresholds: a hash of at most 512 fields and
a sorted set of at most 128 members whose strings are at most 64 bytes are a
listpack (else a sequence: the hash in insertion order, where Redis uses its
hash table's order; the sorted set from its greatest member, as Redis does);
a set of at most 512 integers an intset (else a sequence, in insertion
order); a list a quicklist whose nodes are split as successive RPUSHes split
them (8 KB listpacks, ``list-max-listpack-size -2``); a stream as successive
XADDs lay it out (nodes of at most 100 entries or 4 KB); strings are
integer-encoded and LZF-compressed as ``rdbSaveRawString`` does. Where Redis's
bytes depend on history rather than on the value, ours are those of the value
built afresh: a hash or set that once grew past a threshold stays a hash
table in Redis, an intset keeps the widest integer size it ever held, list
nodes are split differently after pushes at the head, pops or inserts, and a
stream keeps deleted entries as tombstones inside its nodes. Strings longer
than ``COMPRESS_MAX`` are stored uncompressed: LZF runs at about a megabyte a
second in Python. Every such payload is still one Redis reads back as the same
value.
"""

from __future__ import annotations

import math
import re
import struct
from array import array
from collections.abc import Callable, Iterable, Sequence
from itertools import pairwise
from sys import byteorder

from storage.interface import Value, ValueType

from . import lzf
from .groups import _estimate as estimate_entries_read
from .hashes import HASHES
from .integers import LLONG_MAX, parse_ll
from .lists import decode_list, encode_list
from .sets import INTSET_ENTRIES_MAX, SETS
from .streams import (
    STREAMS,
    Consumer,
    Group,
    Pending,
    Stream,
    StreamId,
)
from .zsets import (
    ZSET_LISTPACK_ENTRIES,
    ZSET_LISTPACK_VALUE,
    ZSETS,
    kept_scores,
    ordered,
    parse_score,
)

RDB_VERSION = 10
"""Redis 7.0's RDB version: DUMP writes it, RESTORE refuses payloads from a newer one."""
FOOTER_SIZE = 10
OP_FUNCTION = 0xF5
"""``RDB_OPCODE_FUNCTION2``: a function library, in an RDB file or a FUNCTION DUMP payload."""
OP_FUNCTION_PRE_GA = 0xF6
"""The format of Redis 7.0's release candidates, which Redis 7.0 itself refuses."""

# Object types (rdb.h).
TYPE_STRING = 0
TYPE_LIST = 1
TYPE_SET = 2
TYPE_ZSET = 3
TYPE_HASH = 4
TYPE_ZSET_2 = 5
TYPE_HASH_ZIPMAP = 9
TYPE_LIST_ZIPLIST = 10
TYPE_SET_INTSET = 11
TYPE_ZSET_ZIPLIST = 12
TYPE_HASH_ZIPLIST = 13
TYPE_LIST_QUICKLIST = 14
TYPE_STREAM_LISTPACKS = 15
TYPE_HASH_LISTPACK = 16
TYPE_ZSET_LISTPACK = 17
TYPE_LIST_QUICKLIST_2 = 18
TYPE_STREAM_LISTPACKS_2 = 19

HASH_LISTPACK_ENTRIES = 512
"""``hash-max-listpack-entries``: 512 in Redis 7.0 (its code and its redis.conf), not 128."""
HASH_LISTPACK_VALUE = 64
LIST_NODE_BYTES = 8192
"""``list-max-listpack-size -2``: a quicklist node's listpack holds at most 8 KB."""
_ENTRY_OVERHEAD = 8
"""``SIZE_ESTIMATE_OVERHEAD``: what a quicklist counts for an entry's header and backlen."""
STREAM_NODE_BYTES = 4096
STREAM_NODE_ENTRIES = 100
COMPRESS_MIN = 21
"""Redis tries LZF only on strings longer than 20 bytes."""
COMPRESS_MAX = 1 << 20
"""Longer strings are written uncompressed (see the module docstring)."""

_U64 = 1 << 64
_INT32_MIN, _INT32_MAX = -(1 << 31), (1 << 31) - 1


class Corrupt(Exception):
    """A payload whose object does not decode: RESTORE answers "Bad data format"."""


# --- CRC64 ------------------------------------------------------------------------------

_CRC_POLY = 0x95AC9329AC4BC9B5
"""The Jones polynomial (0xad93d23594c935a9), bit-reflected: Redis's ``crc64``."""


def _crc_tables() -> list[list[int]]:
    """Tables for slicing by 8: table ``k`` gives a byte's effect ``k`` bytes further on."""
    first = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _CRC_POLY if crc & 1 else crc >> 1
        first.append(crc)
    tables = [first]
    for _ in range(7):
        last = tables[-1]
        tables.append([(c >> 8) ^ first[c & 0xFF] for c in last])
    return tables


_CRC = _crc_tables()


def crc64(data: bytes | memoryview, crc: int = 0) -> int:
    """Redis's ``crc64(crc, data, len)``. Eight bytes per step (a Python loop costs about
    0.1 µs a byte; this is the part of DUMP and RESTORE that grows with the value)."""
    t0, t1, t2, t3, t4, t5, t6, t7 = _CRC
    view = memoryview(data)
    whole = len(view) & ~7
    if whole and byteorder == "little":
        for word in view[:whole].cast("Q"):
            crc ^= word
            crc = (
                t7[crc & 0xFF] ^ t6[(crc >> 8) & 0xFF] ^ t5[(crc >> 16) & 0xFF]
                ^ t4[(crc >> 24) & 0xFF] ^ t3[(crc >> 32) & 0xFF] ^ t2[(crc >> 40) & 0xFF]
                ^ t1[(crc >> 48) & 0xFF] ^ t0[crc >> 56]
            )  # fmt: skip
    else:  # pragma: no cover - big-endian hosts
        whole = 0
    for byte in view[whole:]:
        crc = t0[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc


def frame(body: bytes) -> bytes:
    """A payload: the object, the RDB version, and the CRC64 of both."""
    signed = body + RDB_VERSION.to_bytes(2, "little")
    return signed + crc64(signed).to_bytes(8, "little")


def footer_ok(payload: bytes) -> bool:
    """``verifyDumpPayload``: a footer, of an RDB version Redis 7.0 reads, and a CRC that
    matches."""
    if len(payload) < FOOTER_SIZE:
        return False
    version = int.from_bytes(payload[-FOOTER_SIZE : -FOOTER_SIZE + 2], "little")
    if version > RDB_VERSION:
        return False
    return crc64(memoryview(payload)[:-8]) == int.from_bytes(payload[-8:], "little")


# --- writing ----------------------------------------------------------------------------


def _length(value: int) -> bytes:
    """``rdbSaveLen``: 6, 14, 32 or 64 bits, the first two bits saying which."""
    if value < 1 << 6:
        return bytes((value,))
    if value < 1 << 14:
        return bytes((0x40 | value >> 8, value & 0xFF))
    if value <= 0xFFFFFFFF:
        return b"\x80" + value.to_bytes(4, "big")
    return b"\x81" + value.to_bytes(8, "big")


def _string(data: bytes) -> bytes:
    """``rdbSaveRawString``: a small integer as 1, 2 or 4 bytes, a longer string LZF
    compressed if that saves at least 4 bytes, else the length and the bytes."""
    size = len(data)
    if size <= 11:
        number = parse_ll(data)
        if number is not None and _INT32_MIN <= number <= _INT32_MAX:
            if -(1 << 7) <= number < 1 << 7:
                return b"\xc0" + number.to_bytes(1, "little", signed=True)
            if -(1 << 15) <= number < 1 << 15:
                return b"\xc1" + number.to_bytes(2, "little", signed=True)
            return b"\xc2" + number.to_bytes(4, "little", signed=True)
    if COMPRESS_MIN <= size <= COMPRESS_MAX:
        packed = lzf.compress(data, size - 4)
        if packed is not None:
            return b"\xc3" + _length(len(packed)) + _length(size) + packed
    return _length(size) + data


def _backlen(size: int) -> bytes:
    """``lpEncodeBacklen``: an entry's size, written to be read right to left."""
    if size <= 127:
        return bytes((size,))
    if size < 16383:
        return bytes((size >> 7, (size & 127) | 128))
    if size < 2097151:
        return bytes((size >> 14, ((size >> 7) & 127) | 128, (size & 127) | 128))
    if size < 268435455:
        return bytes(
            (size >> 21, ((size >> 14) & 127) | 128, ((size >> 7) & 127) | 128, (size & 127) | 128)
        )
    return bytes(
        (
            size >> 28,
            ((size >> 21) & 127) | 128,
            ((size >> 14) & 127) | 128,
            ((size >> 7) & 127) | 128,
            (size & 127) | 128,
        )
    )


def _lp_integer(value: int) -> bytes:
    """``lpEncodeIntegerGetType``: the smallest integer encoding that holds ``value``."""
    if 0 <= value <= 127:
        return bytes((value,))
    if -4096 <= value <= 4095:
        value &= 0x1FFF
        return bytes((0xC0 | value >> 8, value & 0xFF))
    if -32768 <= value <= 32767:
        return b"\xf1" + value.to_bytes(2, "little", signed=True)
    if -8388608 <= value <= 8388607:
        return b"\xf2" + value.to_bytes(3, "little", signed=True)
    if _INT32_MIN <= value <= _INT32_MAX:
        return b"\xf3" + value.to_bytes(4, "little", signed=True)
    return b"\xf4" + value.to_bytes(8, "little", signed=True)


def _lp_entry(item: bytes | int) -> bytes:
    """One listpack entry with its backlen: an integer, or a string as ``lpAppend`` stores
    it (as an integer when ``lpStringToInt64`` reads it as one)."""
    if isinstance(item, int):
        encoded = _lp_integer(item)
    else:
        number = parse_ll(item)
        if number is not None:
            encoded = _lp_integer(number)
        else:
            size = len(item)
            if size < 64:
                encoded = bytes((0x80 | size,)) + item
            elif size < 4096:
                encoded = bytes((0xE0 | size >> 8, size & 0xFF)) + item
            else:
                encoded = b"\xf0" + size.to_bytes(4, "little") + item
    return encoded + _backlen(len(encoded))


def _listpack(entries: Sequence[bytes]) -> bytes:
    """A listpack of encoded entries (``_lp_entry``): total bytes, count (65535 when it
    does not fit: "unknown"), the entries, the end byte."""
    body = b"".join(entries)
    total = 6 + len(body) + 1
    return (
        total.to_bytes(4, "little")
        + min(len(entries), 0xFFFF).to_bytes(2, "little")
        + body
        + b"\xff"
    )


def _d2string(score: float) -> bytes:
    """``d2string``: how a sorted-set listpack spells a score (integers as integers)."""
    if math.isinf(score):
        return b"inf" if score > 0 else b"-inf"
    if score == 0:
        return b"-0" if math.copysign(1.0, score) < 0 else b"0"
    if -4503599627370495 < score < 4503599627370496 and score == int(score):
        return b"%d" % int(score)
    return b"%.17g" % score


def _intset(values: list[int]) -> bytes:
    """An intset: element size (2, 4 or 8 bytes, the smallest that holds every value),
    count, the values ascending, little endian."""
    values.sort()
    low, high = values[0], values[-1]
    if low >= -(1 << 15) and high < 1 << 15:
        size, code = 2, "h"
    elif low >= _INT32_MIN and high <= _INT32_MAX:
        size, code = 4, "i"
    else:
        size, code = 8, "q"
    return struct.pack(f"<II{len(values)}{code}", size, len(values), *values)


def _dump_string(payload: bytes) -> bytes:
    return bytes((TYPE_STRING,)) + _string(payload)


def _list_nodes(elements: Sequence[bytes]) -> list[bytes]:
    """The listpacks of the quicklist that RPUSHes of ``elements`` build: an element goes
    into the tail node while ``_quicklistNodeAllowInsert`` says it fits (the node's bytes,
    the element's and 8 for its header and backlen, at most 8 KB), else into a new node."""
    nodes: list[bytes] = []
    entries: list[bytes] = []
    node_size = 0
    for element in elements:
        if entries and node_size + len(element) + _ENTRY_OVERHEAD > LIST_NODE_BYTES:
            nodes.append(_listpack(entries))
            entries = []
        entry = _lp_entry(element)
        entries.append(entry)
        node_size = (node_size if len(entries) > 1 else 7) + len(entry)
    nodes.append(_listpack(entries))
    return nodes


def _dump_list(payload: bytes) -> bytes:
    nodes = _list_nodes(decode_list(payload))
    out = [bytes((TYPE_LIST_QUICKLIST_2,)), _length(len(nodes))]
    for node in nodes:
        out += (b"\x02", _string(node))  # container 2: a packed (listpack) node
    return b"".join(out)


def _dump_set(payload: bytes) -> bytes:
    members = list(SETS.decode_shared(payload))
    if len(members) <= INTSET_ENTRIES_MAX:
        numbers = [parse_ll(member) for member in members]
        integers = [n for n in numbers if n is not None]
        if len(integers) == len(members):
            return bytes((TYPE_SET_INTSET,)) + _string(_intset(integers))
    out = [bytes((TYPE_SET,)), _length(len(members))]
    out += map(_string, members)
    return b"".join(out)


def _dump_hash(payload: bytes) -> bytes:
    fields = HASHES.decode_shared(payload)
    if len(fields) <= HASH_LISTPACK_ENTRIES and all(
        len(field) <= HASH_LISTPACK_VALUE and len(value) <= HASH_LISTPACK_VALUE
        for field, value in fields.items()
    ):
        entries = [_lp_entry(item) for pair in fields.items() for item in pair]
        return bytes((TYPE_HASH_LISTPACK,)) + _string(_listpack(entries))
    out = [bytes((TYPE_HASH,)), _length(len(fields))]
    for field, value in fields.items():
        out += (_string(field), _string(value))
    return b"".join(out)


def _dump_zset(payload: bytes) -> bytes:
    entries = ordered(ZSETS.decode_shared(payload))
    if len(entries) <= ZSET_LISTPACK_ENTRIES and all(
        len(member) <= ZSET_LISTPACK_VALUE for member, _ in entries
    ):
        items = [
            _lp_entry(item) for member, score in entries for item in (member, _d2string(score))
        ]
        return bytes((TYPE_ZSET_LISTPACK,)) + _string(_listpack(items))
    out = [bytes((TYPE_ZSET_2,)), _length(len(entries))]
    for member, score in reversed(entries):  # Redis walks its skiplist from the tail
        out += (_string(member), struct.pack("<d", score))
    return b"".join(out)


def _id_bytes(entry_id: StreamId) -> bytes:
    """A stream ID as Redis keys its radix trees: 128 bits, big endian."""
    return entry_id[0].to_bytes(8, "big") + entry_id[1].to_bytes(8, "big")


def _int64(value: int) -> int:
    value %= _U64
    return value - _U64 if value > LLONG_MAX else value


def _stream_nodes(stream: Stream) -> list[tuple[StreamId, bytes]]:
    """The radix tree nodes successive XADDs of ``stream``'s entries build
    (``streamAppendItem``): a node takes entries until it holds 100 or its listpack plus the
    next entry's fields and values reach 4 KB. A node starts with a master entry (counts and
    the first entry's field names); an entry with the same field names stores only its
    values (``SAMEFIELDS``). IDs are differences from the node's first ID."""
    nodes: list[tuple[StreamId, bytes]] = []
    master: StreamId = (0, 0)
    fields: tuple[bytes, ...] = ()
    entries: list[bytes] = []
    count = size = 0

    def close() -> None:
        entries[0] = _lp_entry(count)
        nodes.append((master, _listpack(entries)))

    for entry_id, pairs in stream.entries.items():
        names = pairs[0::2]
        if entries and (size + sum(map(len, pairs)) >= STREAM_NODE_BYTES or count >= 100):
            close()
            entries = []
        if not entries:
            master, fields, count = entry_id, names, 0
            header: list[bytes | int] = [1, 0, len(names), *names, 0]
            entries = list(map(_lp_entry, header))
        count += 1
        same = names == fields
        record: list[bytes | int] = [
            2 if same else 0,
            _int64(entry_id[0] - master[0]),
            _int64(entry_id[1] - master[1]),
        ]
        if same:
            record += pairs[1::2]
            record.append(len(names) + 3)
        else:
            record.append(len(names))
            record += pairs
            record.append(2 * len(names) + 4)
        entries += map(_lp_entry, record)
        size = 7 + sum(map(len, entries))
    if entries:
        close()
    return nodes


def _dump_stream(payload: bytes) -> bytes:
    stream = STREAMS.decode_shared(payload)
    nodes = _stream_nodes(stream)
    out = [bytes((TYPE_STREAM_LISTPACKS_2,)), _length(len(nodes))]
    for master, listpack in nodes:
        out += (_string(_id_bytes(master)), _string(listpack))
    first = stream.first_id
    out += map(
        _length,
        (len(stream.entries), *stream.last_id, *first, *stream.max_deleted, stream.entries_added),
    )
    out.append(_length(len(stream.groups)))
    for name, group in stream.groups.items():
        out += (
            _string(name),
            _length(group.last_id[0]),
            _length(group.last_id[1]),
            _length(group.entries_read % _U64),
            _length(len(group.pel)),
        )
        for entry_id, pending in group.pel.items():
            out += (
                _id_bytes(entry_id),
                struct.pack("<q", pending.delivery_time),
                _length(pending.delivery_count % _U64),
            )
        out.append(_length(len(group.consumers)))
        for consumer_name, consumer in group.consumers.items():
            owned = [i for i, pending in group.pel.items() if pending.consumer == consumer_name]
            out += (
                _string(consumer_name),
                struct.pack("<q", consumer.seen_time),
                _length(len(owned)),
            )
            out += map(_id_bytes, owned)
    return b"".join(out)


_DUMPERS: dict[ValueType, Callable[[bytes], bytes]] = {
    ValueType.STRING: _dump_string,
    ValueType.LIST: _dump_list,
    ValueType.SET: _dump_set,
    ValueType.HASH: _dump_hash,
    ValueType.ZSET: _dump_zset,
    ValueType.STREAM: _dump_stream,
}


def rdb_object(value: Value) -> bytes:
    """A stored value as an RDB object: its type byte and its serialization (what an RDB
    file holds after the key, and a DUMP payload before its footer)."""
    return _DUMPERS[value.type](value.payload)


def dump_payload(value: Value) -> bytes:
    """DUMP's reply for a stored value: its RDB object and the footer."""
    return frame(rdb_object(value))


# --- reading ----------------------------------------------------------------------------


class _Reader:
    """The payload from its start, as Redis's ``rio`` reads it: over the whole payload,
    footer included (an object may run into it; bytes left over are ignored)."""

    __slots__ = ("at", "data")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def left(self) -> int:
        return len(self.data) - self.at

    def take(self, size: int) -> bytes:
        if size > self.left():
            raise Corrupt("the payload ends inside an object")
        start = self.at
        self.at += size
        return self.data[start : self.at]

    def byte(self) -> int:
        if self.at >= len(self.data):
            raise Corrupt("the payload ends inside an object")
        self.at += 1
        return self.data[self.at - 1]

    def length(self) -> tuple[int, bool]:
        """``rdbLoadLenByRef``: a length, or (``True``) the code of a special encoding."""
        first = self.byte()
        kind = first >> 6
        if kind == 3:
            return first & 0x3F, True
        if kind == 0:
            return first & 0x3F, False
        if kind == 1:
            return (first & 0x3F) << 8 | self.byte(), False
        if first == 0x80:
            return int.from_bytes(self.take(4), "big"), False
        if first == 0x81:
            return int.from_bytes(self.take(8), "big"), False
        raise Corrupt("unknown length encoding")

    def count(self) -> int:
        """``rdbLoadLen(rdb, NULL)``: a count (a special encoding reads as its code)."""
        return self.length()[0]

    def items(self, per_item: int = 1) -> int:
        """A count of things of at least ``per_item`` bytes each: more than the bytes left
        can hold is refused before anything is read for them."""
        number = self.count()
        if number * per_item > self.left():
            raise Corrupt("a count larger than the payload")
        return number

    def string(self) -> bytes:
        """``rdbGenericLoadStringObject``."""
        size, encoded = self.length()
        if not encoded:
            return self.take(size)
        if size == 0:
            return b"%d" % int.from_bytes(self.take(1), "little", signed=True)
        if size == 1:
            return b"%d" % int.from_bytes(self.take(2), "little", signed=True)
        if size == 2:
            return b"%d" % int.from_bytes(self.take(4), "little", signed=True)
        if size == 3:
            packed_size = self.count()
            size = self.count()
            text = lzf.decompress(self.take(packed_size), size)
            if text is None:
                raise Corrupt("an LZF string does not decompress to its length")
            return text
        raise Corrupt("unknown string encoding")

    def binary_double(self) -> float:
        value: float = struct.unpack("<d", self.take(8))[0]
        return value

    def text_double(self) -> float:
        """``rdbLoadDoubleValue``: a length byte (253 NaN, 254 inf, 255 -inf) and text read
        with ``sscanf("%lg")``."""
        size = self.byte()
        if size == 253:
            return math.nan
        if size == 254:
            return math.inf
        if size == 255:
            return -math.inf
        value = _scan_double(self.take(size))
        if value is None:
            raise Corrupt("a score that is not a number")
        return value

    def millis(self) -> int:
        return int.from_bytes(self.take(8), "little", signed=True)

    def stream_id(self) -> StreamId:
        raw = self.take(16)
        return int.from_bytes(raw[:8], "big"), int.from_bytes(raw[8:], "big")


_SCANNED_DOUBLE = re.compile(
    rb"[ \t\n\v\f\r]*([+-]?(?:inf(?:inity)?|nan|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?))",
    re.IGNORECASE,
)


def _scan_double(text: bytes) -> float | None:
    """``sscanf(text, "%lg")``: leading spaces, then the longest prefix that is a decimal
    number, ``inf`` or ``nan`` (Redis wrote these scores with ``%.17g``, never in hex)."""
    found = _SCANNED_DOUBLE.match(text)
    return None if found is None else float(found.group(1))


def _le(data: bytes, start: int, size: int) -> int:
    return int.from_bytes(data[start : start + size], "little")


def _backlen_at(blob: bytes, last: int) -> int:
    """``lpDecodeBacklen`` of the backlen ending at ``last`` (-1 past five bytes)."""
    value = shift = 0
    while last >= 0:
        byte = blob[last]
        value |= (byte & 127) << shift
        if not byte & 128:
            return value
        shift += 7
        last -= 1
        if shift > 28:
            return -1
    return -1


def listpack_items(blob: bytes) -> list[bytes]:
    """The elements of a listpack, validated as ``lpValidateIntegrity(deep)`` does: the
    header's size, the end byte, every entry's encoding, bounds and backlen, the count."""
    size = len(blob)
    if size < 7 or _le(blob, 0, 4) != size or blob[-1] != 0xFF:
        raise Corrupt("a listpack header that does not fit")
    last = size - 1
    items: list[bytes] = []
    at = 6
    while blob[at] != 0xFF:
        first = blob[at]
        if first < 0x80:
            header, length = 1, 0
            item = b"%d" % first
        elif first < 0xC0:
            header, length = 1, first & 0x3F
        elif first < 0xE0:
            header, length = 1, 1
        elif first < 0xF0:
            if at + 2 > last:
                raise Corrupt("a listpack entry past the end")
            header, length = 2, (first & 0x0F) << 8 | blob[at + 1]
        elif first == 0xF0:
            if at + 5 > last:
                raise Corrupt("a listpack entry past the end")
            header, length = 5, _le(blob, at + 1, 4)
        elif first <= 0xF4:
            header, length = 1, (2, 3, 4, 8)[first - 0xF1]
        else:
            raise Corrupt("an unknown listpack encoding")
        encoded = header + length
        end = at + encoded + len(_backlen(encoded))
        if end > last or _backlen_at(blob, end - 1) != encoded:
            raise Corrupt("a listpack entry past the end or with a wrong backlen")
        if first >= 0x80:
            body = blob[at + header : at + encoded]
            if first < 0xC0 or 0xE0 <= first <= 0xF0:
                item = body
            elif first < 0xE0:
                value = (first & 0x1F) << 8 | body[0]
                item = b"%d" % (value - 8192 if value >= 4096 else value)
            else:
                item = b"%d" % int.from_bytes(body, "little", signed=True)
        items.append(item)
        at = end
    if at != last:
        raise Corrupt("a listpack whose entries end before its end")
    count = _le(blob, 4, 2)
    if count != 0xFFFF and count != len(items):
        raise Corrupt("a listpack whose count is wrong")
    return items


_ZIPLIST_INTS = {0xC0: 2, 0xD0: 4, 0xE0: 8, 0xF0: 3, 0xFE: 1}


def ziplist_items(blob: bytes) -> list[bytes]:
    """The elements of a ziplist (Redis before 7.0), validated as
    ``ziplistValidateIntegrity(deep)`` does: header, end byte, tail offset, each entry's
    encoding and bounds, each entry's record of the previous one's size, the count."""
    size = len(blob)
    if size < 11 or _le(blob, 0, 4) != size or blob[-1] != 0xFF:
        raise Corrupt("a ziplist header that does not fit")
    tail = _le(blob, 4, 4)
    if tail > size - 1:
        raise Corrupt("a ziplist tail past the end")
    last = size - 1
    items: list[bytes] = []
    at, previous, previous_size = 10, -1, 0
    while blob[at] != 0xFF:
        if blob[at] < 254:
            prevlen_size, prevlen = 1, blob[at]
        else:
            if at + 5 > last:
                raise Corrupt("a ziplist entry past the end")
            prevlen_size, prevlen = 5, _le(blob, at + 1, 4)
        if prevlen != previous_size:
            raise Corrupt("a ziplist entry with a wrong previous size")
        head = at + prevlen_size
        if head > last:
            raise Corrupt("a ziplist entry past the end")
        encoding = blob[head]
        kind = encoding >> 6
        if kind == 0:
            lensize, length = 1, encoding & 0x3F
        elif kind == 1:
            if head + 1 > last:
                raise Corrupt("a ziplist entry past the end")
            lensize, length = 2, (encoding & 0x3F) << 8 | blob[head + 1]
        elif kind == 2:
            if head + 4 > last:
                raise Corrupt("a ziplist entry past the end")
            lensize, length = 5, int.from_bytes(blob[head + 1 : head + 5], "big")
        elif encoding in _ZIPLIST_INTS:
            lensize, length = 1, _ZIPLIST_INTS[encoding]
        elif 0xF1 <= encoding <= 0xFD:
            lensize, length = 1, 0
        else:
            raise Corrupt("an unknown ziplist encoding")
        end = head + lensize + length
        if end > last:
            raise Corrupt("a ziplist entry past the end")
        body = blob[head + lensize : end]
        if kind < 3:
            items.append(body)
        elif length:
            items.append(b"%d" % int.from_bytes(body, "little", signed=True))
        else:
            items.append(b"%d" % ((encoding & 0x0F) - 1))
        previous, previous_size = at, end - at
        at = end
    if at != last:
        raise Corrupt("a ziplist whose entries end before its end")
    if previous >= 0 and previous != tail:
        raise Corrupt("a ziplist tail offset that is not its last entry")
    count = _le(blob, 8, 2)
    if count != 0xFFFF and count != len(items):
        raise Corrupt("a ziplist whose count is wrong")
    return items


def intset_members(blob: bytes) -> list[bytes]:
    """The members of an intset, validated as ``intsetValidateIntegrity(deep)`` does:
    element size 2, 4 or 8, a size that fits the count exactly, at least one member,
    strictly ascending."""
    if len(blob) < 8:
        raise Corrupt("an intset header that does not fit")
    width = _le(blob, 0, 4)
    count = _le(blob, 4, 4)
    if width not in (2, 4, 8) or 8 + count * width != len(blob) or not count:
        raise Corrupt("an intset that does not fit its header")
    values = array({2: "h", 4: "i", 8: "q"}[width])
    if values.itemsize != width:  # pragma: no cover - platforms with other C int sizes
        values = array("q", struct.unpack(f"<{count}{'hiq'[width // 4]}", blob[8:]))
    else:
        values.frombytes(blob[8:])
        if byteorder != "little":  # pragma: no cover - big-endian hosts
            values.byteswap()
    if any(a >= b for a, b in pairwise(values)):
        raise Corrupt("an intset not in ascending order")
    return [b"%d" % value for value in values]


def zipmap_items(blob: bytes) -> list[bytes]:
    """The fields and values of a zipmap (hashes of Redis 2.4 and older), validated as
    ``zipmapValidateIntegrity(deep)`` does: every length and value inside the blob, the
    end byte, at least one pair, the count (254: "at least 254")."""
    size = len(blob)
    if size < 2 or blob[-1] != 0xFF:
        raise Corrupt("a zipmap without its end byte")
    last = size - 1
    items: list[bytes] = []
    at = 1
    while blob[at] != 0xFF:
        for is_value in (False, True):
            if blob[at] < 254:
                width, length = 1, blob[at]
            else:
                width, length = 5, _le(blob, at + 1, 4)
            if at + width > last:
                raise Corrupt("a zipmap entry past the end")
            at += width
            free = 0
            if is_value:
                free = blob[at]
                at += 1
            items.append(blob[at : at + length])
            at += length + free
            if at > last:
                raise Corrupt("a zipmap entry past the end")
    if not items or blob[0] not in (254, len(items) // 2):
        raise Corrupt("a zipmap whose count is wrong")
    return items


def _pairs(items: list[bytes]) -> dict[bytes, bytes]:
    """Field/value pairs of a listpack or ziplist: an even count, no field twice."""
    if len(items) % 2:
        raise Corrupt("an odd number of entries in pairs")
    pairs = dict(zip(items[::2], items[1::2], strict=True))
    if len(pairs) * 2 != len(items):
        raise Corrupt("a repeated field")
    return pairs


def _score(raw: bytes) -> float:
    """A score stored as text or as an integer in a listpack or ziplist."""
    value = parse_score(raw)
    if value is None:
        raise Corrupt("a score that is not a number")
    return value + 0.0  # a listpack holds no ``-0`` (``zsets.kept_scores``)


def _not_empty(count: int) -> int:
    if not count:
        raise Corrupt("an empty collection")  # Redis's ``emptykey``
    return count


Restored = tuple[ValueType, bytes]


def _restored_list(elements: list[bytes]) -> Restored:
    _not_empty(len(elements))
    return ValueType.LIST, encode_list(elements)


def _restored_set(members: Iterable[bytes]) -> Restored:
    listed = list(members)
    unique = dict.fromkeys(listed)
    if len(unique) != _not_empty(len(listed)):
        raise Corrupt("a repeated set member")
    return ValueType.SET, SETS.encode(unique)


def _restored_hash(fields: dict[bytes, bytes]) -> Restored:
    _not_empty(len(fields))
    return ValueType.HASH, HASHES.encode(fields)


def _restored_zset(pairs: Iterable[tuple[bytes, float]]) -> Restored:
    scores: dict[bytes, float] = {}
    for member, score in pairs:
        if math.isnan(score):
            raise Corrupt("a NaN score")
        if member in scores:
            raise Corrupt("a repeated sorted set member")
        scores[member] = score
    _not_empty(len(scores))
    return ValueType.ZSET, ZSETS.encode(kept_scores(scores))


def _read_string(reader: _Reader) -> Restored:
    return ValueType.STRING, reader.string()


def _read_list(reader: _Reader) -> Restored:
    return _restored_list([reader.string() for _ in range(reader.items())])


def _read_set(reader: _Reader) -> Restored:
    return _restored_set(reader.string() for _ in range(reader.items()))


def _read_zset(reader: _Reader, binary: bool) -> Restored:
    count = reader.items(2)
    read_score = reader.binary_double if binary else reader.text_double
    return _restored_zset((reader.string(), read_score()) for _ in range(count))


def _read_hash(reader: _Reader) -> Restored:
    fields: dict[bytes, bytes] = {}
    for _ in range(reader.items(2)):
        field = reader.string()
        if field in fields:
            raise Corrupt("a repeated hash field")
        fields[field] = reader.string()
    return _restored_hash(fields)


def _read_list_ziplist(reader: _Reader) -> Restored:
    return _restored_list(ziplist_items(reader.string()))


def _read_intset(reader: _Reader) -> Restored:
    return _restored_set(intset_members(reader.string()))


def _read_zset_packed(reader: _Reader, unpack: Callable[[bytes], list[bytes]]) -> Restored:
    """A sorted set as a listpack or ziplist: pairs in Redis's order, by score then member.
    Redis reads them without checking (and then answers ZRANGE in the order found); one out
    of order is damage here."""
    pairs = [(member, _score(raw)) for member, raw in _pairs(unpack(reader.string())).items()]
    if any((a[1], a[0]) >= (b[1], b[0]) for a, b in pairwise(pairs)):
        raise Corrupt("a sorted set listpack out of order")
    return _restored_zset(pairs)


def _read_hash_packed(reader: _Reader, unpack: Callable[[bytes], list[bytes]]) -> Restored:
    return _restored_hash(_pairs(unpack(reader.string())))


def _read_quicklist(reader: _Reader, version: int) -> Restored:
    """A quicklist: its nodes, each a listpack (version 2: or, in a plain node, one
    element) or a ziplist (version 1). Empty nodes are skipped, as Redis does."""
    elements: list[bytes] = []
    for _ in range(reader.items(2)):
        container = 2 if version == 1 else reader.count()
        if container not in (1, 2):
            raise Corrupt("an unknown quicklist container")
        node = reader.string()
        if not node:
            raise Corrupt("an empty quicklist node")
        if container == 1:
            elements.append(node)
        else:
            elements += (ziplist_items if version == 1 else listpack_items)(node)
    return _restored_list(elements)


# --- streams ----------------------------------------------------------------------------

_ITEM_DELETED = 1
_ITEM_SAMEFIELDS = 2


def _lp_int(items: list[bytes], at: int) -> int:
    """``lpGetIntegerIfValid``: the integer at ``at``, or ``Corrupt``."""
    if at >= len(items):
        raise Corrupt("a stream listpack that ends inside a record")
    value = parse_ll(items[at])
    if value is None:
        raise Corrupt("a stream listpack with text where a number belongs")
    return value


def _node_entries(master: StreamId, items: list[bytes]) -> list[tuple[StreamId, tuple[bytes, ...]]]:
    """The live entries of one stream node, validated as ``streamValidateListpackIntegrity``
    does (the master entry, then each record's flags, ID, fields, values and count);
    entries flagged deleted are left out."""
    live, deleted, master_fields = _lp_int(items, 0), _lp_int(items, 1), _lp_int(items, 2)
    if live < 0 or deleted < 0 or master_fields < 0 or 3 + master_fields >= len(items):
        raise Corrupt("a stream master entry that does not fit")
    names = tuple(items[3 : 3 + master_fields])
    at = 3 + master_fields
    if _lp_int(items, at) != 0:
        raise Corrupt("a stream master entry without its terminator")
    at += 1
    entries: list[tuple[StreamId, tuple[bytes, ...]]] = []
    for _ in range(live + deleted):
        flags = _lp_int(items, at)
        entry_id = ((master[0] + _lp_int(items, at + 1)) % _U64,
                    (master[1] + _lp_int(items, at + 2)) % _U64)  # fmt: skip
        at += 3
        if flags & _ITEM_SAMEFIELDS:
            fields, extra = master_fields, 3
            values = items[at : at + fields]
            pairs = tuple(item for pair in zip(names, values, strict=False) for item in pair)
        else:
            fields = _lp_int(items, at)
            if fields < 0:
                raise Corrupt("a stream entry with a negative field count")
            at += 1
            extra = fields + 4
            values = items[at : at + 2 * fields]
            pairs = tuple(values)
        at += len(values)
        if len(values) != (fields if flags & _ITEM_SAMEFIELDS else 2 * fields):
            raise Corrupt("a stream entry that runs past its node")
        if _lp_int(items, at) != fields + extra:
            raise Corrupt("a stream entry whose count is wrong")
        at += 1
        if not flags & _ITEM_DELETED:
            if not fields:
                raise Corrupt("a stream entry without fields")
            entries.append((entry_id, pairs))
    if at != len(items):
        raise Corrupt("a stream node with records past its counts")
    if len(entries) != live:
        raise Corrupt("a stream node whose live count is wrong")
    return entries


def _read_groups(reader: _Reader, stream: Stream, version: int) -> dict[bytes, Group]:
    groups: dict[bytes, Group] = {}
    for _ in range(reader.items(3)):
        name = reader.string()
        last_id = (reader.count(), reader.count())
        if version == 2:
            entries_read = _int64(reader.count())  # any: Redis's own wraps past 2**63 - 1
        else:
            entries_read = estimate_entries_read(stream, last_id)
        if name in groups:
            raise Corrupt("a repeated consumer group")
        group = Group(last_id, entries_read)
        unowned: dict[StreamId, tuple[int, int]] = {}
        for _ in range(reader.items(17)):
            entry_id = reader.stream_id()
            # any count: Redis's own passes 2**63 - 1 (RETRYCOUNT 9223372036854775807, then
            # a delivery) and it prints it signed, as we keep it
            delivery_time, deliveries = reader.millis(), _int64(reader.count())
            if entry_id in unowned:
                raise Corrupt("a repeated pending entry")
            unowned[entry_id] = (delivery_time, deliveries)
        for _ in range(reader.items(10)):
            consumer = reader.string()
            if consumer in group.consumers:
                raise Corrupt("a repeated consumer")
            group.consumers[consumer] = Consumer(reader.millis())
            for _ in range(reader.items(16)):
                entry_id = reader.stream_id()
                found = unowned.pop(entry_id, None)
                if found is None:
                    raise Corrupt("a consumer's pending entry that its group lacks or shares")
                group.pel[entry_id] = Pending(consumer, *found)
        if unowned:
            raise Corrupt("a pending entry without a consumer")
        group.pel = dict(sorted(group.pel.items()))
        group.consumers = dict(sorted(group.consumers.items()))
        groups[name] = group
    return dict(sorted(groups.items()))


def _read_stream(reader: _Reader, version: int) -> Restored:
    """A stream (version 1: Redis 5 and 6, without the first and deleted IDs and the count
    of entries ever added, which it then takes as the length; version 2: Redis 7.0)."""
    nodes: dict[StreamId, list[bytes]] = {}
    for _ in range(reader.items(2)):
        key = reader.string()
        if len(key) != 16:
            raise Corrupt("a stream node key that is not an ID")
        master = int.from_bytes(key[:8], "big"), int.from_bytes(key[8:], "big")
        listpack = listpack_items(reader.string())
        if master in nodes:
            raise Corrupt("a repeated stream node")
        nodes[master] = listpack
    stream = Stream()
    previous: StreamId | None = None
    for master in sorted(nodes):
        for entry_id, pairs in _node_entries(master, nodes[master]):
            if entry_id < master or (previous is not None and entry_id <= previous):
                raise Corrupt("stream entries out of order")
            stream.entries[entry_id] = pairs
            previous = entry_id
    length = reader.count()
    stream.last_id = (reader.count(), reader.count())
    if version == 2:
        reader.count()  # the first entry's ID: ours is computed from the entries
        reader.count()
        stream.max_deleted = (reader.count(), reader.count())
        stream.entries_added = reader.count()
    else:
        stream.entries_added = length
    if length != len(stream.entries):
        raise Corrupt("a stream whose length does not count its entries")
    if previous is not None and previous > stream.last_id:
        raise Corrupt("a stream entry after the stream's last ID")
    if stream.entries_added < length:
        raise Corrupt("a stream that added fewer entries than it holds")
    stream.groups = _read_groups(reader, stream, version)
    return ValueType.STREAM, STREAMS.encode(stream)


_READERS: dict[int, Callable[[_Reader], Restored]] = {
    TYPE_STRING: _read_string,
    TYPE_LIST: _read_list,
    TYPE_SET: _read_set,
    TYPE_ZSET: lambda reader: _read_zset(reader, binary=False),
    TYPE_HASH: _read_hash,
    TYPE_ZSET_2: lambda reader: _read_zset(reader, binary=True),
    TYPE_HASH_ZIPMAP: lambda reader: _read_hash_packed(reader, zipmap_items),
    TYPE_LIST_ZIPLIST: _read_list_ziplist,
    TYPE_SET_INTSET: _read_intset,
    TYPE_ZSET_ZIPLIST: lambda reader: _read_zset_packed(reader, ziplist_items),
    TYPE_HASH_ZIPLIST: lambda reader: _read_hash_packed(reader, ziplist_items),
    TYPE_LIST_QUICKLIST: lambda reader: _read_quicklist(reader, 1),
    TYPE_STREAM_LISTPACKS: lambda reader: _read_stream(reader, 1),
    TYPE_HASH_LISTPACK: lambda reader: _read_hash_packed(reader, listpack_items),
    TYPE_ZSET_LISTPACK: lambda reader: _read_zset_packed(reader, listpack_items),
    TYPE_LIST_QUICKLIST_2: lambda reader: _read_quicklist(reader, 2),
    TYPE_STREAM_LISTPACKS_2: lambda reader: _read_stream(reader, 2),
}
"""Object type → reader. Missing: module values (6, 7), see the docstring."""


def rdb_string(data: bytes) -> bytes:
    """``rdbSaveRawString`` of ``data`` (an RDB file's keys and aux fields are these)."""
    return _string(data)


def read_string(data: bytes, at: int) -> tuple[bytes, int]:
    """The RDB string at ``at`` in ``data`` and where it ends (``Corrupt`` if cut short)."""
    reader = _Reader(data)
    reader.at = at
    return reader.string(), reader.at


def read_length(data: bytes, at: int) -> tuple[int, int]:
    """The RDB length at ``at`` in ``data`` and where it ends."""
    reader = _Reader(data)
    reader.at = at
    return reader.count(), reader.at


def value_end(data: bytes, object_type: int, at: int) -> int:
    """Where the value of type ``object_type`` that starts at ``at`` in ``data`` ends
    (an RDB file puts the key between the type byte and the value): read as RESTORE
    reads one, so ``Corrupt`` if it is not one that could be stored."""
    read = _READERS.get(object_type)
    if read is None:
        raise Corrupt(f"an object type this server does not read ({object_type})")
    reader = _Reader(data)
    reader.at = at
    read(reader)
    return reader.at


def restore_value(payload: bytes) -> Restored:
    """The type and stored form of the value in ``payload`` (whose footer ``footer_ok``
    accepted); ``Corrupt`` if it does not decode to a value that could be stored."""
    reader = _Reader(payload)
    read = _READERS.get(reader.byte())
    if read is None:
        raise Corrupt("an object type this server does not read")
    return read(reader)

"""DUMP and RESTORE on their own: the payload format, each encoding, corrupt payloads.

Reference payloads (``RECORDED``) are what redis-server 7.0.15 answered DUMP
for values built with ordinary commands; the differential tests
(``test_differential_dump``) compare the rest with a live server. Here the
pieces are pinned down: the CRC64 and LZF against independent definitions,
every encoding RESTORE reads (listpack and ziplist entries of every width,
intsets of every width, quicklists with plain and empty nodes, streams with
consumer groups), the encodings DUMP chooses on either side of Redis's
thresholds, RESTORE's options, errors and TTLs, and corrupt payloads of every
kind: each gets its error and leaves the key as it was.
"""

from __future__ import annotations

import math
import os
import random
import struct
import tracemalloc
from collections.abc import Sequence

import pytest

from epaxosdb.commands import lzf, prepare, rdb
from epaxosdb.commands.hashes import decode_hash
from epaxosdb.commands.lists import decode_list
from epaxosdb.commands.sets import decode_set
from epaxosdb.commands.streams import decode_stream
from epaxosdb.commands.zsets import decode_zset
from protocol.messages import Command
from protocol.replies import OK, Error, Map, Pairs, Reply, Set
from storage.interface import Value, ValueType
from storage.memory import MemoryStore
from tests.commands.differential import Model, execute_like_a_replica

T0 = 1_700_000_000_000

RECORDED: dict[str, bytes] = {
    "string": b"\x00\x05hello\n\x00cr\xdfve4 \n",
    "int": b"\x00\xc0\x0c\n\x00<*\xf8Q\\\x04\xbc\xd5",
    "neg": b"\x00\xc1\xd0\x8a\n\x00\xd5|\xb0\x19\xa3\xf8]\x10",
    "wide": b"\x00\x0c123456789012\n\x00\x91\x10\x01\xb1\xd1\x16\xe7\xac",
    "lzf": b"\x00\xc3\t(\x01aa\xe0\x1b\x00\x01aa\n\x00\xcf\t/\xaa\xae%\x83\x1d",
    "list": (
        b"\x12\x01\x02\x12\x12\x00\x00\x00\x04\x00\x81a\x02\x81b\x02\x01\x01\xc0\xc8\x02\xff"
        b"\n\x00\xed<j6>\x06Ay"
    ),
    "intset": (
        b"\x0b\x0e\x02\x00\x00\x00\x03\x00\x00\x00\x01\x00\x02\x00\x03\x00\n\x00\xa5\x02\\\xe2mnM\x1b"
    ),
    "intset64": (
        b"\x0b\x18\x08\x00\x00\x00\x02\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
        b'\x00\x00\x01\x00\x00\n\x001"\xf0m\xf5B\xc0\xb4'
    ),
    "hash": b"\x10\r\r\x00\x00\x00\x02\x00\x81f\x02\x81v\x02\xff\n\x00 \xf1=D#T\x08\x9d",
    "zset": (
        b"\x11\x1d\x1d\x00\x00\x00\x06\x00\x81c\x02\x84-inf\x05\x81a\x02\x01\x01\x81b\x02\x831.5"
        b"\x04\xff\n\x00/\xa24\xbe\xca\xf9\xc9\x9a"
    ),
    "stream": (
        b"\x13\x01\x10\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x1d\x1d"
        b"\x00\x00\x00\n\x00\x01\x01\x00\x01\x01\x01\x81f\x02\x00\x01\x02\x01\x00\x01\x00\x01"
        b"\x81v\x02\x04\x01\xff\x01\x01\x01\x01\x01\x00\x00\x01\x00\n\x00\xffU\xabbj\xc05\xdb"
    ),
    "groups": (
        b"\x13\x01\x10\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x0133\x00\x00"
        b"\x00\x13\x00\x02\x01\x00\x01\x01\x01\x81f\x02\x00\x01\x02\x01\x00\x01\x00\x01\x81v"
        b"\x02\x04\x01\x00\x01\x01\x01\x04\x01\x02\x01\x81f\x02\x81w\x02\x81g\x02\x81x\x02\x08"
        b"\x01\xff\x02\x02\x05\x01\x01\x00\x00\x02\x01\x02g1\x01\x01\x01\x01\x00\x00\x00\x00\x00"
        b"\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01V#g!\xa2\x01\x00\x00\x01\x02\x05aliceV#g!"
        b"\xa2\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01"
        b"\x03bobV#g!\xa2\x01\x00\x00\x00\n\x00\x1f\x07Q\x9fc\xa2\xd0\x8b"
    ),
}
"""DUMP replies of redis-server 7.0.15: SET string hello, int 12, neg -30000, wide
123456789012, lzf a×40; RPUSH list a b 1 200; SADD intset 1 2 3, intset64 1 2^40;
HSET hash f v; ZADD zset 1 a 1.5 b -inf c; XADD stream 1-1 f v; and a stream ``groups``
(1-1 f v, 2-5 f w g x) with group g1 at 0, one entry read by alice, bob created."""

GROUPS_SEEN = 1795856737110
"""The delivery and seen time in ``RECORDED["groups"]``."""


# --- helpers ----------------------------------------------------------------------------


def framed(body: bytes, version: int = 10) -> bytes:
    """A payload with a correct footer, computed here without ``rdb``'s tables."""
    signed = body + struct.pack("<H", version)
    return signed + struct.pack("<Q", bitwise_crc64(signed))


def bitwise_crc64(data: bytes) -> int:
    """Redis's CRC64 bit by bit: reflected Jones polynomial, no table."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x95AC9329AC4BC9B5 if crc & 1 else crc >> 1
    return crc


def length(value: int) -> bytes:
    if value < 64:
        return bytes((value,))
    if value < 16384:
        return bytes((0x40 | value >> 8, value & 0xFF))
    return b"\x80" + value.to_bytes(4, "big")


def raw(data: bytes) -> bytes:
    """An RDB string stored verbatim (no integer or LZF encoding)."""
    return length(len(data)) + data


def backlen(size: int) -> bytes:
    if size <= 127:
        return bytes((size,))
    assert size < 16383
    return bytes((size >> 7, (size & 127) | 128))


def lp_entry(encoded: bytes) -> bytes:
    return encoded + backlen(len(encoded))


def lp_str(data: bytes) -> bytes:
    """A string entry in the narrowest string encoding (whatever it spells)."""
    if len(data) < 64:
        return lp_entry(bytes((0x80 | len(data),)) + data)
    if len(data) < 4096:
        return lp_entry(bytes((0xE0 | len(data) >> 8, len(data) & 0xFF)) + data)
    return lp_entry(b"\xf0" + len(data).to_bytes(4, "little") + data)


def listpack(*entries: bytes, count: int | None = None) -> bytes:
    body = b"".join(entries)
    total = 7 + len(body)
    number = len(entries) if count is None else count
    return struct.pack("<IH", total, number) + body + b"\xff"


def zl_entry(previous: int, encoded: bytes) -> bytes:
    prevlen = bytes((previous,)) if previous < 254 else b"\xfe" + previous.to_bytes(4, "little")
    return prevlen + encoded


def zl_str(data: bytes) -> bytes:
    if len(data) < 64:
        return bytes((len(data),)) + data
    if len(data) < 16384:
        return bytes((0x40 | len(data) >> 8, len(data) & 0xFF)) + data
    return b"\x80" + len(data).to_bytes(4, "big") + data


def ziplist(*encoded: bytes) -> bytes:
    """A ziplist of encoded entries (``zl_str`` or an integer encoding), with correct
    previous sizes, tail offset and count."""
    body = b""
    previous = 0
    tail = 10
    for entry in encoded:
        tail = 10 + len(body)
        whole = zl_entry(previous, entry)
        body += whole
        previous = len(whole)
    return struct.pack("<IIH", 11 + len(body), tail, len(encoded)) + body + b"\xff"


class Node:
    """A replica's command layer over a MemoryStore at ``T0``."""

    def __init__(self) -> None:
        self.model = Model()

    def __call__(self, *args: bytes, now: int = T0) -> Reply:
        return self.model.call(args, now_ms=now)

    def value(self, key: bytes) -> Value | None:
        return self.model.store.read(lambda kv: kv.get(key))

    def restore(self, payload: bytes, key: bytes = b"k") -> Reply:
        return self(b"RESTORE", key, b"0", payload, b"REPLACE")


BAD_FORMAT = Error("ERR Bad data format")
BAD_FOOTER = Error("ERR DUMP payload version or checksum are wrong")


# --- the footer: CRC64 and version --------------------------------------------------------


def test_crc64_matches_redis_test_vector_and_a_bitwise_definition() -> None:
    assert rdb.crc64(b"123456789") == 0xE9C6D914C4B8D9CA  # crc64.c's own test
    assert rdb.crc64(b"") == 0
    rng = random.Random(3)
    for size in [*range(0, 40), 63, 64, 65, 1000]:
        data = rng.randbytes(size)
        assert rdb.crc64(data) == bitwise_crc64(data), size


def test_recorded_payloads_have_the_footer_redis_computes() -> None:
    for name, payload in RECORDED.items():
        assert rdb.frame(payload[:-10]) == payload, name
        assert framed(payload[:-10]) == payload, name
        assert rdb.footer_ok(payload), name


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\x00" * 9,
        RECORDED["string"][:-1] + bytes((RECORDED["string"][-1] ^ 1,)),  # CRC off by a bit
        RECORDED["string"][:3] + b"X" + RECORDED["string"][4:],  # body changed
        framed(b"\x00\x05hello", version=11),  # RDB 11 (Redis 7.2): newer than ours
        framed(b"\x00\x05hello", version=0xFFFF),
    ],
    ids=["empty", "short", "crc", "body", "version 11", "version 65535"],
)
def test_a_footer_that_does_not_check_out_gets_redis_error(payload: bytes) -> None:
    assert not rdb.footer_ok(payload)
    node = Node()
    node(b"SET", b"k", b"old")
    assert node.restore(payload) == BAD_FOOTER
    assert node(b"GET", b"k") == b"old"


def test_older_rdb_versions_are_accepted() -> None:
    node = Node()
    for version in (1, 6, 9, 10):
        assert node.restore(framed(b"\x00\x05hello", version)) == OK
        assert node(b"GET", b"k") == b"hello"


# --- LZF ----------------------------------------------------------------------------------


def test_lzf_compresses_as_redis_and_decompresses_its_output() -> None:
    block = b"\x01aa\xe0\x1b\x00\x01aa"  # RECORDED["lzf"]: a×40
    assert lzf.compress(b"a" * 40, 36) == block
    assert lzf.decompress(block, 40) == b"a" * 40


def _roundtrip_inputs() -> list[bytes]:
    rng = random.Random(7)
    inputs = [b"a", b"ab", b"abc", b"a" * 3, b"a" * 300, bytes(range(256)) * 4]
    for size in (5, 21, 31, 32, 33, 64, 264, 265, 300, 8191, 8192, 8193, 20000):
        inputs.append(rng.randbytes(size))
        inputs.append(bytes(rng.choice(b"ab") for _ in range(size)))
        inputs.append((b"the quick brown fox %d " * size)[:size])
    return inputs


@pytest.mark.parametrize("data", _roundtrip_inputs(), ids=lambda d: f"{len(d)}:{d[:6]!r}")
def test_lzf_round_trips(data: bytes) -> None:
    packed = lzf.compress(data, len(data) + len(data) // 32 + 16)
    assert packed is not None
    assert lzf.decompress(packed, len(data)) == data
    assert lzf.decompress(packed, len(data) + 1) is None
    if len(data) > 1:
        assert lzf.decompress(packed, len(data) - 1) is None


def test_lzf_gives_up_past_its_limit() -> None:
    noise = random.Random(1).randbytes(1000)
    assert lzf.compress(noise, len(noise) - 4) is None
    repetitive = b"abcdefgh" * 100
    packed = lzf.compress(repetitive, len(repetitive) - 4)
    assert packed is not None and len(packed) < 40
    assert lzf.compress(repetitive, len(packed) - 1) is None
    assert lzf.compress(b"", 10) is None


@pytest.mark.parametrize(
    ("packed", "size", "expected"),
    [
        (b"\x00a\x20\x00", 4, b"aaaa"),  # a reference overlapping what it writes
        (b"\x01ab\xe0\x05\x01", 16, b"ab" * 8),  # a long reference: 7 + 5 + 2 bytes
        (b"\x02abc", 3, b"abc"),
        (b"\x02abc", 0, b""),  # Redis takes any input for an empty string
        (b"", 0, b""),
        (b"", 3, None),
        (b"\x03abc", 4, None),  # a literal run past the input
        (b"\x00a\x20", 3, None),  # a reference without its offset byte
        (b"\x00a\xe0", 12, None),  # a long reference without its length byte
        (b"\x00a\x20\x01", 3, None),  # a reference before the start of the output
        (b"\x00a\x20\x00", 3, None),  # more output than announced
        (b"\x00a\x20\x00", 5, None),  # less output than announced
    ],
)
def test_lzf_decompression_refuses_what_lzf_decompress_refuses(
    packed: bytes, size: int, expected: bytes | None
) -> None:
    assert lzf.decompress(packed, size) == expected


# --- RESTORE: every encoding --------------------------------------------------------------

Read = tuple[bytes, ...]


def _reads(node: Node, key: bytes = b"k") -> object:
    """The whole value at ``key``, whatever its type, as plain lists: a set's members
    sorted, a hash's fields and values flat, a sorted set's (member, score) pairs."""
    kind = node(b"TYPE", key)
    name = getattr(kind, "text", b"")
    if name == b"string":
        return node(b"GET", key)
    if name == b"list":
        return node(b"LRANGE", key, b"0", b"-1")
    if name == b"set":
        members = node(b"SMEMBERS", key)
        assert isinstance(members, Set)
        return sorted(members.items)  # type: ignore[type-var]
    if name == b"hash":
        fields = node(b"HGETALL", key)
        assert isinstance(fields, Map)
        return [part for pair in fields.items for part in pair]
    if name == b"zset":
        pairs = node(b"ZRANGE", key, b"0", b"-1", b"WITHSCORES")
        assert isinstance(pairs, Pairs)
        return list(pairs.items)
    if name == b"stream":
        return node(b"XRANGE", key, b"-", b"+")
    return kind


LP_INTEGERS = [
    (lp_entry(b"\x05"), b"5"),
    (lp_entry(b"\x7f"), b"127"),
    (lp_entry(b"\xc0\x80"), b"128"),  # 13 bits
    (lp_entry(b"\xdf\xff"), b"-1"),
    (lp_entry(b"\xd0\x00"), b"-4096"),
    (lp_entry(b"\xf1\x00\x80"), b"-32768"),  # 16 bits
    (lp_entry(b"\xf2\xff\xff\x7f"), b"8388607"),  # 24 bits
    (lp_entry(b"\xf3\x00\x00\x00\x80"), b"-2147483648"),  # 32 bits
    (lp_entry(b"\xf4" + (-(2**63)).to_bytes(8, "little", signed=True)), b"-9223372036854775808"),
    (lp_entry(b"\xf4\x05" + bytes(7)), b"5"),  # a wide encoding of a small number
]
ZIPLIST_INTEGERS = ziplist(
    b"\xfe\x80",  # 8 bits
    b"\xc0\x00\x80",  # 16 bits
    b"\xf0\xff\xff\x7f",  # 24 bits
    b"\xd0\x00\x00\x00\x80",  # 32 bits
    b"\xe0" + (2**62).to_bytes(8, "little"),  # 64 bits
)
LONG = b"x" * 100
ZIPMAP = b"\xfe\x01a\x01\x01bX\xfe" + (300).to_bytes(4, "little") + LONG * 3 + b"\x00\x00\xff"
"""A zipmap: count "254 or more", ``a`` → ``b`` with a byte of free space after it, then a
300-byte field (5-byte length) → an empty value."""
HUGE = b"y" * 5000

ENCODINGS: dict[str, tuple[bytes, object]] = {
    "string raw": (b"\x00" + raw(b"hello"), b"hello"),
    "string int8": (b"\x00\xc0\x80", b"-128"),
    "string int16": (b"\x00\xc1\x00\x80", b"-32768"),
    "string int32": (b"\x00\xc2\xff\xff\xff\x7f", b"2147483647"),
    "string lzf": (RECORDED["lzf"][:-10], b"a" * 40),
    "string empty": (b"\x00\x00", b""),
    "string lzf empty": (b"\x00\xc3\x01\x00\x00", b""),  # Redis 7.0.15 answers OK and ""
    "list quicklist 2": (RECORDED["list"][:-10], [b"a", b"b", b"1", b"200"]),
    "list listpack integers": (
        b"\x12\x01\x02" + raw(listpack(*(entry for entry, _ in LP_INTEGERS))),
        [text for _, text in LP_INTEGERS],
    ),
    "list listpack strings": (
        b"\x12\x01\x02" + raw(listpack(lp_str(b""), lp_str(LONG), lp_str(HUGE), lp_str(b"7"))),
        [b"", LONG, HUGE, b"7"],
    ),
    "list listpack unknown count": (
        b"\x12\x01\x02" + raw(listpack(lp_str(b"a"), lp_str(b"b"), count=0xFFFF)),
        [b"a", b"b"],
    ),
    "list plain and empty nodes": (
        b"".join((
            b"\x12\x04",
            b"\x02" + raw(listpack(lp_str(b"a"))),
            b"\x01" + raw(HUGE),
            b"\x02" + raw(listpack()),
            b"\x02" + raw(listpack(lp_str(b"z"))),
        )),
        [b"a", HUGE, b"z"],
    ),
    "list quicklist of ziplists": (
        b"\x0e\x03" + raw(ziplist(zl_str(b"a"), b"\xf2")) + raw(ziplist()) + raw(ZIPLIST_INTEGERS),
        [b"a", b"1", b"-128", b"-32768", b"8388607", b"-2147483648", b"%d" % 2**62],
    ),
    "list ziplist long entries": (
        b"\x0a" + raw(ziplist(zl_str(LONG * 3), zl_str(b"after"), zl_str(b"z" * 20000))),
        [LONG * 3, b"after", b"z" * 20000],
    ),
    "list plain": (b"\x01\x03" + raw(b"a") + b"\xc0\x05" + raw(b"c"), [b"a", b"5", b"c"]),
    "set intset 16": (RECORDED["intset"][:-10], [b"1", b"2", b"3"]),
    "set intset 32": (
        b"\x0b" + raw(struct.pack("<IIii", 4, 2, -70000, 70000)), [b"-70000", b"70000"]
    ),
    "set intset 64": (RECORDED["intset64"][:-10], [b"1", b"1099511627776"]),
    "set plain": (b"\x02\x03" + raw(b"b") + raw(b"a") + b"\xc0\x07", [b"7", b"a", b"b"]),
    "hash listpack": (RECORDED["hash"][:-10], [b"f", b"v"]),
    "hash ziplist": (
        b"\x0d" + raw(ziplist(zl_str(b"f"), zl_str(b"v"), zl_str(b"n"), b"\xf3")),
        [b"f", b"v", b"n", b"2"],
    ),
    "hash zipmap": (  # a: b (1 byte free after it), then a field of 300 bytes: 5-byte length
        b"\x09" + raw(ZIPMAP),
        [b"a", b"b", LONG * 3, b""],
    ),
    "hash plain": (
        b"\x04\x02" + raw(b"f") + raw(LONG) + raw(b"g") + b"\xc0\x01", [b"f", LONG, b"g", b"1"]
    ),
    "zset listpack": (RECORDED["zset"][:-10], [(b"c", -math.inf), (b"a", 1.0), (b"b", 1.5)]),
    "zset ziplist": (
        b"\x0c" + raw(ziplist(zl_str(b"b"), b"\xf1", zl_str(b"a"), zl_str(b"2.5"))),
        [(b"b", 0.0), (b"a", 2.5)],
    ),
    "zset binary doubles": (
        b"\x05\x02" + raw(b"a") + struct.pack("<d", 0.1) + raw(b"b") + struct.pack("<d", -2.0),
        [(b"b", -2.0), (b"a", 0.1)],
    ),
    "zset text doubles": (  # sscanf reads " 1.5x" as 1.5
        b"\x03\x03" + raw(b"a") + b"\x03inf" + raw(b"b") + b"\x05 1.5x" + raw(b"c") + b"\xff",
        [(b"c", -math.inf), (b"b", 1.5), (b"a", math.inf)],
    ),
    "zset integer scores": (
        b"\x11" + raw(listpack(lp_str(b"m"), lp_entry(b"\xf4" + (2**62).to_bytes(8, "little")))),
        [(b"m", float(2**62))],
    ),
    "stream": (RECORDED["stream"][:-10], [[b"1-1", [b"f", b"v"]]]),
    "stream with groups": (
        RECORDED["groups"][:-10],
        [[b"1-1", [b"f", b"v"]], [b"2-5", [b"f", b"w", b"g", b"x"]]],
    ),
    "stream entries_read below -1": (  # as Redis's own wraps past 2**63 - 1
        RECORDED["groups"][:-10].replace(
            b"\x02g1\x01\x01\x01", b"\x02g1\x01\x01\x81" + (2**64 - 2).to_bytes(8, "big")
        ),
        [[b"1-1", [b"f", b"v"]], [b"2-5", [b"f", b"w", b"g", b"x"]]],
    ),
    "stream of redis 6": (
        b"\x0f" + RECORDED["stream"][1:-10].replace(b"\x01\x01\x01\x01\x01\x00\x00\x01\x00", b"\x01\x01\x01\x00"),  # noqa: E501
        [[b"1-1", [b"f", b"v"]]],
    ),
}
"""Object (without footer) → the reads of the restored value (``_reads``)."""


@pytest.mark.parametrize(("body", "expected"), ENCODINGS.values(), ids=ENCODINGS.keys())
def test_restore_reads_every_encoding(body: bytes, expected: object) -> None:
    node = Node()
    assert node.restore(framed(body)) == OK
    assert _reads(node) == expected


def test_a_restored_stream_keeps_its_groups_consumers_and_pending_entries() -> None:
    node = Node()
    assert node.restore(RECORDED["groups"]) == OK
    stream = decode_stream(node.value(b"k").payload)  # type: ignore[union-attr]
    assert (stream.last_id, stream.max_deleted, stream.entries_added) == ((2, 5), (0, 0), 2)
    group = stream.groups[b"g1"]
    assert group.last_id == (1, 1) and group.entries_read == 1
    assert list(group.consumers) == [b"alice", b"bob"]
    assert group.consumers[b"bob"].seen_time == GROUPS_SEEN
    pending = group.pel[(1, 1)]
    assert (pending.consumer, pending.delivery_time, pending.delivery_count) == (
        b"alice", GROUPS_SEEN, 1,
    )  # fmt: skip
    v1 = framed(ENCODINGS["stream of redis 6"][0])
    assert node.restore(v1) == OK
    old = decode_stream(node.value(b"k").payload)  # type: ignore[union-attr]
    assert old.entries_added == 1 and old.max_deleted == (0, 0)


def test_restore_sorts_intset_members_and_keeps_hash_order() -> None:
    node = Node()
    assert node.restore(RECORDED["intset"]) == OK
    assert list(decode_set(node.value(b"k").payload)) == [b"1", b"2", b"3"]  # type: ignore[union-attr]
    body = b"\x10" + raw(listpack(*(lp_str(x) for x in (b"z", b"1", b"a", b"2"))))
    assert node.restore(framed(body)) == OK
    assert node(b"HKEYS", b"k") == [b"z", b"a"]


# --- DUMP: what it writes ------------------------------------------------------------------


@pytest.mark.parametrize("name", RECORDED)
def test_dump_of_a_restored_redis_value_is_redis_payload(name: str) -> None:
    node = Node()
    assert node.restore(RECORDED[name]) == OK
    assert node(b"DUMP", b"k") == RECORDED[name]


def test_dump_of_commands_built_values_is_redis_payload() -> None:
    node = Node()
    node(b"SET", b"string", b"hello")
    node(b"SET", b"lzf", b"a" * 40)
    node(b"RPUSH", b"list", b"a", b"b", b"1", b"200")
    node(b"SADD", b"intset", b"3", b"1", b"2")
    node(b"HSET", b"hash", b"f", b"v")
    node(b"ZADD", b"zset", b"1.5", b"b", b"1", b"a", b"-inf", b"c")
    node(b"XADD", b"stream", b"1-1", b"f", b"v")
    for name in ("string", "lzf", "list", "intset", "hash", "zset", "stream"):
        assert node(b"DUMP", name.encode()) == RECORDED[name], name


def _object(node: Node, key: bytes) -> bytes:
    payload = node(b"DUMP", key)
    assert isinstance(payload, bytes) and rdb.footer_ok(payload)
    return payload[:-10]


@pytest.mark.parametrize(
    ("value", "body"),
    [
        (b"0", b"\x00\xc0\x00"),
        (b"-128", b"\x00\xc0\x80"),
        (b"127", b"\x00\xc0\x7f"),
        (b"128", b"\x00\xc1\x80\x00"),
        (b"-32769", b"\x00\xc2\xff\x7f\xff\xff"),
        (b"2147483647", b"\x00\xc2\xff\xff\xff\x7f"),
        (b"2147483648", b"\x00\x0a2147483648"),
        (b"-0", b"\x00\x02-0"),
        (b"007", b"\x00\x03007"),
        (b" 1", b"\x00\x02 1"),
        (b"a" * 20, b"\x00\x14" + b"a" * 20),  # 20 bytes: never compressed
        (b"a" * 21, b"\x00\xc3\x06\x15\x01aa\xe0\n\x00"),  # redis-server's bytes
        (bytes(range(21)), b"\x00\x15" + bytes(range(21))),  # incompressible: verbatim
    ],
    ids=repr,
)
def test_dump_encodes_strings_as_rdb_save_raw_string(value: bytes, body: bytes) -> None:
    node = Node()
    node(b"SET", b"k", value)
    assert _object(node, b"k") == body
    assert node.restore(rdb.frame(body), b"copy") == OK
    assert node(b"GET", b"copy") == value


def test_strings_past_the_compression_cap_are_written_verbatim() -> None:
    node = Node()
    big = b"ab" * (rdb.COMPRESS_MAX // 2 + 1)
    node(b"SET", b"k", big)
    assert _object(node, b"k") == b"\x00\x80" + len(big).to_bytes(4, "big") + big
    node(b"SET", b"k", big[:-2])
    assert _object(node, b"k")[1] == 0xC3


def _type_of(node: Node, key: bytes) -> int:
    return _object(node, key)[0]


def test_dump_picks_redis_encodings_at_its_default_thresholds() -> None:
    node = Node()
    fields = [part for i in range(512) for part in (b"f%d" % i, b"v")]
    node(b"HSET", b"h", *fields)
    assert _type_of(node, b"h") == rdb.TYPE_HASH_LISTPACK
    node(b"HSET", b"h", b"one-more", b"v")
    assert _type_of(node, b"h") == rdb.TYPE_HASH
    node(b"HSET", b"v", b"f", b"x" * 64)
    assert _type_of(node, b"v") == rdb.TYPE_HASH_LISTPACK
    node(b"HSET", b"v", b"f", b"x" * 65)
    assert _type_of(node, b"v") == rdb.TYPE_HASH
    node(b"HSET", b"w", b"x" * 65, b"f")
    assert _type_of(node, b"w") == rdb.TYPE_HASH
    node(b"ZADD", b"z", *(part for i in range(128) for part in (b"%d" % i, b"m%d" % i)))
    assert _type_of(node, b"z") == rdb.TYPE_ZSET_LISTPACK
    node(b"ZADD", b"z", b"1", b"extra")
    assert _type_of(node, b"z") == rdb.TYPE_ZSET_2
    node(b"ZADD", b"y", b"1", b"m" * 64)
    assert _type_of(node, b"y") == rdb.TYPE_ZSET_LISTPACK
    node(b"ZADD", b"y", b"1", b"m" * 65)
    assert _type_of(node, b"y") == rdb.TYPE_ZSET_2
    node(b"SADD", b"s", *(b"%d" % i for i in range(512)))
    assert _type_of(node, b"s") == rdb.TYPE_SET_INTSET
    node(b"SADD", b"s", b"512")
    assert _type_of(node, b"s") == rdb.TYPE_SET
    node(b"SADD", b"t", b"1", b"01")
    assert _type_of(node, b"t") == rdb.TYPE_SET


@pytest.mark.parametrize(
    ("members", "width"),
    [([b"1", b"-32768", b"32767"], 2), ([b"32768"], 4), ([b"-2147483648"], 4),
     ([b"2147483648"], 8), ([b"-9223372036854775808", b"1"], 8)],
)  # fmt: skip
def test_an_intset_takes_the_narrowest_width(members: list[bytes], width: int) -> None:
    node = Node()
    node(b"SADD", b"s", *members)
    reader = rdb._Reader(_object(node, b"s"))
    assert reader.byte() == rdb.TYPE_SET_INTSET
    blob = reader.string()
    assert struct.unpack("<II", blob[:8]) == (width, len(members))
    assert sorted(int(m) for m in members) == [
        int.from_bytes(blob[8 + i : 8 + i + width], "little", signed=True)
        for i in range(0, len(members) * width, width)
    ]


def _nodes(body: bytes) -> list[list[bytes]]:
    """The elements of each node of a dumped list."""
    reader = rdb._Reader(body)
    assert reader.byte() == rdb.TYPE_LIST_QUICKLIST_2
    nodes = []
    for _ in range(reader.count()):
        assert reader.count() == 2
        blob = reader.string()
        items = rdb.listpack_items(blob)
        assert len(blob) <= rdb.LIST_NODE_BYTES or len(items) == 1  # only one may be larger
        nodes.append(items)
    return nodes


def test_list_nodes_are_split_as_rpush_splits_them() -> None:
    node = Node()
    # A 100-byte element takes 103 bytes of listpack (a 2-byte header, a 1-byte backlen),
    # and Redis adds one to a node while its bytes plus 100 + 8 stay within 8192: with 78
    # (7 + 78 * 103 + 108 = 8149) it takes a 79th, with 79 (8252) it does not.
    node(b"RPUSH", b"l", *(b"%0100d" % i for i in range(200)))
    sizes = [len(n) for n in _nodes(_object(node, b"l"))]
    assert sizes == [79, 79, 42]  # what redis-server 7.0.15 dumps for the same RPUSH
    node(b"RPUSH", b"big", b"a", b"x" * 9000, b"b")
    assert _nodes(_object(node, b"big")) == [[b"a"], [b"x" * 9000], [b"b"]]


def _stream_nodes(body: bytes) -> list[list[bytes]]:
    reader = rdb._Reader(body)
    assert reader.byte() == rdb.TYPE_STREAM_LISTPACKS_2
    nodes = []
    for _ in range(reader.count()):
        assert len(reader.string()) == 16
        nodes.append(rdb.listpack_items(reader.string()))
    return nodes


def test_stream_nodes_are_split_as_xadd_splits_them() -> None:
    node = Node()
    for i in range(1, 251):
        node(b"XADD", b"s", b"%d-0" % i, b"f", b"v%d" % i)
    nodes = _stream_nodes(_object(node, b"s"))
    assert [int(n[0]) for n in nodes] == [100, 100, 50]  # stream-node-max-entries
    assert nodes[0][:5] == [b"100", b"0", b"1", b"f", b"0"]  # count, deleted, fields, end
    assert nodes[0][5:10] == [b"2", b"0", b"0", b"v1", b"4"]  # SAMEFIELDS, ID 0-0 from master
    for i in range(1, 5):
        node(b"XADD", b"b", b"%d-0" % i, b"f", b"x" * 1500)
    assert [int(n[0]) for n in _stream_nodes(_object(node, b"b"))] == [2, 2]  # 4096 bytes
    node(b"XADD", b"m", b"1-0", b"f", b"v")
    node(b"XADD", b"m", b"1-1", b"g", b"w")
    (single,) = _stream_nodes(_object(node, b"m"))
    assert single[10:] == [b"0", b"0", b"1", b"1", b"g", b"w", b"6"]  # other fields: spelled out


def test_dump_of_a_missing_or_expired_key_is_nil() -> None:
    node = Node()
    assert node(b"DUMP", b"missing") is None
    node(b"SET", b"k", b"v", b"PX", b"100")
    assert isinstance(node(b"DUMP", b"k"), bytes)
    assert node(b"DUMP", b"k", now=T0 + 100) is None


def _random_values(rng: random.Random) -> list[list[bytes]]:
    """Commands that build values of every type, across the encoding thresholds."""
    def element() -> bytes:
        roll = rng.random()
        if roll < 0.3:
            return b"%d" % rng.randrange(-(2**40), 2**40)
        if roll < 0.5:
            return rng.randbytes(rng.randrange(0, 80))
        return b"e%d" % rng.randrange(1000) * rng.randrange(1, 30)

    size = rng.choice([1, 5, 127, 128, 129, 511, 512, 513, 2000])
    return [
        [b"RPUSH", b"list", *(element() for _ in range(size))],
        [b"SADD", b"set", *(element() for _ in range(size))],
        [b"SADD", b"ints", *(b"%d" % rng.randrange(-(2**rng.randrange(1, 63)), 2**20)
                             for _ in range(size))],
        [b"HSET", b"hash", *(part for _ in range(size) for part in (element(), element()))],
        [b"ZADD", b"zset", *(part for _ in range(size)
                             for part in (repr(rng.uniform(-1e6, 1e6)).encode(), element()))],
        *([b"XADD", b"stream", b"*", *(part for _ in range(rng.randrange(1, 4))
                                       for part in (rng.choice([b"a", b"b"]), element()))]
          for _ in range(min(size, 300))),
        [b"SET", b"string", element() * rng.randrange(1, 100)],
    ]  # fmt: skip


@pytest.mark.parametrize("seed", range(6))
def test_dump_then_restore_gives_back_every_value(seed: int) -> None:
    rng = random.Random(seed)
    node = Node()
    for args in _random_values(rng):
        node(*args)
    for key in (b"list", b"set", b"ints", b"hash", b"zset", b"stream", b"string"):
        payload = node(b"DUMP", key)
        assert isinstance(payload, bytes)
        assert node.restore(payload, key + b":copy") == OK
        before, after = node.value(key), node.value(key + b":copy")
        assert before is not None and after is not None and before.type == after.type
        decode = {
            ValueType.STRING: bytes, ValueType.LIST: decode_list, ValueType.HASH: decode_hash,
            ValueType.SET: lambda p: set(decode_set(p)), ValueType.ZSET: decode_zset,
            ValueType.STREAM: decode_stream,
        }[before.type]  # fmt: skip
        assert decode(after.payload) == decode(before.payload), key
        if before.type == ValueType.HASH:
            assert list(decode_hash(after.payload)) == list(decode_hash(before.payload))


# --- RESTORE: options, errors and TTLs ------------------------------------------------------

PAYLOAD = RECORDED["string"]


@pytest.mark.parametrize(
    ("args", "reply"),
    [
        ([b"REPLACE"], OK),
        ([b"replace", b"AbsTTL", b"REPLACE"], OK),
        ([b"IDLETIME", b"10", b"IDLETIME", b"0"], OK),
        ([b"FREQ", b"255"], OK),
        ([b"FREQ", b"0", b"REPLACE"], OK),
        ([b"BOGUS"], Error("ERR syntax error")),
        ([b"REPLACE\x00x"], OK),  # Redis compares options as C strings
        ([b"IDLETIME"], Error("ERR syntax error")),
        ([b"FREQ"], Error("ERR syntax error")),
        ([b"IDLETIME", b"1", b"FREQ", b"1"], Error("ERR syntax error")),
        ([b"FREQ", b"1", b"IDLETIME", b"1"], Error("ERR syntax error")),
        ([b"IDLETIME", b"x"], Error("ERR value is not an integer or out of range")),
        ([b"IDLETIME", b"-1"], Error("ERR Invalid IDLETIME value, must be >= 0")),
        ([b"FREQ", b"256"], Error("ERR Invalid FREQ value, must be >= 0 and <= 255")),
        ([b"FREQ", b"-1"], Error("ERR Invalid FREQ value, must be >= 0 and <= 255")),
        ([b"FREQ", b" 1"], Error("ERR value is not an integer or out of range")),
    ],
)
def test_restore_options(args: list[bytes], reply: Reply) -> None:
    """Options are checked first, before the key, the TTL and the payload: a bad one is
    refused before proposal (``prepare``)."""
    node = Node()
    assert node(b"RESTORE", b"k", b"0", PAYLOAD, *args) == reply
    if isinstance(reply, Error):
        assert prepare([b"RESTORE", b"k", b"0", PAYLOAD, *args], T0) == reply
        assert node(b"RESTORE", b"k", b"bad-ttl", b"junk", *args) == reply


def test_restore_checks_in_redis_order() -> None:
    node = Node()
    node(b"SET", b"k", b"old")
    busy = Error("BUSYKEY Target key name already exists.")
    assert node(b"RESTORE", b"k", b"abc", b"junk") == busy
    assert node(b"RESTORE", b"n", b"abc", b"junk") == Error(
        "ERR value is not an integer or out of range"
    )
    assert node(b"RESTORE", b"n", b"-1", b"junk") == Error("ERR Invalid TTL value, must be >= 0")
    assert node(b"RESTORE", b"n", b"0", b"junk") == BAD_FOOTER
    assert node(b"RESTORE", b"n", b"0", framed(b"\x08")) == BAD_FORMAT
    assert node(b"EXISTS", b"n") == 0
    assert node(b"GET", b"k") == b"old"


def test_an_expired_key_is_not_busy() -> None:
    node = Node()
    node(b"SET", b"k", b"old", b"PX", b"10")
    assert node(b"RESTORE", b"k", b"0", PAYLOAD, now=T0 + 10) == OK
    assert node(b"GET", b"k", now=T0 + 10) == b"hello"
    assert node(b"PTTL", b"k", now=T0 + 10) == -1


def test_restore_replaces_a_key_of_any_type_and_drops_its_ttl() -> None:
    node = Node()
    node(b"RPUSH", b"k", b"a")
    node(b"PEXPIRE", b"k", b"100000")
    assert node.restore(PAYLOAD) == OK
    assert node(b"GET", b"k") == b"hello"
    assert node(b"PTTL", b"k") == -1


def test_a_relative_ttl_becomes_absolute_when_proposed() -> None:
    op = prepare([b"restore", b"k", b"5000", PAYLOAD, b"replace", b"IDLETIME", b"3"], T0)
    assert op == (b"RESTORE", b"k", b"%d" % (T0 + 5000), PAYLOAD, b"REPLACE", b"ABSTTL")
    assert prepare([b"RESTORE", b"k", b"0", PAYLOAD], T0) == (b"RESTORE", b"k", b"0", PAYLOAD)
    assert prepare([b"RESTORE", b"k", b"77", PAYLOAD, b"ABSTTL"], T0) == (
        b"RESTORE", b"k", b"77", PAYLOAD, b"ABSTTL",
    )  # fmt: skip
    assert prepare([b"RESTORE", b"k", b"-5", PAYLOAD], T0) == (b"RESTORE", b"k", b"-5", PAYLOAD)
    # Every replica executes the op at its own time, and stores the same deadline.
    stores = [MemoryStore(), MemoryStore()]
    assert isinstance(op, tuple)
    for lag, store in zip((0, 3000), stores, strict=True):
        reply = execute_like_a_replica(store, Command(origin=1, id=1, time_ms=T0 + lag, ops=(op,)))
        assert reply == OK
    values = [store.read(lambda kv: kv.get(b"k")) for store in stores]
    assert values[0] == values[1] == Value(ValueType.STRING, T0 + 5000, b"hello")


def test_restore_ttls() -> None:
    node = Node()
    assert node(b"RESTORE", b"rel", b"5000", PAYLOAD) == OK
    assert node(b"PTTL", b"rel") == 5000
    assert node(b"RESTORE", b"abs", b"%d" % (T0 + 7000), PAYLOAD, b"ABSTTL") == OK
    assert node(b"PTTL", b"abs") == 7000
    assert node(b"RESTORE", b"none", b"0", PAYLOAD, b"ABSTTL") == OK
    assert node(b"PTTL", b"none") == -1
    # A deadline already past: OK, and no key (with REPLACE, the old one is deleted).
    assert node(b"RESTORE", b"past", b"%d" % T0, PAYLOAD, b"ABSTTL") == OK
    assert node(b"EXISTS", b"past") == 0
    node(b"SET", b"old", b"x")
    assert node(b"RESTORE", b"old", b"1", PAYLOAD, b"ABSTTL") == busy(b"old", node)
    assert node(b"RESTORE", b"old", b"1", PAYLOAD, b"ABSTTL", b"REPLACE") == OK
    assert node(b"EXISTS", b"old") == 0
    # Redis adds the TTL to its clock in 64 bits: a sum past 2^63 wraps, so is past.
    node(b"SET", b"huge", b"x")
    assert node(b"RESTORE", b"huge", b"9223372036854775807", PAYLOAD, b"REPLACE") == OK
    assert node(b"EXISTS", b"huge") == 0
    assert node(b"RESTORE", b"max", b"9223372036854775807", PAYLOAD, b"ABSTTL") == OK
    assert node(b"PEXPIRETIME", b"max") == 9223372036854775807


def busy(key: bytes, node: Node) -> Reply:
    """BUSYKEY: the key exists and there is no REPLACE, even for a past deadline."""
    assert node(b"EXISTS", key) == 1
    return Error("BUSYKEY Target key name already exists.")


def test_restore_in_a_transaction_and_from_a_script() -> None:
    node = Node()
    store = node.model.store
    ops = (
        prepare([b"SET", b"src", b"value"], T0),
        prepare([b"RESTORE", b"dst", b"1000", PAYLOAD], T0),
        prepare([b"DUMP", b"dst"], T0),
    )
    assert all(isinstance(op, tuple) for op in ops)
    cmd = Command(origin=1, id=9, time_ms=T0, ops=ops, multi=True)  # type: ignore[arg-type]
    assert execute_like_a_replica(store, cmd) == [OK, OK, PAYLOAD]
    script = b"return redis.call('RESTORE', KEYS[1], 0, redis.call('DUMP', KEYS[2]))"
    assert node(b"EVAL", script, b"2", b"copy", b"src") == OK
    assert node(b"GET", b"copy") == b"value"


# --- corrupt payloads -------------------------------------------------------------------------


def _groups_body(replace: tuple[bytes, bytes] | None = None) -> bytes:
    body = RECORDED["groups"][:-10]
    if replace is not None:
        assert body.count(replace[0]) == 1, replace
        body = body.replace(*replace)
    return body


_MASTER = (lp_entry(b"\x01"), lp_entry(b"\x00"), lp_entry(b"\x01"), lp_str(b"f"), lp_entry(b"\x00"))
"""A stream node's master entry: 1 entry, 0 deleted, one field ``f``, the terminator."""


def _stream_node(ms: int, *items: bytes) -> bytes:
    """A stream node keyed ``ms``-0 whose listpack holds ``items``."""
    return raw(ms.to_bytes(8, "big") + bytes(8)) + raw(listpack(*items))


def _stream_body(*entries: bytes, tail: bytes = b"") -> bytes:
    """A stream of one node at 1-0 whose listpack holds ``entries`` after ``_MASTER``, then
    ``tail`` (the metadata: length, IDs, count added, groups)."""
    return b"\x13\x01" + _stream_node(1, *_MASTER, *entries) + tail


def _groups_twice() -> bytes:
    """``RECORDED["groups"]`` with its one consumer group written twice."""
    body = _groups_body()
    at = body.index(b"\x01\x02g1")
    return body[:at] + b"\x02" + body[at + 1 :] * 2


_ENTRY_0 = tuple(map(lp_entry, (b"\x02", b"\x00", b"\x00", b"\x81v", b"\x04")))
"""The entry 1-0 of a node at 1-0: SAMEFIELDS, ID 0-0 from the master, ``v``, 4 items."""
_META = b"\x01\x01\x00\x01\x00\x00\x00\x01\x00"
"""length 1, last 1-0, first 1-0, max deleted 0-0, added 1, no groups."""
_SEEN = GROUPS_SEEN.to_bytes(8, "little")
_ID_1_1 = (1).to_bytes(8, "big") * 2
_ZL_AB = ziplist(zl_str(b"a"), zl_str(b"b"))

CORRUPT: dict[str, bytes] = {
    "unknown type": b"\x08" + raw(b"x"),
    "type 20 (Redis 7.2)": b"\x14" + raw(b"x"),
    "module": b"\x07\x01",
    "zipmap count": b"\x09" + raw(b"\x02\x01a\x01\x00b\xff"),
    "zipmap past its end": b"\x09" + raw(b"\x01\x01a\x05\x00b\xff"),
    "zipmap empty": b"\x09" + raw(b"\x00\xff"),
    "zipmap repeated field": b"\x09" + raw(b"\x02\x01a\x01\x00b\x01a\x01\x00c\xff"),
    "truncated string": b"\x00\x40\x10abc",
    "unknown length encoding": b"\x00\x82abc",
    "unknown string encoding": b"\x00\xc4",
    "lzf bad reference": b"\x00\xc3\x04\x04\x00a\x20\x05",
    "lzf short": b"\x00\xc3\x02\x05\x01ab",
    "lzf past the payload": b"\x00\xc3\x30\x40" + b"\x05hello",
    "list empty": b"\x01\x00",
    "list count past the payload": b"\x01\x81" + (2**62).to_bytes(8, "big") + raw(b"a"),
    "quicklist no nodes": b"\x12\x00",
    "quicklist only empty nodes": b"\x12\x02\x02" + raw(listpack()) + b"\x02" + raw(listpack()),
    "quicklist unknown container": b"\x12\x01\x03" + raw(listpack(lp_str(b"a"))),
    "quicklist empty node": b"\x12\x01\x02\x00",
    "listpack total bytes": b"\x12\x01\x02" + raw(b"\x09" + listpack(lp_str(b"a"))[1:]),
    "listpack no end byte": b"\x12\x01\x02" + raw(listpack(lp_str(b"a"))[:-1] + b"\x00"),
    "listpack short": b"\x12\x01\x02" + raw(b"\x06\x00\x00\x00\x00\x00"),
    "listpack unknown encoding": b"\x12\x01\x02" + raw(listpack(lp_entry(b"\xf5"))),
    "listpack wrong backlen": b"\x12\x01\x02" + raw(listpack(b"\x81a\x03")),
    "listpack wrong count": b"\x12\x01\x02" + raw(listpack(lp_str(b"a"), count=2)),
    "listpack entry past its end": b"\x12\x01\x02" + raw(listpack(b"\x85ab\x06")),
    "listpack end byte early": b"\x12\x01\x02" + raw(listpack(lp_str(b"a"), b"\xff\x01")),
    "listpack 12-bit header cut": b"\x12\x01\x02" + raw(listpack(b"\xe1")),
    "ziplist wrong previous size": b"\x0a" + raw(
        ziplist(zl_str(b"a"), zl_str(b"b")).replace(b"\x03\x01b", b"\x04\x01b")
    ),
    "ziplist wrong tail": b"\x0a" + raw(_ZL_AB[:4] + b"\x0a" + _ZL_AB[5:]),  # tail: the first
    "ziplist wrong count": b"\x0a" + raw(_ZL_AB[:8] + b"\x03\x00" + _ZL_AB[10:]),
    "ziplist unknown encoding": b"\x0a" + raw(ziplist(b"\xc1\x00\x00")),
    "ziplist entry past its end": b"\x0a" + raw(ziplist(b"\x05ab")),
    "ziplist empty": b"\x0a" + raw(ziplist()),
    "intset width": b"\x0b" + raw(struct.pack("<IIh", 3, 1, 1)),
    "intset size": b"\x0b" + raw(struct.pack("<IIhh", 2, 1, 1, 2)),
    "intset empty": b"\x0b" + raw(struct.pack("<II", 2, 0)),
    "intset unsorted": b"\x0b" + raw(struct.pack("<IIhh", 2, 2, 5, 1)),
    "intset repeated": b"\x0b" + raw(struct.pack("<IIhh", 2, 2, 5, 5)),
    "intset count past the payload": b"\x0b" + raw(struct.pack("<IIh", 2, 2**31, 1)),
    "set empty": b"\x02\x00",
    "set repeated member": b"\x02\x02" + raw(b"a") + raw(b"a"),
    "set repeated integer": b"\x02\x02\xc0\x05" + raw(b"5"),
    "hash empty": b"\x04\x00",
    "hash repeated field": b"\x04\x02" + raw(b"f") + raw(b"1") + raw(b"f") + raw(b"2"),
    "hash listpack odd": b"\x10" + raw(listpack(lp_str(b"f"), lp_str(b"v"), lp_str(b"g"))),
    "hash listpack repeated field": b"\x10" + raw(listpack(*map(lp_str, (b"f", b"v", b"f", b"w")))),
    "hash listpack empty": b"\x10" + raw(listpack()),
    "hash ziplist odd": b"\x0d" + raw(ziplist(zl_str(b"f"))),
    "zset empty": b"\x05\x00",
    "zset nan": b"\x05\x01" + raw(b"a") + struct.pack("<d", math.nan),
    "zset text nan": b"\x03\x01" + raw(b"a") + b"\xfd",
    "zset text not a number": b"\x03\x01" + raw(b"a") + b"\x03abc",
    "zset repeated member": b"\x05\x02" + (raw(b"a") + struct.pack("<d", 1.0)) * 2,
    "zset listpack score not a number": b"\x11" + raw(listpack(lp_str(b"a"), lp_str(b"x1"))),
    "zset listpack nan": b"\x11" + raw(listpack(lp_str(b"a"), lp_str(b"nan"))),
    "zset listpack repeated member": b"\x11" + raw(listpack(*map(lp_str, (b"a", b"1") * 2))),
    "zset ziplist odd": b"\x0c" + raw(ziplist(zl_str(b"a"))),
    "zset listpack out of order": b"\x11" + raw(listpack(*map(lp_str, (b"a", b"2", b"b", b"1")))),
    "zset listpack tie out of order": (  # equal scores: by member bytes
        b"\x11" + raw(listpack(*map(lp_str, (b"b", b"1", b"a", b"1"))))
    ),
    "zset ziplist out of order": b"\x0c" + raw(ziplist(*map(zl_str, (b"a", b"2", b"b", b"1.5")))),
    "stream node key": b"\x13\x01" + raw(b"short") + raw(listpack(*_MASTER, *_ENTRY_0)) + _META,
    "stream master entry": b"\x13\x01" + _stream_node(1, *_MASTER[:2]) + _META,
    "stream master terminator": (
        b"\x13\x01" + _stream_node(1, *_MASTER[:4], lp_entry(b"\x05"), *_ENTRY_0) + _META
    ),
    "stream repeated node": b"\x13\x02" + _stream_node(1, *_MASTER, *_ENTRY_0) * 2 + _META,
    "stream entry count": _stream_body(*_ENTRY_0[:-1], lp_entry(b"\x05"), tail=_META),
    "stream entry cut": _stream_body(*_ENTRY_0[:-2], tail=_META),
    "stream entry text flags": _stream_body(lp_str(b"x"), *_ENTRY_0[1:], tail=_META),
    "stream node live count": _stream_body(*_ENTRY_0, *_ENTRY_0, tail=_META),
    "stream length": _stream_body(*_ENTRY_0, tail=b"\x02" + _META[1:]),
    "stream last id before an entry": _stream_body(*_ENTRY_0, tail=b"\x01\x00\x00" + _META[3:]),
    "stream added fewer than length": _stream_body(*_ENTRY_0, tail=_META[:7] + b"\x00\x00"),
    "stream out of order": (  # node 1-0 holds 7-0 (its master plus 6 ms), node 5-0 holds 5-0
        b"\x13\x02" + _stream_node(1, *_MASTER, _ENTRY_0[0], lp_entry(b"\x06"), *_ENTRY_0[2:])
        + _stream_node(5, *_MASTER, *_ENTRY_0) + b"\x02\x07\x00" + _META[3:]
    ),
    "stream group repeated": _groups_twice(),
    "stream pending without consumer": _groups_body(
        (b"alice" + _SEEN + b"\x01" + _ID_1_1, b"alice" + _SEEN + b"\x00")
    ),
    "stream consumer pending not in group": _groups_body(
        (b"alice" + _SEEN + b"\x01" + _ID_1_1, b"alice" + _SEEN + b"\x01" + _ID_1_1[:-1] + b"\x02")
    ),
    "stream pending delivered twice": _groups_body(
        (b"bob" + _SEEN + b"\x00", b"bob" + _SEEN + b"\x01" + _ID_1_1)
    ),
    "stream consumer repeated": _groups_body((b"\x03bob", b"\x05alice")),
    "stream huge group count": _stream_body(
        *_ENTRY_0, tail=_META[:-1] + b"\x81" + (2**40).to_bytes(8, "big")
    ),
}  # fmt: skip
"""Objects (without footer) that RESTORE must refuse with "Bad data format"."""


@pytest.mark.parametrize("body", CORRUPT.values(), ids=CORRUPT.keys())
def test_corrupt_payloads_are_refused_and_change_nothing(body: bytes) -> None:
    node = Node()
    node(b"SET", b"k", b"old", b"PX", b"100000")
    assert node(b"RESTORE", b"k", b"0", framed(body), b"REPLACE") == BAD_FORMAT
    assert node(b"GET", b"k") == b"old"
    assert node(b"PTTL", b"k") == 100000
    assert node(b"RESTORE", b"fresh", b"0", framed(body)) == BAD_FORMAT
    assert node(b"EXISTS", b"fresh") == 0


def test_the_corrupt_cases_are_each_one_change_from_a_valid_payload() -> None:
    """Where a corrupt case is built from a valid one, the valid one restores: the case
    tests the change, not some other mistake in building it."""
    node = Node()
    assert node.restore(framed(_stream_body(*_ENTRY_0, tail=_META))) == OK
    assert node(b"XRANGE", b"k", b"-", b"+") == [[b"1-0", [b"f", b"v"]]]
    assert node.restore(framed(_groups_body())) == OK
    assert node.restore(framed(b"\x0a" + raw(ziplist(zl_str(b"a"), zl_str(b"b"))))) == OK
    assert node.restore(framed(b"\x12\x01\x02" + raw(listpack(lp_str(b"a"))))) == OK
    assert node.restore(framed(b"\x00\xc3\x04\x04\x00a\x20\x00")) == OK
    assert node(b"GET", b"k") == b"aaaa"


@pytest.mark.parametrize(
    "body",
    [
        b"\x01\x81" + (2**62).to_bytes(8, "big"),  # a list of 2^62 elements
        b"\x02\x80\xff\xff\xff\xff",  # a set of 2^32 - 1 members
        b"\x00\x81" + (2**40).to_bytes(8, "big") + b"abc",  # a string of 2^40 bytes
        b"\x00\xc3\x05\x81" + (2**40).to_bytes(8, "big") + b"\x00a\xe0\xff\x00",  # LZF: 2^40
        b"\x12\x80\xff\xff\xff\xff\x02",  # a quicklist of 2^32 - 1 nodes
        b"\x0b" + raw(struct.pack("<II", 8, 2**32 - 1)),  # an intset of 2^32 - 1 members
        b"\x13\x80\xff\xff\xff\xff",  # a stream of 2^32 - 1 nodes
    ],
    ids=["list", "set", "string", "lzf", "quicklist", "intset", "stream"],
)
def test_a_count_past_the_payload_allocates_nothing_for_it(body: bytes) -> None:
    payload = framed(body)
    tracemalloc.start()
    try:
        with pytest.raises(rdb.Corrupt):
            rdb.restore_value(payload)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024


def test_a_payload_that_runs_into_its_footer_reads_it_as_redis_does() -> None:
    """Redis reads the object over the whole payload, footer included, and ignores what
    is left: a string that claims the footer's bytes gets them."""
    node = Node()
    payload = framed(b"\x00\x0bhello")
    assert node.restore(payload) == OK
    assert node(b"GET", b"k") == b"hello" + payload[-10:-4]
    assert node.restore(framed(b"\x00\x05hellogarbage")) == OK
    assert node(b"GET", b"k") == b"hello"


def test_decoders_accept_only_whole_structures() -> None:
    assert rdb.listpack_items(listpack(lp_str(b"a"), lp_entry(b"\x7f"))) == [b"a", b"127"]
    assert rdb.ziplist_items(ziplist(zl_str(b"a"), b"\xfd")) == [b"a", b"12"]
    assert rdb.intset_members(struct.pack("<IIq", 8, 1, -5)) == [b"-5"]
    for blob in (b"", b"\xff", listpack()[:-1]):
        with pytest.raises(rdb.Corrupt):
            rdb.listpack_items(blob)


def _sequence_of(values: Sequence[bytes]) -> bytes:
    return b"".join(raw(v) for v in values)


def test_restore_of_large_plain_encodings() -> None:
    """The sequence forms Redis writes past its thresholds (a hash table, a skiplist)."""
    node = Node()
    fields = [b"f%d" % i for i in range(600)]
    body = b"\x04" + length(600) + b"".join(raw(f) + raw(f + b"!") for f in fields)
    assert node.restore(framed(body)) == OK
    assert node(b"HLEN", b"k") == 600 and node(b"HGET", b"k", b"f599") == b"f599!"
    members = [os.urandom(8).hex().encode() for _ in range(300)]
    scored = (raw(m) + struct.pack("<d", i) for i, m in enumerate(members))
    body = b"\x05" + length(300) + b"".join(scored)
    assert node.restore(framed(body)) == OK
    assert node(b"ZSCORE", b"k", members[123]) == 123.0
    assert node.restore(framed(b"\x02" + length(600) + _sequence_of(fields))) == OK
    assert node(b"SCARD", b"k") == 600
